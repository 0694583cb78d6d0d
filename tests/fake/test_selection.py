"""What the fake selects (openrouter_bench.fake.selection): filters, order, meta, refusals."""

from __future__ import annotations

import itertools
from typing import Any, Final

import aiohttp
import orjson
import pytest

from openrouter_bench.errors import InvalidQueryError
from openrouter_bench.fake import FakeOpenRouter, ParameterError
from openrouter_bench.fake.selection import TASK_CATEGORIES, Selection
from openrouter_bench.query import Query
from tests.fake.conftest import fetch, items_of

_AA: Final = "artificial-analysis"
META_KEYS: Final = {
    "as_of",
    "version",
    "source",
    "source_url",
    "citation",
    "model_count",
    "task_type",
}


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


def test_design_arena_coding_is_the_codecategories_category(data: FakeOpenRouter) -> None:
    """task_type=coding with Design Arena is exactly codecategories in every arena (contract)."""
    for arena in ("models", "builders", "agents"):
        coding = items_of(data, source="design-arena", arena=arena, task_type="coding")
        category = items_of(data, source="design-arena", arena=arena, category="codecategories")
        assert coding == category != []


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


def test_payload_refuses_what_the_server_refuses() -> None:
    """payload raises ParameterError (a ValueError) where the server answers 400."""
    fake = FakeOpenRouter()
    with pytest.raises(ParameterError) as error:
        fake.payload({"source": "design-arena", "benchmark_type": "gpqa_diamond"})
    assert error.value.parameter == "benchmark_type"
    assert isinstance(error.value, ValueError)


# --- the readings of the published documents -------------------------------------------------


@pytest.fixture(scope="module")
def guide() -> FakeOpenRouter:
    """A fake that reads max_results as the Data API guide does, never started."""
    return FakeOpenRouter(seed=11, max_results_reading="guide")


def test_guide_reading_caps_an_omitted_max_results_at_50(
    data: FakeOpenRouter, guide: FakeOpenRouter
) -> None:
    """Guide reading: no max_results is the first 50 items of the reference's full list."""
    for params in ({}, {"source": "design-arena"}, {"source": "artificial-analysis"}):
        full = data.payload(params)["data"]
        assert len(full) > 50
        body = guide.payload(params)
        assert body["data"] == full[:50]
        assert body["meta"]["model_count"] == len({i["model_permaslug"] for i in body["data"]})


def test_guide_reading_keeps_max_results_up_to_100(
    data: FakeOpenRouter, guide: FakeOpenRouter
) -> None:
    """Guide reading: 1 to 100 is honoured as given, the same as under the reference."""
    for count in ("1", "77", "100"):
        assert guide.payload({"max_results": count}) == data.payload({"max_results": count})


@pytest.mark.parametrize("value", ["101", "150", "100000", "0"])
def test_guide_reading_refuses_max_results_out_of_range(
    data: FakeOpenRouter, guide: FakeOpenRouter, value: str
) -> None:
    """Guide reading: max_results outside 1..100 is a 400 saying so; the reference takes > 100."""
    with pytest.raises(ParameterError) as refused:
        guide.payload({"max_results": value})
    assert refused.value.parameter == "max_results"
    assert refused.value.message == f"max_results must be between 1 and 100; got {value!r}"
    if value != "0":
        taken = data.payload({"max_results": value})["data"]
        assert taken == data.payload()["data"][: int(value)]


def test_an_unknown_max_results_reading_is_refused() -> None:
    """max_results_reading takes 'reference' or 'guide' only."""
    with pytest.raises(ValueError, match="max_results_reading must be one of"):
        FakeOpenRouter(max_results_reading="manual")  # type: ignore[arg-type]


def test_as_of_in_milliseconds_is_the_guide_form(data: FakeOpenRouter) -> None:
    """as_of_milliseconds writes meta.as_of as ...T12:00:00.000Z; nothing else in the body moves."""
    fake = FakeOpenRouter(seed=11, as_of_milliseconds=True)
    body = fake.payload({"source": "openrouter"})
    plain = data.payload({"source": "openrouter"})
    assert body["meta"]["as_of"] == "2026-06-03T12:00:00.000Z"
    assert plain["meta"]["as_of"] == "2026-06-03T12:00:00Z"
    assert body["data"] == plain["data"]
    assert {**body["meta"], "as_of": None} == {**plain["meta"], "as_of": None}


# --- task types, as the guides state them ----------------------------------------------------


@pytest.mark.parametrize(
    ("task", "benchmark"),
    [("intelligence", "gpqa_diamond"), ("agentic", "tau_bench_verified_airline")],
)
def test_openrouter_task_is_its_classic_benchmark(
    data: FakeOpenRouter, task: str, benchmark: str
) -> None:
    """source=openrouter with a task type is exactly that task's classic benchmark."""
    body = data.payload({"source": "openrouter", "task_type": task})
    assert body["data"] == items_of(data, source="openrouter", benchmark_type=benchmark)
    assert body["meta"]["task_type"] == task
    assert body["meta"]["source"] == "openrouter"
    assert (
        items_of(data, source="openrouter", task_type=task, benchmark_type=benchmark)
        == (body["data"])
    )


def test_openrouter_task_and_another_classic_benchmark_is_empty(data: FakeOpenRouter) -> None:
    """A task type and a classic benchmark of another task select nothing, and are no 400."""
    body = data.payload(
        {"source": "openrouter", "task_type": "agentic", "benchmark_type": "gpqa_diamond"}
    )
    assert body["data"] == []
    assert Query(source="openrouter", task_type="agentic", benchmark_type="gpqa_diamond").params


@pytest.mark.parametrize("task", ["coding", "intelligence", "agentic"])
def test_artificial_analysis_task_is_a_ranking_by_that_index(
    data: FakeOpenRouter, task: str
) -> None:
    """AA with a task type: only models scored for it, best first (ties by id), top N a prefix."""
    index = f"{task}_index"
    everything = items_of(data, source="artificial-analysis")
    assert any(item[index] is None for item in everything)
    ranked = items_of(data, source="artificial-analysis", task_type=task)
    expected = sorted(
        (item for item in everything if item[index] is not None),
        key=lambda item: (-item[index], item["model_permaslug"]),
    )
    assert ranked == expected
    assert (
        items_of(data, source="artificial-analysis", task_type=task, max_results="5")
        == (expected[:5])
    )
    mixed = [item for item in items_of(data, task_type=task) if item["source"] == _AA]
    assert mixed == expected
