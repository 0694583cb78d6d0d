"""The wire format, with no I/O: queries to requests, responses to pages or errors.

Everything here is a pure function on values and bytes, so it is tested on
bytes without a server. The transport in :mod:`openrouter_bench.client` only
moves what these functions build and read.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Final
from urllib.parse import urlsplit

import attrs
import orjson

from openrouter_bench._convert import MAX_PAGE_ITEMS, decode_page
from openrouter_bench._version import __version__
from openrouter_bench.errors import (
    APIError,
    ConfigurationError,
    ResponseFormatError,
    error_for_status,
)
from openrouter_bench.models import Page
from openrouter_bench.query import Query

__all__ = [
    "DEFAULT_BASE_URL",
    "Request",
    "build_request",
    "check_base_url",
    "parse_retry_after",
    "read_response",
]

DEFAULT_BASE_URL: Final = "https://openrouter.ai/api/v1"
USER_AGENT: Final = f"openrouter-bench/{__version__}"

#: How much of an error body an error keeps (enough for a proxy page's gist).
EXCERPT_CHARS: Final = 300

# Headers worth keeping on an error: they explain it and hold nothing secret.
_KEPT_HEADERS: Final = frozenset(
    {
        "content-type",
        "retry-after",
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
        "location",
        "server",
        "date",
        "cf-ray",
        "x-request-id",
    }
)


@attrs.frozen
class Request:
    """One GET to send. ``headers`` holds the Authorization header, so ``repr`` leaves it out."""

    url: str
    params: Mapping[str, str]
    headers: Mapping[str, str] = attrs.field(repr=False)
    method: str = "GET"

    @property
    def safe_headers(self) -> dict[str, str]:
        """The headers with the credential masked, for logs and debugging."""
        return {
            name: ("<redacted>" if name.lower() == "authorization" else value)
            for name, value in self.headers.items()
        }


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_base_url(base_url: str, *, allow_insecure_http: bool = False) -> str:
    """The base URL without a trailing slash, or :class:`ConfigurationError` if it is unusable.

    Plain ``http://`` is accepted for loopback hosts only (the fake server, a
    local proxy), unless ``allow_insecure_http`` is set: the key travels in a
    header and must not cross a network in clear text.
    """
    try:
        parts = urlsplit(base_url)
    except ValueError:
        # A malformed IPv6 host; the URL is not echoed, it may hold credentials.
        raise ConfigurationError("base_url is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(
            "base_url must be an http(s) URL with a host, "
            f"got scheme {parts.scheme!r} and host {parts.hostname!r}"
        )
    if parts.username or parts.password:
        raise ConfigurationError("base_url must not carry credentials; pass api_key instead")
    if parts.query or parts.fragment:
        raise ConfigurationError("base_url must not have a query string or fragment")
    if parts.scheme == "http" and not allow_insecure_http and not _is_loopback(parts.hostname):
        raise ConfigurationError(
            f"refusing to send the API key over plain http to {parts.hostname}; "
            "use https, or pass allow_insecure_http=True if you really mean it"
        )
    return base_url.rstrip("/")


def build_request(
    query: Query,
    *,
    base_url: str,
    api_key: str,
    app_url: str | None = None,
    app_title: str | None = None,
    app_categories: tuple[str, ...] = (),
) -> Request:
    """The GET request for ``query`` (``base_url`` as returned by :func:`check_base_url`)."""
    headers = {
        "Authorization": f"Bearer {api_key}",
        "Accept": "application/json",
        "User-Agent": USER_AGENT,
    }
    if app_url:
        headers["HTTP-Referer"] = app_url
    if app_title:
        headers["X-OpenRouter-Title"] = app_title
    if app_categories:
        headers["X-OpenRouter-Categories"] = ",".join(app_categories)
    return Request(url=f"{base_url}/benchmarks", params=query.params, headers=headers)


def parse_retry_after(value: str | None, *, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta seconds or an HTTP date), or None.

    A date in the past means 0; a value that is neither form is ignored (None).
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if seconds != seconds or seconds in (float("inf"), float("-inf")):
            return None
        return max(0.0, seconds)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def read_response(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    query: Query,
    fetched_at: datetime,
    max_items: int = MAX_PAGE_ITEMS,
) -> Page:
    """The page in a 200 answer; otherwise raise the typed error that the answer means.

    ``headers`` is looked up case-insensitively by lower-case name; pass
    aiohttp's ``CIMultiDictProxy`` or any mapping with lower-case keys. A page
    of more than ``max_items`` items raises :class:`ResponseFormatError`.
    """
    if status == 200:
        return decode_page(body, query=query, fetched_at=fetched_at, max_items=max_items)
    kept = {name.lower(): value for name, value in headers.items() if name.lower() in _KEPT_HEADERS}
    if 300 <= status < 400:
        location = urlsplit(kept.get("location", "")).hostname or "an unnamed location"
        raise ResponseFormatError(
            f"unexpected redirect (HTTP {status}) to {location}; redirects are not followed"
        )
    if status < 400:
        raise ResponseFormatError(f"unexpected HTTP {status} with no page")
    raise _status_error(status, kept, body, fetched_at=fetched_at)


def _status_error(
    status: int, headers: dict[str, str], body: bytes, *, fetched_at: datetime
) -> APIError:
    code: int | None = None
    metadata: object = None
    message, excerpt = _error_message(status, body)
    try:
        document = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        document = None
    if isinstance(document, dict) and isinstance(document.get("error"), dict):
        error = document["error"]
        if isinstance(error.get("message"), str) and error["message"].strip():
            message = error["message"].strip()
        if isinstance(error.get("code"), int) and not isinstance(error.get("code"), bool):
            code = error["code"]
        metadata = error.get("metadata")
        excerpt = ""
    return error_for_status(status)(
        message,
        status=status,
        code=code,
        body_excerpt=excerpt,
        headers=headers,
        metadata=metadata,
        retry_after=parse_retry_after(headers.get("retry-after"), now=fetched_at),
    )


_TITLE: Final = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_TAGS: Final = re.compile(r"<[^>]+>")
_SPACE: Final = re.compile(r"\s+")

_REASONS: Final = {
    400: "bad request",
    401: "missing or invalid API key",
    402: "payment required",
    403: "forbidden",
    404: "not found",
    408: "request timeout",
    429: "rate limit exceeded",
    500: "internal server error",
    502: "bad gateway",
    503: "service unavailable",
    504: "gateway timeout",
}


def _error_message(status: int, body: bytes) -> tuple[str, str]:
    """A message and a short excerpt for an error body that is not the API's JSON."""
    text = body[: EXCERPT_CHARS * 8].decode("utf-8", errors="replace")
    excerpt = _SPACE.sub(" ", _TAGS.sub(" ", text)).strip()[:EXCERPT_CHARS]
    title = _TITLE.search(body[:4096])
    if title:
        heading = _SPACE.sub(" ", title.group(1).decode("utf-8", errors="replace")).strip()
        if heading:
            return heading[:120], excerpt
    reason = _REASONS.get(status, "error")
    if not excerpt:
        return f"{reason} (empty body)", ""
    return reason, excerpt
