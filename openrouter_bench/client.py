"""The client: wire + transport + retries + cache + quota, behind one ``async with``.

``BenchmarksClient.get`` validates the query, asks the snapshot cache (which
coalesces identical calls and may serve a stale page when a refresh fails),
and only on a miss sends a request through the retry loop, each attempt
taking its turn at the quota limiter first. The exchange itself is
:mod:`openrouter_bench.transport`; everything it sends and reads is built by
:mod:`openrouter_bench.wire`.
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
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Final, Self
from urllib.parse import urlsplit

import aiohttp
import attrs

from openrouter_bench import fanout, transport
from openrouter_bench._budget import RetryBudget
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
    NotFoundError,
    OpenRouterBenchError,
    WrongEventLoopError,
)
from openrouter_bench.fanout import FanOutResult, Outcome
from openrouter_bench.hooks import (
    CacheEvent,
    ClientHooks,
    HookRunner,
    RequestSent,
    ResponseReceived,
    RetryScheduled,
    WaitStarted,
)
from openrouter_bench.models import DesignArenaItem, Page
from openrouter_bench.query import Arena, Query, Source
from openrouter_bench.quota import QuotaLimiter, QuotaPolicy, QuotaStatus, WaitObserver, open_quota
from openrouter_bench.retry import RetryPolicy, SendGate, call_with_retries
from openrouter_bench.transport import DEFAULT_MAX_RESPONSE_BYTES
from openrouter_bench.watch import SnapshotChange, watch_query
from openrouter_bench.wire import (
    DEFAULT_BASE_URL,
    Request,
    build_request,
    check_base_url,
    credential_forms,
)

__all__ = ["BenchmarksClient", "ClientStats"]

logger: Final = logging.getLogger("openrouter_bench.client")

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
    (a bounded LRU of ``max_entries`` pages), ``None``, a ``redis://`` or
    ``memcached://`` URL, a ``sqlite:///path`` file, or an aiocache instance.
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
        history: int = 2,
        retry: RetryPolicy | None = None,
        quota: QuotaPolicy | str | None = DEFAULT_QUOTA,
        timeout: float | timedelta = 20.0,
        connect_timeout: float | timedelta = 10.0,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
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
            max_pause=self._retry.max_retry_after,
            timer=timer,
            sleep=sleep,
            wall_clock=clock,
        )
        self._session = session
        self._owns_session = session is None
        self._state = _State.UNOPENED
        # The event loop the client was opened on: its session and locks belong to it.
        self._loop: asyncio.AbstractEventLoop | None = None
        self._requests = 0
        self._retries = 0

    def __repr__(self) -> str:
        return f"<BenchmarksClient {self.base_url} state={self._state.value}>"

    async def __aenter__(self) -> Self:
        await self._open(entered=True)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _open(self, *, entered: bool = False) -> None:
        running = asyncio.get_running_loop()
        if self._loop is not None and running is not self._loop:
            await self._release_orphaned()
            raise self._wrong_loop()
        if self._state is _State.CLOSED:
            raise ClientClosedError("this client is closed; make a new one")
        if self._state is _State.OPEN:
            return
        self._loop = running
        if self._session is None:
            self._session = aiohttp.ClientSession(
                # Opened by a call rather than by ``async with``, nothing says when the loop
                # ends (asyncio.run in a script): keep no connection open past a request.
                connector=aiohttp.TCPConnector(
                    limit=64, ttl_dns_cache=300, force_close=not entered
                ),
                raise_for_status=False,
            )
        self._state = _State.OPEN

    def _wrong_loop(self) -> WrongEventLoopError:
        gone = self._loop is not None and self._loop.is_closed()
        return WrongEventLoopError(
            "this client was opened on another event loop"
            + (" (now closed: each asyncio.run makes a new one)" if gone else "")
            + "; make the client inside the loop that uses it, or use "
            "SyncBenchmarksClient from synchronous code"
        )

    async def _release_orphaned(self) -> None:
        # The loop the client was opened on is gone, and its connections with it: close the
        # session from here (aiohttp skips transports of a closed loop) so nothing is left
        # to warn of an unclosed session. The client stays unusable: the loop is its own.
        if self._loop is None or not self._loop.is_closed() or self._state is not _State.OPEN:
            return
        self._state = _State.CLOSED
        if self._owns_session and self._session is not None:
            await self._session.close()

    async def aclose(self) -> None:
        """Close the session (if the client made it) and the cache backend. Idempotent."""
        if self._loop is not None and asyncio.get_running_loop() is not self._loop:
            if not self._loop.is_closed():
                raise self._wrong_loop()
            await self._release_orphaned()
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
        await self._open()
        # The deadline covers the whole call: time the cache spends (waiting for another
        # process's fetch) is charged to it as well as the fetch's own.
        started = self._timer()
        return await self.cache.get(
            query,
            lambda: self._fetch(query, started),
            max_age=max_age,
            refresh=refresh,
            deadline=self._retry.deadline,
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
        await self._open()
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
        leader, and the citation to show. A poll that fails transiently (or with a
        malformed answer) is logged and the watch goes on. Close it (or leave an
        ``aclosing`` block) to stop.
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
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:  # called outside a loop: the first await checks
            running = self._loop
        if self._loop is not None and running is not self._loop:
            raise self._wrong_loop()
        if self._state is _State.CLOSED:
            raise ClientClosedError("this client is closed; make a new one")

    async def quota_status(self) -> QuotaStatus:
        """What the quota has spent this minute and today, what is left, and any pause.

        Read from wherever the budget is kept (this process, the SQLite file,
        Redis), so a shared budget shows every process's requests. Sends nothing.
        """
        await self._open()
        return await self.quota.status()

    async def history(self, query: Query | None = None, /, **params: Any) -> list[Page]:
        """The stored snapshots of a query, newest first (no request is sent)."""
        await self._open()
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

    async def _fetch(self, query: Query, started: float) -> Page:
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

        gate: SendGate = self.quota
        if self._hooks.active:
            runner = self._hooks
            gate = _AnnouncedWaits(
                self.quota, lambda reason, seconds: runner.emit(WaitStarted(query, reason, seconds))
            )
        try:
            return await call_with_retries(
                attempt,
                policy=self._retry,
                gate=gate,
                clock=self._timer,
                sleep=self._sleep,
                rng=self._rng,
                describe=f"GET benchmarks {query.key}",
                budget=self._retry_budget,
                on_retry=retried,
                started=started,
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
        self._requests += 1
        logger.debug("GET %s %s", request.url, query.key)
        response = await transport.exchange(
            self._session,
            request,
            total_seconds=max(0.001, min(self._timeout, budget)),
            connect_seconds=self._connect_timeout,
            max_bytes=self._max_bytes,
            verify_tls=self._verify_tls,
        )
        fetched_at = datetime.fromtimestamp(self._clock(), UTC)
        try:
            page = await transport.read_page(
                response,
                query=query,
                fetched_at=fetched_at,
                secrets=credential_forms(self._key.reveal()),
            )
        except NotFoundError as error:
            error.url = request.url  # a wrong base URL shows as this; say which URL was tried
            raise
        logger.debug("GET %s -> %d items, as_of %s", query.key, len(page), page.meta.as_of)
        return page


class _AnnouncedWaits:
    """The client's quota as one call's gate, telling the hooks of each wait in it."""

    def __init__(self, limiter: QuotaLimiter, on_wait: WaitObserver) -> None:
        self._limiter = limiter
        self._on_wait = on_wait

    def admit(self, *, budget: float, retry: bool = False) -> AbstractAsyncContextManager[float]:
        return self._limiter.admit(budget=budget, retry=retry, on_wait=self._on_wait)

    async def pause(self, seconds: float) -> None:
        await self._limiter.pause(seconds)


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
