"""The kept history: snapshots outlive retain, bounded in count and bytes, on every backend."""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import pytest
import redis.asyncio as aioredis
from aiocache import SimpleMemoryCache

from openrouter_bench._redis import PROBE_INTERVAL
from openrouter_bench.cache import CachePolicy, SnapshotCache
from openrouter_bench.cache._codec import MAX_POINTER_BYTES, BytesSerializer, as_of_text
from openrouter_bench.cache._kept import (
    MAX_INDEX_BYTES,
    HistoryIndex,
    pack_index,
    store_evictions,
    unpack_index,
    weight_of,
)
from openrouter_bench.cache._keys import EntryKeys
from openrouter_bench.cache._sqlite import SQLiteCache
from openrouter_bench.errors import ConfigurationError
from openrouter_bench.query import Query
from tests._cache_fixtures import Clock, Upstream, make_page
from tests.conftest import redis_url_or_skip, required

QUERY: Final = Query(source="artificial-analysis", task_type="coding")
FIRST: Final = datetime(2026, 6, 3, 12, tzinfo=UTC)
#: Enough bytes for any number of the test pages: only the count bounds them.
PLENTY: Final = 2**30


def as_of(n: int) -> str:
    """The n-th snapshot's as_of (0: the first)."""
    return as_of_text(FIRST + timedelta(days=n))


def test_history_bytes_is_checked() -> None:
    """A negative, fractional or absurd history_bytes is refused; 0 means not kept."""
    for wrong in (-1, 2**41, 1.5, "1"):
        with pytest.raises(ConfigurationError, match="history_bytes"):
            CachePolicy(history_bytes=wrong)  # type: ignore[arg-type]
    assert not CachePolicy().keeps_history
    assert CachePolicy(history_bytes=1).keeps_history


def test_the_index_at_the_largest_count_fits_under_the_pointer_cap() -> None:
    """1,000 snapshots with the longest as_of and weight pack to well under 64 KiB."""
    longest = as_of_text(datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC))
    index = HistoryIndex(tuple((longest, 2**40) for _ in range(1000)))
    size = len(pack_index(QUERY, index))
    assert MAX_INDEX_BYTES == MAX_POINTER_BYTES
    assert size < 0.75 * MAX_INDEX_BYTES, size


def test_the_index_reads_back_and_no_further_than_the_count() -> None:
    """An index round-trips, and a reader keeps at most ``count`` of its snapshots."""
    index = HistoryIndex(tuple((as_of(n), 1000 + n) for n in range(10, 0, -1)))
    assert unpack_index(pack_index(QUERY, index), QUERY, count=1000) == index
    assert unpack_index(pack_index(QUERY, index), QUERY, count=3).as_ofs == index.as_ofs[:3]


def test_the_oldest_go_first_and_the_newest_never() -> None:
    """Over the count or the bytes the oldest are dropped; a newest over the bytes stays alone."""
    index = HistoryIndex(((as_of(2), 10), (as_of(1), 10), (as_of(0), 10)))
    by_count, dropped = index.with_newest(as_of(3), 10, count=3, max_bytes=PLENTY)
    assert by_count.as_ofs == (as_of(3), as_of(2), as_of(1))
    assert dropped == (as_of(0),)
    by_bytes, dropped = index.with_newest(as_of(3), 10, count=100, max_bytes=25)
    assert by_bytes.as_ofs == (as_of(3), as_of(2))
    assert dropped == (as_of(0), as_of(1))  # oldest first
    huge, dropped = index.with_newest(as_of(3), 1000, count=100, max_bytes=25)
    assert huge.snapshots == ((as_of(3), 1000),)
    assert dropped == (as_of(0), as_of(1), as_of(2))
    again, dropped = by_count.with_newest(as_of(3), 10, count=3, max_bytes=PLENTY)
    assert again == by_count
    assert dropped == ()


@pytest.fixture(params=["memory", "sqlite", "redis", "memcached"])
def spec(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each backend in turn: memory, a SQLite file, a real Redis, a real memcached."""
    kind: str = request.param
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'kept.sqlite3'}"
    if kind == "redis":
        return redis_url_or_skip()
    if kind == "memcached":
        return required(os.environ.get("MEMCACHED_URL"), "MEMCACHED_URL is not set")
    return kind


KeptCache = Callable[..., SnapshotCache]


@pytest.fixture
async def kept_cache(
    make_cache: Callable[..., SnapshotCache], spec: str, clock: Clock
) -> AsyncIterator[KeptCache]:
    """Caches on ``spec`` keeping snapshots past a minute's retain (policy fields as keywords).

    Each has a namespace of its own (memcached cannot be cleared by prefix), cleared after.
    """
    made: list[SnapshotCache] = []

    def make(**policy: Any) -> SnapshotCache:
        policy = {"history": 1000, "history_bytes": PLENTY} | policy
        chosen = CachePolicy(ttl=60, stale_if_error=0, near_bytes=0, **policy)
        namespace = f"openrouter-bench-test:{uuid.uuid4().hex[:12]}:127.0.0.1"
        made.append(make_cache(spec, namespace=namespace, policy=chosen, clock=clock))
        return made[-1]

    yield make
    if not spec.startswith("memcached"):
        for cache in made:
            await cache.clear()


async def store_snapshots(
    cache: SnapshotCache, clock: Clock, count: int, *, step: float = 3600.0
) -> None:
    """Fetch ``count`` snapshots of QUERY, a new as_of each time, ``step`` seconds apart."""
    upstream = Upstream(clock)
    for n in range(count):
        upstream.as_of = as_of(n)
        await cache.get(QUERY, upstream.fetcher(QUERY), refresh=True)
        clock.advance(step)
    assert upstream.calls == count


async def listed(cache: SnapshotCache) -> list[str]:
    """The as_of of every snapshot the cache lists for QUERY, newest first."""
    return [as_of_text(page.as_of) for page in await cache.history(QUERY)]


async def test_every_snapshot_is_kept_past_retain(kept_cache: KeptCache, clock: Clock) -> None:
    """Twelve snapshots an hour apart (retain: 60 s) are all listed, newest first."""
    cache = kept_cache()
    await store_snapshots(cache, clock, 12)
    clock.advance(30 * 86400)
    assert await listed(cache) == [as_of(n) for n in range(11, -1, -1)]
    assert all(page.from_cache for page in await cache.history(QUERY))


async def test_kept_snapshots_carry_no_expiry_in_redis(
    make_cache: Callable[..., SnapshotCache], clock: Clock, namespace: str, control: aioredis.Redis
) -> None:
    """In Redis the kept pages and the index have no TTL; the pointer keeps its retain."""
    policy = CachePolicy(ttl=60, stale_if_error=0, history=1000, history_bytes=PLENTY)
    cache = make_cache(redis_url_or_skip(), namespace=namespace, policy=policy, clock=clock)
    await store_snapshots(cache, clock, 3)
    keys = EntryKeys(namespace)
    for n in range(3):
        assert await control.ttl(keys.page(QUERY, as_of(n))) == -1
    assert await control.ttl(keys.history(QUERY)) == -1
    assert 0 < await control.ttl(keys.pointer(QUERY)) <= policy.retain
    # The same snapshot fetched again keeps its page without an expiry.
    await cache.get(QUERY, Upstream(clock, as_of=as_of(2)).fetcher(QUERY))
    assert await control.ttl(keys.page(QUERY, as_of(2))) == -1


async def test_the_count_bounds_the_kept_history(kept_cache: KeptCache, clock: Clock) -> None:
    """With history=4, the fifth snapshot drops the first, and its page is gone."""
    cache = kept_cache(history=4)
    await store_snapshots(cache, clock, 5)
    assert await listed(cache) == [as_of(n) for n in (4, 3, 2, 1)]
    assert await cache._entries.read_page(QUERY, as_of(0)) is None  # type: ignore[union-attr]


async def test_the_byte_bound_evicts_the_oldest(kept_cache: KeptCache, clock: Clock) -> None:
    """Room for three snapshots' weight: after ten, the three newest are kept, the rest deleted."""
    weight = weight_of(make_page(QUERY))
    cache = kept_cache(history_bytes=3 * weight + weight // 2)
    await store_snapshots(cache, clock, 10)
    assert await listed(cache) == [as_of(n) for n in (9, 8, 7)]
    for n in range(7):
        assert await cache._entries.read_page(QUERY, as_of(n)) is None  # type: ignore[union-attr]
    stored = await cache.stored()
    if stored is not None:
        assert stored[1] == 3  # pages; the pointer itself expired long ago


async def test_a_newest_snapshot_over_the_byte_bound_is_kept(
    kept_cache: KeptCache, clock: Clock
) -> None:
    """A bound smaller than one page still keeps (and serves) the newest snapshot."""
    cache = kept_cache(history_bytes=1)
    await store_snapshots(cache, clock, 3)
    assert await listed(cache) == [as_of(2)]


@pytest.mark.parametrize("spec", ["sqlite"], indirect=True)
async def test_without_history_bytes_old_snapshots_still_expire(
    kept_cache: KeptCache, clock: Clock
) -> None:
    """The default policy is unchanged: past retain, nothing of the query is listed."""
    cache = kept_cache(history_bytes=0)
    await store_snapshots(cache, clock, 3, step=1.0)
    assert len(await listed(cache)) == 3
    clock.advance(cache.policy.retain + 1)
    assert await listed(cache) == []


@pytest.mark.parametrize("spec", ["sqlite"], indirect=True)
async def test_the_pointer_stays_small_with_a_long_kept_history(
    kept_cache: KeptCache, clock: Clock
) -> None:
    """After 1,000 snapshots the pointer names one as_of; the index holds the rest, under 64 KiB."""
    cache = kept_cache()
    await store_snapshots(cache, clock, 1000, step=1.0)
    keys = EntryKeys(cache.namespace)
    backend = cache.backend
    assert backend is not None
    pointer = await backend.get(keys.pointer(QUERY), loads_fn=lambda raw: raw)
    index = await backend.get(keys.history(QUERY), loads_fn=lambda raw: raw)
    assert len(pointer) < 400
    assert len(index) < 0.75 * MAX_INDEX_BYTES, len(index)
    assert len(await listed(cache)) == 1000


class IndexOutage(SimpleMemoryCache):  # type: ignore[misc]  # aiocache ships no type hints
    """aiocache's memory backend, holding bytes, whose reads of a history index fail while down."""

    def __init__(self) -> None:
        super().__init__(serializer=BytesSerializer())
        self.down = False

    async def _get(self, key: str, encoding: Any = "utf-8", _conn: Any = None) -> Any:
        if self.down and ":history:" in key:
            raise ConnectionError("backend unreachable")
        return await super()._get(key, encoding=encoding, _conn=_conn)


async def test_an_index_that_could_not_be_read_is_not_overwritten(clock: Clock) -> None:
    """A backend failure reading the index leaves it naming every kept snapshot."""
    backend = IndexOutage()
    policy = CachePolicy(ttl=60, stale_if_error=0, history=1000, history_bytes=PLENTY)
    cache = SnapshotCache(backend, namespace="ns:test", policy=policy, clock=clock)
    await store_snapshots(cache, clock, 3)
    backend.down = True
    upstream = Upstream(clock, as_of=as_of(3))
    assert (await cache.get(QUERY, upstream.fetcher(QUERY), refresh=True)).items
    assert cache.stats.backend_errors == 1
    backend.down = False
    clock.advance(PROBE_INTERVAL + 1)
    assert await listed(cache) == [as_of(2), as_of(1), as_of(0)]
    await store_snapshots(cache, clock, 5)
    assert await listed(cache) == [as_of(n) for n in range(4, -1, -1)]


def test_the_store_drops_the_oldest_across_queries_and_spares_each_newest() -> None:
    """The pages that may go are ordered oldest as_of first, whatever the query; no newest."""
    prefix = "ns:v2:page:"
    keys: list[object] = [f"{prefix}q={q}:{as_of(n)}" for q in "abc" for n in (3, 1, 0, 2)]
    spared = frozenset({f"{prefix}q=a:{as_of(2)}"})
    assert store_evictions(keys, prefix, spared) == [
        *(f"{prefix}q={q}:{as_of(0)}" for q in "abc"),
        *(f"{prefix}q={q}:{as_of(1)}" for q in "abc"),
        *(f"{prefix}q={q}:{as_of(2)}" for q in "bc"),
    ]


def test_odd_keys_in_the_store_go_first_and_never_raise() -> None:
    """Keys not laid out as pages go before any real page; foreign and non-text keys are left."""
    prefix = "ns:v2:page:"
    odd: list[object] = [
        f"{prefix}no-as-of",
        f"{prefix}:{as_of(9)}",
        f"{prefix}q=a:",
        b"ns:v2:page:bytes",
        7,
        None,
        "another:v2:page:q=a:" + as_of(0),
    ]
    real = [f"{prefix}q=a:{as_of(n)}" for n in range(3)]
    assert store_evictions([*odd, *real], prefix, frozenset()) == [
        f"{prefix}:{as_of(9)}",
        f"{prefix}no-as-of",
        f"{prefix}q=a:",
        *real[:2],
    ]


STORE_QUERIES: Final = tuple(
    Query(source="artificial-analysis", max_results=n) for n in range(1, 9)
)


def store_state(path: Path) -> tuple[int, list[str]]:
    """The SQLite file's bytes in use, as the store counts them, and its kept pages' keys."""
    with sqlite3.connect(path) as db:
        pages, free, size = (
            db.execute(f"PRAGMA {name}").fetchone()[0]
            for name in ("page_count", "freelist_count", "page_size")
        )
        keys = db.execute(
            "SELECT key FROM entries WHERE key LIKE '%:page:%' AND expires_at IS NULL"
        ).fetchall()
    return (pages - free) * size, [key for (key,) in keys]


async def fill_store(cache: SnapshotCache, clock: Clock, snapshots: int) -> None:
    """``snapshots`` new snapshots of each of STORE_QUERIES, a day apart, queries interleaved."""
    upstream = Upstream(clock)
    for n in range(snapshots):
        upstream.as_of = as_of(n)
        for query in STORE_QUERIES:
            await cache.get(query, upstream.fetcher(query), refresh=True)
        clock.advance(86400)


@pytest.mark.parametrize("spec", ["sqlite"], indirect=True)
async def test_the_sqlite_store_holds_every_query_to_its_bound(
    kept_cache: KeptCache, clock: Clock, spec: str
) -> None:
    """8 queries x 30 snapshots, each under its own bound: the file stays within the store's."""
    path = Path(spec.removeprefix("sqlite:///"))
    bound = 96 * 1024
    cache = kept_cache(history_store_bytes=bound)
    await fill_store(cache, clock, 30)
    used, kept = store_state(path)
    assert used <= bound
    assert 8 < len(kept) < 240
    listed = {query: await cache.history(query) for query in STORE_QUERIES}
    for pages in listed.values():
        # Each query keeps its newest, the store dropped the oldest of all: what is left
        # of each query is its newest snapshots.
        shown = [as_of_text(page.as_of) for page in pages]
        assert shown == [as_of(n) for n in range(29, 29 - len(shown), -1)]
    lengths = [len(pages) for pages in listed.values()]
    assert max(lengths) - min(lengths) <= 1, lengths
    assert cache.stats.backend_errors == 0
    assert "0.09375 MiB in the store" in await cache.describe()


@pytest.mark.parametrize("spec", ["sqlite"], indirect=True)
async def test_poisoned_values_and_keys_in_the_store_are_dropped_not_raised(
    kept_cache: KeptCache, clock: Clock, spec: str
) -> None:
    """A text, a number, an odd key and a 2 MiB blob planted among the kept pages: no error."""
    path = Path(spec.removeprefix("sqlite:///"))
    cache = kept_cache(history_store_bytes=96 * 1024)
    await fill_store(cache, clock, 1)
    prefix = EntryKeys(cache.namespace).prefix + "page:"
    first, second, third = (query.key for query in STORE_QUERIES[:3])
    planted = {
        f"{prefix}{first}:{as_of(-1)}": "x" * 1000,  # text, not bytes
        f"{prefix}{second}:{as_of(-1)}": 12345,  # a number
        f"{prefix}no-as-of": b"\x00" * 1000,  # not laid out as a page
        f"{prefix}{third}:{as_of(-2)}": b"\xff" * 2 * 1024 * 1024,  # over the bound alone
    }
    with sqlite3.connect(path) as db:
        db.executemany(
            "INSERT INTO entries (key, value, expires_at) VALUES (?, ?, NULL)", planted.items()
        )
    await fill_store(cache, clock, 3)
    used, kept = store_state(path)
    assert not set(planted) & set(kept)
    assert used <= 96 * 1024
    assert cache.stats.backend_errors == 0
    for query in STORE_QUERIES:
        assert (await cache.history(query))[0].items


class CountedSQLite(SQLiteCache):
    """The SQLite backend, counting its trips to the worker thread."""

    trips = 0

    async def _run(self, work: Callable[..., Any], *args: Any) -> Any:
        self.trips += 1
        return await super()._run(work, *args)


async def test_a_bounded_write_is_one_trip_and_a_hit_is_untouched(
    tmp_path: Path, clock: Clock
) -> None:
    """A new snapshot costs 3 trips (pointer and page, index, one write with the bound); a hit 1."""
    backend = CountedSQLite(tmp_path / "trips.sqlite3", clock=clock)
    policy = CachePolicy(
        ttl=60, near_bytes=0, history=1000, history_bytes=PLENTY, history_store_bytes=4096
    )
    cache = SnapshotCache(backend, namespace="ns:test", policy=policy, clock=clock)
    try:
        await store_snapshots(cache, clock, 6)
        backend.trips = 0
        upstream = Upstream(clock, as_of=as_of(6))
        await cache.get(QUERY, upstream.fetcher(QUERY), refresh=True)
        assert backend.trips == 3
        backend.trips = 0
        await cache.get(QUERY, upstream.fetcher(QUERY))
        assert (backend.trips, upstream.calls) == (1, 1)
        assert len(await listed(cache)) < 6  # the bound dropped some, in that one write
    finally:
        await cache.close()
