"""Fuzzing: whatever comes in, only the documented outcomes come out.

- query-string parameters and grid axes: a :class:`Query` (or a list of them)
  or :class:`InvalidQueryError`;
- a response of any status, headers and body, read by the wire layer or
  served to the client by a real server: a :class:`Page`, or the typed error
  the answer means, never another exception;
- the fake's own documents, mutated in their structure or their bytes: a
  :class:`Page` or :class:`ResponseFormatError`;
- any value where the cache keeps an entry (memory, SQLite, Redis): a miss,
  and the next fetch overwrites it.

``tests/test_query.py`` and ``tests/test_convert.py`` fuzz the constructor and
the converter on synthetic documents; this module covers the paths around them.
Examples are drawn deterministically, so a run in CI is repeatable.
"""

from __future__ import annotations

import asyncio
import copy
import math
import os
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import orjson
import pytest
import redis.asyncio as aioredis
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.fault_matrix import UNLIMITED
from openrouter_bench import (
    APIError,
    BenchmarksClient,
    InvalidQueryError,
    OpenRouterBenchError,
    Page,
    Query,
    ResponseFormatError,
    RetryPolicy,
)
from openrouter_bench._convert import decode_page, encode_page
from openrouter_bench.cache import CachePolicy, SnapshotCache, open_cache
from openrouter_bench.cache._codec import (
    FORMAT,
    Pointer,
    UnreadableEntry,
    as_of_text,
    pack_page,
    pack_pointer,
    unpack_page,
    unpack_pointer,
)
from openrouter_bench.cache._lru import BoundedMemoryCache
from openrouter_bench.cache._sqlite import SQLiteCache
from openrouter_bench.errors import error_for_status
from openrouter_bench.fake import FakeOpenRouter
from openrouter_bench.query import KNOWN_CATEGORIES, Arena, BenchmarkType, Source, TaskType
from openrouter_bench.wire import _parse_retry_after, read_response
from tests._cache_fixtures import Clock, make_page
from tests.conftest import CANARY_KEY, redis_url_or_skip

NOW: Final = datetime(2026, 6, 3, 12, 0, tzinfo=UTC)
QUERY: Final = Query(source="design-arena", category="svg")
NAMESPACE: Final = "fuzz:127.0.0.1"
PARAMETER_NAMES: Final = (
    "source",
    "task_type",
    "arena",
    "category",
    "max_results",
    "benchmark_type",
    "include_run_config",
    "search_engine",
    "search_surface",
)

FUZZ: Final = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
#: For examples that do I/O (a server, a file, Redis): fewer of them.
FUZZ_IO: Final = settings(FUZZ, max_examples=40)

_KNOWN_TEXT: Final = [
    *(str(member) for enum in (Source, TaskType, Arena, BenchmarkType) for member in enum),
    *KNOWN_CATEGORIES,
    "server-tool",
    "plugin",
    "true",
    "false",
    "0",
    "1",
    "-3",
    "12",
    " 7",
    "1e3",
]
_param_text = st.sampled_from(_KNOWN_TEXT) | st.text(max_size=16)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


def _outcome(call: Callable[[], object], *allowed: type[BaseException]) -> object:
    """What ``call()`` returns, or the exception it raised if it is one of ``allowed``."""
    try:
        return call()
    except allowed as error:
        return error


def _fake_documents() -> list[dict[str, Any]]:
    """Real documents of every shape, as the fake serves them (small, for speed)."""
    fake = FakeOpenRouter(seed=5, models=24)
    params: list[dict[str, str]] = [
        {"source": "artificial-analysis", "max_results": "4"},
        {"source": "design-arena", "arena": "models", "category": "svg", "max_results": "4"},
        {"source": "openrouter", "benchmark_type": "gpqa_diamond", "max_results": "4"},
        {"source": "openrouter", "task_type": "search", "include_run_config": "true"},
        {"max_results": "6"},
    ]
    return [fake.payload(p) for p in params]


DOCUMENTS: Final = _fake_documents()


def _paths(value: Any, here: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield here
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _paths(inner, (*here, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from _paths(inner, (*here, index))


def _parent(document: Any, path: tuple[Any, ...]) -> Any:
    for step in path[:-1]:
        document = document[step]
    return document


@st.composite
def mutated_documents(draw: st.DrawFn) -> bytes:
    """A real document with one to three structural edits, or with its bytes damaged."""
    document = copy.deepcopy(draw(st.sampled_from(DOCUMENTS)))
    if draw(st.integers(0, 3)) == 0:
        body = orjson.dumps(document)
        at = draw(st.integers(0, len(body)))
        damage = draw(st.sampled_from(["cut", "insert", "flip"]))
        if damage == "cut":
            return body[:at]
        if damage == "insert":
            return body[:at] + draw(st.binary(min_size=1, max_size=4)) + body[at:]
        flipped = body[min(at, len(body) - 1)] ^ (1 << draw(st.integers(0, 7)))
        return body[:at] + bytes([flipped]) + body[at + 1 :]
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(list(_paths(document))))
        if not path:
            document = draw(json_values)
            continue
        parent = _parent(document, path)
        edit = draw(st.sampled_from(["replace", "delete", "add-key", "wrap"]))
        if edit == "delete":
            del parent[path[-1]]
        elif edit == "add-key" and isinstance(parent[path[-1]], dict):
            parent[path[-1]][draw(st.text(max_size=8))] = draw(json_values)
        elif edit == "wrap":
            parent[path[-1]] = [parent[path[-1]]]
        else:
            parent[path[-1]] = draw(json_values)
    return orjson.dumps(document)


# --- queries -----------------------------------------------------------------------------------


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from(PARAMETER_NAMES) | st.text(max_size=10), _param_text, max_size=5
    )
)
def test_any_query_string_gives_a_query_or_invalid_query_error(params: dict[str, str]) -> None:
    """Query.from_params on any strings: a Query that round-trips, or InvalidQueryError."""
    query = _outcome(lambda: Query.from_params(params), InvalidQueryError)
    if isinstance(query, InvalidQueryError):
        assert str(query)
        return
    assert isinstance(query, Query)
    assert Query.from_params(query.params) == query
    assert set(query.params) <= set(params) | {"arena"}


_axis_value = (
    st.none()
    | _param_text
    | st.integers(-3, 50)
    | st.booleans()
    | st.floats(allow_nan=True)
    | st.sampled_from([*Source, *TaskType, *Arena, *BenchmarkType])
)


@FUZZ
@given(
    st.fixed_dictionaries(
        {},
        optional=dict.fromkeys(
            PARAMETER_NAMES, _axis_value | st.lists(_axis_value, min_size=1, max_size=3)
        ),
    )
)
def test_any_grid_gives_valid_queries_or_invalid_query_error(axes: dict[str, Any]) -> None:
    """Query.grid on any axes: distinct, valid queries, or InvalidQueryError for a bad value."""
    try:
        grid = Query.grid(**axes)
    except InvalidQueryError:
        return
    assert len(grid) == len(set(grid))
    for query in grid:
        assert Query.from_params(query.params) == query


# --- responses ---------------------------------------------------------------------------------

_headers = st.dictionaries(
    st.sampled_from(["retry-after", "content-type", "location", "x-request-id", "server"]),
    st.text(max_size=40)
    | st.sampled_from(["0", "5", "-1", "1e400", "nan", "Wed, 03 Jun 2026 12:00:30 GMT"]),
    max_size=3,
)
_bodies = (
    st.binary(max_size=300)
    | json_values.map(orjson.dumps)
    | mutated_documents()
    | st.sampled_from(DOCUMENTS).map(orjson.dumps)
)


@FUZZ
@given(st.integers(100, 599) | st.just(200), _headers, _bodies)
def test_any_answer_reads_as_a_page_or_its_typed_error(
    status: int, headers: dict[str, str], body: bytes
) -> None:
    """read_response: a Page for a good 200, else the status's APIError or ResponseFormatError."""
    outcome = _outcome(
        lambda: read_response(status, headers, body, query=QUERY, fetched_at=NOW),
        APIError,
        ResponseFormatError,
    )
    if isinstance(outcome, APIError):
        assert status >= 400
        assert type(outcome) is error_for_status(status)
        assert outcome.status == status
        wait = outcome.retry_after
        assert wait is None or (math.isfinite(wait) and wait >= 0)
        assert len(outcome.body_excerpt) <= 300
    elif isinstance(outcome, ResponseFormatError):
        assert status < 400
    else:
        assert status == 200
        assert isinstance(outcome, Page)
        assert decode_page(encode_page(outcome), query=QUERY, fetched_at=NOW) == outcome


@FUZZ
@given(
    st.text(max_size=40)
    | st.sampled_from(
        [
            "Wed, 03 Jun 2026 12:00:30 GMT",
            "Fri, 31 Dec 9999 23:59:59 GMT",
            "Mon, 01 Jan 0001 00:00:00 GMT",
            "Wed, 03 Jun 2026 12:00:30 +9959",
            "1e308",
            "-0",
            "  12  ",
        ]
    ),
    st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
    ),
)
def test_any_retry_after_is_a_wait_or_nothing(value: str, now: datetime) -> None:
    """parse_retry_after on any text: None, or a finite number of seconds >= 0; never raises."""
    wait = _parse_retry_after(value, now=now)
    assert wait is None or (math.isfinite(wait) and wait >= 0)


@FUZZ
@given(mutated_documents())
def test_mutated_fake_documents_give_a_page_or_a_format_error(body: bytes) -> None:
    """The fake's real documents, damaged: a Page that re-encodes to itself, or a format error."""
    page = _outcome(lambda: decode_page(body, query=QUERY, fetched_at=NOW), ResponseFormatError)
    if isinstance(page, ResponseFormatError):
        assert str(page)
        return
    assert isinstance(page, Page)
    assert decode_page(encode_page(page), query=QUERY, fetched_at=NOW) == page


def test_the_client_over_a_server_serving_anything() -> None:
    """Any status and body a server sends reach the caller as a Page or a typed error, in time."""
    answer: list[tuple[int, bytes]] = [(200, b"")]

    async def handle(request: web.Request) -> web.Response:
        status, body = answer[0]
        return web.Response(status=status, body=body, content_type="application/json")

    with asyncio.Runner() as runner:
        app = web.Application()
        app.router.add_get("/api/v1/benchmarks", handle)
        server = web.AppRunner(app, access_log=None)
        runner.run(server.setup())
        site = web.TCPSite(server, "127.0.0.1", 0)
        runner.run(site.start())
        host, port = server.addresses[0][:2]
        client = BenchmarksClient(
            CANARY_KEY,
            base_url=f"http://{host}:{port}/api/v1",
            cache=None,
            retry=RetryPolicy.never(deadline=5),
            timeout=5,
            **UNLIMITED,
        )

        @FUZZ_IO
        @given(st.sampled_from([200, 200, 200, 204, 301, 400, 404, 429, 500, 502]), _bodies)
        def check(status: int, body: bytes) -> None:
            answer[0] = (status, body)
            page = _outcome(
                lambda: runner.run(asyncio.wait_for(client.get(QUERY), timeout=10)),
                OpenRouterBenchError,
            )
            if isinstance(page, OpenRouterBenchError):
                assert CANARY_KEY not in f"{page!r} {page}"
                assert page.attempts == 1
                return
            assert status == 200
            assert isinstance(page, Page)
            assert not page.from_cache

        try:
            check()
        finally:
            runner.run(client.aclose())
            runner.run(server.cleanup())


# --- cache values ------------------------------------------------------------------------------

AS_OF: Final = "2026-06-03T12:00:00Z"


def _valid_entries() -> list[bytes]:
    page = make_page(QUERY, AS_OF)
    pointer = Pointer(as_of=AS_OF, fetched_at=1.0, history=(AS_OF,))
    return [pack_page(QUERY, AS_OF, page), pack_pointer(QUERY, pointer)]


@st.composite
def mutated_entries(draw: st.DrawFn) -> bytes:
    """A valid cache entry with one field replaced, dropped, or its bytes cut."""
    raw = draw(st.sampled_from(_valid_entries()))
    if draw(st.booleans()):
        return raw[: draw(st.integers(0, len(raw) - 1))]
    document = orjson.loads(raw)
    key = draw(st.sampled_from(sorted(document)))
    if draw(st.booleans()):
        del document[key]
    else:
        document[key] = draw(json_values)
    return orjson.dumps(document)


cache_values = st.binary(max_size=200) | json_values.map(orjson.dumps) | mutated_entries()


@FUZZ
@given(cache_values)
def test_the_codec_reads_an_entry_or_refuses_it(raw: bytes) -> None:
    """unpack_pointer and unpack_page on any bytes: the entry, or UnreadableEntry; nothing else."""
    for decode in (
        lambda: unpack_pointer(raw, QUERY, now=2.0, history=2),
        lambda: unpack_page(raw, QUERY, AS_OF),
    ):
        try:
            value = decode()
        except UnreadableEntry:
            continue
        assert isinstance(value, Pointer | Page)
        if isinstance(value, Page):
            assert as_of_text(value.as_of) == AS_OF


async def _get_after_tampering(
    cache: SnapshotCache, tamper: Callable[[str, str], Any], clock: Clock
) -> None:
    """Store a page, overwrite its pointer and page with ``tamper``, then get: a miss."""
    fetches = 0

    async def fetch() -> Page:
        nonlocal fetches
        fetches += 1
        return make_page(QUERY, AS_OF, fetched_at=clock())

    await cache.get(QUERY, fetch)
    prefix = f"{cache.namespace}:v{FORMAT}:"
    await tamper(f"{prefix}pointer:{QUERY.key}", f"{prefix}page:{QUERY.key}:{AS_OF}")
    page = await cache.get(QUERY, fetch)
    assert fetches == 2
    assert not page.from_cache
    again = await cache.get(QUERY, fetch)
    assert again.from_cache
    assert fetches == 2
    assert cache.stats.backend_errors == 0


@FUZZ_IO
@given(
    st.one_of(
        st.binary(max_size=50),
        st.text(max_size=20),
        json_values,
        # Our own type, naming a snapshot that is not there, fresh or not (NaN).
        st.builds(
            Pointer,
            st.just("not a date"),
            st.floats(allow_nan=True),
            st.lists(st.text(max_size=5), max_size=2).map(tuple),
        ),
    ),
    st.booleans(),
)
def test_any_object_in_the_memory_cache_is_a_miss(value: Any, into_pointer: bool) -> None:
    """Whatever object sits under a memory entry's key, the next get is a miss, then a hit."""
    clock = Clock()

    async def scenario() -> None:
        backend = BoundedMemoryCache(100, clock=clock)
        cache = SnapshotCache(backend, namespace=NAMESPACE, clock=clock)

        async def tamper(pointer_key: str, page_key: str) -> None:
            backend.store(pointer_key if into_pointer else page_key, value)
            if not into_pointer:
                # A fresh pointer without its page in hand, so the page entry is read.
                backend.store(pointer_key, Pointer(AS_OF, clock(), (AS_OF,)))

        await _get_after_tampering(cache, tamper, clock)
        await cache.close()

    asyncio.run(scenario())


def test_any_bytes_in_the_sqlite_cache_are_a_miss() -> None:
    """Whatever bytes sit in an SQLite row, the next get is a miss and the row is rewritten."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "fuzz.sqlite3"

        @FUZZ_IO
        @given(cache_values, cache_values)
        def check(pointer_value: bytes, page_value: bytes) -> None:
            clock = Clock()

            async def scenario() -> None:
                backend = SQLiteCache(path, clock=clock)
                cache = SnapshotCache(backend, namespace=NAMESPACE, clock=clock)

                async def tamper(pointer_key: str, page_key: str) -> None:
                    def write() -> None:
                        with sqlite3.connect(path) as db:
                            db.executemany(
                                "UPDATE entries SET value = ? WHERE key = ?",
                                [(pointer_value, pointer_key), (page_value, page_key)],
                            )
                        db.close()

                    await asyncio.to_thread(write)

                try:
                    await backend.clear()
                    await _get_after_tampering(cache, tamper, clock)
                finally:
                    await cache.close()
                    await backend.close()

            asyncio.run(scenario())

        check()


@pytest.mark.redis
def test_any_bytes_in_redis_are_a_miss() -> None:
    """Whatever bytes sit under a Redis entry's key, the next get is a miss, then a hit."""
    url = redis_url_or_skip()
    namespace = f"{NAMESPACE}:{os.getpid()}"

    @FUZZ_IO
    @given(cache_values, cache_values)
    def check(pointer_value: bytes, page_value: bytes) -> None:
        clock = Clock()

        async def scenario() -> None:
            control = aioredis.Redis.from_url(url)
            cache = open_cache(url, namespace=namespace, policy=CachePolicy(), clock=clock)

            async def tamper(pointer_key: str, page_key: str) -> None:
                await control.set(pointer_key, pointer_value)
                await control.set(page_key, page_value)

            try:
                await _get_after_tampering(cache, tamper, clock)
            finally:
                keys = [key async for key in control.scan_iter(match=f"{namespace}:*")]
                if keys:
                    await control.delete(*keys)
                await cache.close()
                await control.aclose()

        asyncio.run(scenario())

    check()
