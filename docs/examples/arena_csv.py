"""A scheduled job: every Design Arena ranking, all arenas and categories, in one CSV file.

    python arena_csv.py design-arena.csv

Run it from cron or a systemd timer as often as you like, e.g. hourly:

    0 * * * *  OPENROUTER_API_KEY=... python /opt/jobs/arena_csv.py /srv/data/design-arena.csv

It sends one request per arena, three in all: asked without a category, the
endpoint returns every category of an arena at once, including categories added
after this was written. Pages are kept in the on-disk cache the command line
uses, so runs less than ten minutes apart send nothing. The file is replaced in
one step, so readers never see half of it, and a failed run leaves the last good
file in place (exit status 1). The citation the data asks for when you
republish it is printed, to put beside the file.
"""

from __future__ import annotations

import asyncio
import csv
import os
import sys
import tempfile
from pathlib import Path

from openrouter_bench import Arena, BenchmarksClient, DesignArenaItem, OpenRouterBenchError, Page
from openrouter_bench._paths import default_cli_cache_path

COLUMNS = [
    "as_of",
    "arena",
    "category",
    "rank",
    "model_permaslug",
    "display_name",
    "elo",
    "win_rate",
    "avg_generation_time_ms",
    "tournaments",
    "first_places",
    "on_openrouter",
    "prompt_usd_per_token",
    "completion_usd_per_token",
]


def rows(page: Page) -> list[dict[str, object]]:
    """One row per model and category of an arena's page, ranked by Elo within each category."""
    by_category: dict[str, list[DesignArenaItem]] = {}
    for item in page.items:
        if isinstance(item, DesignArenaItem):
            by_category.setdefault(item.category, []).append(item)
    table = []
    for category in sorted(by_category):
        ranked = sorted(by_category[category], key=lambda i: (-i.elo, i.model_permaslug))
        for rank, item in enumerate(ranked, start=1):
            table.append(
                {
                    "as_of": page.as_of.isoformat(),
                    "arena": item.arena,
                    "category": category,
                    "rank": rank,
                    "model_permaslug": item.model_permaslug,
                    "display_name": item.display_name,
                    "elo": item.elo,
                    "win_rate": item.win_rate,
                    "avg_generation_time_ms": item.avg_generation_time_ms,
                    "tournaments": item.tournament_stats.total,
                    "first_places": item.tournament_stats.first_place,
                    "on_openrouter": item.on_openrouter,
                    # Decimal prices are written exactly as the API sent them.
                    "prompt_usd_per_token": item.pricing.prompt if item.pricing else None,
                    "completion_usd_per_token": item.pricing.completion if item.pricing else None,
                }
            )
    return table


def write_atomically(path: Path, table: list[dict[str, object]]) -> None:
    """Write the CSV beside ``path``, then put it in place in one rename."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", newline="", encoding="utf-8") as file:
            writer = csv.DictWriter(file, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(table)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


async def export(path: Path) -> int:
    cache = f"sqlite:///{default_cli_cache_path()}"  # shared with the openrouter-bench command
    async with BenchmarksClient(cache=cache, app_title="design-arena-csv-job") as client:
        try:
            pages = await asyncio.gather(
                *(client.get(source="design-arena", arena=arena) for arena in Arena)
            )
        except OpenRouterBenchError as error:
            print(f"design arena export failed, {path} left as it was: {error}", file=sys.stderr)
            return 1
        sent = client.stats.requests
    table = [row for page in pages for row in rows(page)]
    write_atomically(path, table)
    for page in pages:
        if page.stale:
            print(f"warning: {page.query.arena} is an older snapshot ({page.as_of:%Y-%m-%d %H:%M})")
    categories = len({(row["arena"], row["category"]) for row in table})
    print(f"wrote {len(table)} rows, {categories} categories of {len(pages)} arenas, to {path}")
    print(f"{sent} requests sent (0 when the cache was fresh)")
    print(f"cite: {pages[0].meta.citation}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(f"usage: {Path(sys.argv[0]).name} OUTPUT.csv")
    sys.exit(asyncio.run(export(Path(sys.argv[1]))))
