"""A poisoned quota ledger file: rows the limiter never wrote, or a file that is not SQLite.

The command line's ledger is a file in the user's cache directory; anything that
can write there (a bad restore, another program, a hand edit) can leave values
no limiter wrote. None may hold a slot or every call for ever, or fail a call.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest

from openrouter_bench.fake import FakeTime
from openrouter_bench.quota import QuotaLimiter, QuotaPolicy, open_quota
from tests.hostile.conftest import Observe

API = "test"
SCOPE = f"{API}|default"


def limiter_on(path: Path, clock: FakeTime, **options: object) -> QuotaLimiter:
    """A limiter on the ledger file ``path``, on the injected clock."""
    settings: dict[str, object] = {"per_minute": 2, "per_day": 10, "store": f"sqlite:///{path}"}
    settings.update(options)
    return open_quota(
        QuotaPolicy(**settings),  # type: ignore[arg-type]
        api=API,
        timer=clock.monotonic,
        sleep=clock.sleep,
        wall_clock=clock.time,
    )


async def ledger_with(path: Path, clock: FakeTime, *rows: tuple[str, str, object]) -> None:
    """Create the ledger's tables (through a limiter), then write ``rows`` behind its back."""
    limiter = limiter_on(path, clock)
    await limiter.status()
    await limiter.aclose()
    with sqlite3.connect(path) as db:
        for table, token, value in rows:
            if table == "log":
                db.execute("INSERT INTO quota_log VALUES (?, ?, ?)", (SCOPE, token, value))
            else:
                db.execute("INSERT INTO quota_pause VALUES (?, ?)", (SCOPE, value))
    db.close()


@pytest.mark.hostile(
    case="quota ledger rows with text and far-future stamps",
    expected="dropped; the request is let through at once",
)
async def test_rows_no_limiter_wrote_are_dropped(
    tmp_path: Path, fake_time: FakeTime, observe: Observe
) -> None:
    """Text stamps and stamps a century ahead neither count nor hold a slot."""
    path = tmp_path / "quota.sqlite3"
    century = fake_time.now + 100 * 365 * 86_400.0
    await ledger_with(
        path, fake_time, ("log", "a", "not a time"), ("log", "b", century), ("log", "c", century)
    )
    limiter = limiter_on(path, fake_time)
    try:
        before = await limiter.status()
        async with limiter.admit(budget=1.0):
            pass
        after = await limiter.status()
    finally:
        await limiter.aclose()
    assert before.minute_used == 0
    assert after.minute_used == 1
    assert fake_time.sleeps == []
    with sqlite3.connect(path) as db:
        left = db.execute("SELECT count(*) FROM quota_log").fetchone()[0]
    db.close()
    observe(f"3 planted rows counted as 0, request admitted with no wait; {left} row left")


@pytest.mark.hostile(
    case="quota ledger pause of a century",
    expected="ignored; no call waits, a real 429 pause still applies",
)
async def test_a_pause_no_limiter_wrote_is_ignored(
    tmp_path: Path, fake_time: FakeTime, observe: Observe
) -> None:
    """A pause dated a century ahead (or not a number) is no pause; a real one replaces it."""
    path = tmp_path / "quota.sqlite3"
    await ledger_with(path, fake_time, ("pause", "", fake_time.now + 100 * 365 * 86_400.0))
    limiter = limiter_on(path, fake_time)
    try:
        status = await limiter.status()
        async with limiter.admit(budget=1.0):
            pass
        await limiter.pause(3.0)
        paused = await limiter.status()
    finally:
        await limiter.aclose()
    assert status.paused_until is None
    assert fake_time.sleeps == []
    assert paused.paused_until is not None
    shown = (paused.paused_until - paused.at).total_seconds()
    assert shown == pytest.approx(3.0)
    observe(f"planted pause ignored (no wait); a 3 s pause after it reads as {shown:.1f} s")


@pytest.mark.hostile(
    case="quota ledger file that is not SQLite",
    expected="counted in-process, one warning, calls go on",
)
async def test_a_file_that_is_not_sqlite_falls_back(
    tmp_path: Path, fake_time: FakeTime, observe: Observe, caplog: pytest.LogCaptureFixture
) -> None:
    """Garbage bytes where the ledger should be: calls are admitted and counted here."""
    path = tmp_path / "quota.sqlite3"
    path.write_bytes(b"\x00garbage, not a database\xff" * 200)
    limiter = limiter_on(path, fake_time)
    try:
        with caplog.at_level(logging.WARNING, logger="openrouter_bench.quota"):
            for _ in range(2):
                async with limiter.admit(budget=1.0):
                    pass
            status = await limiter.status()
    finally:
        await limiter.aclose()
    warnings = [record for record in caplog.records if "unavailable" in record.getMessage()]
    assert len(warnings) == 1
    assert status.minute_used == 2
    observe(f"2 requests admitted and counted in-process, {len(warnings)} warning logged")
