"""Model names as people type them: the one resolver the catalog and the history share.

A model is known by its OpenRouter id (``moonshotai/kimi-k2-thinking``), the
part after the ``/``, Design Arena's own ids, and the display names of every
source, whose styles differ (``MoonshotAI: Kimi K2 Thinking`` and ``Kimi K2
Thinking``). :class:`ModelNames` learns them from items and resolves a name
to one model id, with case, punctuation and a vendor prefix not counting.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from typing import Final

from openrouter_bench._text import untrusted_text
from openrouter_bench.errors import AmbiguousModelError, InvalidQueryError, UnknownModelError
from openrouter_bench.models import Item

__all__ = ["ModelNames", "normalise_name"]

#: A vendor prefix in a display name: "MoonshotAI: Kimi K2 Thinking".
_VENDOR_PREFIX: Final = re.compile(r"^[^:/]{1,40}:\s+")
_NOT_ALNUM: Final = re.compile(r"[^0-9a-z]+")
#: The longest name resolved; beyond it no model's name could match.
_MAX_NAME: Final = 200


def normalise_name(text: str) -> str:
    """A model name with case, punctuation and spacing taken out: ``"kimik2thinking"``."""
    return _NOT_ALNUM.sub("", text.casefold())


def _name_forms(text: str) -> set[str]:
    """The normalised forms a name is known by: whole, and without a vendor prefix."""
    forms = {normalise_name(text)}
    if "/" in text:
        forms.add(normalise_name(text.split("/", 1)[1]))
    bare = _VENDOR_PREFIX.sub("", text)
    forms.add(normalise_name(bare))
    forms.discard("")
    return forms


class ModelNames:
    """The names of the models in some items, and which model a typed name means."""

    def __init__(self, items: Iterable[Item] = ()) -> None:
        self._names: dict[str, set[str]] = {}
        self._display: dict[str, list[str]] = {}
        self._exact: dict[str, str] = {}
        for item in items:
            self.learn(item)

    def __len__(self) -> int:
        return len(self._display)

    def learn(self, item: Item) -> None:
        """Know ``item``'s model by its id and display name."""
        model = item.model_permaslug
        if model is None:
            return
        shown = self._display.setdefault(model, [])
        display = item.display_name
        if display and display not in shown:
            shown.append(display)
        self._exact.setdefault(model.casefold(), model)
        for text in (model, display or ""):
            for form in _name_forms(text):
                self._names.setdefault(form, set()).add(model)

    @property
    def models(self) -> tuple[str, ...]:
        """Every model id learnt, in the order first seen."""
        return tuple(self._display)

    def display_names(self, model: str) -> tuple[str, ...]:
        """The names the sources show for a model id, in the order first seen."""
        return tuple(self._display.get(model, ()))

    def resolve(self, name: str, *, missing: tuple[str, ...] = ()) -> str:
        """The model id a person means by ``name``.

        Raises :class:`UnknownModelError` (with the closest names; ``missing``
        names the data not looked at, where the model may be) or
        :class:`AmbiguousModelError` (with the candidates).
        """
        if not isinstance(name, str):
            raise InvalidQueryError(
                f"a model name is a string, not {type(name).__name__}", parameter="name"
            )
        text = name.strip()[:_MAX_NAME]
        exact = self._exact.get(text.casefold())
        if exact is not None:
            return exact
        found: set[str] = set()
        for form in _name_forms(text):
            found |= self._names.get(form, set())
        if len(found) == 1:
            return found.pop()
        if found:
            candidates = tuple(untrusted_text(model) for model in sorted(found))
            raise AmbiguousModelError(
                f"{text!r} could be any of {', '.join(candidates)}; name one of them",
                name=text,
                candidates=candidates,
            )
        suggestions = tuple(untrusted_text(model) for model in self._suggest(text))
        hint = f"; did you mean {', '.join(repr(s) for s in suggestions)}?" if suggestions else ""
        gap = f" (not fetched: {', '.join(missing)})" if missing else ""
        raise UnknownModelError(
            f"no model goes by {text!r}{hint}{gap}",
            name=text,
            suggestions=suggestions,
            missing=missing,
        )

    def _suggest(self, text: str) -> tuple[str, ...]:
        forms = sorted(_name_forms(text), key=len, reverse=True)
        by_form: dict[str, str] = {}
        for model, shown in self._display.items():
            for label in (model, *shown):
                for form in _name_forms(label):
                    by_form.setdefault(form, model)
        close: dict[str, None] = {}
        for form in forms:
            for match in difflib.get_close_matches(form, list(by_form), n=5, cutoff=0.75):
                close.setdefault(by_form[match], None)
        return tuple(close)[:5]
