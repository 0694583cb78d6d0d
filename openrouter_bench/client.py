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
from collections.abc import AsyncGenerator, Awaitable, Callable, Coroutine, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Final, ParamSpec, Self, TypeVar
from urllib.parse import urlsplit

import aiohttp
import attrs
import yarl

from openrouter_bench import _checks, fanout, transport
from openrouter_bench._budget import RetryBudget
from openrouter_bench._convert import MAX_PAGE_ITEMS
from openrouter_bench.cache import (
    CachePolicy,
    CacheStats,
    SnapshotCache,
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
from openrouter_bench.query import KNOWN_CATEGORIES, Arena, Query, Source
from openrouter_bench.quota import QuotaLimiter, QuotaPolicy, QuotaStatus, WaitObserver, open_quota
from openrouter_bench.retry import RetryPolicy, SendGate, call_with_retries
from openrouter_bench.transport import DEFAULT_MAX_RESPONSE_BYTES
from openrouter_bench.watch import SnapshotChange, watch_query
from openrouter_bench.wire import (
    DEFAULT_BASE_URL,
    BaseURL,
    Request,
    build_request,
    credential_forms,
    parse_base_url,
)

__all__ = ["BenchmarksClient", "ClientStats"]

logger: Final = logging.getLogger("openrouter_bench.client")

_T = TypeVar("_T")
_F = TypeVar("_F", bound=Callable[..., object])
_P = ParamSpec("_P")

#: The largest cap a client accepts: past it, one answer could exhaust a small machine.
_MAX_RESPONSE_BYTES: Final = 1024 * 1024 * 1024

# Bounds on what the client sends in headers and URLs: far past any real value, well
# inside what servers and proxies accept (8 KiB of headers is a common limit).
_KEY_LIMIT: Final = 512
_URL_LIMIT: Final = 2048
_TITLE_LIMIT: Final = 256
_CATEGORY_LIMIT: Final = 64
_MAX_CATEGORIES: Final = 32

#: The published limits, kept in this process or on the cache's Redis (frozen: shareable).
DEFAULT_QUOTA: Final = QuotaPolicy()


#: Requests kept built, by query: a query asked again (a refresh, a watch, a cold cache)
#: sends the same request, so it is built once. Past this many the whole set is dropped.
_REQUESTS_KEPT: Final = 1024

#: How long ``aclose`` waits for the calls it ended to unwind before closing under them.
_CLOSE_GRACE: Final = 5.0


class _State(enum.Enum):
    UNOPENED = "unopened"
    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"


class _Call:
    """One public call in flight, in the task that made it: what ``aclose`` needs to end it."""

    __slots__ = ("baseline", "ended")

    def __init__(self, baseline: int) -> None:
        # The task's cancellation requests when the call began: more, and someone cancelled it.
        self.baseline = baseline
        self.ended = False


@attrs.frozen
class ClientStats:
    """What a client has done so far: requests it sent and how the cache served calls.

    ``quota_wait`` is the seconds calls spent waiting in line for the quota
    (summed over calls, so it can exceed the wall time). ``near_hits`` and
    ``near_misses`` are the near cache's (see :class:`~openrouter_bench.CacheStats`).
    """

    requests: int
    retries: int
    hits: int
    misses: int
    stale_serves: int
    coalesced: int
    cache_errors: int
    quota_wait: float = 0.0
    near_hits: int = 0
    near_misses: int = 0


class _Secret:
    """Holds the API key so that no repr, str or format of anything can show it."""

    __slots__ = ("_value", "forms", "redaction")

    def __init__(self, value: str) -> None:
        self._value = value
        # Worked out once: every answer is scrubbed of these, and errors redacted of them.
        self.forms = credential_forms(value)
        self.redaction = transport.Redaction(self.forms)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "<redacted>"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("the API key is not picklable")


def _api_key(value: str | None) -> _Secret:
    if value is not None and not isinstance(value, str):
        raise ConfigurationError(f"api_key must be a string, not {type(value).__name__}")
    key = value if value is not None else os.environ.get("OPENROUTER_API_KEY")
    if key is None or not key.strip():
        raise ConfigurationError(
            "no API key: pass api_key= or set OPENROUTER_API_KEY "
            "(the bundled fake server accepts any non-empty key)"
        )
    # Never echoed: it may be a real key pasted with a stray newline.
    return _Secret(_checks.header_value("api_key", key, limit=_KEY_LIMIT, secret=True))


def _base_url(value: str | None, *, allow_insecure_http: bool) -> BaseURL:
    if value is not None and not isinstance(value, str):
        raise ConfigurationError(f"base_url must be a string, not {type(value).__name__}")
    url = value or os.environ.get("OPENROUTER_BASE_URL") or DEFAULT_BASE_URL
    if len(url) > _URL_LIMIT or any(ch.isspace() or not ch.isprintable() for ch in url):
        # Not echoed: a URL can carry credentials.
        raise ConfigurationError(
            f"base_url must be at most {_URL_LIMIT} characters without white space "
            "or control characters"
        )
    checked = parse_base_url(url, allow_insecure_http=allow_insecure_http)
    if not _parses(checked.url, with_yarl=True):
        raise ConfigurationError("base_url has a malformed host or port")
    return checked


def _parses(url: str, *, with_yarl: bool = False) -> bool:
    # What aiohttp (or a cache client) does with a URL at first use, done now: a
    # port out of range or not a number, a host that is not valid IDNA. The
    # parser's error is dropped (its text can quote the URL, which can hold a password).
    try:
        urlsplit(url).port  # noqa: B018
        if with_yarl:
            yarl.URL(url)
    except ValueError:
        return False
    return True


def _app_categories(value: Sequence[str]) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ConfigurationError(
            f"app_categories must be a list of strings, not {type(value).__name__}"
        )
    if len(value) > _MAX_CATEGORIES:
        raise ConfigurationError(
            f"app_categories may name at most {_MAX_CATEGORIES} categories, got {len(value)}"
        )
    categories = tuple(value)
    for category in categories:
        _checks.header_value("app_categories", category, limit=_CATEGORY_LIMIT)
        if not category or "," in category:
            # They travel joined by commas: an empty one or a comma would change the list.
            raise ConfigurationError("each of app_categories must be non-empty, without a comma")
    return categories


def _optional_header(name: str, value: str | None, limit: int) -> str | None:
    return None if value is None else _checks.header_value(name, value, limit=limit)


def _flag(name: str, value: bool) -> bool:
    if value is not True and value is not False:
        raise ConfigurationError(f"{name} must be True or False, not {type(value).__name__}")
    return value


def _instance(name: str, value: _T | None, kind: type[_T]) -> _T | None:
    if value is not None and not isinstance(value, kind):
        raise ConfigurationError(
            f"{name} must be a {kind.__name__} or None, not {type(value).__name__}"
        )
    return value


def _callable(name: str, value: _F) -> _F:
    if not callable(value):
        raise ConfigurationError(f"{name} must be callable, not {type(value).__name__}")
    return value


def _cache_policy(
    policy: CachePolicy | None,
    *,
    ttl: float | timedelta | None,
    stale_if_error: float | timedelta | None,
) -> CachePolicy:
    """``policy`` (default ``CachePolicy()``) with the convenience keywords given laid over it."""
    chosen = _instance("cache_policy", policy, CachePolicy) or CachePolicy()
    # CachePolicy checks these (0 is allowed: no caching, or no stale serves).
    if ttl is not None:
        chosen = attrs.evolve(chosen, ttl=ttl)
    if stale_if_error is not None:
        chosen = attrs.evolve(chosen, stale_if_error=stale_if_error)
    return chosen


def _cache_spec(spec: Any) -> Any:
    if isinstance(spec, str) and spec != "memory":
        if len(spec) > _URL_LIMIT:
            raise ConfigurationError(f"the cache URL must be at most {_URL_LIMIT} characters")
        if not _parses(spec):
            # Not echoed: a Redis URL can carry a password.
            raise ConfigurationError("the cache URL has a malformed host or port")
    return spec


class BenchmarksClient:
    """An asyncio client for ``GET /api/v1/benchmarks`` that spends its quota with care.

    Use it as an async context manager::

        async with BenchmarksClient() as client:
            page = await client.get(source="design-arena", category="gamedev")

    ``api_key`` defaults to ``$OPENROUTER_API_KEY`` and ``base_url`` to
    ``$OPENROUTER_BASE_URL``, else OpenRouter's API. ``cache`` is ``"memory"``
    (a bounded LRU of ``cache_policy.max_entries`` entries weighing
    ``cache_policy.max_bytes`` at most), ``None``, a ``redis://`` or
    ``memcached://`` URL, a ``sqlite:///path`` file, or an aiocache instance.
    ``cache_policy`` (a :class:`~openrouter_bench.cache.CachePolicy`, default
    ``CachePolicy()``) holds every cache setting: freshness, stale serves,
    history, the memory bounds and the Redis lease. ``ttl`` and
    ``stale_if_error`` are also keywords of their own, as the two settings most
    callers change: given, each replaces that field of ``cache_policy`` (the
    keyword wins, so one shared policy can serve clients of different
    freshness).
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
        cache_policy: CachePolicy | None = None,
        ttl: float | timedelta | None = None,
        stale_if_error: float | timedelta | None = None,
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
        allow_insecure_http = _flag("allow_insecure_http", allow_insecure_http)
        self._base = _base_url(base_url, allow_insecure_http=allow_insecure_http)
        self.base_url = self._base.url
        self._retry = _instance("retry", retry, RetryPolicy) or RetryPolicy()
        self._timeout = _checks.seconds("timeout", timeout)
        self._connect_timeout = _checks.seconds("connect_timeout", connect_timeout)
        self._max_bytes = _checks.count(
            "max_response_bytes", max_response_bytes, minimum=1024, maximum=_MAX_RESPONSE_BYTES
        )
        self._app_url = _optional_header("app_url", app_url, _URL_LIMIT)
        self._app_title = _optional_header("app_title", app_title, _TITLE_LIMIT)
        self._app_categories = _app_categories(app_categories)
        self._clock = _callable("clock", clock)
        self._timer = _callable("timer", timer)
        self._sleep = _callable("sleep", sleep)
        self._rng = _callable("rng", rng)
        self._max_items = _checks.count("max_page_items", max_page_items)
        self._retry_budget = _retry_budget(retry_budget)
        self._hooks = HookRunner(_instance("hooks", hooks, ClientHooks))
        session = _instance("session", session, aiohttp.ClientSession)
        self._host = self._base.host
        if allow_insecure_http and self._base.scheme == "http":
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
        quota_policy = _quota_policy(quota)
        runner = self._hooks
        self.cache: SnapshotCache = open_cache(
            _cache_spec(cache),
            namespace=namespace_for(self.base_url),
            policy=_cache_policy(cache_policy, ttl=ttl, stale_if_error=stale_if_error),
            clock=clock,
            on_event=(
                (lambda query, outcome: runner.emit(CacheEvent(query, outcome)))
                if runner.active
                else None
            ),
        )
        self.quota: QuotaLimiter = open_quota(
            quota_policy,
            api=self._base.identity,
            redis_client=self.cache.redis_client,
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
        self._calls: dict[asyncio.Task[Any], _Call] = {}
        self._idle = asyncio.Event()
        self._closing_done = asyncio.Event()
        self._requests = 0
        self._retries = 0
        self._built: dict[Query, Request] = {}

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
        if self._loop is not None and asyncio.get_running_loop() is not self._loop:
            await self._release_orphaned()
            raise self._wrong_loop()
        self._check_usable()
        if self._state is _State.OPEN:
            return
        self._loop = asyncio.get_running_loop()
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

    def _open_here(self) -> bool:
        """True when the client is open on the running loop and usable: nothing to check.

        The synchronous fast path of :meth:`_open`, taken by every call once the client
        is open; anything else (unopened, closing, another loop, a closed session of the
        caller's) goes through :meth:`_open`, which opens or raises.
        """
        session = self._session
        return (
            self._state is _State.OPEN
            and self._loop is asyncio.get_running_loop()
            and session is not None
            and (self._owns_session or not session.closed)
        )

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
        self._closing_done.set()
        if self._owns_session and self._session is not None:
            await self._session.close()

    def _check_usable(self) -> None:
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:  # called outside a loop: the first await checks
            running = self._loop
        if self._loop is not None and running is not self._loop:
            raise self._wrong_loop()
        if self._state in (_State.CLOSING, _State.CLOSED):
            raise ClientClosedError("this client is closed; make a new one")
        if not self._owns_session and self._session is not None and self._session.closed:
            raise ClientClosedError("the aiohttp session given to this client is closed")

    async def aclose(self) -> None:
        """End the calls in flight, then close the session (if the client made it) and the cache.

        Each call in flight ends at once with :class:`ClientClosedError` (a caller
        that cancelled its own call still gets ``CancelledError``); ``aclose``
        waits for them to unwind, a few seconds at most, before closing the
        backends under them. Idempotent: a second call waits for the first.
        """
        if self._loop is not None and asyncio.get_running_loop() is not self._loop:
            if not self._loop.is_closed():
                raise self._wrong_loop()
            await self._release_orphaned()
        if self._state in (_State.CLOSING, _State.CLOSED):
            await self._closing_done.wait()
            return
        self._state = _State.CLOSING
        try:
            await self._end_calls()
        finally:
            self._state = _State.CLOSED
            try:
                await self.cache.close()
            finally:
                try:
                    await self.quota.aclose()
                finally:
                    try:
                        if self._owns_session and self._session is not None:
                            await self._session.close()
                    finally:
                        self._closing_done.set()

    async def _end_calls(self) -> None:
        current = asyncio.current_task()
        ending = [task for task in self._calls if task is not current]
        if not ending:
            return
        self._idle.clear()
        for task in ending:
            self._calls[task].ended = True
            task.cancel()
        try:
            async with asyncio.timeout(_CLOSE_GRACE):
                await self._idle.wait()
        except TimeoutError:
            logger.warning(
                "%d calls were still unwinding %.0f s after aclose ended them; closing anyway",
                len(self._calls),
                _CLOSE_GRACE,
            )

    async def _call(
        self, work: Callable[_P, Awaitable[_T]], /, *args: _P.args, **kwargs: _P.kwargs
    ) -> _T:
        """``await work(*args, **kwargs)`` as one public call, which ``aclose`` can end.

        Every public call runs its work through here (the work itself, not a
        closure around it: a memory hit is a few microseconds, each layer counts).
        """
        if not self._open_here():
            await self._open()  # opens, or raises the error that says why not
        task = asyncio.current_task()
        if task is None or task in self._calls:
            return await work(*args, **kwargs)  # a call made inside another of this task's calls
        call = _Call(task.cancelling())
        self._calls[task] = call
        closed_under = False
        try:
            return await work(*args, **kwargs)
        except asyncio.CancelledError:
            if call.ended:
                call.ended = False  # this cancellation is now accounted for
                # Ours unless the caller cancelled too (asyncio.timeout decides the same way).
                closed_under = task.uncancel() <= call.baseline
            else:
                # Nobody cancelled this task: the work under it was, by the client closing.
                closed_under = self._state is not _State.OPEN and task.cancelling() <= call.baseline
            if not closed_under:
                raise
        finally:
            del self._calls[task]
            if call.ended:
                # aclose's cancellation was swallowed below (the work ended some other
                # way): withdraw it, so the caller's task is not left cancelled.
                task.uncancel()
            if not self._calls:
                self._idle.set()
        # Raised outside the except block: no CancelledError in its context.
        raise ClientClosedError("the client was closed while this call was in flight")

    @property
    def closed(self) -> bool:
        """True once ``aclose`` has begun."""
        return self._state in (_State.CLOSING, _State.CLOSED)

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
            near_hits=cache.near_hits,
            near_misses=cache.near_misses,
        )

    def get(
        self,
        query: Query | None = None,
        /,
        *,
        max_age: float | timedelta | None = None,
        refresh: bool = False,
        **params: Any,
    ) -> Coroutine[Any, Any, Page]:
        """The page for a query: ``await get(Query(...))`` or ``await get(source=..., ...)``.

        Served from the cache while its snapshot is younger than ``max_age``
        (default: the client's ``ttl``); ``refresh=True`` asks the server
        anyway. Identical concurrent calls share one request.
        """
        # A coroutine function in all but its frame: it hands back the call's own coroutine
        # (a frame less for every call, and for each caller of a burst), and a bad question
        # is raised where the call is awaited, as from a coroutine.
        try:
            wanted = query if type(query) is Query and not params else _query_of(query, params)
            # The defaults need no check: most calls pass neither.
            age = None if max_age is None else _max_age(max_age)
            fresh = False if refresh is False else _refresh(refresh)
        except Exception as error:  # noqa: BLE001  # raised when awaited, not when called
            return _raise_when_awaited(error)
        return self._cached(wanted, age, fresh)

    def _cached(
        self, query: Query, max_age: float | None, refresh: bool
    ) -> Coroutine[Any, Any, Page]:
        # The one road to a page: the cache, and upstream on a miss. The deadline covers
        # the whole call: time the cache spends (waiting for another process's fetch) is
        # charged to it as well as the fetch's own.
        return self._call(
            self.cache.get,
            query,
            functools.partial(self._fetch, query, self._timer()),
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
        derive: bool = True,
    ) -> FanOutResult:
        """Every query's page or typed error, in input order (identical queries run once).

        At most ``concurrency`` queries run at once; the quota paces the
        requests whatever the concurrency. One query's failure loses nothing
        else: it becomes that query's outcome. Cancelling the call cancels the
        queries in flight and waits for them. ``max_age`` and ``refresh`` are
        :meth:`get`'s, for every query.

        Two or more Design Arena category queries of one arena (alike in every
        other parameter) are answered from that arena's one page, which holds
        every category's items, wherever that page proves the answer is the
        server's (:attr:`~openrouter_bench.models.Page.derived_from` marks
        them); the rest are sent one by one, as with ``derive=False``.
        """
        unique = fanout.unique_queries(queries)
        width = fanout.check_concurrency(concurrency)
        getter = self._getter(_max_age(max_age), _refresh(refresh))
        if _derive(derive):
            getter = fanout.deriving(getter, unique)
        await self._open()
        return await fanout.fan_out(getter, unique, width)

    def stream(
        self,
        queries: Iterable[Query],
        *,
        concurrency: int = fanout.DEFAULT_CONCURRENCY,
        max_age: float | timedelta | None = None,
        refresh: bool = False,
        derive: bool = True,
    ) -> AsyncGenerator[tuple[Query, Outcome], None]:
        """``(query, page_or_error)`` for each query as it completes (identical ones once).

        Like :meth:`fan_out` (category pages cut from arena pages included), as
        an async iterator. Leaving the loop early cancels what is in flight; to
        have that happen at once rather than when the iterator is collected,
        close it::

            async with contextlib.aclosing(client.stream(grid)) as results:
                async for query, outcome in results:
                    ...
        """
        unique = fanout.unique_queries(queries)
        width = fanout.check_concurrency(concurrency)
        getter = self._getter(_max_age(max_age), _refresh(refresh))
        if _derive(derive):
            getter = fanout.deriving(getter, unique)
        self._check_usable()
        return fanout.stream_outcomes(getter, unique, width)

    def _getter(self, max_age: float | None, refresh: bool) -> Callable[[Query], Awaitable[Page]]:
        return functools.partial(self._cached, max_age=max_age, refresh=refresh)

    async def categories(
        self, arena: Arena | str = Arena.MODELS, *, refresh: bool = False
    ) -> tuple[str, ...]:
        """The Design Arena categories of ``arena``, as the data has them, in the server's order.

        One request for the whole arena (none while it is cached), so
        categories the server added since this package was released show up
        too. A :meth:`fan_out` of the categories reads the same page (from
        the cache) and cuts each category's page from it: discovery and a
        sweep of every category cost that one request.

        Limitation: the categories are read from the arena's page, which is
        only the whole arena if the server sends every item when no
        ``max_results`` is given (the API reference's reading). Under the Data
        API guide's reading it sends at most 50, and categories past them are
        not seen. When the page may have been cut that way
        (:attr:`~openrouter_bench.models.Page.may_be_cut`: exactly 50 items),
        this logs a warning and adds the documented categories
        (:data:`~openrouter_bench.query.KNOWN_CATEGORIES`) the page did not
        show, after the ones it did: a sweep over the result then misses no
        documented category, only (perhaps) a new one.
        """
        query = Query(source=Source.DESIGN_ARENA, arena=arena)
        page = await self.get(query, refresh=_refresh(refresh))
        found = tuple(
            dict.fromkeys(item.category for item in page.items if isinstance(item, DesignArenaItem))
        )
        if not page.may_be_cut:
            return found
        unseen = tuple(category for category in KNOWN_CATEGORIES if category not in found)
        logger.warning(
            "the %s arena's page holds %d items, the most a server may send without "
            "max_results: it may be cut, so categories past it may be missing; "
            "adding the %d documented categories it did not show",
            query.arena,
            len(page),
            len(unseen),
        )
        return found + unseen

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
        watched = _query_of(query, params)
        interval = _checks.seconds("every", every)
        self._check_usable()

        async def fetch(refresh: bool) -> Page:
            return await self.get(watched, refresh=refresh)

        async def sleep(seconds: float) -> None:
            # A call like any other while it waits: aclose ends a watch between polls too.
            await self._call(self._sleep, seconds)

        return watch_query(fetch, every=interval, sleep=sleep)

    async def quota_status(self) -> QuotaStatus:
        """What the quota has spent this minute and today, what is left, and any pause.

        Read from wherever the budget is kept (this process, the SQLite file,
        Redis), so a shared budget shows every process's requests. Sends nothing.
        """
        return await self._call(self.quota.status)

    async def history(self, query: Query | None = None, /, **params: Any) -> list[Page]:
        """The stored snapshots of a query, newest first (no request is sent)."""
        wanted = _query_of(query, params)
        return await self._call(self.cache.history, wanted)

    def request_for(self, query: Query) -> Request:
        """The request this client would send for ``query`` (its repr hides the key)."""
        if not isinstance(query, Query):
            raise InvalidQueryError(f"expected a Query, got {type(query).__name__}")
        return build_request(
            query,
            base_url=self.base_url,
            api_key=self._key.reveal(),
            app_url=self._app_url,
            app_title=self._app_title,
            app_categories=self._app_categories,
        )

    def _request(self, query: Query) -> Request:
        """:meth:`request_for`, built once per query (frozen: one serves every call)."""
        built = self._built
        request = built.get(query)
        if request is None:
            if len(built) >= _REQUESTS_KEPT:
                built.clear()
            request = built[query] = self.request_for(query)
        return request

    async def _fetch(self, query: Query, started: float) -> Page:
        request = self._request(query)
        # Counted per call: the client's request counter also moves with overlapping calls.
        attempts = 0
        announced = self._hooks.active

        async def attempt(budget: float) -> Page:
            nonlocal attempts
            attempts += 1
            if announced:
                return await self._send(request, query, budget, attempts)
            return await self._exchange(request, query, budget)

        def retried(error: BaseException, attempt: int, wait: float) -> None:
            if announced:
                self._hooks.emit(
                    RetryScheduled(
                        query=query, attempt=attempt, wait=wait, error=type(error).__name__
                    )
                )

        gate: SendGate = self.quota
        if announced:
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
        """:meth:`_exchange`, announced to the hooks (called only when there are hooks)."""
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
        # Asked once: two logger.debug calls cost more than the check when debug is off.
        debug = logger.isEnabledFor(logging.DEBUG)
        if debug:
            logger.debug("GET %s %s", request.url, query.key)
        response = await transport.exchange(
            self._session,
            request,
            total_seconds=max(0.001, min(self._timeout, budget)),
            connect_seconds=self._connect_timeout,
            max_bytes=self._max_bytes,
            verify_tls=self._verify_tls,
            redaction=self._key.redaction,
        )
        fetched_at = datetime.fromtimestamp(self._clock(), UTC)
        try:
            page = await transport.read_page(
                response,
                query=query,
                fetched_at=fetched_at,
                secrets=self._key.forms,
                max_items=self._max_items,
            )
        except NotFoundError as error:
            error.url = request.url  # a wrong base URL shows as this; say which URL was tried
            raise
        if debug:
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

    def turn_at_once(self) -> str | None:
        # A turn taken at once has no wait to tell of.
        return self._limiter.turn_at_once()

    def give_back(self, token: str) -> None:
        self._limiter.give_back(token)


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


async def _raise_when_awaited(error: Exception) -> Page:
    raise error


def _query_of(query: object, params: dict[str, Any]) -> Query:
    # One Query, or the keyword parameters of one: a call's question.
    if query is None:
        return Query(**params)
    if params:
        raise InvalidQueryError(
            "pass either a Query or keyword parameters, not both "
            f"(got a Query and {', '.join(sorted(params))[:200]})"
        )
    if not isinstance(query, Query):
        raise InvalidQueryError(f"expected a Query, got {type(query).__name__}")
    return query


def _max_age(value: float | timedelta | None) -> float | None:
    if value is None:
        return None
    try:
        return _checks.seconds("max_age", value, zero=True)
    except ConfigurationError as error:
        problem = error.message
    # A call's value: a bad one is a bad question, as for the query's own parameters.
    raise InvalidQueryError(problem, parameter="max_age")


def _refresh(value: bool) -> bool:
    if value is not True and value is not False:
        raise InvalidQueryError(
            f"refresh must be True or False, not {type(value).__name__}", parameter="refresh"
        )
    return value


def _derive(value: bool) -> bool:
    if value is True or value is False:
        return value
    raise InvalidQueryError(
        f"derive must be True or False, not {type(value).__name__}", parameter="derive"
    )
