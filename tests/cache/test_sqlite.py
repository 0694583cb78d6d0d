"""The SQLite backend under the snapshot cache: persistence, permissions, corruption, expiry."""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
from pathlib import Path

import pytest

from openrouter_bench.cache import CachePolicy, open_cache
from openrouter_bench.cache._codec import (
    FORMAT,
    MAX_POINTER_BYTES,
)
from openrouter_bench.cache._sqlite import SQLiteCache
from openrouter_bench.query import Query
from tests._cache_fixtures import AS_OF_1, Clock, Upstream

NAMESPACE = "openrouter-bench:v1:test.invalid"

QUERY = Query(source="artificial-analysis", task_type="coding")


async def test_sqlite_persists_across_runs(tmp_path: Path, clock: Clock) -> None:
    """A second cache over the same file (a second CLI run) hits without fetching."""
    path = tmp_path / "store" / "cache.db"
    upstream = Upstream(clock)
    first_run = open_cache(f"sqlite://{path}", namespace=NAMESPACE, clock=clock)
    fetched = await first_run.get(QUERY, upstream.fetcher(QUERY))
    await first_run.close()
    clock.advance(60)
    # The CLI's spelling, f"sqlite:///{absolute path}", names the same file.
    second_run = open_cache(f"sqlite:///{path}", namespace=NAMESPACE, clock=clock)
    assert isinstance(second_run.backend, SQLiteCache)
    assert second_run.backend.path == path
    page = await second_run.get(QUERY, upstream.fetcher(QUERY))
    assert upstream.calls == 1
    assert page.from_cache
    assert page.items == fetched.items
    assert page.meta == fetched.meta
    assert page.query == QUERY
    assert len(await second_run.history(QUERY)) == 1
    assert await second_run.clear() == 2  # one pointer, one page
    assert await second_run.history(QUERY) == []
    await second_run.close()


async def test_sqlite_file_and_directory_permissions(tmp_path: Path, clock: Clock) -> None:
    """The store is created 0600 in a directory made 0700, WAL files included."""
    path = tmp_path / "private" / "cache.db"
    cache = open_cache(f"sqlite:///{path}", namespace=NAMESPACE, clock=clock)
    await cache.get(QUERY, Upstream(clock).fetcher(QUERY))
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    for file in path.parent.iterdir():
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file.name
    await cache.close()


async def test_sqlite_corrupt_rows_are_misses_and_get_overwritten(
    tmp_path: Path, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    """Garbage, foreign JSON or an old format in a row count as a miss and are replaced."""
    path = tmp_path / "cache.db"
    upstream = Upstream(clock)
    # No near cache: it would answer from this process's decoded page, not the planted row.
    policy = CachePolicy(near_bytes=0)
    cache = open_cache(f"sqlite:///{path}", namespace=NAMESPACE, clock=clock, policy=policy)
    await cache.get(QUERY, upstream.fetcher(QUERY))
    pointer_key = f"{NAMESPACE}:v{FORMAT}:pointer:{QUERY.key}"
    page_key = f"{NAMESPACE}:v{FORMAT}:page:{QUERY.key}:{AS_OF_1}"
    with sqlite3.connect(path) as db:
        keys = {row[0] for row in db.execute("SELECT key FROM entries")}
    assert keys == {pointer_key, page_key}
    for garbage in (b"\x00\xffnot json", b'{"format": 0, "kind": "page"}', b"[1, 2, 3]"):
        with sqlite3.connect(path) as db:
            db.execute("UPDATE entries SET value = ? WHERE key = ?", (garbage, page_key))
        clock.advance(1)
        with caplog.at_level(logging.DEBUG, logger="openrouter_bench.cache"):
            page = await cache.get(QUERY, upstream.fetcher(QUERY))
        assert not page.from_cache
        assert "unreadable" in caplog.text
        hit = await cache.get(QUERY, upstream.fetcher(QUERY))
        assert hit.from_cache
    with sqlite3.connect(path) as db:
        db.execute("UPDATE entries SET value = ? WHERE key = ?", (b"{}", pointer_key))
    assert not (await cache.get(QUERY, upstream.fetcher(QUERY))).from_cache
    assert (await cache.get(QUERY, upstream.fetcher(QUERY))).from_cache
    assert upstream.calls == 5
    assert cache.stats.backend_errors == 0
    await cache.close()


async def test_sqlite_backend_expires_entries(tmp_path: Path, clock: Clock) -> None:
    """Entries written with a ttl are gone once it passes (on the injected clock)."""
    backend = SQLiteCache(tmp_path / "x.db", clock=clock)
    await backend.set("k", b"v", ttl=10)
    assert await backend.get("k") == b"v"
    assert await backend.expire("k", 20)
    clock.advance(15)
    assert await backend.get("k") == b"v"
    clock.advance(10)
    assert await backend.get("k") is None
    assert not await backend.exists("k")
    await backend.add("n", b"1")
    assert await backend.increment("n", 2) == 3
    await backend.close()


async def test_sqlite_reads_a_pointer_no_further_than_the_cap(tmp_path: Path, clock: Clock) -> None:
    """A 16 MiB row at the pointer key is read as its first bytes: a miss, then overwritten."""
    path = tmp_path / "cache.db"
    upstream = Upstream(clock)
    cache = open_cache(f"sqlite:///{path}", namespace=NAMESPACE, clock=clock)
    await cache.get(QUERY, upstream.fetcher(QUERY))
    pointer_key = f"{NAMESPACE}:v{FORMAT}:pointer:{QUERY.key}"
    with sqlite3.connect(path) as db:
        db.execute(
            "UPDATE entries SET value = ? WHERE key = ?", (b"[" * (16 * 1024 * 1024), pointer_key)
        )
    backend = cache.backend
    assert isinstance(backend, SQLiteCache)
    head = await backend.get_head(pointer_key, MAX_POINTER_BYTES)
    assert len(head) == MAX_POINTER_BYTES + 1
    assert await backend.get_head("absent", MAX_POINTER_BYTES) is None
    assert not (await cache.get(QUERY, upstream.fetcher(QUERY))).from_cache
    assert (await cache.get(QUERY, upstream.fetcher(QUERY))).from_cache
    assert upstream.calls == 2
    assert cache.stats.backend_errors == 0
    await cache.close()
