"""The quota ledger in a SQLite file: one budget for every process of this machine using it.

The command line runs as short processes, so a budget counted per process
forgets between runs: a cron job running ``get`` 600 times a day would never
hear of the day's 500. This ledger keeps the same log the Redis one keeps (a
row per request: its lease end while in flight, the time its answer came
once done) and the pause a 429 asked for, in a file beside the CLI's
snapshots. Each decision is one ``BEGIN IMMEDIATE`` transaction, so two
processes can never both take the last slot; times are the processes' wall
clock, which on one machine they share.

Every SQLite call runs on one worker thread of the ledger, so the event loop
never waits on the disk or on another process's lock. If the file cannot be
used (unwritable, locked past the busy timeout, corrupt), the limiter counts
in this process, logs once, and goes back to the file when it answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import os
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Final, TypeVar

import platformdirs

from openrouter_bench import _redis
from openrouter_bench._ledger import (
    GRANTED,
    LocalFallback,
    Turn,
    Usage,
    Verdict,
    Window,
)

__all__ = ["SQLiteLedger", "default_cli_quota_path"]

logger: Final = logging.getLogger("openrouter_bench.quota")

_T = TypeVar("_T")

_SCHEMA: Final = (
    """
    CREATE TABLE IF NOT EXISTS quota_log (
        scope TEXT NOT NULL,
        token TEXT NOT NULL,
        stamp REAL NOT NULL,
        PRIMARY KEY (scope, token)
    ) WITHOUT ROWID
    """,
    "CREATE INDEX IF NOT EXISTS quota_log_stamp ON quota_log (scope, stamp)",
    "CREATE TABLE IF NOT EXISTS quota_pause (scope TEXT PRIMARY KEY, until REAL NOT NULL)",
)

#: While the file is unusable, it is tried again at most this often (seconds).
#: No request holds its slot, and no pause lasts, longer than a day: a row dated further
#: ahead was not written by a limiter, and would hold a slot (or every call) for ever.
_FUTURE_LIMIT: Final = 86_400.0

# A row counts only if its time is a number within reach (the last ? of each statement);
# anything else in the file (someone else's write, a bad restore) is dropped, not trusted.
_DROP_OLD: Final = (
    "DELETE FROM quota_log WHERE scope = ? AND (stamp <= ? OR NOT "
    "(typeof(stamp) IN ('real', 'integer') AND stamp <= ?))"
)
_READ_PAUSE: Final = (
    "SELECT until FROM quota_pause WHERE scope = ? "
    "AND typeof(until) IN ('real', 'integer') AND until <= ?"
)
_WRITE_PAUSE: Final = (
    "INSERT INTO quota_pause (scope, until) VALUES (?, ?) "
    "ON CONFLICT (scope) DO UPDATE SET until = CASE "
    "WHEN typeof(until) IN ('real', 'integer') AND until <= ? "
    "THEN max(until, excluded.until) ELSE excluded.until END"
)
_COUNT: Final = (
    "SELECT count(*) FROM quota_log WHERE scope = ? AND stamp > ? "
    "AND typeof(stamp) IN ('real', 'integer') AND stamp <= ?"
)


def default_cli_quota_path() -> Path:
    """Where the command line keeps its quota ledger: beside its snapshots."""
    return platformdirs.user_cache_path("openrouter-bench") / "quota.sqlite3"


class SQLiteLedger:
    """The quota windows of every process using one SQLite file, under one scope."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        scope: str,
        windows: tuple[Window, ...],
        clock: Callable[[], float] = time.time,
        busy_timeout: float = 2.0,
    ) -> None:
        self.path = Path(path)
        self._scope = scope
        self._windows = windows
        self._longest = max((window.length for window in windows), default=0.0)
        self._horizon = max(self._longest, _FUTURE_LIMIT)
        self._clock = clock
        self._busy_timeout = busy_timeout
        self._executor: ThreadPoolExecutor | None = None
        self._fallback = LocalFallback(windows, clock)
        self._breaker = _redis.OutageBreaker(time.monotonic)
        # Touched only on the worker thread.
        self._connection: sqlite3.Connection | None = None

    def __repr__(self) -> str:
        return f"<SQLiteLedger {self.path}>"

    async def take(self, token: str, lease: float) -> Verdict:
        if not self._usable():
            return await self._fallback.take(token, lease)
        try:
            verdict = await self._run(self._db_take, token, lease)
        except (sqlite3.Error, OSError) as error:
            self._failed(error)
            return await self._fallback.take(token, lease)
        self._recovered()
        return verdict

    async def finish(self, token: str) -> None:
        if await self._fallback.finish(token):
            return
        try:
            await self._run(self._db_finish, token)
        except (sqlite3.Error, OSError) as error:  # the slot's lease runs out by itself
            self._failed(error)

    async def pause(self, seconds: float) -> None:
        await self._fallback.pause(seconds)
        if not self._usable():
            return
        try:
            await self._run(self._db_pause, seconds)
        except (sqlite3.Error, OSError) as error:  # the local pause still holds this process
            self._failed(error)

    async def usage(self) -> Usage:
        if not self._usable():
            return await self._fallback.usage()
        try:
            usage = await self._run(self._db_usage)
        except (sqlite3.Error, OSError) as error:
            self._failed(error)
            return await self._fallback.usage()
        self._recovered()
        return usage

    async def aclose(self) -> None:
        executor, self._executor = self._executor, None
        if executor is None:
            return
        loop = asyncio.get_running_loop()
        with contextlib.suppress(sqlite3.Error):  # closing is best effort
            await loop.run_in_executor(executor, self._db_close)
        executor.shutdown(wait=False)

    async def _run(self, work: Callable[..., _T], *args: Any) -> _T:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="openrouter-bench-quota"
            )
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(work, *args))

    def _usable(self) -> bool:
        return self._breaker.allows()

    def _failed(self, error: BaseException) -> None:
        if not self._breaker.failed():
            return
        logger.warning(
            "quota: the ledger file %s is unavailable (%s); counting in this process until "
            "it is back",
            self.path,
            type(error).__name__,
        )

    def _recovered(self) -> None:
        if self._breaker.succeeded():
            logger.info("quota: the ledger file is back; the budget is shared again")

    # Everything below named _db_* runs on the worker thread.

    def _db(self) -> sqlite3.Connection:
        if self._connection is None:
            self._connection = self._db_open()
        return self._connection

    def _db_open(self) -> sqlite3.Connection:
        directory = self.path.parent
        if not directory.exists():
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            # Born 0600: what a user asks for, and how often, is nobody else's business.
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
        connection = sqlite3.connect(
            self.path, timeout=self._busy_timeout, isolation_level=None, check_same_thread=False
        )
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute(f"PRAGMA busy_timeout={int(self._busy_timeout * 1000)}")
            for statement in _SCHEMA:
                connection.execute(statement)
        except BaseException:
            connection.close()
            raise
        return connection

    def _db_close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def _db_take(self, token: str, lease: float) -> Verdict:
        db = self._db()
        # IMMEDIATE takes the write lock before reading: the count and the insert are one step.
        db.execute("BEGIN IMMEDIATE")  # waits up to the busy timeout for another process
        try:
            now = self._clock()
            db.execute(
                _DROP_OLD,
                (self._scope, now - self._longest, now + self._horizon),
            )
            stamps = [
                stamp
                for (stamp,) in db.execute(
                    "SELECT stamp FROM quota_log WHERE scope = ? ORDER BY stamp", (self._scope,)
                )
            ]
            verdict = self._decide(stamps, now, self._paused_until(db))
            if verdict is GRANTED:
                db.execute(
                    "INSERT OR REPLACE INTO quota_log (scope, token, stamp) VALUES (?, ?, ?)",
                    (self._scope, token, now + lease),
                )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return verdict

    def _decide(self, stamps: list[float], now: float, paused_until: float) -> Verdict:
        # The Redis script's rule: a stamp in the future is a request in flight (its lease
        # end), counted in every window; the daily windows first, then a pause, then the rest.
        for window in self._windows:
            if window.daily:
                verdict = self._check(window, stamps, now)
                if verdict is not None:
                    return Verdict(Turn.EXHAUSTED, verdict.wait)
        if paused_until > now:
            return Verdict(Turn.PAUSED, paused_until - now)
        for window in self._windows:
            if not window.daily:
                verdict = self._check(window, stamps, now)
                if verdict is not None:
                    return verdict
        return GRANTED

    @staticmethod
    def _check(window: Window, stamps: list[float], now: float) -> Verdict | None:
        inside = [stamp for stamp in stamps if stamp > now - window.length]
        if len(inside) < window.limit:
            return None
        pivot = inside[len(inside) - window.limit]
        turn = Turn.HELD if pivot > now else Turn.WINDOW
        return Verdict(turn, max(0.0, pivot + window.length - now))

    def _paused_until(self, db: sqlite3.Connection) -> float:
        row = db.execute(
            _READ_PAUSE,
            (self._scope, self._clock() + self._horizon),
        ).fetchone()
        return -math.inf if row is None else float(row[0])

    def _db_finish(self, token: str) -> None:
        self._db().execute(
            "UPDATE quota_log SET stamp = ? WHERE scope = ? AND token = ?",
            (self._clock(), self._scope, token),
        )

    def _db_pause(self, seconds: float) -> None:
        now = self._clock()
        self._db().execute(
            _WRITE_PAUSE,
            (self._scope, now + seconds, now + self._horizon),
        )

    def _db_usage(self) -> Usage:
        db = self._db()
        now = self._clock()
        used = tuple(
            int(
                db.execute(
                    _COUNT,
                    (self._scope, now - window.length, now + self._horizon),
                ).fetchone()[0]
            )
            for window in self._windows
        )
        return Usage(used, max(0.0, self._paused_until(db) - now))
