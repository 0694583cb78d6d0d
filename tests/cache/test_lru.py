"""The bounded memory backend's byte budget: what entries weigh, what is kept, what goes."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from openrouter_bench import BenchmarksClient, ConfigurationError
from openrouter_bench.cache import CachePolicy, open_cache
from openrouter_bench.cache._codec import (
    Pointer,
)
from openrouter_bench.cache._lru import (
    BODY_FACTOR,
    ENTRY_OVERHEAD,
    ITEM_FLOOR,
    LARGEST_SHARE,
    BoundedMemoryCache,
    footprint,
)
from openrouter_bench.models import Page
from openrouter_bench.query import Query
from tests._cache_fixtures import AS_OF_1, Clock, make_page

QUERY = Query(source="artificial-analysis")


def pointer_to(page: Page) -> Pointer:
    """A pointer as the snapshot cache keeps it in memory: serving ``page``."""
    return Pointer(
        as_of=AS_OF_1, fetched_at=0.0, history=(AS_OF_1,), page=page.served(from_cache=True)
    )


def test_a_page_weighs_twice_its_body_or_its_item_floor() -> None:
    """A page weighs BODY_FACTOR times its body, and never less than ITEM_FLOOR an item."""
    page = make_page(QUERY, models=10)
    assert footprint(attrs.evolve(page, body_bytes=100_000)) == (page.items, BODY_FACTOR * 100_000)
    # Tiny items: the body says little, the item count says more.
    assert footprint(attrs.evolve(page, body_bytes=150)) == (page.items, ITEM_FLOOR * 10)
    assert footprint(page) == (page.items, ITEM_FLOOR * 10)


def test_a_pointer_weighs_the_page_it_serves_under_the_same_bulk() -> None:
    """A pointer's served page shares its items with the stored page: one bulk, one weight."""
    page = attrs.evolve(make_page(QUERY, models=4), body_bytes=50_000)
    pointer = Pointer(
        as_of=AS_OF_1, fetched_at=0.0, history=(AS_OF_1,), page=page.served(from_cache=True)
    )
    assert footprint(pointer) == footprint(page)
    assert footprint(Pointer(as_of=AS_OF_1, fetched_at=0.0, history=(AS_OF_1,))) == (None, 0)


def test_pages_past_the_byte_budget_push_out_the_least_recently_used() -> None:
    """Storing past max_bytes drops the oldest entries; the accounted bytes stay within it."""
    lru = BoundedMemoryCache(1000, max_bytes=1_000_000, clock=Clock())
    pages = [attrs.evolve(make_page(QUERY), body_bytes=60_000) for _ in range(20)]
    for index, page in enumerate(pages):
        assert lru.store(f"page-{index}", page)
        assert lru.accounted_bytes <= lru.max_bytes
    each = BODY_FACTOR * 60_000 + ENTRY_OVERHEAD
    assert len(lru) == 1_000_000 // each
    assert lru.lookup("page-0") is None
    assert lru.lookup("page-19") is pages[19]
    assert lru.accounted_bytes == len(lru) * each


def test_a_value_over_its_share_is_not_kept_and_leaves_nothing_behind() -> None:
    """A page over max_bytes / LARGEST_SHARE is refused, and the key's older value goes too."""
    lru = BoundedMemoryCache(10, max_bytes=LARGEST_SHARE * 100_000, clock=Clock())
    small = attrs.evolve(make_page(QUERY), body_bytes=1_000)
    large = attrs.evolve(make_page(QUERY), body_bytes=100_000)
    assert lru.store("key", small)
    assert not lru.store("key", large)
    assert lru.lookup("key") is None
    assert lru.accounted_bytes == 0


def test_entries_sharing_one_page_count_it_once() -> None:
    """A page and the pointer serving it count the items once; dropping both frees them."""
    lru = BoundedMemoryCache(10, max_bytes=10_000_000, clock=Clock())
    page = attrs.evolve(make_page(QUERY), body_bytes=100_000)
    pointer = Pointer(
        as_of=AS_OF_1, fetched_at=0.0, history=(AS_OF_1,), page=page.served(from_cache=True)
    )
    lru.store("page", page)
    lru.store("pointer", pointer)
    assert lru.accounted_bytes == BODY_FACTOR * 100_000 + 2 * ENTRY_OVERHEAD
    assert lru.discard("page")
    # The pointer still keeps the items alive, so they still count.
    assert lru.accounted_bytes == BODY_FACTOR * 100_000 + ENTRY_OVERHEAD
    assert lru.discard("pointer")
    assert lru.accounted_bytes == 0


async def test_expiry_clear_and_delete_give_the_bytes_back() -> None:
    """Expired, deleted and cleared entries no longer count against the budget."""
    clock = Clock()
    lru = BoundedMemoryCache(10, max_bytes=10_000_000, clock=clock)
    page = attrs.evolve(make_page(QUERY), body_bytes=10_000)
    await lru.set("a", page, ttl=5)
    await lru.set("b", b"x" * 1000)
    await lru.set("c", 7)
    clock.advance(6)
    assert await lru.get("a") is None
    assert await lru.delete("b") == 1
    assert lru.accounted_bytes == ENTRY_OVERHEAD + footprint(7)[1]
    await lru.clear()
    assert lru.accounted_bytes == 0
    assert len(lru) == 0


async def test_raw_commands_only_read() -> None:
    """raw() passes reading dict methods through and refuses one that would write."""
    lru = BoundedMemoryCache(10, clock=Clock())
    await lru.set("a", 1)
    assert await lru.raw("__contains__", "a")
    with pytest.raises(ValueError, match="pop"):
        await lru.raw("pop", "a")


@pytest.mark.parametrize("bound", [0, -1, 1.5, True, "64"])
def test_the_byte_budget_must_be_a_positive_integer(bound: object) -> None:
    """max_bytes below 1 or of another type is refused."""
    with pytest.raises(ValueError, match="max_bytes"):
        BoundedMemoryCache(10, max_bytes=bound)  # type: ignore[arg-type]


def test_the_client_hands_its_budget_and_item_cap_on() -> None:
    """cache_policy.max_bytes reaches the memory backend; a max_page_items below 1 is refused."""
    client = BenchmarksClient(
        "key", base_url="http://127.0.0.1:9/api/v1", cache_policy=CachePolicy(max_bytes=5 * 2**20)
    )
    assert isinstance(client.cache.backend, BoundedMemoryCache)
    assert client.cache.backend.max_bytes == 5 * 2**20
    assert client.cache.backend.max_value_bytes == 5 * 2**20 // LARGEST_SHARE
    with pytest.raises(ConfigurationError, match="max_page_items"):
        BenchmarksClient("key", base_url="http://127.0.0.1:9/api/v1", max_page_items=0)


NAMESPACE = "openrouter-bench:v1:test.invalid"

QUERY = Query(source="artificial-analysis", task_type="coding")


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
