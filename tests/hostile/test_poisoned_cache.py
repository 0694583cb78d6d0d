"""Poisoned caches: values planted in a shared Redis, memcached or SQLite file.

Anyone who can write to the cache's backend can put any bytes under any key.
Each case here writes a crafted value with the backend's own client
(redis-py, aiomcache, sqlite3) at the exact key the cache uses, then asks the
client for the page. Whatever was planted, the call gives the page the fake
server gives (or a typed error), costs at most one extra request, and ends
within its deadline (checked generously: deadline + 2 s, the machine is
shared). The last rows send out-of-range timestamps from a hostile server
through ``fan_out`` and ``watch``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

import aiomcache
import orjson
import pytest
import redis.asyncio as aioredis

from openrouter_bench import (
    BenchmarksClient,
    CachePolicy,
    Page,
    Query,
    RequestTimeoutError,
    ResponseFormatError,
    RetryPolicy,
)
from openrouter_bench._convert import unstructure_page
from openrouter_bench.cache._codec import FORMAT, MAX_POINTER_BYTES, as_of_text
from openrouter_bench.fake import FakeOpenRouter, FakeTime
from openrouter_bench.fake.hostile import HostileServer, RawRequest, respond
from tests.conftest import CANARY_KEY, redis_url_or_skip, required

from .conftest import Observe

#: The whole-call deadline of every client here; walls are asserted against it plus a margin.
DEADLINE: Final = 3.0
MARGIN: Final = 2.0
QUERY: Final = Query(source="artificial-analysis", task_type="coding")
OTHER: Final = Query(source="design-arena", arena="models", category="gamedev")


class Backend:
    """One shared backend: the cache spec a client is given, and a raw client on the same store."""

    def __init__(self, kind: str, spec: str, path: Path | None = None) -> None:
        self.kind = kind
        self.spec = spec
        self._path = path
        self._redis: aioredis.Redis | None = None
        self._memcached: aiomcache.Client | None = None
        if kind == "redis":
            self._redis = aioredis.Redis.from_url(spec)
        elif kind == "memcached":
            parts = urlsplit(spec)
            self._memcached = aiomcache.Client(parts.hostname or "127.0.0.1", parts.port or 11211)

    async def write(self, key: str | bytes, value: bytes) -> None:
        """Store ``value`` at ``key`` as it is, with no expiry."""
        if self._redis is not None:
            await self._redis.set(key, value)
        elif self._memcached is not None:
            await self._memcached.set(_bytes(key), value)
        else:
            with contextlib.closing(sqlite3.connect(self._sqlite_path, timeout=5)) as db, db:
                db.execute(
                    "INSERT OR REPLACE INTO entries (key, value, expires_at) VALUES (?, ?, NULL)",
                    (_text(key), value),
                )

    async def read(self, key: str | bytes) -> bytes | None:
        """The value at ``key``, or None."""
        if self._redis is not None:
            value = await self._redis.get(key)
            assert value is None or isinstance(value, bytes)
            return value
        if self._memcached is not None:
            found: bytes | None = await self._memcached.get(_bytes(key))
            return found
        with contextlib.closing(sqlite3.connect(self._sqlite_path, timeout=5)) as db:
            row = db.execute("SELECT value FROM entries WHERE key = ?", (_text(key),)).fetchone()
        return None if row is None else bytes(row[0])

    async def empty(self, namespace: str) -> None:
        """Remove what the store holds under ``namespace`` (memcached: everything)."""
        if self._redis is not None:
            keys = [key async for key in self._redis.scan_iter(match=f"{namespace}:*")]
            if keys:
                await self._redis.delete(*keys)
        elif self._memcached is not None:
            await self._memcached.flush_all()
        # A SQLite file is the test's own (tmp_path): nothing was left in it.

    @property
    def _sqlite_path(self) -> Path:
        assert self._path is not None
        return self._path

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
        if self._memcached is not None:
            await self._memcached.close()


def _bytes(key: str | bytes) -> bytes:
    return key if isinstance(key, bytes) else key.encode()


def _text(key: str | bytes) -> str:
    return key.decode() if isinstance(key, bytes) else key


@pytest.fixture(params=["redis", "memcached", "sqlite"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    """Each shared backend in turn (a real Redis, a real memcached, a SQLite file)."""
    kind = request.param
    if kind == "redis":
        shared = Backend(kind, redis_url_or_skip())
    elif kind == "memcached":
        url = required(os.environ.get("MEMCACHED_URL"), "MEMCACHED_URL is not set")
        shared = Backend(kind, url)
    else:
        path = tmp_path / "shared.sqlite3"
        shared = Backend(kind, f"sqlite:///{path}", path)
    yield shared
    await shared.close()


@pytest.fixture
async def redis_backend() -> AsyncIterator[Backend]:
    """The Redis backend alone (leases exist only there)."""
    shared = Backend("redis", redis_url_or_skip())
    yield shared
    await shared.close()


@pytest.fixture
async def make_client(
    fake: FakeOpenRouter,
) -> AsyncIterator[Callable[..., Awaitable[BenchmarksClient]]]:
    """Clients on the fake with a DEADLINE-second retry policy, their cache emptied first.

    The namespace comes from the fake's port, which the system reuses: a shared
    backend may still hold entries another test left under it.
    """
    made: list[tuple[BenchmarksClient, Backend]] = []

    async def make(backend: Backend, **options: Any) -> BenchmarksClient:
        options.setdefault("retry", RetryPolicy.no_wait(attempts=2, deadline=DEADLINE))
        # No near cache: it would answer from this process's decoded page, not the planted
        # value these cases read (the near cache's own case says what it does).
        options.setdefault("cache_policy", CachePolicy(near_bytes=0))
        client = BenchmarksClient(
            CANARY_KEY, base_url=fake.url, cache=backend.spec, quota=None, **options
        )
        made.append((client, backend))
        await backend.empty(client.cache.namespace)
        return client

    yield make
    for client, backend in made:
        await backend.empty(client.cache.namespace)
        await client.aclose()


def stored_key(client: BenchmarksClient, kind: str, query: Query, as_of: str = "") -> str | bytes:
    """The name under which ``client``'s cache keeps ``kind`` of ``query`` in its backend."""
    logical = f"{client.cache.namespace}:v{FORMAT}:{kind}:{query.key}"
    if as_of:
        logical += f":{as_of}"
    backend = client.cache.backend
    assert backend is not None
    name: str | bytes = backend.build_key(logical)
    return name


def pointer(
    query: Query, as_of: str, fetched_at: object, history: list[str] | None = None
) -> bytes:
    """A pointer as the cache writes it, with any field as the test likes."""
    return orjson.dumps(
        {
            "format": FORMAT,
            "kind": "pointer",
            "key": query.key,
            "as_of": as_of,
            "fetched_at": fetched_at,
            "history": [as_of] if history is None else history,
        }
    )


def served(fake: FakeOpenRouter, page: Page, query: Query = QUERY) -> bool:
    """True when ``page`` holds exactly what the fake serves for ``query``."""
    return unstructure_page(page) == fake.payload(query.params)


async def timed(call: Awaitable[Page]) -> tuple[Page, float]:
    started = time.perf_counter()
    page = await call
    return page, time.perf_counter() - started


# Pages and pointers.


@pytest.mark.hostile(
    case="a shared cache holds another query's page under this query's key",
    expected="a miss, logged once; the right page from the server",
)
async def test_a_page_under_another_querys_key_is_a_miss(
    backend: Backend,
    fake: FakeOpenRouter,
    make_client: Callable[..., Awaitable[BenchmarksClient]],
    caplog: pytest.LogCaptureFixture,
    observe: Observe,
) -> None:
    """A page whose stored key names another query is not served for this one."""
    client = await make_client(backend)
    first = await client.get(QUERY)
    await client.get(OTHER)
    as_of = as_of_text(first.meta.as_of)
    foreign = await backend.read(stored_key(client, "page", OTHER, as_of))
    assert foreign is not None
    await backend.write(stored_key(client, "page", QUERY, as_of), foreign)
    with caplog.at_level(logging.WARNING, logger="openrouter_bench.cache"):
        page, wall = await timed(client.get(QUERY))
        again = await client.get(QUERY)
    assert served(fake, page)
    assert not page.from_cache
    assert again.from_cache
    assert len(fake.requests) == 3  # QUERY, OTHER, then QUERY once more
    warnings = [r for r in caplog.records if "another query" in r.getMessage()]
    assert len(warnings) == 1
    assert wall < DEADLINE + MARGIN
    observe(
        f"{backend.kind}: miss, one warning ('an entry of another query'), the right page, "
        f"1 extra request, {wall:.2f} s; the next get is a hit",
        deadline=DEADLINE,
    )


@pytest.mark.hostile(
    case="a shared cache holds a pointer dated ten years ahead",
    expected="a miss: a future pointer cannot pin a page as fresh",
)
async def test_a_pointer_from_the_future_is_a_miss(
    backend: Backend,
    fake: FakeOpenRouter,
    make_client: Callable[..., Awaitable[BenchmarksClient]],
    observe: Observe,
) -> None:
    """A pointer whose fetched_at is far past now (beyond the clock skew) is not fresh."""
    client = await make_client(backend, ttl=600)
    first = await client.get(QUERY)
    as_of = as_of_text(first.meta.as_of)
    future = time.time() + 10 * 365 * 86400
    await backend.write(stored_key(client, "pointer", QUERY), pointer(QUERY, as_of, future))
    page, wall = await timed(client.get(QUERY))
    assert served(fake, page)
    assert not page.from_cache
    assert len(fake.requests) == 2
    rewritten = orjson.loads(await backend.read(stored_key(client, "pointer", QUERY)) or b"{}")
    assert rewritten["fetched_at"] <= time.time() + 1
    assert wall < DEADLINE + MARGIN
    observe(
        f"{backend.kind}: miss, 1 extra request, pointer rewritten to now, {wall:.2f} s",
        deadline=DEADLINE,
    )


FETCHED_AT: Final = {
    "out of range": b"1e300",
    "NaN": b"NaN",
    "infinity": b"Infinity",
    "negative": b"-1",
    "a string": b'"yesterday"',
    "null": b"null",
    "a list": b"[1780000000]",
}


@pytest.mark.parametrize("label", list(FETCHED_AT))
@pytest.mark.hostile(
    case="a shared cache holds a pointer whose fetched_at is out of range, NaN, a string...",
    expected="a miss, never an error",
)
async def test_a_pointer_with_an_unreadable_fetched_at_is_a_miss(
    backend: Backend,
    fake: FakeOpenRouter,
    make_client: Callable[..., Awaitable[BenchmarksClient]],
    label: str,
    observe: Observe,
) -> None:
    """A fetched_at that is not a moment makes the pointer a miss, not a ValueError."""
    client = await make_client(backend)
    first = await client.get(QUERY)
    as_of = as_of_text(first.meta.as_of)
    # Raw text: NaN and Infinity are not JSON, and orjson would not write them.
    crafted = pointer(QUERY, as_of, 0).replace(
        b'"fetched_at":0', b'"fetched_at":' + FETCHED_AT[label]
    )
    await backend.write(stored_key(client, "pointer", QUERY), crafted)
    page, wall = await timed(client.get(QUERY))
    assert served(fake, page)
    assert len(fake.requests) == 2
    assert (await client.get(QUERY)).from_cache
    assert wall < DEADLINE + MARGIN
    observe(
        f"{backend.kind}, fetched_at {label}: miss, 1 extra request, {wall:.2f} s",
        deadline=DEADLINE,
    )


@pytest.mark.parametrize(
    "as_of", ["soon", "2026-06-03T12:00:00+05:00", "0001-01-01T00:00:00+05:00", ""]
)
@pytest.mark.hostile(
    case="a shared cache holds a pointer whose as_of does not read (or is not canonical)",
    expected="a miss",
)
async def test_a_pointer_with_an_unreadable_as_of_is_a_miss(
    backend: Backend,
    fake: FakeOpenRouter,
    make_client: Callable[..., Awaitable[BenchmarksClient]],
    as_of: str,
    observe: Observe,
) -> None:
    """A pointer's as_of must be one the cache could have written, or the pointer is a miss."""
    client = await make_client(backend)
    await client.get(QUERY)
    await backend.write(stored_key(client, "pointer", QUERY), pointer(QUERY, as_of, time.time()))
    page, wall = await timed(client.get(QUERY))
    assert served(fake, page)
    assert not page.from_cache
    assert len(fake.requests) == 2
    assert wall < DEADLINE + MARGIN
    observe(
        f"{backend.kind}, as_of {as_of!r}: miss, 1 extra request, {wall:.2f} s", deadline=DEADLINE
    )


@pytest.mark.hostile(
    case="a shared cache's pointer names an as_of whose page says another meta.as_of",
    expected="a miss",
)
async def test_a_page_whose_as_of_is_not_the_pointers_is_a_miss(
    backend: Backend,
    fake: FakeOpenRouter,
    make_client: Callable[..., Awaitable[BenchmarksClient]],
    observe: Observe,
) -> None:
    """The page a pointer leads to must carry the pointer's as_of in its own meta."""
    client = await make_client(backend)
    first = await client.get(QUERY)
    real = as_of_text(first.meta.as_of)
    planted = "2020-01-01T00:00:00Z"
    stored = await backend.read(stored_key(client, "page", QUERY, real))
    assert stored is not None
    document = orjson.loads(stored)
    document["as_of"] = planted  # the envelope agrees with the key; the page inside does not
    await backend.write(stored_key(client, "page", QUERY, planted), orjson.dumps(document))
    await backend.write(stored_key(client, "pointer", QUERY), pointer(QUERY, planted, time.time()))
    page, wall = await timed(client.get(QUERY))
    assert served(fake, page)
    assert page.meta.as_of == first.meta.as_of
    assert len(fake.requests) == 2
    assert wall < DEADLINE + MARGIN
    observe(
        f"{backend.kind}: miss, the server's page, 1 extra request, {wall:.2f} s", deadline=DEADLINE
    )


@pytest.mark.hostile(
    case="a shared cache holds a pointer listing 200,000 history entries",
    expected="a miss (over the pointer size cap), in a bounded time",
)
async def test_a_pointer_with_a_huge_history_is_a_bounded_miss(
    backend: Backend,
    fake: FakeOpenRouter,
    make_client: Callable[..., Awaitable[BenchmarksClient]],
    observe: Observe,
) -> None:
    """A pointer with an enormous history drives no work per entry: it is refused whole."""
    client = await make_client(backend)
    first = await client.get(QUERY)
    real = as_of_text(first.meta.as_of)
    stale_as_of = "2020-01-01T00:00:00Z"
    # memcached holds at most 1 MiB a value: there the history is as long as fits.
    entries = 200_000 if backend.kind != "memcached" else 40_000
    history = [stale_as_of] + [
        as_of_text(first.meta.as_of - timedelta(seconds=n)) for n in range(1, entries)
    ]
    # Confirmed long ago, so the call refreshes: the old code then deleted every listed page.
    crafted = pointer(QUERY, stale_as_of, time.time() - 86400, history)
    assert len(crafted) > MAX_POINTER_BYTES
    await backend.write(stored_key(client, "pointer", QUERY), crafted)
    page, wall = await timed(client.get(QUERY))
    assert served(fake, page)
    assert as_of_text(page.meta.as_of) == real
    assert len(fake.requests) == 2
    assert [p.meta.as_of for p in await client.history(QUERY)] == [first.meta.as_of]
    assert wall < DEADLINE + MARGIN
    observe(
        f"{backend.kind}: a {len(crafted) // 1024} KiB pointer of {entries} entries: "
        f"miss, 1 extra request, {wall:.2f} s",
        deadline=DEADLINE,
    )


@pytest.mark.hostile(
    case="a shared cache holds a small pointer with a long history (under the size cap)",
    expected="only the policy's history entries are read; one old page deleted at most",
)
async def test_only_the_policys_history_is_read(
    backend: Backend,
    fake: FakeOpenRouter,
    make_client: Callable[..., Awaitable[BenchmarksClient]],
    observe: Observe,
) -> None:
    """A pointer under the size cap is read, but no further than ``history`` entries."""
    client = await make_client(backend, cache_policy=CachePolicy(history=2, near_bytes=0))
    first = await client.get(QUERY)
    real = as_of_text(first.meta.as_of)
    old = [as_of_text(first.meta.as_of - timedelta(days=n)) for n in range(1, 2000)]
    crafted = pointer(QUERY, real, time.time() - 86400, [real, *old])
    assert len(crafted) < MAX_POINTER_BYTES
    await backend.write(stored_key(client, "pointer", QUERY), crafted)
    fake.publish()
    page, wall = await timed(client.get(QUERY))
    assert served(fake, page)
    stored = orjson.loads(await backend.read(stored_key(client, "pointer", QUERY)) or b"{}")
    assert stored["history"] == [as_of_text(page.meta.as_of), real]
    assert len(fake.requests) == 2
    assert wall < DEADLINE + MARGIN
    observe(
        f"{backend.kind}: {len(old) + 1} listed, 2 kept, 1 extra request "
        f"(a new as_of), {wall:.2f} s",
        deadline=DEADLINE,
    )


GARBAGE: Final = {
    "pickle": b"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00\x8c\x02os\x94\x8c\x06system\x94",
    "binary": bytes(range(256)) * 4,
    "not utf-8": b"\xff\xfe\xfd{",
    "json of another shape": orjson.dumps({"format": FORMAT, "kind": "page", "key": 7, "page": []}),
    "empty": b"",
}


@pytest.mark.parametrize("label", list(GARBAGE))
@pytest.mark.hostile(
    case="a shared cache holds garbage bytes at a pointer key and at a page key",
    expected="misses; the entries are overwritten",
)
async def test_garbage_at_the_keys_is_a_miss(
    backend: Backend,
    fake: FakeOpenRouter,
    make_client: Callable[..., Awaitable[BenchmarksClient]],
    label: str,
    observe: Observe,
) -> None:
    """Bytes that are no entry of ours are misses, never errors, and get replaced."""
    client = await make_client(backend)
    first = await client.get(QUERY)
    as_of = as_of_text(first.meta.as_of)
    walls = []
    for key in (stored_key(client, "pointer", QUERY), stored_key(client, "page", QUERY, as_of)):
        await backend.write(key, GARBAGE[label])
        page, wall = await timed(client.get(QUERY))
        walls.append(wall)
        assert served(fake, page)
        assert not page.from_cache
        assert (await client.get(QUERY)).from_cache
    assert len(fake.requests) == 3  # one extra per poisoned key
    assert client.cache.stats.backend_errors == 0
    assert max(walls) < DEADLINE + MARGIN
    observe(f"{backend.kind}, {label}: 2 misses, 1 extra request each, {max(walls):.2f} s at most")


@pytest.mark.hostile(
    case="Redis holds a list (not a string) under the pointer key",
    expected="a miss; the backend does not count as down",
)
async def test_a_value_of_another_redis_type_is_a_miss_not_an_outage(
    redis_backend: Backend,
    fake: FakeOpenRouter,
    make_client: Callable[..., Awaitable[BenchmarksClient]],
    observe: Observe,
) -> None:
    """WRONGTYPE from Redis is an unreadable entry, so the cache keeps working for the rest."""
    client = await make_client(redis_backend)
    await client.get(QUERY)
    key = stored_key(client, "pointer", QUERY)
    raw = aioredis.Redis.from_url(redis_backend.spec)
    try:
        await raw.delete(key)
        await raw.rpush(key, b"not", b"a", b"pointer")
    finally:
        await raw.aclose()
    page, wall = await timed(client.get(QUERY))
    assert served(fake, page)
    assert (await client.get(QUERY)).from_cache
    assert client.cache.stats.backend_errors == 0
    assert len(fake.requests) == 2
    observe(f"miss, 1 extra request, 0 backend errors, {wall:.2f} s; the next get is a hit")


# Leases: the deadline bounds every wait.


@pytest.mark.hostile(
    case="Redis holds the query's lease key with no expiry (SET without PX)",
    expected="not waited for: the call fetches at once",
)
async def test_a_lease_without_expiry_is_not_waited_for(
    redis_backend: Backend,
    fake: FakeOpenRouter,
    make_client: Callable[..., Awaitable[BenchmarksClient]],
    observe: Observe,
) -> None:
    """No holder of ours sets a lease without expiry: a cold call does not wait on one."""
    client = await make_client(redis_backend)
    lease = stored_key(client, "lease", QUERY)
    await redis_backend.write(lease, b"planted")
    page, wall = await timed(client.get(QUERY))
    assert served(fake, page)
    assert len(fake.requests) == 1
    assert await redis_backend.read(lease) == b"planted"
    assert wall < 1.0
    observe(
        f"fetched at once: 1 request, {wall:.2f} s against a {DEADLINE:g} s deadline",
        deadline=DEADLINE,
    )


@pytest.mark.hostile(
    case="Redis holds the lease of a holder that died, set to expire in an hour",
    expected="the wait ends at half the deadline, then the call fetches",
)
async def test_a_dead_holders_long_lease_is_outwaited_within_the_deadline(
    redis_backend: Backend,
    fake: FakeOpenRouter,
    make_client: Callable[..., Awaitable[BenchmarksClient]],
    observe: Observe,
) -> None:
    """A lease that will not lapse for an hour holds a call for half its deadline at most."""
    client = await make_client(redis_backend)  # lease_wait is 15 s by default
    lease = stored_key(client, "lease", QUERY)
    raw = aioredis.Redis.from_url(redis_backend.spec)
    try:
        await raw.set(lease, b"dead-holder", px=3_600_000)
        page, wall = await timed(client.get(QUERY))
        assert await raw.get(lease) == b"dead-holder"
    finally:
        await raw.delete(lease)
        await raw.aclose()
    assert served(fake, page)
    assert len(fake.requests) == 1
    assert DEADLINE / 2 - 0.1 <= wall < DEADLINE + MARGIN
    observe(
        f"waited and fetched: 1 request, {wall:.2f} s against a {DEADLINE:g} s deadline",
        deadline=DEADLINE,
    )


@pytest.mark.hostile(
    case="Redis holds a dead holder's hour-long lease and the server never answers",
    expected="a RequestTimeoutError within the deadline: the wait is charged to it",
)
async def test_the_lease_wait_counts_against_the_calls_deadline(
    redis_backend: Backend,
    fake: FakeOpenRouter,
    make_client: Callable[..., Awaitable[BenchmarksClient]],
    observe: Observe,
) -> None:
    """Waiting on a lease and then a silent server together take no more than the deadline."""
    deadline = 6.0  # long enough that wait + a fresh deadline (9 s) is past the bound
    client = await make_client(
        redis_backend, retry=RetryPolicy.no_wait(attempts=2, deadline=deadline)
    )
    lease = stored_key(client, "lease", QUERY)
    raw = aioredis.Redis.from_url(redis_backend.spec)
    fake.script({"fault": "timeout", "delay": 30})
    started = time.perf_counter()
    try:
        await raw.set(lease, b"dead-holder", px=3_600_000)
        with pytest.raises(RequestTimeoutError):
            await client.get(QUERY)
    finally:
        wall = time.perf_counter() - started
        await raw.delete(lease)
        await raw.aclose()
    assert len(fake.requests) == 1
    assert wall < deadline + MARGIN
    observe(
        f"RequestTimeoutError after {wall:.2f} s (half waiting) against a {deadline:g} s deadline",
        deadline=deadline,
    )


# Out-of-range timestamps from a hostile server, through fan_out and watch.


def _meta(as_of: str, source: str | None) -> dict[str, Any]:
    return {
        "as_of": as_of,
        "version": "v1",
        "source": source,
        "source_url": None,
        "citation": None,
        "model_count": 1,
        "task_type": None,
    }


def _aa_body(as_of: str) -> bytes:
    item = {
        "source": "artificial-analysis",
        "model_permaslug": "vendor/model",
        "display_name": "Model",
        "intelligence_index": 50.0,
        "coding_index": 40.0,
        "agentic_index": None,
        "pricing": None,
    }
    return orjson.dumps({"data": [item], "meta": _meta(as_of, "artificial-analysis")})


def _eval_body(last_run: str) -> bytes:
    item = {
        "source": "openrouter",
        "model_permaslug": "vendor/model",
        "display_name": "Model",
        "benchmark_type": "gpqa_diamond",
        "accuracy": 0.5,
        "accuracy_stddev": None,
        "avg_cost_per_task": None,
        "total_tasks": 198,
        "last_run_timestamp": last_run,
    }
    return orjson.dumps({"data": [item], "meta": _meta("2026-06-03T12:00:00Z", "openrouter")})


GOOD_AS_OF: Final = "2026-06-03T12:00:00Z"
YEAR_ONE: Final = "0001-01-01T00:00:00+05:00"
YEAR_9999: Final = "9999-12-31T23:59:59-05:00"


@pytest.mark.hostile(
    case="the server sends an as_of at year 1 (+05:00) and a last_run_timestamp at 9999 (-05:00)",
    expected="a ResponseFormatError naming the path, for those queries alone; fan_out goes on",
)
async def test_out_of_range_timestamps_fail_their_query_alone_in_a_fan_out(
    observe: Observe,
) -> None:
    """Timestamps that leave the calendar once in UTC are format errors of their own query."""
    good = Query(source="artificial-analysis")
    early = Query(source="artificial-analysis", task_type="coding")
    late = Query(source="openrouter")

    async def by_query(request: RawRequest, writer: asyncio.StreamWriter) -> None:
        params = {k: v[0] for k, v in parse_qs(urlsplit(request.target).query).items()}
        if params.get("source") == "openrouter":
            body = _eval_body(YEAR_9999)
        else:
            body = _aa_body(YEAR_ONE if params.get("task_type") else GOOD_AS_OF)
        writer.write(respond(200, body))
        await writer.drain()

    async with (
        HostileServer(by_query) as server,
        BenchmarksClient(
            CANARY_KEY,
            base_url=server.url,
            quota=None,
            retry=RetryPolicy.no_wait(attempts=2, deadline=DEADLINE),
        ) as client,
    ):
        started = time.perf_counter()
        results = await client.fan_out([good, early, late])
        wall = time.perf_counter() - started
    assert isinstance(results[good], Page)
    assert set(results.errors) == {early, late}
    too_early, too_late = results[early], results[late]
    assert isinstance(too_early, ResponseFormatError)
    assert too_early.path == "meta.as_of"
    assert isinstance(too_late, ResponseFormatError)
    assert too_late.path == "data[0].last_run_timestamp"
    assert len(server.requests) == 3  # a format error is not retried
    assert wall < DEADLINE + MARGIN
    observe(
        f"1 page, 2 ResponseFormatErrors ({too_early}; {too_late}), {wall:.2f} s", deadline=DEADLINE
    )


@pytest.mark.hostile(
    case="a watched query's server answers once with an as_of at year 9999 (-05:00)",
    expected="that poll is logged as a format error; the watch goes on to the next as_of",
)
async def test_an_out_of_range_as_of_does_not_end_a_watch(
    fake_time: FakeTime, caplog: pytest.LogCaptureFixture, observe: Observe
) -> None:
    """A poll answered with a timestamp out of range is skipped; the next change is yielded."""
    later = "2026-06-10T12:00:00Z"
    answers = [respond(200, _aa_body(GOOD_AS_OF)), respond(200, _aa_body(YEAR_9999))]
    answers.append(respond(200, _aa_body(later)))
    async with (
        HostileServer(*answers) as server,
        BenchmarksClient(
            CANARY_KEY,
            base_url=server.url,
            quota=None,
            retry=RetryPolicy.no_wait(attempts=2, deadline=DEADLINE),
            clock=fake_time.time,
            timer=fake_time.monotonic,
            sleep=fake_time.sleep,
        ) as client,
    ):
        watch = client.watch(source="artificial-analysis", every=60)
        with caplog.at_level(logging.WARNING, logger="openrouter_bench.watch"):
            async with contextlib.aclosing(watch):
                change = await anext(watch)
    assert as_of_text(change.old.meta.as_of) == GOOD_AS_OF
    assert as_of_text(change.new.meta.as_of) == later
    assert len(server.requests) == 3
    failed = [r.getMessage() for r in caplog.records if "meta.as_of" in r.getMessage()]
    assert len(failed) == 1
    observe(f"3 polls, the bad one logged ({failed[0][:90]}...), the change yielded")


# The kept history (CachePolicy.history_bytes): its index and its pages are untrusted too.

KEEPING: Final = CachePolicy(near_bytes=0, history=1000, history_bytes=2**30)


def history_index(query: Query, snapshots: object) -> bytes:
    """A kept history's index as the cache writes it, with any snapshots as the test likes."""
    return orjson.dumps(
        {"format": FORMAT, "kind": "history", "key": query.key, "snapshots": snapshots}
    )


POISONED_INDEXES: Final = {
    **GARBAGE,
    "another query's index": orjson.dumps(
        {"format": FORMAT, "kind": "history", "key": OTHER.key, "snapshots": [["x", 1]]}
    ),
    "a weight that is not a number": history_index(QUERY, [["2026-06-03T12:00:00Z", "big"]]),
    "an as_of that is not one": history_index(QUERY, [["../../etc/passwd", 10]]),
    "over the 64 KiB cap": history_index(QUERY, [["2026-06-03T12:00:00Z", 1]] * 3000),
}


async def listed(client: BenchmarksClient) -> list[str]:
    """The as_of of every snapshot of QUERY the client's history lists, newest first."""
    return [as_of_text(page.meta.as_of) for page in await client.history(QUERY)]


async def kept_snapshots(client: BenchmarksClient, fake: FakeOpenRouter, count: int) -> list[str]:
    """``count`` snapshots of QUERY seen by ``client``, the fake publishing between them."""
    for n in range(count):
        if n:
            fake.publish()
        await client.get(QUERY, refresh=True)
    return [as_of_text(moment) for moment in fake.published]


@pytest.mark.parametrize("label", list(POISONED_INDEXES))
@pytest.mark.hostile(
    case="a shared cache holds garbage or a crafted value at a kept history's index key",
    expected="a miss: the history reads as the current snapshot alone; a new index is written",
)
async def test_a_poisoned_history_index_is_a_miss(
    backend: Backend,
    fake: FakeOpenRouter,
    make_client: Callable[..., Awaitable[BenchmarksClient]],
    label: str,
    observe: Observe,
) -> None:
    """An index that does not read lists nothing and raises nothing; the next fetch replaces it."""
    client = await make_client(backend, cache_policy=KEEPING)
    seen = await kept_snapshots(client, fake, 3)
    assert await listed(client) == seen[::-1]
    await backend.write(stored_key(client, "history", QUERY), POISONED_INDEXES[label])
    started = time.perf_counter()
    shown = await listed(client)
    wall = time.perf_counter() - started
    assert shown == [seen[-1]]
    fake.publish()
    await client.get(QUERY, refresh=True)
    newest = as_of_text(fake.published[-1])
    assert await listed(client) == [newest, seen[-1]]
    assert client.cache.stats.backend_errors == 0
    assert wall < DEADLINE + MARGIN
    observe(
        f"{backend.kind}, {label}: history of 3 read as 1 (the pointer's), no error, "
        f"{wall:.2f} s; the next fetch writes an index of 2"
    )


@pytest.mark.hostile(
    case="a shared cache holds garbage at one old page of a kept history",
    expected="that snapshot is left out of the history; the others are listed",
)
async def test_a_poisoned_kept_page_is_left_out(
    backend: Backend,
    fake: FakeOpenRouter,
    make_client: Callable[..., Awaitable[BenchmarksClient]],
    observe: Observe,
) -> None:
    """A kept page that does not read is a miss: the history lists every other snapshot."""
    client = await make_client(backend, cache_policy=KEEPING)
    seen = await kept_snapshots(client, fake, 4)
    await backend.write(
        stored_key(client, "page", QUERY, seen[1]), GARBAGE["json of another shape"]
    )
    assert await listed(client) == [seen[3], seen[2], seen[0]]
    assert client.cache.stats.backend_errors == 0
    observe(f"{backend.kind}: 4 kept, the poisoned one left out, 3 listed, no error")
