"""Scenario 3: a cache hit in memory.

Goal: the median hit takes at most 20 µs. The baseline is a dict lookup
behind the same ``await``, so the timing loop's own cost shows in its row.
"""

from __future__ import annotations

from typing import Final

from benchmarks._context import RunContext
from benchmarks._documents import API_KEY, PAGE_50
from benchmarks._measure import interleaved, stats_of
from benchmarks._report import Plan, ScenarioResult, Verdict, plural, timed_row
from openrouter_bench import BenchmarksClient, Page

__all__ = ["PLAN", "run"]

DICT: Final = "dict lookup (awaited)"
BY_QUERY: Final = "client.get(query), memory hit"
BY_PARAMS: Final = "client.get(max_results=50), memory hit"

MAX_MEDIAN: Final = 20e-6
GOAL: Final = f"p50 <= {MAX_MEDIAN * 1e6:.0f} µs"
PLAN: Final = Plan(3, "cache hit, memory", (f"hit {GOAL}",))


async def run(context: RunContext) -> list[ScenarioResult]:
    """Hits on a default client (memory cache) after one fetch, against a dict."""
    query = PAGE_50
    rounds, per_round, warmup = (2, 20, 5) if context.quick else (20, 250, 1000)
    async with BenchmarksClient(API_KEY, base_url=context.server.url) as client:
        first = await client.get(query)
        pages = {query: first}

        async def from_dict() -> Page:
            return pages[query]

        async def by_query() -> Page:
            return await client.get(query)

        async def by_params() -> Page:
            return await client.get(max_results=50)

        samples = await interleaved(
            {DICT: from_dict, BY_QUERY: by_query, BY_PARAMS: by_params},
            rounds=rounds,
            per_round=per_round,
            warmup=warmup,
        )
        hit = await client.get(query)
        if not hit.from_cache:
            raise AssertionError("the memory scenario measured something other than hits")
    baseline = samples[DICT]
    rows = [timed_row(DICT, baseline, baseline=baseline, verdict=Verdict.BASELINE)]
    medians = {name: stats_of(samples[name]).median for name in (BY_QUERY, BY_PARAMS)}
    for name, median in medians.items():
        rows.append(
            timed_row(
                name,
                samples[name],
                baseline=baseline,
                goal=GOAL,
                verdict=Verdict.of(median <= MAX_MEDIAN),
                measured=f"p50 {median * 1e6:.1f} µs",
            )
        )
    notes: tuple[str, ...] = (
        "A default client (memory cache, bounded LRU) fetches the 50-item page once; every "
        f"timed call is then a hit. {plural(warmup, 'untimed call')} each, then "
        f"{plural(rounds, 'round')} of "
        f"{per_round} calls, each timed on its own.",
        "`client.get(query)` passes a prebuilt `Query`; `client.get(max_results=50)` builds "
        "and validates one per call, as a caller passing keywords does.",
    )
    base = stats_of(baseline).median
    missed = [name for name, median in medians.items() if median > MAX_MEDIAN]
    if missed:
        ratios = ", ".join(f"{name}: {medians[name] / base:.0f}x" for name in missed)
        notes += (
            "Why the goal is missed: it is a time, not a ratio, so it moves with the "
            f"machine's speed; in this run the awaited dict lookup itself took {base * 1e6:.2f} "
            f"µs, and the hits cost this many times it ({ratios}). A hit by keywords builds "
            "and validates a `Query` (every parameter's type and value, the misspelt-name "
            "check) and its key before the cache lookup; by a prebuilt `Query` it is the "
            "cache lookup, the freshness check and the call's bookkeeping (stats, the call "
            "registry).",
        )
    return [
        ScenarioResult(
            number=3,
            title="cache hit, memory",
            rows=tuple(rows),
            notes=notes,
            raw={"samples": samples},
        )
    ]
