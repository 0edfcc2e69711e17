"""A griffe extension for the API reference: zerograd's docstrings title their doctests
``Example:`` (singular), which the Google-style parser reads as a plain note whose ``>>>`` lines
Markdown turns into nested quotes; read as ``Examples:`` they render as Python code."""

from __future__ import annotations

import re

import griffe

SINGULAR = re.compile(r"^(\s*)Example:\s*$", re.M)


class ExamplesSection(griffe.Extension):
    def on_instance(self, *, node, obj, agent, **kwargs) -> None:  # noqa: ARG002 - griffe's hook
        doc = obj.docstring
        if doc is not None and "Example:" in doc.value:
            doc.value = SINGULAR.sub(r"\1Examples:", doc.value)
