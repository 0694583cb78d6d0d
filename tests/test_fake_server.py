"""The bundled fake server, observed the way a client sees it: plain aiohttp against loopback."""

from __future__ import annotations

import asyncio
import email.utils
import importlib.metadata
import itertools
import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Final

import aiohttp
import orjson
import pytest
from yarl import URL

from openrouter_bench.errors import InvalidQueryError
from openrouter_bench.fake import (
    DEFAULT_AS_OF,
    FakeOpenRouter,
    Fault,
    ParameterError,
    RecordedRequest,
    serve,
)
from openrouter_bench.fake.selection import TASK_CATEGORIES, Selection
from openrouter_bench.query import KNOWN_CATEGORIES, Query

pytest_plugins = ["pytester"]

KEY: Final = "sk-or-v1-fake-test-7c1d9e0b3a5f"
AUTH: Final = {"Authorization": f"Bearer {KEY}"}
TIMESTAMP: Final = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")

AA_KEYS: Final = {
    "source",
    "model_permaslug",
    "display_name",
    "intelligence_index",
    "coding_index",
    "agentic_index",
    "pricing",
}
DA_KEYS: Final = {
    "source",
    "model_permaslug",
    "display_name",
    "arena",
    "category",
    "elo",
    "win_rate",
    "avg_generation_time_ms",
    "tournament_stats",
    "pricing",
}
EVAL_KEYS: Final = {
    "source",
    "model_permaslug",
    "display_name",
    "benchmark_type",
    "accuracy",
    "accuracy_stddev",
    "avg_cost_per_task",
    "total_tasks",
    "last_run_timestamp",
}
SEARCH_KEYS: Final = {
    "source",
    "model_permaslug",
    "display_name",
    "benchmark_type",
    "primary_metric",
    "primary_score",
    "avg_cost_per_task",
    "avg_latency_per_task_ms",
    "search_engine",
    "search_surface",
    "total_tasks",
    "last_run_timestamp",
}
META_KEYS: Final = {
    "as_of",
    "version",
    "source",
    "source_url",
    "citation",
    "model_count",
    "task_type",
}
PODIUM_KEYS: Final = {"first_place", "second_place", "third_place", "fourth_place", "total"}
RUN_CONFIG_KEYS: Final = {"max_agent_turns", "reasoning_effort", "temperature"}


class ManualClock:
    """A monotonic clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def data() -> FakeOpenRouter:
    """A fake that is never started: its payloads are the data under test."""
    return FakeOpenRouter(seed=11)


@pytest.fixture
async def server() -> AsyncIterator[FakeOpenRouter]:
    """A started fake without rate limits."""
    async with FakeOpenRouter(seed=11, per_minute=None, per_day=None) as fake:
        yield fake


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain aiohttp session with a short total timeout."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as client:
        yield client


async def fetch(
    session: aiohttp.ClientSession,
    fake: FakeOpenRouter,
    query: str | Mapping[str, str] = "",
    headers: Mapping[str, str] = AUTH,
) -> tuple[int, Mapping[str, str], bytes]:
    """One GET of the endpoint; a string query is sent exactly as written."""
    if isinstance(query, str):
        url = URL(fake.endpoint + ("?" + query if query else ""), encoded=True)
        request = session.get(url, headers=headers, allow_redirects=False)
    else:
        request = session.get(fake.endpoint, params=query, headers=headers, allow_redirects=False)
    async with request as response:
        return response.status, response.headers, await response.read()


def items_of(fake: FakeOpenRouter, **params: str) -> list[dict[str, Any]]:
    """The data list a 200 would carry for these parameters."""
    data: list[dict[str, Any]] = fake.payload(params)["data"]
    return data


# --- the data set --------------------------------------------------------------------------


def test_same_seed_gives_the_same_data() -> None:
    """Two fakes with one seed serve identical bodies; another seed serves different ones."""
    first, again, other = FakeOpenRouter(seed=5), FakeOpenRouter(seed=5), FakeOpenRouter(seed=6)
    assert first.payload() == again.payload()
    assert first.payload() != other.payload()
    first.publish()
    again.publish()
    assert first.payload({"source": "design-arena"}) == again.payload({"source": "design-arena"})


def test_catalog_has_many_realistic_models(data: FakeOpenRouter) -> None:
    """At least 150 distinct models; OpenRouter ids look like vendor/model with display names."""
    everything = items_of(data)
    ids = {item["model_permaslug"] for item in everything}
    assert len(ids) >= 150
    listed = {item["model_permaslug"] for item in items_of(data, source="artificial-analysis")}
    assert all(re.fullmatch(r"[a-z0-9.-]+/[a-z0-9.:-]+", permaslug) for permaslug in listed)
    assert all(item["display_name"].strip() for item in everything)
    assert "openai/gpt-4o" in ids or "openai/gpt-5" in ids


def test_model_count_option_scales_the_catalog() -> None:
    """``models`` sets the catalog size; too small a catalog is refused."""
    big = FakeOpenRouter(seed=2, models=320)
    assessed = items_of(big, source="artificial-analysis")
    assert len({item["model_permaslug"] for item in assessed}) > 250
    with pytest.raises(ValueError, match="models"):
        FakeOpenRouter(models=5)


def test_every_item_has_every_key_of_its_shape(data: FakeOpenRouter) -> None:
    """Each source's items carry exactly the contract's keys; nested objects too."""
    for item in items_of(data, include_run_config="true"):
        if item["source"] == "artificial-analysis":
            assert set(item) == AA_KEYS
        elif item["source"] == "design-arena":
            assert set(item) == DA_KEYS
            assert set(item["tournament_stats"]) == PODIUM_KEYS
        elif item["benchmark_type"].startswith("search_"):
            assert set(item) == SEARCH_KEYS | {"run_config"}
            assert set(item["run_config"]) == RUN_CONFIG_KEYS
        else:
            assert set(item) == EVAL_KEYS
        if item.get("pricing") is not None:
            assert set(item["pricing"]) == {"prompt", "completion"}


def test_nulls_appear_where_the_contract_allows(data: FakeOpenRouter) -> None:
    """Every nullable field is null somewhere and set somewhere else."""
    every = items_of(data, include_run_config="true")

    def values(source: str, path: tuple[str, ...]) -> list[Any]:
        found = []
        for item in every:
            if item["source"] != source or path[0] not in item:
                continue
            value = item
            for step in path:
                value = value[step]
            found.append(value)
        return found

    nullable = [
        ("artificial-analysis", ("intelligence_index",)),
        ("artificial-analysis", ("coding_index",)),
        ("artificial-analysis", ("agentic_index",)),
        ("artificial-analysis", ("pricing",)),
        ("design-arena", ("avg_generation_time_ms",)),
        ("design-arena", ("pricing",)),
        ("design-arena", ("tournament_stats", "total")),
        ("design-arena", ("tournament_stats", "fourth_place")),
        ("openrouter", ("accuracy_stddev",)),
        ("openrouter", ("avg_cost_per_task",)),
        ("openrouter", ("avg_latency_per_task_ms",)),
        ("openrouter", ("run_config", "max_agent_turns")),
        ("openrouter", ("run_config", "reasoning_effort")),
        ("openrouter", ("run_config", "temperature")),
    ]
    for source, path in nullable:
        seen = values(source, path)
        assert None in seen, path
        assert any(value is not None for value in seen), path


def test_unmapped_design_arena_models_have_no_pricing(data: FakeOpenRouter) -> None:
    """Design Arena lists its own ids (pricing null) next to OpenRouter ids (priced)."""
    arena_items = items_of(data, source="design-arena", arena="builders") + items_of(
        data, source="design-arena"
    )
    unmapped = [item for item in arena_items if item["pricing"] is None]
    mapped = [item for item in arena_items if item["pricing"] is not None]
    assert unmapped
    assert mapped
    assert all("/" not in item["model_permaslug"] for item in unmapped)
    assert all("/" in item["model_permaslug"] for item in mapped)


def test_prices_are_exact_decimal_strings(data: FakeOpenRouter) -> None:
    """Prices are per-token decimal strings, like "0.0000025", never floats."""
    prices = [
        value
        for item in items_of(data, source="artificial-analysis")
        if item["pricing"] is not None
        for value in item["pricing"].values()
    ]
    assert prices
    assert all(isinstance(price, str) and Decimal(price) >= 0 for price in prices)
    assert all("e" not in price.lower() for price in prices)
    assert any(Decimal(price) < Decimal("0.001") and price != "0" for price in prices)


def test_every_arena_has_the_known_categories(data: FakeOpenRouter) -> None:
    """Each arena ranks models in at least the contract's eight categories."""
    for arena in ("models", "builders", "agents"):
        items = items_of(data, source="design-arena", arena=arena)
        categories = {item["category"] for item in items}
        assert set(KNOWN_CATEGORIES) <= categories, arena
        assert {item["arena"] for item in items} == {arena}


def test_design_arena_rankings_are_consistent(data: FakeOpenRouter) -> None:
    """Sorted by elo, the top of a ranking wins more and takes more first places."""
    items = items_of(data, source="design-arena", category="gamedev")
    elos = [item["elo"] for item in items]
    assert elos == sorted(elos, reverse=True)
    quarter = len(items) // 4
    top, bottom = items[:quarter], items[-quarter:]
    assert sum(i["win_rate"] for i in top) > sum(i["win_rate"] for i in bottom)

    def first_share(group: list[dict[str, Any]]) -> float:
        known = [i["tournament_stats"] for i in group if i["tournament_stats"]["total"]]
        shares: list[float] = [stats["first_place"] / stats["total"] for stats in known]
        return sum(shares) / len(shares)

    assert first_share(top) > first_share(bottom)
    for item in items:
        stats = item["tournament_stats"]
        assert 0 <= item["win_rate"] <= 100
        if stats["total"] is not None and stats["fourth_place"] is not None:
            places = stats["first_place"] + stats["second_place"] + stats["third_place"]
            assert places + stats["fourth_place"] == stats["total"]


def test_openrouter_evals_cover_every_benchmark(data: FakeOpenRouter) -> None:
    """Both classic evals and all four search evals, over several engines and both surfaces."""
    items = items_of(data, source="openrouter")
    assert {item["benchmark_type"] for item in items} == {
        "gpqa_diamond",
        "tau_bench_verified_airline",
        "search_browsecomp",
        "search_hle",
        "search_dsqa",
        "search_widesearch",
    }
    search = [item for item in items if item["benchmark_type"].startswith("search_")]
    assert len({item["search_engine"] for item in search}) >= 2
    assert {item["search_surface"] for item in search} == {"server-tool", "plugin"}
    assert {item["primary_metric"] for item in search} == {"accuracy", "f1_by_item"}
    assert all(0 <= item["accuracy"] <= 1 for item in items if "accuracy" in item)
    assert all("run_config" not in item for item in items)


def test_timestamps_use_the_api_format(data: FakeOpenRouter) -> None:
    """meta.as_of and every last_run_timestamp read YYYY-MM-DDTHH:MM:SSZ."""
    body = data.payload({"source": "openrouter"})
    assert body["meta"]["as_of"] == "2026-06-03T12:00:00Z"
    assert all(TIMESTAMP.fullmatch(item["last_run_timestamp"]) for item in body["data"])


# --- filters, ordering, meta ---------------------------------------------------------------


def scores(items: list[dict[str, Any]], field: str) -> list[float]:
    """One score per item, in response order."""
    return [item[field] for item in items]


def test_unfiltered_lists_sources_in_order_and_models_repeatedly(data: FakeOpenRouter) -> None:
    """No filter: every source, concatenated in a fixed order; a model appears several times."""
    body = data.payload()
    sources = [item["source"] for item in body["data"]]
    assert sources == sorted(
        sources, key=["artificial-analysis", "design-arena", "openrouter"].index
    )
    assert set(sources) == {"artificial-analysis", "design-arena", "openrouter"}
    ids = [item["model_permaslug"] for item in body["data"]]
    assert len(ids) > len(set(ids))
    assert body["meta"]["model_count"] == len(set(ids))
    assert body["meta"]["citation"] is None
    assert body["meta"]["source_url"] is None
    assert body["meta"]["source"] is None


@pytest.mark.parametrize("task", ["coding", "intelligence", "agentic"])
def test_artificial_analysis_task_sorts_by_its_index(data: FakeOpenRouter, task: str) -> None:
    """A task type picks its index, drops items where it is null and sorts by it."""
    items = items_of(data, source="artificial-analysis", task_type=task)
    everything = items_of(data, source="artificial-analysis")
    index = f"{task}_index"
    assert len(items) == sum(item[index] is not None for item in everything)
    values = scores(items, index)
    assert values == sorted(values, reverse=True)


def test_rankings_sort_by_score_then_id(data: FakeOpenRouter) -> None:
    """Within a ranking: score descending, ties by model id."""
    for params, field in (
        ({"source": "artificial-analysis"}, "intelligence_index"),
        ({"source": "design-arena", "category": "svg"}, "elo"),
        ({"source": "openrouter", "benchmark_type": "gpqa_diamond"}, "accuracy"),
        ({"source": "openrouter", "benchmark_type": "search_hle"}, "primary_score"),
    ):
        items = [item for item in items_of(data, **params) if item[field] is not None]
        keys = [(-item[field], item["model_permaslug"]) for item in items]
        assert keys == sorted(keys), params


def test_design_arena_defaults_to_the_models_arena(data: FakeOpenRouter) -> None:
    """source=design-arena without arena is the models arena, same body as arena=models."""
    assert data.payload({"source": "design-arena"}) == data.payload(
        {"source": "design-arena", "arena": "models"}
    )
    assert {item["arena"] for item in items_of(data, source="design-arena")} == {"models"}


def test_category_filters_and_unknown_category_is_empty(data: FakeOpenRouter) -> None:
    """A category keeps only its items; an unknown one gives an empty list, not an error."""
    items = items_of(data, source="design-arena", arena="agents", category="3d")
    assert items
    assert {(item["arena"], item["category"]) for item in items} == {("agents", "3d")}
    body = data.payload({"source": "design-arena", "category": "no-such-category"})
    assert body["data"] == []
    assert body["meta"]["model_count"] == 0
    assert body["meta"]["citation"] is not None


@pytest.mark.parametrize("task", ["coding", "intelligence", "agentic"])
def test_design_arena_task_maps_to_categories(data: FakeOpenRouter, task: str) -> None:
    """A task type keeps the Design Arena categories documented for it."""
    categories = {
        item["category"] for item in items_of(data, source="design-arena", task_type=task)
    }
    assert categories
    assert categories <= TASK_CATEGORIES[task]


@pytest.mark.parametrize(
    ("task", "benchmarks"),
    [
        ("intelligence", {"gpqa_diamond"}),
        ("agentic", {"tau_bench_verified_airline"}),
        ("search", {"search_browsecomp", "search_hle", "search_dsqa", "search_widesearch"}),
        ("coding", set()),
    ],
)
def test_openrouter_task_maps_to_benchmarks(
    data: FakeOpenRouter, task: str, benchmarks: set[str]
) -> None:
    """A task type keeps the OpenRouter evals documented for it."""
    items = items_of(data, source="openrouter", task_type=task)
    assert {item["benchmark_type"] for item in items} == benchmarks


def test_search_task_without_source_is_openrouter_only(data: FakeOpenRouter) -> None:
    """task_type=search narrows to OpenRouter search evals and cites OpenRouter."""
    body = data.payload({"task_type": "search"})
    assert body["data"]
    assert all(item["benchmark_type"].startswith("search_") for item in body["data"])
    assert body["meta"]["source"] is None
    assert body["meta"]["task_type"] == "search"
    assert body["meta"]["citation"] is not None
    assert body["meta"]["source_url"] is not None


def test_classic_benchmark_narrows_only_openrouter_items(data: FakeOpenRouter) -> None:
    """A classic benchmark_type keeps other sources and only that OpenRouter eval."""
    items = items_of(data, benchmark_type="tau_bench_verified_airline")
    assert {item["source"] for item in items} == {
        "artificial-analysis",
        "design-arena",
        "openrouter",
    }
    openrouter = {item["benchmark_type"] for item in items if item["source"] == "openrouter"}
    assert openrouter == {"tau_bench_verified_airline"}


def test_search_benchmark_engine_and_surface_filter(data: FakeOpenRouter) -> None:
    """A search benchmark_type, search_engine and search_surface each narrow search items."""
    items = items_of(
        data, benchmark_type="search_dsqa", search_engine="exa", search_surface="plugin"
    )
    assert items
    assert {
        (item["benchmark_type"], item["search_engine"], item["search_surface"]) for item in items
    } == {("search_dsqa", "exa", "plugin")}
    assert items_of(data, task_type="search", search_engine="no-such-engine") == []


def test_run_config_only_when_asked(data: FakeOpenRouter) -> None:
    """include_run_config=true adds run_config to search items and to nothing else."""
    with_config = items_of(data, source="openrouter", include_run_config="true")
    assert all(
        ("run_config" in item) == item["benchmark_type"].startswith("search_")
        for item in with_config
    )
    assert items_of(data, source="openrouter", include_run_config="false") == items_of(
        data, source="openrouter"
    )


def test_max_results_truncates_the_final_list(data: FakeOpenRouter) -> None:
    """max_results keeps a prefix of the full list, and meta counts only what is sent."""
    full = data.payload({"source": "design-arena"})
    cut = data.payload({"source": "design-arena", "max_results": "7"})
    assert cut["data"] == full["data"][:7]
    assert cut["meta"]["model_count"] == len({i["model_permaslug"] for i in cut["data"]})
    assert len(items_of(data, max_results="100000")) == len(items_of(data))


@pytest.mark.parametrize("source", ["artificial-analysis", "design-arena", "openrouter"])
def test_meta_for_a_single_source(data: FakeOpenRouter, source: str) -> None:
    """meta has every key, echoes the filters and cites the one source."""
    meta = data.payload({"source": source})["meta"]
    assert set(meta) == META_KEYS
    assert meta["source"] == source
    assert meta["task_type"] is None
    assert meta["version"] == "v1"
    assert meta["as_of"] == "2026-06-03T12:00:00Z"
    assert meta["citation"]
    assert meta["source_url"].startswith("https://")


def test_fake_and_client_agree_on_valid_combinations(data: FakeOpenRouter) -> None:
    """Every combination the client's Query accepts, the fake accepts, and vice versa."""
    axes: dict[str, list[Any]] = {
        "source": [None, "artificial-analysis", "design-arena", "openrouter"],
        "task_type": [None, "coding", "intelligence", "agentic", "search"],
        "arena": [None, "builders"],
        "category": [None, "svg"],
        "benchmark_type": [None, "gpqa_diamond", "search_hle"],
        "include_run_config": [False, True],
        "search_surface": [None, "plugin"],
    }
    agreed = 0
    for values in itertools.product(*axes.values()):
        given = {name: value for name, value in zip(axes, values, strict=True) if value}
        params = {name: "true" if value is True else value for name, value in given.items()}
        client_refuses = fake_refuses = None
        try:
            Query(**given)
        except InvalidQueryError as error:
            client_refuses = error.parameter
        try:
            Selection.from_params(params)
        except ParameterError as error:
            fake_refuses = error.parameter
        assert fake_refuses == client_refuses, params
        agreed += client_refuses is None
    assert agreed > 50


# --- over HTTP -----------------------------------------------------------------------------


async def test_http_body_is_the_payload_oracle(
    server: FakeOpenRouter, session: aiohttp.ClientSession
) -> None:
    """A 200 carries exactly payload(params), as JSON."""
    params = {"source": "openrouter", "task_type": "search", "include_run_config": "true"}
    status, headers, body = await fetch(session, server, params)
    assert status == 200
    assert headers["Content-Type"].startswith("application/json")
    assert orjson.loads(body) == server.payload(params)
    assert server.requests == [
        RecordedRequest(
            method="GET",
            path="/api/v1/benchmarks",
            params=params,
            status=200,
            http_status=200,
            fault=None,
            at=server.requests[0].at,
        )
    ]


BAD_QUERIES: Final = [
    ("source=bogus", "source"),
    ("task_type=writing", "task_type"),
    ("source=design-arena&arena=plaza", "arena"),
    ("source=openrouter&benchmark_type=mmlu", "benchmark_type"),
    ("task_type=search&search_surface=browser", "search_surface"),
    ("max_results=0", "max_results"),
    ("max_results=-3", "max_results"),
    ("max_results=ten", "max_results"),
    ("max_results=2.5", "max_results"),
    ("include_run_config=yes", "include_run_config"),
    ("arena=models", "arena"),
    ("category=svg", "category"),
    ("source=artificial-analysis&category=svg", "category"),
    ("source=artificial-analysis&task_type=search", "task_type"),
    ("source=design-arena&benchmark_type=gpqa_diamond", "benchmark_type"),
    ("task_type=coding&benchmark_type=search_hle", "benchmark_type"),
    ("task_type=search&benchmark_type=gpqa_diamond", "benchmark_type"),
    ("source=artificial-analysis&search_engine=exa", "search_engine"),
    ("task_type=coding&include_run_config=true", "include_run_config"),
    ("benchmark_type=gpqa_diamond&search_surface=plugin", "search_surface"),
    ("limit=5", "limit"),
    ("source=openrouter&source=design-arena", "source"),
    ("source=", "source"),
    ("search_engine=", "search_engine"),
]


@pytest.mark.parametrize(("query", "parameter"), BAD_QUERIES)
async def test_invalid_parameters_get_400_naming_them(
    server: FakeOpenRouter, session: aiohttp.ClientSession, query: str, parameter: str
) -> None:
    """Invalid parameters get a 400 in the contract's error shape, naming the parameter."""
    status, _, body = await fetch(session, server, query)
    assert status == 400
    document = orjson.loads(body)
    assert set(document) == {"error", "openrouter_metadata", "user_id"}
    assert document["error"]["code"] == 400
    assert parameter in document["error"]["message"]
    assert document["error"]["metadata"] == {"parameter": parameter}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer   "},
        {"Authorization": f"Basic {KEY}"},
        {"Authorization": f"Bearer {KEY} extra"},
        {"Authorization": "Bearer someone-else"},
    ],
)
async def test_bad_credentials_get_401(
    session: aiohttp.ClientSession, headers: dict[str, str]
) -> None:
    """Missing, empty, malformed or unknown keys get a 401 that never echoes a key."""
    async with FakeOpenRouter(keys=[KEY]) as fake:
        status, _, body = await fetch(session, fake, "", headers)
        assert status == 401
        document = orjson.loads(body)
        assert document["error"]["code"] == 401
        assert KEY not in body.decode()
        assert "someone-else" not in body.decode()
        ok, _, _ = await fetch(session, fake)
        assert ok == 200


async def test_any_key_is_valid_without_a_key_list(
    server: FakeOpenRouter, session: aiohttp.ClientSession
) -> None:
    """With keys=None, any non-empty bearer key works."""
    status, _, _ = await fetch(session, server, "", {"Authorization": "bearer anything"})
    assert status == 200


async def test_other_paths_and_methods(
    server: FakeOpenRouter, session: aiohttp.ClientSession
) -> None:
    """Unknown API paths get 404 and other methods 405, both logged, in the error shape."""
    async with session.get(server.url + "/models", headers=AUTH) as response:
        assert response.status == 404
        assert orjson.loads(await response.read())["error"]["code"] == 404
    async with session.post(server.endpoint, headers=AUTH) as response:
        assert response.status == 405
    assert [record.status for record in server.requests] == [404, 405]


async def test_per_minute_limit_and_recovery(session: aiohttp.ClientSession) -> None:
    """Past per_minute: 429 with headers; refused requests do not count; the window slides."""
    clock = ManualClock()
    async with FakeOpenRouter(per_minute=3, minute_window=2.0, per_day=None, clock=clock) as fake:
        remaining = []
        for _ in range(3):
            status, headers, _ = await fetch(session, fake)
            assert status == 200
            assert headers["X-RateLimit-Limit"] == "3"
            remaining.append(headers["X-RateLimit-Remaining"])
            clock.now += 0.5
        assert remaining == ["2", "1", "0"]
        status, headers, body = await fetch(session, fake)
        assert status == 429
        assert headers["Retry-After"] == "1"  # the first request expires in 0.5 s, rounded up
        assert headers["X-RateLimit-Remaining"] == "0"
        assert int(headers["X-RateLimit-Reset"]) > time.time() * 1000 - 60_000
        assert orjson.loads(body)["error"]["code"] == 429
        status, _, _ = await fetch(session, fake)
        assert status == 429  # still refused, and not counted
        clock.now += 0.5
        status, _, _ = await fetch(session, fake)
        assert status == 200  # exactly one slot freed
        status, _, _ = await fetch(session, fake)
        assert status == 429
        clock.now += 10
        for _ in range(3):
            status, _, _ = await fetch(session, fake)
            assert status == 200
        other_key = {"Authorization": "Bearer another-key"}
        status, _, _ = await fetch(session, fake, "", other_key)
        assert status == 200  # limits are per key


async def test_per_day_limit(session: aiohttp.ClientSession) -> None:
    """Past per_day: 429 with Retry-After up to the end of the day window."""
    clock = ManualClock()
    async with FakeOpenRouter(per_minute=None, per_day=2, day_window=100.0, clock=clock) as fake:
        for _ in range(2):
            status, headers, _ = await fetch(session, fake)
            assert status == 200
            assert headers["X-RateLimit-Limit"] == "2"
        clock.now += 30.2
        status, headers, _ = await fetch(session, fake)
        assert status == 429
        assert headers["Retry-After"] == "70"
        clock.now += 70
        status, _, _ = await fetch(session, fake)
        assert status == 200


async def test_invalid_request_still_counts(session: aiohttp.ClientSession) -> None:
    """A 400 spends quota like any request; the headers say so."""
    clock = ManualClock()
    async with FakeOpenRouter(per_minute=2, per_day=None, clock=clock) as fake:
        status, headers, _ = await fetch(session, fake, "source=bogus")
        assert (status, headers["X-RateLimit-Remaining"]) == (400, "1")
        status, headers, _ = await fetch(session, fake)
        assert (status, headers["X-RateLimit-Remaining"]) == (200, "0")
        status, _, _ = await fetch(session, fake)
        assert status == 429


# --- faults --------------------------------------------------------------------------------


@pytest.mark.parametrize("code", [400, 402, 403, 408, 500, 502, 503, 504])
async def test_status_fault_sends_a_json_error(
    server: FakeOpenRouter, session: aiohttp.ClientSession, code: int
) -> None:
    """A scripted status answers with that code and a contract-shaped body, once."""
    server.script(code)
    status, _, body = await fetch(session, server)
    assert status == code
    assert orjson.loads(body)["error"]["code"] == code
    status, _, _ = await fetch(session, server)
    assert status == 200
    assert [(r.status, r.fault) for r in server.requests] == [(code, str(code)), (200, None)]


async def test_retry_after_in_seconds_and_as_http_date(
    server: FakeOpenRouter, session: aiohttp.ClientSession
) -> None:
    """429/503 faults carry Retry-After as seconds or as an HTTP date."""
    server.script(
        {"fault": 503, "retry_after": 2},
        {"fault": 429, "retry_after": 30, "retry_after_date": True},
        Fault(429),
    )
    _, headers, _ = await fetch(session, server)
    assert headers["Retry-After"] == "2"
    status, headers, _ = await fetch(session, server)
    assert status == 429
    when = email.utils.parsedate_to_datetime(headers["Retry-After"])
    assert timedelta(seconds=20) < when - datetime.now(UTC) < timedelta(seconds=40)
    _, headers, _ = await fetch(session, server)
    assert "Retry-After" not in headers


@pytest.mark.parametrize("name", ["html502", "html503"])
async def test_proxy_html_pages(
    server: FakeOpenRouter, session: aiohttp.ClientSession, name: str
) -> None:
    """html502/html503 answer with a proxy's HTML page, not JSON."""
    server.script(name)
    status, headers, body = await fetch(session, server)
    assert status == int(name[-3:])
    assert headers["Content-Type"].startswith("text/html")
    assert body.startswith(b"<!DOCTYPE html>")


async def test_bodies_that_are_not_the_document(
    server: FakeOpenRouter, session: aiohttp.ClientSession
) -> None:
    """malformed is not JSON; wrong_shape is a JSON array; oversize is valid and that big."""
    server.script("malformed", "wrong_shape", {"fault": "oversize", "size": 1_000_000})
    status, _, body = await fetch(session, server)
    assert status == 200
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(body)
    status, _, body = await fetch(session, server)
    assert status == 200
    assert isinstance(orjson.loads(body), list)
    status, _, body = await fetch(session, server)
    assert status == 200
    assert len(body) == 1_000_000
    assert len(orjson.loads(body)["data"]) > len(server.payload()["data"])


async def test_default_oversize_is_twelve_mebibytes(
    server: FakeOpenRouter, session: aiohttp.ClientSession
) -> None:
    """Without a size, oversize sends 12 MiB."""
    server.script("oversize")
    _, headers, body = await fetch(session, server, {"source": "openrouter"})
    assert int(headers["Content-Length"]) == len(body) == 12 * 1024 * 1024


@pytest.mark.parametrize("name", ["truncate", "reset_mid_body"])
async def test_cut_bodies_fail_while_reading(
    server: FakeOpenRouter, session: aiohttp.ClientSession, name: str
) -> None:
    """truncate and reset_mid_body send 200 headers, then the body breaks off."""
    server.script(name)
    async with session.get(server.endpoint, headers=AUTH) as response:
        assert response.status == 200
        with pytest.raises(aiohttp.ClientPayloadError):
            await response.read()
    assert server.requests[-1].fault == name


async def test_reset_before_headers(server: FakeOpenRouter, session: aiohttp.ClientSession) -> None:
    """reset drops the connection before any header (aiohttp retries a GET once on its own)."""
    server.script("reset", "reset")
    with pytest.raises(aiohttp.ClientConnectionError):
        await fetch(session, server)
    assert [(r.status, r.http_status) for r in server.requests] == [("reset", None)] * 2


async def test_timeout_does_not_block_close(session: aiohttp.ClientSession) -> None:
    """timeout sends nothing for its delay; the client times out and close() stays prompt."""
    fake = FakeOpenRouter(per_minute=None)
    await fake.start()
    fake.script({"fault": "timeout", "delay": 30})
    with pytest.raises(asyncio.TimeoutError):
        async with session.get(
            fake.endpoint, headers=AUTH, timeout=aiohttp.ClientTimeout(total=0.2)
        ):
            pass
    pending = asyncio.create_task(
        session.get(fake.endpoint, headers=AUTH, timeout=aiohttp.ClientTimeout(total=5))
    )
    fake.script({"fault": "timeout", "delay": 30})
    await asyncio.sleep(0.05)  # let the second request reach its stall
    started = time.perf_counter()
    await fake.close()
    assert time.perf_counter() - started < 1.5
    with pytest.raises(aiohttp.ClientError):
        (await pending).close()
    await fake.close()  # idempotent


async def test_slow_body_arrives_late_but_whole(
    server: FakeOpenRouter, session: aiohttp.ClientSession
) -> None:
    """slow_body stalls after the headers, then completes the real body."""
    server.script({"fault": "slow_body", "delay": 0.05})
    started = time.perf_counter()
    status, _, body = await fetch(session, server, {"source": "artificial-analysis"})
    assert time.perf_counter() - started >= 0.05
    assert status == 200
    assert orjson.loads(body) == server.payload({"source": "artificial-analysis"})


async def test_redirect_points_to_another_host(
    server: FakeOpenRouter, session: aiohttp.ClientSession
) -> None:
    """redirect answers 302 with a Location on a different host."""
    server.script("redirect")
    status, headers, _ = await fetch(session, server, "source=openrouter")
    assert status == 302
    location = URL(headers["Location"])
    assert location.host != URL(server.url).host
    assert location.path_qs == "/api/v1/benchmarks?source=openrouter"


def test_fault_specs_are_checked() -> None:
    """Unknown fault names, statuses outside 4xx/5xx and unknown options are refused."""
    fake = FakeOpenRouter()
    for bad in (200, 600, "explode", {"fault": 503, "retry": 2}, {"retry_after": 1}, True):
        with pytest.raises(ValueError, match="fault"):
            fake.script(bad)
    with pytest.raises(ValueError, match="delay"):
        fake.script({"fault": "timeout", "delay": -1})
    assert fake.state()["pending_faults"] == 0


async def test_faults_fire_in_order_then_stop(
    server: FakeOpenRouter, session: aiohttp.ClientSession
) -> None:
    """Scripted faults hit the next requests one each, in order, then requests succeed."""
    server.script(500, "malformed")
    server.script("html503")
    statuses = [(await fetch(session, server))[0] for _ in range(4)]
    assert statuses == [500, 200, 503, 200]
    assert [r.status for r in server.requests] == [500, "malformed", "html503", 200]


async def test_chaos_is_a_seeded_fraction(session: aiohttp.ClientSession) -> None:
    """chaos fails about its rate of requests, the same ones for the same seed; rate 0 stops."""
    patterns = []
    for _ in range(2):
        async with FakeOpenRouter(per_minute=None, per_day=None) as fake:
            fake.chaos(0.5, [500, 503], seed=4)
            patterns.append([(await fetch(session, fake))[0] for _ in range(40)])
            fake.chaos(0)
            assert [(await fetch(session, fake))[0] for _ in range(5)] == [200] * 5
    assert patterns[0] == patterns[1]
    failures = sum(status != 200 for status in patterns[0])
    assert 8 <= failures <= 32
    assert set(patterns[0]) == {200, 500, 503}


# --- secrets, control, snapshots -------------------------------------------------------------


async def test_the_key_never_reaches_the_log(
    server: FakeOpenRouter, session: aiohttp.ClientSession
) -> None:
    """Neither the log, its JSON, the control endpoint nor the fake's repr holds the key."""
    server.script(503)
    await fetch(session, server)
    await fetch(session, server, "source=bogus")
    await fetch(session, server)
    async with session.get(URL(server.url).with_path("/_fake/requests")) as response:
        served = await response.text()
    shown = [repr(server.requests), json.dumps([r.to_json() for r in server.requests])]
    for text in (*shown, served, repr(server), str(server.state())):
        assert KEY not in text
    assert len(orjson.loads(served)) == 3


async def test_control_endpoints_over_http(
    server: FakeOpenRouter, session: aiohttp.ClientSession
) -> None:
    """The /_fake/ endpoints script faults, read and clear the log, publish, report and reset."""
    control = URL(server.url).with_path("/_fake")
    async with session.post(control / "faults", json={"script": [503, {"fault": 429}]}) as r:
        assert r.status == 200
        assert (await r.json())["pending_faults"] == 2
    assert [(await fetch(session, server))[0] for _ in range(3)] == [503, 429, 200]
    async with session.get(control / "requests") as r:
        assert [record["status"] for record in await r.json()] == [503, 429, 200]
    async with session.delete(control / "requests") as r:
        assert r.status == 204
    assert server.requests == []
    async with session.post(control / "publish", json={"as_of": "2026-07-01T00:00:00Z"}) as r:
        assert (await r.json()) == {"as_of": "2026-07-01T00:00:00Z"}
    async with session.post(control / "publish") as r:
        assert (await r.json()) == {"as_of": "2026-07-02T00:00:00Z"}
    async with session.get(control / "state") as r:
        state = await r.json()
    assert state["as_of"] == "2026-07-02T00:00:00Z"
    assert state["published"][0] == "2026-06-03T12:00:00Z"
    async with session.post(control / "chaos", json={"rate": 1, "faults": [502]}) as r:
        assert (await r.json())["chaos_rate"] == 1
    assert (await fetch(session, server))[0] == 502
    async with session.post(control / "faults", json={"script": ["explode"]}) as r:
        assert r.status == 400
        assert "explode" in (await r.json())["error"]["message"]
    async with session.post(control / "publish", data=b"not json") as r:
        assert r.status == 400
    async with session.post(control / "reset") as r:
        state = await r.json()
    assert (state["as_of"], state["requests"], state["chaos_rate"]) == (
        "2026-06-03T12:00:00Z",
        0,
        0.0,
    )
    assert (await fetch(session, server))[0] == 200


def ranking(
    fake: FakeOpenRouter, params: Mapping[str, str], as_of: datetime | None = None
) -> list[str]:
    """Model ids of one ranking, best first."""
    body = fake.payload(params) if as_of is None else fake.payload_at(as_of, params)
    return [item["model_permaslug"] for item in body["data"]]


def test_publish_moves_ranks_and_keeps_old_snapshots() -> None:
    """publish drifts scores (ranks move), turns models over, and keeps payload_at readable."""
    fake = FakeOpenRouter(seed=3)
    first = fake.as_of
    rankings = [
        {"source": "artificial-analysis"},
        {"source": "design-arena", "category": "svg"},
        {"source": "openrouter", "benchmark_type": "gpqa_diamond"},
    ]
    before = [fake.payload(params) for params in rankings]
    second = fake.publish()
    assert second == first + timedelta(days=1) == fake.as_of
    for params, old in zip(rankings, before, strict=True):
        new_ids, old_ids = ranking(fake, params), ranking(fake, params, first)
        common = [permaslug for permaslug in new_ids if permaslug in old_ids]
        moved = sum(
            [p for p in old_ids if p in common].index(permaslug) != index
            for index, permaslug in enumerate(common)
        )
        assert moved >= 3, params
        assert fake.payload_at(first, params) == old
    assessed_before, assessed_after = (
        set(ranking(fake, {"source": "artificial-analysis"}, first)),
        set(ranking(fake, {"source": "artificial-analysis"})),
    )
    assert assessed_after - assessed_before  # some entered
    assert assessed_before - assessed_after  # some left
    assert fake.payload()["meta"]["as_of"] == "2026-06-04T12:00:00Z"
    assert fake.payload_at(first)["meta"]["as_of"] == "2026-06-03T12:00:00Z"
    assert fake.published == [first, second]


def test_publish_checks_its_as_of() -> None:
    """as_of must be aware and later than the current one; unknown snapshots are not found."""
    fake = FakeOpenRouter()
    with pytest.raises(ValueError, match="later"):
        fake.publish(as_of=DEFAULT_AS_OF)
    with pytest.raises(ValueError, match="timezone"):
        fake.publish(as_of=datetime(2030, 1, 1))
    with pytest.raises(LookupError):
        fake.payload_at(DEFAULT_AS_OF + timedelta(hours=1))
    chosen = fake.publish(as_of=datetime(2026, 9, 1, 8, 30, 15, 999, tzinfo=UTC))
    assert chosen == datetime(2026, 9, 1, 8, 30, 15, tzinfo=UTC)


def test_payload_refuses_what_the_server_refuses() -> None:
    """payload raises ParameterError (a ValueError) where the server answers 400."""
    fake = FakeOpenRouter()
    with pytest.raises(ParameterError) as error:
        fake.payload({"source": "design-arena", "benchmark_type": "gpqa_diamond"})
    assert error.value.parameter == "benchmark_type"
    assert isinstance(error.value, ValueError)


async def test_http_serves_the_newest_snapshot(
    server: FakeOpenRouter, session: aiohttp.ClientSession
) -> None:
    """After publish, responses carry the new as_of."""
    _, _, before = await fetch(session, server, "max_results=1")
    server.publish()
    _, _, after = await fetch(session, server, "max_results=1")
    assert orjson.loads(before)["meta"]["as_of"] == "2026-06-03T12:00:00Z"
    assert orjson.loads(after)["meta"]["as_of"] == "2026-06-04T12:00:00Z"


# --- lifecycle, thread mode, serve, plugin -------------------------------------------------


def test_loopback_only_and_url_before_start() -> None:
    """A non-loopback host is refused; the URL needs a started fake."""
    with pytest.raises(ValueError, match="loopback"):
        FakeOpenRouter(host="0.0.0.0")  # noqa: S104 - the refused value under test
    with pytest.raises(RuntimeError, match="not started"):
        _ = FakeOpenRouter().url


async def test_starts_quickly_and_only_once() -> None:
    """Starting a fake for a fresh seed is quick; a closed fake cannot start again."""
    started = time.perf_counter()
    async with FakeOpenRouter(seed=987) as fake:
        assert time.perf_counter() - started < 0.5
        assert fake.url.startswith("http://127.0.0.1:")
        assert fake.url.endswith("/api/v1")
    with pytest.raises(RuntimeError):
        await fake.start()


def sync_get(url: str) -> tuple[int, dict[str, Any]]:
    """A blocking GET with the test key."""
    request = urllib.request.Request(url, headers=AUTH)  # noqa: S310 - a loopback http URL
    with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310 - same
        return answer.status, json.load(answer)


def test_thread_mode_serves_sync_code() -> None:
    """running_in_thread serves blocking clients; control calls work across threads."""
    with FakeOpenRouter.running_in_thread(seed=4, per_minute=None) as fake:
        status, body = sync_get(fake.endpoint + "?source=openrouter&max_results=2")
        assert status == 200
        assert body == fake.payload({"source": "openrouter", "max_results": "2"})
        fake.script(502)
        with pytest.raises(urllib.error.HTTPError) as failed:
            sync_get(fake.endpoint)
        assert failed.value.code == 502
        failed.value.close()
        assert [record.status for record in fake.requests] == [200, 502]
        endpoint = fake.endpoint
    with pytest.raises(urllib.error.URLError):
        sync_get(endpoint)


async def test_thread_mode_can_be_left_inside_a_running_loop(
    session: aiohttp.ClientSession,
) -> None:
    """A thread-mode fake opened and closed from async code shuts down without RuntimeError."""
    with FakeOpenRouter.running_in_thread(seed=4, per_minute=None) as fake:
        async with session.get(fake.endpoint, headers=AUTH) as response:
            assert response.status == 200
    assert fake.requests[0].status == 200


async def test_serve_runs_until_cancelled(session: aiohttp.ClientSession) -> None:
    """serve reports its URL when ready, answers requests, and stops when cancelled."""
    ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(serve(seed=2, keys=[KEY], on_ready=ready.set_result))
    url = await asyncio.wait_for(ready, 5)
    async with session.get(url + "/benchmarks", headers=AUTH) as response:
        assert response.status == 200
        assert response.headers["X-RateLimit-Limit"] == "30"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    with pytest.raises(aiohttp.ClientConnectionError):
        async with session.get(url + "/benchmarks", headers=AUTH):
            pass


@pytest.fixture
def plugin_args() -> list[str]:
    """The -p option for the plugin, unless the installed entry point already loads it."""
    installed = any(
        entry.name == "openrouter_bench"
        for entry in importlib.metadata.entry_points(group="pytest11")
    )
    return [] if installed else ["-p", "openrouter_bench.fake.pytest_plugin"]


def test_pytest_plugin_serves_user_tests(pytester: pytest.Pytester, plugin_args: list[str]) -> None:
    """A user's test file gets a reset shared fake, a marked own fake, and async use works."""
    pytester.makeini(
        "[pytest]\n"
        "addopts = --strict-markers\n"
        "filterwarnings = error\n"
        "asyncio_mode = strict\n"
        "asyncio_default_fixture_loop_scope = function\n"
    )
    pytester.makepyfile(
        test_user="""
        import json
        import urllib.error
        import urllib.parse
        import urllib.request

        import aiohttp
        import pytest

        HEADERS = {"Authorization": "Bearer test-key"}

        def fetch(fake, **params):
            url = fake.url + "/benchmarks?" + urllib.parse.urlencode(params)
            request = urllib.request.Request(url, headers=HEADERS)
            with urllib.request.urlopen(request) as answer:
                return json.load(answer)

        def test_top_coders(openrouter_fake):
            page = fetch(openrouter_fake, source="artificial-analysis", task_type="coding")
            assert page == openrouter_fake.payload(
                {"source": "artificial-analysis", "task_type": "coding"}
            )
            openrouter_fake.script(503)
            openrouter_fake.publish()

        def test_shared_fake_was_reset(openrouter_fake):
            assert openrouter_fake.requests == []
            assert fetch(openrouter_fake)["meta"]["as_of"] == "2026-06-03T12:00:00Z"

        @pytest.mark.openrouter_fake(per_minute=1)
        def test_rate_limited(openrouter_fake):
            fetch(openrouter_fake)
            with pytest.raises(urllib.error.HTTPError) as refused:
                fetch(openrouter_fake)
            assert refused.value.code == 429
            refused.value.close()

        @pytest.mark.parametrize("openrouter_fake", [{"seed": 1}, {"seed": 2}], indirect=True)
        def test_any_seed(openrouter_fake):
            assert fetch(openrouter_fake, max_results=5)["meta"]["model_count"] >= 1

        @pytest.mark.asyncio
        async def test_from_an_event_loop(openrouter_fake):
            async with aiohttp.ClientSession() as session:
                async with session.get(openrouter_fake.url + "/benchmarks", headers=HEADERS) as r:
                    assert r.status == 200
        """
    )
    result = pytester.runpytest(*plugin_args)
    result.assert_outcomes(passed=6)
