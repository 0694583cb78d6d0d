"""Six answers of many tiny items each through the memory cache, in a fresh interpreter.

``python -m tests.hostile._tiny_items COUNT [--raise-cap]`` prints one JSON
object of figures for six answers of COUNT items (``--raise-cap`` lifts the
client's item cap above COUNT, so only the byte budget stands in the way);
``tests/hostile/test_cache_bounds.py`` runs it and checks them. A process of
its own, so that its resident set size says what these answers cost and
nothing else, and so that the half gigabyte one such page takes while it is
alive does not raise the test process's high-water mark (which Linux hands
on to a process it starts, as that process's peak ``ru_maxrss``).
"""

from __future__ import annotations

import asyncio
import gc
import sys
from typing import Any, Final

import orjson
import psutil  # type: ignore[import-untyped]  # ships no type hints

from openrouter_bench import BenchmarksClient, CachePolicy, ResponseFormatError, RetryPolicy
from openrouter_bench.cache._lru import BoundedMemoryCache
from openrouter_bench.fake.hostile import HostileServer, respond
from tests.conftest import bare_meta

MIB: Final = 1024 * 1024
MILLION: Final = 1_000_000
ANSWERS: Final = 6
BUDGET: Final = 64 * MIB
#: Never a real key: the hostile server accepts anything.
KEY: Final = "tiny-items-not-a-secret"
META: Final = bare_meta(1)


def tiny_items(count: int) -> bytes:
    """A 200 answer of ``count`` items as small as an item can be."""
    return respond(200, orjson.dumps({"data": [{"source": "x"}] * count, "meta": META}))


def rss() -> int:
    """This process's resident set size, after a full collection."""
    gc.collect()
    resident: int = psutil.Process().memory_info().rss
    return resident


async def run(count: int, *, raise_cap: bool) -> dict[str, Any]:
    """The figures of the six answers (the body is built once and sent six times)."""
    answer = tiny_items(count)
    capped: dict[str, Any] = {} if not raise_cap else {"max_page_items": 2 * count}
    async with HostileServer(answer) as server:
        client = BenchmarksClient(
            KEY,
            base_url=server.url,
            retry=RetryPolicy.no_wait(attempts=1),
            quota=None,
            max_response_bytes=64 * MIB,
            cache_policy=CachePolicy(max_bytes=BUDGET),
            **capped,
        )
        backend = client.cache.backend
        assert isinstance(backend, BoundedMemoryCache)
        before = rss()
        growth: list[int] = []
        accounted: list[int] = []
        items: list[int] = []
        refused: list[str] = []
        async with client:
            for index in range(ANSWERS):
                try:
                    page = await client.get(max_results=2 * MILLION + index)
                except ResponseFormatError as error:
                    refused.append(str(error))
                else:
                    items.append(len(page))
                    del page
                growth.append(rss() - before)
                accounted.append(backend.accounted_bytes)
            stats = client.cache.stats
            kept = len(backend)
        requests = len(server.requests)
    return {
        "answer_bytes": len(answer),
        "items": items,
        "refused": refused,
        "requests": requests,
        "kept_entries": kept,
        "budget": BUDGET,
        "accounted": accounted,
        "rss_growth": growth,
        "rss_growth_after": rss() - before,
        "not_stored": stats.not_stored,
        "backend_errors": stats.backend_errors,
    }


def main() -> int:
    """Print the figures as one JSON line."""
    count = int(sys.argv[1]) if len(sys.argv) > 1 else MILLION
    figures = asyncio.run(run(count, raise_cap="--raise-cap" in sys.argv[2:]))
    sys.stdout.write(orjson.dumps(figures).decode() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
