"""The full Design Arena sweep under the quota: requests cold and warm, and the wall time.

``python -m benchmarks.sweep`` sweeps 3 arenas x every category the bundled
fake's data has (discovered with one request per arena), then sweeps again.
It runs twice against the fake, which enforces the same limits as the client:

- on a **virtual clock** with the default quota (30 a minute, 500 a day, real
  60 s windows): sleeps move the clock instead of waiting, so the run shows,
  in no time, how long the quota holds the sweep back;
- in **real time** with the per-minute window scaled down ``--scale`` times
  (30 per 3 s by default), to show the same pacing on a real clock; its wall
  time times the scale is the wall time under the real quota.

Each run starts with the whole minute's budget unused.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Sequence
from typing import Final

import attrs

from openrouter_bench import BenchmarksClient, Query, QuotaPolicy
from openrouter_bench.fake import FakeOpenRouter
from openrouter_bench.query import Arena

__all__ = ["SweepRun", "main", "sweep"]

KEY: Final = "benchmark-key"
CONCURRENCY: Final = 8


class VirtualClock:
    """Monotonic and wall time that only move when something sleeps."""

    def __init__(self, start: float = 1_780_000_000.0) -> None:
        self.now = start

    def time(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


@attrs.frozen
class SweepRun:
    """What one cold sweep and the warm one after it cost."""

    queries: int
    cold_requests: int
    cold_refused: int
    cold_errors: int
    cold_seconds: float
    warm_requests: int
    warm_hits: int


async def sweep(client: BenchmarksClient) -> tuple[list[Query], int]:
    """Discover every arena's categories, fan out over all of them; (queries, errors)."""
    queries = [
        query
        for arena in Arena
        for query in Query.grid(
            source="design-arena", arena=arena, category=list(await client.categories(arena))
        )
    ]
    result = await client.fan_out(queries, concurrency=CONCURRENCY)
    return queries, len(result.errors)


async def measure(*, minute_window: float, clock: VirtualClock | None) -> SweepRun:
    """One cold sweep and one warm sweep, timed on ``clock`` (None: the real clock)."""
    wall = time.time if clock is None else clock.time
    timer = time.monotonic if clock is None else clock.time
    sleep = asyncio.sleep if clock is None else clock.sleep
    quota = QuotaPolicy(minute_window=minute_window)
    async with (
        FakeOpenRouter(minute_window=minute_window, clock=timer, wall_clock=wall) as fake,
        BenchmarksClient(
            KEY,
            base_url=fake.url,
            cache="memory",
            quota=quota,
            clock=wall,
            timer=timer,
            sleep=sleep,
        ) as client,
    ):
        started = timer()
        queries, errors = await sweep(client)
        cold_seconds = timer() - started
        cold = fake.requests
        before = client.stats
        await sweep(client)
        after = client.stats
    return SweepRun(
        queries=len(queries),
        cold_requests=len(cold),
        cold_refused=sum(record.status == 429 for record in cold),
        cold_errors=errors,
        cold_seconds=cold_seconds,
        warm_requests=len(fake.requests) - len(cold),
        warm_hits=after.hits - before.hits,
    )


async def _main(scale: float) -> None:
    virtual = await measure(minute_window=60.0, clock=VirtualClock())
    scaled = await measure(minute_window=60.0 / scale, clock=None)
    print(f"Design Arena sweep: {virtual.queries} queries (3 arenas x their categories)")
    print(
        f"cold: {virtual.cold_requests} requests sent (3 to discover the categories), "
        f"{virtual.cold_refused} refused with 429, {virtual.cold_errors} errors"
    )
    print(f"warm: {virtual.warm_requests} requests sent, {virtual.warm_hits} cache hits")
    print(
        f"default quota (30 a minute), virtual clock: the cold sweep takes "
        f"{virtual.cold_seconds:.1f} s"
    )
    print(
        f"scaled run (30 per {60.0 / scale:g} s, real clock): cold sweep "
        f"{scaled.cold_seconds:.2f} s x {scale:g} = {scaled.cold_seconds * scale:.0f} s under "
        f"the real quota; {scaled.cold_requests} requests, {scaled.cold_refused} refused; "
        f"warm {scaled.warm_requests} requests"
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Run the sweep measurement and print the figures."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sweep", description=__doc__)
    parser.add_argument(
        "--scale", type=float, default=20.0, help="how much faster the real-time run's minute is"
    )
    args = parser.parse_args(argv)
    asyncio.run(_main(args.scale))


if __name__ == "__main__":
    main()
