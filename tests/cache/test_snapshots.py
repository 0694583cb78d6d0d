"""The snapshot rules over memory: freshness, history, single-flight, stale-if-error, outages."""

from __future__ import annotations

import asyncio
import gc
import logging
import statistics
import time
from typing import Any

import orjson
import pytest
from aiocache import SimpleMemoryCache
from aiocache.base import BaseCache

from openrouter_bench.cache import CachePolicy, CacheStats, SnapshotCache, open_cache
from openrouter_bench.cache._codec import (
    FORMAT,
    BytesSerializer,
)
from openrouter_bench.cache._lru import BoundedMemoryCache
from openrouter_bench.errors import (
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    NotFoundError,
    PaymentRequiredError,
    QuotaExhaustedError,
    RateLimitError,
    RequestTimeoutError,
    ResponseFormatError,
    ServerError,
    TransportError,
)
from openrouter_bench.query import Query
from tests._cache_fixtures import AS_OF_1, AS_OF_2, AS_OF_3, Clock, Upstream, make_page
from tests.cache._stored import pointer_bytes

NAMESPACE = "openrouter-bench:v1:test.invalid"

QUERY = Query(source="artificial-analysis", task_type="coding")


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


class HangingBackend(BaseCache):  # type: ignore[misc]  # aiocache ships no type hints
    """An aiocache backend whose every call hangs, like a server that stopped answering."""

    async def _get(self, key: str, encoding: Any = None, _conn: Any = None) -> Any:
        await asyncio.Event().wait()

    async def _set(self, *args: Any, **kwargs: Any) -> Any:
        await asyncio.Event().wait()


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


async def test_a_pointer_from_the_future_is_a_miss(clock: Clock, upstream: Upstream) -> None:
    """A byte backend's pointer dated past the skew is refetched, then rewritten to now."""
    backend = SimpleMemoryCache(serializer=BytesSerializer())
    cache = SnapshotCache(backend, namespace=NAMESPACE, clock=clock)
    await cache.get(QUERY, upstream.fetcher(QUERY))
    key = f"{NAMESPACE}:v{FORMAT}:pointer:{QUERY.key}"
    await backend.set(key, pointer_bytes(fetched_at=clock() + 30))
    assert (await cache.get(QUERY, upstream.fetcher(QUERY))).from_cache  # within the skew
    await backend.set(key, pointer_bytes(fetched_at=clock() + 86400 * 365))
    page = await cache.get(QUERY, upstream.fetcher(QUERY))
    assert not page.from_cache
    assert upstream.calls == 2
    assert orjson.loads(await backend.get(key))["fetched_at"] == clock()
    await cache.close()
