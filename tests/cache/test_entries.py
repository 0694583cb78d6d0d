"""The storage adapters: object and byte entries, unreadable values, what a backend cannot hold."""

from __future__ import annotations

import functools
import logging
from pathlib import Path

import attrs
import pytest
from aiocache import SimpleMemoryCache

from openrouter_bench.cache import CachePolicy, SnapshotCache, open_cache
from openrouter_bench.cache._codec import (
    FORMAT,
    BytesSerializer,
)
from openrouter_bench.cache._sqlite import SQLiteCache
from openrouter_bench.errors import ConfigurationError
from openrouter_bench.models import Page
from openrouter_bench.query import Query
from tests._cache_fixtures import Clock, Upstream, make_page
from tests.cache._stored import pointer_bytes

NAMESPACE = "openrouter-bench:v1:test.invalid"

QUERY = Query(source="artificial-analysis", task_type="coding")


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


async def test_an_unreadable_entry_is_logged_once_per_key_and_cleaned(
    clock: Clock, upstream: Upstream, caplog: pytest.LogCaptureFixture
) -> None:
    """The first unreadable value at a key is a warning, its text cleaned; later ones are debug."""
    backend = SimpleMemoryCache(serializer=BytesSerializer())
    cache = SnapshotCache(backend, namespace=NAMESPACE, clock=clock)
    key = f"{NAMESPACE}:v{FORMAT}:pointer:{QUERY.key}"
    planted = pointer_bytes(key="all\n2026-06-03 ERROR forged line\x1b[31m")
    with caplog.at_level(logging.DEBUG, logger="openrouter_bench.cache"):
        for _ in range(3):
            await backend.set(key, planted)
            await cache.get(QUERY, upstream.fetcher(QUERY), refresh=True)
    unreadable = [r for r in caplog.records if "unreadable" in r.getMessage()]
    assert [r.levelno for r in unreadable] == [logging.WARNING, logging.DEBUG, logging.DEBUG]
    assert "another query" in unreadable[0].getMessage()
    assert not any(c in unreadable[0].getMessage() for c in "\n\x1b")
    await cache.close()


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
    # No near cache: it would keep the refused page in this process (and serve it).
    policy = CachePolicy(near_bytes=0)
    cache = SnapshotCache(backend, namespace=NAMESPACE, clock=clock, policy=policy)
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


# Each adapter lists, clears and describes its own backend.


async def test_the_memory_adapter_counts_clears_and_describes_its_entries(
    clock: Clock, upstream: Upstream
) -> None:
    """Over the bounded LRU: stored() counts a query and its page, clear() removes both."""
    cache = open_cache("memory", namespace=NAMESPACE, policy=CachePolicy(), clock=clock)
    await cache.get(QUERY, upstream.fetcher(QUERY))
    assert await cache.stored() == (1, 1)
    assert "backend: memory (2/10000 entries" in await cache.describe()
    assert await cache.clear() == 2
    assert await cache.stored() == (0, 0)
    await cache.close()


async def test_an_object_backend_that_cannot_list_says_so(clock: Clock, upstream: Upstream) -> None:
    """Over a plain aiocache memory backend: stored() is None (no listing), clear() empties it."""
    backend = SimpleMemoryCache()
    cache = open_cache(backend, namespace=NAMESPACE, policy=CachePolicy(), clock=clock)
    await cache.get(QUERY, upstream.fetcher(QUERY))
    assert await cache.stored() is None
    assert "backend: memory" in await cache.describe()
    await cache.clear()
    await cache.get(QUERY, upstream.fetcher(QUERY))
    assert upstream.calls == 2
    await cache.close()


async def test_the_sqlite_adapter_counts_clears_and_describes_its_entries(
    tmp_path: Path, clock: Clock, upstream: Upstream
) -> None:
    """Over SQLite: stored() counts, clear() empties this namespace only, describe() names it."""
    path = tmp_path / "cache.db"
    cache = open_cache(f"sqlite:///{path}", namespace=NAMESPACE, clock=clock)
    other = open_cache(f"sqlite:///{path}", namespace=NAMESPACE + "-other", clock=clock)
    await cache.get(QUERY, upstream.fetcher(QUERY))
    await other.get(QUERY, upstream.fetcher(QUERY))
    assert await cache.stored() == (1, 1)
    assert f"backend: sqlite {path}" in await cache.describe()
    assert await cache.clear() == 2
    assert await cache.stored() == (0, 0)
    assert await other.stored() == (1, 1)
    await cache.close()
    await other.close()


async def test_memcached_refuses_to_clear_and_keeps_its_entries(
    memcached_url: str, clock: Clock, upstream: Upstream
) -> None:
    """memcached cannot list keys: clear() is a ConfigurationError that says so, nothing is lost."""
    namespace = f"{NAMESPACE}-{id(clock)}"
    cache = open_cache(memcached_url, namespace=namespace, policy=CachePolicy(), clock=clock)
    try:
        await cache.get(QUERY, upstream.fetcher(QUERY))
        with pytest.raises(ConfigurationError, match="memcached cannot list keys") as raised:
            await cache.clear()
        assert "expire by themselves" in str(raised.value)
        assert await cache.stored() is None
        assert "backend: memcached 127.0.0.1:" in await cache.describe()
        again = await cache.get(QUERY, upstream.fetcher(QUERY))
        assert again.from_cache
        assert upstream.calls == 1
    finally:
        await cache.close()


async def test_the_redis_client_is_exposed_only_by_a_redis_backend(clock: Clock) -> None:
    """SnapshotCache.redis_client is None over memory and SQLite-free backends without Redis."""
    cache = open_cache("memory", namespace=NAMESPACE, clock=clock)
    assert cache.redis_client is None
    assert open_cache(None, namespace=NAMESPACE, clock=clock).redis_client is None
    await cache.close()
