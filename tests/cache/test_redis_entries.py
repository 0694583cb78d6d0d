"""Entries in a real Redis: round trips, clearing, corruption, outages, the API key kept out.

These tests read the server's URL from ``REDIS_URL``. Without it they are
skipped, except under ``CI=true`` where a missing Redis is a failure.
"""

from __future__ import annotations

import functools
import logging
import re
import statistics
import time
from collections.abc import Callable

import pytest
import redis.asyncio as aioredis
from aiocache import RedisCache

from openrouter_bench.cache import CachePolicy, SnapshotCache
from openrouter_bench.cache._codec import FORMAT, MAX_POINTER_BYTES
from openrouter_bench.errors import ServerError
from openrouter_bench.fake import RedisServer, free_port
from openrouter_bench.models import Page
from openrouter_bench.query import Query
from tests._cache_fixtures import (
    AS_OF_1,
    AS_OF_2,
    Clock,
    Upstream,
    make_page,
)

pytestmark = pytest.mark.redis

QUERY = Query(source="artificial-analysis", task_type="coding")

CANARY = "sk-or-v1-cache-canary-0d9e8f7a6b5c4d3e2f1a"


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
    # No near cache: it would answer from this process's decoded page, not the planted one.
    policy = CachePolicy(near_bytes=0)
    cache = make_cache(redis_url, namespace=namespace, clock=clock, policy=policy)
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


async def test_a_redis_cache_exposes_the_client_it_uses(
    make_cache: Callable[..., SnapshotCache], redis_url: str, namespace: str, clock: Clock
) -> None:
    """SnapshotCache.redis_client is the backend's own redis-py client, the one the quota shares."""
    cache = make_cache(redis_url, namespace=namespace, clock=clock)
    assert isinstance(cache.redis_client, aioredis.Redis)
    assert cache.backend is not None
    assert cache.redis_client is cache.backend.client
    assert await cache.redis_client.ping()
