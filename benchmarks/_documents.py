"""What the benchmarks ask and what the server answers: queries and pre-built bodies.

Every body comes from the bundled fake's deterministic data set
(:meth:`FakeOpenRouter.payload`), so every item has a shape the real endpoint
sends. The fake is never started here: only its data is used.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterator
from typing import Any, Final

import orjson

from openrouter_bench import (
    ALL,
    KNOWN_CATEGORIES,
    Arena,
    BenchmarkType,
    Query,
    TaskType,
)
from openrouter_bench.fake import FakeOpenRouter

__all__ = [
    "API_KEY",
    "PAGE_50",
    "PAGE_1000",
    "body_for",
    "dataset",
    "distinct_queries",
    "fan_out_queries",
    "mixed_document",
    "served_queries",
]

#: Any non-empty key passes the benchmark server; this one is not a secret.
API_KEY: Final = "bench-key-not-a-secret"
#: The data set's seed; every process that builds bodies uses the same one.
SEED: Final = 1

#: The unfiltered list cut at 50 and at 1,000 items: all four item shapes.
PAGE_50: Final = Query(max_results=50)
PAGE_1000: Final = Query(max_results=1000)


@functools.cache
def dataset() -> FakeOpenRouter:
    """The fake whose data every body is cut from (not started: no server runs)."""
    return FakeOpenRouter(seed=SEED, per_minute=None, per_day=None)


def body_for(query: Query) -> bytes:
    """The 200 body the endpoint sends for ``query``."""
    return orjson.dumps(dataset().payload(query.params))


@functools.cache
def _filters() -> tuple[Query, ...]:
    """Every known filter combination (no ``max_results``) whose answer is not empty."""
    grid = Query.grid(
        source=ALL,
        task_type=[None, *TaskType],
        arena=[None, *Arena],
        category=[None, *KNOWN_CATEGORIES],
        benchmark_type=[None, *BenchmarkType],
    )
    return tuple(query for query in grid if dataset().payload(query.params)["data"])


def distinct_queries() -> Iterator[Query]:
    """Endless distinct valid queries: every filter combination cut at 1 item, then 2, 3..."""
    filters = _filters()
    for index in itertools.count():
        yield filters[index % len(filters)].evolve(max_results=1 + index // len(filters))


def fan_out_queries(count: int) -> list[Query]:
    """The first ``count`` of :func:`distinct_queries`.

    With the 71 non-empty combinations, 1,000 queries ask for pages of 1 to 15
    items: small pages, so the per-call machinery (not parsing) dominates.
    """
    return list(itertools.islice(distinct_queries(), count))


def served_queries(fan_out: int) -> list[Query]:
    """Every query the benchmark server answers in a run with ``fan_out`` fan-out queries."""
    return [PAGE_50, PAGE_1000, *fan_out_queries(fan_out)]


def mixed_document(items: int) -> bytes:
    """A ``{"data", "meta"}`` document of ``items`` items cycling through the whole data set.

    The unfiltered list (all sources) and the search evals with their
    ``run_config`` are repeated; repeats get a distinct ``model_permaslug``
    (``vendor/model~2``), as a larger catalogue would have.
    """
    everything = dataset().payload({})
    pool: list[dict[str, Any]] = [
        *everything["data"],
        *dataset().payload({"task_type": "search", "include_run_config": "true"})["data"],
    ]
    data: list[dict[str, Any]] = []
    for index in range(items):
        item = dict(pool[index % len(pool)])
        repeat = index // len(pool)
        if repeat:
            item["model_permaslug"] = f"{item['model_permaslug']}~{repeat + 1}"
        data.append(item)
    meta = dict(everything["meta"])
    meta["model_count"] = len({item["model_permaslug"] for item in data})
    return orjson.dumps({"data": data, "meta": meta})
