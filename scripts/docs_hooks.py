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
    found by importing it. New names appear in the reference without editing the page.

``[[api-table zerograd.keras.ops]]``
    A table of every public name of a module with the first paragraph of its docstring.

The same functions are used by ``tests/test_docs.py``, which checks every directive resolves.
"""

from __future__ import annotations

import ast
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
    """The public names of ``module``: ``__all__``, else what it defines or imports, not modules."""
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
        ),
        key=str.lower,
    )


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


def api_block(module: str, level: int = 2) -> str:
    """The Markdown for one ``[[api]]`` directive: one mkdocstrings block per class or function,
    then a table of the other public values (dtypes, constants)."""
    mod = importlib.import_module(module)
    blocks, values = [], []
    for n in public_names(module):
        obj = getattr(mod, n)
        if inspect.isclass(obj) or callable(obj):
            blocks.append(
                f"::: {_home(module, n, obj)}\n    options:\n      heading_level: {level}\n"
                f"      show_root_full_path: true\n"
            )
        else:
            values.append(f"| `{module}.{n}` | `{obj!r}` |")
    out = "\n".join(blocks)
    if values:
        out += f"\n{'#' * level} Values\n\n| Name | Value |\n| --- | --- |\n"
        out += "\n".join(values) + "\n"
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
CJK_BREAK = re.compile(f"(?<=[{CJK}])\n(?=[{CJK}])")
FENCED = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)


def join_cjk_lines(markdown: str) -> str:
    """Join prose lines wrapped between two CJK characters: a newline there renders as a space,
    which Chinese text does not have. Code blocks are left as they are."""
    out, last = [], 0
    for m in FENCED.finditer(markdown):
        out.append(CJK_BREAK.sub("", markdown[last : m.start()]))
        out.append(m.group(0))
        last = m.end()
    out.append(CJK_BREAK.sub("", markdown[last:]))
    return "".join(out)


def on_page_markdown(markdown, page, config, files):  # noqa: ARG001 - MkDocs hook signature
    try:
        if page.file.src_uri.startswith("zh/"):
            markdown = join_cjk_lines(markdown)
        return expand(markdown)
    except DirectiveError as e:
        from mkdocs.exceptions import PluginError

        raise PluginError(f"{page.file.src_path}: {e}") from None
