"""Synchronous code: the SyncBenchmarksClient facade, and the async client across event loops.

Every test here is a plain function, as a script or a sync web view would be;
the fake server runs in a thread of its own (``FakeOpenRouter.running_in_thread``).
"""

from __future__ import annotations

import asyncio
import gc
import threading
import warnings
from collections.abc import Callable, Iterator

import pytest

from openrouter_bench import (
    BadRequestError,
    BenchmarksClient,
    ClientClosedError,
    ConfigurationError,
    DesignArenaItem,
    OpenRouterBenchError,
    Page,
    Query,
    QuotaPolicy,
    RetryPolicy,
    SyncBenchmarksClient,
    WrongEventLoopError,
)
from openrouter_bench.fake import FakeOpenRouter
from tests.conftest import CANARY_KEY


@pytest.fixture(scope="module")
def threaded() -> Iterator[FakeOpenRouter]:
    """One fake server in a background thread for the module, without rate limits."""
    with FakeOpenRouter.running_in_thread(seed=7, per_minute=None, per_day=None) as fake:
        yield fake


@pytest.fixture
def server(threaded: FakeOpenRouter) -> FakeOpenRouter:
    """The module's fake, with its log and scripted faults reset."""
    threaded.reset()
    return threaded


def _threads() -> set[str]:
    return {thread.name for thread in threading.enumerate()}


def test_the_sync_client_gets_caches_and_fans_out(server: FakeOpenRouter) -> None:
    """get, categories, fan_out, history and stats work from plain code, through one cache."""
    with SyncBenchmarksClient(CANARY_KEY, base_url=server.url, quota=None) as client:
        page = client.get(source="design-arena", category="svg", max_results=3)
        again = client.get(Query(source="design-arena", category="svg", max_results=3))
        categories = client.categories("models")
        grid = Query.grid(source="design-arena", arena="models", category=list(categories[:3]))
        results = client.fan_out(grid, concurrency=2)
        history = client.history(source="design-arena", category="svg", max_results=3)
        stats = client.stats
        status = client.quota_status()
    expected = server.payload({"source": "design-arena", "category": "svg", "max_results": "3"})
    assert [item.model_permaslug for item in page.items_of(DesignArenaItem)] == [
        item["model_permaslug"] for item in expected["data"]
    ]
    assert again.from_cache
    assert "svg" in categories
    assert set(results.pages) == set(grid)
    assert not results.errors
    # Cut from the arena page categories() read: 2 requests (svg, the arena), none for the grid.
    assert all(p.derived_from == Query(source="design-arena") for p in results.pages.values())
    assert len(server.requests) == 2
    assert all(isinstance(one, Page) for one in history)
    assert history[0].as_of == page.as_of
    assert stats.requests == len(server.requests)
    assert stats.hits >= 1
    assert status.store == "off"
    assert client.closed


def test_sync_calls_from_several_threads_share_one_request(server: FakeOpenRouter) -> None:
    """Eight threads asking the same thing at once coalesce into one request."""
    with SyncBenchmarksClient(CANARY_KEY, base_url=server.url, quota=None) as client:
        pages: list[Page] = []
        barrier = threading.Barrier(8)

        def ask() -> None:
            barrier.wait()
            pages.append(client.get(source="artificial-analysis", task_type="coding"))

        workers = [threading.Thread(target=ask) for _ in range(8)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=30)
    assert len(pages) == 8
    assert len({page.as_of for page in pages}) == 1
    assert len(server.requests) == 1


def test_the_sync_client_raises_the_typed_errors(server: FakeOpenRouter) -> None:
    """A 400 from the server is the same BadRequestError the async client raises."""
    server.script(400)
    with (
        SyncBenchmarksClient(
            CANARY_KEY, base_url=server.url, quota=None, retry=RetryPolicy.no_wait()
        ) as client,
        pytest.raises(BadRequestError) as refused,
    ):
        client.get(source="openrouter")
    assert refused.value.status == 400
    assert refused.value.attempts == 1
    assert CANARY_KEY not in repr(refused.value) + str(refused.value)


def test_a_sync_client_that_cannot_be_built_leaves_no_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No key: ConfigurationError from the constructor, and its loop thread is gone."""
    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    before = _threads()
    with pytest.raises(ConfigurationError, match="no API key"):
        SyncBenchmarksClient(base_url="http://127.0.0.1:9/api/v1")
    assert "openrouter-bench-sync" not in _threads() - before


def test_a_closed_sync_client_refuses_every_call(server: FakeOpenRouter) -> None:
    """After close (twice is fine) each method raises ClientClosedError; the thread is gone."""
    client = SyncBenchmarksClient(CANARY_KEY, base_url=server.url, quota=None)
    client.get(source="design-arena", category="3d")
    client.close()
    client.close()
    assert client.closed
    assert "state=closed" in repr(client)
    assert "openrouter-bench-sync" not in _threads()
    calls: list[Callable[[], object]] = [
        lambda: client.get(source="design-arena"),
        lambda: client.fan_out([Query(source="openrouter")]),
        lambda: client.categories(),
        lambda: client.history(source="openrouter"),
        lambda: client.quota_status(),
        lambda: client.stats,
        lambda: client.__enter__(),
    ]
    for call in calls:
        with pytest.raises(ClientClosedError, match="closed"):
            call()
    assert len(server.requests) == 1


def test_the_sync_client_can_send_each_query_of_a_fan_out(server: FakeOpenRouter) -> None:
    """fan_out(derive=False) from plain code: each category its own request, nothing cut."""
    grid = Query.grid(source="design-arena", category=["svg", "3d"])
    with SyncBenchmarksClient(CANARY_KEY, base_url=server.url, quota=None) as client:
        results = client.fan_out(grid, derive=False)
    assert all(page.derived_from is None for page in results.pages.values())
    assert sorted(r.params.get("category", "") for r in server.requests) == ["3d", "svg"]


def test_the_sync_client_counts_its_quota(server: FakeOpenRouter) -> None:
    """quota_status shows the requests sent and what is left of each window."""
    policy = QuotaPolicy(per_minute=5, per_day=10, store="memory")
    with SyncBenchmarksClient(CANARY_KEY, base_url=server.url, quota=policy) as client:
        client.get(source="design-arena", category="svg")
        client.get(source="design-arena", category="3d")
        client.get(source="design-arena", category="svg")  # a hit: no turn taken
        status = client.quota_status()
    assert (status.minute_used, status.minute_left) == (2, 3)
    assert (status.day_used, status.day_left) == (2, 8)
    assert status.paused_until is None
    assert status.store == "memory"
    assert not status.shared


# --- the async client across event loops ------------------------------------------------------


def test_a_second_asyncio_run_gets_a_clear_error_and_no_warning(server: FakeOpenRouter) -> None:
    """Two asyncio.run on one client: WrongEventLoopError, and no unclosed-session warning."""
    client = BenchmarksClient(CANARY_KEY, base_url=server.url, quota=None)
    first = asyncio.run(client.get(source="design-arena", category="svg"))
    assert first.items
    with pytest.raises(WrongEventLoopError, match="another event loop") as caught:
        asyncio.run(client.get(source="design-arena", category="3d"))
    assert isinstance(caught.value, OpenRouterBenchError)
    assert "SyncBenchmarksClient" in str(caught.value)
    with pytest.raises(WrongEventLoopError):
        asyncio.run(client.get(source="design-arena", category="svg"))
    asyncio.run(client.aclose())  # closing from a new loop is allowed once its own is gone
    with warnings.catch_warnings(record=True) as caught_warnings:
        warnings.simplefilter("always")
        del client
        gc.collect()
    assert [str(warning.message) for warning in caught_warnings] == []
    assert len(server.requests) == 1


def test_a_client_of_a_running_loop_refuses_another_loop(server: FakeOpenRouter) -> None:
    """Used from a second loop while its own still runs: refused, and it still works at home."""
    home = asyncio.new_event_loop()
    try:
        client = home.run_until_complete(
            BenchmarksClient(CANARY_KEY, base_url=server.url, quota=None).__aenter__()
        )
        home.run_until_complete(client.get(source="openrouter"))

        async def elsewhere() -> None:
            with pytest.raises(WrongEventLoopError):
                await client.get(source="openrouter")
            with pytest.raises(WrongEventLoopError):
                client.stream([Query(source="openrouter")])
            with pytest.raises(WrongEventLoopError):
                await client.aclose()

        asyncio.run(elsewhere())
        page = home.run_until_complete(client.get(source="openrouter"))
        assert page.from_cache
        home.run_until_complete(client.aclose())
    finally:
        home.close()
    assert client.closed
