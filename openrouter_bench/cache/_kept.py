"""The kept history of a query: which snapshots outlive ``retain``, and which go first.

With ``CachePolicy.history_bytes`` set, every snapshot a query's cache has
seen is kept past ``retain``, oldest dropped first once the query's kept
snapshots number more than ``history`` or weigh more than ``history_bytes``;
the newest is never dropped. Which ones are kept is written in an **index**,
an entry of its own (``{prefix}history:{query.key}``) apart from the pointer:
a hit reads the pointer, and a thousand ``as_of`` in it would be read on
every hit. The index is read only when a fetch stores a snapshot and when
the history is asked for.

As bytes it is ``{"format": 2, "kind": "history", "key": query.key,
"snapshots": [[as_of, weight], ...]}``, newest first. At the largest count
(1,000) with the longest canonical ``as_of`` and weight it stays under
:data:`MAX_INDEX_BYTES` (about 46 KiB), so it is read, like a pointer, only
that far. Like every stored value it is untrusted: one that fails a check
raises :class:`~openrouter_bench.cache._codec.UnreadableEntry` and the
history reads as starting again from the pointer's snapshot.

With ``CachePolicy.history_store_bytes`` set, a store that can count its
own size (SQLite) is held to it as a whole: :func:`store_evictions` orders
the kept pages that may go, the oldest ``as_of`` first across queries and
never a query's newest. An index may then name a page the store
dropped; the history leaves it out, as any page that is gone.
"""

from __future__ import annotations

from typing import Final

import attrs
import orjson

from openrouter_bench.cache._codec import FORMAT, UnreadableEntry, _as_of, _envelope, _shown
from openrouter_bench.cache._lru import footprint
from openrouter_bench.models import Page
from openrouter_bench.query import Query

__all__ = [
    "MAX_INDEX_BYTES",
    "HistoryIndex",
    "pack_index",
    "store_evictions",
    "unpack_index",
    "weight_of",
]

#: The largest stored index decoded at all (the pointer's cap: 1,000 snapshots fit in it).
MAX_INDEX_BYTES: Final = 64 * 1024
#: The heaviest weight an index may name (a policy cannot bound more than this).
_MAX_WEIGHT: Final = 2**40


def weight_of(page: Page) -> int:
    """What ``page`` counts against ``history_bytes``: what the memory backend weighs it at.

    About twice its body (see :mod:`~openrouter_bench.cache._lru`), whatever
    backend holds it: one figure for every backend, known before any encoding.
    """
    return footprint(page)[1]


@attrs.frozen
class HistoryIndex:
    """The kept snapshots of one query, newest first: ``(as_of, weight)`` pairs."""

    snapshots: tuple[tuple[str, int], ...]

    @property
    def as_ofs(self) -> tuple[str, ...]:
        """The kept ``as_of``, newest first."""
        return tuple(as_of for as_of, _ in self.snapshots)

    def with_newest(
        self, as_of: str, weight: int, *, count: int, max_bytes: int
    ) -> tuple[HistoryIndex, tuple[str, ...]]:
        """This index with ``as_of`` as its newest snapshot, and the ``as_of`` it drops.

        The oldest go first until at most ``count`` remain weighing at most
        ``max_bytes`` together; the newest stays whatever it weighs.
        """
        kept = [(as_of, weight), *(entry for entry in self.snapshots if entry[0] != as_of)]
        total = sum(entry[1] for entry in kept)
        dropped: list[str] = []
        while len(kept) > 1 and (len(kept) > count or total > max_bytes):
            old, old_weight = kept.pop()
            total -= old_weight
            dropped.append(old)
        return HistoryIndex(tuple(kept)), tuple(dropped)


def pack_index(query: Query, index: HistoryIndex) -> bytes:
    """An index as JSON bytes."""
    return orjson.dumps(
        {
            "format": FORMAT,
            "kind": "history",
            "key": query.key,
            "snapshots": [list(entry) for entry in index.snapshots],
        }
    )


def _weight(value: object) -> int:
    if type(value) is not int or not 0 <= value <= _MAX_WEIGHT:
        raise UnreadableEntry(
            f"a history index naming a weight that does not read: {_shown(value)}"
        )
    return value


def unpack_index(raw: object, query: Query, *, count: int) -> HistoryIndex:
    """The index in ``raw``; :class:`UnreadableEntry` if it is not one of ``query``'s.

    At most ``count`` snapshots of it are read, however many it lists.
    """
    if isinstance(raw, bytes | str) and len(raw) > MAX_INDEX_BYTES:
        raise UnreadableEntry(f"a history index of {len(raw)} bytes, over {MAX_INDEX_BYTES}")
    document = _envelope(raw, query.key, "history")
    listed = document.get("snapshots")
    if not isinstance(listed, list) or not listed:
        raise UnreadableEntry("a history index without snapshots")
    snapshots: dict[str, int] = {}
    for entry in listed[:count]:
        if not isinstance(entry, list) or len(entry) != 2:
            raise UnreadableEntry(f"a history index entry that does not read: {_shown(entry)}")
        snapshots.setdefault(_as_of(entry[0]), _weight(entry[1]))
    return HistoryIndex(tuple(snapshots.items()))


def store_evictions(keys: list[object], prefix: str, spared: frozenset[str]) -> list[str]:
    """Which of the kept pages' ``keys`` may go to make room in the store, oldest first.

    ``keys`` are every page key under ``prefix`` (``{namespace}:v{format}:page:``),
    as the store lists them: untrusted. A key is ``prefix + query.key + ":" + as_of``
    (a query's key is URL-encoded: it holds no ``:``); the latest ``as_of`` of each
    query is its newest snapshot and is never named, nor a key in ``spared`` (the
    pages being written). A key not laid out so goes first, then the oldest ``as_of``
    whatever its query.
    """
    listed: list[tuple[str, str, str]] = []
    newest: dict[str, str] = {}
    for key in keys:
        if not isinstance(key, str) or not key.startswith(prefix) or key in spared:
            continue
        query, colon, as_of = key[len(prefix) :].partition(":")
        if colon and as_of and query:
            if as_of > newest.get(query, ""):
                newest[query] = as_of
        else:
            query, as_of = "", ""
        listed.append((as_of, key, query))
    return [key for as_of, key, query in sorted(listed) if not query or newest[query] != as_of]
