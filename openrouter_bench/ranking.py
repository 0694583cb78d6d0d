"""Which ranking an item stands in, and the score it ranks by there, given its query.

One answer for every part of the package that shows or compares scores (the
tables, the grid's leaders, the demo, ``watch``): an Artificial Analysis item
asked for with ``task_type="agentic"`` ranks by its ``agentic_index``, not by
its intelligence index; a Design Arena item by its Elo in its own arena and
category; an OpenRouter eval by its accuracy or primary score on its benchmark.
"""

from __future__ import annotations

from typing import Final

from openrouter_bench.models import (
    ArtificialAnalysisItem,
    DesignArenaItem,
    Item,
    OpenRouterEvalItem,
    SearchEvalItem,
)
from openrouter_bench.query import Query, TaskType

# Used by render, watch and the demo; the package root exports none of it.
__all__: list[str] = []

#: The Artificial Analysis index each task type maps to (the server's own mapping).
_TASK_INDEX: Final = {
    TaskType.CODING: "coding_index",
    TaskType.INTELLIGENCE: "intelligence_index",
    TaskType.AGENTIC: "agentic_index",
}


def _index(query: Query | None) -> str | None:
    task = None if query is None else query.task_type
    return _TASK_INDEX.get(task) if isinstance(task, TaskType) else None


def ranking_score(item: Item, query: Query | None = None) -> float | None:
    """The number ``item`` is ranked by in the answer to ``query`` (None: it has none).

    Without a task type (or with ``query`` None), an Artificial Analysis item
    ranks by its intelligence index, the server's order for it.
    """
    if isinstance(item, DesignArenaItem):
        return item.elo
    if isinstance(item, ArtificialAnalysisItem):
        score: float | None = getattr(item, _index(query) or "intelligence_index")
        return score
    if isinstance(item, OpenRouterEvalItem):
        return item.accuracy
    if isinstance(item, SearchEvalItem):
        return item.primary_score
    return None


def ranking_name(item: Item, query: Query | None = None) -> str:
    """The ranking ``item`` stands in: ``"design-arena models/gamedev"``, ``"openrouter hle"``..."""
    if isinstance(item, DesignArenaItem):
        return f"design-arena {item.arena}/{item.category}"
    if isinstance(item, ArtificialAnalysisItem):
        task = query.task_type if query is not None and _index(query) is not None else None
        return "artificial-analysis" if task is None else f"artificial-analysis {task}"
    if isinstance(item, OpenRouterEvalItem | SearchEvalItem):
        return f"openrouter {item.benchmark_type}"
    return item.source


def ranking_variant(item: Item) -> str | None:
    """What tells apart the rows one model has in one ranking (a search eval's engine/surface)."""
    if isinstance(item, SearchEvalItem):
        return f"{item.search_engine}/{item.search_surface}"
    return None


def format_score(value: float | None) -> str:
    """A score for people: accuracies (0..1) to three decimals, indexes and Elo to one."""
    if value is None:
        return "-"
    return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
