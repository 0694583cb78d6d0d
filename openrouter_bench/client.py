"""The client: wire + transport + retries + cache, behind one ``async with``.

``BenchmarksClient.get`` validates the query, asks the snapshot cache (which
coalesces identical calls and may serve a stale page when a refresh fails),
and only on a miss sends a request through the retry loop. The transport is a
thin aiohttp layer; everything it sends and reads is built by
:mod:`openrouter_bench.wire`.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import os
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Final, Self
from urllib.parse import urlsplit

import aiohttp
import attrs

from openrouter_bench.cache import CachePolicy, CacheStats, SnapshotCache, open_cache
from openrouter_bench.errors import (
    ClientClosedError,
    ConfigurationError,
    InvalidQueryError,
    RequestTimeoutError,
    ResponseFormatError,
    TransportError,
)
from openrouter_bench.models import Page
from openrouter_bench.query import Query
from openrouter_bench.retry import RateLimitGate, RetryPolicy, call_with_retries
from openrouter_bench.wire import (
    DEFAULT_BASE_URL,
    Request,
    build_request,
    check_base_url,
    read_response,
)

__all__ = ["BenchmarksClient", "ClientStats"]

logger: Final = logging.getLogger("openrouter_bench.client")

#: A benchmarks page is a few hundred KiB at most; anything far larger is not one.
DEFAULT_MAX_RESPONSE_BYTES: Final = 16 * 1024 * 1024

_READ_CHUNK: Final = 64 * 1024


class _State(enum.Enum):
    UNOPENED = "unopened"
    OPEN = "open"
    CLOSED = "closed"


@attrs.frozen
class ClientStats:
    """What a client has done so far: requests it sent and how the cache served calls."""

    requests: int
    retries: int
    hits: int
    misses: int
    stale_serves: int
    coalesced: int
    cache_errors: int


class _Secret:
    """Holds the API key so that no repr, str or format of anything can show it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "<redacted>"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("the API key is not picklable")


def _seconds(name: str, value: float | timedelta) -> float:
    seconds = value.total_seconds() if isinstance(value, timedelta) else value
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not seconds > 0:
        raise ConfigurationError(f"{name} must be a positive number of seconds, got {value!r}")
    return float(seconds)


def _api_key(value: str | None) -> _Secret:
    key = value if value is not None else os.environ.get("OPENROUTER_API_KEY")
    if key is None or not key.strip():
        raise ConfigurationError(
            "no API key: pass api_key= or set OPENROUTER_API_KEY "
            "(the bundled fake server accepts any non-empty key)"
        )
    if key != key.strip() or any(ch.isspace() or ord(ch) < 0x21 for ch in key):
        # Never echo the key itself: it may be a real one pasted with a stray newline.
        raise ConfigurationError("the API key contains white space or control characters")
    return _Secret(key)


class BenchmarksClient:
    """An asyncio client for ``GET /api/v1/benchmarks`` that spends its quota with care.

    Use it as an async context manager::

        async with BenchmarksClient() as client:
            page = await client.get(source="design-arena", category="gamedev")

    ``api_key`` defaults to ``$OPENROUTER_API_KEY`` and ``base_url`` to
    ``$OPENROUTER_BASE_URL``, else OpenRouter's API. ``cache`` is ``"memory"``
    (a bounded LRU of ``max_entries`` pages), ``None``, a ``redis://`` or
    ``memcached://`` URL, a ``sqlite:///path`` file, or an aiocache instance.
    Pass ``session`` to share an aiohttp session you own; the client never
    closes it.

    ``timeout`` bounds one attempt; ``retry.deadline`` bounds a whole call,
    waits included. Plain ``http://`` is refused for hosts other than loopback
    unless ``allow_insecure_http`` is set. ``clock`` (wall time, seconds since
    the epoch: cache ages), ``timer`` (monotonic: deadlines and pauses) and
    ``sleep`` are injectable, so tests never wait for real.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        cache: Any = "memory",
        ttl: float | timedelta = 600.0,
        stale_if_error: float | timedelta = 86_400.0,
        max_entries: int = 10_000,
        history: int = 2,
        retry: RetryPolicy | None = None,
        timeout: float | timedelta = 20.0,
        connect_timeout: float | timedelta = 10.0,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        session: aiohttp.ClientSession | None = None,
        app_url: str | None = None,
        app_title: str | None = None,
        app_categories: Sequence[str] = (),
        allow_insecure_http: bool = False,
        clock: Callable[[], float] = time.time,
        timer: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self._key = _api_key(api_key)
        self.base_url = check_base_url(
            base_url or os.environ.get("OPENROUTER_BASE_URL") or DEFAULT_BASE_URL,
            allow_insecure_http=allow_insecure_http,
        )
        self._retry = retry if retry is not None else RetryPolicy()
        self._timeout = _seconds("timeout", timeout)
        self._connect_timeout = _seconds("connect_timeout", connect_timeout)
        if isinstance(max_response_bytes, bool) or max_response_bytes < 1024:
            raise ConfigurationError("max_response_bytes must be at least 1024")
        self._max_bytes = max_response_bytes
        self._app_url = app_url
        self._app_title = app_title
        self._app_categories = tuple(app_categories)
        self._clock = clock
        self._timer = timer
        self._sleep = sleep
        self._rng = rng
        self._gate = RateLimitGate(clock=timer, sleep=sleep)
        parts = urlsplit(self.base_url)
        policy = CachePolicy(
            ttl=_seconds("ttl", ttl),
            stale_if_error=_seconds("stale_if_error", stale_if_error),
            history=history,
            max_entries=max_entries,
        )
        self.cache: SnapshotCache = open_cache(
            cache,
            namespace=f"openrouter-bench:{parts.netloc}{parts.path}",
            policy=policy,
            clock=clock,
        )
        self._session = session
        self._owns_session = session is None
        self._state = _State.UNOPENED
        self._requests = 0
        self._retries = 0

    def __repr__(self) -> str:
        return f"<BenchmarksClient {self.base_url} state={self._state.value}>"

    async def __aenter__(self) -> Self:
        self._open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def _open(self) -> None:
        if self._state is _State.CLOSED:
            raise ClientClosedError("this client is closed; make a new one")
        if self._state is _State.OPEN:
            return
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=64, ttl_dns_cache=300),
                raise_for_status=False,
            )
        self._state = _State.OPEN

    async def aclose(self) -> None:
        """Close the session (if the client made it) and the cache backend. Idempotent."""
        if self._state is _State.CLOSED:
            return
        self._state = _State.CLOSED
        try:
            await self.cache.close()
        finally:
            if self._owns_session and self._session is not None:
                await self._session.close()

    @property
    def closed(self) -> bool:
        """True once the client was closed."""
        return self._state is _State.CLOSED

    @property
    def stats(self) -> ClientStats:
        """A snapshot of the counters: upstream requests, retries, and the cache's work."""
        cache: CacheStats = self.cache.stats
        return ClientStats(
            requests=self._requests,
            retries=self._retries,
            hits=cache.hits,
            misses=cache.misses,
            stale_serves=cache.stale_serves,
            coalesced=cache.coalesced,
            cache_errors=cache.backend_errors,
        )

    async def get(
        self,
        query: Query | None = None,
        /,
        *,
        max_age: float | timedelta | None = None,
        refresh: bool = False,
        **params: Any,
    ) -> Page:
        """The page for a query: ``get(Query(...))`` or ``get(source=..., ...)``.

        Served from the cache while its snapshot is younger than ``max_age``
        (default: the client's ``ttl``); ``refresh=True`` asks the server
        anyway. Identical concurrent calls share one request.
        """
        if query is None:
            query = Query(**params)
        elif params:
            raise InvalidQueryError(
                "pass either a Query or keyword parameters, not both "
                f"(got a Query and {sorted(params)})"
            )
        elif not isinstance(query, Query):
            raise InvalidQueryError(f"expected a Query, got {type(query).__name__}")
        age = None if max_age is None else _max_age(max_age)
        self._open()
        return await self.cache.get(query, lambda: self._fetch(query), max_age=age, refresh=refresh)

    async def history(self, query: Query | None = None, /, **params: Any) -> list[Page]:
        """The stored snapshots of a query, newest first (no request is sent)."""
        self._open()
        return await self.cache.history(query if query is not None else Query(**params))

    def request_for(self, query: Query) -> Request:
        """The request this client would send for ``query`` (its repr hides the key)."""
        return build_request(
            query,
            base_url=self.base_url,
            api_key=self._key.reveal(),
            app_url=self._app_url,
            app_title=self._app_title,
            app_categories=self._app_categories,
        )

    async def _fetch(self, query: Query) -> Page:
        request = self.request_for(query)
        attempts_before = self._requests

        async def attempt(budget: float) -> Page:
            return await self._send(request, query, budget)

        try:
            return await call_with_retries(
                attempt,
                policy=self._retry,
                gate=self._gate,
                clock=self._timer,
                sleep=self._sleep,
                rng=self._rng,
                describe=f"GET benchmarks {query.key}",
            )
        finally:
            self._retries += max(0, self._requests - attempts_before - 1)

    async def _send(self, request: Request, query: Query, budget: float) -> Page:
        if self._state is not _State.OPEN or self._session is None:
            raise ClientClosedError("this client was closed while a call was in flight")
        timeout = aiohttp.ClientTimeout(
            total=max(0.001, min(self._timeout, budget)),
            connect=self._connect_timeout,
        )
        self._requests += 1
        host = urlsplit(request.url).hostname
        try:
            async with self._session.get(
                request.url,
                params=request.params or None,
                headers=request.headers,
                allow_redirects=False,
                timeout=timeout,
            ) as response:
                body = await self._read_capped(response)
                status = response.status
                headers = response.headers
        except TimeoutError:
            raise RequestTimeoutError(
                f"no complete answer from {host} within {timeout.total:.1f} s"
            ) from None
        except aiohttp.ClientPayloadError as error:
            raise TransportError(
                f"the answer from {host} was cut short ({_reason(error)})"
            ) from None
        except aiohttp.ClientError as error:
            raise TransportError(f"request to {host} failed: {_reason(error)}") from None
        fetched_at = datetime.fromtimestamp(self._clock(), UTC)
        page = read_response(status, headers, body, query=query, fetched_at=fetched_at)
        logger.debug("GET %s -> %d items, as_of %s", query.key, len(page), page.meta.as_of)
        return page

    async def _read_capped(self, response: aiohttp.ClientResponse) -> bytes:
        declared = response.content_length
        if declared is not None and declared > self._max_bytes:
            raise ResponseFormatError(
                f"the answer is {declared} bytes, over the {self._max_bytes}-byte cap"
            )
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_chunked(_READ_CHUNK):
            size += len(chunk)
            if size > self._max_bytes:
                raise ResponseFormatError(
                    f"the answer is over the {self._max_bytes}-byte cap; stopped reading"
                )
            chunks.append(chunk)
        return b"".join(chunks)


def _max_age(value: float | timedelta) -> float:
    seconds = value.total_seconds() if isinstance(value, timedelta) else value
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        raise InvalidQueryError(f"max_age must be a number of seconds >= 0, got {value!r}")
    return float(seconds)


def _reason(error: BaseException) -> str:
    # aiohttp's messages name the host and the OS error, never request headers;
    # the exception itself is not chained, so no repr of the request travels on.
    text = str(error).strip()
    name = type(error).__name__
    return f"{name}: {text}" if text else name
