"""The snapshot cache over memory and SQLite: freshness, history, single-flight, stale-if-error,
and the checks a stored value passes before it is trusted."""

from __future__ import annotations

import asyncio
import functools
import gc
import hashlib
import logging
import os
import sqlite3
import stat
import statistics
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs
import orjson
import pytest
from aiocache import SimpleMemoryCache
from aiocache.base import BaseCache

from openrouter_bench._snapshot_codec import (
    CLOCK_SKEW,
    FORMAT,
    MAX_POINTER_BYTES,
    BytesSerializer,
    Pointer,
    UnreadableEntry,
    decode_page,
    decode_pointer,
    encode_page,
    encode_pointer,
)
from openrouter_bench.cache import (
    BoundedMemoryCache,
    CachePolicy,
    CacheStats,
    SnapshotCache,
    SQLiteCache,
    _memcached_key,
    default_cli_cache_path,
    open_cache,
)
from openrouter_bench.errors import (
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    ConfigurationError,
    NotFoundError,
    PaymentRequiredError,
    QuotaExhaustedError,
    RateLimitError,
    RequestTimeoutError,
    ResponseFormatError,
    ServerError,
    TransportError,
)
from openrouter_bench.models import Page
from openrouter_bench.query import Query
from tests._cache_fixtures import AS_OF_1, AS_OF_2, AS_OF_3, Clock, Upstream, make_page

NAMESPACE = "openrouter-bench:v1:test.invalid"
QUERY = Query(source="artificial-analysis", task_type="coding")


@pytest.fixture
def clock() -> Clock:
    """A wall clock that moves only when the test says so."""
    return Clock()


@pytest.fixture
def upstream(clock: Clock) -> Upstream:
    """A scripted fetch that counts its calls."""
    return Upstream(clock)


@pytest.fixture
async def cache(clock: Clock) -> Any:
    """A snapshot cache over the bounded memory backend."""
    snapshot = open_cache("memory", namespace=NAMESPACE, policy=CachePolicy(), clock=clock)
    yield snapshot
    await snapshot.close()


# Freshness and history.


async def test_hit_within_ttl_makes_no_fetch(
    cache: SnapshotCache, upstream: Upstream, clock: Clock
) -> None:
    """A second get inside the ttl is served from memory without calling fetch."""
    first = await cache.get(QUERY, upstream.fetcher(QUERY))
    clock.advance(599)
    second = await cache.get(QUERY, upstream.fetcher(QUERY))
    assert upstream.calls == 1
    assert not first.from_cache
    assert second.from_cache
    assert not second.stale
    assert second.items == first.items
    assert second.fetched_at == first.fetched_at
    assert cache.stats == CacheStats(hits=1, misses=1, fetches=1)


async def test_memory_hit_returns_the_same_object(cache: SnapshotCache, upstream: Upstream) -> None:
    """Memory hits hand back one immutable page object: no copy, no serialization."""
    await cache.get(QUERY, upstream.fetcher(QUERY))
    first = await cache.get(QUERY, upstream.fetcher(QUERY))
    second = await cache.get(QUERY, upstream.fetcher(QUERY))
    assert first is second


async def test_after_ttl_unchanged_as_of_reuses_the_stored_page(
    cache: SnapshotCache, upstream: Upstream, clock: Clock
) -> None:
    """Past the ttl one fetch runs; the same as_of keeps one snapshot and moves fetched_at."""
    await cache.get(QUERY, upstream.fetcher(QUERY))
    hit = await cache.get(QUERY, upstream.fetcher(QUERY))
    clock.advance(601)
    refreshed = await cache.get(QUERY, upstream.fetcher(QUERY))
    after = await cache.get(QUERY, upstream.fetcher(QUERY))
    assert upstream.calls == 2
    assert not refreshed.from_cache
    assert after.from_cache
    assert after.fetched_at.timestamp() == pytest.approx(clock())
    assert after.fetched_at > hit.fetched_at
    assert after.items is hit.items  # the stored page object, not the refetched one
    history = await cache.history(QUERY)
    assert [page.as_of.isoformat() for page in history] == ["2026-06-03T12:00:00+00:00"]


async def test_new_as_of_keeps_the_previous_snapshot(
    cache: SnapshotCache, upstream: Upstream, clock: Clock
) -> None:
    """A new as_of stores a second page; history lists both, newest first."""
    await cache.get(QUERY, upstream.fetcher(QUERY))
    clock.advance(601)
    upstream.as_of = AS_OF_2
    newest = await cache.get(QUERY, upstream.fetcher(QUERY))
    history = await cache.history(QUERY)
    assert [page.meta.as_of for page in history] == [
        make_page(QUERY, AS_OF_2).as_of,
        make_page(QUERY, AS_OF_1).as_of,
    ]
    assert all(page.from_cache and not page.stale for page in history)
    assert history[0].items == newest.items


async def test_history_is_bounded_and_older_pages_are_deleted(clock: Clock) -> None:
    """With history=2 a third as_of drops the oldest page from the backend."""
    backend = BoundedMemoryCache(100, clock=clock)
    cache = SnapshotCache(backend, namespace=NAMESPACE, policy=CachePolicy(history=2), clock=clock)
    upstream = Upstream(clock)
    for as_of in (AS_OF_1, AS_OF_2, AS_OF_3):
        upstream.as_of = as_of
        await cache.get(QUERY, upstream.fetcher(QUERY))
        clock.advance(601)
    history = await cache.history(QUERY)
    assert [page.as_of for page in history] == [
        make_page(QUERY, AS_OF_3).as_of,
        make_page(QUERY, AS_OF_2).as_of,
    ]
    page_keys = backend.keys_with_prefix(f"{NAMESPACE}:v{FORMAT}:page:")
    assert len(page_keys) == 2
    assert not any(key.endswith(AS_OF_1) for key in page_keys)


async def test_history_of_an_unknown_query_is_empty(cache: SnapshotCache) -> None:
    """No snapshot, no history, and no fetch is needed to say so."""
    assert await cache.history(QUERY) == []


async def test_max_age_overrides_ttl_for_one_call(
    cache: SnapshotCache, upstream: Upstream, clock: Clock
) -> None:
    """max_age shorter than the ttl refetches; longer serves an older snapshot."""
    await cache.get(QUERY, upstream.fetcher(QUERY))
    clock.advance(30)
    await cache.get(QUERY, upstream.fetcher(QUERY), max_age=60)
    assert upstream.calls == 1
    await cache.get(QUERY, upstream.fetcher(QUERY), max_age=10)
    assert upstream.calls == 2
    clock.advance(1000)
    page = await cache.get(QUERY, upstream.fetcher(QUERY), max_age=3600)
    assert page.from_cache
    assert upstream.calls == 2


async def test_refresh_skips_a_fresh_snapshot(cache: SnapshotCache, upstream: Upstream) -> None:
    """refresh=True fetches even inside the ttl."""
    await cache.get(QUERY, upstream.fetcher(QUERY))
    page = await cache.get(QUERY, upstream.fetcher(QUERY), refresh=True)
    assert upstream.calls == 2
    assert not page.from_cache


async def test_distinct_queries_are_cached_apart(cache: SnapshotCache, upstream: Upstream) -> None:
    """Each canonical query has its own snapshot; equal queries share one."""
    other = Query(source="design-arena")
    await cache.get(QUERY, upstream.fetcher(QUERY))
    await cache.get(other, upstream.fetcher(other))
    same = await cache.get(Query(source="design-arena", arena="models"), upstream.fetcher(other))
    assert upstream.calls == 2
    assert same.from_cache
    assert same.query == other


# Single-flight.


async def test_concurrent_identical_gets_share_one_fetch(
    cache: SnapshotCache, upstream: Upstream
) -> None:
    """1,000 concurrent identical gets run fetch once and all get the page."""
    upstream.gate = asyncio.Event()
    calls = [asyncio.create_task(cache.get(QUERY, upstream.fetcher(QUERY))) for _ in range(1000)]
    await upstream.started.wait()
    upstream.gate.set()
    pages = await asyncio.gather(*calls)
    assert upstream.calls == 1
    assert len({id(page) for page in pages}) == 1
    assert cache.stats.coalesced == 999
    assert cache.stats.misses == 1000


async def test_no_backend_still_coalesces(upstream: Upstream, clock: Clock) -> None:
    """Without a backend every get fetches, but concurrent identical ones share it."""
    cache = open_cache(None, namespace=NAMESPACE, policy=CachePolicy(), clock=clock)
    upstream.gate = asyncio.Event()
    calls = [asyncio.create_task(cache.get(QUERY, upstream.fetcher(QUERY))) for _ in range(50)]
    await upstream.started.wait()
    upstream.gate.set()
    await asyncio.gather(*calls)
    assert upstream.calls == 1
    await cache.get(QUERY, upstream.fetcher(QUERY))
    assert upstream.calls == 2
    assert await cache.history(QUERY) == []
    await cache.close()


async def test_an_error_reaches_every_caller(cache: SnapshotCache, upstream: Upstream) -> None:
    """Every coalesced caller gets the fetch's error: same type, message and attempts."""
    upstream.gate = asyncio.Event()
    upstream.error = ServerError("upstream broke", status=503, attempts=5)
    calls = [asyncio.create_task(cache.get(QUERY, upstream.fetcher(QUERY))) for _ in range(20)]
    await upstream.started.wait()
    upstream.gate.set()
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    assert upstream.calls == 1
    assert all(type(error) is ServerError for error in outcomes)
    errors = [error for error in outcomes if isinstance(error, ServerError)]
    assert {(e.message, e.status, e.attempts) for e in errors} == {("upstream broke", 503, 5)}
    assert len({id(error) for error in errors}) == 20  # a private copy per caller


async def test_cancelling_one_caller_leaves_the_others(
    cache: SnapshotCache, upstream: Upstream
) -> None:
    """A cancelled caller does not cancel the shared fetch; the rest get the page."""
    upstream.gate = asyncio.Event()
    calls = [asyncio.create_task(cache.get(QUERY, upstream.fetcher(QUERY))) for _ in range(3)]
    await upstream.started.wait()
    calls[0].cancel()
    await asyncio.sleep(0)
    upstream.gate.set()
    pages = await asyncio.gather(calls[1], calls[2])
    assert calls[0].cancelled()
    assert upstream.calls == 1
    assert upstream.cancelled == 0
    assert pages[0] is pages[1]


async def test_cancelling_every_caller_cancels_the_fetch(
    cache: SnapshotCache, upstream: Upstream, caplog: pytest.LogCaptureFixture
) -> None:
    """With every caller gone the fetch is cancelled and nothing is left pending or unread."""
    upstream.gate = asyncio.Event()
    calls = [asyncio.create_task(cache.get(QUERY, upstream.fetcher(QUERY))) for _ in range(3)]
    await upstream.started.wait()
    for call in calls:
        call.cancel()
    await asyncio.gather(*calls, return_exceptions=True)
    for _ in range(3):
        await asyncio.sleep(0)
    assert upstream.cancelled == 1
    assert all(call.cancelled() for call in calls)
    assert len(cache._flights) == 0
    pending = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    assert pending == []
    gc.collect()
    assert "never retrieved" not in caplog.text
    assert "destroyed but it is pending" not in caplog.text
    # A later call starts afresh rather than joining the cancelled fetch.
    upstream.gate.set()
    page = await cache.get(QUERY, upstream.fetcher(QUERY))
    assert upstream.calls == 2
    assert not page.from_cache


async def test_an_error_with_no_caller_left_is_not_reported_unretrieved(
    cache: SnapshotCache, upstream: Upstream, caplog: pytest.LogCaptureFixture
) -> None:
    """A fetch that fails after a caller left leaves no 'exception was never retrieved'."""
    upstream.gate = asyncio.Event()
    upstream.error = TransportError("connection reset")
    caller = asyncio.create_task(cache.get(QUERY, upstream.fetcher(QUERY)))
    other = asyncio.create_task(cache.get(QUERY, upstream.fetcher(QUERY)))
    await upstream.started.wait()
    caller.cancel()
    upstream.gate.set()
    with pytest.raises(TransportError):
        await other
    del caller, other
    gc.collect()
    await asyncio.sleep(0)
    assert "never retrieved" not in caplog.text


async def test_close_cancels_fetches_under_way(clock: Clock, upstream: Upstream) -> None:
    """close() cancels a fetch in flight and refuses further gets."""
    cache = open_cache("memory", namespace=NAMESPACE, policy=CachePolicy(), clock=clock)
    upstream.gate = asyncio.Event()
    call = asyncio.create_task(cache.get(QUERY, upstream.fetcher(QUERY)))
    await upstream.started.wait()
    await cache.close()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert upstream.cancelled == 1
    with pytest.raises(ClientClosedError):
        await cache.get(QUERY, upstream.fetcher(QUERY))
    await cache.close()  # idempotent


# Stale-if-error.


@pytest.mark.parametrize(
    "error",
    [
        ServerError("bad gateway", status=502),
        TransportError("connection refused"),
        RequestTimeoutError("no answer"),
        RateLimitError("slow down", status=429, retry_after=30.0),
        QuotaExhaustedError("daily budget spent"),
    ],
    ids=["502", "transport", "timeout", "429", "quota"],
)
async def test_stale_snapshot_stands_in_for_a_transient_failure(
    cache: SnapshotCache,
    upstream: Upstream,
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
    error: Exception,
) -> None:
    """Inside the window a failed refresh serves the last page flagged stale, and says so."""
    first = await cache.get(QUERY, upstream.fetcher(QUERY))
    clock.advance(3600)
    upstream.error = error
    with caplog.at_level(logging.WARNING, logger="openrouter_bench.cache"):
        page = await cache.get(QUERY, upstream.fetcher(QUERY))
    assert page.stale
    assert page.from_cache
    assert page.items == first.items
    assert cache.stats.stale_serves == 1
    assert "stale" in caplog.text
    assert "source=" in caplog.text  # names the query
    assert str(error) in caplog.text


async def test_no_stale_snapshot_outside_the_window(
    cache: SnapshotCache, upstream: Upstream, clock: Clock
) -> None:
    """Past stale_if_error the transient error reaches the caller."""
    await cache.get(QUERY, upstream.fetcher(QUERY))
    clock.advance(86400 + 1)
    upstream.error = ServerError("down", status=503)
    with pytest.raises(ServerError):
        await cache.get(QUERY, upstream.fetcher(QUERY))
    assert cache.stats.stale_serves == 0


async def test_no_stale_snapshot_without_an_older_page(
    cache: SnapshotCache, upstream: Upstream
) -> None:
    """With nothing stored, a transient error reaches the caller."""
    upstream.error = ServerError("down", status=503)
    with pytest.raises(ServerError):
        await cache.get(QUERY, upstream.fetcher(QUERY))


@pytest.mark.parametrize(
    "error",
    [
        BadRequestError("bad parameter", status=400),
        AuthenticationError("no such key", status=401),
        PaymentRequiredError("out of credit", status=402),
        AuthenticationError("forbidden", status=403),
        NotFoundError("wrong base URL", status=404),
        ResponseFormatError("data[0].elo: expected a number", path="data[0].elo"),
    ],
    ids=["400", "401", "402", "403", "404", "malformed"],
)
async def test_other_errors_are_never_masked(
    cache: SnapshotCache, upstream: Upstream, clock: Clock, error: Exception
) -> None:
    """A refresh failing with a non-transient error raises it even with a snapshot at hand."""
    await cache.get(QUERY, upstream.fetcher(QUERY))
    clock.advance(601)
    upstream.error = error
    with pytest.raises(type(error)) as raised:
        await cache.get(QUERY, upstream.fetcher(QUERY))
    assert str(raised.value) == str(error)
    assert cache.stats.stale_serves == 0


# The bounded memory backend.


async def test_endless_distinct_queries_keep_memory_bounded(clock: Clock) -> None:
    """100,000 distinct queries leave at most max_entries entries behind."""
    policy = CachePolicy(max_entries=1000)
    cache = open_cache("memory", namespace=NAMESPACE, policy=policy, clock=clock)
    assert isinstance(cache.backend, BoundedMemoryCache)
    page = make_page(QUERY)

    async def fetch() -> Any:
        return page

    for index in range(100_000):
        await cache.get(Query(source="openrouter", search_engine=f"engine-{index}"), fetch)
    assert len(cache.backend) <= 1000
    recent = Query(source="openrouter", search_engine="engine-99999")
    assert (await cache.get(recent, fetch)).from_cache
    await cache.close()


async def test_lru_backend_speaks_the_aiocache_interface(clock: Clock) -> None:
    """The bounded backend works through aiocache's own API: ttl, add, increment, clear."""
    backend = BoundedMemoryCache(3, clock=clock)
    await backend.set("a", [1], ttl=10)
    assert await backend.get("a") == [1]
    clock.advance(11)
    assert await backend.get("a") is None
    await backend.add("b", 1)
    with pytest.raises(ValueError, match="already exists"):
        await backend.add("b", 2)
    assert await backend.increment("b", 5) == 6
    await backend.multi_set([("c", 3), ("d", 4)])
    await backend.set("e", 5)
    assert await backend.multi_get(["b", "c", "d", "e"]) == [None, 3, 4, 5]
    assert await backend.exists("c")
    assert await backend.expire("c", 1)
    clock.advance(2)
    assert not await backend.exists("c")
    assert await backend.delete("d") == 1
    assert await backend.clear(namespace="e") == 1
    assert len(backend) == 0


async def test_memory_hit_is_fast(cache: SnapshotCache, upstream: Upstream) -> None:
    """A memory hit through SnapshotCache.get has a p50 well under 20 microseconds."""
    await cache.get(QUERY, upstream.fetcher(QUERY))
    fetch = upstream.fetcher(QUERY)
    samples = []
    for _ in range(2000):
        start = time.perf_counter()
        await cache.get(QUERY, fetch)
        samples.append(time.perf_counter() - start)
    assert statistics.median(samples) < 20e-6
    assert upstream.calls == 1


async def test_aiocache_simple_memory_backend_works_too(clock: Clock, upstream: Upstream) -> None:
    """A plain aiocache SimpleMemoryCache instance serves as the backend (by reference)."""
    backend = SimpleMemoryCache()
    cache = open_cache(backend, namespace=NAMESPACE, policy=CachePolicy(), clock=clock)
    first = await cache.get(QUERY, upstream.fetcher(QUERY))
    again = await cache.get(QUERY, upstream.fetcher(QUERY))
    assert upstream.calls == 1
    assert again.items is first.items
    await cache.close()
    await backend.clear()  # still open: the caller owns an instance it passed in


# Backend failures.


class FlakyBackend(SimpleMemoryCache):  # type: ignore[misc]  # aiocache ships no type hints
    """aiocache's memory backend with a switch: while ``down``, every call raises."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False

    def _check(self) -> None:
        if self.down:
            raise ConnectionError("backend unreachable")

    async def _get(self, key: str, encoding: Any = "utf-8", _conn: Any = None) -> Any:
        self._check()
        return await super()._get(key, encoding=encoding, _conn=_conn)

    async def _set(self, key: str, value: Any, ttl: Any = None, **kwargs: Any) -> Any:
        self._check()
        return await super()._set(key, value, ttl=ttl, **kwargs)


async def test_backend_outage_never_fails_a_call(
    clock: Clock, upstream: Upstream, caplog: pytest.LogCaptureFixture
) -> None:
    """A backend failing mid-run sends gets upstream, warns once, and caching resumes."""
    backend = FlakyBackend()
    cache = SnapshotCache(backend, namespace=NAMESPACE, clock=clock)
    await cache.get(QUERY, upstream.fetcher(QUERY))
    backend.down = True
    clock.advance(601)
    with caplog.at_level(logging.INFO, logger="openrouter_bench.cache"):
        for _ in range(5):
            page = await cache.get(QUERY, upstream.fetcher(QUERY))
            assert not page.from_cache
            clock.advance(0.1)
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1
        assert "backend unreachable" in warnings[0].getMessage()
        assert upstream.calls == 6
        backend.down = False
        clock.advance(2)
        await cache.get(QUERY, upstream.fetcher(QUERY))
        assert any("is back" in r.getMessage() for r in caplog.records if r.levelno == logging.INFO)
        hit = await cache.get(QUERY, upstream.fetcher(QUERY))
    assert hit.from_cache
    assert upstream.calls == 7
    assert cache.stats.backend_errors >= 1


class HangingBackend(BaseCache):  # type: ignore[misc]  # aiocache ships no type hints
    """An aiocache backend whose every call hangs, like a server that stopped answering."""

    async def _get(self, key: str, encoding: Any = None, _conn: Any = None) -> Any:
        await asyncio.Event().wait()

    async def _set(self, *args: Any, **kwargs: Any) -> Any:
        await asyncio.Event().wait()


async def test_a_hanging_backend_is_cut_short(clock: Clock, upstream: Upstream) -> None:
    """Backend calls are bounded in time: a hung backend costs one short timeout, then none."""
    cache = SnapshotCache(HangingBackend(), namespace=NAMESPACE, clock=clock)
    loop = asyncio.get_running_loop()
    start = loop.time()
    await cache.get(QUERY, upstream.fetcher(QUERY))
    first = loop.time() - start
    start = loop.time()
    await cache.get(QUERY, upstream.fetcher(QUERY))
    second = loop.time() - start
    assert upstream.calls == 2
    assert first < 1.0
    assert second < 0.05  # the outage is known: the backend is skipped until the next probe
    assert cache.stats.backend_errors == 1


# Configuration.


def test_open_cache_rejects_unknown_specs() -> None:
    """A spec that names no backend is a configuration error, not a silent no-cache."""
    with pytest.raises(ConfigurationError):
        open_cache("postgres://db", namespace=NAMESPACE)
    with pytest.raises(ConfigurationError):
        open_cache(42, namespace=NAMESPACE)
    with pytest.raises(ConfigurationError):
        open_cache("sqlite://host/file.db", namespace=NAMESPACE)


def test_policy_rejects_nonsense() -> None:
    """Negative durations and a history of zero are refused at construction."""
    with pytest.raises(ConfigurationError):
        CachePolicy(ttl=-1)
    with pytest.raises(ConfigurationError):
        CachePolicy(history=0)
    with pytest.raises(ConfigurationError):
        CachePolicy(max_entries=True)


def test_policy_takes_timedeltas() -> None:
    """Durations may be given as timedelta; they are kept as float seconds."""
    policy = CachePolicy(ttl=timedelta(minutes=5), stale_if_error=timedelta(hours=1))
    assert policy.ttl == 300.0
    assert policy.stale_if_error == 3600.0
    assert policy.retain == 3600


async def test_describe_names_backend_and_counters(
    cache: SnapshotCache, upstream: Upstream
) -> None:
    """describe() tells people the backend, the namespace and what this run did."""
    await cache.get(QUERY, upstream.fetcher(QUERY))
    await cache.get(QUERY, upstream.fetcher(QUERY))
    text = await cache.describe()
    assert "memory (2/10000 entries, 2 KiB of 65536 KiB)" in text
    assert NAMESPACE in text
    assert "1 hit, 1 miss, 1 fetch" in text


def test_default_cli_cache_path_is_in_the_user_cache_dir() -> None:
    """The CLI's store lives in the platform's user cache directory, under the project name."""
    path = default_cli_cache_path()
    assert path.parent.name == "openrouter-bench"
    assert path.suffix == ".sqlite3"


# SQLite.


async def test_sqlite_persists_across_runs(tmp_path: Path, clock: Clock) -> None:
    """A second cache over the same file (a second CLI run) hits without fetching."""
    path = tmp_path / "store" / "cache.db"
    upstream = Upstream(clock)
    first_run = open_cache(f"sqlite://{path}", namespace=NAMESPACE, clock=clock)
    fetched = await first_run.get(QUERY, upstream.fetcher(QUERY))
    await first_run.close()
    clock.advance(60)
    # The CLI's spelling, f"sqlite:///{absolute path}", names the same file.
    second_run = open_cache(f"sqlite:///{path}", namespace=NAMESPACE, clock=clock)
    assert isinstance(second_run.backend, SQLiteCache)
    assert second_run.backend.path == path
    page = await second_run.get(QUERY, upstream.fetcher(QUERY))
    assert upstream.calls == 1
    assert page.from_cache
    assert page.items == fetched.items
    assert page.meta == fetched.meta
    assert page.query == QUERY
    assert len(await second_run.history(QUERY)) == 1
    assert await second_run.clear() == 2  # one pointer, one page
    assert await second_run.history(QUERY) == []
    await second_run.close()


async def test_sqlite_file_and_directory_permissions(tmp_path: Path, clock: Clock) -> None:
    """The store is created 0600 in a directory made 0700, WAL files included."""
    path = tmp_path / "private" / "cache.db"
    cache = open_cache(f"sqlite:///{path}", namespace=NAMESPACE, clock=clock)
    await cache.get(QUERY, Upstream(clock).fetcher(QUERY))
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    for file in path.parent.iterdir():
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file.name
    await cache.close()


async def test_sqlite_corrupt_rows_are_misses_and_get_overwritten(
    tmp_path: Path, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    """Garbage, foreign JSON or an old format in a row count as a miss and are replaced."""
    path = tmp_path / "cache.db"
    upstream = Upstream(clock)
    cache = open_cache(f"sqlite:///{path}", namespace=NAMESPACE, clock=clock)
    await cache.get(QUERY, upstream.fetcher(QUERY))
    pointer_key = f"{NAMESPACE}:v{FORMAT}:pointer:{QUERY.key}"
    page_key = f"{NAMESPACE}:v{FORMAT}:page:{QUERY.key}:{AS_OF_1}"
    with sqlite3.connect(path) as db:
        keys = {row[0] for row in db.execute("SELECT key FROM entries")}
    assert keys == {pointer_key, page_key}
    for garbage in (b"\x00\xffnot json", b'{"format": 0, "kind": "page"}', b"[1, 2, 3]"):
        with sqlite3.connect(path) as db:
            db.execute("UPDATE entries SET value = ? WHERE key = ?", (garbage, page_key))
        clock.advance(1)
        with caplog.at_level(logging.DEBUG, logger="openrouter_bench.cache"):
            page = await cache.get(QUERY, upstream.fetcher(QUERY))
        assert not page.from_cache
        assert "unreadable" in caplog.text
        hit = await cache.get(QUERY, upstream.fetcher(QUERY))
        assert hit.from_cache
    with sqlite3.connect(path) as db:
        db.execute("UPDATE entries SET value = ? WHERE key = ?", (b"{}", pointer_key))
    assert not (await cache.get(QUERY, upstream.fetcher(QUERY))).from_cache
    assert (await cache.get(QUERY, upstream.fetcher(QUERY))).from_cache
    assert upstream.calls == 5
    assert cache.stats.backend_errors == 0
    await cache.close()


async def test_sqlite_backend_expires_entries(tmp_path: Path, clock: Clock) -> None:
    """Entries written with a ttl are gone once it passes (on the injected clock)."""
    backend = SQLiteCache(tmp_path / "x.db", clock=clock)
    await backend.set("k", b"v", ttl=10)
    assert await backend.get("k") == b"v"
    assert await backend.expire("k", 20)
    clock.advance(15)
    assert await backend.get("k") == b"v"
    clock.advance(10)
    assert await backend.get("k") is None
    assert not await backend.exists("k")
    await backend.add("n", b"1")
    assert await backend.increment("n", 2) == 3
    await backend.close()


# Stored values are untrusted: the codec reads only what the cache could have written.

NOW = 1_780_000_000.0


def _pointer_bytes(**fields: Any) -> bytes:
    document = {
        "format": FORMAT,
        "kind": "pointer",
        "key": QUERY.key,
        "as_of": AS_OF_1,
        "fetched_at": NOW,
        "history": [AS_OF_1],
    } | fields
    return orjson.dumps(document)


def test_a_stored_pointer_reads_back() -> None:
    """A pointer as the cache writes it decodes to the same pointer."""
    pointer = Pointer(as_of=AS_OF_2, fetched_at=NOW - 5, history=(AS_OF_2, AS_OF_1))
    assert decode_pointer(encode_pointer(QUERY, pointer), QUERY, now=NOW, history=2) == pointer


def test_an_entry_is_read_only_for_the_query_it_names() -> None:
    """A page or pointer stored for one query is unreadable as another's."""
    other = Query(source="design-arena", arena="models")
    page = encode_page(QUERY, AS_OF_1, make_page(QUERY))
    with pytest.raises(UnreadableEntry, match="another query"):
        decode_page(page, other, AS_OF_1)
    with pytest.raises(UnreadableEntry, match="another query"):
        decode_pointer(_pointer_bytes(), other, now=NOW, history=2)


def test_a_pointer_within_the_clock_skew_reads_and_one_past_it_does_not() -> None:
    """fetched_at may lead the clock by CLOCK_SKEW seconds (hosts disagree), no more."""
    within = decode_pointer(
        _pointer_bytes(fetched_at=NOW + CLOCK_SKEW - 1), QUERY, now=NOW, history=2
    )
    assert within.fetched_at == NOW + CLOCK_SKEW - 1
    with pytest.raises(UnreadableEntry, match="in the future"):
        decode_pointer(_pointer_bytes(fetched_at=NOW + CLOCK_SKEW + 1), QUERY, now=NOW, history=2)


@pytest.mark.parametrize("fetched_at", [1e300, -1, "yesterday", True, None, [NOW], {"s": 1}])
def test_a_pointer_whose_fetched_at_is_no_moment_is_unreadable(fetched_at: object) -> None:
    """Out of range, negative or not a number: UnreadableEntry, never ValueError."""
    with pytest.raises(UnreadableEntry, match="fetched_at"):
        decode_pointer(_pointer_bytes(fetched_at=fetched_at), QUERY, now=1e301, history=2)


@pytest.mark.parametrize(
    "as_of",
    [
        "soon",
        "2026-06-03T12:00:00",  # no offset
        "2026-06-03T17:30:00+05:30",  # not the canonical text the cache writes
        "0001-01-01T00:00:00+05:00",  # outside the calendar once in UTC
        "2026-06-03T12:00:00Z" + " " * 100,
        7,
    ],
)
def test_a_pointer_whose_as_of_does_not_read_is_unreadable(as_of: object) -> None:
    """A pointer must name an as_of in the form the cache writes it, or it is a miss."""
    with pytest.raises(UnreadableEntry):
        decode_pointer(_pointer_bytes(as_of=as_of, history=[as_of]), QUERY, now=NOW, history=2)


def test_a_pointer_reads_no_more_history_than_the_policy_keeps() -> None:
    """A long history (even of bad values past the kept ones) is cut to ``history`` entries."""
    listed = [AS_OF_3, AS_OF_2, AS_OF_1, *(["not an as_of"] * 500)]
    pointer = decode_pointer(
        _pointer_bytes(as_of=AS_OF_3, history=listed), QUERY, now=NOW, history=2
    )
    assert pointer.history == (AS_OF_3, AS_OF_2)


def test_a_pointer_over_the_size_cap_is_refused_before_it_is_parsed() -> None:
    """A stored pointer larger than MAX_POINTER_BYTES is unreadable whatever it holds."""
    huge = _pointer_bytes(history=[AS_OF_1] * (MAX_POINTER_BYTES // 10))
    assert len(huge) > MAX_POINTER_BYTES
    with pytest.raises(UnreadableEntry, match="bytes"):
        decode_pointer(huge, QUERY, now=NOW, history=2)


def test_a_page_whose_meta_as_of_is_not_its_keys_is_unreadable() -> None:
    """A page stored under one as_of whose own meta says another is a miss."""
    stored = encode_page(QUERY, AS_OF_2, make_page(QUERY, AS_OF_1))
    with pytest.raises(UnreadableEntry, match=r"meta\.as_of"):
        decode_page(stored, QUERY, AS_OF_2)


async def test_a_pointer_from_the_future_is_a_miss(clock: Clock, upstream: Upstream) -> None:
    """A byte backend's pointer dated past the skew is refetched, then rewritten to now."""
    backend = SimpleMemoryCache(serializer=BytesSerializer())
    cache = SnapshotCache(backend, namespace=NAMESPACE, clock=clock)
    await cache.get(QUERY, upstream.fetcher(QUERY))
    key = f"{NAMESPACE}:v{FORMAT}:pointer:{QUERY.key}"
    await backend.set(key, _pointer_bytes(fetched_at=clock() + 30))
    assert (await cache.get(QUERY, upstream.fetcher(QUERY))).from_cache  # within the skew
    await backend.set(key, _pointer_bytes(fetched_at=clock() + 86400 * 365))
    page = await cache.get(QUERY, upstream.fetcher(QUERY))
    assert not page.from_cache
    assert upstream.calls == 2
    assert orjson.loads(await backend.get(key))["fetched_at"] == clock()
    await cache.close()


async def test_an_unreadable_entry_is_logged_once_per_key_and_cleaned(
    clock: Clock, upstream: Upstream, caplog: pytest.LogCaptureFixture
) -> None:
    """The first unreadable value at a key is a warning, its text cleaned; later ones are debug."""
    backend = SimpleMemoryCache(serializer=BytesSerializer())
    cache = SnapshotCache(backend, namespace=NAMESPACE, clock=clock)
    key = f"{NAMESPACE}:v{FORMAT}:pointer:{QUERY.key}"
    planted = _pointer_bytes(key="all\n2026-06-03 ERROR forged line\x1b[31m")
    with caplog.at_level(logging.DEBUG, logger="openrouter_bench.cache"):
        for _ in range(3):
            await backend.set(key, planted)
            await cache.get(QUERY, upstream.fetcher(QUERY), refresh=True)
    unreadable = [r for r in caplog.records if "unreadable" in r.getMessage()]
    assert [r.levelno for r in unreadable] == [logging.WARNING, logging.DEBUG, logging.DEBUG]
    assert "another query" in unreadable[0].getMessage()
    assert not any(c in unreadable[0].getMessage() for c in "\n\x1b")
    await cache.close()


async def test_sqlite_reads_a_pointer_no_further_than_the_cap(tmp_path: Path, clock: Clock) -> None:
    """A 16 MiB row at the pointer key is read as its first bytes: a miss, then overwritten."""
    path = tmp_path / "cache.db"
    upstream = Upstream(clock)
    cache = open_cache(f"sqlite:///{path}", namespace=NAMESPACE, clock=clock)
    await cache.get(QUERY, upstream.fetcher(QUERY))
    pointer_key = f"{NAMESPACE}:v{FORMAT}:pointer:{QUERY.key}"
    with sqlite3.connect(path) as db:
        db.execute(
            "UPDATE entries SET value = ? WHERE key = ?", (b"[" * (16 * 1024 * 1024), pointer_key)
        )
    backend = cache.backend
    assert isinstance(backend, SQLiteCache)
    head = await backend.get_head(pointer_key, MAX_POINTER_BYTES)
    assert len(head) == MAX_POINTER_BYTES + 1
    assert await backend.get_head("absent", MAX_POINTER_BYTES) is None
    assert not (await cache.get(QUERY, upstream.fetcher(QUERY))).from_cache
    assert (await cache.get(QUERY, upstream.fetcher(QUERY))).from_cache
    assert upstream.calls == 2
    assert cache.stats.backend_errors == 0
    await cache.close()


# Backend limits: one entry a backend cannot hold is not an outage.


def test_memcached_keys_that_memcached_takes_stay_as_they_are() -> None:
    """A key of printable ASCII within 250 bytes is sent unchanged."""
    key = f"{NAMESPACE}:v1:pointer:source=design-arena&category=gamedev"
    assert _memcached_key(key) == key.encode()
    assert _memcached_key("pointer:x", "ns:") == b"ns:pointer:x"


@pytest.mark.parametrize(
    "key",
    [
        "pointer:category=" + "x" * 300,
        "pointer:category=a b",
        "pointer:category=tab\there",
        "pointer:category=caf\u00e9",
    ],
)
def test_memcached_keys_it_would_refuse_become_a_prefix_and_a_hash(key: str) -> None:
    """A long or odd key becomes at most 250 bytes of printable ASCII ending in its SHA-256."""
    stored = _memcached_key(key)
    assert len(stored) <= 250
    assert stored.isascii()
    assert all(0x21 <= byte <= 0x7E for byte in stored)
    assert stored.startswith(b"pointer:category=")
    assert stored.endswith(hashlib.sha256(key.encode()).hexdigest().encode())
    assert _memcached_key(key + "y") != stored


def test_policy_takes_a_byte_budget() -> None:
    """max_bytes must be an integer >= 1; open_cache hands it to the memory backend."""
    with pytest.raises(ConfigurationError, match="max_bytes"):
        CachePolicy(max_bytes=0)
    cache = open_cache("memory", namespace=NAMESPACE, policy=CachePolicy(max_bytes=1234567))
    assert isinstance(cache.backend, BoundedMemoryCache)
    assert cache.backend.max_bytes == 1234567


async def test_a_page_over_the_memory_share_is_served_not_kept(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    """A page too heavy for the memory budget is returned, not kept, logged once at INFO."""
    policy = CachePolicy(max_bytes=8 * 100_000)
    cache = open_cache("memory", namespace=NAMESPACE, policy=policy, clock=clock)
    heavy = attrs.evolve(make_page(QUERY), body_bytes=60_000)
    light_query = Query(source="design-arena")
    light = make_page(light_query)
    fetches = 0

    async def fetch(page: Page) -> Page:
        nonlocal fetches
        fetches += 1
        return page

    with caplog.at_level(logging.DEBUG, logger="openrouter_bench.cache"):
        for _ in range(3):
            assert await cache.get(QUERY, functools.partial(fetch, heavy)) == heavy
            await cache.get(light_query, functools.partial(fetch, light))
    refusals = [r for r in caplog.records if "cannot hold an entry" in r.getMessage()]
    assert [r.levelno for r in refusals[:2]] == [logging.INFO, logging.DEBUG]
    assert fetches == 4  # the heavy page three times, the light one once
    assert cache.stats.backend_errors == 0
    assert cache.stats.not_stored == 6
    await cache.close()


async def test_a_value_over_a_backends_limit_is_not_written(
    tmp_path: Path, clock: Clock, upstream: Upstream
) -> None:
    """A page over the backend's max_value_bytes is not written; other pages still are."""
    backend = SQLiteCache(tmp_path / "limited.db", clock=clock)
    backend.max_value_bytes = 2_000
    cache = SnapshotCache(backend, namespace=NAMESPACE, clock=clock)
    small = Query(source="openrouter")

    async def large() -> Page:
        return make_page(QUERY, models=50)

    await cache.get(QUERY, large)
    await cache.get(small, upstream.fetcher(small))
    assert not (await cache.get(QUERY, large)).from_cache
    assert (await cache.get(small, upstream.fetcher(small))).from_cache
    assert cache.stats.backend_errors == 0
    assert cache.stats.not_stored == 2
    pages = [key for key in await backend.keys_with_prefix(NAMESPACE) if ":page:" in key]
    assert len(pages) == 1
    await backend.close()
