"""Cross-process leases over a real Redis: one fetch for several processes, renewal, waiting.

These tests read the server's URL from ``REDIS_URL``. Without it they are
skipped, except under ``CI=true`` where a missing Redis is a failure.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from openrouter_bench.cache import CachePolicy, SnapshotCache
from openrouter_bench.cache._codec import FORMAT
from openrouter_bench.query import Query
from tests._cache_fixtures import (
    Clock,
    Upstream,
    counter_key,
    worker_command,
)

pytestmark = pytest.mark.redis

QUERY = Query(source="artificial-analysis", task_type="coding")

CANARY = "sk-or-v1-cache-canary-0d9e8f7a6b5c4d3e2f1a"


def _pythonpath() -> str:
    root = Path(__file__).resolve().parent.parent.parent
    existing = os.environ.get("PYTHONPATH")
    return os.pathsep.join([str(root), *([existing] if existing else [])])


def _renewals() -> list[asyncio.Task[Any]]:
    """The lease-renewal tasks running now."""
    return [
        task
        for task in asyncio.all_tasks()
        if getattr(task.get_coro(), "__qualname__", "") == "RedisLeases.hold"
    ]


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
