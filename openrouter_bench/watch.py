"""Watching a query for new snapshots, and what changed from one snapshot to the next.

:func:`diff_snapshots` compares two pages of one query: which models entered
or left each ranking, whose rank or score moved, and which rankings have a
new leader. :func:`watch_query` polls a query and yields such a
:class:`SnapshotChange` each time the data set's ``as_of`` moves; the first
poll is the baseline. ``BenchmarksClient.watch`` is the usual way in; its
polls go through the cache (refreshing past it) and the quota like any call.

A page can hold several rankings (an arena without a category holds one per
category; OpenRouter evals one per benchmark); a model's rank is its place
within its own ranking, in the server's order.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from datetime import datetime
from typing import Any, Final

import attrs

from openrouter_bench._text import printable
from openrouter_bench.errors import (
    OpenRouterBenchError,
    QuotaExhaustedError,
    RateLimitError,
    ResponseFormatError,
    is_transient,
)
from openrouter_bench.models import Item, Page
from openrouter_bench.query import Query
from openrouter_bench.ranking import format_score, ranking_name, ranking_score, ranking_variant

__all__ = ["RankMove", "SnapshotChange", "Standing", "diff_snapshots", "standings"]

logger: Final = logging.getLogger("openrouter_bench.watch")


@attrs.frozen
class Standing:
    """One model's place in one ranking of a snapshot.

    ``ranking`` names the ranking (``"design-arena models/gamedev"``,
    ``"openrouter gpqa_diamond"``...); ``variant`` tells apart the rows one
    model has in a search eval (``"exa/plugin"``), else None. ``score`` is the
    number the ranking is ordered by.
    """

    ranking: str
    model: str
    display_name: str | None
    rank: int
    score: float | None
    variant: str | None = None

    @property
    def label(self) -> str:
        """The model's name for people, with its variant."""
        name = self.display_name or self.model
        return f"{name} [{self.variant}]" if self.variant else name


@attrs.frozen
class RankMove:
    """A model ranked in both snapshots whose rank or score changed."""

    ranking: str
    model: str
    display_name: str | None
    variant: str | None
    old_rank: int
    new_rank: int
    old_score: float | None
    new_score: float | None

    @property
    def places(self) -> int:
        """Places gained (positive: it climbed; negative: it fell; 0: same rank)."""
        return self.old_rank - self.new_rank

    @property
    def score_change(self) -> float | None:
        """New score minus old score, when both are known."""
        if self.old_score is None or self.new_score is None:
            return None
        return self.new_score - self.old_score


@attrs.frozen
class SnapshotChange:
    """What changed in one query's answer between two snapshots (two ``as_of``).

    ``entered`` and ``left`` hold the models new to, or gone from, a ranking
    (their new, or last, standing); ``moves`` every model present in both
    whose rank or score changed; ``new_leaders`` the rankings whose #1 is
    another model now. ``citation`` is the attribution to show when
    republishing (the newer page's). ``old`` and ``new`` are the two pages.
    """

    query: Query
    old_as_of: datetime
    new_as_of: datetime
    entered: tuple[Standing, ...]
    left: tuple[Standing, ...]
    moves: tuple[RankMove, ...]
    new_leaders: tuple[Standing, ...]
    citation: str | None
    old: Page = attrs.field(repr=False, eq=False)
    new: Page = attrs.field(repr=False, eq=False)

    def describe(self) -> str:
        """The change as lines of text for people (a chat message, a terminal)."""
        lines = [
            f"{self.query!r}: new data as of {_when(self.new_as_of)} "
            f"(was {_when(self.old_as_of)}): {len(self.moves)} moved, "
            f"{len(self.entered)} entered, {len(self.left)} left"
        ]
        lines += [
            f"  new #1 in {s.ranking}: {s.label} ({format_score(s.score)})"
            for s in self.new_leaders
        ]
        lines += [
            f"  entered {s.ranking}: #{s.rank} {s.label} ({format_score(s.score)})"
            for s in self.entered
        ]
        lines += [f"  left {s.ranking}: {s.label} (was #{s.rank})" for s in self.left]
        climbed_or_fell = [move for move in self.moves if move.places]
        for move in climbed_or_fell:
            name = move.display_name or move.model
            if move.variant:
                name = f"{name} [{move.variant}]"
            delta = move.score_change
            shift = "" if delta is None or delta == 0 else f", {delta:+.3g}"
            lines.append(
                f"  {move.ranking}: {name} #{move.old_rank} -> #{move.new_rank} "
                f"({format_score(move.old_score)} -> {format_score(move.new_score)}{shift})"
            )
        if score_only := len(self.moves) - len(climbed_or_fell):
            lines.append(f"  {score_only} more kept their rank with a new score")
        if self.citation:
            lines.append(f"  source: {self.citation}")
        # Names and citations are the server's: each line is made safe for a terminal.
        return "\n".join(map(printable, lines)) + "\n"

    def to_json(self) -> dict[str, Any]:
        """The change as JSON-ready data (the pages left out)."""
        return {
            "query": self.query.params,
            "old_as_of": self.old_as_of.isoformat(),
            "new_as_of": self.new_as_of.isoformat(),
            "new_leaders": [attrs.asdict(s) for s in self.new_leaders],
            "entered": [attrs.asdict(s) for s in self.entered],
            "left": [attrs.asdict(s) for s in self.left],
            "moves": [attrs.asdict(m) for m in self.moves],
            "citation": self.citation,
        }


def _when(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def _place(item: Item, query: Query) -> tuple[str, str | None, str | None, float | None]:
    """Ranking, model id, variant and score of an item (model id None: not rankable)."""
    return (
        ranking_name(item, query),
        item.model_permaslug,
        ranking_variant(item),
        ranking_score(item, query),
    )


def standings(page: Page) -> dict[tuple[str, str, str | None], Standing]:
    """Every rankable item of a page by (ranking, model, variant), with its place."""
    ranked: dict[tuple[str, str, str | None], Standing] = {}
    places: dict[str, int] = {}
    for item in page.items:
        ranking, model, variant, score = _place(item, page.query)
        if model is None:
            continue
        key = (ranking, model, variant)
        if key in ranked:
            continue
        places[ranking] = rank = places.get(ranking, 0) + 1
        ranked[key] = Standing(
            ranking=ranking,
            model=model,
            display_name=getattr(item, "display_name", None),
            rank=rank,
            score=score,
            variant=variant,
        )
    return ranked


def diff_snapshots(old: Page, new: Page) -> SnapshotChange:
    """What changed from ``old`` to ``new``, two pages of the same query."""
    before = standings(old)
    after = standings(new)
    entered = sorted(
        (s for key, s in after.items() if key not in before), key=lambda s: (s.ranking, s.rank)
    )
    left = sorted(
        (s for key, s in before.items() if key not in after), key=lambda s: (s.ranking, s.rank)
    )
    moves = [
        RankMove(
            ranking=now.ranking,
            model=now.model,
            display_name=now.display_name,
            variant=now.variant,
            old_rank=was.rank,
            new_rank=now.rank,
            old_score=was.score,
            new_score=now.score,
        )
        for key, now in after.items()
        if (was := before.get(key)) is not None and (was.rank, was.score) != (now.rank, now.score)
    ]
    moves.sort(key=lambda move: (move.ranking, move.new_rank))
    old_leaders = {s.ranking: s for s in before.values() if s.rank == 1}
    new_leaders = tuple(
        s
        for s in sorted(after.values(), key=lambda s: s.ranking)
        if s.rank == 1
        and (
            (was := old_leaders.get(s.ranking)) is None
            or (was.model, was.variant) != (s.model, s.variant)
        )
    )
    return SnapshotChange(
        query=new.query,
        old_as_of=old.as_of,
        new_as_of=new.as_of,
        entered=tuple(entered),
        left=tuple(left),
        moves=tuple(moves),
        new_leaders=new_leaders,
        citation=new.meta.citation,
        old=old,
        new=new,
    )


def _keeps_watching(error: OpenRouterBenchError) -> bool:
    """Failures worth waiting out: the next poll may well succeed.

    A malformed answer is one of them: a watch runs for days, and one bad
    answer (a proxy's, or a timestamp out of range) must not end it.
    """
    return is_transient(error) or isinstance(
        error, RateLimitError | QuotaExhaustedError | ResponseFormatError
    )


async def watch_query(
    fetch: Callable[[bool], Awaitable[Page]],
    *,
    every: float,
    sleep: Callable[[float], Awaitable[None]],
    polls: int | None = None,
    on_unchanged: Callable[[int, Page], None] | None = None,
) -> AsyncGenerator[SnapshotChange, None]:
    """Poll ``fetch(refresh)`` every ``every`` seconds; yield a change when ``as_of`` moves.

    The first poll (``refresh=False``: a cached page will do) is the
    baseline; later polls refresh past the cache. A failed poll that may
    succeed later (transient, rate limit, quota, a malformed answer) is logged
    and the watch goes on; any other error ends it. A stale page (a failed
    refresh the cache masked) is no news: ``on_unchanged(poll, page)`` hears of
    each poll that brought none (polls counted from 1 after the baseline).
    ``polls`` ends the watch after that many polls past the baseline; None
    polls for ever.
    """
    baseline = await fetch(False)
    poll = 0
    while polls is None or poll < polls:
        await sleep(every)
        poll += 1
        try:
            page = await fetch(True)
        except OpenRouterBenchError as error:
            if not _keeps_watching(error):
                raise
            logger.warning(
                "watch %r: poll failed (%s); next poll in %g s", baseline.query, error, every
            )
            continue
        if page.stale or page.as_of == baseline.as_of:
            if on_unchanged is not None:
                on_unchanged(poll, page)
            continue
        change = diff_snapshots(baseline, page)
        baseline = page
        yield change
