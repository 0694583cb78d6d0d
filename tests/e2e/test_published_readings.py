"""The client against the fake's readings of the published documents, where they disagree.

The API reference and the Data API guide differ on ``max_results`` (omitted = all,
or at most 50 of 1 to 100) and on the form of ``meta.as_of`` (whole seconds, or
milliseconds); error bodies may lack every optional key. The client must be right
under each reading.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from openrouter_bench import (
    KNOWN_CATEGORIES,
    ArtificialAnalysisItem,
    AuthenticationError,
    BadRequestError,
    BenchmarksClient,
    DesignArenaItem,
    OpenRouterEvalItem,
    Query,
    RateLimitError,
    RetryPolicy,
)
from openrouter_bench._convert import encode_page
from openrouter_bench.fake import FakeOpenRouter
from tests.conftest import CANARY_KEY


def make_client(fake: FakeOpenRouter, **options: Any) -> BenchmarksClient:
    """A client of the fake with zero-wait retries and no local quota."""
    options.setdefault("retry", RetryPolicy.no_wait())
    options.setdefault("quota", None)
    return BenchmarksClient(CANARY_KEY, base_url=fake.url, **options)


@pytest.fixture
async def guide() -> AsyncIterator[FakeOpenRouter]:
    """A fake that follows the Data API guide on max_results and as_of."""
    async with FakeOpenRouter(
        seed=7,
        per_minute=None,
        per_day=None,
        max_results_reading="guide",
        as_of_milliseconds=True,
    ) as server:
        yield server


# --- task types ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("task", "benchmark"),
    [("intelligence", "gpqa_diamond"), ("agentic", "tau_bench_verified_airline")],
)
async def test_an_openrouter_task_type_gets_its_classic_benchmark(
    fake: FakeOpenRouter, task: str, benchmark: str
) -> None:
    """The client sends source=openrouter with a task type as is and gets that task's eval."""
    async with make_client(fake) as client:
        page = await client.get(source="openrouter", task_type=task)
    evals = page.items_of(OpenRouterEvalItem)
    assert evals
    assert len(evals) == len(page.items)
    assert {item.benchmark_type for item in evals} == {benchmark}
    assert page.meta.task_type == task
    assert fake.requests[-1].params == {"source": "openrouter", "task_type": task}


async def test_an_artificial_analysis_task_type_is_a_ranking_of_scored_models(
    fake: FakeOpenRouter,
) -> None:
    """AA with task_type=agentic: only models with an agentic index, best first."""
    async with make_client(fake) as client:
        everything = await client.get(source="artificial-analysis")
        ranked = await client.get(source="artificial-analysis", task_type="agentic")
    scores = [item.agentic_index for item in ranked.items_of(ArtificialAnalysisItem)]
    assert None not in scores
    assert scores == sorted(scores, reverse=True)  # type: ignore[type-var]
    scored = [i for i in everything.items_of(ArtificialAnalysisItem) if i.agentic_index is not None]
    assert len(scores) == len(scored) < len(everything)


# --- as_of with milliseconds -----------------------------------------------------------------


@pytest.mark.parametrize("cache", ["memory", "sqlite"])
async def test_an_as_of_with_milliseconds_is_kept_through_the_cache(
    guide: FakeOpenRouter, tmp_path: Path, cache: str
) -> None:
    """as_of ...T12:00:00.000Z: an aware datetime, the same text written back, fresh or cached."""
    spec = "memory" if cache == "memory" else f"sqlite:///{tmp_path / 'cache.db'}"
    query = Query(source="design-arena", category="svg")
    sent = guide.payload(query.params)
    async with make_client(guide, cache=spec) as client:
        fresh = await client.get(query)
    async with make_client(guide, cache=spec) as client:
        again = await client.get(query)
    assert again.from_cache is (cache == "sqlite")
    for page in (fresh, again):
        assert page.meta.as_of == guide.as_of
        assert page.meta.as_of.utcoffset() is not None
        assert page.meta.raw_as_of == "2026-06-03T12:00:00.000Z"
        assert orjson.loads(encode_page(page)) == sent


# --- error bodies ----------------------------------------------------------------------------


async def test_a_bare_401_reads_whole() -> None:
    """An unknown key gets the bare 401 body; the client reads its message and code."""
    async with (
        FakeOpenRouter(keys=["the-only-key"], per_minute=None) as fake,
        make_client(fake) as client,
    ):
        with pytest.raises(AuthenticationError) as refused:
            await client.get(source="openrouter")
    assert refused.value.code == 401
    assert refused.value.message == "invalid API key"
    assert refused.value.metadata is None
    assert refused.value.attempts == 1


async def test_a_rate_limit_says_its_error_type() -> None:
    """The fake's 429 names error_type rate_limit_exceeded; RateLimitError carries it."""
    async with (
        FakeOpenRouter(per_minute=1, per_day=None) as fake,
        make_client(fake, retry=RetryPolicy.never(), cache=None) as client,
    ):
        await client.get(source="openrouter")
        with pytest.raises(RateLimitError) as limited:
            await client.get(source="openrouter")
    assert limited.value.error_type == "rate_limit_exceeded"
    assert limited.value.retry_after is not None


# --- max_results as the guide reads it -------------------------------------------------------


async def test_the_guide_cut_is_flagged_and_refused_values_are_bad_requests(
    guide: FakeOpenRouter,
) -> None:
    """Under the guide an unfiltered page is 50 items and may be cut; over 100 is a 400."""
    async with make_client(guide) as client:
        cut = await client.get(source="design-arena")
        whole = await client.get(source="design-arena", category="svg", max_results=100)
        with pytest.raises(BadRequestError) as refused:
            await client.get(source="design-arena", max_results=101)
    assert len(cut) == 50
    assert cut.may_be_cut
    assert not whole.may_be_cut
    assert "between 1 and 100" in refused.value.message
    assert refused.value.metadata == {"parameter": "max_results"}


async def test_categories_of_a_cut_arena_add_the_documented_ones_and_warn(
    guide: FakeOpenRouter, caplog: pytest.LogCaptureFixture
) -> None:
    """Guide reading: categories() warns that the arena page may be cut and adds the known
    categories it did not show, so a sweep misses none of them."""
    async with make_client(guide) as client:
        with caplog.at_level(logging.WARNING, logger="openrouter_bench.client"):
            found = await client.categories("models")
    seen = tuple(
        dict.fromkeys(
            item["category"] for item in guide.payload({"source": "design-arena"})["data"]
        )
    )
    assert len(seen) < len(KNOWN_CATEGORIES)
    assert found[: len(seen)] == seen
    assert set(KNOWN_CATEGORIES) <= set(found)
    assert len(found) == len(set(found))
    assert len(guide.requests) == 1
    warned = [record.getMessage() for record in caplog.records]
    assert any("may be cut" in text and "models" in text for text in warned)


async def test_categories_of_a_whole_arena_do_not_warn(
    fake: FakeOpenRouter, caplog: pytest.LogCaptureFixture
) -> None:
    """Reference reading: the arena page is whole, so categories() is the data's list, silently."""
    async with make_client(fake) as client:
        with caplog.at_level(logging.WARNING, logger="openrouter_bench.client"):
            found = await client.categories("agents")
        page = await client.get(source="design-arena", arena="agents")
    assert not page.may_be_cut
    assert found == tuple(dict.fromkeys(item.category for item in page.items_of(DesignArenaItem)))
    assert caplog.records == []
