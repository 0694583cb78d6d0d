"""Decoded pages in this process, in front of a shared backend (Redis, memcached, SQLite).

A page never changes for a given query and ``as_of``, so a page decoded once
can answer every later hit whose pointer names that same ``as_of``: the hit
then reads only the small pointer from the backend (which stays the judge of
freshness and of which ``as_of`` is current) and decodes nothing. The layer
keeps one page per query, the newest it has seen, and hands it out only for
the exact (``query.key``, ``as_of``) it was stored under; a page is only
stored under the ``as_of`` its own ``meta.as_of`` says. It is a
:class:`~openrouter_bench.cache._lru.BoundedMemoryCache`, so it is bounded in
entries and in bytes, with the same weighing of a page as the memory cache.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from openrouter_bench.cache._codec import as_of_text
from openrouter_bench.cache._lru import BoundedMemoryCache, footprint
from openrouter_bench.models import Page
from openrouter_bench.query import Query

__all__ = ["NearPages"]


class _Held:
    """One query's newest decoded page, and the copy last handed out (a hit's answer)."""

    __slots__ = ("as_of", "page", "served", "served_at")

    def __init__(self, as_of: str, page: Page) -> None:
        self.as_of = as_of
        self.page = page
        self.served: Page | None = None
        self.served_at: float | None = None


def _weigh(value: Any) -> tuple[object | None, int]:
    # The memory cache's answer to what a page weighs; the served copy shares its items.
    return footprint(value.page if isinstance(value, _Held) else value)


class NearPages:
    """At most ``max_bytes`` of decoded pages (and ``max_entries`` queries); see the module."""

    def __init__(self, max_bytes: int, max_entries: int) -> None:
        self._pages = BoundedMemoryCache(max_entries, max_bytes=max_bytes, weigh=_weigh)
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._pages)

    @property
    def accounted_bytes(self) -> int:
        """What the pages held weigh together, as counted against the budget."""
        return self._pages.accounted_bytes

    def as_of(self, query: Query) -> str | None:
        """The ``as_of`` of the page held for ``query``, if any (not counted as a lookup)."""
        held = self._pages.lookup(query.key)
        return None if held is None else held.as_of

    def served(
        self, query: Query, as_of: str, fetched_at: float, copy: Callable[[Page, float], Page]
    ) -> Page | None:
        """``query``'s page at ``as_of`` as a hit hands it out: ``copy(page, fetched_at)``.

        The copy is made once per confirmation (``fetched_at``), not once per hit.
        """
        held: _Held | None = self._pages.lookup(query.key)
        if held is None or held.as_of != as_of:
            self.misses += 1
            return None
        self.hits += 1
        if held.served is None or held.served_at != fetched_at:
            held.served = copy(held.page, fetched_at)
            held.served_at = fetched_at
        return held.served

    def keep(self, query: Query, as_of: str, page: Page) -> None:
        """Hold ``page`` as ``query``'s at ``as_of``; a page of another ``as_of`` is not held."""
        if as_of_text(page.meta.as_of) != as_of or page.query != query:
            return
        self._pages.store(query.key, _Held(as_of, page))
