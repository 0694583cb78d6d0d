"""A griffe extension: the package's reStructuredText docstring markup, read as Markdown.

The docstrings are written for ``help()`` and Sphinx-style readers: cross-reference
roles (``:class:`~openrouter_bench.query.Query```) and literal blocks introduced by
``::``. mkdocstrings renders docstrings as Markdown, where both would show up as
raw markup, so this extension rewrites them before rendering: a role becomes a code
span of its target (the last dotted part when the target starts with ``~``), and a
paragraph ending in ``::`` ends in ``:`` (the indented block after it is already a
Markdown code block). Nothing is linked, so no cross-reference can fail the build.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|attr|data|mod|exc|obj|const):`(~?)([^`]+)`")
_LITERAL_INTRO = re.compile(r"(?<=\S)::$", re.MULTILINE)
_BARE_LITERAL_INTRO = re.compile(r"^(\s*)::$", re.MULTILINE)


def _role(match: re.Match[str]) -> str:
    short, target = match.groups()
    target = target.strip()
    if short:
        target = target.rsplit(".", 1)[-1]
    return f"`{target}`"


def rst_to_markdown(text: str) -> str:
    """The docstring ``text`` with its roles and ``::`` literal markers made Markdown."""
    text = _ROLE.sub(_role, text)
    text = _BARE_LITERAL_INTRO.sub("", text)
    return _LITERAL_INTRO.sub(":", text)


class RstToMarkdown(griffe.Extension):
    """Rewrites every docstring the handler loads; see the module docstring."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        """Rewrite ``obj``'s docstring in place, if it has one."""
        if obj.docstring is not None:
            obj.docstring.value = rst_to_markdown(obj.docstring.value)
