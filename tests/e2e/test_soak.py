"""The chaos soak, at CI size: ``python -m benchmarks.soak --calls 2000 --json``, run as a command.

The command starts its own fake server and private ``redis-server`` (loopback
only), kills Redis halfway and starts it again, and exits 1 if an invariant
breaks. Here its figures are checked one by one, so a failure names the
invariant. The full size (10,000 calls) is the same command without
``--calls``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import required

ROOT = Path(__file__).resolve().parents[2]
CALLS = 2_000


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    """The figures of one CI-size soak (the command runs once for the module)."""
    required(shutil.which("redis-server"), "the soak needs redis-server")
    done = subprocess.run(  # noqa: S603  # a fixed argv, no shell
        [sys.executable, "-m", "benchmarks.soak", "--calls", str(CALLS), "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    figures: dict[str, Any] = json.loads(done.stdout)
    figures["stderr"] = done.stderr
    return figures


@pytest.mark.slow
def test_every_call_is_accounted_for_and_none_hangs(report: dict[str, Any]) -> None:
    """2,000 calls end as a page or a typed error; none hangs, none raises anything else."""
    assert report["calls"] == CALLS
    assert report["hangs"] == 0
    assert report["untyped_errors"] == {}
    assert report["pages"] + sum(report["errors_by_kind"].values()) == CALLS
    assert report["pages"] >= CALLS * 0.97


@pytest.mark.slow
def test_no_page_carries_wrong_data(report: dict[str, Any]) -> None:
    """Every page, fresh, cached or stale, equals the fake's data for its own as_of."""
    assert report["wrong_data"] == 0
    assert report["snapshots_published"] == 3
    # Stale serves need three failed attempts in a row (0.8 % of fetches): too rare to
    # require in a run this size; the full soak has dozens.
    assert report["cache_hits"] > 0
    assert report["from_a_fetch"] > report["coalesced"] > 0


@pytest.mark.slow
def test_the_chaos_and_the_redis_restart_really_happened(report: dict[str, Any]) -> None:
    """About a fifth of the requests were faulted, retried; Redis failed, then held keys again."""
    assert 0.12 <= report["faults_injected"] / report["requests_seen"] <= 0.28
    assert report["client_retries"] > 0
    assert report["cache_backend_errors"] > 0
    assert report["redis_keys_at_end"] > 0


@pytest.mark.slow
def test_calls_stay_within_the_deadline(report: dict[str, Any]) -> None:
    """The slowest call ended before the per-call deadline."""
    assert 0 < report["max_call_seconds"] <= report["deadline"]


@pytest.mark.slow
def test_nothing_is_left_behind(report: dict[str, Any]) -> None:
    """After close: no task still running, no connection to the fake or Redis still open."""
    assert report["tasks_left"] == 0
    assert report["connections_left"] == 0
    assert report["peak_rss_mib"] < 500


@pytest.mark.slow
def test_the_key_shows_up_nowhere(report: dict[str, Any]) -> None:
    """No log record at any level, page or error repr, or Redis key or value holds the key."""
    assert report["canary_hits"] == 0
    assert report["reprs_checked"] == CALLS
    assert report["redis_entries_checked"] > 0
    assert set(report["log_records"]) >= {"DEBUG", "WARNING"}
    assert report["problems"] == []
