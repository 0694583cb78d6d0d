"""The snapshot cache over a real Redis: round trips, corruption, outages, several processes.

These tests read the server's URL from ``REDIS_URL``. Without it they are
skipped, except under ``CI=true`` where a missing Redis is a failure.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import re
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiocache import RedisCache

from openrouter_bench._snapshot_codec import FORMAT, MAX_POINTER_BYTES
from openrouter_bench.cache import CachePolicy, SnapshotCache, open_cache
from openrouter_bench.errors import ServerError
from openrouter_bench.fake import RedisServer, free_port
from openrouter_bench.models import Page
from openrouter_bench.query import Query
from tests._cache_fixtures import (
    AS_OF_1,
    AS_OF_2,
    Clock,
    Upstream,
    counter_key,
    make_page,
    worker_command,
)

pytestmark = pytest.mark.redis

QUERY = Query(source="artificial-analysis", task_type="coding")
CANARY = "sk-or-v1-cache-canary-0d9e8f7a6b5c4d3e2f1a"


@pytest.fixture
async def control(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    """A plain redis-py client for looking at (and tampering with) what the cache stored."""
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def namespace(control: aioredis.Redis) -> AsyncIterator[str]:
    """A namespace of this test alone, removed afterwards."""
    name = f"openrouter-bench-test:{uuid.uuid4().hex[:12]}:127.0.0.1"
    yield name
    keys = [key async for key in control.scan_iter(match=f"{name}:*")]
    if keys:
        await control.delete(*keys)


@pytest.fixture
async def make_cache() -> AsyncIterator[Callable[..., SnapshotCache]]:
    """open_cache, with every cache it made closed after the test, pass or fail."""
    made: list[SnapshotCache] = []

    def make(spec: Any, **options: Any) -> SnapshotCache:
        cache = open_cache(spec, **options)
        made.append(cache)
        return cache

    yield make
    for cache in made:
        await cache.close()


@pytest.fixture
def clock() -> Clock:
    """A wall clock that moves only when the test says so."""
    return Clock()


async def test_round_trip_through_redis(
    make_cache: Callable[..., SnapshotCache],
    redis_url: str,
    namespace: str,
    clock: Clock,
    control: aioredis.Redis,
) -> None:
    """A page stored by one cache is read back, equal, by another over the same Redis."""
    upstream = Upstream(clock)
    writer = make_cache(redis_url, namespace=namespace, clock=clock)
    fetched = await writer.get(QUERY, upstream.fetcher(QUERY))
    clock.advance(10)
    reader = make_cache(redis_url, namespace=namespace, clock=clock)
    page = await reader.get(QUERY, upstream.fetcher(QUERY))
    assert upstream.calls == 1
    assert page.from_cache
    assert page.items == fetched.items
    assert page.meta == fetched.meta
    assert page.query == QUERY
    assert page.fetched_at.timestamp() == pytest.approx(clock() - 10)
    clock.advance(601)
    upstream.as_of = AS_OF_2
    await reader.get(QUERY, upstream.fetcher(QUERY))
    history = await writer.history(QUERY)
    assert [p.as_of for p in history] == [
        make_page(QUERY, AS_OF_2).as_of,
        make_page(QUERY, AS_OF_1).as_of,
    ]
    ttl = await control.ttl(f"{namespace}:v{FORMAT}:pointer:{QUERY.key}")
    assert 0 < ttl <= 86400


async def test_clear_removes_this_namespace_only(
    make_cache: Callable[..., SnapshotCache],
    redis_url: str,
    namespace: str,
    clock: Clock,
    control: aioredis.Redis,
) -> None:
    """clear() deletes every key of its namespace and nothing else."""
    await control.set("unrelated-key", b"keep me")
    cache = make_cache(redis_url, namespace=namespace, clock=clock)
    await cache.get(QUERY, Upstream(clock).fetcher(QUERY))
    assert await cache.clear() == 2
    assert [key async for key in control.scan_iter(match=f"{namespace}:*")] == []
    assert await control.get("unrelated-key") == b"keep me"
    await control.delete("unrelated-key")


@pytest.mark.parametrize(
    "garbage",
    [
        b"\x80\x04\x95pickle?",
        b"not json at all",
        b'{"format": 0, "kind": "pointer"}',
        b'{"format": 1, "kind": "pointer", "query": {"source": "design-arena"}}',
    ],
    ids=["binary", "text", "old-format", "foreign"],
)
async def test_corrupt_values_are_misses_and_get_overwritten(
    make_cache: Callable[..., SnapshotCache],
    redis_url: str,
    namespace: str,
    clock: Clock,
    control: aioredis.Redis,
    garbage: bytes,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A pointer or page that is not ours counts as a miss (logged at debug) and is replaced."""
    upstream = Upstream(clock)
    cache = make_cache(redis_url, namespace=namespace, clock=clock)
    await cache.get(QUERY, upstream.fetcher(QUERY))
    pointer_key = f"{namespace}:v{FORMAT}:pointer:{QUERY.key}"
    page_key = f"{namespace}:v{FORMAT}:page:{QUERY.key}:{AS_OF_1}"
    for key in (pointer_key, page_key):
        await control.set(key, garbage)
        with caplog.at_level(logging.DEBUG, logger="openrouter_bench.cache"):
            page = await cache.get(QUERY, upstream.fetcher(QUERY))
        assert not page.from_cache
        assert "unreadable" in caplog.text
        assert await control.get(key) != garbage
        assert (await cache.get(QUERY, upstream.fetcher(QUERY))).from_cache
    assert upstream.calls == 3
    assert cache.stats.backend_errors == 0


async def test_a_user_configured_redis_cache_instance_works(
    redis_url: str, namespace: str, clock: Clock, control: aioredis.Redis
) -> None:
    """An aiocache RedisCache made by the caller (JSON serializer, own namespace) is used as is."""
    host, port = re.match(r"redis://([^:/]+):(\d+)", redis_url).groups()  # type: ignore[union-attr]
    backend = RedisCache(endpoint=host, port=int(port), namespace=namespace)
    upstream = Upstream(clock)
    cache = SnapshotCache(backend, namespace="inner", clock=clock)
    try:
        await cache.get(QUERY, upstream.fetcher(QUERY))
        hit = await cache.get(QUERY, upstream.fetcher(QUERY))
        keys = {key.decode() async for key in control.scan_iter(match=f"{namespace}:*")}
    finally:
        await cache.close()
        await backend.client.aclose()  # the caller's instance: the cache leaves it open
    assert hit.from_cache
    assert upstream.calls == 1
    assert keys == {
        f"{namespace}:inner:v{FORMAT}:pointer:{QUERY.key}",
        f"{namespace}:inner:v{FORMAT}:page:{QUERY.key}:{AS_OF_1}",
    }


async def test_no_trace_of_the_api_key_in_redis(
    make_cache: Callable[..., SnapshotCache],
    redis_url: str,
    namespace: str,
    clock: Clock,
    control: aioredis.Redis,
) -> None:
    """Keys hold only namespace, query and as_of; no key or value carries the client's secret."""
    upstream = Upstream(clock)
    cache = make_cache(redis_url, namespace=namespace, clock=clock)
    headers = {"Authorization": f"Bearer {CANARY}"}
    queries = [QUERY, Query(source="design-arena", category="svg"), Query()]
    for query in queries:
        # Like the client's fetch: it holds the key, and the cache only ever sees the callable.
        await cache.get(query, functools.partial(_fetch_with_key, upstream, query, headers))
    clock.advance(601)
    upstream.error = ServerError(f"failed; headers were {len(headers)}", status=503)
    for query in queries:
        assert (await cache.get(query, upstream.fetcher(query))).stale
    allowed = re.compile(
        rf"^{re.escape(namespace)}:v{FORMAT}:(pointer|page):"
        rf"({'|'.join(re.escape(q.key) for q in queries)})"
        r"(:\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)?$"
    )
    seen = 0
    async for key in control.scan_iter(count=1000):
        value = await control.get(key)
        assert CANARY.encode() not in key
        assert value is None or CANARY.encode() not in value
        if key.decode().startswith(namespace):
            seen += 1
            assert allowed.match(key.decode()), key
    assert seen == 6


async def test_redis_outage_mid_run_never_fails_a_get(
    make_cache: Callable[..., SnapshotCache],
    private_redis: RedisServer,
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Redis stopped mid-run: gets go upstream, one warning per outage, caching resumes."""
    upstream = Upstream(clock)
    cache = make_cache(private_redis.url, namespace="outage-test", clock=clock)
    await cache.get(QUERY, upstream.fetcher(QUERY))
    assert (await cache.get(QUERY, upstream.fetcher(QUERY))).from_cache
    private_redis.stop()
    clock.advance(601)
    with caplog.at_level(logging.INFO, logger="openrouter_bench.cache"):
        for _ in range(5):
            page = await cache.get(QUERY, upstream.fetcher(QUERY))
            assert not page.from_cache
            clock.advance(2)  # past the probe interval: each get tries Redis again
        private_redis.start()
        clock.advance(2)
        await cache.get(QUERY, upstream.fetcher(QUERY))
        hit = await cache.get(QUERY, upstream.fetcher(QUERY))
        private_redis.stop()
        clock.advance(601)
        await cache.get(QUERY, upstream.fetcher(QUERY))
    assert hit.from_cache
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    infos = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert len(warnings) == 2, warnings  # one per outage, not one per call
    assert all("failed" in message for message in warnings)
    assert len([message for message in infos if "is back" in message]) == 1
    assert upstream.calls == 8
    assert cache.stats.backend_errors >= 5


async def test_redis_down_from_the_start(
    make_cache: Callable[..., SnapshotCache], clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    """A Redis URL nobody answers on makes a cache that fetches every time, warning once."""
    upstream = Upstream(clock)
    cache = make_cache(f"redis://127.0.0.1:{free_port()}/0", namespace="down", clock=clock)
    with caplog.at_level(logging.WARNING, logger="openrouter_bench.cache"):
        for _ in range(3):
            assert not (await cache.get(QUERY, upstream.fetcher(QUERY))).from_cache
            clock.advance(2)
    assert upstream.calls == 3
    assert len(caplog.records) == 1


async def test_four_processes_share_one_fetch(
    redis_url: str, namespace: str, control: aioredis.Redis
) -> None:
    """4 processes x 100 concurrent identical gets make one upstream call in total."""
    workers = [
        await asyncio.create_subprocess_exec(
            *worker_command(redis_url, namespace, "burst", 4),
            stdout=asyncio.subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": _pythonpath()},
        )
        for _ in range(4)
    ]
    outputs = await asyncio.wait_for(
        asyncio.gather(*(worker.communicate() for worker in workers)), timeout=30
    )
    assert [worker.returncode for worker in workers] == [0, 0, 0, 0]
    assert int(await control.get(counter_key(namespace)) or 0) == 1
    fetches = [int(out.split()[0]) for out, _ in outputs]
    coalesced = [int(out.split()[1]) for out, _ in outputs]
    assert sorted(fetches) == [0, 0, 0, 1]
    assert sum(coalesced) >= 399 - 3  # a late process may find a fresh pointer and simply hit


async def test_a_dead_lease_holder_is_outwaited(
    make_cache: Callable[..., SnapshotCache],
    redis_url: str,
    namespace: str,
    control: aioredis.Redis,
) -> None:
    """A process killed while holding the lease stalls the others only until the lease expires."""
    holder = await asyncio.create_subprocess_exec(
        *worker_command(redis_url, namespace, "hang"),
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": _pythonpath()},
    )
    try:
        assert holder.stdout is not None
        line = await asyncio.wait_for(holder.stdout.readline(), timeout=15)
        assert line.strip() == b"holding"
    finally:
        holder.kill()
        await holder.wait()
    lease_key = f"{namespace}:v{FORMAT}:lease:{Query(source='artificial-analysis').key}"
    assert await control.exists(lease_key)
    upstream = Upstream()
    cache = make_cache(
        redis_url, namespace=namespace, policy=CachePolicy(lease_ttl=0.6, lease_wait=5.0)
    )
    query = Query(source="artificial-analysis")
    start = time.monotonic()
    page = await cache.get(query, upstream.fetcher(query))
    waited = time.monotonic() - start
    assert not page.from_cache
    assert upstream.calls == 1
    assert waited < 1.5  # the 0.6 s lease ran out; the wait did not run to lease_wait
    assert int(await control.get(counter_key(namespace)) or 0) == 1  # the dead holder's call
    assert not await control.exists(lease_key)  # released after the fetch


async def test_waiting_is_bounded_by_lease_wait(
    make_cache: Callable[..., SnapshotCache],
    redis_url: str,
    namespace: str,
    control: aioredis.Redis,
) -> None:
    """A lease that never comes free holds a caller back only for lease_wait, then it fetches."""
    lease_key = f"{namespace}:v{FORMAT}:lease:{QUERY.key}"
    await control.set(lease_key, b"someone-else", px=30_000)
    upstream = Upstream()
    cache = make_cache(
        redis_url, namespace=namespace, policy=CachePolicy(lease_ttl=30, lease_wait=0.3)
    )
    start = time.monotonic()
    page = await cache.get(QUERY, upstream.fetcher(QUERY))
    waited = time.monotonic() - start
    assert not page.from_cache
    assert upstream.calls == 1
    assert 0.25 <= waited < 1.5
    assert await control.get(lease_key) == b"someone-else"  # never freed by a non-holder


async def test_a_waiter_takes_the_holders_page(
    make_cache: Callable[..., SnapshotCache], redis_url: str, namespace: str, clock: Clock
) -> None:
    """While one cache holds the lease, another waits and serves the page it stores."""
    holder = make_cache(redis_url, namespace=namespace, clock=clock)
    waiter = make_cache(redis_url, namespace=namespace, clock=clock)
    slow = Upstream(clock)
    slow.gate = asyncio.Event()
    fast = Upstream(clock)
    holding = asyncio.create_task(holder.get(QUERY, slow.fetcher(QUERY)))
    await slow.started.wait()
    waiting = asyncio.create_task(waiter.get(QUERY, fast.fetcher(QUERY)))
    await asyncio.sleep(0.15)
    slow.gate.set()
    fetched, served = await asyncio.gather(holding, waiting)
    assert fast.calls == 0
    assert served.from_cache
    assert served.items == fetched.items
    assert waiter.stats.coalesced == 1


async def test_stale_serve_through_redis(
    make_cache: Callable[..., SnapshotCache], redis_url: str, namespace: str, clock: Clock
) -> None:
    """A transient failure serves the Redis-stored snapshot flagged stale."""
    upstream = Upstream(clock)
    cache = make_cache(redis_url, namespace=namespace, clock=clock)
    await cache.get(QUERY, upstream.fetcher(QUERY))
    clock.advance(601)
    upstream.error = ServerError("bad gateway", status=502)
    page = await cache.get(QUERY, upstream.fetcher(QUERY))
    assert page.stale
    assert page.from_cache


async def test_redis_hit_latency(
    make_cache: Callable[..., SnapshotCache], redis_url: str, namespace: str
) -> None:
    """A Redis hit (pointer + page, decoded) costs well under a millisecond on loopback."""
    upstream = Upstream()
    cache = make_cache(redis_url, namespace=namespace)
    await cache.get(QUERY, upstream.fetcher(QUERY))
    fetch = upstream.fetcher(QUERY)
    samples = []
    for _ in range(300):
        start = time.perf_counter()
        await cache.get(QUERY, fetch)
        samples.append(time.perf_counter() - start)
    assert upstream.calls == 1
    assert statistics.median(samples) < 2e-3


async def _fetch_with_key(upstream: Upstream, query: Query, headers: dict[str, str]) -> Page:
    assert headers["Authorization"].endswith(CANARY)
    return await upstream.fetcher(query)()


def _pythonpath() -> str:
    root = Path(__file__).resolve().parent.parent
    existing = os.environ.get("PYTHONPATH")
    return os.pathsep.join([str(root), *([existing] if existing else [])])


def _renewals() -> list[asyncio.Task[Any]]:
    """The lease-renewal tasks running now."""
    return [
        task
        for task in asyncio.all_tasks()
        if getattr(task.get_coro(), "__qualname__", "") == "SnapshotCache._keep_lease"
    ]


async def test_a_fetch_longer_than_the_lease_keeps_it(
    make_cache: Callable[..., SnapshotCache],
    redis_url: str,
    namespace: str,
    control: aioredis.Redis,
) -> None:
    """A fetch lasting 4 lease lifetimes renews its lease: another cache waits, never fetches."""
    policy = CachePolicy(lease_ttl=0.5, lease_wait=5.0)
    holder = make_cache(redis_url, namespace=namespace, policy=policy)
    waiter = make_cache(redis_url, namespace=namespace, policy=policy)
    slow = Upstream()
    slow.gate = asyncio.Event()
    fast = Upstream()
    lease_key = f"{namespace}:v{FORMAT}:lease:{QUERY.key}"
    holding = asyncio.create_task(holder.get(QUERY, slow.fetcher(QUERY)))
    await slow.started.wait()
    waiting = asyncio.create_task(waiter.get(QUERY, fast.fetcher(QUERY)))
    await asyncio.sleep(2.0)
    assert 0 < await control.pttl(lease_key) <= 500
    assert fast.calls == 0
    slow.gate.set()
    fetched, served = await asyncio.wait_for(asyncio.gather(holding, waiting), timeout=5)
    assert fast.calls == 0
    assert served.items == fetched.items
    assert not await control.exists(lease_key)
    assert _renewals() == []


async def test_renewal_stops_when_the_fetch_is_cancelled(
    make_cache: Callable[..., SnapshotCache],
    redis_url: str,
    namespace: str,
    control: aioredis.Redis,
) -> None:
    """Cancelling the only caller ends the renewal and frees the lease at once."""
    cache = make_cache(redis_url, namespace=namespace, policy=CachePolicy(lease_ttl=0.3))
    slow = Upstream()
    slow.gate = asyncio.Event()
    lease_key = f"{namespace}:v{FORMAT}:lease:{QUERY.key}"
    holding = asyncio.create_task(cache.get(QUERY, slow.fetcher(QUERY)))
    await slow.started.wait()
    await asyncio.sleep(0.25)
    assert len(_renewals()) == 1
    holding.cancel()
    with pytest.raises(asyncio.CancelledError):
        await holding
    for _ in range(100):  # bounded: the work task unwinds within a few loop turns
        if not _renewals():
            break
        await asyncio.sleep(0.01)
    assert _renewals() == []
    assert slow.cancelled == 1
    assert not await control.exists(lease_key)


async def test_a_lost_lease_is_not_renewed(
    make_cache: Callable[..., SnapshotCache],
    redis_url: str,
    namespace: str,
    control: aioredis.Redis,
) -> None:
    """Once another process holds the lease (ours lapsed), the renewal stops and leaves it be."""
    cache = make_cache(redis_url, namespace=namespace, policy=CachePolicy(lease_ttl=0.3))
    slow = Upstream()
    slow.gate = asyncio.Event()
    lease_key = f"{namespace}:v{FORMAT}:lease:{QUERY.key}"
    holding = asyncio.create_task(cache.get(QUERY, slow.fetcher(QUERY)))
    await slow.started.wait()
    await control.set(lease_key, b"another-process", px=5_000)
    await asyncio.sleep(0.5)
    assert _renewals() == []
    assert await control.pttl(lease_key) > 4_000
    slow.gate.set()
    await asyncio.wait_for(holding, timeout=5)
    assert await control.get(lease_key) == b"another-process"


async def test_the_lease_wait_takes_at_most_half_the_calls_deadline(
    make_cache: Callable[..., SnapshotCache],
    redis_url: str,
    namespace: str,
    control: aioredis.Redis,
) -> None:
    """A lease that will not come free holds a call for half its deadline, not lease_wait."""
    lease_key = f"{namespace}:v{FORMAT}:lease:{QUERY.key}"
    await control.set(lease_key, b"someone-else", px=30_000)
    upstream = Upstream()
    cache = make_cache(redis_url, namespace=namespace, policy=CachePolicy(lease_wait=15.0))
    start = time.monotonic()
    page = await cache.get(QUERY, upstream.fetcher(QUERY), deadline=1.0)
    waited = time.monotonic() - start
    assert not page.from_cache
    assert upstream.calls == 1
    assert 0.45 <= waited < 1.5


async def test_a_lease_that_never_expires_is_not_waited_for(
    make_cache: Callable[..., SnapshotCache],
    redis_url: str,
    namespace: str,
    control: aioredis.Redis,
) -> None:
    """A lease key without expiry is no holder's of ours: the call fetches at once, leaves it."""
    lease_key = f"{namespace}:v{FORMAT}:lease:{QUERY.key}"
    await control.set(lease_key, b"planted")
    upstream = Upstream()
    cache = make_cache(redis_url, namespace=namespace, policy=CachePolicy(lease_wait=5.0))
    start = time.monotonic()
    page = await cache.get(QUERY, upstream.fetcher(QUERY))
    assert time.monotonic() - start < 0.5
    assert not page.from_cache
    assert upstream.calls == 1
    assert await control.get(lease_key) == b"planted"


async def test_a_huge_value_at_the_pointer_key_is_read_only_up_to_the_cap(
    make_cache: Callable[..., SnapshotCache],
    redis_url: str,
    namespace: str,
    clock: Clock,
    control: aioredis.Redis,
) -> None:
    """16 MiB at the pointer key: Redis sends only the cap's worth, the call misses, no outage."""
    upstream = Upstream(clock)
    cache = make_cache(redis_url, namespace=namespace, clock=clock)
    await cache.get(QUERY, upstream.fetcher(QUERY))
    pointer_key = f"{namespace}:v{FORMAT}:pointer:{QUERY.key}"
    await control.set(pointer_key, b"[" * (16 * 1024 * 1024))
    sent_before = (await control.info("stats"))["total_net_output_bytes"]
    page = await cache.get(QUERY, upstream.fetcher(QUERY))
    sent = (await control.info("stats"))["total_net_output_bytes"] - sent_before
    assert sent < 4 * MAX_POINTER_BYTES  # the pointer's head, a page write's replies, INFO
    assert not page.from_cache
    assert (await cache.get(QUERY, upstream.fetcher(QUERY))).from_cache
    assert await control.strlen(pointer_key) < MAX_POINTER_BYTES
    assert cache.stats.backend_errors == 0
