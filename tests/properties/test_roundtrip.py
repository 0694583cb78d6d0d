"""JSON -> records -> JSON gives back the server's document, for any valid query.

The fake's ``payload`` is the oracle: a property over a broad strategy of
valid queries needs no I/O, and ~30 representative queries go the whole way
through HTTP and the client.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openrouter_bench import BenchmarksClient, Page, Query, RetryPolicy
from openrouter_bench._convert import structure_page, unstructure_page
from openrouter_bench.cache._codec import as_of_text, pack_page, unpack_page
from openrouter_bench.fake import FakeOpenRouter
from openrouter_bench.fake.dataset import ARENA_CATEGORIES, SEARCH_ENGINES
from openrouter_bench.query import Arena, BenchmarkType, SearchSurface, Source, TaskType
from tests.conftest import CANARY_KEY

# Built once: three published snapshots of one seed, never started (payload needs no server).
ORACLE = FakeOpenRouter(seed=11, per_minute=None, per_day=None)
ORACLE.publish()
ORACLE.publish()
SNAPSHOTS = ORACLE.published
FETCHED_AT = datetime(2026, 7, 1, 9, 30, tzinfo=UTC)

CATEGORIES = sorted({category for names in ARENA_CATEGORIES.values() for category in names})
CLASSIC_TASKS = (TaskType.CODING, TaskType.INTELLIGENCE, TaskType.AGENTIC)
CLASSIC_BENCHMARKS = tuple(benchmark for benchmark in BenchmarkType if not benchmark.is_search)
SEARCH_BENCHMARKS = tuple(benchmark for benchmark in BenchmarkType if benchmark.is_search)

_E = TypeVar("_E", bound=enum.Enum)


def optional(values: tuple[_E, ...] | list[_E]) -> st.SearchStrategy[_E | str | None]:
    """None, a member, or the member's wire text (Query takes both)."""
    members = st.sampled_from(values)
    return st.none() | members | members.map(lambda member: str(member.value))


@st.composite
def queries(draw: st.DrawFn) -> Query:
    """Any valid Query: every source, arena, category, task, benchmark and search option."""
    source = draw(st.sampled_from([None, *Source]))
    params: dict[str, Any] = {
        "source": source,
        "max_results": draw(st.none() | st.integers(min_value=1, max_value=2000)),
    }
    if source in (Source.ARTIFICIAL_ANALYSIS, Source.DESIGN_ARENA):
        params["task_type"] = draw(optional(CLASSIC_TASKS))
        if source is Source.DESIGN_ARENA:
            params["arena"] = draw(optional(list(Arena)))
            params["category"] = draw(st.none() | st.sampled_from(CATEGORIES))
        return Query(**params)
    task_type = draw(st.sampled_from([None, *TaskType]))
    if task_type in CLASSIC_TASKS:
        benchmarks: tuple[BenchmarkType, ...] = CLASSIC_BENCHMARKS
    elif task_type is TaskType.SEARCH:
        benchmarks = SEARCH_BENCHMARKS
    else:
        benchmarks = tuple(BenchmarkType)
    benchmark = draw(st.none() | st.sampled_from(benchmarks))
    params["task_type"] = task_type
    params["benchmark_type"] = benchmark
    search_possible = task_type not in CLASSIC_TASKS and (benchmark is None or benchmark.is_search)
    if search_possible:
        params["include_run_config"] = draw(st.booleans())
        params["search_engine"] = draw(st.none() | st.sampled_from(SEARCH_ENGINES))
        params["search_surface"] = draw(optional(list(SearchSurface)))
    return Query(**params)


@settings(max_examples=300, deadline=None)
@given(query=queries())
def test_structure_then_unstructure_gives_back_the_document(query: Query) -> None:
    """For every valid query and every snapshot, records unstructure to the exact JSON."""
    for as_of in SNAPSHOTS:
        payload = ORACLE.payload_at(as_of, query.params)
        page = structure_page(payload, query=query, fetched_at=FETCHED_AT)
        assert unstructure_page(page) == payload
        assert len(page.items) == len(payload["data"])
        assert page.meta.as_of == as_of
        # And through the cache's byte form, as Redis, memcached and SQLite keep it.
        key = as_of_text(page.meta.as_of)
        assert unpack_page(pack_page(query, key, page), query, key) == page


def test_the_strategy_reaches_every_kind_of_item() -> None:
    """The property's oracle data holds every item shape, so the property covers them all."""
    sources = {item["source"] for item in ORACLE.payload({})["data"]}
    search = ORACLE.payload({"task_type": "search", "include_run_config": "true"})["data"]
    assert sources == {source.value for source in Source}
    assert search
    assert all("run_config" in item for item in search)


REPRESENTATIVE = [
    Query(),
    Query(max_results=1),
    Query(source="artificial-analysis"),
    Query(source="artificial-analysis", task_type="coding", max_results=10),
    Query(source="artificial-analysis", task_type="intelligence"),
    Query(source="artificial-analysis", task_type="agentic", max_results=3),
    Query(source="design-arena"),
    Query(source="design-arena", arena="builders"),
    Query(source="design-arena", arena="agents", category="cli"),
    Query(source="design-arena", category="gamedev", max_results=5),
    Query(source="design-arena", category="image"),
    Query(source="design-arena", category="video", max_results=4),
    Query(source="design-arena", arena="builders", category="mobile"),
    Query(source="design-arena", arena="models", category="website"),
    Query(source="design-arena", task_type="coding"),
    Query(source="design-arena", category="3d", task_type="intelligence"),
    Query(source="openrouter"),
    Query(source="openrouter", benchmark_type="gpqa_diamond"),
    Query(source="openrouter", benchmark_type="tau_bench_verified_airline", max_results=7),
    Query(source="openrouter", task_type="search"),
    Query(source="openrouter", task_type="search", include_run_config=True),
    Query(source="openrouter", benchmark_type="search_hle", search_engine="exa"),
    Query(source="openrouter", benchmark_type="search_browsecomp", search_surface="plugin"),
    Query(task_type="search", search_engine="native", search_surface="server-tool"),
    Query(task_type="coding"),
    Query(task_type="agentic", max_results=20),
    Query(benchmark_type="search_dsqa", include_run_config=True),
    Query(benchmark_type="search_widesearch", max_results=2),
    Query(benchmark_type="gpqa_diamond", task_type="intelligence"),
    Query(source="openrouter", task_type="search", search_engine="parallel", max_results=1),
]


@pytest.mark.parametrize("query", REPRESENTATIVE, ids=[query.key for query in REPRESENTATIVE])
async def test_http_round_trip_through_the_client(fake: FakeOpenRouter, query: Query) -> None:
    """Through HTTP and the client, each query's page unstructures to the server's document."""
    async with BenchmarksClient(
        CANARY_KEY, base_url=fake.url, cache=None, retry=RetryPolicy.never()
    ) as client:
        page: Page = await client.get(query)
    payload = fake.payload(query.params)
    assert payload["data"], "a representative query should return items"
    assert unstructure_page(page) == payload
    assert page.query == query
    assert not page.from_cache
    assert [record.params for record in fake.requests] == [query.params]
