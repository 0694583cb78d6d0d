"""Design Arena sweeps for a request per arena: category pages cut from each arena's page.

Against the fake on loopback, under both of its readings of ``max_results``
(the API reference's, "omitted = all", and the Data API guide's, "1 to 100,
default 50"), request counts from the fake's own log. Every page a fan-out
hands back, cut or fetched, must be what the fake answers for that query.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from openrouter_bench import (
    Arena,
    AuthenticationError,
    BadRequestError,
    BenchmarksClient,
    OpenRouterBenchError,
    Page,
    Query,
    ResponseFormatError,
    RetryPolicy,
    ServerError,
    fanout,
)
from openrouter_bench._convert import unstructure_page
from openrouter_bench.fake import FakeOpenRouter, ParameterError
from openrouter_bench.fake.selection import MAX_RESULTS_READINGS, MaxResultsReading
from tests.conftest import CANARY_KEY


def make_client(fake: FakeOpenRouter, **options: Any) -> BenchmarksClient:
    """A client of the fake with retries off (one request per ask) and no local quota."""
    options.setdefault("retry", RetryPolicy.never())
    options.setdefault("quota", None)
    return BenchmarksClient(CANARY_KEY, base_url=fake.url, **options)


@pytest.fixture(params=MAX_RESULTS_READINGS)
async def reading_fake(request: pytest.FixtureRequest) -> AsyncIterator[FakeOpenRouter]:
    """A fake reading max_results as the reference does, then as the guide does."""
    reading: MaxResultsReading = request.param
    async with FakeOpenRouter(
        seed=7, per_minute=None, per_day=None, max_results_reading=reading
    ) as server:
        yield server


def arena_query(arena: Arena | str) -> Query:
    """The arena-wide query: every category of one arena."""
    return Query(source="design-arena", arena=arena)


async def sweep_of(client: BenchmarksClient, limit: int | None = None) -> list[Query]:
    """Every category of every arena, as discovery finds them, each cut at ``limit``."""
    return [
        query
        for arena in Arena
        for query in Query.grid(
            source="design-arena",
            arena=arena,
            category=list(await client.categories(arena)),
            max_results=limit,
        )
    ]


def cuttable(fake: FakeOpenRouter, query: Query) -> bool:
    """Whether the arena page the fake sends proves ``query``'s answer (the module's rules)."""
    data = fake.payload(arena_query(query.arena or "models").params)["data"]
    found = sum(item["category"] == query.category for item in data)
    whole = len(data) != 50
    limit = query.max_results
    if limit is None:
        return whole
    if limit > 100 and len(data) <= 50:
        return False
    return whole or found >= limit


@pytest.mark.parametrize("limit", [None, 1, 5, 50, 150])
async def test_every_cut_page_is_the_fakes_own_answer(
    reading_fake: FakeOpenRouter, limit: int | None
) -> None:
    """Every arena and category, cut or asked alone: the fake's per-category answer exactly."""
    fake = reading_fake
    async with make_client(fake) as client:
        sweep = await sweep_of(client, limit)
        discovered = len(fake.requests)
        result = await client.fan_out(sweep, concurrency=8)
        arenas = {arena: await client.get(arena_query(arena)) for arena in Arena}
    assert discovered == 3
    alone = cut = 0
    for query, outcome in result.items():
        try:
            expected = fake.payload(query.params)
        except ParameterError:  # the guide's server refuses max_results over 100
            assert isinstance(outcome, BadRequestError)
            alone += 1
            continue
        assert isinstance(outcome, Page), outcome
        assert unstructure_page(outcome) == expected, query
        assert outcome.query == query
        if cuttable(fake, query):
            arena = arenas[Arena(str(query.arena))]
            assert outcome.derived_from == arena.query
            assert outcome.as_of == arena.as_of
            assert outcome.meta.citation == arena.meta.citation is not None
            assert outcome.fetched_at == arena.fetched_at
            assert outcome.from_cache  # the page discovery read
            assert not outcome.stale
            cut += 1
        else:
            assert outcome.derived_from is None
            alone += 1
    # The arena pages cost discovery's 3 requests; only what they cannot prove is asked alone.
    assert len(fake.requests) == 3 + alone
    if fake.max_results_reading == "reference":
        assert (cut, alone) == (len(sweep), 0)
    else:  # each arena page is cut at 50: at best a category's first few are proved
        assert alone > 0
        assert (cut > 0) is (limit in (1, 5, 50))


@pytest.mark.parametrize(("reading", "cold"), [("reference", 3), ("guide", 3 + 24)])
async def test_a_full_sweep_costs_its_discovery_cold_and_nothing_warm(
    tmp_path: Path, reading: MaxResultsReading, cold: int
) -> None:
    """Discovery then every category: 3 requests in all (the guide's cut pages: 3 + one per
    category), and nothing on a warm cache, in another client of the same store."""
    cache = f"sqlite:///{tmp_path / 'cache.db'}"
    async with FakeOpenRouter(
        seed=7, per_minute=None, per_day=None, max_results_reading=reading
    ) as fake:
        async with make_client(fake, cache=cache) as client:
            sweep = await sweep_of(client)
            first = await client.fan_out(sweep, concurrency=8)
        assert first.ok
        assert len(fake.requests) == cold
        if reading == "reference":
            assert len(sweep) == 29
            assert {Query.from_params(r.params) for r in fake.requests} == {
                arena_query(arena) for arena in Arena
            }
        else:  # cut at 50, the arena pages prove nothing: each documented category alone
            assert len(sweep) == 24
        fake.clear_requests()
        async with make_client(fake, cache=cache) as client:
            again = await client.fan_out(await sweep_of(client), concurrency=8)
        assert fake.requests == []
        assert [page.from_cache for page in again.pages.values()] == [True] * len(sweep)
        for query, page in again.pages.items():
            before = first.pages[query]
            assert (page.items, page.meta, page.derived_from) == (
                before.items,
                before.meta,
                before.derived_from,
            )


async def test_a_single_category_fan_out_is_unchanged(fake: FakeOpenRouter) -> None:
    """One category query, or one per arena: each sent as it is, nothing cut."""
    alone = [Query(source="design-arena", category="svg")]
    apart = [Query(source="design-arena", arena=arena, category="svg") for arena in Arena]
    async with make_client(fake, cache=None) as client:
        for grid in (alone, apart):
            fake.clear_requests()
            result = await client.fan_out(grid)
            assert sorted(Query.from_params(r.params).key for r in fake.requests) == sorted(
                query.key for query in grid
            )
            for query, page in result.pages.items():
                assert page.derived_from is None
                assert unstructure_page(page) == fake.payload(query.params)


async def test_derive_false_asks_for_every_category(fake: FakeOpenRouter) -> None:
    """derive=False: the sweep sends each query, as before the cut pages."""
    async with make_client(fake) as client:
        sweep = await sweep_of(client)
        result = await client.fan_out(sweep, concurrency=8, derive=False)
    assert all(page.derived_from is None for page in result.pages.values())
    assert len(fake.requests) == 3 + len(sweep)


async def test_the_arena_query_in_the_fan_out_shares_its_one_request(
    fake: FakeOpenRouter,
) -> None:
    """An arena query beside one of its categories: one request answers both."""
    models = arena_query("models")
    svg = Query(source="design-arena", category="svg", max_results=3)
    async with make_client(fake, cache=None) as client:
        result = await client.fan_out([svg, models])
    assert [Query.from_params(r.params) for r in fake.requests] == [models]
    page, cut = result[models], result[svg]
    assert isinstance(page, Page)
    assert isinstance(cut, Page)
    assert page.derived_from is None
    assert cut.derived_from == models
    assert unstructure_page(cut) == fake.payload(svg.params)
    assert repr(cut).endswith("derived_from=Query(source='design-arena', arena='models'))")


@pytest.mark.parametrize(
    ("fault", "error"),
    [(503, ServerError), ("malformed", ResponseFormatError), (401, AuthenticationError)],
)
async def test_an_arena_pages_error_is_every_cut_querys_outcome(
    fake: FakeOpenRouter, fault: Any, error: type[OpenRouterBenchError]
) -> None:
    """The arena page fails: each of its categories gets that error, none a partial page."""
    grid = Query.grid(source="design-arena", arena=["models", "agents"], category=["svg", "3d"])
    fake.script(fault)
    async with make_client(fake, cache=None) as client:
        result = await client.fan_out(grid, concurrency=1)
    assert len(fake.requests) == 2
    [failed] = [r.params["arena"] for r in fake.requests if r.status != 200]
    errors = result.errors
    assert {query.arena for query in errors} == {failed}
    assert len(errors) == 2
    assert len({id(outcome) for outcome in errors.values()}) == 1  # the one failure, shared
    assert all(isinstance(outcome, error) for outcome in errors.values())
    for query, page in result.pages.items():
        assert unstructure_page(page) == fake.payload(query.params)


async def test_a_stale_arena_page_makes_stale_cut_pages(fake: FakeOpenRouter) -> None:
    """The arena page's refresh fails and an older snapshot stands in: its cuts say stale."""
    grid = Query.grid(source="design-arena", category=["svg", "3d"])
    async with make_client(fake) as client:
        first = await client.fan_out(grid)
        old = fake.as_of
        fake.publish()
        fake.script(503)
        again = await client.fan_out(grid, max_age=0)
    assert len(fake.requests) == 2
    for query, page in again.pages.items():
        assert page.stale
        assert page.from_cache
        assert page.as_of == old
        assert page.derived_from == arena_query("models")
        assert page.items == first.pages[query].items
    assert len(again.pages) == 2


async def test_an_asker_cancelled_while_fetching_hands_the_fetch_on(
    fake: FakeOpenRouter,
) -> None:
    """The query fetching the shared arena page is cancelled: the one waiting fetches it."""
    grid = Query.grid(source="design-arena", category=["svg", "3d"])
    fake.script({"fault": "timeout", "delay": 30})
    async with make_client(fake, cache=None) as client:
        get = fanout.deriving(client.get, grid)
        first = asyncio.ensure_future(get(grid[0]))
        for _ in range(500):
            if fake.requests:
                break
            await asyncio.sleep(0.01)
        waiting = asyncio.ensure_future(get(grid[1]))
        await asyncio.sleep(0)
        first.cancel()
        page = await waiting
    assert first.cancelled()
    assert unstructure_page(page) == fake.payload(grid[1].params)
    assert page.derived_from == arena_query("models")
    assert len(fake.requests) == 2
