"""Announce every new #1: watch Design Arena and say when a ranking changes leader.

    python new_leader.py                          # every category of the models arena
    python new_leader.py --arena builders --category website --every 3600
    python new_leader.py --changes 1              # stop after the next new snapshot

It prints the current leaders, then polls every ``--every`` seconds (900 by
default: the data moves on the order of days, and every poll spends quota).
Each time the data set's ``as_of`` moves it prints one line per ranking whose
#1 changed, with the model it displaced and the attribution Design Arena asks
for when its data is republished. Swap ``announce`` for a chat webhook to make
it a bot. A poll that fails for a reason that may pass (a 5xx, a timeout, a
rate limit) is logged and the watch goes on; Ctrl-C stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys

from openrouter_bench import (
    BenchmarksClient,
    OpenRouterBenchError,
    Query,
    SnapshotChange,
    Standing,
    standings,
)


def leaders(standing: dict[tuple[str, str, str | None], Standing]) -> dict[str, Standing]:
    """The #1 of each ranking."""
    return {s.ranking: s for s in standing.values() if s.rank == 1}


def score(standing: Standing) -> str:
    return "-" if standing.score is None else f"{standing.score:.0f}"


def announce(change: SnapshotChange) -> list[str]:
    """The lines to send for one new snapshot: a line per new leader, or one saying none."""
    before = leaders(standings(change.old))
    lines = []
    for leader in change.new_leaders:
        was = before.get(leader.ranking)
        displaced = f", ahead of {was.label}" if was is not None else " (a new ranking)"
        lines.append(f"new #1 in {leader.ranking}: {leader.label} ({score(leader)}){displaced}")
    if not lines:
        lines.append(f"new data as of {change.new_as_of:%Y-%m-%d %H:%M} UTC; the same leaders")
    if change.citation:
        lines.append(f"  source: {change.citation}")
    return lines


async def watch(query: Query, every: float, changes: int | None) -> None:
    async with BenchmarksClient() as client:
        page = await client.get(query)
        for ranking, leader in sorted(leaders(standings(page)).items()):
            print(f"#1 in {ranking}: {leader.label} ({score(leader)})")
        print(f"as of {page.as_of:%Y-%m-%d %H:%M} UTC; watching every {every:g} s", flush=True)
        seen = 0
        # The page just fetched is the watch's baseline: it is cached, so no second request.
        async with contextlib.aclosing(client.watch(query, every=every)) as snapshots:
            async for change in snapshots:
                for line in announce(change):
                    print(line, flush=True)
                seen += 1
                if changes is not None and seen >= changes:
                    return


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arena", default="models", help="models, builders or agents")
    parser.add_argument("--category", help="one category (default: every one of the arena)")
    parser.add_argument("--every", type=float, default=900.0, help="seconds between polls")
    parser.add_argument("--changes", type=int, help="stop after this many new snapshots")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    query = Query(source="design-arena", arena=args.arena, category=args.category)
    try:
        asyncio.run(watch(query, args.every, args.changes))
    except KeyboardInterrupt:
        return 0
    except OpenRouterBenchError as error:
        print(f"new_leader: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
