"""The near cache of decoded pages, and pointer and page in one round trip.

Round trips to Redis are counted with ``INFO commandstats``: commands a
script runs are counted too, so a call that is one ``EVALSHA`` whose other
commands all belong to the script was one round trip.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
import redis.asyncio as aioredis

from openrouter_bench.cache import CachePolicy, SnapshotCache, open_cache
from openrouter_bench.cache._codec import Pointer, pack_page
from openrouter_bench.cache._entries import entries_for
from openrouter_bench.cache._keys import EntryKeys
from openrouter_bench.cache._lru import BoundedMemoryCache, footprint
from openrouter_bench.cache._near import NearPages
from openrouter_bench.cache._sqlite import SQLiteCache
from openrouter_bench.errors import ConfigurationError
from openrouter_bench.models import Page
from openrouter_bench.query import Query
from tests._cache_fixtures import AS_OF_1, AS_OF_2, Clock, Upstream, make_page
from tests.cache._stored import pointer_bytes

QUERY = Query(source="artificial-analysis", task_type="coding")
OTHER = Query(source="artificial-analysis", task_type="math")
NAMESPACE = "near-test"
_T = TypeVar("_T")
TEN_YEARS = 10 * 365 * 86400.0
#: What a new pooled connection says before its first command, and this module's own reads.
_NOT_COUNTED = frozenset({"cmdstat_info", "cmdstat_hello", "cmdstat_client|setinfo"})


async def commands(control: aioredis.Redis) -> dict[str, int]:
    """Calls so far of each command on the server; INFO and a connection's handshake left out."""
    stats = await control.info("commandstats")
    return {
        name.removeprefix("cmdstat_"): int(fields["calls"])
        for name, fields in stats.items()
        if name not in _NOT_COUNTED
    }


async def counted(control: aioredis.Redis, before: dict[str, int]) -> dict[str, int]:
    """The commands run since ``before`` (by name, those run at least once)."""
    after = await commands(control)
    return {
        name: calls - before.get(name, 0)
        for name, calls in after.items()
        if calls != before.get(name, 0)
    }


# The layer itself.


def test_a_page_is_served_only_for_its_query_and_as_of() -> None:
    """The near cache hands a page out for its own query and as_of, never another's."""
    near = NearPages(1024 * 1024, 100)
    page = make_page(QUERY, AS_OF_1)
    near.keep(QUERY, AS_OF_1, page)
    served = near.served(QUERY, AS_OF_1, 5.0, lambda held, _: held.served(from_cache=True))
    assert served is not None
    assert served.items == page.items
    assert served.from_cache
    assert near.served(QUERY, AS_OF_2, 5.0, lambda held, _: held) is None
    assert near.served(OTHER, AS_OF_1, 5.0, lambda held, _: held) is None
    assert (near.hits, near.misses) == (1, 2)


def test_a_page_is_not_kept_under_another_as_of_or_query() -> None:
    """A page whose meta.as_of or query is not the one named is not kept at all."""
    near = NearPages(1024 * 1024, 100)
    near.keep(QUERY, AS_OF_2, make_page(QUERY, AS_OF_1))
    near.keep(OTHER, AS_OF_1, make_page(QUERY, AS_OF_1))
    assert len(near) == 0
    assert near.as_of(QUERY) is None


def test_the_byte_budget_holds_and_the_copy_is_made_once() -> None:
    """Pages past the byte budget push out the oldest; a hit's copy is made once per pointer."""
    page = make_page(QUERY, models=50)
    weight = footprint(page)[1]
    near = NearPages(10 * weight, 1000)
    for task in range(40):
        query = Query(source="artificial-analysis", task_type=f"task-{task}")
        near.keep(query, AS_OF_1, make_page(query, models=50))
    assert near.accounted_bytes <= 10 * weight
    assert 0 < len(near) < 10
    copies: list[float] = []

    def copy(held: Page, fetched_at: float) -> Page:
        copies.append(fetched_at)
        return held

    last = Query(source="artificial-analysis", task_type="task-39")
    for _ in range(3):
        assert near.served(last, AS_OF_1, 1.0, copy) is not None
    assert near.served(last, AS_OF_1, 2.0, copy) is not None
    assert copies == [1.0, 2.0]


def test_near_bytes_is_validated() -> None:
    """near_bytes takes 0 (off) or a positive whole number, nothing else."""
    assert CachePolicy(near_bytes=0).near_bytes == 0
    with pytest.raises(ConfigurationError, match="near_bytes"):
        CachePolicy(near_bytes=-1)
    with pytest.raises(ConfigurationError, match="near_bytes"):
        CachePolicy(near_bytes=1.5)  # type: ignore[arg-type]


async def test_the_memory_backend_has_no_near_cache(clock: Clock, upstream: Upstream) -> None:
    """In front of the memory backend (already decoded pages) nothing is counted as near."""
    cache = open_cache("memory", namespace=NAMESPACE, clock=clock)
    await cache.get(QUERY, upstream.fetcher(QUERY))
    assert (await cache.get(QUERY, upstream.fetcher(QUERY))).from_cache
    assert (cache.stats.near_hits, cache.stats.near_misses) == (0, 0)
    await cache.close()


# Over SQLite (no server needed).


async def test_sqlite_hits_decode_a_page_once_per_process(
    tmp_path: Path, clock: Clock, upstream: Upstream
) -> None:
    """A second process's first hit reads and decodes the page; its later hits only the pointer."""
    spec = f"sqlite:///{tmp_path / 'cache.db'}"
    writer = open_cache(spec, namespace=NAMESPACE, clock=clock)
    fetched = await writer.get(QUERY, upstream.fetcher(QUERY))
    assert (await writer.get(QUERY, upstream.fetcher(QUERY))).from_cache
    assert writer.stats.near_hits == 1  # the fetched page was kept: no decoding at all
    reader = open_cache(spec, namespace=NAMESPACE, clock=clock)
    first = await reader.get(QUERY, upstream.fetcher(QUERY))
    assert (reader.stats.near_hits, reader.stats.near_misses) == (0, 1)
    hits = [await reader.get(QUERY, upstream.fetcher(QUERY)) for _ in range(3)]
    assert (reader.stats.near_hits, reader.stats.near_misses) == (3, 1)
    assert upstream.calls == 1
    for page in (first, *hits):
        assert page.from_cache
        assert (page.items, page.meta) == (fetched.items, fetched.meta)
    await writer.close()
    await reader.close()


async def test_near_bytes_zero_turns_the_layer_off(
    tmp_path: Path, clock: Clock, upstream: Upstream
) -> None:
    """With near_bytes=0 every hit reads the page from the backend and nothing is counted."""
    policy = CachePolicy(near_bytes=0)
    cache = open_cache(
        f"sqlite:///{tmp_path / 'cache.db'}", namespace=NAMESPACE, clock=clock, policy=policy
    )
    await cache.get(QUERY, upstream.fetcher(QUERY))
    assert (await cache.get(QUERY, upstream.fetcher(QUERY))).from_cache
    assert (cache.stats.near_hits, cache.stats.near_misses) == (0, 0)
    await cache.close()


class CountingSQLite(SQLiteCache):
    """A SQLite backend that counts its trips to the worker thread."""

    hops = 0

    async def _run(self, work: Callable[..., _T], *args: Any) -> _T:
        self.hops += 1
        return await super()._run(work, *args)


async def test_sqlite_reads_pointer_and_page_in_one_hop(
    tmp_path: Path, clock: Clock, upstream: Upstream
) -> None:
    """A first read takes one trip to SQLite's thread for pointer and page; a warm hit one too."""
    path = tmp_path / "cache.db"
    writer = open_cache(f"sqlite:///{path}", namespace=NAMESPACE, clock=clock)
    fetched = await writer.get(QUERY, upstream.fetcher(QUERY))
    backend = CountingSQLite(path, clock=clock)
    reader = SnapshotCache(backend, namespace=NAMESPACE, clock=clock)
    first = await reader.get(QUERY, upstream.fetcher(QUERY))
    assert backend.hops == 1
    assert first.from_cache
    assert first.items == fetched.items
    assert (await reader.get(QUERY, upstream.fetcher(QUERY))).from_cache
    assert backend.hops == 2
    assert reader.stats.near_hits == 1
    await writer.close()
    await backend.close()


# Over Redis.


@pytest.mark.redis
async def test_a_near_hit_is_one_script_call_without_a_page_read(
    make_cache: Callable[..., SnapshotCache],
    redis_url: str,
    namespace: str,
    clock: Clock,
    upstream: Upstream,
    control: aioredis.Redis,
) -> None:
    """A new cache's first hit reads pointer and page in one round trip; later ones the pointer."""
    writer = make_cache(redis_url, namespace=namespace, clock=clock)
    fetched = await writer.get(QUERY, upstream.fetcher(QUERY))
    reader = make_cache(redis_url, namespace=namespace, clock=clock)
    before = await commands(control)
    first = await reader.get(QUERY, upstream.fetcher(QUERY))
    assert await counted(control, before) == {"evalsha": 1, "getrange": 1, "strlen": 1, "get": 1}
    before = await commands(control)
    second = await reader.get(QUERY, upstream.fetcher(QUERY))
    assert await counted(control, before) == {"getrange": 1}  # the pointer alone
    assert upstream.calls == 1
    assert first == second
    assert (second.items, second.meta) == (fetched.items, fetched.meta)
    assert (reader.stats.hits, reader.stats.near_hits, reader.stats.near_misses) == (2, 1, 1)


@pytest.mark.redis
async def test_a_new_as_of_is_never_served_from_the_near_cache(
    make_cache: Callable[..., SnapshotCache],
    redis_url: str,
    namespace: str,
    clock: Clock,
    upstream: Upstream,
) -> None:
    """When another process moves the pointer to a new as_of, the next hit reads the new page."""
    writer = make_cache(redis_url, namespace=namespace, clock=clock)
    reader = make_cache(redis_url, namespace=namespace, clock=clock)
    await writer.get(QUERY, upstream.fetcher(QUERY))
    assert (await reader.get(QUERY, upstream.fetcher(QUERY))).meta.as_of == make_page(
        QUERY, AS_OF_1
    ).meta.as_of
    clock.advance(CachePolicy().ttl + 1)
    upstream.as_of = AS_OF_2
    await writer.get(QUERY, upstream.fetcher(QUERY))
    page = await reader.get(QUERY, upstream.fetcher(QUERY))
    assert page.from_cache
    assert page.meta.as_of == make_page(QUERY, AS_OF_2).meta.as_of
    assert upstream.calls == 2
    assert (reader.stats.near_hits, reader.stats.near_misses) == (0, 2)


@pytest.mark.redis
@pytest.mark.parametrize(
    "planted",
    [
        pointer_bytes(fetched_at=1_780_000_000.0 + TEN_YEARS),
        pointer_bytes(key=OTHER.key),
        b"\xff not a pointer",
    ],
    ids=["from the future", "another query's", "garbage"],
)
async def test_a_poisoned_pointer_misses_though_the_page_is_near(
    make_cache: Callable[..., SnapshotCache],
    redis_url: str,
    namespace: str,
    clock: Clock,
    upstream: Upstream,
    control: aioredis.Redis,
    planted: bytes,
) -> None:
    """The pointer stays the judge: a poisoned one is a miss even with the page decoded here."""
    cache = make_cache(redis_url, namespace=namespace, clock=clock)
    await cache.get(QUERY, upstream.fetcher(QUERY))
    assert (await cache.get(QUERY, upstream.fetcher(QUERY))).from_cache
    await control.set(f"{EntryKeys(namespace).pointer(QUERY)}", planted)
    page = await cache.get(QUERY, upstream.fetcher(QUERY))
    assert not page.from_cache
    assert upstream.calls == 2


@pytest.mark.redis
async def test_pointer_and_page_are_written_in_one_transaction(
    make_cache: Callable[..., SnapshotCache],
    redis_url: str,
    namespace: str,
    clock: Clock,
    control: aioredis.Redis,
) -> None:
    """A new snapshot's page, the dropped page and the pointer go in one MULTI, read back in one."""
    backend = make_cache(redis_url, namespace=namespace, clock=clock).backend
    keys = EntryKeys(namespace)
    entries = entries_for(backend, keys, 600, logging.getLogger("test"), clock=clock, history=2)
    page = make_page(QUERY, AS_OF_2, fetched_at=clock())
    await control.set(keys.page(QUERY, AS_OF_1), pack_page(QUERY, AS_OF_1, make_page(QUERY)))
    pointer = Pointer(as_of=AS_OF_2, fetched_at=clock(), history=(AS_OF_2,))
    before = await commands(control)
    await entries.write_snapshot(QUERY, pointer, page, keep=False, dropped=(AS_OF_1,))
    assert await counted(control, before) == {"multi": 1, "set": 2, "del": 1, "exec": 1}
    assert await control.get(keys.page(QUERY, AS_OF_1)) is None
    before = await commands(control)
    read, stored = await entries.read_current(QUERY, None)
    assert (await counted(control, before))["evalsha"] == 1
    assert read == pointer
    assert stored is not None
    assert stored.items == page.items
    read, stored = await entries.read_current(QUERY, AS_OF_2)
    assert read == pointer
    assert stored is None  # the caller holds that page: not sent


@pytest.mark.redis
async def test_an_oversized_page_comes_by_a_read_of_its_own(
    redis_url: str, namespace: str, clock: Clock, control: aioredis.Redis
) -> None:
    """A page over the one-trip cap is left out of the script's reply and read by its own GET."""
    cache = open_cache(redis_url, namespace=namespace, clock=clock)
    keys = EntryKeys(namespace)
    huge = make_page(QUERY, models=5_000, fetched_at=clock())
    assert len(pack_page(QUERY, AS_OF_1, huge)) > 1024 * 1024
    await control.set(keys.pointer(QUERY), pointer_bytes(fetched_at=clock()))
    await control.set(keys.page(QUERY, AS_OF_1), pack_page(QUERY, AS_OF_1, huge))
    upstream = Upstream(clock)
    before = await commands(control)
    page = await cache.get(QUERY, upstream.fetcher(QUERY))
    ran = await counted(control, before)
    assert (ran["evalsha"], ran["strlen"], ran["get"]) == (1, 1, 1)  # the GET is the page's own
    assert page.from_cache
    assert len(page.items) == 5_000
    assert upstream.calls == 0
    await cache.close()


def test_the_weighing_is_the_memory_caches() -> None:
    """The near cache weighs a page as the memory backend does (one answer to a page's weight)."""
    page = make_page(QUERY, models=50)
    near = NearPages(64 * 1024 * 1024, 10)
    near.keep(QUERY, AS_OF_1, page)
    memory = BoundedMemoryCache(10, max_bytes=64 * 1024 * 1024)
    memory.store("page", page)
    assert near.accounted_bytes == memory.accounted_bytes


@pytest.mark.redis
async def test_a_page_of_another_redis_type_is_a_miss_in_the_script(
    make_cache: Callable[..., SnapshotCache],
    redis_url: str,
    namespace: str,
    clock: Clock,
    upstream: Upstream,
    control: aioredis.Redis,
) -> None:
    """A list under the page key, read by the script with its pointer, is a miss, not an outage."""
    writer = make_cache(redis_url, namespace=namespace, clock=clock)
    await writer.get(QUERY, upstream.fetcher(QUERY))
    page_key = EntryKeys(namespace).page(QUERY, AS_OF_1)
    await control.delete(page_key)
    await control.rpush(page_key, b"not", b"a", b"page")
    reader = make_cache(redis_url, namespace=namespace, clock=clock)
    assert not (await reader.get(QUERY, upstream.fetcher(QUERY))).from_cache
    assert reader.stats.backend_errors == 0
    assert await control.type(page_key) == b"string"  # dropped, then written again
    assert (await reader.get(QUERY, upstream.fetcher(QUERY))).from_cache


# A warm hit, read in the caller's own task.


class HeldSQLite(CountingSQLite):
    """A SQLite backend whose trips wait for ``gate`` while it is set (a slow backend)."""

    gate: asyncio.Event | None = None

    async def _run(self, work: Callable[..., _T], *args: Any) -> _T:
        if self.gate is not None:
            await self.gate.wait()
        return await super()._run(work, *args)


async def warm_sqlite_reader(
    path: Path, clock: Clock, upstream: Upstream
) -> tuple[SnapshotCache, HeldSQLite]:
    """A cache over a held SQLite backend whose near cache holds QUERY's page (one hit made)."""
    writer = open_cache(f"sqlite:///{path}", namespace=NAMESPACE, clock=clock)
    await writer.get(QUERY, upstream.fetcher(QUERY))
    await writer.close()
    backend = HeldSQLite(path, clock=clock)
    reader = SnapshotCache(backend, namespace=NAMESPACE, clock=clock)
    assert (await reader.get(QUERY, upstream.fetcher(QUERY))).from_cache
    return reader, backend


async def test_a_warm_burst_costs_at_most_two_pointer_reads(
    tmp_path: Path, clock: Clock, upstream: Upstream
) -> None:
    """100 identical warm hits at once: the first caller's own read and one shared by the rest."""
    reader, backend = await warm_sqlite_reader(tmp_path / "cache.db", clock, upstream)
    hops = backend.hops
    backend.gate = asyncio.Event()
    calls = [asyncio.create_task(reader.get(QUERY, upstream.fetcher(QUERY))) for _ in range(100)]
    await asyncio.sleep(0)
    backend.gate.set()
    pages = await asyncio.gather(*calls)
    assert backend.hops - hops == 2
    assert all(page.from_cache for page in pages)
    assert upstream.calls == 1
    assert reader.stats.hits == 101
    await reader.close()


async def test_a_warm_caller_cancelled_mid_read_leaves_the_others_their_hits(
    tmp_path: Path, clock: Clock, upstream: Upstream
) -> None:
    """Cancelling the caller whose own task reads the pointer fails no one else's call."""
    reader, backend = await warm_sqlite_reader(tmp_path / "cache.db", clock, upstream)
    backend.gate = asyncio.Event()
    first = asyncio.create_task(reader.get(QUERY, upstream.fetcher(QUERY)))
    await asyncio.sleep(0)
    others = [asyncio.create_task(reader.get(QUERY, upstream.fetcher(QUERY))) for _ in range(3)]
    await asyncio.sleep(0)
    first.cancel()
    backend.gate.set()
    pages = await asyncio.gather(*others)
    assert first.cancelled()
    assert all(page.from_cache for page in pages)
    assert (await reader.get(QUERY, upstream.fetcher(QUERY))).from_cache
    assert upstream.calls == 1
    await reader.close()


async def test_a_warm_query_whose_pointer_aged_is_fetched_again(
    tmp_path: Path, clock: Clock, upstream: Upstream
) -> None:
    """A page held near is no hit once its pointer is past the ttl: the query is fetched."""
    reader, _ = await warm_sqlite_reader(tmp_path / "cache.db", clock, upstream)
    clock.advance(CachePolicy().ttl + 1)
    page = await reader.get(QUERY, upstream.fetcher(QUERY))
    assert not page.from_cache
    assert upstream.calls == 2
    assert (await reader.get(QUERY, upstream.fetcher(QUERY))).from_cache
    assert (reader.stats.near_hits, reader.stats.near_misses) == (1, 1)  # the fetch was kept
    await reader.close()
