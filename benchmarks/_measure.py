"""Timing: samples, their median and p99, and loops that take them fairly.

Every figure in the report is a median and a p99 over samples taken in one
run. Contenders of one scenario are measured in interleaved rounds (each round
runs every contender for a batch of calls, in a rotating order), so a drift of
the machine during the run (a noisy neighbour, a CPU clock change) falls on
all of them alike instead of on whichever ran last.
"""

from __future__ import annotations

import gc
import math
import statistics
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import attrs

__all__ = ["Stats", "interleaved", "percentile", "stats_of", "time_calls"]

AsyncCall = Callable[[], Awaitable[Any]]


def percentile(samples: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile: with fewer than 1/(1-fraction) samples, the maximum."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


@attrs.frozen
class Stats:
    """Median and p99 of some samples (seconds, or MiB for memory), and how many there were."""

    median: float
    p99: float
    count: int


def stats_of(samples: Sequence[float]) -> Stats:
    """The :class:`Stats` of ``samples``."""
    return Stats(
        median=statistics.median(samples), p99=percentile(samples, 0.99), count=len(samples)
    )


async def time_calls(call: AsyncCall, count: int) -> list[float]:
    """Seconds taken by each of ``count`` sequential awaits of ``call()``."""
    clock = time.perf_counter
    samples: list[float] = []
    append = samples.append
    for _ in range(count):
        started = clock()
        await call()
        append(clock() - started)
    return samples


async def interleaved(
    contenders: Mapping[str, AsyncCall],
    *,
    rounds: int,
    per_round: int,
    warmup: int,
) -> dict[str, list[float]]:
    """Per-call seconds for each contender: ``rounds`` rounds of ``per_round`` calls each.

    Each contender is first called ``warmup`` times untimed (connections
    opened, caches and generated code warm). Garbage is collected before each
    batch, so one contender's garbage is not collected on another's time.
    """
    names = list(contenders)
    for name in names:
        for _ in range(warmup):
            await contenders[name]()
    samples: dict[str, list[float]] = {name: [] for name in names}
    for round_number in range(rounds):
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            gc.collect()
            samples[name].extend(await time_calls(contenders[name], per_round))
    return samples
