"""MkDocs hooks of zerograd's documentation site (``hooks:`` in mkdocs.yml).

Two directives, each alone on a line of a Markdown page, expanded before the page is rendered:

``[[source zerograd/autograd.py::_topological]]``
    The source of a class, function or method (``Class.method``) as a code block with its real
    line numbers, read from the file at build time, so a page never shows stale code. ``lines=A-B``
    after the name keeps lines A to B of the definition (1 is its first line). A definition longer
    than ``MAX_LINES`` without ``lines=`` is an error, as is a name that is not in the file: the
    chapters quote 20-60 lines at a time.

``[[api zerograd.nn]]`` (``level=3`` for a heading level other than 2)
    One ``::: module.Name`` block (mkdocstrings) for every public name of the module: its
    ``__all__`` when it has one, else every name not starting with ``_`` that is not a module,
    found by importing it (classes and functions from outside zerograd left out). New names
    appear in the reference without editing the page. An object with several public names gets
    one entry, under the name whose module is closest to where it is defined (the first in the
    order of the API pages in mkdocs.yml's nav between equals); the other names are listed in a
    table that links to it.

``[[api-table zerograd.keras.ops]]``
    A table of every public name of a module with the first paragraph of its docstring (a
    summary; the reference pages use ``[[api]]``).

The same functions are used by ``tests/test_docs.py``, which checks every directive resolves.
"""

from __future__ import annotations

import ast
import functools
import importlib
import inspect
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 60
SOURCE = re.compile(
    r"^\[\[source (?P<path>[\w/.\-]+)::(?P<name>[\w.]+)(?: lines=(?P<a>\d+)-(?P<b>\d+))?\]\]$", re.M
)
TABLE = re.compile(r"^\[\[api-table (?P<module>[\w.]+)\]\]$", re.M)
NAV_API = re.compile(r"^\s*- (?:[^\n]*: )?(api/[\w/.\-]+\.md)\s*$", re.M)
API = re.compile(r"^\[\[api (?P<module>[\w.]+)(?: level=(?P<level>[1-6]))?\]\]$", re.M)


class DirectiveError(ValueError):
    """A directive that names no definition, or one too long to quote."""


def find_definition(path: str, name: str) -> tuple[int, int]:
    """First and last line (1-based) of the definition ``name`` (``Class.method`` for a method)."""
    file = ROOT / path
    if not file.is_file():
        raise DirectiveError(f"[[source]]: no file {path}")
    text = file.read_text(encoding="utf-8")
    tree = ast.parse(text)
    body, node = tree.body, None
    for part in name.split("."):
        node = next((n for n in body if _defines(n, part)), None)
        if node is None:
            raise DirectiveError(f"[[source]]: {path} defines no {name!r}")
        body = getattr(node, "body", [])
    first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    if isinstance(node, (ast.Assign, ast.AnnAssign)):  # a constant: with the comment above it
        lines = text.splitlines()
        while first > 1 and lines[first - 2].lstrip().startswith("#"):
            first -= 1
    return first, node.end_lineno


def _defines(node: ast.AST, name: str) -> bool:
    """``node`` is the class, function or assignment of ``name``."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return node.name == name
    if isinstance(node, ast.Assign):
        return any(isinstance(t, ast.Name) and t.id == name for t in node.targets)
    if isinstance(node, ast.AnnAssign):
        return isinstance(node.target, ast.Name) and node.target.id == name
    return False


def source_block(path: str, name: str, a: int | None = None, b: int | None = None) -> str:
    """The Markdown for one ``[[source]]`` directive: a caption and a numbered code block."""
    first, last = find_definition(path, name)
    if a is not None:
        if not 1 <= a <= b <= last - first + 1:
            raise DirectiveError(
                f"[[source]]: lines={a}-{b} is outside {name} ({last - first + 1} lines) in {path}"
            )
        first, last = first + a - 1, first + b - 1
    if last - first + 1 > MAX_LINES:
        raise DirectiveError(
            f"[[source]]: {name} in {path} is {last - first + 1} lines; quote at most {MAX_LINES} "
            "with lines=A-B"
        )
    lines = (ROOT / path).read_text(encoding="utf-8").splitlines()[first - 1 : last]
    code = "\n".join(lines)
    caption = f"`{path}`, `{name}`, lines {first}-{last}"
    return f'{caption}\n\n```python linenums="{first}"\n{code}\n```\n'


def public_names(module: str) -> list[str]:
    """The public names of ``module``: ``__all__``, else what it defines or imports; never a
    module, nor a class or function from outside zerograd (``pathlib.Path`` imported by a loader)."""
    mod = importlib.import_module(module)
    names = getattr(mod, "__all__", None)
    if names is None:
        names = [n for n in vars(mod) if not n.startswith("_")]
    return sorted(
        (
            n
            for n in names
            if not inspect.ismodule(getattr(mod, n))
            and not n.startswith("_")
            and n not in ("annotations",)
            and _ours(getattr(mod, n))
        ),
        key=str.lower,
    )


def _ours(obj) -> bool:
    """A value, or a class or function defined in zerograd."""
    if not (inspect.isclass(obj) or callable(obj)):
        return True
    return (getattr(obj, "__module__", None) or "zerograd").split(".")[0] == "zerograd"


def _home(module: str, name: str, obj) -> str:
    """The dotted path where ``obj`` is defined, so that mkdocstrings can read its source."""
    import sys

    home = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", "")
    if home and "<locals>" not in qualname and qualname:
        return f"{home}.{qualname}"
    if home and getattr(sys.modules.get(home), name, None) is obj:
        return f"{home}.{name}"
    return f"{module}.{name}"


def api_pages() -> list[str]:
    """The API reference's pages (``api/...``), in the order of the site's navigation: the nav
    entries of mkdocs.yml (``- zerograd.nn: api/nn.md``), read without a YAML parser."""
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8").split("\nnav:\n", 1)[1]
    return NAV_API.findall(nav)


def api_directives() -> list[tuple[str, str]]:
    """Every ``[[api module]]`` of the API pages: (page, module), in navigation order."""
    out = []
    for page in api_pages():
        text = (ROOT / "docs" / page).read_text(encoding="utf-8")
        out += [(page, m.group("module")) for m in API.finditer(text)]
    return out


@functools.cache
def entry_owners() -> dict[int, str]:
    """For each class and function of the reference, the ``module.name`` that carries its entry:
    the public module closest to where it is defined (``zerograd.amp.autocast`` rather than
    ``zerograd.autocast``; ``keras.losses.hinge`` rather than ``keras.metrics.hinge``), the first
    in navigation order between equals. Its other names link there."""
    best: dict[int, tuple[int, str]] = {}
    for _, module in api_directives():
        mod = importlib.import_module(module)
        for n in public_names(module):
            obj = getattr(mod, n)
            if inspect.isclass(obj) or callable(obj):
                score = _shared(module, getattr(obj, "__module__", None) or "")
                if id(obj) not in best or score > best[id(obj)][0]:
                    best[id(obj)] = (score, f"{module}.{n}")
    return {k: name for k, (_, name) in best.items()}


def _shared(a: str, b: str) -> int:
    """How many leading dotted parts two module paths share."""
    n = 0
    for x, y in zip(a.split("."), b.split(".")):
        if x != y:
            break
        n += 1
    return n


def _value(obj) -> str:
    text = repr(obj)
    if len(text) > 100:  # a registry dict or a long list: its kind and size, not its contents
        text = (
            f"{type(obj).__name__} of {len(obj)}" if hasattr(obj, "__len__") else text[:97] + "..."
        )
    return text.replace("|", "\\|")


def api_block(module: str, level: int = 2) -> str:
    """The Markdown for one ``[[api]]`` directive: one mkdocstrings block per class or function,
    a table of the other public values (dtypes, constants), and a table of the names whose entry
    is elsewhere in the reference (the same object under another name: ``keras.layers.Layer``)."""
    mod = importlib.import_module(module)
    owners = entry_owners()
    blocks, values, aliases = [], [], []
    for n in public_names(module):
        obj = getattr(mod, n)
        if inspect.isclass(obj) or callable(obj):
            home = _home(module, n, obj)
            owner = owners.get(id(obj), f"{module}.{n}")
            if owner != f"{module}.{n}":
                owner_home = _home(*owner.rsplit(".", 1), obj)
                aliases.append(f"| `{module}.{n}` | [`{owner}`][{owner_home}] |")
                continue
            blocks.append(
                f"::: {home}\n    options:\n      heading_level: {level}\n"
                f"      show_root_full_path: true\n"
            )
        else:
            values.append(f"| `{module}.{n}` | `{_value(obj)}` |")
    out = "\n".join(blocks)
    if values:
        out += f"\n{'#' * level} Values\n\n| Name | Value |\n| --- | --- |\n"
        out += "\n".join(values) + "\n"
    if aliases:
        out += f"\n{'#' * level} Other names\n\nThe same objects, documented under their first name.\n\n"
        out += "| Name | Entry |\n| --- | --- |\n" + "\n".join(aliases) + "\n"
    return out


def _summary(obj) -> str:
    doc = inspect.getdoc(obj) or ""
    first = doc.strip().split("\n\n")[0].replace("\n", " ").replace("|", "\\|")
    return first if len(first) <= 160 else first[:157] + "..."


def table_block(module: str) -> str:
    """The Markdown for one ``[[api-table]]`` directive: every public name with the first
    paragraph of its docstring, for modules too large for a section per name (``keras.ops``)."""
    mod = importlib.import_module(module)
    rows = ["| Name | Summary |", "| --- | --- |"]
    for n in public_names(module):
        obj = getattr(mod, n)
        kind = "class" if inspect.isclass(obj) else ("function" if callable(obj) else "value")
        summary = _summary(obj) if kind != "value" else f"`{obj!r}`"[:160]
        rows.append(f"| `{module}.{n}` ({kind}) | {summary} |")
    return "\n".join(rows) + "\n"


def expand(markdown: str) -> str:
    """Replace every directive of a page by what it stands for."""

    def source(m: re.Match) -> str:
        a, b = m.group("a"), m.group("b")
        return source_block(
            m.group("path"), m.group("name"), int(a) if a else None, int(b) if b else None
        )

    markdown = SOURCE.sub(source, markdown)
    markdown = TABLE.sub(lambda m: table_block(m.group("module")), markdown)
    return API.sub(lambda m: api_block(m.group("module"), int(m.group("level") or 2)), markdown)


CJK = "\u3000-\u303f\u4e00-\u9fff\uff00-\uffef"
CJK_BREAK = re.compile(f"(?<=[{CJK}])\n[ \t]*(?=[{CJK}])")  # indented: list items, admonitions
FENCED = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)


def join_cjk_lines(markdown: str) -> str:
    """Join prose lines wrapped between two CJK characters (with the indentation of a list item's
    or an admonition's next line): a newline there renders as a space, which Chinese text does
    not have. Code blocks are left as they are."""
    out, last = [], 0
    for m in FENCED.finditer(markdown):
        out.append(CJK_BREAK.sub("", markdown[last : m.start()]))
        out.append(m.group(0))
        last = m.end()
    out.append(CJK_BREAK.sub("", markdown[last:]))
    return "".join(out)


def on_pre_build(config):  # noqa: ARG001 - MkDocs hook signature
    entry_owners.cache_clear()  # `mkdocs serve` rebuilds after the pages change


def on_page_markdown(markdown, page, config, files):  # noqa: ARG001 - MkDocs hook signature
    try:
        if page.file.src_uri.startswith("zh/"):
            markdown = join_cjk_lines(markdown)
        return expand(markdown)
    except DirectiveError as e:
        from mkdocs.exceptions import PluginError

        raise PluginError(f"{page.file.src_path}: {e}") from None
