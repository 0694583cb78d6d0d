"""The wire format, tested on values and bytes: base URLs, requests, Retry-After, responses."""

from __future__ import annotations

import ast
import inspect
import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from multidict import CIMultiDict, CIMultiDictProxy

from openrouter_bench import wire
from openrouter_bench._checks import MAX_SECONDS
from openrouter_bench._text import REDACTED
from openrouter_bench._version import __version__
from openrouter_bench.errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    NotFoundError,
    PaymentRequiredError,
    RateLimitError,
    ResponseFormatError,
    ServerError,
    is_transient,
)
from openrouter_bench.models import (
    ArtificialAnalysisItem,
    DesignArenaItem,
    Page,
    SearchEvalItem,
    UnknownItem,
)
from openrouter_bench.query import Query
from openrouter_bench.wire import (
    _EXCERPT_CHARS,
    DEFAULT_BASE_URL,
    Request,
    _parse_retry_after,
    build_request,
    check_base_url,
    credential_forms,
    read_response,
)

CANARY_KEY = "sk-or-v1-canary-wire-5f3c9a"
NOW = datetime(2026, 6, 3, 12, 0, 0, tzinfo=UTC)
QUERY = Query(source="design-arena", category="gamedev")

NGINX_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)


def _error_body(status: int, message: str, metadata: object = None) -> bytes:
    return orjson.dumps(
        {
            "error": {"code": status, "message": message, "metadata": metadata},
            "openrouter_metadata": None,
            "user_id": None,
        }
    )


def _read_error(
    status: int,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    secrets: tuple[str, ...] = (),
) -> BaseException:
    with pytest.raises(Exception) as caught:  # noqa: PT011 - each test checks the class itself
        read_response(status, headers or {}, body, query=QUERY, fetched_at=NOW, secrets=secrets)
    return caught.value


SECRETS = credential_forms(CANARY_KEY)


def _texts_of(error: BaseException) -> list[str]:
    """Every text an error shows: str, repr, message and each attribute (metadata flattened)."""
    texts = [str(error), repr(error)]
    texts += [repr(value) for value in vars(error).values()]
    texts += [str(value) for value in vars(error).values()]
    return texts


# --- sans-I/O ----------------------------------------------------------------


def test_wire_imports_no_http_library() -> None:
    """wire is pure: it imports neither aiohttp nor asyncio."""
    tree = ast.parse(inspect.getsource(wire))
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        (node.module or "").split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
    }
    assert "aiohttp" not in imported
    assert "asyncio" not in imported


# --- check_base_url ----------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (DEFAULT_BASE_URL, DEFAULT_BASE_URL),
        ("https://openrouter.ai/api/v1/", "https://openrouter.ai/api/v1"),
        ("https://proxy.internal:8443/or/api/v1//", "https://proxy.internal:8443/or/api/v1"),
        ("https://example.com", "https://example.com"),
        ("https://example.com/", "https://example.com"),
    ],
)
def test_https_urls_are_accepted_without_trailing_slash(given: str, expected: str) -> None:
    """https URLs are accepted and lose their trailing slashes."""
    assert check_base_url(given) == expected


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/api/v1",
        "http://127.0.0.2/api/v1",
        "http://localhost:9000/api/v1",
        "http://LOCALHOST/api/v1",
        "http://fake.localhost/api/v1",
        "http://[::1]:8080/api/v1",
    ],
)
def test_plain_http_is_accepted_on_loopback(url: str) -> None:
    """Plain http is fine when the key never leaves the machine."""
    assert check_base_url(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "http://openrouter.ai/api/v1",
        "http://10.0.0.5/api/v1",
        "http://0.0.0.0/api/v1",
        "http://127.0.0.1.example.com/api/v1",
        "http://localhost.example.com/api/v1",
        "http://[2001:db8::1]/api/v1",
    ],
)
def test_plain_http_elsewhere_is_refused(url: str) -> None:
    """Plain http to a host off the machine is refused: the key would travel in clear text."""
    with pytest.raises(ConfigurationError, match="plain http"):
        check_base_url(url)


def test_plain_http_elsewhere_can_be_allowed() -> None:
    """allow_insecure_http lets a caller opt in to plain http anywhere."""
    url = "http://bench-proxy.lan/api/v1/"
    assert check_base_url(url, allow_insecure_http=True) == "http://bench-proxy.lan/api/v1"


@pytest.mark.parametrize(
    "url",
    [
        f"https://user:{CANARY_KEY}@openrouter.ai/api/v1",
        f"https://{CANARY_KEY}@openrouter.ai/api/v1",
        f"https://:{CANARY_KEY}@openrouter.ai/api/v1",
        f"http://bearer:{CANARY_KEY}@127.0.0.1:8080/api/v1",
    ],
)
def test_credentials_in_the_url_are_refused_without_echo(url: str) -> None:
    """A URL carrying credentials is refused, and the error does not repeat them."""
    with pytest.raises(ConfigurationError) as caught:
        check_base_url(url)
    assert "credentials" in str(caught.value)
    assert CANARY_KEY not in str(caught.value)
    assert CANARY_KEY not in repr(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://openrouter.ai/api/v1",
        "openrouter.ai/api/v1",
        "https://",
        "",
        "https://openrouter.ai/api/v1?key=x",
        "https://openrouter.ai/api/v1#frag",
        "http://[::1",
    ],
)
def test_unusable_urls_are_refused(url: str) -> None:
    """Other schemes, missing hosts, query strings, fragments and malformed hosts are refused."""
    with pytest.raises(ConfigurationError):
        check_base_url(url)


def test_malformed_url_error_does_not_echo_it() -> None:
    """A URL that cannot even be parsed is refused without repeating what it held."""
    with pytest.raises(ConfigurationError) as caught:
        check_base_url(f"https://user:{CANARY_KEY}@[::1/api")
    assert CANARY_KEY not in str(caught.value)
    assert caught.value.__cause__ is None


def test_configuration_error_is_a_value_error() -> None:
    """A bad base URL can be caught as ValueError."""
    with pytest.raises(ValueError, match="http"):
        check_base_url("gopher://example.com")


# --- build_request -----------------------------------------------------------


def _request(**kwargs: Any) -> Request:
    return build_request(QUERY, base_url=DEFAULT_BASE_URL, api_key=CANARY_KEY, **kwargs)


def test_request_url_and_params() -> None:
    """The request targets {base}/benchmarks with the query's canonical params."""
    request = _request()
    assert request.method == "GET"
    assert request.url == "https://openrouter.ai/api/v1/benchmarks"
    assert request.params == {"source": "design-arena", "arena": "models", "category": "gamedev"}
    assert list(request.params) == ["source", "arena", "category"]


def test_request_for_the_default_query_has_no_params() -> None:
    """The default query sends no query string."""
    request = build_request(Query(), base_url="http://127.0.0.1:1/api/v1", api_key=CANARY_KEY)
    assert request.params == {}
    assert request.url == "http://127.0.0.1:1/api/v1/benchmarks"


def test_request_headers_without_attribution() -> None:
    """Auth, Accept and User-Agent are always sent; attribution headers only when given."""
    assert _request().headers == {
        "Authorization": f"Bearer {CANARY_KEY}",
        "Accept": "application/json",
        "User-Agent": f"openrouter-bench/{__version__}",
    }


def test_request_attribution_headers() -> None:
    """App URL, title and categories become the optional OpenRouter attribution headers."""
    headers = _request(
        app_url="https://bot.example",
        app_title="Bench Bot",
        app_categories=("cli-agent", "programming-app"),
    ).headers
    assert headers["HTTP-Referer"] == "https://bot.example"
    assert headers["X-OpenRouter-Title"] == "Bench Bot"
    assert headers["X-OpenRouter-Categories"] == "cli-agent,programming-app"


def test_empty_attribution_values_are_not_sent() -> None:
    """Empty strings and an empty category tuple add no header."""
    headers = _request(app_url="", app_title="", app_categories=()).headers
    assert not {"HTTP-Referer", "X-OpenRouter-Title", "X-OpenRouter-Categories"} & set(headers)


def test_request_repr_hides_the_key() -> None:
    """The request's repr leaves out the headers, so the key never reaches a log."""
    request = _request(app_title="Bench Bot")
    assert CANARY_KEY not in repr(request)
    assert CANARY_KEY not in str(request)
    assert "benchmarks" in repr(request)


def test_safe_headers_mask_the_key() -> None:
    """safe_headers keeps every header but masks Authorization."""
    request = _request(app_title="Bench Bot")
    safe = request.safe_headers
    assert safe["Authorization"] == "<redacted>"
    assert safe["X-OpenRouter-Title"] == "Bench Bot"
    assert set(safe) == set(request.headers)
    assert CANARY_KEY not in repr(safe)


def test_safe_headers_mask_any_casing() -> None:
    """Masking does not depend on the header name's case."""
    request = Request(url="u", params={}, headers={"authorization": f"Bearer {CANARY_KEY}"})
    assert request.safe_headers == {"authorization": "<redacted>"}


# --- _parse_retry_after -------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("30", 30.0),
        ("0", 0.0),
        (" 12 ", 12.0),
        ("2.5", 2.5),
        ("-3", 0.0),
        ("-0.5", 0.0),
    ],
)
def test_retry_after_seconds(value: str, expected: float) -> None:
    """Delta seconds are read as floats; a negative delay means no wait."""
    assert _parse_retry_after(value, now=NOW) == expected


def test_retry_after_http_date_in_the_future() -> None:
    """An HTTP date is turned into the seconds from now until then."""
    later = format_datetime(NOW + timedelta(seconds=90), usegmt=True)
    assert _parse_retry_after(later, now=NOW) == 90.0


def test_retry_after_http_date_in_the_past() -> None:
    """A date already past means retry at once (0), not a negative wait."""
    earlier = format_datetime(NOW - timedelta(hours=1), usegmt=True)
    assert _parse_retry_after(earlier, now=NOW) == 0.0


def test_retry_after_http_date_without_zone_is_utc() -> None:
    """An HTTP date with a -0000 zone is read as UTC."""
    assert _parse_retry_after("Wed, 03 Jun 2026 12:00:30 -0000", now=NOW) == 30.0


def test_retry_after_http_date_with_offset() -> None:
    """A date with a numeric offset is compared in absolute time."""
    assert _parse_retry_after("Wed, 03 Jun 2026 14:01:00 +0200", now=NOW) == 60.0


@pytest.mark.parametrize(
    "value",
    [None, "", " ", "soon", "NaN", "nan", "inf", "-inf", "Infinity", "12s", "Wed, 99", "١٢", "1_0"],
)
def test_retry_after_unusable_values_are_ignored(value: str | None) -> None:
    """Missing, empty, garbage, non-ASCII digits and non-finite words give None."""
    assert _parse_retry_after(value, now=NOW) is None


@pytest.mark.parametrize(
    "value",
    [
        "1e400",
        "9" * 5000,
        "1" + "0" * 400,
        "1e12",
        str(10**12),
        "Fri, 31 Dec 9999 23:59:59 GMT",
        "Fri, 31 Dec 9999 23:59:59 -2359",
    ],
)
def test_retry_after_too_long_to_hold_is_the_longest_wait(value: str) -> None:
    """A number or date past any use reads as a finite wait of at most 100 years, never an error."""
    seconds = _parse_retry_after(value, now=NOW)
    assert seconds is not None
    assert 0 < seconds <= MAX_SECONDS
    assert math.isfinite(seconds)


@pytest.mark.parametrize(
    "value", ["Mon, 01 Jan 0001 00:00:00 +2359", "Mon, 01 Jan 0001 00:00:00 GMT", "-1e400"]
)
def test_retry_after_far_in_the_past_is_no_wait(value: str) -> None:
    """A date at the start of the calendar, or a huge negative, is no wait at all."""
    assert _parse_retry_after(value, now=NOW) in (0.0, None)


@given(st.text())
def test_retry_after_never_raises_on_any_text(value: str) -> None:
    """Any text at all gives None or a finite wait from 0 to 100 years."""
    seconds = _parse_retry_after(value, now=NOW)
    assert seconds is None or 0.0 <= seconds <= MAX_SECONDS


@given(st.floats(allow_nan=True, allow_infinity=True) | st.integers().map(float))
def test_retry_after_never_raises_on_any_number(number: float) -> None:
    """Any float printed as Retry-After gives None (NaN, inf) or a wait from 0 to 100 years."""
    seconds = _parse_retry_after(repr(number), now=NOW)
    if math.isfinite(number):
        assert seconds == min(MAX_SECONDS, max(0.0, number))
    else:
        assert seconds is None


@given(st.datetimes(timezones=st.timezones() | st.just(UTC)))
def test_retry_after_any_http_date_is_a_bounded_wait(when: datetime) -> None:
    """An HTTP date anywhere in the calendar, any zone, gives a wait from 0 to 100 years."""
    try:
        text = format_datetime(when.astimezone(UTC), usegmt=True)
    except (OverflowError, ValueError):
        return  # not representable in UTC: no header could say it
    seconds = _parse_retry_after(text, now=NOW)
    assert seconds is not None
    assert 0.0 <= seconds <= MAX_SECONDS


# --- read_response: 200 ------------------------------------------------------


def _page_document() -> dict[str, Any]:
    pricing = {"prompt": "0.0000025", "completion": "0.00001"}
    return {
        "data": [
            {
                "source": "artificial-analysis",
                "model_permaslug": "openai/gpt-4o",
                "display_name": "GPT-4o",
                "intelligence_index": 41.3,
                "coding_index": 33.0,
                "agentic_index": None,
                "pricing": pricing,
            },
            {
                "source": "design-arena",
                "model_permaslug": "anthropic/claude-sonnet-4",
                "display_name": "Claude Sonnet 4",
                "arena": "models",
                "category": "gamedev",
                "elo": 1312.5,
                "win_rate": 64.2,
                "avg_generation_time_ms": None,
                "tournament_stats": {
                    "first_place": 12,
                    "second_place": 7,
                    "third_place": None,
                    "fourth_place": 2,
                    "total": 30,
                },
                "pricing": None,
            },
            {
                "source": "openrouter",
                "model_permaslug": "openai/gpt-5",
                "display_name": "GPT-5",
                "benchmark_type": "search_hle",
                "primary_metric": "accuracy",
                "primary_score": 0.41,
                "avg_cost_per_task": 0.012,
                "avg_latency_per_task_ms": 8300,
                "search_engine": "exa",
                "search_surface": "server-tool",
                "total_tasks": 500,
                "last_run_timestamp": "2026-05-30T08:00:00Z",
            },
            {"source": "future-leaderboard", "model_permaslug": "x/y", "score": 3},
        ],
        "meta": {
            "as_of": "2026-06-03T12:00:00Z",
            "version": "v1",
            "source": None,
            "source_url": None,
            "citation": None,
            "model_count": 4,
            "task_type": None,
        },
    }


def test_ok_response_becomes_a_page() -> None:
    """A 200 with the contract's document becomes a Page of typed items for the query."""
    page = read_response(
        200,
        {"content-type": "application/json"},
        orjson.dumps(_page_document()),
        query=QUERY,
        fetched_at=NOW,
    )
    assert isinstance(page, Page)
    assert page.query == QUERY
    assert page.fetched_at == NOW
    assert (page.from_cache, page.stale) == (False, False)
    assert page.meta.as_of == datetime(2026, 6, 3, 12, tzinfo=UTC)
    assert [type(item) for item in page.items] == [
        ArtificialAnalysisItem,
        DesignArenaItem,
        SearchEvalItem,
        UnknownItem,
    ]
    first = page.items[0]
    assert isinstance(first, ArtificialAnalysisItem)
    assert first.pricing is not None
    assert first.pricing.prompt == Decimal("0.0000025")


def test_ok_empty_page() -> None:
    """A 200 with no items is an empty page, not an error."""
    document = _page_document() | {"data": []}
    page = read_response(200, {}, orjson.dumps(document), query=QUERY, fetched_at=NOW)
    assert len(page) == 0


@pytest.mark.parametrize(
    "body",
    [b"", b"<html>oops</html>", b'{"data": [', b"[]", b'{"data": []}'],
    ids=["empty", "html", "truncated", "array", "no-meta"],
)
def test_ok_status_with_a_bad_body_is_a_format_error(body: bytes) -> None:
    """A 200 that is not the document raises ResponseFormatError, never a half page."""
    error = _read_error(200, body)
    assert isinstance(error, ResponseFormatError)
    assert not is_transient(error)


def test_ok_status_with_a_wrong_field_names_the_path() -> None:
    """A malformed item is reported with its JSON path."""
    document = _page_document()
    document["data"][1]["elo"] = "high"
    error = _read_error(200, orjson.dumps(document))
    assert isinstance(error, ResponseFormatError)
    assert error.path is not None
    assert error.path.startswith("data[1]")


# --- read_response: error statuses -------------------------------------------

STATUS_CLASSES = [
    (400, BadRequestError),
    (401, AuthenticationError),
    (402, PaymentRequiredError),
    (403, AuthenticationError),
    (404, NotFoundError),
    (408, APIError),
    (429, RateLimitError),
    (500, ServerError),
    (502, ServerError),
    (503, ServerError),
    (504, ServerError),
]


@pytest.mark.parametrize(("status", "cls"), STATUS_CLASSES)
def test_json_error_body(status: int, cls: type[APIError]) -> None:
    """The contract's JSON error body gives the right class, message, code and metadata."""
    body = _error_body(status, f"  problem number {status}  ", {"provider": "x"})
    error = _read_error(status, body)
    assert type(error) is cls
    assert isinstance(error, APIError)
    assert error.status == status
    assert error.message == f"problem number {status}"
    assert error.code == status
    assert error.metadata == {"provider": "x"}
    assert error.body_excerpt == ""
    assert error.attempts == 0
    assert str(error) == f"HTTP {status}: problem number {status}"


@pytest.mark.parametrize(
    "body",
    [
        # The real endpoint's answer without credentials: no optional key at all.
        b'{"error":{"message":"No cookie auth credentials found","code":401}}',
        b'{"error":{"code":401,"message":"No cookie auth credentials found","metadata":null}}',
        b'{"error":{"message":"No cookie auth credentials found","code":401},"user_id":null}',
        b'{"error":{"message":"No cookie auth credentials found","code":401},'
        b'"openrouter_metadata":{"region":"x"}}',
    ],
)
def test_error_bodies_without_the_optional_keys(body: bytes) -> None:
    """A body with only error.message and error.code (or some of the optional keys) reads whole."""
    error = _read_error(401, body, {"Content-Type": "application/json"})
    assert type(error) is AuthenticationError
    assert error.message == "No cookie auth credentials found"
    assert error.code == 401
    assert error.metadata is None
    assert error.error_type is None
    assert error.body_excerpt == ""
    assert str(error) == "HTTP 401: No cookie auth credentials found"


@pytest.mark.parametrize(("status", "cls"), STATUS_CLASSES)
def test_a_bare_error_body_gives_every_status_its_class(status: int, cls: type[APIError]) -> None:
    """Every status reads a body holding only message and code, keeping both."""
    body = orjson.dumps({"error": {"message": f"bare {status}", "code": status}})
    error = _read_error(status, body)
    assert type(error) is cls
    assert isinstance(error, APIError)
    assert (error.message, error.code, error.metadata) == (f"bare {status}", status, None)


def test_a_429_names_its_error_type() -> None:
    """A 429 body's error.metadata.error_type lands on the RateLimitError, with the metadata."""
    body = _error_body(429, "Rate limit exceeded", {"error_type": "rate_limit_exceeded"})
    error = _read_error(429, body, {"Retry-After": "3"})
    assert isinstance(error, RateLimitError)
    assert error.error_type == "rate_limit_exceeded"
    assert error.metadata == {"error_type": "rate_limit_exceeded"}
    assert error.retry_after == 3.0


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        (None, None),
        ({}, None),
        ({"error_type": 7}, None),
        ({"error_type": ["rate_limit_exceeded"]}, None),
        ({"error_type": "   "}, None),
        ({"error_type": "quota\n\x1b[31mexceeded"}, "quota [31mexceeded"),
        ({"error_type": "t" * 5000}, "t" * 59 + "…"),
        ({"error_type": f"leak {CANARY_KEY}"}, f"leak {REDACTED}"),
    ],
)
def test_an_error_type_is_cleaned_like_any_server_text(
    metadata: object, expected: str | None
) -> None:
    """error_type is a short single line without the key, or None when it is not a text."""
    error = _read_error(429, _error_body(429, "slow down", metadata), secrets=SECRETS)
    assert isinstance(error, RateLimitError)
    assert error.error_type == expected
    assert all(CANARY_KEY not in text for text in _texts_of(error))


@pytest.mark.parametrize(("status", "cls"), STATUS_CLASSES)
def test_html_proxy_page(status: int, cls: type[APIError]) -> None:
    """An HTML page from a proxy: its title is the message, a tag-free excerpt is kept."""
    body = (
        f"<!DOCTYPE html><html><head><TITLE> {status} Proxy  Trouble </TITLE></head>"
        f"<body><h1>Upstream said {status}</h1><p>Try again later.</p></body></html>"
    ).encode()
    error = _read_error(status, body, {"Content-Type": "text/html"})
    assert type(error) is cls
    assert isinstance(error, APIError)
    assert error.message == f"{status} Proxy Trouble"
    assert error.code is None
    assert error.metadata is None
    assert "<" not in error.body_excerpt
    assert f"Upstream said {status} Try again later." in error.body_excerpt


@pytest.mark.parametrize(("status", "cls"), STATUS_CLASSES)
def test_empty_error_body(status: int, cls: type[APIError]) -> None:
    """An empty error body still gives the right class and a message saying it was empty."""
    error = _read_error(status)
    assert type(error) is cls
    assert isinstance(error, APIError)
    assert error.message.endswith("(empty body)")
    assert error.body_excerpt == ""


def test_nginx_page_message_and_excerpt() -> None:
    """A real-looking nginx 502 reads as '502 Bad Gateway' with a short plain-text excerpt."""
    error = _read_error(502, NGINX_502, {"Content-Type": "text/html", "Server": "nginx"})
    assert isinstance(error, ServerError)
    assert str(error) == "HTTP 502: 502 Bad Gateway"
    assert error.body_excerpt == "502 Bad Gateway 502 Bad Gateway nginx"
    assert is_transient(error)


def test_long_html_page_is_cut_short() -> None:
    """A big proxy page keeps at most _EXCERPT_CHARS of text and a 120-character title."""
    body = b"<html><title>" + b"T" * 500 + b"</title><body>" + b"word " * 5000 + b"</body></html>"
    error = _read_error(503, body)
    assert isinstance(error, ServerError)
    assert len(error.message) == 120
    assert len(error.body_excerpt) <= _EXCERPT_CHARS


def test_plain_text_body_becomes_the_excerpt() -> None:
    """A plain-text body keeps a standard reason as the message and the text as the excerpt."""
    error = _read_error(504, b"upstream request timeout")
    assert isinstance(error, ServerError)
    assert error.message == "gateway timeout"
    assert error.body_excerpt == "upstream request timeout"


def test_unlisted_status_has_a_generic_reason() -> None:
    """A status with no known reason still becomes an APIError with the body excerpt."""
    error = _read_error(418, b"short and stout")
    assert type(error) is APIError
    assert error.message == "error"
    assert error.body_excerpt == "short and stout"


def test_json_body_without_error_object_falls_back() -> None:
    """JSON that is not the contract's error body is treated like any other text."""
    error = _read_error(500, b'{"detail": "kaput"}')
    assert isinstance(error, ServerError)
    assert error.message == "internal server error"
    assert error.code is None
    assert "kaput" in error.body_excerpt


@pytest.mark.parametrize(
    "error_object",
    [
        {"code": True, "message": ""},
        {"code": "400", "message": 7},
        {"message": "   "},
    ],
)
def test_malformed_json_error_fields_are_not_trusted(error_object: dict[str, Any]) -> None:
    """A non-int code or a blank/non-string message is ignored in favour of the reason."""
    error = _read_error(400, orjson.dumps({"error": error_object}))
    assert isinstance(error, BadRequestError)
    assert error.code is None
    assert error.message == "bad request"


def test_truncated_json_error_body() -> None:
    """A cut-off JSON error body does not crash reading; it becomes the excerpt."""
    error = _read_error(500, b'{"error": {"code": 500, "mess')
    assert isinstance(error, ServerError)
    assert error.code is None
    assert error.body_excerpt.startswith('{"error"')


def test_invalid_utf8_error_body() -> None:
    """Undecodable bytes in an error body are replaced, not raised."""
    error = _read_error(502, b"\xff\xfe bad \xc3")
    assert isinstance(error, ServerError)
    assert "bad" in error.body_excerpt


def test_retry_after_seconds_header() -> None:
    """A 429's Retry-After in seconds lands on the error."""
    error = _read_error(429, _error_body(429, "slow down"), {"Retry-After": "17"})
    assert isinstance(error, RateLimitError)
    assert error.retry_after == 17.0


def test_retry_after_date_header() -> None:
    """A Retry-After HTTP date is measured from fetched_at."""
    when = format_datetime(NOW + timedelta(seconds=45), usegmt=True)
    error = _read_error(503, NGINX_502, {"retry-after": when})
    assert isinstance(error, ServerError)
    assert error.retry_after == 45.0


def test_no_retry_after_header() -> None:
    """Without Retry-After the error's retry_after is None."""
    error = _read_error(429, _error_body(429, "slow down"))
    assert isinstance(error, RateLimitError)
    assert error.retry_after is None


def test_only_allow_listed_headers_are_kept() -> None:
    """Error headers keep the explanatory ones, lower-cased; cookies and the rest are dropped."""
    headers = {
        "Content-Type": "application/json",
        "Retry-After": "5",
        "X-RateLimit-Remaining": "0",
        "CF-Ray": "8a1b2c3d",
        "Set-Cookie": f"session={CANARY_KEY}",
        "Authorization": f"Bearer {CANARY_KEY}",
        "X-Debug-Echo": CANARY_KEY,
    }
    error = _read_error(429, _error_body(429, "slow down"), headers)
    assert isinstance(error, APIError)
    assert error.headers == {
        "content-type": "application/json",
        "retry-after": "5",
        "x-ratelimit-remaining": "0",
        "cf-ray": "8a1b2c3d",
    }


def test_case_insensitive_multidict_headers() -> None:
    """aiohttp-style CIMultiDictProxy headers work, duplicates included."""
    raw: CIMultiDict[str] = CIMultiDict()
    raw.add("Set-Cookie", "a=1")
    raw.add("Set-Cookie", "b=2")
    raw.add("RETRY-AFTER", "3")
    raw.add("Content-Type", "application/json")
    error = _read_error(429, _error_body(429, "slow down"), CIMultiDictProxy(raw))  # type: ignore[arg-type]
    assert isinstance(error, RateLimitError)
    assert error.retry_after == 3.0
    assert "set-cookie" not in error.headers


def test_key_never_appears_in_an_error_from_a_response() -> None:
    """An error read from a response built with the key shows the key nowhere."""
    request = build_request(QUERY, base_url=DEFAULT_BASE_URL, api_key=CANARY_KEY)
    assert CANARY_KEY in request.headers["Authorization"]
    error = _read_error(401, _error_body(401, "No auth credentials found"), {"Vary": "x"})
    assert isinstance(error, AuthenticationError)
    for text in (str(error), repr(error), error.body_excerpt, repr(error.headers)):
        assert CANARY_KEY not in text


# --- read_response: neither page nor error -----------------------------------


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_redirect_is_a_format_error_naming_only_the_host(status: int) -> None:
    """A 3xx is not followed; the error names the Location's host and nothing else of it."""
    location = f"https://user:{CANARY_KEY}@login.example.net/path?token={CANARY_KEY}"
    error = _read_error(status, b"", {"Location": location})
    assert isinstance(error, ResponseFormatError)
    assert "login.example.net" in str(error)
    assert f"HTTP {status}" in str(error)
    assert CANARY_KEY not in str(error)
    assert "token" not in str(error)
    assert "/path" not in str(error)


def test_redirect_without_location() -> None:
    """A 3xx with no Location still fails clearly."""
    error = _read_error(302)
    assert isinstance(error, ResponseFormatError)
    assert "an unnamed location" in str(error)


@pytest.mark.parametrize("status", [204, 201, 100])
def test_other_non_error_statuses_are_format_errors(status: int) -> None:
    """A success or informational status other than 200 has no page and is not retried."""
    error = _read_error(status, b"")
    assert isinstance(error, ResponseFormatError)
    assert f"HTTP {status}" in str(error)
    assert not is_transient(error)


# --- read_response: server text is untrusted ----------------------------------


def test_credential_forms_are_the_header_and_the_bare_key() -> None:
    """What is redacted is every form the request carries the key in."""
    request = build_request(QUERY, base_url=DEFAULT_BASE_URL, api_key=CANARY_KEY)
    assert request.headers["Authorization"] in credential_forms(CANARY_KEY)
    assert CANARY_KEY in credential_forms(CANARY_KEY)


@pytest.mark.parametrize(
    "message",
    [
        CANARY_KEY,
        f"Bearer {CANARY_KEY}",
        f"bad key {CANARY_KEY[:10]}\n{CANARY_KEY[10:]} sent",
        f"key\u200b {CANARY_KEY[:5]}\u200b{CANARY_KEY[5:]}",
    ],
)
def test_a_json_error_echoing_the_key_is_redacted(message: str) -> None:
    """The key in a JSON error's message, bare, as a header, or split, is shown redacted."""
    body = _error_body(400, message, {"echo": message, "nested": [{"deep": message}]})
    error = _read_error(400, body, {"X-Request-Id": message}, secrets=SECRETS)
    assert REDACTED in error.message  # type: ignore[attr-defined]
    for text in _texts_of(error):
        assert CANARY_KEY not in text
        assert CANARY_KEY[10:] not in text


def test_a_megabyte_message_is_cut_to_a_few_hundred_characters() -> None:
    """A 1 MB error message becomes at most TEXT_LIMIT characters, ending in an ellipsis."""
    error = _read_error(500, _error_body(500, "A" * 1_000_000), secrets=SECRETS)
    assert isinstance(error, ServerError)
    assert len(error.message) <= 300
    assert error.message.endswith("…")


def test_forged_log_lines_and_escapes_are_flattened() -> None:
    """Newlines, ANSI escapes and bidi controls in a message become one plain line."""
    message = "oops\n2026-01-01 CRITICAL forged\r\n\x1b[2J\u202eevil\u2028more"
    error = _read_error(500, _error_body(500, message, {"m": message}))
    assert isinstance(error, ServerError)
    for text in (error.message, str(error.metadata)):
        assert not any(ch in text for ch in "\n\r\x1b\u202e\u2028")
    assert "CRITICAL forged" in error.message


def test_metadata_is_a_small_clean_copy() -> None:
    """Metadata keeps 3 levels, 16 values per level, 64 in all; strings are cleaned and cut."""
    deep: object = "bottom"
    for _ in range(50):
        deep = {"down": deep}
    metadata = {
        "error_type": "rate_limit_exceeded",
        "wide": list(range(10_000)),
        "long": "x" * 100_000,
        "deep": deep,
        f"{CANARY_KEY}\nkey": 1,
    }
    error = _read_error(429, _error_body(429, "slow", metadata), secrets=SECRETS)
    assert isinstance(error, RateLimitError)
    kept = error.metadata
    assert isinstance(kept, dict)
    assert kept["error_type"] == "rate_limit_exceeded"
    assert len(orjson.dumps(kept)) < 2_000
    assert kept["deep"] == {"down": {"down": "…"}}
    assert CANARY_KEY not in repr(kept)
    assert "\n" not in repr(kept).replace("\\n", "")


def test_an_html_title_and_excerpt_echoing_the_key_are_redacted() -> None:
    """A proxy page whose title and body echo the key, even as HTML entities, shows neither."""
    entities = "".join(f"&#{ord(ch)};" for ch in CANARY_KEY)
    body = (
        f"<html><title>denied {entities}</title><body>Bearer {CANARY_KEY}\n"
        f"<p>{CANARY_KEY}</p></body></html>"
    ).encode()
    error = _read_error(502, body, secrets=SECRETS)
    assert isinstance(error, ServerError)
    assert error.message == f"denied {REDACTED}"
    for text in _texts_of(error):
        assert CANARY_KEY not in text


def test_a_key_cut_in_half_by_the_scan_window_is_not_shown_in_part() -> None:
    """A key straddling the end of the bytes scanned for the excerpt leaves no half behind."""
    body = b"<b>" * (16 * 1024 // 3) + b" " + CANARY_KEY.encode() * 4
    error = _read_error(502, body, secrets=SECRETS)
    assert isinstance(error, ServerError)
    assert CANARY_KEY[:12] not in error.body_excerpt


def test_a_200_body_quoting_the_key_is_a_clean_format_error() -> None:
    """A 200 that is not JSON and echoes the key gives a ResponseFormatError without it."""
    body = f"Bearer {CANARY_KEY}\n2026-01-01 CRITICAL forged".encode()
    with pytest.raises(ResponseFormatError) as caught:
        read_response(200, {}, body, query=QUERY, fetched_at=NOW, secrets=SECRETS)
    for text in _texts_of(caught.value):
        assert CANARY_KEY not in text
        assert "\n" not in text


def test_a_redirect_to_a_malformed_host_is_a_format_error() -> None:
    """A Location that urlsplit cannot read (a broken IPv6 host) still fails cleanly."""
    error = _read_error(302, b"", {"Location": "http://[::1/x"})
    assert isinstance(error, ResponseFormatError)
    assert "an unnamed location" in str(error)


def test_kept_header_values_are_cleaned_and_cut() -> None:
    """A kept header's value is redacted of the key and cut to 200 characters."""
    headers = {"Server": f"{CANARY_KEY} " + "s" * 5000, "X-Request-Id": f"Bearer {CANARY_KEY}"}
    error = _read_error(500, b"", headers, secrets=SECRETS)
    assert isinstance(error, APIError)
    assert error.headers["x-request-id"] == REDACTED
    assert error.headers["server"].startswith(REDACTED)
    assert len(error.headers["server"]) <= 200


def test_a_long_retry_after_is_read_whole_though_shown_cut() -> None:
    """A 5000-digit Retry-After is parsed from the full value; the kept copy is cut for show."""
    error = _read_error(429, _error_body(429, "slow"), {"Retry-After": "9" * 5000})
    assert isinstance(error, RateLimitError)
    assert error.retry_after == MAX_SECONDS
    assert len(error.headers["retry-after"]) <= 200


@pytest.mark.parametrize("at", [150, 155, 159, 160, 161])
def test_a_200_body_with_the_key_across_the_quote_cut_shows_no_part_of_it(at: int) -> None:
    """A non-JSON 200 whose key straddles the quoted excerpt's end leaves no half key behind."""
    body = ("x" * at + CANARY_KEY + " tail").encode()
    with pytest.raises(ResponseFormatError) as caught:
        read_response(200, {}, body, query=QUERY, fetched_at=NOW, secrets=SECRETS)
    for text in _texts_of(caught.value):
        assert CANARY_KEY[:8] not in text
