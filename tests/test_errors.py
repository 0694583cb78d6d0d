"""The error tree: classes, status mapping, transience, and what str/repr show."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from openrouter_bench.errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    ConfigurationError,
    InvalidQueryError,
    NotFoundError,
    OpenRouterBenchError,
    PaymentRequiredError,
    QuotaExhaustedError,
    RateLimitError,
    RequestTimeoutError,
    ResponseFormatError,
    ServerError,
    TransportError,
    error_for_status,
    is_transient,
)

CANARY_KEY = "sk-or-v1-canary0123456789abcdef"


@pytest.mark.parametrize(
    ("child", "parent"),
    [
        (InvalidQueryError, OpenRouterBenchError),
        (InvalidQueryError, ValueError),
        (ConfigurationError, OpenRouterBenchError),
        (ConfigurationError, ValueError),
        (ClientClosedError, OpenRouterBenchError),
        (ClientClosedError, RuntimeError),
        (APIError, OpenRouterBenchError),
        (BadRequestError, APIError),
        (AuthenticationError, APIError),
        (PaymentRequiredError, APIError),
        (NotFoundError, APIError),
        (RateLimitError, APIError),
        (ServerError, APIError),
        (TransportError, OpenRouterBenchError),
        (RequestTimeoutError, TransportError),
        (RequestTimeoutError, TimeoutError),
        (ResponseFormatError, OpenRouterBenchError),
        (QuotaExhaustedError, OpenRouterBenchError),
        (OpenRouterBenchError, Exception),
    ],
)
def test_tree_subclass(child: type[BaseException], parent: type[BaseException]) -> None:
    """Each error sits where the tree in the module docstring draws it."""
    assert issubclass(child, parent)


@pytest.mark.parametrize(
    ("child", "unrelated"),
    [
        (APIError, ValueError),
        (TransportError, TimeoutError),
        (ResponseFormatError, ValueError),
        (QuotaExhaustedError, APIError),
        (RateLimitError, TransportError),
        (ServerError, TransportError),
    ],
)
def test_tree_keeps_branches_apart(
    child: type[BaseException], unrelated: type[BaseException]
) -> None:
    """Status errors, transport errors and format errors do not catch one another."""
    assert not issubclass(child, unrelated)


def test_request_timeout_is_caught_by_stdlib_timeout_handler() -> None:
    """``except TimeoutError`` catches our timeout, so stdlib-style handlers keep working."""
    with pytest.raises(TimeoutError):
        raise RequestTimeoutError("took too long")


def test_invalid_query_is_caught_as_value_error() -> None:
    """``except ValueError`` catches a bad query and keeps its parameter name."""
    with pytest.raises(ValueError, match="bad") as caught:
        raise InvalidQueryError("bad", parameter="source")
    assert isinstance(caught.value, InvalidQueryError)
    assert caught.value.parameter == "source"


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (402, PaymentRequiredError),
        (403, AuthenticationError),
        (404, NotFoundError),
        (429, RateLimitError),
        (500, ServerError),
        (502, ServerError),
        (503, ServerError),
        (504, ServerError),
        (599, ServerError),
        (408, APIError),
        (409, APIError),
        (418, APIError),
        (302, APIError),
        (600, APIError),
    ],
)
def test_error_for_status(status: int, expected: type[APIError]) -> None:
    """Each status maps to its own class; 5xx to ServerError; anything else to APIError."""
    assert error_for_status(status) is expected


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_transient_statuses(status: int) -> None:
    """408, 429 and the proxy/server 5xx statuses are worth retrying."""
    assert is_transient(error_for_status(status)("x", status=status))


@pytest.mark.parametrize("status", [400, 401, 402, 403, 404, 409, 418, 501, 505])
def test_permanent_statuses(status: int) -> None:
    """Other error statuses, 501 and 505 included, are not retried."""
    assert not is_transient(error_for_status(status)("x", status=status))


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (TransportError("connection reset"), True),
        (RequestTimeoutError("timed out"), True),
        (ResponseFormatError("not JSON"), False),
        (InvalidQueryError("bad"), False),
        (QuotaExhaustedError("spent"), False),
        (ConfigurationError("no key"), False),
        (ClientClosedError("closed"), False),
        (ValueError("plain"), False),
        (TimeoutError("stdlib timeout"), False),
        (asyncio.CancelledError(), False),
    ],
)
def test_is_transient_by_kind(error: BaseException, transient: bool) -> None:
    """Transport failures are transient; bad answers, bad queries and foreign errors are not."""
    assert is_transient(error) is transient


def test_attempts_default_to_zero() -> None:
    """An error built without attempts says nothing was sent."""
    assert OpenRouterBenchError("x").attempts == 0
    assert APIError("x", status=500).attempts == 0
    assert InvalidQueryError("x").attempts == 0


def test_str_mentions_attempts_only_when_several() -> None:
    """``str`` adds '(after N attempts)' only when the call retried."""
    assert str(TransportError("reset", attempts=1)) == "reset"
    assert str(TransportError("reset", attempts=3)) == "reset (after 3 attempts)"


def test_attempts_set_later_show_in_str_and_repr() -> None:
    """The retry loop sets ``attempts`` after construction and str/repr follow it."""
    error = ServerError("bad gateway", status=502)
    error.attempts = 4
    assert str(error) == "HTTP 502: bad gateway (after 4 attempts)"
    assert repr(error) == "ServerError(status=502, message='bad gateway', attempts=4)"


def test_api_error_str_names_status() -> None:
    """An APIError's str starts with the HTTP status."""
    assert str(BadRequestError("max_results must be >= 1", status=400)) == (
        "HTTP 400: max_results must be >= 1"
    )


def test_repr_of_plain_error() -> None:
    """The root's repr shows the class, message and attempts."""
    assert repr(TransportError("reset", attempts=2)) == "TransportError('reset', attempts=2)"


def test_api_error_keeps_response_facts() -> None:
    """An APIError keeps status, code, excerpt, a copy of the headers, metadata and retry_after."""
    headers = {"retry-after": "7"}
    error = RateLimitError(
        "slow down",
        status=429,
        code=429,
        body_excerpt="",
        headers=headers,
        metadata={"limit": 30},
        retry_after=7.0,
    )
    headers["retry-after"] = "changed"
    assert (error.status, error.code, error.retry_after) == (429, 429, 7.0)
    assert error.metadata == {"limit": 30}
    assert error.headers == {"retry-after": "7"}


def test_api_error_defaults() -> None:
    """Optional response facts default to empty values."""
    error = APIError("x", status=418)
    assert error.code is None
    assert error.body_excerpt == ""
    assert error.headers == {}
    assert error.metadata is None
    assert error.retry_after is None


def test_response_format_error_keeps_path() -> None:
    """A format error names where in the document it went wrong."""
    error = ResponseFormatError("data[3].elo: expected a number", path="data[3].elo")
    assert error.path == "data[3].elo"
    assert ResponseFormatError("not JSON").path is None


def test_quota_error_keeps_available_at() -> None:
    """A quota error says when the budget returns."""
    when = datetime(2026, 6, 3, 12, tzinfo=UTC)
    assert QuotaExhaustedError("spent", available_at=when).available_at == when
    assert QuotaExhaustedError("spent").available_at is None


def _every_error_kind() -> list[OpenRouterBenchError]:
    # The key rides in every side field (as a careless caller might put it there);
    # str and repr must show none of them.
    near_the_key = {"authorization": f"Bearer {CANARY_KEY}", "x-request-id": "req-1"}
    api_errors: list[OpenRouterBenchError] = [
        cls(
            "the server said no",
            status=status,
            code=status,
            body_excerpt=f"<html>Bad Gateway {CANARY_KEY}</html>",
            headers=near_the_key,
            metadata={"echo": CANARY_KEY},
            retry_after=3.0,
            attempts=2,
        )
        for cls, status in [
            (APIError, 418),
            (BadRequestError, 400),
            (AuthenticationError, 401),
            (PaymentRequiredError, 402),
            (NotFoundError, 404),
            (RateLimitError, 429),
            (ServerError, 502),
        ]
    ]
    return [
        *api_errors,
        OpenRouterBenchError("root", attempts=2),
        InvalidQueryError("max_results must be at least 1", parameter="max_results"),
        ConfigurationError("no API key"),
        ClientClosedError("client closed"),
        TransportError("connection reset", attempts=5),
        RequestTimeoutError("timed out", attempts=5),
        ResponseFormatError("not JSON", path="data[0]", attempts=1),
        QuotaExhaustedError("daily budget spent", available_at=datetime(2026, 1, 1, tzinfo=UTC)),
    ]


@pytest.mark.parametrize("error", _every_error_kind(), ids=lambda error: type(error).__name__)
def test_str_and_repr_never_hold_the_key(error: OpenRouterBenchError) -> None:
    """No error shows its headers, excerpt or metadata (where a key could hide) in str/repr."""
    for text in (str(error), repr(error), error.message):
        assert CANARY_KEY not in text
        assert "Bearer" not in text
        assert "Authorization" not in text


@pytest.mark.parametrize("error", _every_error_kind(), ids=lambda error: type(error).__name__)
def test_repr_names_class_and_attempts(error: OpenRouterBenchError) -> None:
    """Every repr names the class and the number of attempts, for logs."""
    assert repr(error).startswith(type(error).__name__ + "(")
    assert f"attempts={error.attempts}" in repr(error)
