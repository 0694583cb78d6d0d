"""Answers too big for a cache: memory bounded in bytes, an item cap, backend limits.

A hostile or broken server can answer with a million tiny items, a page over
memcached's item size, or (through a long category) a key memcached refuses.
None of it may grow memory without bound or turn caching off for the other
queries. Requests are counted on the server (``server.requests``,
``fake.requests``).
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import orjson
import pytest

from benchmarks.loop_stall_sqlite import PHASES, large_page, measure
from openrouter_bench import BenchmarksClient, CachePolicy, Query, ResponseFormatError, RetryPolicy
from openrouter_bench._convert import MAX_PAGE_ITEMS
from openrouter_bench.cache._keys import memcached_key
from openrouter_bench.cache._lru import ITEM_FLOOR, BoundedMemoryCache
from openrouter_bench.fake import FakeOpenRouter, free_port
from openrouter_bench.fake.hostile import HostileServer, respond
from tests.conftest import CANARY_KEY, required
from tests.hostile._tiny_items import MILLION, rss, tiny_items

from .conftest import Observe

ROOT: Final = Path(__file__).resolve().parent.parent.parent
MIB: Final = 1024 * 1024


@functools.cache
def real_payload(**params: str) -> dict[str, Any]:
    """The fake's answer to ``params`` (its data set only: no server runs)."""
    return FakeOpenRouter(seed=7, per_minute=None, per_day=None).payload(params)


def real_answer(copies: int = 1, **params: str) -> bytes:
    """A 200 answer of real item shapes: the fake's answer to ``params``, items ``copies`` times."""
    payload = real_payload(**params)
    return respond(200, orjson.dumps({"data": payload["data"] * copies, "meta": payload["meta"]}))


def nonce() -> int:
    """A number of this run alone: memcached may keep entries of earlier runs."""
    return time.time_ns() % 1_000_000_000


def client_for(url: str, **options: Any) -> BenchmarksClient:
    options.setdefault("retry", RetryPolicy.no_wait(attempts=1))
    options.setdefault("quota", None)
    return BenchmarksClient(CANARY_KEY, base_url=url, **options)


def tiny_item_figures(count: int, *extra: str) -> dict[str, Any]:
    """The figures ``python -m tests.hostile._tiny_items`` prints, from a fresh interpreter."""
    done = subprocess.run(  # noqa: S603  # our own module, run by this interpreter
        [sys.executable, "-m", "tests.hostile._tiny_items", str(count), *extra],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    figures: dict[str, Any] = json.loads(done.stdout)
    return figures


@pytest.mark.hostile(
    case="six answers of a million tiny items each, to a client with the default settings",
    expected="ResponseFormatError for each (the item cap), nothing kept, RSS bounded",
)
def test_a_million_tiny_items_are_refused_by_the_item_cap(observe: Observe) -> None:
    """A page of far more items than any real one is refused before its items are built."""
    figures = tiny_item_figures(MILLION)
    budget = figures["budget"]
    highest = max(figures["rss_growth"])
    assert figures["items"] == []
    assert len(figures["refused"]) == 6
    assert all(
        f"{MAX_PAGE_ITEMS:,}" in text or str(MAX_PAGE_ITEMS) in text for text in figures["refused"]
    )
    assert figures["kept_entries"] == 0
    assert highest < 4 * budget
    observe(
        f"6 answers of {figures['answer_bytes'] / 1e6:.0f} MB: 6 ResponseFormatErrors "
        f"({figures['refused'][0][:80]}); 0 entries kept; RSS grew {highest / MIB:.0f} MiB at "
        "most; before the cap and the budget the same six grew it by 2,391 MiB"
    )


@pytest.mark.hostile(
    case="six answers at the item cap (100,000 tiny items each), through the memory cache",
    expected="each is served but not kept; the cache stays within its byte budget, RSS bounded",
)
def test_pages_at_the_item_cap_are_served_not_kept(observe: Observe) -> None:
    """Pages weighing more than an eighth of the budget are returned, never kept."""
    figures = tiny_item_figures(MAX_PAGE_ITEMS)
    budget = figures["budget"]
    # One page alive at a time is the floor: it weighs about ITEM_FLOOR bytes an item.
    transient = ITEM_FLOOR * MAX_PAGE_ITEMS
    highest = max(figures["rss_growth"])
    assert figures["items"] == [MAX_PAGE_ITEMS] * 6
    assert figures["requests"] == 6
    assert figures["kept_entries"] == 0
    assert max(figures["accounted"]) <= budget
    assert figures["backend_errors"] == 0
    assert figures["not_stored"] >= 6
    assert highest < 4 * budget + transient
    observe(
        f"6 answers of {figures['answer_bytes'] / 1e6:.1f} MB: 6 requests, every page served "
        f"and none kept ({figures['not_stored']} entries refused, 0 backend errors, "
        f"{max(figures['accounted'])} of {budget // MIB} MiB held); RSS grew "
        f"{highest / MIB:.0f} MiB at most ({figures['rss_growth_after'] / MIB:.0f} MiB after "
        f"the client closed), bound {(4 * budget + transient) / MIB:.0f} MiB"
    )


@pytest.mark.hostile(
    case="forty distinct answers of 1,061 real items, through an 8 MiB memory cache",
    expected="the oldest pages go; the cache's accounted bytes stay within the budget",
)
async def test_real_pages_past_the_budget_push_out_the_oldest(observe: Observe) -> None:
    """Pages that fit their share are kept until the byte budget pushes the oldest out."""
    budget = 8 * MIB
    async with HostileServer(real_answer()) as server:
        client = client_for(server.url, cache_policy=CachePolicy(max_bytes=budget))
        backend = client.cache.backend
        assert isinstance(backend, BoundedMemoryCache)
        before = rss()
        async with client:
            for index in range(40):
                await client.get(max_results=5000 + index)
                assert backend.accounted_bytes <= budget
            sent = len(server.requests)
            newest = await client.get(max_results=5039)
            oldest = await client.get(max_results=5000)
        grown = rss() - before
    assert sent == 40
    assert newest.from_cache
    assert not oldest.from_cache
    assert len(server.requests) == 41
    observe(
        f"41 requests for 42 calls (the newest page a hit, the oldest pushed out); "
        f"{len(backend)} entries weighing {backend.accounted_bytes / MIB:.1f} MiB of "
        f"{budget // MIB} MiB; RSS grew {grown / MIB:.0f} MiB"
    )


@pytest.mark.hostile(
    case="an answer of 100,001 tiny items (one past the item cap), under the response cap",
    expected="ResponseFormatError naming the item cap, before the items are structured",
)
async def test_the_item_cap_refuses_a_page_of_too_many_items(observe: Observe) -> None:
    """A page listing more items than max_page_items is a ResponseFormatError, not retried."""
    answer = tiny_items(MAX_PAGE_ITEMS + 1)
    async with HostileServer(answer) as server, client_for(server.url) as client:
        started = time.perf_counter()
        with pytest.raises(ResponseFormatError, match="over the cap of 100000 items") as caught:
            await client.get()
        took = time.perf_counter() - started
    assert caught.value.path == "data"
    assert len(server.requests) == 1
    observe(
        f"ResponseFormatError({str(caught.value)!r}) on a {len(answer) / 1e6:.1f} MB answer "
        f"after {took:.2f} s; 1 request"
    )


@pytest.mark.hostile(
    case="a Design Arena category of 200 characters (the most a query takes), on memcached",
    expected="cached under a hashed key and hit the second time; other queries keep caching",
)
async def test_a_long_category_is_cached_under_a_hashed_key(
    fake: FakeOpenRouter, memcached_url: str, observe: Observe
) -> None:
    """A key memcached would refuse is hashed into a valid one; nothing trips the breaker."""
    category = f"c{nonce()} " + "x" * 200
    category = category[:200]
    long_query = Query(source="design-arena", arena="models", category=category)
    other = Query(source="design-arena", arena="builders", max_results=nonce())
    async with client_for(fake.url, cache=memcached_url) as client:
        first = await client.get(long_query)
        second = await client.get(long_query)
        await client.get(other)
        third = await client.get(other)
        stats = client.cache.stats
        plain = client.cache._keys.pointer(long_query)
        stored = memcached_key(plain)
        backend: Any = client.cache.backend
        raw = await backend.client.get(stored)
    assert len(plain.encode()) > 250
    assert len(stored) <= 250
    assert raw is not None
    assert not first.from_cache
    assert second.from_cache
    assert third.from_cache
    assert len(fake.requests) == 2
    assert stats.backend_errors == 0
    observe(
        f"{len(plain)}-byte key stored as {len(stored)} bytes "
        f"({stored[:40].decode()}...#<sha256>); 4 calls, 2 requests, 2 hits, "
        f"{stats.backend_errors} backend errors"
    )


@pytest.mark.hostile(
    case="an answer of 1.4 MB, over memcached's 1 MiB item size",
    expected="served but not cached; the breaker does not trip and small queries still hit",
)
async def test_a_value_over_the_item_size_is_not_cached(
    memcached_url: str, observe: Observe
) -> None:
    """A page over memcached's item size is not sent to it; other queries keep caching."""
    big = real_answer(copies=4)
    small = real_answer(source="design-arena", arena="builders")
    large_query = Query(max_results=nonce())
    small_query = Query(source="design-arena", arena="builders", max_results=nonce())
    async with (
        HostileServer(big, small, big) as server,
        client_for(server.url, cache=memcached_url) as client,
    ):
        await client.get(large_query)
        await client.get(small_query)
        hit = await client.get(small_query)
        again = await client.get(large_query)
        stats = client.cache.stats
    assert hit.from_cache
    assert not again.from_cache
    assert len(server.requests) == 3
    assert stats.backend_errors == 0
    assert stats.not_stored == 2
    observe(
        f"a {len(big) / 1e6:.1f} MB answer: 4 calls, 3 requests (the large page twice, "
        f"the small one once then a hit); {stats.not_stored} writes refused, "
        f"{stats.backend_errors} backend errors"
    )


@pytest.fixture
def small_item_memcached() -> Iterator[str]:
    """A memcached of this test alone whose items hold 256 KiB at most."""
    executable = required(shutil.which("memcached"), "memcached is not installed")
    port = free_port()
    argv = [executable, "-l", "127.0.0.1", "-p", str(port), "-U", "0", "-m", "64"]
    argv += ["-I", "256k", "-o", "slab_chunk_max=131072"]
    if os.geteuid() == 0:
        argv += ["-u", "root"]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603  # a fixed argv, no shell
    try:
        deadline = time.monotonic() + 5
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("memcached did not come up") from None
                time.sleep(0.02)
        yield f"memcached://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=5)


@pytest.mark.hostile(
    case="a 343 KB page for a memcached whose items hold 256 KiB (its own answer: too large)",
    expected="the server's refusal is not an outage: small queries keep caching",
)
async def test_memcacheds_own_too_large_answer_does_not_trip_the_breaker(
    fake: FakeOpenRouter, small_item_memcached: str, observe: Observe
) -> None:
    """memcached's "object too large" answer counts as one entry not kept, not as a failure."""
    # No near cache: it would keep the refused page in this process (and serve it).
    policy = CachePolicy(near_bytes=0)
    async with client_for(fake.url, cache=small_item_memcached, cache_policy=policy) as client:
        await client.get()
        await client.get(source="design-arena", arena="builders")
        hit = await client.get(source="design-arena", arena="builders")
        again = await client.get()
        stats = client.cache.stats
    assert hit.from_cache
    assert not again.from_cache
    assert len(fake.requests) == 3
    assert stats.backend_errors == 0
    assert stats.not_stored == 2
    observe(
        f"4 calls, 3 requests, the small page a hit; {stats.not_stored} writes refused by "
        f"memcached, {stats.backend_errors} backend errors"
    )


@pytest.mark.hostile(
    case="a 15 MB page (near the response cap) stored in and read from the SQLite cache",
    expected="kept and read back with no backend error; coding and SQL stay off the event loop",
)
async def test_a_page_near_the_response_cap_goes_through_sqlite_off_the_loop(
    tmp_path: Path, observe: Observe
) -> None:
    """Storing, reading, listing and clearing a large page never trips the backend timeout."""
    page = large_page(15)
    # measure() raises unless the page went in and came back whole with no backend error
    # (before the coding moved off the loop, the write timed out and tripped the breaker).
    stalls = await measure(page, tmp_path)
    # No bound on the stall itself: what is left of it is the GIL held by one orjson call
    # and by full garbage collections, whose length depends on this process's whole heap.
    shown = ", ".join(
        f"{phase} {stalls[phase].loop * 1000:.0f} ms (GC {stalls[phase].collection * 1000:.0f})"
        for phase in PHASES
    )
    observe(f"{len(page)} items, {page.body_bytes / 1e6:.1f} MB, stored and read back: {shown}")
