"""Helpers for the snapshot-cache tests: pages, a scripted upstream, a cross-process worker.

Run as a script it is one worker process of the cross-process tests:
``python _cache_fixtures.py REDIS_URL NAMESPACE MODE``, see :func:`worker_main`.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import redis.asyncio as aioredis

from openrouter_bench.cache import CachePolicy, open_cache
from openrouter_bench.models import ArtificialAnalysisItem, Meta, Page, Pricing
from openrouter_bench.query import Query

START = 1_780_000_000.0
AS_OF_1 = "2026-06-03T12:00:00Z"
AS_OF_2 = "2026-06-10T12:00:00Z"
AS_OF_3 = "2026-06-17T12:00:00Z"


class Clock:
    """Wall-clock seconds that move only when a test says so."""

    def __init__(self, start: float = START) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_page(
    query: Query, as_of: str = AS_OF_1, *, fetched_at: float = START, models: int = 3
) -> Page:
    """A realistic Artificial Analysis page of ``models`` items."""
    items = tuple(
        ArtificialAnalysisItem(
            model_permaslug=f"vendor/model-{index}",
            display_name=f"Model {index}",
            intelligence_index=50.0 + index,
            coding_index=40.0 + index / 2,
            agentic_index=None,
            pricing=Pricing(prompt=Decimal("0.0000025"), completion=Decimal("0.00001")),
        )
        for index in range(models)
    )
    meta = Meta(
        as_of=datetime.fromisoformat(as_of),
        version="v1",
        source="artificial-analysis",
        source_url="https://example.invalid/data",
        citation="Artificial Analysis",
        model_count=models,
        task_type=None,
    )
    return Page(
        items=items, meta=meta, query=query, fetched_at=datetime.fromtimestamp(fetched_at, UTC)
    )


class Upstream:
    """A scripted stand-in for the client's fetch: counts calls, can fail or hold."""

    def __init__(self, clock: Callable[[], float] = time.time, as_of: str = AS_OF_1) -> None:
        self.clock = clock
        self.as_of = as_of
        self.calls = 0
        self.error: BaseException | None = None
        self.gate: asyncio.Event | None = None
        self.started = asyncio.Event()
        self.cancelled = 0

    def fetcher(self, query: Query) -> Callable[[], Awaitable[Page]]:
        """The fetch callable the cache gets for ``query``."""

        async def fetch() -> Page:
            self.calls += 1
            self.started.set()
            try:
                if self.gate is not None:
                    await self.gate.wait()
            except asyncio.CancelledError:
                self.cancelled += 1
                raise
            if self.error is not None:
                raise self.error
            return make_page(query, self.as_of, fetched_at=self.clock())

        return fetch


# The cross-process worker.

WORKER_SCRIPT = Path(__file__)


def counter_key(namespace: str) -> str:
    """Where the workers of a test count their upstream calls."""
    return f"{namespace}:test:upstream-calls"


def ready_key(namespace: str) -> str:
    """Where the workers of a test count themselves in before the burst."""
    return f"{namespace}:test:ready"


def worker_command(redis_url: str, namespace: str, mode: str, processes: int = 1) -> list[str]:
    """The argv of one worker process."""
    return [sys.executable, str(WORKER_SCRIPT), redis_url, namespace, mode, str(processes)]


async def _worker(redis_url: str, namespace: str, mode: str, processes: int) -> None:
    """One process of the cross-process tests.

    ``burst``: once every worker is ready, 100 concurrent identical gets whose
    fetch INCRs a counter in Redis and takes 0.3 s; prints ``fetches coalesced``.
    ``hang``: one get whose fetch INCRs the counter, prints ``holding`` and never
    returns (the test kills the process while it holds the lease).
    """
    control = aioredis.Redis.from_url(redis_url)
    query = Query(source="artificial-analysis")
    policy = CachePolicy(ttl=600, lease_ttl=2.0 if mode == "burst" else 0.6, lease_wait=5.0)
    cache = open_cache(redis_url, namespace=namespace, policy=policy)

    async def fetch() -> Page:
        await control.incr(counter_key(namespace))
        if mode == "hang":
            print("holding", flush=True)
            await asyncio.Event().wait()
        await asyncio.sleep(0.3)
        return make_page(query, fetched_at=time.time())

    try:
        if mode == "burst":
            await control.incr(ready_key(namespace))
            while int(await control.get(ready_key(namespace)) or 0) < processes:  # noqa: ASYNC110  # polls another process
                await asyncio.sleep(0.01)
            pages = await asyncio.gather(*(cache.get(query, fetch) for _ in range(100)))
            assert all(len(page) == 3 for page in pages)
            stats = cache.stats
            print(stats.fetches, stats.coalesced, flush=True)
        else:
            await cache.get(query, fetch)
    finally:
        await cache.close()
        await control.aclose()


def worker_main(argv: list[str]) -> None:
    """Entry point of a worker process."""
    redis_url, namespace, mode, processes = argv
    asyncio.run(_worker(redis_url, namespace, mode, int(processes)))


if __name__ == "__main__":
    worker_main(sys.argv[1:])
