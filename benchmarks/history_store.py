"""What a SQLite store of kept history weighs after many queries and snapshots, with its bound.

    python -m benchmarks.history_store [--queries 10] [--snapshots 20] [--store-mib 2]

Against the bundled fake (no key, no quota), ``--queries`` queries (the three
Design Arena arena pages, then Artificial Analysis pages of 1, 2, ... items)
are each fetched once per round; after every round the fake publishes a new
snapshot, so each round stores a new page per query. The cache keeps history
as the command line's does (up to 1,000 snapshots and 64 MiB per query), with
``--store-mib`` for the whole file (0: no store-wide bound).

It prints the pages kept, what they weigh, the file's bytes in use (SQLite's
pages less its free list), the file's size, and the fewest and most snapshots
any query kept: with a bound, the oldest snapshots went first, whatever their
query, and every query's newest stayed.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
from collections.abc import Sequence
from pathlib import Path

from openrouter_bench import BenchmarksClient, CachePolicy, Query
from openrouter_bench.fake import FakeOpenRouter

_MIB = 2**20


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.history_store")
    parser.add_argument("--queries", type=int, default=10, help="queries (at least 3)")
    parser.add_argument("--snapshots", type=int, default=20, help="rounds, one snapshot each")
    parser.add_argument("--store-mib", type=float, default=2.0, help="store-wide bound; 0: none")
    return parser.parse_args(argv)


def _queries(count: int) -> list[Query]:
    arenas = [
        Query(source="design-arena", arena=arena) for arena in ("models", "builders", "agents")
    ]
    pages = [
        Query(source="artificial-analysis", max_results=n) for n in range(1, max(count - 2, 1))
    ]
    return [*arenas, *pages][: max(count, 3)]


async def _fill(path: Path, queries: list[Query], rounds: int, store_bytes: int) -> list[int]:
    policy = CachePolicy(
        ttl=0, history=1000, history_bytes=64 * _MIB, history_store_bytes=store_bytes
    )
    async with (
        FakeOpenRouter(per_minute=None, per_day=None) as fake,
        BenchmarksClient(
            "benchmark-key",
            base_url=fake.url,
            quota=None,
            cache=f"sqlite:///{path}",
            cache_policy=policy,
        ) as client,
    ):
        for _ in range(rounds):
            for query in queries:
                await client.get(query)
            fake.publish()
        return [len(await client.cache.history(query)) for query in queries]


def main(argv: Sequence[str] | None = None) -> None:
    arguments = _arguments(argv)
    queries = _queries(arguments.queries)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "store.sqlite3"
        kept = asyncio.run(
            _fill(path, queries, arguments.snapshots, int(arguments.store_mib * _MIB))
        )
        with sqlite3.connect(path) as db:
            page_size = db.execute("PRAGMA page_size").fetchone()[0]
            pages_used = (
                db.execute("PRAGMA page_count").fetchone()[0]
                - db.execute("PRAGMA freelist_count").fetchone()[0]
            )
            weight, count = db.execute(
                "SELECT coalesce(sum(length(value)), 0), count(*) FROM entries "
                "WHERE key LIKE '%:page:%' AND expires_at IS NULL"
            ).fetchone()
        size = path.stat().st_size
    bound = f"{arguments.store_mib:g} MiB" if arguments.store_mib else "none"
    print(
        f"{len(queries)} queries x {arguments.snapshots} snapshots, store bound {bound}: "
        f"{count} pages kept ({weight / _MIB:.2f} MiB), {pages_used * page_size / _MIB:.2f} MiB "
        f"in use, file {size / _MIB:.2f} MiB; snapshots per query {min(kept)} to {max(kept)}"
    )


if __name__ == "__main__":
    main()
