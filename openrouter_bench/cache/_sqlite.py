"""A persistent aiocache backend over stdlib ``sqlite3`` (the CLI's default store).

Short processes such as the CLI's keep snapshots in a file, so a repeated
command spends no quota. Every SQLite call
runs on one worker thread owned by the backend, so the event loop never
blocks on disk or on another process's write lock. Several CLI processes may
share the file: it is in WAL mode (readers never wait for the writer) with a
busy timeout for writers. The file is created 0600 in a directory made 0700:
it holds nothing secret, but it is nobody else's business what a user asks.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeAlias, TypeVar

from aiocache.base import BaseCache

from openrouter_bench.cache._codec import BytesSerializer

__all__ = ["SQLiteCache", "StoreBound"]

_T = TypeVar("_T")

#: ``(prefix, max_bytes, choose)``: see :meth:`SQLiteCache.write_and_bound`.
StoreBound: TypeAlias = tuple[str, int, Callable[[list[object]], list[str]]]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL,
    expires_at REAL
) WITHOUT ROWID
"""

# Expired rows are only skipped on read; every so many writes they are swept.
_KEYS_IN_SPAN = "SELECT key FROM entries WHERE key >= ? AND key < ?"
_SWEEP_EVERY = 256


class SQLiteCache(BaseCache):  # type: ignore[misc]  # aiocache ships no type hints
    """An aiocache backend storing bytes in one SQLite file.

    ``clock`` is wall time in seconds (expiry deadlines are shared with other
    processes, so a monotonic clock would not do). ``busy_timeout`` bounds how
    long a write waits for another process's lock. The file and its directory
    are created on first use, on the worker thread.
    """

    NAME = "sqlite"

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        clock: Callable[[], float] = time.time,
        busy_timeout: float = 2.0,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("serializer", BytesSerializer())
        super().__init__(**kwargs)
        self.path = Path(path)
        self._clock = clock
        #: Seconds a write waits for another process's lock before SQLite gives up.
        self.busy_timeout = busy_timeout
        self._executor: ThreadPoolExecutor | None = None
        # Touched only on the worker thread.
        self._connection: sqlite3.Connection | None = None
        self._writes = 0

    def __repr__(self) -> str:
        return f"<SQLiteCache {self.path}>"

    async def _run(self, work: Callable[..., _T], *args: Any) -> _T:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="openrouter-bench-sqlite"
            )
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(work, *args))

    # Everything below named _db_* runs on the worker thread.

    def _db(self) -> sqlite3.Connection:
        if self._connection is None:
            self._connection = self._open()
        return self._connection

    def _open(self) -> sqlite3.Connection:
        directory = self.path.parent
        if not directory.exists():
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(directory, 0o700)
        with contextlib.suppress(FileExistsError):
            # Create the file ourselves so it is born 0600 (sqlite would use the umask).
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
            os.chmod(self.path, 0o600)
        connection = sqlite3.connect(
            self.path,
            timeout=self.busy_timeout,
            isolation_level=None,
            check_same_thread=False,
        )
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute(f"PRAGMA busy_timeout={int(self.busy_timeout * 1000)}")
            connection.execute(_SCHEMA)
        except BaseException:
            connection.close()
            raise
        return connection

    def _deadline(self, ttl: float | None) -> float | None:
        return None if not ttl else self._clock() + ttl

    def _live(self, row: tuple[Any, float | None] | None) -> Any:
        """A row's value, or None when there is none or it has expired."""
        if row is None:
            return None
        value, expires_at = row
        if expires_at is not None and expires_at <= self._clock():
            return None
        return value

    def _db_get(self, key: str) -> Any:
        row = (
            self._db()
            .execute("SELECT value, expires_at FROM entries WHERE key = ?", (key,))
            .fetchone()
        )
        return self._live(row)

    def _db_get_head(self, key: str, limit: int) -> Any:
        # substr counts bytes in a BLOB (characters in TEXT): either way, a bounded read.
        row = (
            self._db()
            .execute(
                "SELECT substr(value, 1, ?), expires_at FROM entries WHERE key = ?",
                (limit + 1, key),
            )
            .fetchone()
        )
        return self._live(row)

    def _db_set(self, pairs: list[tuple[str, Any]], ttl: float | None) -> None:
        self._db_write([(key, value, ttl) for key, value in pairs], [], None)

    def _db_write(
        self,
        rows: list[tuple[str, Any, float | None]],
        deleted: list[str],
        bound: StoreBound | None,
    ) -> int:
        db = self._db()
        evicted = 0
        with db:
            db.execute("BEGIN IMMEDIATE")
            db.executemany(
                "INSERT OR REPLACE INTO entries (key, value, expires_at) VALUES (?, ?, ?)",
                [(key, value, self._deadline(ttl)) for key, value, ttl in rows],
            )
            db.executemany("DELETE FROM entries WHERE key = ?", [(key,) for key in deleted])
            if bound is not None:
                evicted = self._db_bound(db, *bound)
        self._writes += 1
        if self._writes % _SWEEP_EVERY == 0:
            db.execute(
                "DELETE FROM entries WHERE expires_at IS NOT NULL AND expires_at <= ?",
                (self._clock(),),
            )
        return evicted

    @staticmethod
    def _db_used(db: sqlite3.Connection) -> int:
        # What the file's pages in use hold, read from its header: no row is read.
        (pages,) = db.execute("PRAGMA page_count").fetchone()
        (free,) = db.execute("PRAGMA freelist_count").fetchone()
        (size,) = db.execute("PRAGMA page_size").fetchone()
        return int((pages - free) * size)

    def _db_bound(
        self,
        db: sqlite3.Connection,
        prefix: str,
        max_bytes: int,
        choose: Callable[[list[object]], list[str]],
    ) -> int:
        if self._db_used(db) <= max_bytes:
            return 0
        # Over: down to seven eighths, so the next writes neither list nor delete. The
        # keys under prefix are one range of the primary key, and a key is read from
        # its row's first page (no page body is read).
        target = max_bytes - max_bytes // 8
        span = (prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1))
        keys = [key for (key,) in db.execute(_KEYS_IN_SPAN, span)]
        evicted = 0
        for key in choose(keys):
            db.execute("DELETE FROM entries WHERE key = ?", (key,))
            evicted += 1
            if self._db_used(db) <= target:
                break
        return evicted

    def _db_add(self, key: str, value: Any, ttl: float | None) -> bool:
        db = self._db()
        with db:
            db.execute("BEGIN IMMEDIATE")
            db.execute(
                "DELETE FROM entries WHERE key = ? AND expires_at IS NOT NULL AND expires_at <= ?",
                (key, self._clock()),
            )
            cursor = db.execute(
                "INSERT OR IGNORE INTO entries (key, value, expires_at) VALUES (?, ?, ?)",
                (key, value, self._deadline(ttl)),
            )
        return cursor.rowcount == 1

    def _db_compare_and_set(self, key: str, value: Any, token: Any, ttl: float | None) -> bool:
        db = self._db()
        with db:
            db.execute("BEGIN IMMEDIATE")
            if self._db_get(key) != token:
                return False
            db.execute(
                "INSERT OR REPLACE INTO entries (key, value, expires_at) VALUES (?, ?, ?)",
                (key, value, self._deadline(ttl)),
            )
        return True

    def _db_increment(self, key: str, delta: int) -> int:
        db = self._db()
        with db:
            db.execute("BEGIN IMMEDIATE")
            current = self._db_get(key)
            if current is None:
                value = delta
                deadline = None
            else:
                try:
                    value = int(current) + delta
                except (TypeError, ValueError):
                    raise TypeError("Value is not an integer") from None
                row = db.execute("SELECT expires_at FROM entries WHERE key = ?", (key,)).fetchone()
                deadline = row[0]
            db.execute(
                "INSERT OR REPLACE INTO entries (key, value, expires_at) VALUES (?, ?, ?)",
                (key, str(value).encode(), deadline),
            )
        return value

    def _db_expire(self, key: str, ttl: float | None) -> bool:
        cursor = self._db().execute(
            "UPDATE entries SET expires_at = ? "
            "WHERE key = ? AND (expires_at IS NULL OR expires_at > ?)",
            (self._deadline(ttl), key, self._clock()),
        )
        return cursor.rowcount == 1

    def _db_keys_with_prefix(self, prefix: str) -> list[str]:
        rows = self._db().execute(
            "SELECT key FROM entries WHERE substr(key, 1, ?) = ? "
            "AND (expires_at IS NULL OR expires_at > ?)",
            (len(prefix), prefix, self._clock()),
        )
        return [key for (key,) in rows]

    def _db_delete(self, key: str) -> int:
        return self._db().execute("DELETE FROM entries WHERE key = ?", (key,)).rowcount

    def _db_clear(self, namespace: str | None) -> int:
        db = self._db()
        if namespace:
            cursor = db.execute(
                "DELETE FROM entries WHERE substr(key, 1, ?) = ?", (len(namespace), namespace)
            )
        else:
            cursor = db.execute("DELETE FROM entries")
        return cursor.rowcount

    def _db_close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def keys_with_prefix(self, prefix: str) -> list[str]:
        """Every live key that starts with ``prefix``."""
        return await self._run(self._db_keys_with_prefix, prefix)

    async def get_head(self, key: str, limit: int) -> Any:
        """At most the first ``limit + 1`` bytes of the value at ``key`` (None if absent).

        For values that must be small: anyone who can write the file can put a
        gigabyte under any key, and a bounded read tells "too large" from a
        whole one without loading it. ``key`` is taken as it is (no namespace).
        """
        return await self._run(self._db_get_head, key, limit)

    async def write_and_bound(
        self,
        rows: list[tuple[str, Any, float | None]],
        deleted: list[str],
        bound: StoreBound | None = None,
    ) -> int:
        """Write ``rows`` (key, value, ttl), delete ``deleted``, then hold the file to ``bound``.

        One trip to the worker thread, one transaction. ``bound`` is ``(prefix,
        max_bytes, choose)``: when the file's pages in use hold more than
        ``max_bytes``, ``choose`` is given every key under ``prefix`` and orders the
        ones that may go (it runs on that thread: a pure function); they are
        deleted in that order until the file holds at most seven eighths of
        ``max_bytes``, or none is left. Keys are taken as they are (no namespace);
        the number of keys deleted is returned.
        """
        return await self._run(self._db_write, rows, deleted, bound)

    async def get_head_and_named(
        self, key: str, limit: int, named: Callable[[Any], str | None]
    ) -> tuple[Any, Any]:
        """``get_head(key, limit)`` and the value at the key ``named(head)`` gives, if any.

        Both in one trip to the worker thread: a pointer and the page it names.
        ``named`` runs on that thread (a pure function of the head) and says
        None when the head names no key; the second value is None then, or when
        that key is absent.
        """
        return await self._run(self._db_get_head_and_named, key, limit, named)

    def _db_get_head_and_named(
        self, key: str, limit: int, named: Callable[[Any], str | None]
    ) -> tuple[Any, Any]:
        head = self._db_get_head(key, limit)
        other = None if head is None else named(head)
        return head, None if other is None else self._db_get(other)

    # The aiocache backend hooks.

    @staticmethod
    def _decoded(value: Any, encoding: str | None) -> Any:
        if encoding is not None and isinstance(value, bytes):
            return value.decode(encoding)
        return value

    async def _get(self, key: str, encoding: str | None = "utf-8", _conn: Any = None) -> Any:
        return self._decoded(await self._run(self._db_get, key), encoding)

    async def _gets(self, key: str, encoding: str | None = "utf-8", _conn: Any = None) -> Any:
        return await self._get(key, encoding=encoding)

    async def _multi_get(
        self, keys: list[str], encoding: str | None = "utf-8", _conn: Any = None
    ) -> list[Any]:
        def read_all() -> list[Any]:
            return [self._db_get(key) for key in keys]

        return [self._decoded(value, encoding) for value in await self._run(read_all)]

    async def _set(
        self,
        key: str,
        value: Any,
        ttl: float | None = None,
        _cas_token: Any = None,
        _conn: Any = None,
    ) -> bool:
        if _cas_token is not None:
            return await self._run(self._db_compare_and_set, key, value, _cas_token, ttl)
        await self._run(self._db_set, [(key, value)], ttl)
        return True

    async def _multi_set(
        self, pairs: list[tuple[str, Any]], ttl: float | None = None, _conn: Any = None
    ) -> bool:
        await self._run(self._db_set, list(pairs), ttl)
        return True

    async def _add(self, key: str, value: Any, ttl: float | None = None, _conn: Any = None) -> bool:
        if not await self._run(self._db_add, key, value, ttl):
            raise ValueError(f"Key {key} already exists, use .set to update the value")
        return True

    async def _exists(self, key: str, _conn: Any = None) -> bool:
        return await self._run(self._db_get, key) is not None

    async def _increment(self, key: str, delta: int, _conn: Any = None) -> int:
        return await self._run(self._db_increment, key, delta)

    async def _expire(self, key: str, ttl: float | None, _conn: Any = None) -> bool:
        return await self._run(self._db_expire, key, ttl)

    async def _delete(self, key: str, _conn: Any = None) -> int:
        return await self._run(self._db_delete, key)

    async def _clear(self, namespace: str | None = None, _conn: Any = None) -> int:
        return await self._run(self._db_clear, namespace)

    async def _close(self, *args: Any, _conn: Any = None, **kwargs: Any) -> None:
        if self._executor is None:
            return
        executor, self._executor = self._executor, None
        try:
            await asyncio.get_running_loop().run_in_executor(executor, self._db_close)
        finally:
            executor.shutdown(wait=False)

    @classmethod
    def parse_uri_path(cls, path: str) -> dict[str, str]:
        """The file path of a ``sqlite:///path/to/file`` URI."""
        return {"path": path}
