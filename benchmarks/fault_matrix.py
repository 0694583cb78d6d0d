"""The fault matrix: every bad answer the client can meet, and what it must do about it.

:data:`FAULT_MATRIX` is the one source of truth. ``tests/test_fault_matrix.py``
runs every row against a real server on loopback and asserts the outcome;
``python -m benchmarks.soak --write-docs`` runs the same rows and prints them
into ``docs/reliability.md``. A row is served by the bundled fake server
(its scripted faults), by a one-answer stub (for what the fake cannot say,
such as a 200 that is an HTML page), or by nobody (a port nothing listens on).

Every row runs with the same client: no cache, :data:`POLICY` (4 attempts,
no backoff, a 30 s deadline), and an injected clock whose ``sleep`` records
each wait instead of waiting, so a ``Retry-After`` of 7 s costs no real time.
The fake's wall clock is the client's, so an HTTP-date ``Retry-After`` means
the same instant to both.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any, Final, Literal
from urllib.parse import urlsplit

import attrs
from aiohttp import web

from openrouter_bench import (
    APIError,
    AuthenticationError,
    BadRequestError,
    BenchmarksClient,
    NotFoundError,
    OpenRouterBenchError,
    Page,
    PaymentRequiredError,
    Query,
    RateLimitError,
    RequestTimeoutError,
    ResponseFormatError,
    RetryPolicy,
    ServerError,
    TransportError,
)
from openrouter_bench._convert import unstructure_page
from openrouter_bench.fake import FakeOpenRouter, FakeTime, free_port
from openrouter_bench.fake.faults import FaultSpec

__all__ = [
    "FAULT_MATRIX",
    "POLICY",
    "UNLIMITED",
    "KEY",
    "FaultCase",
    "Observed",
    "expected_row_start",
    "observed_matches",
    "render_matrix",
    "run_case",
]

#: No client-side quota where the client has one: these runs talk to a local server only.
UNLIMITED: Final[dict[str, Any]] = (
    {"quota": None} if "quota" in inspect.signature(BenchmarksClient).parameters else {}
)
#: The retry policy of every row: the library's decisions, without the backoff waits.
POLICY: Final = RetryPolicy.no_wait(attempts=4, deadline=30.0)
#: The API key of every row, unless the caller gives its own (a test's canary).
KEY: Final = "sk-or-v1-fault-matrix-0000000000000000000000000000000000"
#: The per-attempt timeout of the rows whose fault is a stall.
SHORT_TIMEOUT: Final = 0.2
QUERY: Final = Query(source="artificial-analysis", task_type="coding")

_HTML_200: Final = (
    b"<!DOCTYPE html><html><head><title>Scheduled maintenance</title></head>"
    b"<body><h1>We'll be right back</h1></body></html>"
)

Via = Literal["fake", "stub", "nothing"]


@attrs.frozen
class FaultCase:
    """One row of the matrix: a fault, and everything the client must do about it.

    ``outcome`` is the error class the caller gets, or None for a page.
    ``attempts`` counts the requests the client made, ``requests`` those the
    server saw (more than ``attempts`` when aiohttp quietly re-sent after a
    reset). ``waits`` are the seconds the client slept on ``Retry-After``.
    """

    name: str
    fault: str
    wire: str
    outcome: type[OpenRouterBenchError] | None
    attempts: int
    requests: int
    why: str
    script: tuple[FaultSpec, ...] = ()
    via: Via = "fake"
    stub: tuple[int, str, bytes] = (200, "application/json", b"")
    waits: tuple[float, ...] = ()
    timeout: float = 20.0
    max_response_bytes: int = 16 * 1024 * 1024

    @property
    def outcome_name(self) -> str:
        """The outcome as the table shows it."""
        return "page" if self.outcome is None else self.outcome.__name__


def _once_then_ok(
    name: str,
    fault: str,
    wire: str,
    spec: FaultSpec,
    error: type[OpenRouterBenchError],
    **options: Any,
) -> list[FaultCase]:
    """Two rows for a transient fault: once (then a good answer), and on every attempt."""
    attempts = POLICY.attempts
    return [
        FaultCase(
            name=f"{name}-once",
            fault=f"{fault}, once",
            wire=wire,
            outcome=None,
            attempts=2,
            requests=2,
            why=f"transient ({error.__name__}): retried, the second answer is the page",
            script=(spec,),
            **options,
        ),
        FaultCase(
            name=f"{name}-always",
            fault=f"{fault}, every attempt",
            wire=wire,
            outcome=error,
            attempts=attempts,
            requests=attempts,
            why=f"retried until the policy's {attempts} attempts are spent; the last error",
            script=(spec,) * attempts,
            **options,
        ),
    ]


def _refused(status: int, error: type[OpenRouterBenchError], wire: str, why: str) -> FaultCase:
    return FaultCase(
        name=str(status),
        fault=f"HTTP {status}",
        wire=wire,
        outcome=error,
        attempts=1,
        requests=1,
        why=why,
        script=(status,),
    )


FAULT_MATRIX: Final[tuple[FaultCase, ...]] = (
    *_once_then_ok("500", "HTTP 500", "JSON error body", 500, ServerError),
    *_once_then_ok(
        "html502", "HTTP 502 from a proxy", "an HTML error page", "html502", ServerError
    ),
    *_once_then_ok("503", "HTTP 503 without Retry-After", "JSON error body", 503, ServerError),
    FaultCase(
        name="503-retry-after",
        fault="HTTP 503 with Retry-After: 3",
        wire="JSON error body, `Retry-After: 3`",
        outcome=None,
        attempts=2,
        requests=2,
        waits=(3.0,),
        why="retried after the 3 s the server asked for (longer than the backoff)",
        script=({"fault": 503, "retry_after": 3},),
    ),
    FaultCase(
        name="html503-retry-after",
        fault="HTTP 503 from a proxy with Retry-After: 2",
        wire="an HTML error page, `Retry-After: 2`",
        outcome=None,
        attempts=2,
        requests=2,
        waits=(2.0,),
        why="retried after the 2 s the proxy asked for",
        script=({"fault": "html503", "retry_after": 2},),
    ),
    *_once_then_ok("504", "HTTP 504", "JSON error body", 504, ServerError),
    *_once_then_ok("408", "HTTP 408", "JSON error body", 408, APIError),
    FaultCase(
        name="429-seconds",
        fault="HTTP 429 with Retry-After in seconds",
        wire="JSON error body, `Retry-After: 7`",
        outcome=None,
        attempts=2,
        requests=2,
        waits=(7.0,),
        why="every call of the client waits the 7 s, then the retry succeeds",
        script=({"fault": 429, "retry_after": 7},),
    ),
    FaultCase(
        name="429-http-date",
        fault="HTTP 429 with Retry-After as an HTTP date",
        wire="JSON error body, `Retry-After: <date 7 s ahead>`",
        outcome=None,
        attempts=2,
        requests=2,
        waits=(7.0,),
        why="the date is read against the client's clock: the same 7 s wait",
        script=({"fault": 429, "retry_after": 7, "retry_after_date": True},),
    ),
    FaultCase(
        name="429-past-deadline",
        fault="HTTP 429 with Retry-After past the deadline",
        wire="JSON error body, `Retry-After: 600`",
        outcome=RateLimitError,
        attempts=1,
        requests=1,
        why="a wait past the call's 30 s deadline fails at once instead of sleeping",
        script=({"fault": 429, "retry_after": 600},),
    ),
    FaultCase(
        name="429-always",
        fault="HTTP 429 without Retry-After, every attempt",
        wire="JSON error body",
        outcome=RateLimitError,
        attempts=POLICY.attempts,
        requests=POLICY.attempts,
        why="retried until the attempts are spent; the caller gets RateLimitError",
        script=(429,) * POLICY.attempts,
    ),
    FaultCase(
        name="reset-once",
        fault="connection reset before the headers, once",
        wire="TCP RST, no response byte",
        outcome=None,
        attempts=1,
        requests=2,
        why="aiohttp re-sends an idempotent GET once on a fresh connection: no retry spent",
        script=("reset",),
    ),
    FaultCase(
        name="reset-twice",
        fault="connection reset before the headers, twice",
        wire="TCP RST twice",
        outcome=None,
        attempts=2,
        requests=3,
        why="the re-send fails too: one failed attempt (TransportError), retried",
        script=("reset", "reset"),
    ),
    FaultCase(
        name="reset-always",
        fault="connection reset before the headers, every attempt",
        wire="TCP RST on every connection",
        outcome=TransportError,
        attempts=POLICY.attempts,
        requests=2 * POLICY.attempts,
        why="each attempt is a request and its quiet re-send; then the last error",
        script=("reset",) * (2 * POLICY.attempts),
    ),
    *_once_then_ok(
        "reset-mid-body",
        "connection closed mid-body",
        "200, half a chunked body, then close",
        "reset_mid_body",
        TransportError,
    ),
    *_once_then_ok(
        "truncate",
        "body shorter than its Content-Length",
        "200, 3/4 of the declared bytes, then close",
        "truncate",
        TransportError,
    ),
    *_once_then_ok(
        "slow-headers",
        "no headers within the timeout",
        f"nothing for 5 s (timeout {SHORT_TIMEOUT} s)",
        {"fault": "timeout", "delay": 5},
        RequestTimeoutError,
        timeout=SHORT_TIMEOUT,
    ),
    *_once_then_ok(
        "slow-body",
        "body stalls past the timeout",
        f"200, a quarter of the body, a 5 s stall (timeout {SHORT_TIMEOUT} s)",
        {"fault": "slow_body", "delay": 5},
        RequestTimeoutError,
        timeout=SHORT_TIMEOUT,
    ),
    FaultCase(
        name="slow-body-in-time",
        fault="body stalls within the timeout",
        wire="200, a quarter of the body, a 0.05 s stall",
        outcome=None,
        attempts=1,
        requests=1,
        why="slow is not failed: the page, first time",
        script=({"fault": "slow_body", "delay": 0.05},),
        timeout=2.0,
    ),
    FaultCase(
        name="truncated-json",
        fault="truncated JSON",
        wire="200, `application/json`, the first half of the document",
        outcome=ResponseFormatError,
        attempts=1,
        requests=1,
        why="a well-delivered 200 that is not a document: never retried",
        script=("malformed",),
    ),
    FaultCase(
        name="html-200",
        fault="non-JSON 200",
        wire="200, `text/html`, a maintenance page",
        outcome=ResponseFormatError,
        attempts=1,
        requests=1,
        why="not JSON: never retried, the error quotes the start of the body",
        via="stub",
        stub=(200, "text/html", _HTML_200),
    ),
    FaultCase(
        name="wrong-shape",
        fault="JSON of the wrong shape",
        wire="200, the `data` array without its envelope",
        outcome=ResponseFormatError,
        attempts=1,
        requests=1,
        why="the error names the JSON path that was wrong; never retried",
        script=("wrong_shape",),
    ),
    FaultCase(
        name="oversize",
        fault="body over the size cap",
        wire="200, a valid 3 MiB document (cap 1 MiB)",
        outcome=ResponseFormatError,
        attempts=1,
        requests=1,
        why="refused from its Content-Length, before reading; never retried",
        script=({"fault": "oversize", "size": 3 * 1024 * 1024},),
        max_response_bytes=1024 * 1024,
    ),
    _refused(400, BadRequestError, "JSON error body", "the parameters are wrong: never retried"),
    _refused(401, AuthenticationError, "JSON error body", "the key is wrong: never retried"),
    _refused(402, PaymentRequiredError, "JSON error body", "out of credit: never retried"),
    _refused(403, AuthenticationError, "JSON error body", "not allowed: never retried"),
    _refused(404, NotFoundError, "JSON error body", "wrong base URL: never retried"),
    FaultCase(
        name="redirect",
        fault="HTTP 302 to another host",
        wire="`Location: http://127.0.0.2:<port>/...`",
        outcome=ResponseFormatError,
        attempts=1,
        requests=1,
        why="never followed: the other host gets no connection, so never the key",
        script=("redirect",),
    ),
    FaultCase(
        name="refused",
        fault="connection refused",
        wire="nothing listens on the port",
        outcome=TransportError,
        attempts=POLICY.attempts,
        requests=0,
        why="transient: retried until the attempts are spent",
        via="nothing",
    ),
)


@attrs.frozen
class Observed:
    """What one run of a row did."""

    outcome: str
    attempts: int
    requests: int
    waits: tuple[float, ...]
    seconds: float
    page_matches: bool | None
    redirect_target_connections: int | None
    #: What the caller got, for the security sweep to look at.
    got: Page | OpenRouterBenchError = attrs.field(eq=False, repr=False)


class _Stub:
    """A loopback server that gives every request the same answer, and counts them."""

    def __init__(self, status: int, content_type: str, body: bytes) -> None:
        self.requests = 0
        self._answer = (status, content_type, body)
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def _handle(self, request: web.Request) -> web.Response:
        self.requests += 1
        status, content_type, body = self._answer
        return web.Response(status=status, body=body, content_type=content_type)

    async def __aenter__(self) -> _Stub:
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runner = runner
        host, port = runner.addresses[0][:2]
        self.url = f"http://{host}:{port}/api/v1"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@contextlib.asynccontextmanager
async def _redirect_target(port: int) -> AsyncIterator[list[int]]:
    """Listen where the fake's redirect points (127.0.0.2, same port); count connections.

    Yields a one-element list holding the count, or an empty list when the
    address cannot be bound here (no 127.0.0.2 on this system).
    """
    connections = [0]

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections[0] += 1
        writer.close()

    try:
        server = await asyncio.start_server(accept, "127.0.0.2", port)
    except OSError:
        yield []
        return
    try:
        yield connections
    finally:
        server.close()
        await server.wait_closed()


async def run_case(case: FaultCase, *, key: str = KEY) -> Observed:
    """Run one row against a fresh server with API key ``key``; report what the client did."""
    clock = FakeTime()
    async with (
        FakeOpenRouter(seed=11, per_minute=None, per_day=None, wall_clock=clock.time) as fake,
        _Stub(*case.stub) as stub,
        _redirect_target(urlsplit(fake.url).port or 0) as target,
    ):
        fake.script(*case.script)
        base_url = {
            "fake": fake.url,
            "stub": stub.url,
            "nothing": f"http://127.0.0.1:{free_port()}/api/v1",
        }[case.via]
        client = BenchmarksClient(
            key,
            base_url=base_url,
            cache=None,
            retry=POLICY,
            timeout=case.timeout,
            max_response_bytes=case.max_response_bytes,
            clock=clock.time,
            timer=clock.monotonic,
            sleep=clock.sleep,
            **UNLIMITED,
        )
        started = time.perf_counter()
        page_matches: bool | None = None
        got: Page | OpenRouterBenchError
        async with client:
            try:
                got = await client.get(QUERY)
            except OpenRouterBenchError as error:
                got = error
                outcome = type(error).__name__
                attempts = error.attempts
            else:
                outcome = "page"
                attempts = client.stats.requests
                page_matches = unstructure_page(got) == fake.payload(QUERY.params)
        seconds = time.perf_counter() - started
        requests = {"fake": len(fake.requests), "stub": stub.requests, "nothing": 0}[case.via]
    return Observed(
        outcome=outcome,
        attempts=attempts,
        requests=requests,
        waits=tuple(wait for wait in clock.sleeps if wait > 0),
        seconds=seconds + sum(clock.sleeps),
        page_matches=page_matches,
        redirect_target_connections=target[0] if target else None,
        got=got,
    )


def render_matrix(rows: Sequence[tuple[FaultCase, Observed]]) -> str:
    """The matrix as a Markdown table, with the time each row took when it was run."""
    lines = [
        "| Fault | On the wire | Outcome | Attempts | Requests seen | Waits | Time | Why |",
        "|---|---|---|---:|---:|---|---:|---|",
    ]
    for case, observed in rows:
        waits = ", ".join(f"{wait:g} s" for wait in observed.waits) or "-"
        lines.append(
            f"| {case.fault} | {case.wire} | `{case.outcome_name}` | {case.attempts} "
            f"| {case.requests} | {waits} | {observed.seconds:.2f} s | {case.why} |"
        )
    return "\n".join(lines) + "\n"


def expected_row_start(case: FaultCase) -> str:
    """The part of a rendered row that depends on the table alone (not on a run)."""
    return (
        f"| {case.fault} | {case.wire} | `{case.outcome_name}` | {case.attempts} "
        f"| {case.requests} |"
    )


def observed_matches(case: FaultCase, observed: Observed) -> list[str]:
    """What differs between the row and a run of it (empty when the run kept to the row)."""
    problems = []
    if observed.outcome != case.outcome_name:
        problems.append(f"outcome {observed.outcome}, expected {case.outcome_name}")
    if observed.attempts != case.attempts:
        problems.append(f"{observed.attempts} attempts, expected {case.attempts}")
    if observed.requests != case.requests:
        problems.append(f"{observed.requests} requests seen, expected {case.requests}")
    if len(observed.waits) != len(case.waits) or any(
        # An HTTP date has one-second resolution: its wait may come out up to 1 s short.
        not expected - 1.0 <= seen <= expected
        for seen, expected in zip(observed.waits, case.waits, strict=False)
    ):
        problems.append(f"waits {observed.waits}, expected {case.waits}")
    if observed.seconds >= POLICY.deadline:
        problems.append(f"took {observed.seconds:.2f} s, past the {POLICY.deadline:g} s deadline")
    if observed.page_matches is False:
        problems.append("the page differs from the server's data")
    if observed.redirect_target_connections:
        problems.append("the redirect target got a connection")
    return problems
