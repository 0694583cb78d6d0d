"""How long the event loop stalls while the SQLite cache stores and reads a large page.

    python -m benchmarks.loop_stall_sqlite [--megabytes 15] [--repeat 3]

A heartbeat task sleeps 1 ms at a time and records the longest gap between
two of its wakeups, less the 1 ms it asked for, while one cache operation
runs; beside it, the longest pass of CPython's cyclic garbage collector in
the same time. Encoding, decoding and SQL run on worker threads, so what
still holds the loop up is what holds every thread up: one ``orjson`` parse
or dump of the whole document (about 10 ns a byte, the GIL held throughout)
and the full collections that a million new objects set off.

The page is the bundled fake's unfiltered answer repeated until its body is
``--megabytes`` long (15 MB by default: near the client's 16 MiB response
cap, about 47,000 items of every shape). It is decoded once before the clock
starts; what is measured is the cache alone:

- ``store``: a miss on a fresh SQLite file; the page is encoded and written;
- ``read``: a second cache over the same file (a later CLI run) reads it back;
- ``history``: that cache's ``history()`` of the query (every kept snapshot);
- ``describe``: ``describe()``, which lists the stored keys;
- ``clear``: ``clear()``, which deletes the namespace's rows.

The HTTP path (reading and decoding the answer itself) is measured apart.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, TypeVar

import attrs
import orjson

from benchmarks._documents import dataset
from openrouter_bench._convert import decode_page
from openrouter_bench.cache import CachePolicy, open_cache
from openrouter_bench.models import Page
from openrouter_bench.query import Query

__all__ = ["PHASES", "Stall", "large_page", "main", "measure"]

_T = TypeVar("_T")

#: What the heartbeat asks for between wakeups (seconds).
BEAT: Final = 0.001
PHASES: Final = ("store", "read", "history", "describe", "clear")
NAMESPACE: Final = "openrouter-bench:loop-stall.invalid/api/v1"
QUERY: Final = Query(max_results=1_000_000)


def large_page(megabytes: float) -> Page:
    """A page of real item shapes whose body is at least ``megabytes`` MB (10**6 bytes)."""
    payload = dataset().payload({})
    items = payload["data"]
    copies = max(1, round(megabytes * 1e6 / len(orjson.dumps(payload)) + 0.5))
    body = orjson.dumps({"data": items * copies, "meta": payload["meta"]})
    return decode_page(body, query=QUERY, fetched_at=datetime.now(UTC))


@attrs.frozen
class Stall:
    """The longest the loop went without running the heartbeat, and the longest GC pass."""

    loop: float
    collection: float


async def _longest_stall(work: Callable[[], Awaitable[_T]]) -> tuple[_T, Stall]:
    """``work()``'s result and how long the loop stalled at most while it ran."""
    longest = 0.0
    running = True
    collection = 0.0
    started = 0.0

    def timed(phase: str, info: dict[str, int]) -> None:
        nonlocal collection, started
        if phase == "start":
            started = time.perf_counter()
        else:
            collection = max(collection, time.perf_counter() - started)

    async def heartbeat() -> None:
        nonlocal longest
        last = time.perf_counter()
        while running:
            await asyncio.sleep(BEAT)
            now = time.perf_counter()
            longest = max(longest, now - last - BEAT)
            last = now

    beating = asyncio.create_task(heartbeat())
    gc.callbacks.append(timed)
    await asyncio.sleep(0)  # let the heartbeat take its first reading
    try:
        result = await work()
        await asyncio.sleep(BEAT * 2)  # a stall at the very end is the work's too
    finally:
        running = False
        await beating
        gc.callbacks.remove(timed)
    return result, Stall(loop=longest, collection=collection)


async def measure(page: Page, directory: Path) -> dict[str, Stall]:
    """The longest loop stall (seconds) of each phase, storing and reading ``page``.

    Raises RuntimeError unless the page was stored and read back whole, with no
    backend error on the way.
    """
    path = directory / "snapshots.sqlite3"
    path.unlink(missing_ok=True)
    spec = f"sqlite:///{path}"
    stalls: dict[str, Stall] = {}

    async def fetch() -> Page:
        return page

    writer = open_cache(spec, namespace=NAMESPACE, policy=CachePolicy())
    try:
        stored, stalls["store"] = await _longest_stall(lambda: writer.get(QUERY, fetch))
    finally:
        await writer.close()
    reader = open_cache(spec, namespace=NAMESPACE, policy=CachePolicy())

    async def refused() -> Page:
        raise AssertionError("the page should have come from the SQLite file")

    try:
        read, stalls["read"] = await _longest_stall(lambda: reader.get(QUERY, refused))
        kept, stalls["history"] = await _longest_stall(lambda: reader.history(QUERY))
        _, stalls["describe"] = await _longest_stall(reader.describe)
        _, stalls["clear"] = await _longest_stall(reader.clear)
        if reader.stats.backend_errors or writer.stats.backend_errors:
            raise RuntimeError("the SQLite cache failed during the measurement")
    finally:
        await reader.close()
    if not read.from_cache or len(read) != len(stored) or len(kept) != 1:
        raise RuntimeError("the page did not come back from the SQLite file whole")
    return stalls


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.loop_stall_sqlite",
        description="the longest event-loop stall while the SQLite cache handles a large page",
    )
    parser.add_argument("--megabytes", type=float, default=15.0, help="body size of the page")
    parser.add_argument("--repeat", type=int, default=3, help="runs; the worst stall is shown")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the worst stall of each phase over ``--repeat`` runs, in milliseconds."""
    arguments = _arguments(argv)
    page = large_page(arguments.megabytes)
    print(f"page: {len(page)} items, {page.body_bytes / 1e6:.1f} MB body")
    worst = dict.fromkeys(PHASES, Stall(0.0, 0.0))
    with tempfile.TemporaryDirectory() as directory:
        for _ in range(max(1, arguments.repeat)):
            stalls = asyncio.run(measure(page, Path(directory)))
            for phase in PHASES:
                worst[phase] = max(worst[phase], stalls[phase], key=lambda stall: stall.loop)
    for phase in PHASES:
        stall = worst[phase]
        print(
            f"{phase:>9}: longest loop stall {stall.loop * 1000:7.1f} ms "
            f"(longest garbage collection meanwhile {stall.collection * 1000:6.1f} ms)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
