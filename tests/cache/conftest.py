"""Fixtures of the cache's tests: a clock, a counting fetch, a memory cache; Redis ones."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis

from openrouter_bench.cache import CachePolicy, SnapshotCache, open_cache
from tests._cache_fixtures import Clock, Upstream

NAMESPACE = "openrouter-bench:v1:test.invalid"


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
