"""Typed records for the benchmarks endpoint's answer.

One frozen, slotted class per item shape, told apart by the item's ``source``
(and, for OpenRouter evals, by whether ``benchmark_type`` starts with
``search_``). An item of a source this package does not know yet becomes an
:class:`UnknownItem` holding its raw mapping. Keys a known shape does not
declare are kept in ``extra``, so turning a page back into JSON gives the
server's document back.

Prices are :class:`~decimal.Decimal` (the API sends decimal strings; keep them
exact) and timestamps are aware :class:`~datetime.datetime` values.

Reading JSON into these records lives in :mod:`openrouter_bench._convert`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any, ClassVar, Final, TypeAlias, TypeVar

import attrs

from openrouter_bench.errors import InvalidQueryError
from openrouter_bench.query import Query

__all__ = [
    "ArtificialAnalysisItem",
    "DesignArenaItem",
    "Item",
    "Meta",
    "OpenRouterEvalItem",
    "Page",
    "Pricing",
    "RunConfig",
    "SearchEvalItem",
    "TournamentStats",
    "UnknownItem",
]

#: The most items an answer without ``max_results`` holds under the Data API guide's reading
#: ("1 to 100, default 50"); the API reference's reading is "omitted = all".
GUIDE_DEFAULT_RESULTS: Final = 50

#: The ``extra`` of a record the server sent nothing extra for: one shared empty mapping.
NO_EXTRA: Mapping[str, Any] = MappingProxyType({})


def _extra_field() -> Any:
    # Keys the server sent that this shape does not declare; kept for the round trip.
    return attrs.field(default=NO_EXTRA, kw_only=True, repr=False, eq=True, hash=False)


@attrs.frozen
class Pricing:
    """USD per token, exact. A side the server did not price is None."""

    prompt: Decimal | None
    completion: Decimal | None
    extra: Mapping[str, Any] = _extra_field()


@attrs.frozen
class TournamentStats:
    """Design Arena podium counts; any of them may be unknown (None)."""

    first_place: int | None
    second_place: int | None
    third_place: int | None
    fourth_place: int | None
    total: int | None
    extra: Mapping[str, Any] = _extra_field()


@attrs.frozen
class RunConfig:
    """How a search eval was run (only with ``include_run_config=True``)."""

    max_agent_turns: int | None
    reasoning_effort: str | None
    temperature: float | None
    extra: Mapping[str, Any] = _extra_field()


@attrs.frozen
class ArtificialAnalysisItem:
    """A model's Artificial Analysis indexes (higher is better, no fixed bound)."""

    source: ClassVar[str] = "artificial-analysis"

    model_permaslug: str
    display_name: str
    intelligence_index: float | None
    coding_index: float | None
    agentic_index: float | None
    pricing: Pricing | None
    extra: Mapping[str, Any] = _extra_field()


@attrs.frozen
class DesignArenaItem:
    """A model's standing in one Design Arena arena and category.

    ``model_permaslug`` is an OpenRouter id when the model is on OpenRouter
    (then ``pricing`` is set) and Design Arena's own id otherwise.
    """

    source: ClassVar[str] = "design-arena"

    model_permaslug: str
    display_name: str
    arena: str
    category: str
    elo: float
    win_rate: float
    avg_generation_time_ms: float | None
    tournament_stats: TournamentStats
    pricing: Pricing | None
    extra: Mapping[str, Any] = _extra_field()

    @property
    def on_openrouter(self) -> bool:
        """True when ``model_permaslug`` is an OpenRouter model id."""
        return self.pricing is not None


@attrs.frozen
class OpenRouterEvalItem:
    """A model's result on one of OpenRouter's classic evals (accuracy 0..1)."""

    source: ClassVar[str] = "openrouter"

    model_permaslug: str
    display_name: str
    benchmark_type: str
    accuracy: float
    accuracy_stddev: float | None
    avg_cost_per_task: float | None
    total_tasks: int
    last_run_timestamp: datetime
    extra: Mapping[str, Any] = _extra_field()


@attrs.frozen
class SearchEvalItem:
    """A model's result on one of OpenRouter's search evals (score 0..1)."""

    source: ClassVar[str] = "openrouter"

    model_permaslug: str
    display_name: str
    benchmark_type: str
    primary_metric: str
    primary_score: float
    avg_cost_per_task: float | None
    avg_latency_per_task_ms: float | None
    search_engine: str
    search_surface: str
    total_tasks: int
    last_run_timestamp: datetime
    run_config: RunConfig | None = attrs.field(default=None, kw_only=True)
    extra: Mapping[str, Any] = _extra_field()


@attrs.frozen
class UnknownItem:
    """An item of a source or shape this package does not know yet, kept whole."""

    source: str
    raw: Mapping[str, Any] = attrs.field(repr=False, hash=False)

    @property
    def model_permaslug(self) -> str | None:
        """The model id, when the item has a string one."""
        value = self.raw.get("model_permaslug")
        return value if isinstance(value, str) else None

    @property
    def display_name(self) -> str | None:
        """The display name, when the item has a string one."""
        value = self.raw.get("display_name")
        return value if isinstance(value, str) else None


Item: TypeAlias = (
    ArtificialAnalysisItem | DesignArenaItem | OpenRouterEvalItem | SearchEvalItem | UnknownItem
)


@attrs.frozen
class Meta:
    """What the server said about the data set it answered from.

    ``as_of`` is an aware datetime whichever form the server wrote it in:
    ``2026-06-03T12:00:00Z`` (the API reference) or ``2026-06-03T12:00:00.000Z``
    (the Data API guide). ``raw_as_of`` keeps the server's text when it is not
    the standard form (None when it is), so writing the meta back as JSON
    gives that text back; it is used only while it still reads as ``as_of``.
    It takes no part in equality: both forms name one moment, and the cache
    keys snapshots by a canonical form of ``as_of``.
    """

    as_of: datetime
    version: str
    source: str | None
    source_url: str | None
    citation: str | None
    model_count: int
    task_type: str | None
    extra: Mapping[str, Any] = _extra_field()
    raw_as_of: str | None = attrs.field(
        default=None, kw_only=True, repr=False, eq=False, hash=False, metadata={"text_of": "as_of"}
    )


_ItemT = TypeVar("_ItemT", bound=Item)

#: The classes ``Page.items_of`` can filter by: every item shape, and the one for unknown ones.
ITEM_CLASSES: Final[tuple[type[Item], ...]] = (
    ArtificialAnalysisItem,
    DesignArenaItem,
    OpenRouterEvalItem,
    SearchEvalItem,
    UnknownItem,
)


def check_item_class(kind: object, caller: str) -> None:
    """Raise :class:`InvalidQueryError` naming the item classes unless ``kind`` is one."""
    if kind not in ITEM_CLASSES:
        shown = kind.__name__ if isinstance(kind, type) else repr(kind)
        raise InvalidQueryError(
            f"{caller} takes an item class ({', '.join(c.__name__ for c in ITEM_CLASSES)}), "
            f"not {shown}",
            parameter="kind",
        )


@attrs.frozen
class Page:
    """One answer of the endpoint for one query, and how it reached the caller.

    ``from_cache`` is True when no request was sent for it; ``stale`` is True
    when it was served from an older snapshot because a refresh failed.
    ``fetched_at`` is when this client received it from the server (a cache hit keeps the
    original time). ``body_bytes`` is the length of the decoded body it was read from (0 for
    a page built otherwise): what a memory cache weighs it by. It takes no part in equality.

    ``derived_from`` is None for a page the server sent for ``query``. A fan-out
    answers several Design Arena category queries of one arena from that arena's
    page, which holds every category's items: such a page was cut from the page
    of ``derived_from`` (the arena's query), and carries that page's ``as_of``,
    citation, ``fetched_at``, ``from_cache`` and ``stale``. Its items and meta are
    what the server sends for ``query``.
    """

    items: tuple[Item, ...] = attrs.field(repr=lambda items: f"<{len(items)} items>")
    meta: Meta
    query: Query
    fetched_at: datetime
    from_cache: bool = False
    stale: bool = False
    body_bytes: int = attrs.field(default=0, eq=False, repr=False)
    derived_from: Query | None = attrs.field(default=None, kw_only=True)

    def __len__(self) -> int:
        return len(self.items)

    @property
    def may_be_cut(self) -> bool:
        """True when the server may have left matching items out of this page.

        An answer holds at most ``max_results`` items, and the published
        documents disagree about an answer without it: all matching items (the
        API reference) or at most 50 (the Data API guide). So a page is whole
        for sure only when it is shorter than ``max_results``, or, without
        ``max_results``, when it holds any number of items but exactly 50 (more
        than 50 shows the server applied no cap). Never treat a page that may
        be cut as the whole of its ranking, arena or source.

        A derived page without ``max_results`` is whole: it is only ever cut
        from an arena page proved whole.
        """
        limit = self.query.max_results
        if limit is not None:
            return len(self.items) >= limit
        return len(self.items) == GUIDE_DEFAULT_RESULTS and self.derived_from is None

    @property
    def as_of(self) -> datetime:
        """When the data set behind this page was last updated."""
        return self.meta.as_of

    def items_of(self, kind: type[_ItemT]) -> tuple[_ItemT, ...]:
        """The items of one shape, in the server's order, typed as that shape.

        ``page.items`` holds the :data:`Item` union, so strictly typed code
        would need a check per item before reading ``elo``; this filter is
        that check, once::

            for item in page.items_of(DesignArenaItem):
                print(item.model_permaslug, item.elo)

        Items of other shapes (an :class:`UnknownItem` a newer server sent,
        say) are left out. ``kind`` must be one of the item classes.
        """
        check_item_class(kind, "items_of")
        return tuple(item for item in self.items if isinstance(item, kind))

    def served(self, *, from_cache: bool, stale: bool = False) -> Page:
        """The same page, flagged as served from the cache (and maybe stale)."""
        if from_cache == self.from_cache and stale == self.stale:
            return self
        return attrs.evolve(self, from_cache=from_cache, stale=stale)
