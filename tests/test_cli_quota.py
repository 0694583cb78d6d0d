"""The command line's quota: kept in a file beside the persistent cache, shown by ``quota``.

Each ``main()`` call is a run of its own (its own event loop, client and
limiter), as each cron invocation would be; the ledger file under the test's
``XDG_CACHE_HOME`` is all they share.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from openrouter_bench.fake import FakeOpenRouter
from openrouter_bench.quota import QuotaPolicy, open_quota
from tests.conftest import run_cli

SVG = ("--source", "design-arena", "--category", "svg")


def ledger(tmp_path: Path) -> Path:
    """Where the CLI's quota ledger must be, given the test's XDG_CACHE_HOME."""
    return tmp_path / "xdg-cache" / "openrouter-bench" / "quota.sqlite3"


def test_separate_runs_count_into_one_ledger(api: FakeOpenRouter, tmp_path: Path) -> None:
    """Three get runs (one a cache hit) leave 2 requests in the ledger that quota shows."""
    assert run_cli("get", *SVG).code == 0
    assert run_cli("get", *SVG).code == 0  # from the persistent cache: no turn taken
    assert run_cli("get", *SVG, "--refresh").code == 0
    assert len(api.requests) == 2
    assert ledger(tmp_path).is_file()
    shown = run_cli("quota", "--format", "json")
    assert shown.code == 0, shown.err
    status = json.loads(shown.out)
    assert status["minute"] == {"limit": 30, "used": 2, "left": 28, "window_seconds": 60.0}
    assert status["day"] == {"limit": 500, "used": 2, "left": 498, "window_seconds": 86400.0}
    assert status["paused_until"] is None
    assert status["store"] == f"sqlite:///{ledger(tmp_path)}"
    assert status["shared"] is True
    assert len(api.requests) == 2, "quota sends nothing"


async def _spend(url: str, path: Path, requests: int) -> None:
    """Take ``requests`` turns on the ledger under the API name the command line uses."""
    parts = urlsplit(url)
    earlier = open_quota(
        QuotaPolicy(per_minute=None, store=f"sqlite:///{path}"), api=f"{parts.netloc}{parts.path}"
    )
    try:
        for _ in range(requests):
            async with earlier.admit(budget=60.0):
                pass
    finally:
        await earlier.aclose()


def test_a_day_spent_by_earlier_runs_refuses_the_next(api: FakeOpenRouter, tmp_path: Path) -> None:
    """500 requests already in the ledger: the next get exits 4 at once and sends nothing."""
    asyncio.run(_spend(api.url, ledger(tmp_path), 500))
    result = run_cli("get", *SVG)
    assert result.code == 4
    assert "daily request budget (500 per day) is spent" in result.err
    assert api.requests == []
    table = run_cli("quota").out
    assert "last day     500    500   0" in table


def test_quota_shows_every_output_format(api: FakeOpenRouter) -> None:
    """table, csv and ndjson show a row per window; the table names the store and the pause."""
    assert run_cli("get", *SVG).code == 0
    table = run_cli("quota").out.splitlines()
    assert table[0].startswith("quota kept in sqlite:///")
    assert table[1].split() == ["window", "limit", "used", "left"]
    assert table[2].split() == ["last", "minute", "30", "1", "29"]
    assert table[3].split() == ["last", "day", "500", "1", "499"]
    assert table[4] == "no pause"
    rows = list(csv.DictReader(io.StringIO(run_cli("quota", "--format", "csv").out)))
    assert [(row["window"], row["used"], row["left"]) for row in rows] == [
        ("minute", "1", "29"),
        ("day", "1", "499"),
    ]
    lines = run_cli("quota", "--format", "ndjson").out.splitlines()
    assert [json.loads(line)["window"] for line in lines] == ["minute", "day"]


@pytest.mark.parametrize(
    ("spec", "first_line"),
    [
        ("off", "quota: no ledger: the quota is off, nothing is counted"),
        ("memory", "quota kept in memory"),
    ],
)
def test_quota_names_the_budget_asked_for(api: FakeOpenRouter, spec: str, first_line: str) -> None:
    """--quota off and memory are shown as what they are, with nothing counted."""
    result = run_cli("quota", "--quota", spec)
    assert result.code == 0, result.err
    assert result.out.splitlines()[0] == first_line
    assert "last day" in result.out


def test_a_get_with_a_memory_quota_writes_no_ledger(api: FakeOpenRouter, tmp_path: Path) -> None:
    """--quota memory counts in the process only: no ledger file appears."""
    assert run_cli("get", *SVG, "--quota", "memory").code == 0
    assert not ledger(tmp_path).exists()
