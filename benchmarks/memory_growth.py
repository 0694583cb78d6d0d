"""Scenario 7: resident memory after 100,000 distinct cached queries, ``max_entries=10,000``.

Goal: bounded. Memory grows while the cache fills, then stays flat however
many more queries come, and the growth is proportional to ``max_entries``
(stated in MiB, and checked against a second run with half the entries).

Each run is a fresh interpreter (``python -m benchmarks.memory_growth``)
that reads its resident set size (RSS) before, at checkpoints, and after.
The pages are stored through the client's own snapshot cache
(``client.cache.get(query, fetch)``, what ``client.get`` calls), with a fetch
that decodes a real answer of the benchmark server (1 to 15 items) afresh for
each query, so no HTTP round trip stretches the run.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import sys
import time
from datetime import UTC, datetime
from typing import Any, Final

import orjson
import psutil  # type: ignore[import-untyped]  # ships no type hints

from benchmarks._context import RunContext
from benchmarks._documents import API_KEY, body_for, distinct_queries, fan_out_queries
from benchmarks._measure import Stats
from benchmarks._report import Plan, Row, ScenarioResult, Verdict
from openrouter_bench import BenchmarksClient, CachePolicy, Page, Query
from openrouter_bench._convert import decode_page

__all__ = ["PLAN", "run"]

MIB: Final = 2**20
GOAL: Final = "bounded, proportional to max_entries"
PLAN: Final = Plan(7, "memory, distinct queries", (f"100,000 queries: RSS {GOAL}",))
#: Never contacted: the pages come from a local fetch function.
UNUSED_BASE_URL: Final = "http://127.0.0.1:9/api/v1"
CHECKPOINTS: Final = 10
#: The tail may add this much at most (allocator noise), or 5 % of the growth.
FLAT_MIB: Final = 2.0


def _rss() -> float:
    gc.collect()
    rss: int = psutil.Process().memory_info().rss
    return rss / MIB


async def _fill(queries: int, max_entries: int) -> dict[str, Any]:
    # Up to 1,000 distinct answers to decode from (fewer in a quick run: building them is slow).
    bodies = [body_for(query) for query in fan_out_queries(min(1000, queries // 10))]
    client = BenchmarksClient(
        API_KEY, base_url=UNUSED_BASE_URL, cache_policy=CachePolicy(max_entries=max_entries)
    )
    fetched_at = datetime.now(UTC)
    every = max(1, queries // CHECKPOINTS)
    before = _rss()
    checkpoints: list[tuple[int, float]] = []
    started = time.perf_counter()
    try:
        for index, query in enumerate(itertools.islice(distinct_queries(), queries), start=1):
            body = bodies[index % len(bodies)]

            async def fetch(body: bytes = body, query: Query = query) -> Page:
                return decode_page(body, query=query, fetched_at=fetched_at)

            await client.cache.get(query, fetch)
            if index % every == 0:
                checkpoints.append((index, _rss()))
        entries = await client.cache.describe()
    finally:
        await client.aclose()
    return {
        "queries": queries,
        "max_entries": max_entries,
        "before": before,
        "checkpoints": checkpoints,
        "seconds": time.perf_counter() - started,
        "fetches": client.cache.stats.fetches,
        "backend": entries.splitlines()[0],
    }


async def _child(queries: int, max_entries: int) -> dict[str, Any]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "benchmarks.memory_growth",
        str(queries),
        str(max_entries),
        stdout=asyncio.subprocess.PIPE,
    )
    output, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"the memory process failed (exit {process.returncode})")
    measured: dict[str, Any] = orjson.loads(output)
    return measured


def _mib(value: float) -> Stats:
    return Stats(value, value, 1)


async def run(context: RunContext) -> list[ScenarioResult]:
    """Fill two fresh processes' caches (``max_entries`` and half of it) and read their RSS."""
    queries, max_entries = (2_000, 200) if context.quick else (100_000, 10_000)
    # Side by side: each reads only its own RSS, and the run takes half as long.
    full, half = await asyncio.gather(
        _child(queries, max_entries), _child(queries, max_entries // 2)
    )
    before = full["before"]
    after = full["checkpoints"][-1][1]
    middle = full["checkpoints"][len(full["checkpoints"]) // 2 - 1]
    growth = after - before
    tail = after - middle[1]
    half_growth = half["checkpoints"][-1][1] - half["before"]
    flat = tail <= max(FLAT_MIB, 0.05 * growth)
    per_entry = growth * MIB / max_entries / 1024
    rows = (
        Row(
            f"RSS before, max_entries={max_entries:,}",
            _mib(before),
            unit="MiB",
            verdict=Verdict.BASELINE,
        ),
        Row(
            f"RSS after {queries:,} queries, max_entries={max_entries:,}",
            _mib(after),
            unit="MiB",
            ratio=after / before,
            goal=GOAL,
            verdict=Verdict.of(flat and full["fetches"] == queries),
            measured=f"{tail:+.1f} MiB in the second half",
            detail=(
                f"+{growth:.1f} MiB ({per_entry:.1f} KiB per entry); "
                f"{tail:+.1f} MiB over the last {queries - middle[0]:,} queries"
            ),
        ),
        Row(
            f"RSS after {queries:,} queries, max_entries={max_entries // 2:,}",
            _mib(half["checkpoints"][-1][1]),
            unit="MiB",
            ratio=half["checkpoints"][-1][1] / half["before"],
            detail=(
                f"+{half_growth:.1f} MiB, {half_growth / growth:.2f}x the growth with "
                f"max_entries={max_entries:,}"
                if growth > 0
                else f"+{half_growth:.1f} MiB"
            ),
        ),
    )
    checkpoints = ", ".join(f"{count:,}: {rss:.0f}" for count, rss in full["checkpoints"])
    notes = (
        f"Two fresh processes each store {queries:,} distinct queries' pages; the cache holds "
        "a pointer and a page per query, so `max_entries` entries keep about half as many "
        "queries. RSS (after a garbage collection) before any was stored and after every "
        f"tenth; with max_entries={max_entries:,}, queries: MiB = {checkpoints}. "
        f"Filling took {full['seconds']:.1f} s; final state: {full['backend']}.",
        "Bounded means the RSS over the second half of the queries grows by at most "
        f"{FLAT_MIB:g} MiB or 5 % of the total growth; RSS includes the allocator's free "
        "lists, so it shows the high-water mark rather than live objects.",
    )
    return [
        ScenarioResult(
            number=7,
            title=f"memory, {queries:,} distinct queries",
            rows=rows,
            notes=notes,
            raw={"max_entries": full, "half_max_entries": half},
        )
    ]


def main() -> None:
    """The fresh process: fill a cache, print RSS figures as JSON."""
    parser = argparse.ArgumentParser(description="RSS of a filled cache in a fresh process")
    parser.add_argument("queries", type=int)
    parser.add_argument("max_entries", type=int)
    args = parser.parse_args()
    sys.stdout.buffer.write(orjson.dumps(asyncio.run(_fill(args.queries, args.max_entries))))


if __name__ == "__main__":
    main()
