"""No secret rides on an exception: every error's whole object graph, searched for the key.

For each fault of the fault matrix and each hostile answer below, the error the
caller gets is walked whole: its ``__cause__`` and ``__context__`` chain, its
args, its attributes (``__dict__`` and slots) and every container and object
they hold, recursively. Nothing in it may be an aiohttp object (aiohttp's errors
and responses hold the request, Authorization header included), and no string
or bytes in it may contain the canary key.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Final

import aiohttp
import orjson
import pytest
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from benchmarks.fault_matrix import FAULT_MATRIX, run_case
from openrouter_bench import BenchmarksClient, OpenRouterBenchError, RetryPolicy
from openrouter_bench.fake.hostile import Answer, HostileServer, RawRequest, chunked, respond
from tests.conftest import CANARY_KEY

from .conftest import Observe

SECRETS: Final = (CANARY_KEY, CANARY_KEY[-20:])


def _members(value: object) -> Iterator[object]:
    """What an object holds: container members, exception parts, attributes and slots."""
    if isinstance(value, dict):
        yield from value.keys()
        yield from value.values()
        return
    if isinstance(value, list | tuple | set | frozenset):
        yield from value
        return
    if isinstance(value, BaseException):
        yield from value.args
        yield value.__cause__
        yield value.__context__
        yield from getattr(value, "__notes__", ())
    yield from getattr(value, "__dict__", {}).values()
    for cls in type(value).__mro__:
        slots = cls.__dict__.get("__slots__", ())
        for name in (slots,) if isinstance(slots, str) else slots:
            if name not in ("__dict__", "__weakref__") and hasattr(value, name):
                yield getattr(value, name)


def _findings(root: object) -> tuple[int, list[str]]:
    """How many objects the walk met, and what it found that must not be there."""
    seen: set[int] = set()
    found: list[str] = []
    todo = [root]
    while todo:
        value = todo.pop()
        if value is None or id(value) in seen:
            continue
        seen.add(id(value))
        if isinstance(value, str | bytes | bytearray):
            text = value if isinstance(value, str) else bytes(value).decode("latin-1")
            found += [f"the key in {text[:80]!r}" for secret in SECRETS if secret in text]
            continue
        if isinstance(value, type) or (callable(value) and not isinstance(value, BaseException)):
            continue
        if type(value).__module__.split(".")[0] == "aiohttp":
            found.append(f"an aiohttp object: {type(value).__qualname__}")
            continue
        todo.extend(_members(value))
    return len(seen), found


async def test_the_walk_finds_an_aiohttp_error_and_the_key_where_they_are() -> None:
    """The walk itself: an error chained the usual way to aiohttp's is caught, and the key too."""
    headers = CIMultiDictProxy(CIMultiDict({"Authorization": f"Bearer {CANARY_KEY}"}))
    info = aiohttp.RequestInfo(url=URL("http://h/"), method="GET", headers=headers)
    try:
        try:
            raise aiohttp.ClientResponseError(info, (), status=400)
        except aiohttp.ClientError:
            raise OpenRouterBenchError("wrapped") from None
    except OpenRouterBenchError as error:
        caught = error
    _, found = _findings(caught)
    assert found == ["an aiohttp object: ClientResponseError"]
    _, found = _findings(OpenRouterBenchError("x", attempts=1).__dict__ | {"k": [CANARY_KEY]})
    assert found == [f"the key in {CANARY_KEY!r}"] * len(SECRETS)


async def _echo_400(request: RawRequest, writer: asyncio.StreamWriter) -> None:
    message = request.header("authorization") or ""
    body = orjson.dumps({"error": {"code": 400, "message": message, "metadata": {"k": CANARY_KEY}}})
    writer.write(respond(400, body, headers={"X-Request-Id": CANARY_KEY}))
    await writer.drain()


async def _echo_200(request: RawRequest, writer: asyncio.StreamWriter) -> None:
    body = b"echo: " + (request.header("authorization") or "").encode()
    writer.write(respond(200, body, content_type="text/plain"))
    await writer.drain()


async def _echo_502(request: RawRequest, writer: asyncio.StreamWriter) -> None:
    sent = (request.header("authorization") or "").encode()
    body = b"<html><title>" + sent + b"</title><p>" + CANARY_KEY.encode() + b"</p></html>"
    writer.write(respond(502, body, content_type="text/html", headers={"Server": CANARY_KEY}))
    await writer.drain()


KEY = CANARY_KEY.encode()

#: (case, answer): each a row of the hostile table.
HOSTILE: Final[list[tuple[str, Answer]]] = [
    ("a bad status line quoting the key", b"HTTP/1.1 abc " + KEY + b"\r\n\r\n"),
    ("garbage instead of a status line", b"\x00\x01\x02garbage " + KEY + b"\r\n\r\n"),
    (
        "an invalid chunk size",
        respond(200, b"zz" + KEY + b"\r\n{}\r\n", headers={"Transfer-Encoding": "chunked"}),
    ),
    (
        "a chunked body cut off mid-chunk",
        respond(200, chunked(b'{"data": [')[:-7], headers={"Transfer-Encoding": "chunked"}),
    ),
    (
        "a header line longer than aiohttp reads",
        b"HTTP/1.1 200 OK\r\nX: " + KEY * 400 + b"\r\n\r\n",
    ),
    (
        "both Content-Length and Transfer-Encoding",
        respond(200, b"{}", headers=[("Content-Length", "2"), ("Transfer-Encoding", "chunked")]),
    ),
    ("a 200 whose body echoes the Authorization header", _echo_200),
    ("a 502 HTML page echoing the key in its title, body and Server header", _echo_502),
    ("a 400 whose message is the Authorization header", _echo_400),
]


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(
            answer,
            id=case,
            marks=pytest.mark.hostile(
                case=case, expected="a typed error; no aiohttp object or key anywhere on it"
            ),
        )
        for case, answer in HOSTILE
    ],
)
async def test_a_hostile_answer_leaves_no_secret_on_the_error(
    observe: Observe, answer: Answer
) -> None:
    """The error for a hostile answer holds no aiohttp object and no copy of the key."""
    async with (
        HostileServer(answer) as server,
        BenchmarksClient(
            CANARY_KEY,
            base_url=server.url,
            cache="memory",
            quota=None,
            retry=RetryPolicy.no_wait(attempts=2),
        ) as client,
    ):
        with pytest.raises(OpenRouterBenchError) as caught:
            await client.get()
    walked, found = _findings(caught.value)
    assert found == []
    shown = str(caught.value)
    observe(
        f"{type(caught.value).__name__} ({shown[:90]}{'…' if len(shown) > 90 else ''}); "
        f"{walked} objects walked, no aiohttp object, no key"
    )


@pytest.mark.hostile(
    case="every fault of the fault matrix",
    expected="no aiohttp object or key on any error the caller gets",
)
async def test_no_fault_of_the_matrix_leaves_a_secret_on_its_error(observe: Observe) -> None:
    """Every row of the fault matrix, run with the canary key: its error's graph is clean."""
    errors = 0
    walked = 0
    for case in FAULT_MATRIX:
        got = (await run_case(case, key=CANARY_KEY)).got
        if isinstance(got, OpenRouterBenchError):
            errors += 1
        count, found = _findings(got)
        walked += count
        assert found == [], case.name
    observe(
        f"{len(FAULT_MATRIX)} faults, {errors} ending in an error; {walked} objects walked, "
        "no aiohttp object, no key"
    )
