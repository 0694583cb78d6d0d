"""Which ranking an item stands in and the score it ranks by there: one answer for every view."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from openrouter_bench.models import (
    ArtificialAnalysisItem,
    DesignArenaItem,
    OpenRouterEvalItem,
    SearchEvalItem,
    TournamentStats,
    UnknownItem,
)
from openrouter_bench.query import Query
from openrouter_bench.ranking import format_score, ranking_name, ranking_score, ranking_variant

AA = ArtificialAnalysisItem(
    model_permaslug="openai/gpt-5",
    display_name="GPT-5",
    intelligence_index=64.0,
    coding_index=59.1,
    agentic_index=60.3,
    pricing=None,
)
WHEN = datetime(2026, 6, 3, tzinfo=UTC)


@pytest.mark.parametrize(
    ("task", "score", "name"),
    [
        (None, 64.0, "artificial-analysis"),
        ("intelligence", 64.0, "artificial-analysis intelligence"),
        ("coding", 59.1, "artificial-analysis coding"),
        ("agentic", 60.3, "artificial-analysis agentic"),
        ("newer-task", 64.0, "artificial-analysis"),
    ],
)
def test_artificial_analysis_ranks_by_the_index_of_its_task(
    task: str | None, score: float, name: str
) -> None:
    """The task type picks the index; without one (or an unknown one) it is intelligence."""
    query = Query(source="artificial-analysis", task_type=task)
    assert ranking_score(AA, query) == score
    assert ranking_name(AA, query) == name


def test_every_other_shape_ranks_by_its_own_score() -> None:
    """Elo per arena and category, accuracy or primary score per benchmark, none if unknown."""
    arena = DesignArenaItem(
        model_permaslug="m",
        display_name="M",
        arena="models",
        category="svg",
        elo=1403.4,
        win_rate=80.0,
        avg_generation_time_ms=None,
        tournament_stats=TournamentStats(None, None, None, None, None),
        pricing=None,
    )
    classic = OpenRouterEvalItem(
        model_permaslug="m",
        display_name="M",
        benchmark_type="gpqa_diamond",
        accuracy=0.823,
        accuracy_stddev=None,
        avg_cost_per_task=None,
        total_tasks=198,
        last_run_timestamp=WHEN,
    )
    search = SearchEvalItem(
        model_permaslug="m",
        display_name="M",
        benchmark_type="search_hle",
        primary_metric="accuracy",
        primary_score=0.4,
        avg_cost_per_task=None,
        avg_latency_per_task_ms=None,
        search_engine="exa",
        search_surface="plugin",
        total_tasks=100,
        last_run_timestamp=WHEN,
    )
    unknown = UnknownItem(source="newer", raw={"model_permaslug": "m"})
    query = Query(task_type="coding")
    assert [ranking_score(item, query) for item in (arena, classic, search, unknown)] == [
        1403.4,
        0.823,
        0.4,
        None,
    ]
    assert [ranking_name(item, query) for item in (arena, classic, search, unknown)] == [
        "design-arena models/svg",
        "openrouter gpqa_diamond",
        "openrouter search_hle",
        "newer",
    ]
    assert [ranking_variant(item) for item in (arena, search)] == [None, "exa/plugin"]


def test_scores_are_written_one_way() -> None:
    """Accuracies to three decimals, indexes and Elo to one, a missing score as a dash."""
    assert [format_score(value) for value in (0.8234, 60.25, 1403.44, None)] == [
        "0.823",
        "60.2",
        "1403.4",
        "-",
    ]
