"""The client end to end against the fake server: parameters, shapes, errors, retries."""

from __future__ import annotations

import asyncio
import logging
import shutil
import ssl
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web

from openrouter_bench import (
    ArtificialAnalysisItem,
    AuthenticationError,
    BadRequestError,
    BenchmarksClient,
    CachePolicy,
    ClientClosedError,
    ConfigurationError,
    DesignArenaItem,
    InvalidQueryError,
    NotFoundError,
    OpenRouterEvalItem,
    PaymentRequiredError,
    Query,
    RateLimitError,
    RequestTimeoutError,
    ResponseFormatError,
    RetryPolicy,
    SearchEvalItem,
    ServerError,
    TransportError,
)
from openrouter_bench._convert import unstructure_page
from openrouter_bench.fake import FakeOpenRouter, FakeTime
from openrouter_bench.query import ALL, KNOWN_CATEGORIES, Arena, BenchmarkType, Source, TaskType
from tests.conftest import CANARY_KEY

NO_WAIT = RetryPolicy.no_wait(attempts=4)


def make_client(fake: FakeOpenRouter, **options: Any) -> BenchmarksClient:
    options.setdefault("retry", NO_WAIT)
    options.setdefault("cache", None)
    options.setdefault("quota", None)  # a local fake: the quota has its own tests
    return BenchmarksClient(CANARY_KEY, base_url=fake.url, **options)


BROAD_GRID = [
    Query(),
    *Query.grid(source=ALL, task_type=[None, *TaskType]),
    *Query.grid(source="design-arena", arena=ALL, category=[None, *KNOWN_CATEGORIES]),
    *Query.grid(source=[None, "openrouter"], benchmark_type=ALL),
    Query(source="openrouter", task_type="search", include_run_config=True),
    Query(task_type="search", search_surface="plugin", max_results=7),
    Query(source="artificial-analysis", max_results=1),
]


async def test_every_parameter_reaches_the_server_as_documented(fake: FakeOpenRouter) -> None:
    """Each query's canonical parameters arrive at the server exactly, one request per query."""
    async with make_client(fake) as client:
        for query in BROAD_GRID:
            await client.get(query)
    sent = [record.params for record in fake.requests]
    assert sent == [query.params for query in BROAD_GRID]
    assert all(record.status == 200 for record in fake.requests)


async def test_round_trip_gives_back_the_servers_json(fake: FakeOpenRouter) -> None:
    """Unstructuring a fetched page gives the server's JSON document back, for a broad grid."""
    async with make_client(fake) as client:
        for query in BROAD_GRID:
            page = await client.get(query)
            assert unstructure_page(page) == fake.payload(query.params), query


async def test_each_shape_structures_to_its_class(fake: FakeOpenRouter) -> None:
    """Every source's items become their own record class, with exact types."""
    async with make_client(fake) as client:
        aa = await client.get(source=Source.ARTIFICIAL_ANALYSIS)
        da = await client.get(source=Source.DESIGN_ARENA, arena=Arena.BUILDERS)
        classic = await client.get(source="openrouter", benchmark_type=BenchmarkType.GPQA_DIAMOND)
        search = await client.get(source="openrouter", task_type="search", include_run_config=True)
    assert aa.items
    assert all(isinstance(item, ArtificialAnalysisItem) for item in aa.items)
    assert da.items
    assert all(isinstance(item, DesignArenaItem) for item in da.items)
    assert {item.arena for item in da.items if isinstance(item, DesignArenaItem)} == {"builders"}
    assert classic.items
    assert all(isinstance(item, OpenRouterEvalItem) for item in classic.items)
    assert search.items
    assert all(isinstance(item, SearchEvalItem) for item in search.items)
    assert all(
        item.run_config is not None for item in search.items if isinstance(item, SearchEvalItem)
    )
    assert aa.meta.as_of.tzinfo is not None
    assert aa.query == Query(source="artificial-analysis")


async def test_design_arena_default_arena_is_explicit_and_shared(fake: FakeOpenRouter) -> None:
    """source=design-arena and source=design-arena&arena=models are one query and one request."""
    async with make_client(fake, cache="memory") as client:
        first = await client.get(source="design-arena")
        second = await client.get(source="design-arena", arena="models")
    assert second.from_cache
    assert not first.from_cache
    assert [record.params for record in fake.requests] == [
        {"source": "design-arena", "arena": "models"}
    ]


@pytest.mark.parametrize(
    "params",
    [
        {"max_results": 0},
        {"max_results": "5"},
        {"source": "artificial-analysis", "category": "gamedev"},
        {"arena": "models"},
        {"source": "design-arena", "task_type": "search"},
        {"task_type": "coding", "search_engine": "exa"},
        {"source": ""},
    ],
)
async def test_invalid_queries_raise_before_any_request(
    fake: FakeOpenRouter, params: dict[str, Any]
) -> None:
    """A certainly-wrong query raises InvalidQueryError and the server log stays empty."""
    async with make_client(fake) as client:
        with pytest.raises(InvalidQueryError):
            await client.get(**params)
    assert fake.requests == []


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (402, PaymentRequiredError),
        (403, AuthenticationError),
        (404, NotFoundError),
    ],
)
async def test_client_errors_are_sent_once(
    fake: FakeOpenRouter, status: int, error_type: type[Exception]
) -> None:
    """400/401/402/403/404 are never retried: one request, the typed error, attempts=1."""
    fake.script(status)
    async with make_client(fake) as client:
        with pytest.raises(error_type) as caught:
            await client.get(source="artificial-analysis")
    assert caught.value.status == status  # type: ignore[attr-defined]
    assert caught.value.attempts == 1  # type: ignore[attr-defined]
    assert len(fake.requests) == 1


async def test_unknown_key_is_an_authentication_error() -> None:
    """A key the server does not know gives AuthenticationError with the server's message."""
    async with (
        FakeOpenRouter(keys=["the-only-key"], per_minute=None, per_day=None) as server,
        make_client(server) as client,
    ):
        with pytest.raises(AuthenticationError) as caught:
            await client.get()
    assert caught.value.status == 401
    assert CANARY_KEY not in str(caught.value) + repr(caught.value)


@pytest.mark.parametrize(
    ("faults", "error_type"),
    [
        ([429], RateLimitError),
        ([500], ServerError),
        (["html502"], ServerError),
        ([503], ServerError),
        ([504], ServerError),
        # aiohttp re-sends an idempotent GET once on a fresh connection after a reset
        # before the headers (RFC 9112 9.3.1), so one failed attempt takes two resets.
        (["reset", "reset"], TransportError),
        (["truncate"], TransportError),
        (["reset_mid_body"], TransportError),
    ],
)
async def test_transient_failures_are_retried_then_succeed(
    fake: FakeOpenRouter, faults: list[Any], error_type: type[Exception]
) -> None:
    """A transient failure followed by a good answer gives the page after two requests."""
    fake.script(*faults)
    async with make_client(fake) as client:
        page = await client.get(source="design-arena", category="svg")
        assert client.stats.retries == 1
    assert page.items
    assert [record.status for record in fake.requests][-1] == 200
    assert len(fake.requests) == len(faults) + 1


@pytest.mark.parametrize(
    ("per_attempt", "error_type"),
    [
        ([429], RateLimitError),
        ([503], ServerError),
        (["html502"], ServerError),
        (["reset", "reset"], TransportError),  # see the note on aiohttp's re-send above
    ],
)
async def test_persistent_transient_failures_end_with_the_typed_error(
    fake: FakeOpenRouter, per_attempt: list[Any], error_type: type[Exception]
) -> None:
    """When every attempt fails, the caller gets the last typed error with the attempt count."""
    fake.script(*(per_attempt * NO_WAIT.attempts))
    async with make_client(fake) as client:
        with pytest.raises(error_type) as caught:
            await client.get(source="openrouter")
    assert caught.value.attempts == NO_WAIT.attempts  # type: ignore[attr-defined]
    assert len(fake.requests) == NO_WAIT.attempts * len(per_attempt)
    assert "RetryError" not in repr(caught.value)


async def test_timeout_is_retried_and_typed(fake: FakeOpenRouter) -> None:
    """A server that sends nothing past the timeout gives RequestTimeoutError (a TimeoutError)."""
    fake.script(*([{"fault": "timeout", "delay": 5}] * 2))
    async with make_client(fake, retry=RetryPolicy.no_wait(attempts=2), timeout=0.2) as client:
        with pytest.raises(RequestTimeoutError) as caught:
            await client.get()
    assert isinstance(caught.value, TimeoutError)
    assert caught.value.attempts == 2
    assert len(fake.requests) == 2


@pytest.mark.parametrize("form", ["seconds", "http-date"])
async def test_retry_after_is_obeyed_in_both_forms(fake_time: FakeTime, form: str) -> None:
    """A 429's Retry-After (seconds or HTTP date) is waited out before the retry."""
    async with FakeOpenRouter(per_minute=None, per_day=None, wall_clock=fake_time.time) as fake:
        fault = {"fault": 429, "retry_after": 7, "retry_after_date": form == "http-date"}
        fake.script(fault)
        async with make_client(
            fake, clock=fake_time.time, timer=fake_time.monotonic, sleep=fake_time.sleep
        ) as client:
            page = await client.get(source="artificial-analysis")
        assert page.items
        assert len(fake.requests) == 2
    # An HTTP date has one-second resolution, so its wait may be up to a second short.
    assert len(fake_time.sleeps) == 1
    assert 6.0 <= fake_time.sleeps[0] <= 7.0


async def test_a_429_pauses_every_task_of_the_client(
    fake: FakeOpenRouter, fake_time: FakeTime
) -> None:
    """After one call sees 429 with Retry-After, the next call of any query waits before sending."""
    fake.script({"fault": 429, "retry_after": 5})
    async with make_client(
        fake,
        retry=RetryPolicy.never(),
        clock=fake_time.time,
        timer=fake_time.monotonic,
        sleep=fake_time.sleep,
    ) as client:
        with pytest.raises(RateLimitError):
            await client.get(source="openrouter", task_type="agentic")
        assert fake_time.sleeps == []
        await client.get(source="openrouter", task_type="intelligence")
    assert fake_time.sleeps == [5.0]
    assert [record.status for record in fake.requests] == [429, 200]


async def test_retry_after_past_the_deadline_fails_at_once(
    fake: FakeOpenRouter, fake_time: FakeTime
) -> None:
    """A Retry-After longer than the call's deadline raises RateLimitError without sleeping."""
    fake.script({"fault": 429, "retry_after": 600})
    async with make_client(
        fake,
        retry=RetryPolicy.no_wait(attempts=5, deadline=60),
        clock=fake_time.time,
        timer=fake_time.monotonic,
        sleep=fake_time.sleep,
    ) as client:
        with pytest.raises(RateLimitError) as caught:
            await client.get()
    assert caught.value.retry_after == 600
    assert fake_time.sleeps == []
    assert len(fake.requests) == 1


@pytest.mark.parametrize("fault", ["malformed", "wrong_shape"])
async def test_malformed_answers_are_format_errors_not_retried(
    fake: FakeOpenRouter, fault: str
) -> None:
    """A 200 that is not a benchmarks document raises ResponseFormatError after one request."""
    fake.script(fault)
    async with make_client(fake) as client:
        with pytest.raises(ResponseFormatError):
            await client.get()
    assert len(fake.requests) == 1


async def test_oversize_body_is_refused(fake: FakeOpenRouter) -> None:
    """A body over the size cap raises ResponseFormatError and is not read to the end."""
    fake.script({"fault": "oversize", "size": 3 * 1024 * 1024})
    async with make_client(fake, max_response_bytes=1024 * 1024) as client:
        with pytest.raises(ResponseFormatError, match="cap"):
            await client.get()


async def test_redirects_are_not_followed(fake: FakeOpenRouter) -> None:
    """A 302 to another host is an error, and the key is never sent to that host."""
    fake.script("redirect")
    async with make_client(fake) as client:
        with pytest.raises(ResponseFormatError, match="redirect"):
            await client.get()
    assert len(fake.requests) == 1


async def test_closed_client_refuses_reuse(fake: FakeOpenRouter) -> None:
    """After close, every call raises ClientClosedError and nothing is sent."""
    client = make_client(fake)
    async with client:
        pass
    assert client.closed
    with pytest.raises(ClientClosedError):
        await client.get()
    with pytest.raises(ClientClosedError):
        async with client:
            pass
    assert fake.requests == []


async def test_borrowed_session_is_not_closed(fake: FakeOpenRouter) -> None:
    """A caller's aiohttp session is used and left open."""
    async with aiohttp.ClientSession() as session:
        async with make_client(fake, session=session) as client:
            await client.get()
        assert not session.closed
        async with make_client(fake, session=session) as client:
            await client.get(source="openrouter")
    assert len(fake.requests) == 2


async def test_client_without_context_manager_opens_lazily(fake: FakeOpenRouter) -> None:
    """get() works before `async with`; aclose() releases the session."""
    client = make_client(fake)
    page = await client.get()
    await client.aclose()
    assert page.items
    assert client.closed


def test_key_and_base_url_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The key and base URL default to $OPENROUTER_API_KEY and $OPENROUTER_BASE_URL."""
    monkeypatch.setenv("OPENROUTER_API_KEY", CANARY_KEY)
    monkeypatch.setenv("OPENROUTER_BASE_URL", "http://127.0.0.1:9/api/v1/")
    client = BenchmarksClient(cache=None)
    assert client.base_url == "http://127.0.0.1:9/api/v1"
    assert client.request_for(Query()).headers["Authorization"] == f"Bearer {CANARY_KEY}"
    assert CANARY_KEY not in repr(client)


def test_missing_key_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """No key anywhere raises ConfigurationError (a ValueError) naming the variable."""
    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="OPENROUTER_API_KEY"):
        BenchmarksClient()


@pytest.mark.parametrize("url", ["http://example.com/api/v1", "http://10.0.0.1/api/v1"])
def test_plain_http_to_a_remote_host_is_refused(url: str) -> None:
    """The key is not sent in clear text off the machine unless explicitly allowed."""
    with pytest.raises(ConfigurationError, match="plain http"):
        BenchmarksClient(CANARY_KEY, base_url=url)
    client = BenchmarksClient(CANARY_KEY, base_url=url, allow_insecure_http=True, cache=None)
    assert client.base_url == url


def test_key_with_control_characters_is_refused_without_echo() -> None:
    """A key with a newline is refused, and the message does not contain it."""
    with pytest.raises(ConfigurationError) as caught:
        BenchmarksClient(CANARY_KEY + "\n")
    assert CANARY_KEY not in str(caught.value)


async def test_attribution_headers_reach_the_server(fake: FakeOpenRouter) -> None:
    """HTTP-Referer and X-OpenRouter-Title are sent when configured."""
    client = make_client(fake, app_url="https://bot.example", app_title="Best Model Bot")
    request = client.request_for(Query())
    assert request.headers["HTTP-Referer"] == "https://bot.example"
    assert request.headers["X-OpenRouter-Title"] == "Best Model Bot"
    assert CANARY_KEY not in repr(request)
    async with client:
        await client.get()


async def test_canary_key_never_appears_in_reprs_errors_or_logs(
    fake: FakeOpenRouter, caplog: pytest.LogCaptureFixture
) -> None:
    """Across successes, retries and every error kind, the key shows up in no repr, error or log."""
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    fake.script(503, "reset", 401, 400, "malformed", "html502", 429, 429, 429, 429)
    async with make_client(fake) as client:
        seen.append(repr(client))
        for _ in range(6):
            try:
                page = await client.get(source="design-arena", max_results=2)
                seen.extend([repr(page), str(page), repr(page.items), repr(page.query)])
            except Exception as error:  # noqa: BLE001 - every kind is inspected
                seen.extend([repr(error), str(error), repr(error.__dict__)])
        seen.append(repr(client.stats))
        seen.append(repr(client.request_for(Query())))
    seen.extend(record.getMessage() for record in caplog.records)
    seen.extend(str(record.args) for record in caplog.records)
    assert len(seen) > 10
    assert not [text for text in seen if CANARY_KEY in text]


async def test_cancelling_a_call_cancels_cleanly(fake: FakeOpenRouter) -> None:
    """Cancelling a call in flight raises CancelledError and leaves the client usable."""
    fake.script({"fault": "timeout", "delay": 5})
    async with make_client(fake) as client:
        task = asyncio.create_task(client.get(source="openrouter"))
        for _ in range(500):  # bounded: the request reaches the fake within milliseconds
            if fake.requests:
                break
            await asyncio.sleep(0.01)
        assert fake.requests
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        page = await client.get(source="openrouter")
    assert page.items


async def test_fetched_at_comes_from_the_injected_clock(
    fake: FakeOpenRouter, fake_time: FakeTime
) -> None:
    """Page.fetched_at is the client's wall clock at the time of the answer."""
    async with make_client(fake, clock=fake_time.time) as client:
        page = await client.get()
    assert page.fetched_at == datetime.fromtimestamp(fake_time.now, UTC)


@pytest.fixture
def self_signed(tmp_path: Path) -> ssl.SSLContext:
    """A server TLS context with a fresh self-signed certificate for 127.0.0.1."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("needs the openssl command to make a certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(  # noqa: S603 - fixed arguments, a local tool
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


async def _tls_server(context: ssl.SSLContext, body: bytes) -> tuple[web.AppRunner, str]:
    async def benchmarks(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_get("/api/v1/benchmarks", benchmarks)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"https://127.0.0.1:{port}/api/v1"


async def test_tls_certificates_are_verified_by_default(
    fake: FakeOpenRouter, self_signed: ssl.SSLContext
) -> None:
    """An untrusted certificate fails the call; only an explicit verify_tls=False gets through."""
    runner, url = await _tls_server(self_signed, orjson.dumps(fake.payload({})))
    try:
        async with BenchmarksClient(
            CANARY_KEY, base_url=url, cache=None, quota=None, retry=RetryPolicy.never()
        ) as client:
            with pytest.raises(TransportError, match=r"(?i)certificate"):
                await client.get()
        async with BenchmarksClient(
            CANARY_KEY, base_url=url, cache=None, quota=None, verify_tls=False
        ) as client:
            page = await client.get()
        assert page.items
    finally:
        await runner.cleanup()


def test_turning_tls_verification_off_is_warned(caplog: pytest.LogCaptureFixture) -> None:
    """verify_tls=False logs a warning naming the host (never the key); a non-bool is refused."""
    caplog.set_level(logging.WARNING, logger="openrouter_bench")
    BenchmarksClient(CANARY_KEY, base_url="https://api.example", cache=None, verify_tls=False)
    messages = [record.getMessage() for record in caplog.records]
    assert any("verification is OFF for api.example" in message for message in messages)
    assert not [message for message in messages if CANARY_KEY in message]
    with pytest.raises(ConfigurationError):
        BenchmarksClient(CANARY_KEY, cache=None, verify_tls="no")  # type: ignore[arg-type]


# --- every option checked at construction --------------------------------------------


def option_of(name: str, value: object) -> dict[str, Any]:
    """One keyword option, typed loosely: the point is to pass what the signature forbids."""
    return {name: value}


@pytest.mark.parametrize("option", ["app_title", "app_url"])
@pytest.mark.parametrize("value", ["Bot\r\nX-Injected: 1", "bot\x00", "bot \u2603", 7])
def test_attribution_headers_aiohttp_would_refuse_are_refused_at_construction(
    option: str, value: object
) -> None:
    """A header value with a line break, a control or a non-Latin-1 character fails at once."""
    with pytest.raises(ConfigurationError, match=f"^{option} "):
        BenchmarksClient(CANARY_KEY, cache=None, **option_of(option, value))


def test_attribution_headers_have_length_limits() -> None:
    """A title past 256 characters or a URL past 2048 is refused, naming the option."""
    with pytest.raises(ConfigurationError, match="app_title must be at most 256"):
        BenchmarksClient(CANARY_KEY, cache=None, app_title="t" * 257)
    with pytest.raises(ConfigurationError, match="app_url must be at most 2048"):
        BenchmarksClient(CANARY_KEY, cache=None, app_url="https://x.example/" + "p" * 2048)


@pytest.mark.parametrize(
    ("categories", "words"),
    [
        ("cli-agent", "must be a list of strings, not str"),
        (["ok", "a,b"], "without a comma"),
        (["ok", ""], "non-empty"),
        (["line\nbreak"], "cannot be sent as an HTTP header"),
        ([3], "must be a string"),
        (["c"] * 33, "at most 32"),
        (None, "must be a list of strings"),
    ],
)
def test_bad_app_categories_are_refused(categories: object, words: str) -> None:
    """app_categories is a short list of short header-safe names without commas."""
    with pytest.raises(ConfigurationError, match=words):
        BenchmarksClient(CANARY_KEY, cache=None, app_categories=categories)  # type: ignore[arg-type]


def test_good_app_categories_travel_joined() -> None:
    """A list or tuple of categories is sent as one comma-separated header."""
    client = BenchmarksClient(CANARY_KEY, cache=None, app_categories=["cli-agent", "programming"])
    request = client.request_for(Query())
    assert request.headers["X-OpenRouter-Categories"] == "cli-agent,programming"


@pytest.mark.parametrize(
    "key",
    [CANARY_KEY + "é", CANARY_KEY + "\u2603", "sk " + CANARY_KEY, CANARY_KEY + "\x7f", 12345],
)
def test_a_key_that_cannot_be_a_header_is_refused_without_echo(key: object) -> None:
    """A key with a non-ASCII character, a space or DEL (or not a string) fails at construction."""
    with pytest.raises(ConfigurationError, match="api_key") as caught:
        BenchmarksClient(key, cache=None)  # type: ignore[arg-type]
    assert CANARY_KEY not in str(caught.value)
    assert CANARY_KEY[10:30] not in repr(caught.value)


def test_a_key_longer_than_any_real_one_is_refused() -> None:
    """A 10 kB key is not a key (and would not fit a proxy's header limit)."""
    with pytest.raises(ConfigurationError, match="api_key must be at most 512 characters"):
        BenchmarksClient("k" * 10_000, cache=None)


@pytest.mark.parametrize(
    ("option", "value"),
    [
        (option, value)
        for option in ("ttl", "stale_if_error", "timeout", "connect_timeout")
        for value in (float("inf"), float("nan"), 10**400, True, "60", -1)
    ],
)
def test_bad_durations_are_configuration_errors_naming_the_option(
    option: str, value: object
) -> None:
    """Infinite, NaN, astronomically large, bool, text or negative durations are refused."""
    with pytest.raises(ConfigurationError, match=f"^{option} must be"):
        BenchmarksClient(CANARY_KEY, cache=None, **option_of(option, value))


@pytest.mark.parametrize(
    ("option", "value", "words"),
    [
        ("max_response_bytes", 10**12, "at most"),
        ("max_response_bytes", 100, "at least 1024"),
        ("max_response_bytes", "big", "whole number"),
    ],
)
def test_bad_counts_are_configuration_errors_naming_the_option(
    option: str, value: object, words: str
) -> None:
    """Counts are whole numbers within sane bounds."""
    with pytest.raises(ConfigurationError, match=f"^{option} must be .*{words}"):
        BenchmarksClient(CANARY_KEY, cache=None, **option_of(option, value))


@pytest.mark.parametrize(
    ("option", "value", "words"),
    [
        ("max_entries", 10**12, "at most"),
        ("history", 10**6, "at most 1000"),
        ("history", 0, "at least 1"),
    ],
)
def test_bad_cache_counts_are_configuration_errors_naming_the_option(
    option: str, value: object, words: str
) -> None:
    """The cache policy's counts (given to the client in cache_policy) are within sane bounds."""
    with pytest.raises(ConfigurationError, match=f"^{option} must be .*{words}"):
        BenchmarksClient(
            CANARY_KEY, cache=None, cache_policy=CachePolicy(**option_of(option, value))
        )


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"retry": 5}, "retry must be a RetryPolicy or None"),
        ({"hooks": object()}, "hooks must be a ClientHooks or None"),
        ({"session": "session"}, "session must be a ClientSession or None"),
        ({"clock": 1.0}, "clock must be callable"),
        ({"sleep": None}, "sleep must be callable"),
        ({"allow_insecure_http": "yes"}, "allow_insecure_http must be True or False"),
        ({"base_url": 8080}, "base_url must be a string"),
        ({"base_url": "http://127.0.0.1:99999/api/v1"}, "malformed host or port"),
        ({"base_url": "http://127.0.0.1/api\n/v1"}, "white space or control characters"),
        ({"cache": "redis://127.0.0.1:port/0"}, "malformed host or port"),
        ({"cache": "redis://user:s3cret@[::1/0"}, "malformed host or port"),
        ({"quota": "redis://127.0.0.1:70000/0"}, "malformed host or port"),
    ],
)
def test_wrong_kinds_of_option_are_refused_at_construction(
    options: dict[str, Any], words: str
) -> None:
    """An option of the wrong kind fails at construction, not at the first call."""
    with pytest.raises(ConfigurationError, match=words) as caught:
        BenchmarksClient(CANARY_KEY, **options)
    assert "s3cret" not in str(caught.value)


async def test_a_bad_question_is_raised_where_the_call_is_awaited(fake: FakeOpenRouter) -> None:
    """get(...) with a bad query returns a coroutine that raises when awaited, not before."""
    async with make_client(fake) as client:
        pending = client.get(max_results=0)
        task = asyncio.ensure_future(pending)
        with pytest.raises(InvalidQueryError, match="max_results"):
            await task
    assert fake.requests == []


async def test_per_call_values_are_invalid_query_errors(fake: FakeOpenRouter) -> None:
    """max_age, refresh and a misspelt parameter are refused per call, before any request."""
    async with make_client(fake) as client:
        bad_ages: list[Any] = [float("inf"), float("nan"), 10**400, -1, "600", True]
        for max_age in bad_ages:
            with pytest.raises(InvalidQueryError, match="max_age") as caught:
                await client.get(max_age=max_age)
            assert caught.value.parameter == "max_age"
        with pytest.raises(InvalidQueryError, match="refresh must be True or False"):
            await client.get(refresh="no")  # type: ignore[arg-type]
        with pytest.raises(InvalidQueryError, match="did you mean 'source'"):
            await client.get(sourc="openrouter")
        with pytest.raises(InvalidQueryError, match="did you mean 'source'"):
            await client.history(sorce="openrouter")
        with pytest.raises(InvalidQueryError, match="expected an iterable of queries, got int"):
            await client.fan_out(3)  # type: ignore[arg-type]
        with pytest.raises(ConfigurationError, match="concurrency must be at most 1000"):
            await client.fan_out([Query()], concurrency=10**6)
        with pytest.raises(ConfigurationError, match="every must be"):
            client.watch(every=float("inf"))
    assert fake.requests == []


@pytest.mark.parametrize("key", ["k", "a", "test"])
async def test_a_short_test_key_leaves_the_data_alone(fake: FakeOpenRouter, key: str) -> None:
    """A key too short to be real (as tests use) is not scrubbed out of the data it appears in."""
    async with BenchmarksClient(key, base_url=fake.url, quota=None, cache=None) as client:
        page = await client.get(source="openrouter")
    assert page.meta.task_type is None
    assert unstructure_page(page) == fake.payload({"source": "openrouter"})
