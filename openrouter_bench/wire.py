"""The wire format, with no I/O: queries to requests, responses to pages or errors.

Everything here is a pure function on values and bytes, so it is tested on
bytes without a server. The transport in :mod:`openrouter_bench.client` only
moves what these functions build and read.
"""

from __future__ import annotations

import html
import ipaddress
import itertools
import math
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Final
from urllib.parse import urlsplit

import attrs
import orjson

from openrouter_bench._checks import MAX_SECONDS
from openrouter_bench._convert import MAX_PAGE_ITEMS, decode_page
from openrouter_bench._text import REDACTED, TEXT_LIMIT, untrusted_text
from openrouter_bench._version import __version__
from openrouter_bench.errors import (
    APIError,
    ConfigurationError,
    ResponseFormatError,
    error_for_status,
)
from openrouter_bench.models import Page
from openrouter_bench.query import Query

# Used by the client and the transport; the package root exports none of it.
__all__: list[str] = []

DEFAULT_BASE_URL: Final = "https://openrouter.ai/api/v1"
_USER_AGENT: Final = f"openrouter-bench/{__version__}"

#: How much of an error body an error keeps (enough for a proxy page's gist).
_EXCERPT_CHARS: Final = 300

#: The longest pause a server's ``Retry-After`` may impose by default (one hour): see
#: :attr:`~openrouter_bench.retry.RetryPolicy.max_retry_after`.
DEFAULT_MAX_RETRY_AFTER: Final = 3600.0

# The most of a kept header's value, of an HTML title, of a metadata key and string.
_HEADER_CHARS: Final = 200
_TITLE_CHARS: Final = 120
_METADATA_KEY_CHARS: Final = 60
_METADATA_TEXT_CHARS: Final = 200
# How much of ``error.metadata`` is kept: nesting, values per object or list, values in all.
_METADATA_DEPTH: Final = 3
_METADATA_WIDTH: Final = 16
_METADATA_VALUES: Final = 64
# The bytes of an error body looked at for its excerpt and its title.
_SCAN_BYTES: Final = 16 * 1024
_TITLE_BYTES: Final = 4096

# Delta seconds as servers send them (a fraction or an exponent tolerated), ASCII digits only.
_DELTA_SECONDS: Final = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")

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


@attrs.frozen
class BaseURL:
    """A checked base URL and the parts of it the client uses, split once.

    :attr:`identity` (host, port and path) names the API for the cache's
    namespace and the quota's counters: two clients of one API share them
    whatever their scheme or trailing slash.
    """

    #: The URL without a trailing slash.
    url: str
    scheme: str
    #: The host name, lower-cased, without a port.
    host: str
    #: The host and the port as written.
    netloc: str
    #: The path without a trailing slash.
    path: str

    @property
    def identity(self) -> str:
        """``netloc`` and ``path``: which API this is, credentials and scheme aside."""
        return f"{self.netloc}{self.path}"

    @property
    def root(self) -> str:
        """The scheme and the host, without the path."""
        return f"{self.scheme}://{self.netloc}"


def parse_base_url(base_url: str, *, allow_insecure_http: bool = False) -> BaseURL:
    """The base URL split into a :class:`BaseURL`, or :class:`ConfigurationError` if unusable.

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
    # Neither a query nor a fragment follows the path, so its slashes end the URL.
    return BaseURL(
        url=base_url.rstrip("/"),
        scheme=parts.scheme,
        host=parts.hostname,
        netloc=parts.netloc,
        path=parts.path.rstrip("/"),
    )


def check_base_url(base_url: str, *, allow_insecure_http: bool = False) -> str:
    """The base URL without a trailing slash, as :func:`parse_base_url` checks it."""
    return parse_base_url(base_url, allow_insecure_http=allow_insecure_http).url


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
        "User-Agent": _USER_AGENT,
    }
    if app_url:
        headers["HTTP-Referer"] = app_url
    if app_title:
        headers["X-OpenRouter-Title"] = app_title
    if app_categories:
        headers["X-OpenRouter-Categories"] = ",".join(app_categories)
    return Request(url=f"{base_url}/benchmarks", params=query.params, headers=headers)


def credential_forms(api_key: str) -> tuple[str, ...]:
    """Every form in which a request carries ``api_key``: what server text is redacted of."""
    return (f"Bearer {api_key}", api_key)


def _parse_retry_after(value: str | None, *, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta seconds or an HTTP date), or None.

    A date in the past or a negative delay means 0; a value that is neither
    form (``NaN``, ``inf``, garbage) is ignored (None). The answer is always a
    finite number from 0 to 100 years, whatever the value: a number too large
    to hold (``1e400``, thousands of digits) or a date in year 9999 is read as
    the longest wait, which the retry policy then cuts to its ceiling
    (:attr:`~openrouter_bench.retry.RetryPolicy.max_retry_after`). It never
    raises.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if _DELTA_SECONDS.fullmatch(text):
        # float() takes any number of digits; past 1e308 it gives inf, cut below.
        return min(MAX_SECONDS, max(0.0, float(text)))
    try:
        when = parsedate_to_datetime(text)
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - now).total_seconds()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if math.isnan(seconds):
        return None
    return min(MAX_SECONDS, max(0.0, seconds))


def read_response(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    query: Query,
    fetched_at: datetime,
    secrets: Sequence[str] = (),
    max_items: int = MAX_PAGE_ITEMS,
) -> Page:
    """The page in a 200 answer; otherwise raise the typed error that the answer means.

    ``headers`` is looked up case-insensitively by lower-case name; pass
    aiohttp's ``CIMultiDictProxy`` or any mapping with lower-case keys.
    ``secrets`` are the texts no error may show (:func:`credential_forms` of
    the key): every text of the answer that an error keeps is redacted of
    them, cut to a few hundred characters and stripped of control characters.
    A page of more than ``max_items`` items raises :class:`ResponseFormatError`.
    """
    if status == 200:
        try:
            return decode_page(body, query=query, fetched_at=fetched_at, max_items=max_items)
        except ResponseFormatError as error:
            # Its message may quote the body; the error is rebuilt clean, outside the except.
            unreadable = error
        hidden = sorted((secret.encode() for secret in secrets if secret), key=len, reverse=True)
        if any(secret in body for secret in hidden):
            # The quote is cut before it could be redacted, so it might keep half a key:
            # read the body again with the key taken out, for a message that holds none.
            redacted = body
            for secret in hidden:
                redacted = redacted.replace(secret, REDACTED.encode())
            try:
                decode_page(redacted, query=query, fetched_at=fetched_at, max_items=max_items)
            except ResponseFormatError as error:
                unreadable = error
        raise ResponseFormatError(
            untrusted_text(unreadable.message, secrets=secrets, limit=2 * TEXT_LIMIT),
            path=None if unreadable.path is None else untrusted_text(unreadable.path),
        )
    kept: dict[str, str] = {}
    retry_after: str | None = None
    for name, value in headers.items():
        lowered = name.lower()
        if lowered == "retry-after":
            # Read whole: a value cut for showing could read as a different number.
            retry_after = value
        if lowered in _KEPT_HEADERS:
            kept[lowered] = untrusted_text(value, secrets=secrets, limit=_HEADER_CHARS)
    if 300 <= status < 400:
        location = _host_of(kept.get("location", "")) or "an unnamed location"
        raise ResponseFormatError(
            f"unexpected redirect (HTTP {status}) to {location}; redirects are not followed"
        )
    if status < 400:
        raise ResponseFormatError(f"unexpected HTTP {status} with no page")
    raise _status_error(
        status,
        kept,
        body,
        retry_after=_parse_retry_after(retry_after, now=fetched_at),
        secrets=secrets,
    )


def _host_of(url: str) -> str | None:
    try:
        return urlsplit(url).hostname
    except ValueError:  # a malformed IPv6 host
        return None


def _status_error(
    status: int,
    headers: dict[str, str],
    body: bytes,
    *,
    retry_after: float | None,
    secrets: Sequence[str],
) -> APIError:
    code: int | None = None
    metadata: object = None
    error_type: str | None = None
    message, excerpt = _error_message(status, body, secrets)
    try:
        document = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        document = None
    if isinstance(document, dict) and isinstance(document.get("error"), dict):
        error = document["error"]
        if isinstance(error.get("message"), str):
            text = untrusted_text(error["message"], secrets=secrets)
            if text:
                message = text
        if isinstance(error.get("code"), int) and not isinstance(error.get("code"), bool):
            code = error["code"]
        # Only message and code are required: metadata may be absent, like the
        # top-level openrouter_metadata and user_id (which are never read).
        raw_metadata = error.get("metadata")
        metadata = _small_copy(raw_metadata, secrets, _METADATA_DEPTH, [_METADATA_VALUES])
        error_type = _error_type(raw_metadata, secrets)
        excerpt = ""
    return error_for_status(status)(
        message,
        status=status,
        code=code,
        body_excerpt=excerpt,
        headers=headers,
        metadata=metadata,
        retry_after=retry_after,
        error_type=error_type,
    )


def _error_type(metadata: object, secrets: Sequence[str]) -> str | None:
    """``metadata.error_type`` (``"rate_limit_exceeded"`` on a 429), cleaned; None without one."""
    if not isinstance(metadata, dict):
        return None
    value = metadata.get("error_type")
    if not isinstance(value, str):
        return None
    return untrusted_text(value, secrets=secrets, limit=_METADATA_KEY_CHARS) or None


def _small_copy(value: object, secrets: Sequence[str], depth: int, left: list[int]) -> object:
    """A bounded, cleaned copy of JSON ``value``: ``depth`` levels, ``left[0]`` values in all.

    Each object or list keeps its first 16 values.

    What does not fit is left out; a container too deep becomes ``"…"``.
    """
    left[0] -= 1
    if value is None or isinstance(value, bool | float):
        return value
    if isinstance(value, int):
        return value if abs(value) < 10**18 else untrusted_text(value)
    if isinstance(value, str):
        return untrusted_text(value, secrets=secrets, limit=_METADATA_TEXT_CHARS)
    if depth <= 0 or not isinstance(value, dict | list):
        return "…"
    if isinstance(value, list):
        items: list[object] = []
        for item in value[:_METADATA_WIDTH]:
            if left[0] <= 0:
                break
            items.append(_small_copy(item, secrets, depth - 1, left))
        return items
    entries: dict[str, object] = {}
    for key, item in itertools.islice(value.items(), _METADATA_WIDTH):
        if left[0] <= 0:
            break
        name = untrusted_text(key, secrets=secrets, limit=_METADATA_KEY_CHARS)
        entries[name] = _small_copy(item, secrets, depth - 1, left)
    return entries


_TITLE: Final = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
# Any tag but the marker that stands where a secret was (the transport puts it there).
_TAGS: Final = re.compile(r"<(?!" + re.escape(REDACTED[1:]) + r")[^>]+>")

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


def _error_message(status: int, body: bytes, secrets: Sequence[str]) -> tuple[str, str]:
    """A message and a short excerpt for an error body that is not the API's JSON."""
    text = body[:_SCAN_BYTES].decode("utf-8", errors="replace")
    excerpt = untrusted_text(
        html.unescape(_TAGS.sub(" ", text)),
        secrets=secrets,
        limit=_EXCERPT_CHARS,
        cut=len(body) > _SCAN_BYTES,
    )
    title = _TITLE.search(body[:_TITLE_BYTES])
    if title:
        heading = untrusted_text(
            html.unescape(_TAGS.sub(" ", title.group(1).decode("utf-8", errors="replace"))),
            secrets=secrets,
            limit=_TITLE_CHARS,
        )
        if heading:
            return heading, excerpt
    reason = _REASONS.get(status, "error")
    if not excerpt:
        return f"{reason} (empty body)", ""
    return reason, excerpt
