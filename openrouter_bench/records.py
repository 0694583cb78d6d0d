"""Flat rows for analysis: one :class:`ItemRow` per item, the same columns the CSV output has.

A page holds typed items of several shapes; a table for pandas, polars, a
spreadsheet or a database wants one flat row per item. :func:`rows_of` gives
them, from one page or several (a fan-out's ``result.pages.values()``); a
:class:`~openrouter_bench.Catalog` gives its own with
:meth:`~openrouter_bench.Catalog.rows`. Each row carries:

- where the item stands: ``source``, ``ranking`` (the name
  :func:`~openrouter_bench.ranking.ranking_name` gives, such as
  ``"design-arena models/gamedev"``), ``rank`` and ``score`` (what that
  ranking orders by), and ``arena``, ``category`` and ``benchmark_type`` when
  the item has them;
- prices in USD per million tokens, exact :class:`~decimal.Decimal`:
  ``input_price_per_million``, ``output_price_per_million`` and
  ``blended_price_per_million`` (three input tokens to one output token, the
  blend :class:`~openrouter_bench.Catalog` ranks prices by; see
  :func:`blended_price`). None where the item has no token price (OpenRouter
  evals carry ``avg_cost_per_task`` instead);
- the page's ``as_of``, ``citation`` and ``query``;
- the item itself (``row.item``, typed as its class) and its fields as the
  CSV output writes them (:attr:`ItemRow.fields`: nested objects as dotted
  names, ``pricing.prompt``, values as the server sent them). The command
  line's CSV writer is built on these rows, so the two cannot drift.

**Rank** is the item's 1-based position among the items of its ranking in
its page, in the server's order (the server orders each ranking best first).
Equal scores do not share a rank: they get consecutive ranks in the server's
order, as the ``#`` column of a table does. A page spanning sources, or an
arena-wide Design Arena page, holds several rankings; each counts from 1. A
search eval lists a model once per search engine and surface, and each of
those rows has its own rank.
"""

from __future__ import annotations

import decimal
import typing
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, Final, Generic, TypeVar, overload

import attrs
import orjson

from openrouter_bench._convert import unstructure_item
from openrouter_bench.errors import InvalidQueryError
from openrouter_bench.models import (
    ArtificialAnalysisItem,
    DesignArenaItem,
    Item,
    OpenRouterEvalItem,
    Page,
    Pricing,
    SearchEvalItem,
    UnknownItem,
    check_item_class,
)
from openrouter_bench.query import Query
from openrouter_bench.ranking import ranking_name, ranking_score

__all__ = ["ItemRow", "rows_of"]

_MILLION: Final = Decimal(1_000_000)

_ItemT = TypeVar("_ItemT", bound=Item)
_ItemT_co = TypeVar("_ItemT_co", bound=Item, covariant=True)

# --- prices -----------------------------------------------------------------------------------


#: Prices are computed with no rounding; no real price comes near this many digits.
_DIGITS: Final = 1000
_EXACT: Final = decimal.Context(prec=_DIGITS, traps=[decimal.Inexact, decimal.InvalidOperation])
_ONE: Final = Decimal(1)


def _exactly(compute: Callable[[], Decimal]) -> Decimal | None:
    """``compute()`` with no rounding, written plainly: ``2.5``, not ``2.5000000`` or ``1E+1``.

    None when the exact result would need more than :data:`_DIGITS` digits.
    """
    with decimal.localcontext(_EXACT):
        try:
            amount = compute().normalize()
            return amount.quantize(_ONE) if amount == amount.to_integral_value() else amount
        except ArithmeticError:
            return None


def per_million(price: Decimal | None) -> Decimal | None:
    """A price per token as USD per million tokens, exact; None stays None."""
    if price is None:
        return None
    return _exactly(lambda: price * _MILLION)


def blended_price(pricing: Pricing | None) -> Decimal | None:
    """USD per million tokens, three input tokens to one output token; None if a side is unknown.

    Exact, like every price here (None also for a price so long that its exact
    blend would need more than a thousand digits; no real price comes close).
    """
    if pricing is None or pricing.prompt is None or pricing.completion is None:
        return None
    prompt, completion = pricing.prompt, pricing.completion
    return _exactly(lambda: (3 * prompt + completion) / 4 * _MILLION)


def decimal_places(amount: Decimal) -> int:
    """How many digits after the point ``amount`` needs to be written exactly (0 for 1200)."""
    _, digits, exponent = amount.as_tuple()
    if not isinstance(exponent, int):
        raise ValueError(f"not a finite amount: {amount}")
    text = "".join(map(str, digits))
    return max(0, -(exponent + len(text) - len(text.rstrip("0") or "0")))


# --- item fields ------------------------------------------------------------------------------

#: Attributes of the records that are not fields of the item the server sent.
_NOT_FIELDS: Final = frozenset({"extra", "raw"})


def _leaf_types(cls: type, prefix: str = "") -> dict[str, type]:
    """Each field of a record class as a dotted name, with the type of its value (None aside)."""
    hints = typing.get_type_hints(cls)
    leaves: dict[str, type] = {}
    for field in attrs.fields(cls):
        if field.name in _NOT_FIELDS:
            continue
        hint = hints[field.name]
        kinds = [arg for arg in typing.get_args(hint) or (hint,) if arg is not type(None)]
        nested = [kind for kind in kinds if attrs.has(kind)]
        if nested:
            leaves.update(_leaf_types(nested[0], f"{prefix}{field.name}."))
        else:
            leaves[prefix + field.name] = kinds[0]
    return leaves


#: The type of every field of each known shape, nested objects as dotted names, in the
#: server's order (``source`` first, as the item's JSON has it).
FIELD_TYPES: Final[dict[type, dict[str, type]]] = {
    kind: {"source": str, **_leaf_types(kind)}
    for kind in (ArtificialAnalysisItem, DesignArenaItem, OpenRouterEvalItem, SearchEvalItem)
}

#: Every field name of each known shape, in the server's order.
KNOWN_FIELDS: Final[dict[type, tuple[str, ...]]] = {
    kind: tuple(types) for kind, types in FIELD_TYPES.items()
}


def flatten(value: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A JSON object as one level: nested objects as dotted names, arrays as JSON text."""
    flat: dict[str, Any] = {}
    for key, inner in value.items():
        name = f"{prefix}{key}"
        if isinstance(inner, dict):
            flat.update(flatten(inner, f"{name}."))
        elif isinstance(inner, list):
            flat[name] = orjson.dumps(inner).decode()
        else:
            flat[name] = inner
    return flat


def parents(names: Iterable[str]) -> set[str]:
    """The dotted names that are the objects other names are fields of (``pricing``)."""
    found: set[str] = set()
    for name in names:
        at = name.find(".")
        while at >= 0:
            found.add(name[:at])
            at = name.find(".", at + 1)
    return found


#: The attribute path of each field of each known shape, and the objects those fields are in.
_PATHS: Final = {
    kind: tuple((name, tuple(name.split("."))) for name in names)
    for kind, names in KNOWN_FIELDS.items()
}
_OBJECTS: Final = {kind: frozenset(parents(names)) for kind, names in KNOWN_FIELDS.items()}


def _declared_value(item: Item, path: tuple[str, ...]) -> Any:
    # The value of a field the item's class declares: attributes all the way down.
    value: Any = item
    for part in path:
        if value is None:
            return None
        value = getattr(value, part)
    return value


def field_value(item: Item, name: str) -> Any:
    """The value of field ``name`` (dotted when nested) of ``item``; None when it has none.

    Known fields come typed (a price is a :class:`~decimal.Decimal`, a time a
    :class:`~datetime.datetime`); extra keys and unknown items' keys as the
    server sent them.
    """
    value: Any = item
    for part in name.split("."):
        if value is None:
            return None
        if isinstance(value, UnknownItem):
            value = value.raw.get(part)
        elif attrs.has(type(value)):
            declared = attrs.fields_dict(type(value))
            if (part in declared and part not in _NOT_FIELDS) or (
                part == "source" and value is item
            ):
                value = getattr(value, part)
            else:
                value = value.extra.get(part)
        elif isinstance(value, Mapping):
            value = value.get(part)
        else:
            return None
    return value


# --- rows -------------------------------------------------------------------------------------


@attrs.frozen
class ItemRow(Generic[_ItemT_co]):
    """One item as a flat row: where it stands, its prices per million tokens, and its fields.

    ``rank`` counts from 1 within ``ranking`` in the page, in the server's
    order (ties get consecutive ranks; see the module docstring). Prices are
    exact USD per million tokens, None where unknown. ``as_of``,
    ``citation`` and ``query`` are the page's. ``item`` is typed as its
    class: the rows :func:`rows_of` gives for ``kind=DesignArenaItem`` are
    ``ItemRow[DesignArenaItem]``, so ``row.item.elo`` needs no cast.
    """

    item: _ItemT_co = attrs.field(repr=False)
    source: str
    ranking: str
    rank: int
    model_permaslug: str | None
    display_name: str | None
    arena: str | None
    category: str | None
    benchmark_type: str | None
    score: float | None
    input_price_per_million: Decimal | None
    output_price_per_million: Decimal | None
    blended_price_per_million: Decimal | None
    as_of: datetime
    citation: str | None
    query: Query

    @property
    def fields(self) -> dict[str, Any]:
        """The item's fields as the CSV output has them: dotted names, the server's values.

        Values are what the item's JSON holds (prices as decimal text, times as
        ISO 8601 text, arrays as JSON text). A null object (``pricing: null``)
        is one ``pricing`` entry of None, not one per field it would have.
        """
        return flatten(unstructure_item(self.item))

    def to_dict(self) -> dict[str, Any]:
        """Every column of the row, typed: where it stands, its prices, then the item's fields.

        The item's fields are the ones :attr:`fields` names, with typed values
        (a price as :class:`~decimal.Decimal`, a time as an aware
        :class:`~datetime.datetime`); every field of the item's class is
        present, None where the item has no value. Then ``as_of``,
        ``citation`` and ``query`` (its canonical text, as the grid's CSV
        writes it).
        """
        record: dict[str, Any] = {
            "source": self.source,
            "ranking": self.ranking,
            "rank": self.rank,
            "model_permaslug": self.model_permaslug,
            "display_name": self.display_name,
            "arena": self.arena,
            "category": self.category,
            "benchmark_type": self.benchmark_type,
            "score": self.score,
            "input_price_per_million": self.input_price_per_million,
            "output_price_per_million": self.output_price_per_million,
            "blended_price_per_million": self.blended_price_per_million,
        }
        kind = type(self.item)
        for name, path in _PATHS.get(kind, ()):
            if name not in record:
                record[name] = _declared_value(self.item, path)
        # Keys no class declares (extra keys, an unknown item's), as the server sent them.
        objects = _OBJECTS.get(kind, frozenset())
        extra = [name for name in self.fields if name not in record and name not in objects]
        if extra:
            objects = objects | parents(extra)
            for name in extra:
                if name not in objects:
                    record[name] = field_value(self.item, name)
        record.update(as_of=self.as_of, citation=self.citation, query=self.query.key)
        return record


#: The columns every row has, whatever its item's class, in :meth:`ItemRow.to_dict`'s order.
ROW_COLUMNS: Final = (
    "source",
    "ranking",
    "rank",
    "model_permaslug",
    "display_name",
    "arena",
    "category",
    "benchmark_type",
    "score",
    "input_price_per_million",
    "output_price_per_million",
    "blended_price_per_million",
    "as_of",
    "citation",
    "query",
)


def _prices(item: Item) -> tuple[Decimal | None, Decimal | None, Decimal | None]:
    if isinstance(item, ArtificialAnalysisItem | DesignArenaItem) and item.pricing is not None:
        pricing = item.pricing
        return per_million(pricing.prompt), per_million(pricing.completion), blended_price(pricing)
    return None, None, None


def _row(item: Item, rank: int, page: Page) -> ItemRow[Item]:
    query = page.query
    inputs, outputs, blended = _prices(item)
    return ItemRow(
        item=item,
        source=item.source,
        ranking=ranking_name(item, query),
        rank=rank,
        model_permaslug=item.model_permaslug,
        display_name=item.display_name,
        arena=item.arena if isinstance(item, DesignArenaItem) else None,
        category=item.category if isinstance(item, DesignArenaItem) else None,
        benchmark_type=(
            item.benchmark_type if isinstance(item, OpenRouterEvalItem | SearchEvalItem) else None
        ),
        score=ranking_score(item, query),
        input_price_per_million=inputs,
        output_price_per_million=outputs,
        blended_price_per_million=blended,
        as_of=page.as_of,
        citation=page.meta.citation,
        query=query,
    )


def _page_rows(page: Page) -> tuple[ItemRow[Item], ...]:
    """Every item of one page as a row, in the server's order, ranked within its ranking."""
    counts: dict[str, int] = {}
    rows = []
    for item in page.items:
        name = ranking_name(item, page.query)
        counts[name] = rank = counts.get(name, 0) + 1
        rows.append(_row(item, rank, page))
    return tuple(rows)


def check_iterable(value: object, takes: str, parameter: str) -> None:
    """Raise :class:`InvalidQueryError` (``"<takes>, not <type>"``) unless ``value`` is a
    collection of things: neither text nor a mapping (a fan-out's result is one) counts."""
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        hint = (
            " (for a fan-out's result, pass result.pages.values())"
            if isinstance(value, Mapping)
            else ""
        )
        raise InvalidQueryError(f"{takes}, not {type(value).__name__}{hint}", parameter=parameter)


def _pages(pages: Page | Iterable[Page]) -> list[Page]:
    if isinstance(pages, Page):
        return [pages]
    check_iterable(pages, "rows_of takes a Page or an iterable of Pages", "pages")
    chosen = list(pages)
    for page in chosen:
        if not isinstance(page, Page):
            raise InvalidQueryError(
                f"rows_of takes Pages, and this iterable holds a {type(page).__name__}",
                parameter="pages",
            )
    return chosen


@overload
def rows_of(pages: Page | Iterable[Page]) -> tuple[ItemRow[Item], ...]: ...


@overload
def rows_of(pages: Page | Iterable[Page], kind: type[_ItemT]) -> tuple[ItemRow[_ItemT], ...]: ...


def rows_of(pages: Page | Iterable[Page], kind: type[Any] | None = None) -> tuple[Any, ...]:
    """One :class:`ItemRow` per item of ``pages`` (a page, or several), in their order.

    ``kind``: only the rows of one item class, typed as that class (as
    :meth:`~openrouter_bench.Page.items_of` does for items): ranks are still
    counted among every item of the page, so a row's rank does not change
    with the filter. A fan-out's pages are ``result.pages.values()``.
    """
    chosen = _pages(pages)
    if kind is not None:
        check_item_class(kind, "rows_of")
    rows = (row for page in chosen for row in _page_rows(page))
    if kind is None:
        return tuple(rows)
    return tuple(row for row in rows if isinstance(row.item, kind))
