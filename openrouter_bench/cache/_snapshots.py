"""The snapshot rules: fresh, stale, history, single-flight, leases; over any entries.

The endpoint's data changes rarely and says when (``meta.as_of``), while its
quota is scarce (30 requests a minute, 500 a day). So the cache keeps
**snapshots**, not responses:

- a **page** is stored under (namespace, format, canonical query, ``as_of``)
  and never changes: same data, same ``as_of``;
- a **pointer** names a query's newest ``as_of`` and when this cache last
  confirmed it (``fetched_at``); it is fresh for ``ttl`` seconds. A fresh
  pointer whose page is stored is a hit: no request.
- when the pointer is older, the page is fetched again: an unchanged
  ``as_of`` keeps the stored page and only moves the pointer; a new one
  stores a new page and keeps the previous ones (``history`` of them);
- with ``history_bytes`` set, the snapshots are kept past ``retain``: an
  index of their own (:mod:`~openrouter_bench.cache._kept`) names them, and
  drops the oldest once there are too many or they weigh too much;
- if that fetch fails with a transient error, a rate limit or an exhausted
  quota, the last page is served flagged ``stale`` for ``stale_if_error``
  seconds after it was last confirmed;
- identical concurrent calls share one backend read and one fetch (in this
  process), and with Redis a short lease, renewed while its holder fetches,
  keeps several processes from fetching one query at once;
- a broken backend (down, slow, refusing writes) never fails a call: the
  cache steps aside, logs once, and comes back with the backend. One entry
  a backend cannot hold (over its value size, or a key it refuses) is served
  and not kept, and is no outage: the other queries keep their cache.

Nothing derived from the API key is stored or used in a key: the cache never
sees it. Keys are ``{namespace}:v{format}:{kind}:{query.key}[:{as_of}]``.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Final, TypeVar, cast

import attrs
from aiocache.base import BaseCache

from openrouter_bench import _redis
from openrouter_bench._redis import OutageBreaker
from openrouter_bench._text import plural, untrusted_text
from openrouter_bench.cache._codec import Pointer, as_of_text
from openrouter_bench.cache._entries import BACKEND_DEADLINE, Entries, cannot_store, entries_for
from openrouter_bench.cache._kept import HistoryIndex, weight_of
from openrouter_bench.cache._keys import EntryKeys
from openrouter_bench.cache._leases import LEASE_POLL, Lease, RedisLeases
from openrouter_bench.cache._lru import BoundedMemoryCache
from openrouter_bench.cache._near import NearPages
from openrouter_bench.cache._policy import CachePolicy, CacheStats
from openrouter_bench.cache._singleflight import SingleFlight
from openrouter_bench.errors import (
    ClientClosedError,
    ConfigurationError,
    QuotaExhaustedError,
    RateLimitError,
    is_transient,
)
from openrouter_bench.hooks import CacheOutcome
from openrouter_bench.models import Page
from openrouter_bench.query import Query

__all__ = ["PageSource", "SnapshotCache", "cached_copy", "stale_may_answer"]

_T = TypeVar("_T")
_F = TypeVar("_F")

#: What reading the kept history's index gives when the backend could not be asked.
_UNREAD: Final = object()

# One logger for the whole cache, named as its package: the logging reference names it.
_LOGGER: Final = logging.getLogger("openrouter_bench.cache")


def cached_copy(page: Page, fetched_at: float) -> Page:
    """``page`` as the cache hands it out: from the cache, as of the pointer's confirmation."""
    return attrs.evolve(
        page, from_cache=True, stale=False, fetched_at=datetime.fromtimestamp(fetched_at, UTC)
    )


class PageSource(enum.Enum):
    """Where a call's page came from."""

    CACHE = "a fresh snapshot"
    UPSTREAM = "this process's fetch"
    PEER = "another process's fetch (it held the lease)"
    STALE = "an older snapshot, standing in for a failed fetch"


def stale_may_answer(error: BaseException) -> bool:
    """True for failures a stale snapshot may stand in for."""
    return is_transient(error) or isinstance(error, RateLimitError | QuotaExhaustedError)


class SnapshotCache:
    """Snapshots of the endpoint's pages over any aiocache backend; see the module docstring.

    ``backend`` is an aiocache ``BaseCache`` instance (None: no cache, but
    identical concurrent calls still share one fetch). ``namespace`` prefixes
    every key; the client makes it from the base URL's host so two services
    never mix. ``clock`` is wall time in seconds, used for freshness.
    ``on_event`` is told how each call was answered ("hit", "miss",
    "coalesced" or "stale"; the client's hooks). ``owns_backend``: the cache
    closes the backend in :meth:`close` (set by :func:`open_cache` for a
    backend it built from a URL).
    """

    def __init__(
        self,
        backend: BaseCache | None,
        *,
        namespace: str,
        policy: CachePolicy = CachePolicy(),  # frozen: one shared default is safe
        clock: Callable[[], float] = time.time,
        logger: logging.Logger | None = None,
        on_event: Callable[[Query, CacheOutcome], None] | None = None,
        owns_backend: bool = False,
    ) -> None:
        if not namespace:
            raise ConfigurationError("the cache namespace must not be empty")
        self.namespace = namespace
        self.policy = policy
        self.backend = backend
        self._clock = clock
        self._logger = logger if logger is not None else _LOGGER
        self._keys = EntryKeys(namespace)
        self._entries: Entries | None = None
        self._memory: BoundedMemoryCache | None = None
        self._leases: RedisLeases | None = None
        self._near: NearPages | None = None
        # Queries whose pointer a caller is reading in its own task (see _near_hit).
        self._near_reads: set[Query] = set()
        if backend is not None:
            self._entries = entries_for(
                backend,
                self._keys,
                policy.retain,
                self._logger,
                clock=clock,
                history=policy.history,
                keep_history=policy.keeps_history,
                store_bytes=policy.history_store_bytes,
            )
            self._memory = self._entries.memory
            if self._entries.redis_client is not None:
                self._leases = RedisLeases(self._entries.redis_client, backend, self._logger)
            if not self._entries.holds_objects and policy.near_bytes:
                self._near = NearPages(policy.near_bytes, policy.max_entries)
        self._owns_backend = owns_backend
        self._flights: SingleFlight[tuple[Page, PageSource]] = SingleFlight()
        self._closed = False
        self._breaker = OutageBreaker(clock)
        self._hits = 0
        self._misses = 0
        self._stale_serves = 0
        self._coalesced = 0
        self._fetches = 0
        self._backend_errors = 0
        self._not_stored = 0
        # Told how each call was answered: "hit", "miss", "coalesced" or "stale" (client hooks).
        self._on_event = on_event

    def __repr__(self) -> str:
        backend = "no backend" if self.backend is None else type(self.backend).__name__
        return f"<SnapshotCache {self.namespace!r} over {backend}>"

    @property
    def redis_client(self) -> Any:
        """The redis-py client of the Redis backend this cache runs on, or None for others.

        The client hands it to the quota, so that a policy with ``store=None``
        shares its budget on the cache's Redis server. The cache still owns it:
        closing the cache closes it when the cache opened the backend.
        """
        return None if self._entries is None else self._entries.redis_client

    @property
    def stats(self) -> CacheStats:
        """A snapshot of the counters."""
        return CacheStats(
            hits=self._hits,
            misses=self._misses,
            stale_serves=self._stale_serves,
            coalesced=self._coalesced,
            fetches=self._fetches,
            backend_errors=self._backend_errors,
            not_stored=self._not_stored,
            near_hits=0 if self._near is None else self._near.hits,
            near_misses=0 if self._near is None else self._near.misses,
        )

    async def get(
        self,
        query: Query,
        fetch: Callable[[], Awaitable[Page]],
        *,
        max_age: float | None = None,
        refresh: bool = False,
        deadline: float | None = None,
    ) -> Page:
        """The page for ``query``: from the cache while fresh, else from ``fetch()``.

        ``max_age`` replaces the policy's ``ttl`` for this call; ``refresh``
        skips the cache (the call still shares a fetch already under way).
        ``fetch`` raises a typed error on failure; it reaches the caller unless
        a stale snapshot may stand in for it. ``deadline`` is the seconds the
        whole call may take (the client passes its retry deadline, and counts
        the time spent here against it): waiting for another process's fetch
        takes at most half of it, whatever the lease in the backend says.
        """
        if self._closed:
            raise ClientClosedError("this snapshot cache is closed")
        memory = self._memory
        if memory is not None and not refresh:
            pointer = memory.lookup(self._keys.pointer(query))
            # A backend shared with other code may hold anything under our key: not ours, a miss.
            if (
                isinstance(pointer, Pointer)
                and pointer.page is not None
                and self._clock() - pointer.fetched_at
                < (self.policy.ttl if max_age is None else max_age)
            ):
                self._hits += 1
                if self._on_event is not None:
                    self._on_event(query, "hit")
                return pointer.page
        near = self._near
        if near is not None and not refresh and query not in self._near_reads:
            held = near.as_of(query)
            if held is not None:
                page = await self._near_hit(query, held, max_age)
                if page is not None:
                    return page
        until = None if deadline is None else asyncio.get_running_loop().time() + deadline
        # Identical concurrent calls share the backend reads as well as the fetch:
        # a burst of 100 gets costs one pointer read, not 100 connections' worth.
        # (Here rather than in a coroutine of its own: each caller of a burst pays for it.)
        # The flight joined by hand (SingleFlight.run's steps): one coroutine less per caller.
        flights = self._flights
        key = (query, max_age, refresh)
        flight, waiter, joined = flights.join(
            key, lambda: self._load(query, fetch, max_age, refresh, until)
        )
        try:
            await waiter
        except asyncio.CancelledError:
            flights.leave(key, flight)
            raise
        page, source = flights.outcome(flight)
        outcome: CacheOutcome
        if source is PageSource.CACHE:
            self._hits += 1
            outcome = "hit"
        else:
            self._misses += 1
            outcome = "miss"
            if joined or source is PageSource.PEER:
                self._coalesced += 1
                outcome = "coalesced"
            if source is PageSource.STALE:
                self._stale_serves += 1
                outcome = "stale"
        if self._on_event is not None:
            self._on_event(query, outcome)
        return page

    async def _near_hit(self, query: Query, held: str, max_age: float | None) -> Page | None:
        """The hit of a query whose page the near cache holds (``held``); None: no such hit.

        The pointer is read in the caller's own task: a single-flight task would cost
        more than the read. Callers of the query that arrive while it is under way take
        the single-flight road, so a burst still costs at most two pointer reads. Anything
        but a fresh pointer naming the held page (stale, moved on, missing, unreadable, a
        failing backend) is no hit here, and the call goes the usual way, which reads
        the pointer again: once per refresh, next to a fetch.
        """
        entries = cast(Entries, self._entries)  # a near cache is only made over entries
        reads = self._near_reads
        reads.add(query)
        try:
            pointer = await self._through_breaker(lambda: entries.read_pointer(query), None)
        finally:
            reads.discard(query)
        if (
            pointer is None
            or pointer.as_of != held
            or self._clock() - pointer.fetched_at
            >= (self.policy.ttl if max_age is None else max_age)
        ):
            return None
        page = cast(NearPages, self._near).served(
            query, pointer.as_of, pointer.fetched_at, cached_copy
        )
        if page is not None:
            self._hits += 1
            if self._on_event is not None:
                self._on_event(query, "hit")
        return page

    async def _load(
        self,
        query: Query,
        fetch: Callable[[], Awaitable[Page]],
        max_age: float | None,
        refresh: bool,
        until: float | None,
    ) -> tuple[Page, PageSource]:
        entries = self._entries
        pointer = None
        if entries is not None:
            if refresh:
                pointer = await self._through_breaker(lambda: entries.read_pointer(query), None)
                read = None
            else:
                # The page comes with the pointer where the backend can (one round trip),
                # unless it is the one the near cache holds.
                near = self._near
                held = None if near is None else near.as_of(query)
                pointer, read = await self._through_breaker(
                    lambda: entries.read_current(query, held), (None, None)
                )
            ttl = self.policy.ttl if max_age is None else max_age
            if pointer is not None and not refresh and self._clock() - pointer.fetched_at < ttl:
                page = await self._read_as_cached(query, pointer, read)
                if page is not None:
                    return page, PageSource.CACHE
        return await self._refresh(query, fetch, pointer, until)

    async def history(self, query: Query) -> list[Page]:
        """Every stored snapshot of ``query``, newest first (no fetch).

        With ``history_bytes`` set, the kept history's snapshots are listed even
        once the pointer has expired; a snapshot that does not read is left out.
        """
        entries = self._entries
        if self._closed:
            raise ClientClosedError("this snapshot cache is closed")
        if entries is None:
            return []
        pointer = await self._through_breaker(lambda: entries.read_pointer(query), None)
        listed = () if pointer is None else pointer.history
        if self.policy.keeps_history:
            index = await self._read_index(entries, query)
            if index is not None:
                kept = index.as_ofs
                # The pointer's snapshot is the newest, even if a write of the index was lost.
                listed = tuple(dict.fromkeys((*listed[:1], *kept)))
        pages: list[Page] = []
        for as_of in listed:
            page = await self._through_breaker(
                functools.partial(entries.read_page, query, as_of), None
            )
            if page is None:
                continue
            if pointer is not None and as_of == pointer.as_of:
                pages.append(cached_copy(page, pointer.fetched_at))
            else:
                pages.append(page.served(from_cache=True))
        return pages

    async def _read_index(self, entries: Entries, query: Query) -> HistoryIndex | None:
        read = functools.partial(entries.read_index, query, self.policy.history)
        return await self._through_breaker(read, None)

    async def _kept(
        self, entries: Entries, query: Query, as_of: str, page: Page, previous: Pointer | None
    ) -> tuple[HistoryIndex | None, tuple[str, ...]]:
        """The kept history with ``as_of`` newest (None: unchanged), and the ``as_of`` it drops.

        An index that is missing or does not read starts again from the previous
        snapshot (weighed as this one: its own weight is not known) and this one. One
        that could not be read (the backend failed) is left as it is: writing a new one
        would lose every snapshot it names.
        """
        weight = weight_of(page)
        read = functools.partial(entries.read_index, query, self.policy.history)
        index = await self._through_breaker(read, _UNREAD)
        if index is _UNREAD:
            return None, ()
        if not isinstance(index, HistoryIndex):
            seed = () if previous is None else ((previous.as_of, weight),)
            index = HistoryIndex(seed)
        if index.snapshots[:1] == ((as_of, weight),):
            return None, ()
        policy = self.policy
        return index.with_newest(
            as_of, weight, count=policy.history, max_bytes=policy.history_bytes
        )

    async def clear(self) -> int:
        """Remove every entry of this namespace; the number removed (0 if the backend cannot count).

        Each backend clears in its own way (Redis is scanned for the namespace's
        keys). memcached cannot list keys, and flushing it would drop other
        users' entries: there :class:`~openrouter_bench.errors.ConfigurationError`
        says so, and the entries expire by themselves.
        """
        entries = self._entries
        if entries is None:
            return 0
        return await entries.clear()

    async def stored(self) -> tuple[int, int] | None:
        """How many queries and snapshots this namespace holds; None if the backend cannot tell."""
        keys = await self._through_breaker(self._stored_keys, None)
        if keys is None:
            return None
        kinds = [key[len(self._keys.prefix) :].split(":", 1)[0] for key in keys]
        return kinds.count("pointer"), kinds.count("page")

    async def describe(self, *, counters: bool = True) -> str:
        """A few lines on the backend, the policy and (``counters``) this process's counts."""
        policy = self.policy
        stats = self.stats
        lines = [
            f"backend: {self._backend_name()}",
            f"namespace: {self.namespace}",
            f"ttl: {policy.ttl:g} s, stale-if-error: {policy.stale_if_error:g} s, "
            f"history: {policy.history}"
            + (
                f" kept past retain, up to {policy.history_bytes / 2**20:g} MiB per query"
                if policy.keeps_history
                else ""
            )
            + (
                f" and {policy.history_store_bytes / 2**20:g} MiB in the store"
                if policy.keeps_history
                and policy.history_store_bytes
                and self._entries is not None
                and self._entries.counts_store
                else ""
            ),
        ]
        if counters:
            lines.append(
                f"this run: {plural(stats.hits, 'hit')}, {plural(stats.misses, 'miss', 'misses')}, "
                f"{plural(stats.fetches, 'fetch', 'fetches')}, {stats.stale_serves} stale, "
                f"{stats.coalesced} coalesced, {plural(stats.backend_errors, 'backend error')}"
            )
        stored = await self.stored()
        if stored is not None:
            queries, snapshots = stored
            lines.append(
                f"stored: {plural(queries, 'query', 'queries')}, {plural(snapshots, 'snapshot')}"
            )
        if self._breaker.down:
            lines.append("backend state: unavailable")
        return "\n".join(lines) + "\n"

    async def _stored_keys(self) -> list[str] | None:
        """This namespace's keys in the backend, or None when the backend cannot list them."""
        entries = self._entries
        return [] if entries is None else await entries.stored_keys()

    def _backend_name(self) -> str:
        entries = self._entries
        return "none" if entries is None else entries.describe()

    async def close(self) -> None:
        """Cancel fetches under way and close the backend if this cache opened it. Idempotent."""
        if self._closed:
            return
        self._closed = True
        await self._flights.cancel_all()
        entries = self._entries
        if not self._owns_backend or entries is None:
            return
        try:
            async with asyncio.timeout(_redis.TIMEOUT):
                await entries.close()
        except Exception as error:  # noqa: BLE001  # closing is best effort: the caller moves on
            self._logger.debug("snapshot cache: closing the backend failed: %r", error)

    # The refresh path, run once per query at a time (single-flight).

    async def _refresh(
        self,
        query: Query,
        fetch: Callable[[], Awaitable[Page]],
        pointer: Pointer | None,
        until: float | None,
    ) -> tuple[Page, PageSource]:
        leases = self._leases
        if leases is None:
            return await self._fetch(query, fetch, pointer)
        lease_key = self._keys.lease(query)
        lease = await self._through_breaker(
            lambda: leases.acquire(lease_key, self.policy.lease_ttl), Lease.UNAVAILABLE
        )
        if lease is Lease.BUSY:
            outcome = await self._wait_for_holder(query, pointer, leases, lease_key, until)
            if isinstance(outcome, Page):
                return outcome, PageSource.PEER
            lease = outcome
            pointer = await self._moved_pointer(query, None) or pointer
        elif isinstance(lease, str):
            # Another process may have fetched and let go of the lease between this call's
            # pointer read and now: its page is as fresh as a fetch of our own would be.
            page = await self._moved_page(query, pointer)
            if page is not None:
                await leases.let_go(lease_key, lease)
                return page, PageSource.PEER
        if not isinstance(lease, str):
            return await self._fetch(query, fetch, pointer)
        renewal = asyncio.create_task(leases.hold(lease_key, lease, self.policy.lease_ttl))
        try:
            return await self._fetch(query, fetch, pointer)
        finally:
            renewal.cancel()
            # wait(), not await: the renewal's cancellation must not pass for this call's.
            await asyncio.wait([renewal])
            await leases.let_go(lease_key, lease)

    async def _wait_for_holder(
        self,
        query: Query,
        seen: Pointer | None,
        leases: RedisLeases,
        lease_key: str,
        until: float | None,
    ) -> Page | str | Lease:
        """What another process's fetch left: its page, or the lease once free, or give up.

        Returns the page when the pointer moved (someone confirmed the query
        after this call began); the lease token when the lease came free
        without that (its holder failed or died); ``Lease.UNAVAILABLE`` when
        the wait ran out (``lease_wait``, or half of what is left before
        ``until``), the backend went away, or the lease never expires (no
        holder of ours sets one like that: someone wrote it by hand).
        """
        loop = asyncio.get_running_loop()
        wait = self.policy.lease_wait
        if until is not None:
            # Half of what is left: a holder that never delivers must leave this call
            # time to fetch on its own within its deadline.
            wait = min(wait, max(0.0, until - loop.time()) / 2)
        deadline = loop.time() + wait
        expires = await self._through_breaker(lambda: leases.expires(lease_key), True)
        if not expires:
            self._logger.debug("snapshot cache: the lease %s never expires; not waiting", lease_key)
            return Lease.UNAVAILABLE
        while loop.time() < deadline:
            await asyncio.sleep(min(LEASE_POLL, max(0.0, deadline - loop.time())))
            page = await self._moved_page(query, seen)
            if page is not None:
                return page
            lease = await self._through_breaker(
                lambda: leases.acquire(lease_key, self.policy.lease_ttl), Lease.UNAVAILABLE
            )
            if isinstance(lease, str):
                # The holder may have stored its page and left between the two looks.
                page = await self._moved_page(query, seen)
                if page is None:
                    return lease
                await leases.let_go(lease_key, lease)
                return page
            if lease is Lease.UNAVAILABLE:
                return lease
        self._logger.debug("snapshot cache: gave up waiting for another process to fetch %r", query)
        return Lease.UNAVAILABLE

    async def _moved_pointer(self, query: Query, seen: Pointer | None) -> Pointer | None:
        """The query's pointer if it differs from ``seen`` (someone confirmed the query since)."""
        entries = self._entries
        if entries is None:
            return None
        current = await self._through_breaker(lambda: entries.read_pointer(query), None)
        return None if current is None or current == seen else current

    async def _moved_page(self, query: Query, seen: Pointer | None) -> Page | None:
        current = await self._moved_pointer(query, seen)
        return None if current is None else await self._read_as_cached(query, current)

    async def _fetch(
        self, query: Query, fetch: Callable[[], Awaitable[Page]], pointer: Pointer | None
    ) -> tuple[Page, PageSource]:
        self._fetches += 1
        try:
            page = await fetch()
        except Exception as error:
            stale = await self._stale_instead(query, pointer, error)
            if stale is None:
                raise
            return stale, PageSource.STALE
        await self._remember(query, page, pointer)
        return page, PageSource.UPSTREAM

    async def _stale_instead(
        self, query: Query, pointer: Pointer | None, error: Exception
    ) -> Page | None:
        if pointer is None or not stale_may_answer(error):
            return None
        age = self._clock() - pointer.fetched_at
        if age > self.policy.stale_if_error:
            return None
        page = await self._read_as_cached(query, pointer)
        if page is None:
            return None
        self._logger.warning(
            "serving a stale snapshot of %r (as_of %s, confirmed %.0f s ago): refresh failed: %s",
            query,
            pointer.as_of,
            age,
            error,
        )
        return page.served(from_cache=True, stale=True)

    async def _remember(self, query: Query, page: Page, previous: Pointer | None) -> None:
        entries = self._entries
        if entries is None:
            return
        now = self._clock()
        as_of = as_of_text(page.meta.as_of)
        if not entries.holds_objects:
            await self._remember_bytes(entries, query, page, as_of, previous, now)
            return
        index: HistoryIndex | None = None
        dropped: tuple[str, ...]
        if previous is not None and previous.as_of == as_of:
            stored = await self._through_breaker(
                functools.partial(entries.keep_page, query, as_of, page), page
            )
            history, dropped = previous.history, ()
        else:
            await self._through_breaker(
                functools.partial(entries.write_page, query, as_of, page), None
            )
            stored = page
            history, dropped = self._next_history(as_of, previous)
        if self.policy.keeps_history:
            index, dropped = await self._kept(entries, query, as_of, stored, previous)
        for old in dropped:
            await self._through_breaker(functools.partial(entries.delete_page, query, old), None)
        if index is not None:
            await self._through_breaker(functools.partial(entries.write_index, query, index), None)
        pointer = Pointer(
            as_of=as_of,
            fetched_at=now,
            history=history,
            page=cached_copy(stored, now) if entries.holds_objects else None,
        )
        await self._through_breaker(functools.partial(entries.write_pointer, query, pointer), None)

    async def _remember_bytes(
        self,
        entries: Entries,
        query: Query,
        page: Page,
        as_of: str,
        previous: Pointer | None,
        now: float,
    ) -> None:
        # Page, dropped pages and pointer in one backend call (one round trip where it can).
        keep = previous is not None and previous.as_of == as_of
        if previous is not None and keep:
            history = previous.history
            dropped: tuple[str, ...] = ()
        else:
            history, dropped = self._next_history(as_of, previous)
        index: HistoryIndex | None = None
        if self.policy.keeps_history:
            # One more read, on a fetch only: the index is not the pointer, which hits read.
            index, dropped = await self._kept(entries, query, as_of, page, previous)
        pointer = Pointer(as_of=as_of, fetched_at=now, history=history)
        await self._through_breaker(
            functools.partial(
                entries.write_snapshot,
                query,
                pointer,
                page,
                keep=keep,
                dropped=dropped,
                index=index,
            ),
            None,
        )
        if self._near is not None:
            # This process never decodes the page it fetched: the next hit reads the pointer only.
            self._near.keep(query, as_of, page)

    def _next_history(
        self, as_of: str, previous: Pointer | None
    ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The pointer's history once ``as_of`` is stored, and the ``as_of`` it drops.

        With a kept history the pointer names its own snapshot only (the index
        names the others, and a long list would be read by every hit), and
        drops none: the index does.
        """
        if self.policy.keeps_history:
            return (as_of,), ()
        older = [] if previous is None else [a for a in previous.history if a != as_of]
        kept = self.policy.history - 1
        return (as_of, *older[:kept]), tuple(older[kept:])

    async def _read_as_cached(
        self, query: Query, pointer: Pointer, read: Page | None = None
    ) -> Page | None:
        """The page ``pointer`` names, as a hit hands it out: from the near cache, ``read``
        (read with the pointer already), or the backend; None when it is not there."""
        if pointer.page is not None:
            return pointer.page
        near = self._near
        if near is not None:
            held = near.served(query, pointer.as_of, pointer.fetched_at, cached_copy)
            if held is not None:
                return held
        entries = self._entries
        if entries is None:
            return None
        page = read
        if page is None:
            page = await self._through_breaker(
                functools.partial(entries.read_page, query, pointer.as_of), None
            )
        if page is None:
            return None
        if near is not None:
            near.keep(query, pointer.as_of, page)
        return cached_copy(page, pointer.fetched_at)

    # Backend health: every call goes through here.

    async def _through_breaker(
        self, operation: Callable[[], Awaitable[_T]], fallback: _F
    ) -> _T | _F:
        """``operation()``'s result, or ``fallback`` if the backend fails, hangs or is down."""
        if not self._breaker.allows():
            return fallback
        entries = self._entries
        timeout = None if entries is None else entries.timeout
        try:
            if timeout is None:
                result = await operation()
            else:
                async with asyncio.timeout(timeout) as deadline:
                    token = BACKEND_DEADLINE.set(deadline)
                    try:
                        result = await operation()
                    finally:
                        BACKEND_DEADLINE.reset(token)
        except Exception as error:  # noqa: BLE001  # a backend failure means "no cache", not a failed call
            if cannot_store(error):
                self._entry_refused(error)
            else:
                self._backend_failed(error)
            return fallback
        if self._breaker.succeeded():
            self._logger.info("snapshot cache backend %s is back", self._backend_name())
        return result

    def _entry_refused(self, error: Exception) -> None:
        # One entry the backend cannot hold says nothing of the others: no breaker trip.
        self._not_stored += 1
        level = logging.DEBUG if self._not_stored > 1 else logging.INFO
        self._logger.log(
            level,
            "snapshot cache backend %s cannot hold an entry (%s); it is served, not kept",
            self._backend_name(),
            untrusted_text(error),
        )

    def _backend_failed(self, error: Exception) -> None:
        self._backend_errors += 1
        if not self._breaker.failed():
            return
        reason = "timed out" if isinstance(error, TimeoutError) else f"{type(error).__name__}"
        text = str(error)
        self._logger.warning(
            "snapshot cache backend %s failed (%s%s); calls go to the server until it is back",
            self._backend_name(),
            reason,
            f": {text}" if text and not isinstance(error, TimeoutError) else "",
        )
