"""The client: wire + transport + retries + cache + quota, behind one ``async with``.

``BenchmarksClient.get`` validates the query, asks the snapshot cache (which
coalesces identical calls and may serve a stale page when a refresh fails),
and only on a miss sends a request through the retry loop, each attempt
taking its turn at the quota limiter first. The transport is a thin aiohttp
layer; everything it sends and reads is built by :mod:`openrouter_bench.wire`.
``fan_out``/``stream`` (:mod:`~openrouter_bench.fanout`) and ``watch``
(:mod:`~openrouter_bench.watch`) are built on ``get``.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import logging
import os
import random
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Final, Self
from urllib.parse import urlsplit

import aiohttp
import attrs

from openrouter_bench import fanout
from openrouter_bench._budget import RetryBudget
from openrouter_bench._checks import count
from openrouter_bench._convert import MAX_PAGE_ITEMS
from openrouter_bench._lru import DEFAULT_MAX_BYTES as DEFAULT_MAX_CACHE_BYTES
from openrouter_bench.cache import (
    CachePolicy,
    CacheStats,
    SnapshotCache,
    _redis_client,
    namespace_for,
    open_cache,
)
from openrouter_bench.errors import (
    ClientClosedError,
    ConfigurationError,
    InvalidQueryError,
    OpenRouterBenchError,
    RequestTimeoutError,
    ResponseFormatError,
    TransportError,
)
from openrouter_bench.fanout import FanOutResult, Outcome
from openrouter_bench.hooks import (
    CacheEvent,
    ClientHooks,
    HookRunner,
    RequestSent,
    ResponseReceived,
    RetryScheduled,
)
from openrouter_bench.models import DesignArenaItem, Page
from openrouter_bench.query import Arena, Query, Source
from openrouter_bench.quota import QuotaLimiter, QuotaPolicy, open_quota
from openrouter_bench.retry import RetryPolicy, call_with_retries
from openrouter_bench.watch import SnapshotChange, watch_query
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

#: The published limits, kept in this process or on the cache's Redis (frozen: shareable).
DEFAULT_QUOTA: Final = QuotaPolicy()


class _State(enum.Enum):
    UNOPENED = "unopened"
    OPEN = "open"
    CLOSED = "closed"


@attrs.frozen
class ClientStats:
    """What a client has done so far: requests it sent and how the cache served calls.

    ``quota_wait`` is the seconds calls spent waiting in line for the quota
    (summed over calls, so it can exceed the wall time).
    """

    requests: int
    retries: int
    hits: int
    misses: int
    stale_serves: int
    coalesced: int
    cache_errors: int
    quota_wait: float = 0.0


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
    (a bounded LRU of ``max_entries`` pages weighing ``max_cache_bytes`` at
    most), ``None``, a ``redis://`` or
    ``memcached://`` URL, a ``sqlite:///path`` file, or an aiocache instance.
    ``max_page_items`` caps the items of one answer (ResponseFormatError past it).
    Pass ``session`` to share an aiohttp session you own; the client never
    closes it.

    ``quota`` paces every request, retries included (cache hits and coalesced
    calls send none): a :class:`~openrouter_bench.quota.QuotaPolicy` (default:
    30 a minute and 500 a day, in this process, or shared on the cache's Redis
    when the cache is one), ``"memory"``, a ``redis://`` URL to share the
    budget there, or None for no limit (a trusted local server). A 429 from the
    server pauses every call of the client (and, shared, of every process)
    whatever the quota.

    ``retry_budget`` (default on: a fresh
    :class:`~openrouter_bench._budget.RetryBudget`; False for none) stops
    retries once an outage has spent its tokens, so a busy client does not
    multiply the load on a failing server. ``hooks`` (a
    :class:`~openrouter_bench.hooks.ClientHooks`) hears of every request,
    response, retry and cache answer.

    TLS certificates are always verified unless ``verify_tls=False`` is
    passed explicitly, which logs a warning for every client built that way.

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
        max_cache_bytes: int = DEFAULT_MAX_CACHE_BYTES,
        history: int = 2,
        retry: RetryPolicy | None = None,
        quota: QuotaPolicy | str | None = DEFAULT_QUOTA,
        timeout: float | timedelta = 20.0,
        connect_timeout: float | timedelta = 10.0,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        max_page_items: int = MAX_PAGE_ITEMS,
        session: aiohttp.ClientSession | None = None,
        app_url: str | None = None,
        app_title: str | None = None,
        app_categories: Sequence[str] = (),
        allow_insecure_http: bool = False,
        verify_tls: bool = True,
        clock: Callable[[], float] = time.time,
        timer: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: Callable[[], float] = random.random,
        retry_budget: RetryBudget | bool = True,
        hooks: ClientHooks | None = None,
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
        self._max_items = count("max_page_items", max_page_items)
        self._app_url = app_url
        self._app_title = app_title
        self._app_categories = tuple(app_categories)
        self._clock = clock
        self._timer = timer
        self._sleep = sleep
        self._rng = rng
        self._retry_budget = _retry_budget(retry_budget)
        self._hooks = HookRunner(hooks)
        parts = urlsplit(self.base_url)
        self._host = parts.hostname
        if allow_insecure_http and parts.scheme == "http":
            logger.warning(
                "plain http to %s allowed: the API key travels in clear text", self._host
            )
        if verify_tls is not True:
            if verify_tls is not False:
                raise ConfigurationError("verify_tls must be True or False")
            # Loud on purpose: without verification anyone on the path can read the key.
            logger.warning(
                "TLS certificate verification is OFF for %s: the API key can be read by "
                "anyone who can intercept this connection",
                self._host,
            )
        self._verify_tls = verify_tls
        policy = CachePolicy(
            # CachePolicy checks these (0 is allowed: no caching, or no stale serves).
            ttl=ttl,
            stale_if_error=stale_if_error,
            history=history,
            max_entries=max_entries,
            max_bytes=max_cache_bytes,
        )
        self.cache: SnapshotCache = open_cache(
            cache,
            namespace=namespace_for(self.base_url),
            policy=policy,
            clock=clock,
        )
        if self._hooks.active:
            runner = self._hooks
            self.cache.on_event = lambda query, outcome: runner.emit(CacheEvent(query, outcome))
        backend = self.cache.backend
        self.quota: QuotaLimiter = open_quota(
            _quota_policy(quota),
            api=f"{parts.netloc}{parts.path}",
            redis_client=None if backend is None else _redis_client(backend),
            # A request can take no longer than its timeout; parsing the answer is quick.
            lease=self._timeout + 10.0,
            timer=timer,
            sleep=sleep,
            wall_clock=clock,
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
            try:
                await self.quota.aclose()
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
            quota_wait=self.quota.queued,
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
        return await self._cached(query, None if max_age is None else _max_age(max_age), refresh)

    async def _cached(self, query: Query, max_age: float | None, refresh: bool) -> Page:
        # The one road to a page: the cache, and upstream on a miss.
        self._open()
        return await self.cache.get(
            query, lambda: self._fetch(query), max_age=max_age, refresh=refresh
        )

    async def fan_out(
        self,
        queries: Iterable[Query],
        *,
        concurrency: int = fanout.DEFAULT_CONCURRENCY,
        max_age: float | timedelta | None = None,
        refresh: bool = False,
    ) -> FanOutResult:
        """Every query's page or typed error, in input order (identical queries run once).

        At most ``concurrency`` queries run at once; the quota paces the
        requests whatever the concurrency. One query's failure loses nothing
        else: it becomes that query's outcome. Cancelling the call cancels the
        queries in flight and waits for them. ``max_age`` and ``refresh`` are
        :meth:`get`'s, for every query.
        """
        unique = fanout.unique_queries(queries)
        width = fanout.check_concurrency(concurrency)
        age = None if max_age is None else _max_age(max_age)
        self._open()
        return await fanout.fan_out(self._getter(age, refresh), unique, width)

    def stream(
        self,
        queries: Iterable[Query],
        *,
        concurrency: int = fanout.DEFAULT_CONCURRENCY,
        max_age: float | timedelta | None = None,
        refresh: bool = False,
    ) -> AsyncGenerator[tuple[Query, Outcome], None]:
        """``(query, page_or_error)`` for each query as it completes (identical ones once).

        Like :meth:`fan_out`, as an async iterator. Leaving the loop early
        cancels what is in flight; to have that happen at once rather than
        when the iterator is collected, close it::

            async with contextlib.aclosing(client.stream(grid)) as results:
                async for query, outcome in results:
                    ...
        """
        unique = fanout.unique_queries(queries)
        width = fanout.check_concurrency(concurrency)
        age = None if max_age is None else _max_age(max_age)
        self._check_usable()
        return fanout.stream_outcomes(self._getter(age, refresh), unique, width)

    def _getter(self, max_age: float | None, refresh: bool) -> Callable[[Query], Awaitable[Page]]:
        return functools.partial(self._cached, max_age=max_age, refresh=refresh)

    async def categories(
        self, arena: Arena | str = Arena.MODELS, *, refresh: bool = False
    ) -> tuple[str, ...]:
        """The Design Arena categories of ``arena``, as the data has them, in the server's order.

        One request for the whole arena (none while it is cached), so
        categories the server added since this package was released show up
        too.
        """
        page = await self.get(Query(source=Source.DESIGN_ARENA, arena=arena), refresh=refresh)
        found = (item.category for item in page.items if isinstance(item, DesignArenaItem))
        return tuple(dict.fromkeys(found))

    def watch(
        self,
        query: Query | None = None,
        /,
        *,
        every: float | timedelta = 900.0,
        **params: Any,
    ) -> AsyncGenerator[SnapshotChange, None]:
        """Poll a query every ``every`` seconds; yield a change each time its ``as_of`` moves.

        The first poll is the baseline (a cached page will do); later polls
        refresh past the cache, through the quota like any request. Each
        :class:`~openrouter_bench.watch.SnapshotChange` says which models
        entered and left, whose rank and score moved, which rankings have a new
        #1, and the citation to show. A poll that fails transiently is logged
        and the watch goes on. Close it (or leave an ``aclosing`` block) to stop.
        """
        if query is None:
            query = Query(**params)
        elif params or not isinstance(query, Query):
            raise InvalidQueryError("pass either one Query or keyword parameters")
        interval = _seconds("every", every)
        self._check_usable()
        watched = query

        async def fetch(refresh: bool) -> Page:
            return await self.get(watched, refresh=refresh)

        return watch_query(fetch, every=interval, sleep=self._sleep)

    def _check_usable(self) -> None:
        if self._state is _State.CLOSED:
            raise ClientClosedError("this client is closed; make a new one")

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
        # Counted per call: the client's request counter also moves with overlapping calls.
        attempts = 0

        async def attempt(budget: float) -> Page:
            nonlocal attempts
            attempts += 1
            return await self._send(request, query, budget, attempts)

        def retried(error: BaseException, attempt: int, wait: float) -> None:
            if self._hooks.active:
                self._hooks.emit(
                    RetryScheduled(
                        query=query, attempt=attempt, wait=wait, error=type(error).__name__
                    )
                )

        try:
            return await call_with_retries(
                attempt,
                policy=self._retry,
                gate=self.quota,
                clock=self._timer,
                sleep=self._sleep,
                rng=self._rng,
                describe=f"GET benchmarks {query.key}",
                budget=self._retry_budget,
                on_retry=retried,
            )
        finally:
            self._retries += max(0, attempts - 1)

    async def _send(self, request: Request, query: Query, budget: float, attempt: int) -> Page:
        if not self._hooks.active:
            return await self._exchange(request, query, budget)
        self._hooks.emit(RequestSent(query=query, attempt=attempt))
        started = self._timer()
        try:
            page = await self._exchange(request, query, budget)
        except OpenRouterBenchError as error:
            self._hooks.emit(
                ResponseReceived(
                    query=query,
                    attempt=attempt,
                    status=getattr(error, "status", None),
                    elapsed=self._timer() - started,
                    error=type(error).__name__,
                )
            )
            raise
        self._hooks.emit(
            ResponseReceived(
                query=query,
                attempt=attempt,
                status=200,
                elapsed=self._timer() - started,
                error=None,
            )
        )
        return page

    async def _exchange(self, request: Request, query: Query, budget: float) -> Page:
        if self._state is not _State.OPEN or self._session is None:
            raise ClientClosedError("this client was closed while a call was in flight")
        timeout = aiohttp.ClientTimeout(
            total=max(0.001, min(self._timeout, budget)),
            connect=self._connect_timeout,
        )
        self._requests += 1
        host = self._host
        try:
            async with self._session.get(
                request.url,
                params=request.params or None,
                headers=request.headers,
                allow_redirects=False,
                timeout=timeout,
                ssl=self._verify_tls,
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
        page = read_response(
            status, headers, body, query=query, fetched_at=fetched_at, max_items=self._max_items
        )
        logger.debug("GET %s -> %d items, as_of %s", query.key, len(page), page.meta.as_of)
        return page

    async def _read_capped(self, response: aiohttp.ClientResponse) -> bytes:
        declared = response.content_length
        if declared is not None and declared > self._max_bytes:
            raise ResponseFormatError(
                f"the answer is {declared} bytes, over the {self._max_bytes}-byte cap"
            )
        if declared is not None:
            # Known and within the cap: one read, which aiohttp stops at Content-Length.
            return await response.read()
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


def _quota_policy(quota: QuotaPolicy | str | None) -> QuotaPolicy | None:
    if quota is None or isinstance(quota, QuotaPolicy):
        return quota
    if isinstance(quota, str):
        return QuotaPolicy(store=quota)
    raise ConfigurationError(
        f"quota must be a QuotaPolicy, 'memory', a redis:// URL or None, not {type(quota).__name__}"
    )


def _retry_budget(value: RetryBudget | bool) -> RetryBudget | None:
    if isinstance(value, RetryBudget):
        return value
    if value is True:
        return RetryBudget()
    if value is False:
        return None
    raise ConfigurationError(
        f"retry_budget must be a RetryBudget, True or False, not {type(value).__name__}"
    )


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
