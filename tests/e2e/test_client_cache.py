"""BenchmarksClient and its snapshot cache end to end, against the fake server.

Freshness runs on an injected wall clock (``FakeTime``), retries on a
zero-wait policy. The Redis tests read ``REDIS_URL`` and the memcached test
``MEMCACHED_URL``; without them they skip, except under ``CI=true``.

Run as a script, this file is one worker process of the cross-process test:
``python tests/e2e/test_client_cache.py BASE_URL REDIS_URL MAX_RESULTS``.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from openrouter_bench import (
    AuthenticationError,
    BadRequestError,
    BenchmarksClient,
    CachePolicy,
    ConfigurationError,
    NotFoundError,
    OpenRouterBenchError,
    Page,
    Query,
    RateLimitError,
    ResponseFormatError,
    RetryPolicy,
    ServerError,
    TransportError,
)
from openrouter_bench._convert import unstructure_page
from openrouter_bench.fake import FakeOpenRouter, FakeTime
from tests.conftest import CANARY_KEY

ATTEMPTS = 3
TTL = 60.0
STALE_WINDOW = 300.0
QUERY = Query(source="design-arena", category="gamedev", max_results=8)
REPO = Path(__file__).resolve().parents[2]


def same_data(page: Page, document: dict[str, Any]) -> bool:
    """True when the page holds exactly the server's document."""
    return unstructure_page(page) == document


@pytest.fixture
def make_client(fake: FakeOpenRouter, fake_time: FakeTime) -> Callable[..., BenchmarksClient]:
    """BenchmarksClient against the fake, on the fake clock, with zero-wait retries."""

    def make(**options: Any) -> BenchmarksClient:
        options.setdefault("base_url", fake.url)
        options.setdefault("retry", RetryPolicy.no_wait(attempts=ATTEMPTS))
        options.setdefault("ttl", TTL)
        options.setdefault("stale_if_error", STALE_WINDOW)
        options.setdefault("clock", fake_time.time)
        return BenchmarksClient(CANARY_KEY, **options)

    return make


def statuses(fake: FakeOpenRouter) -> list[int | str]:
    return [record.status for record in fake.requests]


# Freshness, history and coalescing (the memory cache).


async def test_a_repeat_within_ttl_sends_nothing(
    fake: FakeOpenRouter, fake_time: FakeTime, make_client: Callable[..., BenchmarksClient]
) -> None:
    """Within ttl every repeat is a hit: the server sees one request."""
    async with make_client() as client:
        first = await client.get(QUERY)
        fake_time.advance(TTL - 1)
        repeats = [await client.get(QUERY) for _ in range(5)]
    assert len(fake.requests) == 1
    assert not first.from_cache
    assert all(page.from_cache and not page.stale for page in repeats)
    assert all(page.items == first.items for page in repeats)
    assert same_data(repeats[-1], fake.payload(QUERY.params))


async def test_an_unchanged_as_of_after_ttl_keeps_one_snapshot(
    fake: FakeOpenRouter, fake_time: FakeTime, make_client: Callable[..., BenchmarksClient]
) -> None:
    """Past ttl the client asks again; the same as_of keeps a single snapshot in history."""
    async with make_client() as client:
        await client.get(QUERY)
        fake_time.advance(TTL + 1)
        again = await client.get(QUERY)
        hit = await client.get(QUERY)
        history = await client.history(QUERY)
    assert len(fake.requests) == 2
    assert not again.from_cache
    assert hit.from_cache
    assert [page.as_of for page in history] == [fake.as_of]


async def test_a_new_snapshot_arrives_after_ttl_and_history_keeps_both(
    fake: FakeOpenRouter, fake_time: FakeTime, make_client: Callable[..., BenchmarksClient]
) -> None:
    """publish(): the old page serves until ttl passes, then one request brings the new one."""
    old_as_of = fake.as_of
    async with make_client() as client:
        old = await client.get(QUERY)
        new_as_of = fake.publish()
        fake_time.advance(TTL / 2)
        still_old = await client.get(QUERY)
        fake_time.advance(TTL / 2 + 1)
        new = await client.get(QUERY)
        history = await client.history(QUERY)
        history_by_keywords = await client.history(
            source="design-arena", category="gamedev", max_results=8
        )
    assert len(fake.requests) == 2
    assert still_old.from_cache
    assert still_old.as_of == old.as_of == old_as_of
    assert new.as_of == new_as_of
    assert not new.from_cache
    assert same_data(new, fake.payload(QUERY.params))
    assert not same_data(new, fake.payload_at(old_as_of, QUERY.params))
    assert [page.as_of for page in history] == [new_as_of, old_as_of]
    assert same_data(history[0], fake.payload(QUERY.params))
    assert same_data(history[1], fake.payload_at(old_as_of, QUERY.params))
    assert all(page.from_cache for page in history)
    assert [page.as_of for page in history_by_keywords] == [new_as_of, old_as_of]


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
async def test_a_thousand_concurrent_calls_on_a_cold_cache_send_one_request(
    fake: FakeOpenRouter,
    make_client: Callable[..., BenchmarksClient],
    tmp_path: Path,
    backend: str,
) -> None:
    """1,000 identical calls at once share one request; the next 1,000 are all hits."""
    cache = "memory" if backend == "memory" else f"sqlite:///{tmp_path / 'cache.db'}"
    async with make_client(cache=cache) as client:
        burst = await asyncio.gather(*(client.get(QUERY) for _ in range(1000)))
        after_burst = client.stats
        hits = await asyncio.gather(*(client.get(QUERY) for _ in range(1000)))
        stats = client.stats
    assert len(fake.requests) == 1
    assert all(page.items == burst[0].items for page in burst)
    assert same_data(burst[0], fake.payload(QUERY.params))
    assert after_burst.requests == 1
    assert after_burst.misses == 1000
    assert after_burst.coalesced == 999
    assert after_burst.hits == 0
    assert all(page.from_cache for page in hits)
    assert stats.hits == 1000
    assert stats.requests == 1


async def test_max_age_per_call(
    fake: FakeOpenRouter, fake_time: FakeTime, make_client: Callable[..., BenchmarksClient]
) -> None:
    """max_age replaces ttl for one call, shorter or longer, without changing the default."""
    async with make_client() as client:
        await client.get(QUERY)
        fake_time.advance(30)
        shorter = await client.get(QUERY, max_age=10)
        fake_time.advance(TTL + 30)
        longer = await client.get(QUERY, max_age=TTL * 3)
        default = await client.get(QUERY)
        zero = await client.get(QUERY, max_age=0)
    assert not shorter.from_cache
    assert longer.from_cache
    assert not default.from_cache
    assert not zero.from_cache
    assert len(fake.requests) == 4


async def test_refresh_asks_the_server_even_when_fresh(
    fake: FakeOpenRouter, make_client: Callable[..., BenchmarksClient]
) -> None:
    """refresh=True sends a request for a fresh query and the result is cached for later calls."""
    async with make_client() as client:
        await client.get(QUERY)
        fake.publish()
        refreshed = await client.get(QUERY, refresh=True)
        cached = await client.get(QUERY)
    assert len(fake.requests) == 2
    assert not refreshed.from_cache
    assert refreshed.as_of == fake.as_of
    assert cached.from_cache
    assert cached.as_of == fake.as_of


# Stale-if-error.


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        pytest.param(503, ServerError, id="503"),
        pytest.param(500, ServerError, id="500"),
        pytest.param("html502", ServerError, id="html502"),
        pytest.param(429, RateLimitError, id="429"),
        pytest.param(("reset", "reset"), TransportError, id="reset"),
    ],
)
async def test_stale_if_error_inside_and_outside_the_window(
    fake: FakeOpenRouter,
    fake_time: FakeTime,
    make_client: Callable[..., BenchmarksClient],
    fault: int | str | tuple[str, ...],
    error: type[OpenRouterBenchError],
) -> None:
    """A transient failure is masked by the last page within the window, and raised past it."""
    per_attempt = list(fault) if isinstance(fault, tuple) else [fault]
    async with make_client() as client:
        fresh = await client.get(QUERY)
        fake_time.advance(TTL + 1)
        fake.script(*per_attempt * ATTEMPTS)
        stale = await client.get(QUERY)
        fake_time.advance(STALE_WINDOW)
        fake.script(*per_attempt * ATTEMPTS)
        with pytest.raises(error) as raised:
            await client.get(QUERY)
        recovered = await client.get(QUERY)
        stats = client.stats
    assert stale.stale
    assert stale.from_cache
    assert stale.items == fresh.items
    assert stale.as_of == fresh.as_of
    assert raised.value.attempts == ATTEMPTS
    assert not recovered.stale
    assert not recovered.from_cache
    assert stats.stale_serves == 1
    assert len(fake.requests) == 1 + 2 * ATTEMPTS * len(per_attempt) + 1


async def test_stale_if_error_zero_turns_stale_serves_off(
    fake: FakeOpenRouter, fake_time: FakeTime, make_client: Callable[..., BenchmarksClient]
) -> None:
    """With stale_if_error=0 a failed refresh raises even though an older page is stored."""
    async with make_client(stale_if_error=0) as client:
        await client.get(QUERY)
        fake_time.advance(TTL + 1)
        fake.script(*[503] * ATTEMPTS)
        with pytest.raises(ServerError):
            await client.get(QUERY)
        assert client.stats.stale_serves == 0


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        pytest.param(400, BadRequestError, id="400"),
        pytest.param(401, AuthenticationError, id="401"),
        pytest.param(403, AuthenticationError, id="403"),
        pytest.param(404, NotFoundError, id="404"),
        pytest.param("malformed", ResponseFormatError, id="malformed"),
    ],
)
async def test_definite_errors_are_never_masked_by_a_stale_page(
    fake: FakeOpenRouter,
    fake_time: FakeTime,
    make_client: Callable[..., BenchmarksClient],
    fault: int | str,
    error: type[OpenRouterBenchError],
) -> None:
    """400, 401/403, 404 and a malformed answer reach the caller although a stale page exists."""
    async with make_client() as client:
        await client.get(QUERY)
        fake_time.advance(TTL + 1)
        fake.script(fault)
        with pytest.raises(error):
            await client.get(QUERY)
        stats = client.stats
    assert statuses(fake) == [200, fault]
    assert stats.stale_serves == 0


# The counters.


async def test_stats_count_what_happened(
    fake: FakeOpenRouter, fake_time: FakeTime, make_client: Callable[..., BenchmarksClient]
) -> None:
    """hits, misses, coalesced, stale serves, requests and retries match a scripted session."""
    other = Query(source="artificial-analysis", task_type="coding")
    async with make_client() as client:
        await client.get(QUERY)  # miss, 1 request
        await client.get(QUERY)  # hit
        await asyncio.gather(*(client.get(other) for _ in range(10)))  # 10 misses, 9 joined
        fake_time.advance(TTL + 1)
        fake.script(*[503] * ATTEMPTS)
        await client.get(QUERY)  # miss served stale, 3 requests
        await client.get(QUERY)  # miss, 1 request
        await client.get(QUERY, refresh=True)  # miss, 1 request
        await client.get(other)  # miss (expired), 1 request
        stats = client.stats
    assert stats.requests == len(fake.requests) == 8
    assert stats.hits == 1
    assert stats.misses == 15
    assert stats.coalesced == 9
    assert stats.stale_serves == 1
    assert stats.retries == ATTEMPTS - 1
    assert stats.cache_errors == 0


async def test_retries_count_only_retries_when_calls_overlap(
    fake: FakeOpenRouter, make_client: Callable[..., BenchmarksClient]
) -> None:
    """Three different queries fetched at once, none failing, make no retries."""
    queries = [QUERY, Query(source="artificial-analysis"), Query(source="openrouter")]
    async with make_client() as client:
        await asyncio.gather(*(client.get(query) for query in queries))
        stats = client.stats
    assert stats.requests == 3
    assert stats.retries == 0


# memcached.


async def test_round_trip_through_memcached(
    fake: FakeOpenRouter, make_client: Callable[..., BenchmarksClient], memcached_url: str
) -> None:
    """cache='memcached://...' stores the page; a second client reads it back with no request."""
    # A max_results of this run alone: memcached may keep entries of earlier runs.
    query = QUERY.evolve(max_results=1000 + time.time_ns() % 1_000_000)
    async with make_client(cache=memcached_url) as first:
        fetched = await first.get(query)
    async with make_client(cache=memcached_url) as second:
        cached = await second.get(query)
        stats = second.stats
    assert len(fake.requests) == 1
    assert cached.from_cache
    assert cached.items == fetched.items
    assert same_data(cached, fake.payload(query.params))
    assert stats.hits == 1
    assert stats.cache_errors == 0


# Redis.


@pytest.fixture
async def control(redis_url: str) -> AsyncIterator[Any]:
    """A plain redis-py client for reading and tampering with what the clients stored."""
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def apis(control: Any) -> AsyncIterator[list[str]]:
    """Base URLs the test's clients used with Redis; every key naming one is removed after.

    Cached pages and the shared quota ledger both name their API (host, port,
    path), and a later test's fake may get the same port.
    """
    used: list[str] = []
    yield used
    for base_url in used:
        parts = urlsplit(base_url)
        pattern = f"*{parts.netloc}{parts.path}*"
        keys = [key async for key in control.scan_iter(match=pattern)]
        if keys:
            await control.delete(*keys)


async def stored_keys(control: Any, namespace: str) -> list[bytes]:
    return sorted([key async for key in control.scan_iter(match=f"{namespace}:*")])


@pytest.mark.redis
async def test_two_apis_never_mix_pages_in_one_redis(
    fake: FakeOpenRouter,
    make_client: Callable[..., BenchmarksClient],
    redis_url: str,
    apis: list[str],
) -> None:
    """Two fakes with different data behind one Redis: each client only ever sees its own."""
    async with FakeOpenRouter(seed=8, per_minute=None, per_day=None) as other_fake:
        assert fake.payload(QUERY.params) != other_fake.payload(QUERY.params)
        async with (
            make_client(cache=redis_url) as mine,
            make_client(cache=redis_url, base_url=other_fake.url) as theirs,
        ):
            apis.extend([fake.url, other_fake.url])
            assert mine.cache.namespace != theirs.cache.namespace
            for _ in range(2):
                assert same_data(await mine.get(QUERY), fake.payload(QUERY.params))
                assert same_data(await theirs.get(QUERY), other_fake.payload(QUERY.params))
            mine_history = await mine.history(QUERY)
            their_history = await theirs.history(QUERY)
        assert len(other_fake.requests) == 1
    assert len(fake.requests) == 1
    assert same_data(mine_history[0], fake.payload(QUERY.params))
    assert same_data(their_history[0], other_fake.payload(QUERY.params))


@pytest.mark.redis
async def test_corrupt_values_in_redis_are_misses_and_get_overwritten(
    fake: FakeOpenRouter,
    make_client: Callable[..., BenchmarksClient],
    redis_url: str,
    control: Any,
    apis: list[str],
) -> None:
    """Garbage under the client's keys costs one request, is replaced, and then hits again."""
    garbage = [b"\x80\x04not-json", b"{}", b'{"format": 1, "kind": "pointer"}', b"[1, 2]"]
    async with make_client(cache=redis_url) as client:
        apis.append(fake.url)
        await client.get(QUERY)
        keys = await stored_keys(control, client.cache.namespace)
        assert len(keys) == 2  # a pointer and a page
        for value in garbage:
            for key in keys:
                await control.set(key, value)
            page = await client.get(QUERY)
            assert not page.from_cache
            assert same_data(page, fake.payload(QUERY.params))
            assert value not in [await control.get(key) for key in keys]
            assert (await client.get(QUERY)).from_cache
        stats = client.stats
    assert len(fake.requests) == 1 + len(garbage)
    assert stats.hits == len(garbage)


@pytest.mark.redis
async def test_no_trace_of_the_key_anywhere_in_redis(
    fake: FakeOpenRouter,
    fake_time: FakeTime,
    make_client: Callable[..., BenchmarksClient],
    redis_url: str,
    control: Any,
    apis: list[str],
) -> None:
    """After fetches, a publish, a stale serve and errors, no Redis key or value holds the key."""
    queries = [QUERY, Query(source="artificial-analysis"), Query(task_type="search")]
    async with make_client(cache=redis_url) as client:
        apis.append(fake.url)
        for query in queries:
            await client.get(query)
        fake.publish()
        fake_time.advance(TTL + 1)
        await client.get(queries[0])
        fake.script(*[503] * ATTEMPTS)
        assert (await client.get(queries[1])).stale
        fake.script(401)
        with pytest.raises(AuthenticationError):
            await client.get(queries[2])
        kinds = {
            key.decode().removeprefix(client.cache.namespace + ":").split(":")[1]
            for key in await stored_keys(control, client.cache.namespace)
        }
    assert kinds == {"pointer", "page"}
    secrets = (CANARY_KEY.encode(), CANARY_KEY[-20:].encode())
    scanned = 0
    async for key in control.scan_iter(count=1000):
        scanned += 1
        for value in await _every_value(control, key):
            assert all(secret not in key and secret not in value for secret in secrets), key
    assert scanned >= 7


async def _every_value(control: Any, key: bytes) -> list[bytes]:
    """Every byte string stored under ``key``, whatever its Redis type."""
    kind = (await control.type(key)).decode()
    if kind == "string":
        value = await control.get(key)
        return [] if value is None else [value]
    if kind == "hash":
        pairs = await control.hgetall(key)
        return [part for pair in pairs.items() for part in pair]
    if kind == "list":
        return list(await control.lrange(key, 0, -1))
    if kind == "set":
        return list(await control.smembers(key))
    if kind == "zset":
        return list(await control.zrange(key, 0, -1))
    return []


@pytest.mark.redis
async def test_redis_killed_and_restarted_mid_run_fails_no_call(
    fake: FakeOpenRouter,
    fake_time: FakeTime,
    make_client: Callable[..., BenchmarksClient],
    private_redis: Any,
) -> None:
    """Redis killed under calls in flight and between rounds: no call fails, caching resumes."""
    queries = [QUERY, Query(source="artificial-analysis"), Query(source="openrouter")]
    pages: list[Page] = []

    def check(query: Query, results: list[Page]) -> None:
        assert all(page.items == results[0].items for page in results)
        assert same_data(results[0], fake.payload(query.params))
        pages.extend(results)

    async def round_of_calls() -> None:
        for query in queries:
            check(query, await asyncio.gather(*(client.get(query) for _ in range(20))))
        fake_time.advance(2)  # past the cache's probe interval

    async with make_client(cache=private_redis.url) as client:
        await round_of_calls()
        before = len(fake.requests)
        await round_of_calls()
        assert len(fake.requests) == before  # all hits while Redis is up
        # Expired, so the next calls refresh: Redis dies while they wait on a slow answer.
        fake_time.advance(TTL)
        fake.script({"fault": "slow_body", "delay": 0.3})
        in_flight = asyncio.gather(*(client.get(QUERY) for _ in range(20)))
        async with asyncio.timeout(10):
            while len(fake.requests) == before:  # noqa: ASYNC110  # the server is in this loop
                await asyncio.sleep(0.01)
        private_redis.stop()
        check(QUERY, await in_flight)
        fake_time.advance(2)
        killed = len(fake.requests)
        for _ in range(3):
            await round_of_calls()
        down = len(fake.requests) - killed
        private_redis.start()  # empty: the server keeps nothing on disk
        await round_of_calls()
        after_restart = len(fake.requests)
        await round_of_calls()
        stats = client.stats
    assert killed == before + 1
    assert down == 3 * len(queries)  # one per query per round, never one per call
    assert len(fake.requests) == after_restart  # cached again after the restart
    assert len(pages) == (7 * len(queries) + 1) * 20
    assert stats.cache_errors >= 1


@pytest.mark.redis
async def test_four_processes_with_clients_send_one_request(
    fake: FakeOpenRouter, redis_url: str, apis: list[str]
) -> None:
    """4 processes, each a client making 100 identical calls at once, send 1 request together."""
    apis.append(fake.url)
    max_results = str(1000 + time.time_ns() % 1_000_000)
    # The one request is slow, so every process is surely waiting on it.
    fake.script({"fault": "slow_body", "delay": 0.5})
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("OPENROUTER_API_KEY", None)
    workers = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            fake.url,
            redis_url,
            max_results,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=env,
        )
        for _ in range(4)
    ]
    try:
        async with asyncio.timeout(60):
            for worker in workers:
                assert worker.stdout is not None
                assert (await worker.stdout.readline()).strip() == b"ready"
            started = time.perf_counter()
            outputs = await asyncio.gather(*(worker.communicate(b"go\n") for worker in workers))
            elapsed = time.perf_counter() - started
    finally:
        for worker in workers:
            if worker.returncode is None:
                worker.kill()
                await worker.wait()
    assert [worker.returncode for worker in workers] == [0, 0, 0, 0]
    reports = [json.loads(out) for out, _ in outputs]
    assert len(fake.requests) == 1
    assert sorted(report["requests"] for report in reports) == [0, 0, 0, 1]
    # Each call was the fetch, shared one (here or in another process), or a hit on its page.
    assert all(
        report["requests"] + report["coalesced"] + report["hits"] == report["calls"] == 100
        for report in reports
    )
    assert len({report["first_item"] for report in reports}) == 1
    assert elapsed < 30


async def _burst_worker(base_url: str, redis_url: str, max_results: int) -> None:
    """One process of the cross-process test: a client, 100 identical calls when told to go."""
    query = QUERY.evolve(max_results=max_results)
    async with BenchmarksClient(
        CANARY_KEY, base_url=base_url, cache=redis_url, retry=RetryPolicy.no_wait(attempts=1)
    ) as client:
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        pages = await asyncio.gather(*(client.get(query) for _ in range(100)))
        assert all(page.items == pages[0].items for page in pages)
        stats = client.stats
    first = pages[0].items[0]
    report = {
        "calls": len(pages),
        "requests": stats.requests,
        "coalesced": stats.coalesced,
        "hits": stats.hits,
        "first_item": getattr(first, "model_permaslug", None),
        "as_of": pages[0].as_of.isoformat(),
    }
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    worker_base_url, worker_redis_url, worker_max_results = sys.argv[1:]
    asyncio.run(_burst_worker(worker_base_url, worker_redis_url, int(worker_max_results)))


# The cache's settings: one policy, and two keywords laid over it.


async def test_every_cache_setting_reaches_the_cache_through_cache_policy() -> None:
    """A CachePolicy given to the client is the cache's policy, lease settings included."""
    policy = CachePolicy(
        ttl=30, stale_if_error=90, history=4, max_entries=50, lease_ttl=3, lease_wait=4
    )
    async with BenchmarksClient("key", cache=None, quota=None, cache_policy=policy) as client:
        assert client.cache.policy == policy


async def test_without_a_policy_the_cache_has_the_default_one() -> None:
    """No cache_policy and no keyword: CachePolicy() as it is."""
    async with BenchmarksClient("key", cache=None, quota=None) as client:
        assert client.cache.policy == CachePolicy()


async def test_ttl_and_stale_if_error_keywords_win_over_the_policy() -> None:
    """ttl= and stale_if_error= replace those fields of cache_policy; the others stay."""
    policy = CachePolicy(ttl=30, stale_if_error=90, history=4, lease_wait=4)
    async with BenchmarksClient(
        "key", cache=None, quota=None, cache_policy=policy, ttl=5, stale_if_error=0
    ) as client:
        assert client.cache.policy == CachePolicy(ttl=5, stale_if_error=0, history=4, lease_wait=4)
    async with BenchmarksClient("key", cache=None, quota=None, ttl=7) as client:
        assert client.cache.policy == CachePolicy(ttl=7)


def test_a_cache_policy_of_another_type_is_refused() -> None:
    """cache_policy must be a CachePolicy: a dict of its fields is a ConfigurationError."""
    with pytest.raises(ConfigurationError, match=r"^cache_policy must be a CachePolicy or None"):
        BenchmarksClient("key", cache=None, cache_policy={"ttl": 5})  # type: ignore[arg-type]
