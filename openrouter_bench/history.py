"""A history of standings: a model's rank and score over time, and the changes between snapshots.

The client's cache keeps the snapshots it has seen of each query (``CachePolicy.history``
of them; with ``CachePolicy.history_bytes`` set, past ``retain`` too, which the command
line does by default). A :class:`SnapshotHistory` reads them, sending nothing, and answers
from them:

- :meth:`SnapshotHistory.standing`: one model's rank and score in every snapshot, one
  :class:`StandingSeries` per ranking the model stands in (a page can hold several: an
  arena without a category holds one per category, Artificial Analysis one per index);
- :meth:`SnapshotHistory.changes`: what changed between any two snapshots, as
  :func:`~openrouter_bench.watch.diff_snapshots` tells it.

Snapshots are numbered from 1, the oldest kept, to the newest (``-1`` also names the
newest); either may be named by its ``as_of`` instead. A rank is the model's place in its
ranking in the server's order, as :func:`~openrouter_bench.watch.standings` reads it, so a
series and a change agree. A model's name resolves as the catalog resolves it
(:meth:`~openrouter_bench.answers.Catalog.resolve`), over every model of every snapshot.

**Layers.** Like the answers, this module is built on the client (its ``history``) and the
client does not offer it as a method, which would make the client import it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import attrs

from openrouter_bench._names import ModelNames
from openrouter_bench.client import BenchmarksClient
from openrouter_bench.errors import InvalidQueryError, UnknownModelError
from openrouter_bench.models import Page
from openrouter_bench.query import Query
from openrouter_bench.watch import SnapshotChange, Standing, diff_snapshots, standings

__all__ = ["SnapshotHistory", "StandingPoint", "StandingSeries"]


@attrs.frozen
class StandingPoint:
    """A model's place in one ranking of one snapshot.

    ``snapshot`` numbers the snapshot (1: the oldest kept); ``rank`` counts from 1 among
    ``entries`` rows of that ranking, None (and ``score`` None) when the model was not in
    it then.
    """

    snapshot: int
    as_of: datetime
    rank: int | None
    entries: int
    score: float | None


@attrs.frozen
class StandingSeries:
    """One model's rank and score over time in one ranking, oldest first.

    ``variant`` tells apart the rows one model has in a search eval (else None);
    ``citation`` is the attribution to show when republishing (the newest snapshot's).
    """

    model: str
    display_name: str | None
    ranking: str
    variant: str | None
    points: tuple[StandingPoint, ...]
    citation: str | None

    @property
    def scores(self) -> tuple[float | None, ...]:
        """The score in each snapshot, oldest first (None where the model was not ranked)."""
        return tuple(point.score for point in self.points)

    @property
    def label(self) -> str:
        """The model's name for people, with its variant."""
        name = self.display_name or self.model
        return f"{name} [{self.variant}]" if self.variant else name


class SnapshotHistory:
    """The stored snapshots of one query, oldest first, and what they tell over time.

    Build one with :meth:`load` (from a client's cache) or from pages of one query;
    it is immutable.
    """

    def __init__(self, query: Query, pages: Sequence[Page]) -> None:
        if not isinstance(query, Query):
            raise InvalidQueryError(f"expected a Query, got {type(query).__name__}")
        foreign = [page for page in pages if page.query != query]
        if foreign:
            raise InvalidQueryError(
                f"a page of {foreign[0].query!r} is not a snapshot of {query!r}",
                parameter="pages",
            )
        self.query = query
        # One page per as_of, oldest first (a list from the cache is newest first).
        by_as_of = {page.as_of: page for page in sorted(pages, key=lambda page: page.as_of)}
        self.snapshots: tuple[Page, ...] = tuple(by_as_of.values())
        # A model is in most snapshots under the same names: learn each pair of names once.
        named = {
            (item.model_permaslug, item.display_name): item for page in pages for item in page.items
        }
        self._names = ModelNames(named.values())

    def __repr__(self) -> str:
        return f"<SnapshotHistory {self.query!r}: {len(self.snapshots)} snapshots>"

    def __len__(self) -> int:
        return len(self.snapshots)

    @classmethod
    async def load(
        cls, client: BenchmarksClient, query: Query | None = None, /, **params: Any
    ) -> SnapshotHistory:
        """The snapshots ``client``'s cache holds of a query (a Query, or its parameters).

        Sends nothing: what the cache has kept is what there is. Fetch the query
        first (``client.get``) to have the current snapshot among them.
        """
        wanted = query if query is not None else Query(**params)
        return cls(wanted, await client.history(wanted))

    def resolve(self, name: str) -> str:
        """The model id a person means by ``name``, among the models of every snapshot."""
        if not self.snapshots:
            raise UnknownModelError(
                f"no snapshot of {self.query!r} is stored, so no model goes by {name!r} in it "
                "yet (fetch it first)",
                name=str(name),
            )
        return self._names.resolve(name)

    def standing(self, name: str) -> tuple[StandingSeries, ...]:
        """The rank and score over time of the model ``name`` means, one series per ranking.

        Raises :class:`~openrouter_bench.errors.UnknownModelError` (with the closest
        names) or :class:`~openrouter_bench.errors.AmbiguousModelError`.
        """
        model = self.resolve(name)
        places: dict[tuple[str, str | None], list[Standing | None]] = {}
        entries: list[dict[str, int]] = []
        for position, held in enumerate(map(standings, self.snapshots)):
            counted: dict[str, int] = {}
            for ranking, _, _ in held:
                counted[ranking] = counted.get(ranking, 0) + 1
            entries.append(counted)
            for (ranking, who, variant), standing in held.items():
                if who == model:
                    row = places.setdefault((ranking, variant), [None] * len(self.snapshots))
                    row[position] = standing
        citation = self.snapshots[-1].meta.citation
        return tuple(
            StandingSeries(
                model=model,
                display_name=next((s.display_name for s in reversed(row) if s), None),
                ranking=ranking,
                variant=variant,
                points=tuple(
                    StandingPoint(
                        snapshot=position + 1,
                        as_of=page.as_of,
                        rank=None if standing is None else standing.rank,
                        entries=entries[position].get(ranking, 0),
                        score=None if standing is None else standing.score,
                    )
                    for position, (page, standing) in enumerate(
                        zip(self.snapshots, row, strict=True)
                    )
                ),
                citation=citation,
            )
            for (ranking, variant), row in places.items()
        )

    def snapshot(self, which: int | str | datetime) -> Page:
        """One snapshot: by number (1 the oldest kept, -1 the newest) or by its ``as_of``."""
        count = len(self.snapshots)
        if isinstance(which, int) and not isinstance(which, bool):
            if 1 <= which <= count:
                return self.snapshots[which - 1]
            if -count <= which <= -1:
                return self.snapshots[which]
        elif isinstance(which, str | datetime):
            moment = which if isinstance(which, datetime) else _moment(which)
            for page in self.snapshots:
                if moment is not None and page.as_of == moment:
                    return page
        kept = ", ".join(page.as_of.isoformat() for page in self.snapshots[-3:])
        raise InvalidQueryError(
            f"no snapshot {which!r} of {self.query!r}: "
            + (f"1 to {count} are kept (newest as of {kept})" if count else "none is stored"),
            parameter="snapshot",
        )

    def changes(self, old: int | str | datetime, new: int | str | datetime) -> SnapshotChange:
        """What changed from snapshot ``old`` to snapshot ``new`` (numbers or ``as_of``)."""
        return diff_snapshots(self.snapshot(old), self.snapshot(new))


def _moment(text: str) -> datetime | None:
    """An ``as_of`` as typed (ISO 8601, ``Z`` or an offset), or None if it is not one."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None
