"""Answers from the whole data set: one model everywhere, comparisons, the best under a price.

A :class:`Catalog` is every source's full listing, fetched in the fewest
requests the endpoint allows, and the questions people ask about models
answered locally from it:

- :meth:`Catalog.model`: one model's standing in every source, arena,
  category and benchmark;
- :meth:`Catalog.compare`: two or more models side by side;
- :meth:`Catalog.best` and :meth:`Catalog.frontier`: the best models for a
  task under a price, and the Pareto frontier of score against price;
- :meth:`Catalog.leaders`: the leader of every Design Arena category.

**Fetching.** :meth:`Catalog.load` asks for five pages, through the client's
cache and quota like any other call: ``source=artificial-analysis``,
``source=openrouter`` (its classic and search evals come in one unfiltered
page) and ``source=design-arena`` once per arena (models, builders, agents).
While the client's cache holds them, loading again sends nothing; each part
keeps its own ``as_of`` and citation. A part that failed is kept as a failure:
every answer says, in ``missing``, which parts it could not look at.

**Pages that may have been cut.** The endpoint's reference says an omitted
``max_results`` means "all"; its Data API guide says "default 50, at most 100".
A page that :attr:`~openrouter_bench.Page.may_be_cut` says may have been cut
(exactly 50 items with ``max_results`` omitted, or as many items as the
``max_results`` passed to :meth:`Catalog.load`) is not taken for the whole.
Such a Design Arena arena is asked for again category by category (the
categories the cut page shows, and :data:`~openrouter_bench.query.KNOWN_CATEGORIES`),
and such an OpenRouter page benchmark by benchmark (those it shows, and every
:class:`~openrouter_bench.query.BenchmarkType`). A category or benchmark that
neither the cut page nor this package names cannot be asked for, so a part
read that way, or one that cannot be split (Artificial Analysis), stays
flagged: every answer that used it lists it in ``incomplete``.

**Rankings.** Scores of different sources do not compare, so no answer ranks
across sources in one list: every answer is per ranking. Artificial Analysis
gives three rankings (its intelligence, coding and agentic indexes), Design
Arena one per arena and category (by Elo), OpenRouter one per benchmark. The
score an item ranks by is :func:`openrouter_bench.ranking.ranking_score`'s.
In a search eval a model can have several rows (one per search engine and
surface): it is ranked by its best one, whose ``variant`` is kept. Ties keep
the server's order.

**Prices.** Artificial Analysis and Design Arena items carry a price per
token; a model's price there is blended per million tokens, three input
tokens to one output token (the blend Artificial Analysis uses), in exact
:class:`~decimal.Decimal`. OpenRouter evals carry a cost per task instead, in
USD as the server sent it. A price ceiling applies in each ranking's own unit.

**Layers.** This module is built on :meth:`BenchmarksClient.fan_out` and
imports the client; the client does not offer it as a method, which would
make the client import it and invert the layers.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Final, TypeVar, overload

import attrs

from openrouter_bench._names import ModelNames
from openrouter_bench.client import BenchmarksClient
from openrouter_bench.errors import (
    InvalidQueryError,
    OpenRouterBenchError,
)
from openrouter_bench.models import (
    ArtificialAnalysisItem,
    DesignArenaItem,
    Item,
    OpenRouterEvalItem,
    Page,
    SearchEvalItem,
)
from openrouter_bench.query import (
    KNOWN_CATEGORIES,
    Arena,
    BenchmarkType,
    Query,
    Source,
    TaskType,
)
from openrouter_bench.ranking import ranking_name, ranking_score, ranking_variant
from openrouter_bench.records import ItemRow, blended_price, rows_of

__all__ = [
    "Catalog",
    "CatalogPart",
    "Comparison",
    "ComparisonRow",
    "ModelReport",
    "ModelStanding",
    "RankingAnswer",
    "RankingAnswers",
]

_ItemT = TypeVar("_ItemT", bound=Item)

#: The unit of a blended token price (Artificial Analysis, Design Arena).
PER_MILLION_TOKENS: Final = "USD per million tokens, 3:1 input:output"
#: The unit of an OpenRouter eval's price.
PER_TASK: Final = "USD per task"

_AA_TASKS: Final = (TaskType.INTELLIGENCE, TaskType.CODING, TaskType.AGENTIC)
_TASK_VALUES: Final = frozenset(task.value for task in TaskType)
#: The most names a person may compare at once.
_MAX_COMPARED: Final = 20


@attrs.frozen
class CatalogPart:
    """One part of the data set: a source, or one Design Arena arena.

    ``pages`` are the pages it was read from (one, or one per category or
    benchmark when the unfiltered page may have been cut); ``error`` the
    failure that left some or all of it out; ``complete`` is False when a
    page may have been cut and the part may lack items.
    """

    name: str
    source: str
    queries: tuple[Query, ...]
    pages: tuple[Page, ...] = attrs.field(repr=False)
    error: OpenRouterBenchError | None = attrs.field(default=None, eq=False)
    complete: bool = True

    @property
    def failed(self) -> bool:
        """True when some or all of the part could not be fetched."""
        return self.error is not None

    @property
    def as_of(self) -> datetime | None:
        """When the part's data was last updated (its oldest page's), None when it failed."""
        return min((page.as_of for page in self.pages), default=None)

    @property
    def citation(self) -> str | None:
        """The attribution to show when republishing what this part holds."""
        return next((page.meta.citation for page in self.pages if page.meta.citation), None)


@attrs.frozen
class ModelStanding:
    """One model's place in one ranking.

    ``rank`` counts from 1 among the ``entries`` models ranked there;
    ``score`` is what the ranking orders by; ``price`` is in ``price_unit``
    (None: unknown). ``variant`` tells which of a search eval's rows this is.
    """

    ranking: str
    source: str
    model: str
    display_name: str
    rank: int
    entries: int
    score: float
    price: Decimal | None
    price_unit: str
    variant: str | None
    as_of: datetime
    citation: str | None


@attrs.frozen
class ModelReport:
    """One model in every ranking it stands in, with the citations to show."""

    model: str
    display_names: tuple[str, ...]
    standings: tuple[ModelStanding, ...]
    citations: tuple[str, ...]
    missing: tuple[str, ...]
    incomplete: tuple[str, ...]


@attrs.frozen
class ComparisonRow:
    """One ranking and each compared model's standing there (None: not ranked there)."""

    ranking: str
    standings: tuple[ModelStanding | None, ...]


@attrs.frozen
class Comparison:
    """Models side by side, ranking by ranking; ``models`` in the order asked."""

    models: tuple[str, ...]
    rows: tuple[ComparisonRow, ...]
    citations: tuple[str, ...]
    missing: tuple[str, ...]
    incomplete: tuple[str, ...]


@attrs.frozen
class RankingAnswer:
    """Rows of one ranking that answer a question (a shortlist, a frontier, a leader).

    ``ceiling`` is the price limit applied, in ``price_unit`` (None: none).
    ``complete`` is False when the part it came from may lack items.
    """

    ranking: str
    source: str
    price_unit: str
    ceiling: Decimal | None
    rows: tuple[ModelStanding, ...]
    as_of: datetime
    citation: str | None
    complete: bool


@attrs.frozen
class RankingAnswers:
    """An answer per ranking (never one list across sources), with the citations to show."""

    rankings: tuple[RankingAnswer, ...]
    citations: tuple[str, ...]
    missing: tuple[str, ...]
    incomplete: tuple[str, ...]


@attrs.frozen
class _Ranking:
    """One ranking of the catalog: never empty, every row from one part, best first."""

    name: str
    part: CatalogPart
    rows: tuple[ModelStanding, ...]

    @property
    def unit(self) -> str:
        """What its prices are in (one unit per source)."""
        return self.rows[0].price_unit


def _cost(value: float | None) -> Decimal | None:
    # The float's shortest text, so a cost reads back as the server wrote it.
    return None if value is None else Decimal(repr(value))


def _price(item: Item) -> tuple[Decimal | None, str]:
    if isinstance(item, OpenRouterEvalItem | SearchEvalItem):
        return _cost(item.avg_cost_per_task), PER_TASK
    if isinstance(item, ArtificialAnalysisItem | DesignArenaItem):
        return blended_price(item.pricing), PER_MILLION_TOKENS
    return None, PER_MILLION_TOKENS


def _part_queries(max_results: int | None) -> list[tuple[str, Query]]:
    parts = [
        (Source.ARTIFICIAL_ANALYSIS.value, Query(source=Source.ARTIFICIAL_ANALYSIS)),
        (Source.OPENROUTER.value, Query(source=Source.OPENROUTER)),
    ]
    parts += [
        (
            f"{Source.DESIGN_ARENA.value} {arena.value}",
            Query(source=Source.DESIGN_ARENA, arena=arena),
        )
        for arena in Arena
    ]
    return [(name, query.evolve(max_results=max_results)) for name, query in parts]


def _split(page: Page, max_results: int | None) -> list[Query] | None:
    """Narrower queries that together ask for what a cut page holds, or None (no split)."""
    query = page.query
    if query.source == Source.DESIGN_ARENA:
        seen = [item.category for item in page.items_of(DesignArenaItem)]
        return [
            query.evolve(category=category, max_results=max_results)
            for category in dict.fromkeys([*seen, *KNOWN_CATEGORIES])
        ]
    if query.source == Source.OPENROUTER:
        seen = [
            item.benchmark_type
            for item in page.items
            if isinstance(item, OpenRouterEvalItem | SearchEvalItem)
        ]
        return [
            query.evolve(benchmark_type=benchmark, max_results=max_results)
            for benchmark in dict.fromkeys([*seen, *(b.value for b in BenchmarkType)])
        ]
    return None


class Catalog:
    """Every source's full listing, and the questions about models answered from it.

    Build one with :meth:`load`; it is immutable, so one catalog may serve
    many questions and many tasks. See the module docstring for what is
    fetched and how answers are ranked and priced.
    """

    def __init__(self, parts: Sequence[CatalogPart]) -> None:
        self.parts: tuple[CatalogPart, ...] = tuple(parts)
        self._rankings: dict[str, _Ranking] = {}
        self._names = ModelNames()
        for part in self.parts:
            self._read(part)

    def __repr__(self) -> str:
        failed = sum(part.failed for part in self.parts)
        return (
            f"<Catalog {len(self._names)} models, {len(self._rankings)} rankings, "
            f"{len(self.parts) - failed}/{len(self.parts)} parts>"
        )

    @classmethod
    async def load(
        cls,
        client: BenchmarksClient,
        *,
        max_results: int | None = None,
        reuse: Catalog | None = None,
        refresh: bool = False,
    ) -> Catalog:
        """Fetch every part through ``client`` (its cache, quota and retries) and build a catalog.

        ``max_results`` is sent with every query (None: left out); a page
        holding that many items, or 50 or 100 without it, may have been cut and
        is asked for again in narrower queries (see the module docstring).
        ``reuse``: a catalog to hand back as it is when every page it was built
        from is still the one served (same query, same ``as_of``), so a bot
        asking before each question builds no new index while nothing changed.
        ``refresh``: ask the server for every part even while the cache holds it
        (:meth:`BenchmarksClient.get`'s ``refresh``).
        """
        if reuse is not None and not isinstance(reuse, Catalog):
            raise InvalidQueryError(
                f"reuse must be a Catalog or None, not {type(reuse).__name__}", parameter="reuse"
            )
        named = _part_queries(max_results)
        first = await client.fan_out([query for _, query in named], refresh=refresh)
        cut = [
            page
            for page in first.pages.values()
            if page.may_be_cut and _split(page, max_results) is not None
        ]
        narrow = [query for page in cut for query in _split(page, max_results) or []]
        second = await client.fan_out(narrow, refresh=refresh) if narrow else None
        parts: list[CatalogPart] = []
        for name, query in named:
            outcome = first[query]
            source = str(query.source)
            if isinstance(outcome, OpenRouterBenchError):
                parts.append(CatalogPart(name, source, (query,), (), error=outcome, complete=False))
                continue
            if not outcome.may_be_cut:
                parts.append(CatalogPart(name, source, (query,), (outcome,)))
                continue
            queries = _split(outcome, max_results)
            if queries is None or second is None:
                parts.append(CatalogPart(name, source, (query,), (outcome,), complete=False))
                continue
            pages = tuple(second.pages[q] for q in queries if q in second.pages)
            errors = [second.errors[q] for q in queries if q in second.errors]
            parts.append(
                CatalogPart(
                    name,
                    source,
                    tuple(queries),
                    pages,
                    error=errors[0] if errors else None,
                    # Categories or benchmarks neither the cut page nor this package names
                    # were not asked for: the part cannot be proved whole.
                    complete=False,
                )
            )
        if reuse is not None and _fingerprint(reuse.parts) == _fingerprint(parts):
            return reuse
        return cls(parts)

    # --- building -------------------------------------------------------------------------

    def _read(self, part: CatalogPart) -> None:
        grouped: dict[str, list[tuple[Item, Query, Page]]] = {}
        for page in part.pages:
            for item in page.items:
                self._names.learn(item)
                for query in _ranking_queries(item, page.query):
                    if ranking_score(item, query) is None:
                        continue
                    grouped.setdefault(ranking_name(item, query), []).append((item, query, page))
        for name, entries in grouped.items():
            best: dict[str, tuple[float, int, Item, Page]] = {}
            for order, (item, query, page) in enumerate(entries):
                score = ranking_score(item, query)
                model = item.model_permaslug
                if score is None or model is None:
                    continue
                held = best.get(model)
                if held is None or score > held[0]:
                    best[model] = (score, order, item, page)
            ordered = sorted(best.values(), key=lambda entry: (-entry[0], entry[1]))
            rows = []
            for rank, (score, _, item, page) in enumerate(ordered, start=1):
                price, unit = _price(item)
                rows.append(
                    ModelStanding(
                        ranking=name,
                        source=part.source,
                        model=str(item.model_permaslug),
                        display_name=str(item.display_name),
                        rank=rank,
                        entries=len(ordered),
                        score=score,
                        price=price,
                        price_unit=unit,
                        variant=ranking_variant(item),
                        as_of=page.as_of,
                        citation=page.meta.citation,
                    )
                )
            self._rankings[name] = _Ranking(name, part, tuple(rows))

    # --- names ----------------------------------------------------------------------------

    @property
    def models(self) -> tuple[str, ...]:
        """Every model id in the catalog, in the order first seen."""
        return self._names.models

    def display_names(self, model: str) -> tuple[str, ...]:
        """The names the sources show for a model id, in the order first seen."""
        return self._names.display_names(model)

    def resolve(self, name: str) -> str:
        """The model id a person means by ``name``.

        Takes an OpenRouter id (``moonshotai/kimi-k2-thinking``), the part
        after the ``/``, Design Arena's own ids, and the display names of every
        source (``MoonshotAI: Kimi K2 Thinking``, ``Kimi K2 Thinking``), with
        case, punctuation and a vendor prefix not counting. Raises
        :class:`UnknownModelError` (with the closest names) or
        :class:`AmbiguousModelError` (with the candidates).
        """
        return self._names.resolve(name, missing=self._missing(self.parts))

    # --- questions ------------------------------------------------------------------------

    def model(self, name: str) -> ModelReport:
        """One model's standing in every ranking, source by source."""
        model = self.resolve(name)
        standings = tuple(
            row for ranking in self._rankings.values() for row in ranking.rows if row.model == model
        )
        used = [self._rankings[s.ranking].part for s in standings]
        return ModelReport(
            model=model,
            display_names=self.display_names(model),
            standings=standings,
            citations=_citations(used),
            missing=self._missing(self.parts),
            incomplete=_incomplete(self.parts),
        )

    def compare(self, *names: str) -> Comparison:
        """Two or more models side by side, in every ranking where any of them stands."""
        if not 2 <= len(names) <= _MAX_COMPARED:
            raise InvalidQueryError(
                f"compare takes 2 to {_MAX_COMPARED} model names, got {len(names)}",
                parameter="names",
            )
        models = tuple(dict.fromkeys(self.resolve(name) for name in names))
        rows: list[ComparisonRow] = []
        used: list[CatalogPart] = []
        for ranking in self._rankings.values():
            placed = {row.model: row for row in ranking.rows if row.model in models}
            if placed:
                rows.append(ComparisonRow(ranking.name, tuple(placed.get(m) for m in models)))
                used.append(ranking.part)
        return Comparison(
            models=models,
            rows=tuple(rows),
            citations=_citations(used),
            missing=self._missing(self.parts),
            incomplete=_incomplete(self.parts),
        )

    @property
    def rankings(self) -> tuple[str, ...]:
        """Every ranking's name, in the order of the parts and the server's."""
        return tuple(self._rankings)

    def ranking(self, name: str) -> tuple[ModelStanding, ...]:
        """Every row of one ranking, best first."""
        return self._chosen(name)[0].rows

    def part_of(self, ranking: str) -> CatalogPart:
        """The part a ranking was read from (its ``as_of`` and citation are the ranking's)."""
        found = self._rankings.get(ranking) if isinstance(ranking, str) else None
        if found is None:
            self._chosen(ranking)  # says what the name is not, with the closest ones
            raise InvalidQueryError(
                f"{ranking!r} is a task type, not one ranking", parameter="task"
            )
        return found.part

    def best(
        self,
        task: TaskType | str,
        *,
        max_price: Decimal | int | str | None = None,
        max_cost_per_task: Decimal | int | str | None = None,
        limit: int = 5,
    ) -> RankingAnswers:
        """The best ``limit`` models for a task (or one ranking), per ranking, under a price.

        ``task`` is a :class:`TaskType` (coding: Artificial Analysis's coding
        index and every arena's ``codecategories``; intelligence and agentic:
        that index and OpenRouter's eval; search: OpenRouter's search evals)
        or a ranking's name (see :attr:`rankings`). ``max_price`` (USD per
        million tokens, blended) applies to Artificial Analysis and Design
        Arena, ``max_cost_per_task`` (USD) to OpenRouter; with a ceiling, a
        model whose price is unknown is left out.
        """
        ceilings = _ceilings(max_price, max_cost_per_task)
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InvalidQueryError(f"limit must be a whole number >= 1, got {limit!r}")
        answers = []
        for ranking in self._chosen(task):
            ceiling = ceilings[ranking.unit]
            rows = _within(ranking.rows, ceiling)
            answers.append(_answer(ranking, ceiling, rows[:limit]))
        return self._answers(answers, task)

    def frontier(
        self,
        task: TaskType | str,
        *,
        max_price: Decimal | int | str | None = None,
        max_cost_per_task: Decimal | int | str | None = None,
    ) -> RankingAnswers:
        """Per ranking, the models no other beats on both score and price, cheapest first.

        A model is on the frontier when no model of the same ranking costs no
        more and scores no less, one of the two strictly. Models whose price is
        unknown are left out. ``task`` as for :meth:`best`; ``max_price`` and
        ``max_cost_per_task`` cut each frontier at that price, as in :meth:`best`.
        """
        ceilings = _ceilings(max_price, max_cost_per_task)
        answers = []
        for ranking in self._chosen(task):
            ceiling = ceilings[ranking.unit]
            rows = _within(pareto_frontier(ranking.rows), ceiling)
            answers.append(_answer(ranking, ceiling, rows))
        return self._answers(answers, task)

    def leaders(self) -> RankingAnswers:
        """The leader of every Design Arena arena and category (ties at the top all shown)."""
        answers = []
        for ranking in self._rankings.values():
            if ranking.part.source != Source.DESIGN_ARENA or not ranking.rows:
                continue
            top = ranking.rows[0].score
            leaders = [row for row in ranking.rows if row.score == top]
            answers.append(_answer(ranking, None, leaders))
        return self._answers(answers, Source.DESIGN_ARENA)

    # --- rows for analysis ----------------------------------------------------------------

    @overload
    def rows(self) -> tuple[ItemRow[Item], ...]: ...

    @overload
    def rows(self, kind: type[_ItemT]) -> tuple[ItemRow[_ItemT], ...]: ...

    def rows(self, kind: type[Any] | None = None) -> tuple[ItemRow[Any], ...]:
        """Every item of every part as a flat row (see :func:`~openrouter_bench.rows_of`).

        The rows of each page the catalog was read from, part by part, each
        ranked in its page; ``kind`` keeps one item class, typed as it. Scores
        of different sources stand side by side in these rows, but only rows
        of one ``ranking`` compare.
        """
        pages = [page for part in self.parts for page in part.pages]
        return rows_of(pages) if kind is None else rows_of(pages, kind)

    # --- helpers --------------------------------------------------------------------------

    def _chosen(self, task: TaskType | str) -> list[_Ranking]:
        if isinstance(task, str) and task in self._rankings:
            return [self._rankings[task]]
        if isinstance(task, str) and task in _TASK_VALUES:
            task = TaskType(task)
        if isinstance(task, TaskType):
            return [r for r in self._rankings.values() if _serves(r.name, task)]
        shown = str(task)[:60] if isinstance(task, str) else type(task).__name__
        close = difflib.get_close_matches(shown, list(self._rankings), n=3)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise InvalidQueryError(
            f"{shown!r} is neither a task type ({', '.join(TaskType)}) nor a ranking{hint}",
            parameter="task",
        )

    def _answers(self, answers: list[RankingAnswer], task: TaskType | str) -> RankingAnswers:
        relevant = [part for part in self.parts if _may_hold(part, task)]
        used = [self._rankings[answer.ranking].part for answer in answers]
        return RankingAnswers(
            rankings=tuple(answers),
            citations=_citations(used),
            missing=self._missing(relevant),
            incomplete=_incomplete(relevant),
        )

    @staticmethod
    def _missing(parts: Iterable[CatalogPart]) -> tuple[str, ...]:
        return tuple(part.name for part in parts if part.failed)


def _ranking_queries(item: Item, query: Query) -> list[Query]:
    """The queries under which an item is ranked: one per index for Artificial Analysis."""
    if isinstance(item, ArtificialAnalysisItem):
        return [query.evolve(task_type=task, max_results=None) for task in _AA_TASKS]
    return [query]


def _serves(ranking: str, task: TaskType) -> bool:
    """Whether a ranking answers a task (the server's own task mapping, per source)."""
    if ranking.startswith(Source.ARTIFICIAL_ANALYSIS.value):
        return ranking == f"{Source.ARTIFICIAL_ANALYSIS.value} {task.value}"
    if ranking.startswith(Source.DESIGN_ARENA.value):
        return task == TaskType.CODING and ranking.endswith("/codecategories")
    benchmark = ranking.split(" ", 1)[1]
    if task == TaskType.SEARCH:
        return benchmark.startswith("search_")
    return (task, benchmark) in (
        (TaskType.INTELLIGENCE, BenchmarkType.GPQA_DIAMOND.value),
        (TaskType.AGENTIC, BenchmarkType.TAU_BENCH_VERIFIED_AIRLINE.value),
    )


_TASK_SOURCES: Final = {
    TaskType.CODING: (Source.ARTIFICIAL_ANALYSIS, Source.DESIGN_ARENA),
    TaskType.INTELLIGENCE: (Source.ARTIFICIAL_ANALYSIS, Source.OPENROUTER),
    TaskType.AGENTIC: (Source.ARTIFICIAL_ANALYSIS, Source.OPENROUTER),
    TaskType.SEARCH: (Source.OPENROUTER,),
}


def _may_hold(part: CatalogPart, task: TaskType | str) -> bool:
    """Whether a part could hold rankings that answer ``task``."""
    if isinstance(task, TaskType):
        return part.source in _TASK_SOURCES[task]
    if task == Source.DESIGN_ARENA:
        return part.source == Source.DESIGN_ARENA
    if task.startswith(f"{Source.DESIGN_ARENA.value} "):
        arena = task.split(" ", 1)[1].split("/", 1)[0]
        return part.name == f"{Source.DESIGN_ARENA.value} {arena}"
    return task.startswith(part.source)


def _answer(
    ranking: _Ranking, ceiling: Decimal | None, rows: Sequence[ModelStanding]
) -> RankingAnswer:
    part = ranking.part
    return RankingAnswer(
        ranking=ranking.name,
        source=part.source,
        price_unit=ranking.unit,
        ceiling=ceiling,
        rows=tuple(rows),
        as_of=ranking.rows[0].as_of,
        citation=part.citation,
        complete=part.complete and not part.failed,
    )


def pareto_frontier(rows: Iterable[ModelStanding]) -> tuple[ModelStanding, ...]:
    """The priced rows no other row beats on both price and score, cheapest first."""
    priced = sorted(
        ((row.price, row) for row in rows if row.price is not None),
        key=lambda pair: (pair[0], -pair[1].score, pair[1].rank),
    )
    frontier: list[ModelStanding] = []
    last: tuple[Decimal, float] | None = None
    for price, row in priced:
        # Cheapest first: a row is beaten only by one already kept that scores at least as
        # well, so it is kept if it scores better than the last kept row (or is that point).
        if last is None or row.score > last[1] or (price, row.score) == last:
            frontier.append(row)
            last = (price, row.score)
    return tuple(frontier)


def _ceilings(
    max_price: Decimal | int | str | None, max_cost_per_task: Decimal | int | str | None
) -> dict[str, Decimal | None]:
    """The price ceiling of each unit: per million tokens, and per task."""
    return {
        PER_MILLION_TOKENS: _money("max_price", max_price),
        PER_TASK: _money("max_cost_per_task", max_cost_per_task),
    }


def _within(rows: Iterable[ModelStanding], ceiling: Decimal | None) -> list[ModelStanding]:
    """The rows priced at most ``ceiling`` (all of them with no ceiling, unpriced ones too)."""
    return [
        row for row in rows if ceiling is None or (row.price is not None and row.price <= ceiling)
    ]


def _money(name: str, value: Decimal | int | str | None) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise InvalidQueryError(
            f"{name} must be a Decimal, an int or a decimal string (floats are inexact), "
            f"not {type(value).__name__}",
            parameter=name,
        )
    try:
        amount = Decimal(value)
    except ArithmeticError:
        raise InvalidQueryError(f"{name} must be a number, got {str(value)[:60]!r}") from None
    if not amount.is_finite() or amount < 0:
        raise InvalidQueryError(f"{name} must be a finite amount >= 0, got {amount}")
    return amount


def _citations(parts: Iterable[CatalogPart]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(c for part in parts if (c := part.citation) is not None))


def _incomplete(parts: Iterable[CatalogPart]) -> tuple[str, ...]:
    return tuple(part.name for part in parts if not part.complete and not part.failed)


def _fingerprint(parts: Iterable[CatalogPart]) -> tuple[object, ...]:
    return tuple(
        (
            part.name,
            part.complete,
            part.error is None,
            tuple((p.query, p.as_of) for p in part.pages),
        )
        for part in parts
    )
