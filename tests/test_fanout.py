"""fan_out and stream: every query's page or error, identical ones once, clean cancellation.

Against the fake server on loopback, with the quota off (the quota has its
own tests) and retries without waits. The cancellation tests use the fake in
its own thread, so every task left in the test's loop is the client's.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from openrouter_bench import (
    AuthenticationError,
    BenchmarksClient,
    ClientClosedError,
    ConfigurationError,
    FanOutResult,
    InvalidQueryError,
    Page,
    PaymentRequiredError,
    Query,
    ResponseFormatError,
    RetryPolicy,
    ServerError,
    fanout,
)
from openrouter_bench._convert import unstructure_page
from openrouter_bench.fake import FakeOpenRouter
from openrouter_bench.query import KNOWN_CATEGORIES, Arena
from tests.conftest import CANARY_KEY

GRID = Query.grid(source="design-arena", arena=["models", "builders"], category=["svg", "3d"])
TWENTY = [Query(source="artificial-analysis", max_results=n) for n in range(1, 21)]


def make_client(fake: FakeOpenRouter, **options: Any) -> BenchmarksClient:
    options.setdefault("retry", RetryPolicy.no_wait())
    options.setdefault("quota", None)
    return BenchmarksClient(CANARY_KEY, base_url=fake.url, **options)


def others_tasks() -> set[asyncio.Task[Any]]:
    """Every task of the loop but the test's own."""
    return asyncio.all_tasks() - {asyncio.current_task()}


async def settle(condition: Callable[[], bool]) -> None:
    """Let the loop turn a bounded number of times until ``condition()`` holds."""
    for _ in range(100):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError(f"still running: {others_tasks()}")


async def started(fake: FakeOpenRouter, count: int) -> None:
    """Wait (bounded) until the fake has received ``count`` requests."""
    for _ in range(500):
        if len(fake.requests) >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"only {len(fake.requests)} requests arrived")


@pytest.mark.parametrize("derive", [True, False])
async def test_each_query_maps_to_its_page_in_input_order(
    fake: FakeOpenRouter, derive: bool
) -> None:
    """The result lists the queries in input order, each with the server's page for it."""
    async with make_client(fake) as client:
        result = await client.fan_out(GRID, concurrency=3, derive=derive)
    assert list(result) == GRID
    assert result.ok
    for query, outcome in result.items():
        assert isinstance(outcome, Page)
        assert outcome.query == query
        assert unstructure_page(outcome) == fake.payload(query.params)
    if derive:  # each arena's two categories cut from the arena's page
        assert sorted(r.params["arena"] for r in fake.requests) == ["builders", "models"]
        assert all("category" not in r.params for r in fake.requests)
    else:
        assert sorted(r.params["category"] for r in fake.requests) == ["3d", "3d", "svg", "svg"]


async def test_identical_queries_are_sent_once(fake: FakeOpenRouter) -> None:
    """Repeated and equivalent queries appear once in the result and cost one request each."""
    queries = [*GRID, *GRID, Query(source="design-arena", category="svg")]
    async with make_client(fake, cache=None) as client:
        result = await client.fan_out(queries, derive=False)
    assert list(result) == GRID
    assert len(fake.requests) == len(GRID)


async def test_a_fifth_failing_loses_nothing_else(fake: FakeOpenRouter) -> None:
    """4 of 20 queries fail: the 16 others have their pages, each failure its typed error."""
    fake.script(500, "malformed", 401, 402)
    async with make_client(fake, cache=None, retry=RetryPolicy.never()) as client:
        result = await client.fan_out(TWENTY, concurrency=5)
    assert list(result) == TWENTY
    assert len(result.pages) == 16
    assert Counter(type(error) for error in result.errors.values()) == Counter(
        [ServerError, ResponseFormatError, AuthenticationError, PaymentRequiredError]
    )
    for query, page in result.pages.items():
        assert unstructure_page(page) == fake.payload(query.params)
    # The fake's log says which query met which fault: the errors sit on exactly those.
    faulted = {Query.from_params(r.params) for r in fake.requests if r.status != 200}
    assert faulted == set(result.errors)
    assert len(fake.requests) == 20


async def test_result_is_a_mapping_with_pages_errors_and_raise_first(
    fake: FakeOpenRouter,
) -> None:
    """The result reads like a dict; raise_first raises the first failure in input order."""
    fake.script(503)
    async with make_client(fake, cache=None, retry=RetryPolicy.never()) as client:
        result = await client.fan_out(TWENTY[:3], concurrency=1)
    assert isinstance(result, FanOutResult)
    assert len(result) == 3
    assert TWENTY[0] in result
    assert isinstance(result[TWENTY[0]], ServerError)
    assert set(result.pages) == set(TWENTY[1:3])
    assert not result.ok
    assert repr(result) == "<FanOutResult 2 pages, 1 errors>"
    with pytest.raises(ServerError):
        result.raise_first()
    clean = FanOutResult({query: result[query] for query in TWENTY[1:3]})
    clean.raise_first()
    assert clean.ok


async def test_stream_yields_each_outcome_as_it_completes(fake: FakeOpenRouter) -> None:
    """A slow answer comes out of the stream last, though its query was first."""
    fake.script({"fault": "slow_body", "delay": 0.3})
    outcomes: list[tuple[Query, Page]] = []
    async with (
        make_client(fake, cache=None) as client,
        contextlib.aclosing(client.stream(TWENTY[:6], concurrency=6)) as results,
    ):
        async for query, outcome in results:
            assert isinstance(outcome, Page)
            outcomes.append((query, outcome))
    [slow] = [Query.from_params(r.params) for r in fake.requests if r.fault == "slow_body"]
    assert outcomes[-1][0] == slow
    assert {query for query, _ in outcomes} == set(TWENTY[:6])
    assert all(page.query == query for query, page in outcomes)


async def test_concurrency_bounds_the_queries_in_flight(fake: FakeOpenRouter) -> None:
    """With concurrency=2, never more than two queries run at once."""
    fake.script(*[{"fault": "slow_body", "delay": 0.05}] * 6)
    in_flight = 0
    most = 0
    async with make_client(fake, cache=None) as client:

        async def counting_get(query: Query) -> Page:
            nonlocal in_flight, most
            in_flight += 1
            most = max(most, in_flight)
            try:
                return await client.get(query)
            finally:
                in_flight -= 1

        result = await fanout.fan_out(counting_get, TWENTY[:6], 2)
    assert result.ok
    assert most == 2


async def test_cancelling_a_fan_out_leaves_no_task_or_session(
    openrouter_fake: FakeOpenRouter,
) -> None:
    """Cancelled mid-flight, fan_out cancels its queries: no task survives, the session closes."""
    openrouter_fake.script(*[{"fault": "timeout", "delay": 30}] * 4)
    client = make_client(openrouter_fake, cache=None)
    async with client:
        running = asyncio.create_task(client.fan_out(TWENTY, concurrency=4))
        await started(openrouter_fake, 4)
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
        await settle(lambda: not others_tasks())
        # The client is still usable after a cancelled fan-out.
        after = await client.fan_out(TWENTY[4:6])
        assert after.ok
    assert client.closed
    assert client._session is not None
    assert client._session.closed
    gc.collect()  # an unclosed session or a pending task would warn (an error here) now


async def test_cancelling_a_fan_out_waiting_on_an_arena_page_leaves_no_task(
    openrouter_fake: FakeOpenRouter,
) -> None:
    """Cancelled while its categories wait for their arena page: nothing survives, and the
    next fan-out fetches the page afresh."""
    openrouter_fake.script({"fault": "timeout", "delay": 30})
    client = make_client(openrouter_fake, cache=None)
    async with client:
        running = asyncio.create_task(client.fan_out(GRID, concurrency=4))
        await started(openrouter_fake, 2)  # both arena pages asked for, one of them stalled
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
        await settle(lambda: not others_tasks())
        after = await client.fan_out(GRID)
        assert after.ok
    assert len(openrouter_fake.requests) == 4
    gc.collect()


async def test_leaving_a_stream_early_cancels_what_is_in_flight(
    openrouter_fake: FakeOpenRouter,
) -> None:
    """Breaking out of an aclosing() stream cancels the rest at once; nothing is left running."""
    openrouter_fake.script(*[{"fault": "timeout", "delay": 30}] * 3)
    async with make_client(openrouter_fake, cache=None) as client:
        async with contextlib.aclosing(client.stream(TWENTY, concurrency=4)) as results:
            async for _, outcome in results:
                assert isinstance(outcome, Page)
                break
        assert not others_tasks()
        assert len(openrouter_fake.requests) == 4


async def test_an_abandoned_stream_is_cleaned_up_by_the_loop(
    openrouter_fake: FakeOpenRouter,
) -> None:
    """A bare break (no aclosing) still cancels the stream's work once asyncio collects it."""
    openrouter_fake.script(*[{"fault": "timeout", "delay": 30}] * 3)
    async with make_client(openrouter_fake, cache=None) as client:
        async for _ in client.stream(TWENTY, concurrency=4):
            break
        await settle(lambda: not others_tasks())


async def test_closing_the_client_under_a_stream_ends_it(fake: FakeOpenRouter) -> None:
    """A stream that outlives its client raises ClientClosedError for what was not yet run."""
    async with make_client(fake, cache=None) as client:
        results = client.stream(TWENTY[:2], concurrency=1)
    with pytest.raises(ClientClosedError):
        client.stream(TWENTY[:2])
    with pytest.raises(ClientClosedError):
        async for _ in results:
            pass


async def test_closing_the_client_under_a_fan_out_raises_client_closed(
    openrouter_fake: FakeOpenRouter,
) -> None:
    """A fan-out whose client closes under it ends with ClientClosedError, not a cancellation."""
    openrouter_fake.script(*[{"fault": "timeout", "delay": 30}] * 2)
    client = make_client(openrouter_fake, cache=None)
    async with client:
        running = asyncio.create_task(client.fan_out(TWENTY[:2], concurrency=2))
        await started(openrouter_fake, 2)
    with pytest.raises(ClientClosedError):
        await running
    await settle(lambda: not others_tasks())


async def test_bad_input_is_refused_before_anything_is_sent(fake: FakeOpenRouter) -> None:
    """A non-Query, a lone Query, concurrency < 1 or a non-bool derive raise at once; nothing
    is sent."""
    async with make_client(fake) as client:
        with pytest.raises(InvalidQueryError):
            await client.fan_out([Query(), {"source": "openrouter"}])  # type: ignore[list-item]
        with pytest.raises(InvalidQueryError):
            await client.fan_out(Query())  # type: ignore[arg-type]
        with pytest.raises(ConfigurationError):
            await client.fan_out(GRID, concurrency=0)
        with pytest.raises(ConfigurationError):
            client.stream(GRID, concurrency=True)
        with pytest.raises(InvalidQueryError, match="derive must be True or False"):
            await client.fan_out(GRID, derive="yes")  # type: ignore[arg-type]
        with pytest.raises(InvalidQueryError, match="derive must be True or False"):
            client.stream(GRID, derive=1)  # type: ignore[arg-type]
    assert fake.requests == []


async def test_an_empty_grid_is_an_empty_result(fake: FakeOpenRouter) -> None:
    """No queries, no requests, an empty result that is ok."""
    async with make_client(fake) as client:
        result = await client.fan_out([])
    assert len(result) == 0
    assert result.ok
    assert fake.requests == []


@pytest.mark.parametrize(("derive", "pages"), [(True, 2), (False, len(GRID))])
async def test_fan_out_shares_the_cache(fake: FakeOpenRouter, derive: bool, pages: int) -> None:
    """A second fan-out of the same grid is served from the cache; refresh=True asks again."""
    async with make_client(fake) as client:
        await client.fan_out(GRID, derive=derive)
        again = await client.fan_out(GRID, derive=derive)
        assert all(isinstance(p, Page) and p.from_cache for p in again.values())
        assert len(fake.requests) == pages
        await client.fan_out(GRID, refresh=True, derive=derive)
    assert len(fake.requests) == 2 * pages


async def test_categories_are_discovered_from_the_data(fake: FakeOpenRouter) -> None:
    """categories() lists each arena's categories as the data has them, with one request."""
    async with make_client(fake) as client:
        found = {arena: await client.categories(arena) for arena in Arena}
        assert len(fake.requests) == 3
        assert await client.categories("builders") == found[Arena.BUILDERS]
        assert len(fake.requests) == 3  # cached: no second request
    for arena, categories in found.items():
        payload = fake.payload({"source": "design-arena", "arena": arena.value})
        assert categories == tuple(dict.fromkeys(item["category"] for item in payload["data"]))
        assert set(KNOWN_CATEGORIES) <= set(categories)
    # The data knows categories this package was not told about.
    assert "mobile" in found[Arena.BUILDERS]
    assert "cli" in found[Arena.AGENTS]


async def test_a_full_design_arena_sweep(fake: FakeOpenRouter) -> None:
    """Discover, then fan out every arena x category: all valid, all pages, 3 requests in all."""
    async with make_client(fake) as client:
        sweep = [
            query
            for arena in Arena
            for query in Query.grid(
                source="design-arena", arena=arena, category=await client.categories(arena)
            )
        ]
        result = await client.fan_out(sweep, concurrency=8)
    assert result.ok
    assert len(sweep) == len(set(sweep)) > 3 * len(KNOWN_CATEGORIES)
    assert len(fake.requests) == 3  # the arena pages discovery read answer every category
    for query, page in result.pages.items():
        assert page.items
        assert {(item.arena, item.category) for item in page.items} == {  # type: ignore[union-attr]
            (query.arena, query.category)
        }
