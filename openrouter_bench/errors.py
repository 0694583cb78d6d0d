"""The exceptions this package raises, under one root.

::

    OpenRouterBenchError
    ├── InvalidQueryError (also ValueError)     nothing was sent
    ├── ConfigurationError (also ValueError)    the client cannot be built as asked: no key, bad URL
    ├── ClientClosedError (also RuntimeError)   the client was used after close
    ├── WrongEventLoopError (also RuntimeError) the client was used from another event loop
    ├── APIError                                the server answered with an error status
    │   ├── BadRequestError         400
    │   ├── AuthenticationError     401, 403
    │   ├── PaymentRequiredError    402
    │   ├── NotFoundError           404
    │   ├── RateLimitError          429 (``retry_after`` in seconds, or None)
    │   └── ServerError             5xx
    ├── TransportError                          no usable answer: refused, reset, DNS, TLS
    │   └── RequestTimeoutError (also TimeoutError)
    ├── ResponseFormatError                     not JSON, wrong shape, too large, a redirect
    ├── QuotaExhaustedError                     the local budget says no; nothing was sent
    ├── UnknownModelError (also LookupError)    no model in the data set goes by that name
    ├── AmbiguousModelError (also LookupError)  several models go by that name
    └── MissingDependencyError (also ImportError) an optional package is not installed

Every error carries ``attempts``: how many requests the call made before giving
up (0 when nothing was sent). No error message, ``str`` or ``repr`` ever
contains the API key: headers kept on errors are the response's, never the
request's.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

__all__ = [
    "APIError",
    "AmbiguousModelError",
    "AuthenticationError",
    "BadRequestError",
    "ClientClosedError",
    "ConfigurationError",
    "InvalidQueryError",
    "MissingDependencyError",
    "NotFoundError",
    "OpenRouterBenchError",
    "PaymentRequiredError",
    "QuotaExhaustedError",
    "RateLimitError",
    "RequestTimeoutError",
    "ResponseFormatError",
    "ServerError",
    "TransportError",
    "UnknownModelError",
    "WrongEventLoopError",
    "is_transient",
]


class OpenRouterBenchError(Exception):
    """Root of every error raised by openrouter-bench."""

    attempts: int

    def __init__(self, message: str, *, attempts: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.attempts = attempts

    def __str__(self) -> str:
        if self.attempts > 1:
            return f"{self.message} (after {self.attempts} attempts)"
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, attempts={self.attempts})"


class InvalidQueryError(OpenRouterBenchError, ValueError):
    """The query is certainly wrong; it was refused before anything was sent."""

    def __init__(self, message: str, *, parameter: str | None = None) -> None:
        super().__init__(message)
        self.parameter = parameter


class ConfigurationError(OpenRouterBenchError, ValueError):
    """The client cannot work as configured: no API key, an unusable base URL, a bad option."""


class ClientClosedError(OpenRouterBenchError, RuntimeError):
    """The client was used outside ``async with`` or after ``aclose()``."""


class WrongEventLoopError(OpenRouterBenchError, RuntimeError):
    """The client was used from an event loop other than the one it was opened on.

    A client's connections, cache and quota live on one event loop; each
    ``asyncio.run`` makes a new one. Make the client inside the loop that uses
    it, or use :class:`~openrouter_bench.sync.SyncBenchmarksClient` from
    synchronous code.
    """


class APIError(OpenRouterBenchError):
    """The server answered with an error status.

    ``code`` and ``message`` come from the JSON error body when there is one;
    ``body_excerpt`` keeps the first few hundred characters of a body that was
    not (an HTML page from a proxy, say). ``retry_after`` is the server's
    ``Retry-After`` in seconds (either form), or None when it sent none.
    ``error_type`` is the body's ``error.metadata.error_type`` (a 429 says
    ``"rate_limit_exceeded"``), cleaned like every server text, or None. Only
    ``error.message`` and ``error.code`` are required in a body: ``metadata``
    is None when the body had none.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: int | None = None,
        body_excerpt: str = "",
        headers: Mapping[str, str] | None = None,
        metadata: object = None,
        retry_after: float | None = None,
        error_type: str | None = None,
        attempts: int = 0,
    ) -> None:
        super().__init__(message, attempts=attempts)
        self.status = status
        self.retry_after = retry_after
        self.error_type = error_type
        self.code = code
        self.body_excerpt = body_excerpt
        self.headers: Mapping[str, str] = dict(headers or {})
        self.metadata = metadata

    def __str__(self) -> str:
        return f"HTTP {self.status}: {super().__str__()}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status}, message={self.message!r}, "
            f"attempts={self.attempts})"
        )


class BadRequestError(APIError):
    """400: the server refused the parameters."""


class AuthenticationError(APIError):
    """401 or 403: the key is missing, unknown, or not allowed."""


class PaymentRequiredError(APIError):
    """402: the account is out of credit."""


class NotFoundError(APIError):
    """404: the base URL does not point at the benchmarks endpoint.

    ``url`` is the URL that was asked for, without its query string (it never
    holds the key), when the client knows it.
    """

    url: str | None = None


class RateLimitError(APIError):
    """429: too many requests; ``retry_after`` says how long the server asked to wait.

    ``error_type`` is ``"rate_limit_exceeded"`` when the server said so in the
    body; None for a bare 429 (a proxy's, say) or one this client raised itself.
    """


class ServerError(APIError):
    """5xx: the server or a proxy in front of it failed."""


class TransportError(OpenRouterBenchError):
    """No usable answer: connection refused or reset, DNS or TLS failure, body cut short."""


class RequestTimeoutError(TransportError, TimeoutError):
    """The request took longer than the client's timeout."""


class ResponseFormatError(OpenRouterBenchError):
    """The answer could not be read: not JSON, the wrong shape, too large, or a redirect.

    ``path`` names the place in the JSON document that was wrong, e.g. ``data[3].elo``.
    """

    def __init__(self, message: str, *, path: str | None = None, attempts: int = 0) -> None:
        super().__init__(message, attempts=attempts)
        self.path = path


class QuotaExhaustedError(OpenRouterBenchError):
    """The local request budget is spent; ``available_at`` says when it returns."""

    def __init__(
        self, message: str, *, available_at: datetime | None = None, attempts: int = 0
    ) -> None:
        super().__init__(message, attempts=attempts)
        self.available_at = available_at


class UnknownModelError(OpenRouterBenchError, LookupError):
    """No model of the data set goes by ``name``; ``suggestions`` holds the closest names.

    ``missing`` names the parts of the data set that could not be fetched (the model may
    be in one of them).
    """

    def __init__(
        self,
        message: str,
        *,
        name: str = "",
        suggestions: tuple[str, ...] = (),
        missing: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message)
        self.name = name
        self.suggestions = suggestions
        self.missing = missing


class AmbiguousModelError(OpenRouterBenchError, LookupError):
    """Several models go by ``name``; ``candidates`` holds their ids, to pick one from."""

    def __init__(self, message: str, *, name: str = "", candidates: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.name = name
        self.candidates = candidates


class MissingDependencyError(OpenRouterBenchError, ImportError):
    """A feature needs an optional package that is not installed.

    ``name`` is the package to import (as on :class:`ImportError`), ``extra``
    the extra that installs it: ``pip install 'openrouter-bench[<extra>]'``.
    """

    def __init__(self, message: str, *, name: str = "", extra: str = "") -> None:
        super().__init__(message)
        self.name = name
        self.extra = extra


_STATUS_ERRORS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: PaymentRequiredError,
    403: AuthenticationError,
    404: NotFoundError,
    429: RateLimitError,
}


def error_for_status(status: int) -> type[APIError]:
    """The error class for an HTTP status: ``ServerError`` for 5xx, ``APIError`` otherwise."""
    if status in _STATUS_ERRORS:
        return _STATUS_ERRORS[status]
    if 500 <= status <= 599:
        return ServerError
    return APIError


_TRANSIENT_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


def is_transient(error: BaseException) -> bool:
    """True for failures worth retrying or masking with a stale page.

    Connection failures, timeouts, 408, 429 and 500/502/503/504 are transient;
    every other error status, a malformed answer and a bad query are not.
    """
    if isinstance(error, TransportError):
        return True
    if isinstance(error, APIError):
        return error.status in _TRANSIENT_STATUSES
    return False
