"""What every scenario gets: the server, the run's size, and where Redis is."""

from __future__ import annotations

import attrs

from benchmarks._server import BenchServer

__all__ = ["RunContext"]


@attrs.frozen
class RunContext:
    """One run's shared facts.

    ``quick`` asks for a handful of samples (a smoke run); ``fan_out`` is the
    number of distinct fan-out queries the server answers; ``redis_url`` is a
    Redis to use, or None when none could be started.
    """

    server: BenchServer
    quick: bool
    fan_out: int
    redis_url: str | None
