"""The fake ``GET /api/v1/benchmarks`` server (aiohttp.web, loopback only).

What a request meets, in order:

1. a scripted fault, or a random one in chaos mode (logged with its name;
   a faulted request counts against no rate limit);
2. ``405`` for a method other than GET, ``404`` for another path;
3. ``401`` for a missing, empty or malformed ``Authorization: Bearer <key>``
   header, or a key not in ``keys`` when ``keys`` is given, with the real
   endpoint's bare body: ``{"error": {"message": ..., "code": 401}}`` (no
   ``metadata``, ``openrouter_metadata`` or ``user_id``), the message for a
   missing header being the real one, ``No cookie auth credentials found``;
4. ``429`` past ``per_minute`` requests in ``minute_window`` seconds or
   ``per_day`` in ``day_window`` (sliding windows per key, read from
   ``clock``), its body's ``error.metadata.error_type`` being
   ``"rate_limit_exceeded"``; a refused request is not counted;
5. ``400`` for invalid parameters (:mod:`openrouter_bench.fake.selection`);
6. ``200`` with the body for the current snapshot.

Steps 5 and 6 carry ``X-RateLimit-Limit``, ``X-RateLimit-Remaining`` and
``X-RateLimit-Reset`` (epoch milliseconds, from ``wall_clock``) for the window
closest to refusing; a 429 carries them with ``Retry-After`` too. Every error
body has the contract's shape.

Two options choose between readings of the published documents where they
disagree (the defaults follow the API reference):

``as_of_milliseconds=True``
    ``meta.as_of`` is written as the Data API guide shows it,
    ``2026-06-03T12:00:00.000Z``, instead of ``2026-06-03T12:00:00Z``.
``max_results_reading="guide"``
    ``max_results`` as the Data API guide has it: 1 to 100, and at most 50
    items when it is omitted; a value over 100 is a 400 (``max_results must be
    between 1 and 100; got '150'``). The default, ``"reference"``, is the API
    reference's: at least 1, omitted means every matching item.

Control endpoints (no auth, never faulted, not logged): ``GET`` and
``DELETE /_fake/requests``, ``POST`` and ``DELETE /_fake/faults`` (body
``{"script": [...]}``), ``POST /_fake/chaos`` (``{"rate": 0.2, "faults": [...],
"seed": 1}``), ``POST /_fake/publish`` (optional ``{"as_of": "..."}``),
``POST /_fake/reset`` and ``GET /_fake/state``. They do what the Python
methods of the same name do.

The API key is never stored: the fake keeps a digest of each key to tell
clients apart, and no log, repr or message holds a key.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ipaddress
import logging
import random
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Collection, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Final, Self

import attrs
import orjson
from aiohttp import web

from openrouter_bench.fake.dataset import (
    DEFAULT_AS_OF,
    Snapshot,
    first_snapshot,
    format_timestamp,
    next_snapshot,
)
from openrouter_bench.fake.faults import TRANSIENT_FAULTS, Fault, FaultSpec, send_fault
from openrouter_bench.fake.ratelimit import RateDecision, SlidingWindowLimiter
from openrouter_bench.fake.selection import (
    MAX_RESULTS_READINGS,
    NO_CREDENTIALS,
    RATE_LIMIT_ERROR_TYPE,
    MaxResultsReading,
    ParameterError,
    Selection,
    bare_error_body,
    error_body,
)

__all__ = ["FakeOpenRouter", "RecordedRequest", "serve"]

logger = logging.getLogger("openrouter_bench.fake")

ENDPOINT: Final = "/api/v1/benchmarks"
_API_PREFIX: Final = "/api/v1"
# Handlers end their stalls when the fake closes, so a short grace is enough.
_SHUTDOWN_GRACE: Final = 0.5
_BODY_CACHE_ENTRIES: Final = 256
_THREAD_START_TIMEOUT: Final = 30.0

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@attrs.frozen
class RecordedRequest:
    """One API request as the fake saw it (never its key).

    ``status`` is the HTTP status, or the fault's name for a named fault
    (``"reset"``, ``"html502"``...); ``http_status`` is the status line actually
    sent (None when none was); ``fault`` names the fault, if one was injected
    (``"503"`` for a scripted status). ``at`` is the fake's clock reading.
    """

    method: str
    path: str
    params: dict[str, str] = attrs.field(hash=False)
    status: int | str
    http_status: int | None
    fault: str | None
    at: float

    def to_json(self) -> dict[str, Any]:
        """The record as the ``/_fake/requests`` endpoint shows it."""
        return attrs.asdict(self)


@attrs.define
class _Chaos:
    rate: float
    faults: tuple[Fault, ...]
    rng: random.Random


def _key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _check_loopback(host: str) -> None:
    if host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"the fake server listens on loopback only, not {host!r}")


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"as_of must be timezone-aware, got {moment!r}")
    # The API shows whole seconds; keeping more would make as_of fail to round-trip.
    return moment.astimezone(UTC).replace(microsecond=0)


class FakeOpenRouter:
    """A faithful, deterministic fake of OpenRouter's benchmarks endpoint.

    Use it as an async context manager in the running loop, or from
    synchronous code (and any other loop) with :meth:`running_in_thread`::

        async with FakeOpenRouter(seed=3, per_minute=None) as fake:
            fake.script(503, "reset")          # the next two requests fail
            ...                                # point a client at fake.url
            assert fake.requests[-1].status == 200

    The control methods (:meth:`script`, :meth:`publish`, :attr:`requests`...)
    are plain, thread-safe methods. ``clock`` drives the rate windows (inject
    one to test limits without sleeping); ``wall_clock`` gives the epoch time
    in ``X-RateLimit-Reset`` and HTTP-date ``Retry-After`` values.

    ``as_of_milliseconds`` and ``max_results_reading`` pick the Data API
    guide's reading of ``meta.as_of`` and ``max_results`` over the API
    reference's (see the module docstring): test a client against both.
    """

    def __init__(
        self,
        *,
        seed: int = 1,
        host: str = "127.0.0.1",
        port: int = 0,
        keys: Collection[str] | None = None,
        per_minute: int | None = 30,
        per_day: int | None = 500,
        minute_window: float = 60.0,
        day_window: float = 86_400.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        models: int = 160,
        as_of: datetime = DEFAULT_AS_OF,
        as_of_milliseconds: bool = False,
        max_results_reading: MaxResultsReading = "reference",
    ) -> None:
        _check_loopback(host)
        if max_results_reading not in MAX_RESULTS_READINGS:
            raise ValueError(
                "max_results_reading must be one of "
                f"{', '.join(map(repr, MAX_RESULTS_READINGS))}, got {max_results_reading!r}"
            )
        if not isinstance(as_of_milliseconds, bool):
            raise ValueError(f"as_of_milliseconds must be a bool, got {as_of_milliseconds!r}")
        self.as_of_milliseconds = as_of_milliseconds
        self.max_results_reading = max_results_reading
        self.seed = seed
        self._host = host
        self._port = port
        # None: any non-empty key is valid. Digests only: the fake never keeps a key.
        self._keys = None if keys is None else frozenset(_key_digest(key) for key in keys if key)
        windows = [
            (limit, length)
            for limit, length in ((per_minute, minute_window), (per_day, day_window))
            if limit is not None
        ]
        self._clock = clock
        self._wall_clock = wall_clock
        self._lock = threading.RLock()
        self._limiter = SlidingWindowLimiter(windows, clock)
        self._first = first_snapshot(seed, models, _aware(as_of))
        self._snapshots: list[Snapshot] = [self._first]
        self._bodies: OrderedDict[tuple[int, datetime, str], bytes] = OrderedDict()
        self._script: deque[Fault] = deque()
        self._chaos: _Chaos | None = None
        self._log: list[RecordedRequest] = []
        self._runner: web.AppRunner | None = None
        self._closing: asyncio.Event | None = None
        self._closed = False
        self._url: str | None = None

    def __repr__(self) -> str:
        where = self._url or "not started"
        return f"<FakeOpenRouter seed={self.seed} {where} as_of={format_timestamp(self.as_of)}>"

    # --- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def start(self) -> None:
        """Listen on the host and port given (port 0: a free one), in the running loop."""
        if self._runner is not None or self._closed:
            raise RuntimeError("a FakeOpenRouter starts once; make a new one")
        app = web.Application()
        app.router.add_route("*", _API_PREFIX + "/{tail:.*}", self._api)
        for method, path, handler in self._control_routes():
            app.router.add_route(method, path, handler)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=_SHUTDOWN_GRACE)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self._host, self._port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._closing = asyncio.Event()
        host, port = runner.addresses[0][:2]
        shown = f"[{host}]" if ":" in host else host
        self._url = f"http://{shown}:{port}{_API_PREFIX}"
        logger.debug("fake server listening at %s", self._url)

    async def close(self) -> None:
        """Stop serving; prompt even while faults stall (they are cut short). Idempotent."""
        self._closed = True
        runner, self._runner = self._runner, None
        if runner is None:
            return
        if self._closing is not None:
            self._closing.set()
        await runner.cleanup()

    @classmethod
    @contextlib.contextmanager
    def running_in_thread(cls, **options: Any) -> Iterator[Self]:
        """A started fake on its own event loop in a daemon thread, for sync code and other loops.

        ``options`` are the constructor's. The fake is closed and the thread
        joined on exit.
        """
        fake = cls(**options)
        loop = asyncio.new_event_loop()
        thread = threading.Thread(
            target=loop.run_forever, name="openrouter-bench-fake", daemon=True
        )
        thread.start()
        try:
            asyncio.run_coroutine_threadsafe(fake.start(), loop).result(_THREAD_START_TIMEOUT)
            yield fake
        finally:
            try:
                asyncio.run_coroutine_threadsafe(fake.close(), loop).result(_THREAD_START_TIMEOUT)
                # On the fake's own thread: the caller's thread may be running a loop of its own.
                asyncio.run_coroutine_threadsafe(loop.shutdown_asyncgens(), loop).result(
                    _THREAD_START_TIMEOUT
                )
            finally:
                loop.call_soon_threadsafe(loop.stop)
                thread.join()
                loop.close()

    @property
    def url(self) -> str:
        """The base URL, ``http://127.0.0.1:PORT/api/v1``; the endpoint is at ``/benchmarks``."""
        if self._url is None:
            raise RuntimeError("the fake is not started: use 'async with' or start()")
        return self._url

    @property
    def endpoint(self) -> str:
        """The full URL of ``GET /benchmarks``."""
        return self.url + "/benchmarks"

    # --- control ---------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every API request so far, oldest first (a copy)."""
        with self._lock:
            return list(self._log)

    def clear_requests(self) -> None:
        """Forget the request log."""
        with self._lock:
            self._log.clear()

    def script(self, *faults: FaultSpec) -> None:
        """Make the next API requests fail, one fault each, in order (after any already scripted).

        A fault is a status (``503``), a name (``"reset"``, see
        :mod:`openrouter_bench.fake.faults`), a :class:`Fault`, or a mapping
        such as ``{"fault": 429, "retry_after": 2}``.
        """
        parsed = [Fault.of(fault) for fault in faults]
        with self._lock:
            self._script.extend(parsed)

    def clear_faults(self) -> None:
        """Drop the scripted faults not consumed yet."""
        with self._lock:
            self._script.clear()

    def chaos(
        self, rate: float, faults: Sequence[FaultSpec] | None = None, *, seed: int = 0
    ) -> None:
        """Fail a ``rate`` fraction of requests with a fault drawn from ``faults``; 0 stops.

        Draws come from their own generator seeded with ``seed``, so a run is
        repeatable. Scripted faults go first. The default faults are
        :data:`~openrouter_bench.fake.faults.TRANSIENT_FAULTS`.
        """
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate must be between 0 and 1, got {rate}")
        choices = tuple(
            Fault.of(fault) for fault in (TRANSIENT_FAULTS if faults is None else faults)
        )
        if rate > 0 and not choices:
            raise ValueError("chaos needs at least one fault to draw from")
        with self._lock:
            self._chaos = _Chaos(rate, choices, random.Random(seed)) if rate > 0 else None

    @property
    def as_of(self) -> datetime:
        """When the current snapshot was published."""
        with self._lock:
            return self._snapshots[-1].as_of

    @property
    def published(self) -> list[datetime]:
        """The ``as_of`` of every snapshot so far, oldest first."""
        with self._lock:
            return [snapshot.as_of for snapshot in self._snapshots]

    def publish(self, *, as_of: datetime | None = None) -> datetime:
        """Publish a new snapshot (default ``as_of``: one day after the current one).

        Scores drift so that ranks move, a few models enter and leave
        rankings, and every earlier snapshot stays readable with
        :meth:`payload_at`. Returns the new ``as_of``.
        """
        with self._lock:
            current = self._snapshots[-1]
            moment = current.as_of + timedelta(days=1) if as_of is None else _aware(as_of)
            if moment <= current.as_of:
                raise ValueError(
                    f"as_of must be later than the current {format_timestamp(current.as_of)}, "
                    f"got {format_timestamp(moment)}"
                )
            self._snapshots.append(next_snapshot(current, seed=self.seed, as_of=moment))
            return moment

    def payload(self, params: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The JSON body a 200 for these query parameters would carry now (a test oracle).

        Raises :class:`~openrouter_bench.fake.selection.ParameterError` (a
        ``ValueError``) where the server would answer 400.
        """
        with self._lock:
            snapshot = self._snapshots[-1]
        return self._decoded(snapshot, params)

    def payload_at(
        self, as_of: datetime, params: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        """The body the snapshot published at ``as_of`` gives these parameters."""
        moment = _aware(as_of)
        with self._lock:
            found = [snapshot for snapshot in self._snapshots if snapshot.as_of == moment]
        if not found:
            raise LookupError(f"no snapshot was published at {format_timestamp(moment)}")
        return self._decoded(found[0], params)

    def reset(self) -> None:
        """Back to a fresh fake: first snapshot, empty log, no faults, no chaos, no rate history."""
        with self._lock:
            self._snapshots = [self._first]
            # A later history may reach the same (generation, as_of) with other data.
            self._bodies.clear()
            self._log.clear()
            self._script.clear()
            self._chaos = None
            self._limiter.clear()

    def state(self) -> dict[str, Any]:
        """A summary: current ``as_of``, published snapshots, request and fault counts."""
        with self._lock:
            return {
                "as_of": format_timestamp(self._snapshots[-1].as_of),
                "published": [format_timestamp(s.as_of) for s in self._snapshots],
                "requests": len(self._log),
                "pending_faults": len(self._script),
                "chaos_rate": 0.0 if self._chaos is None else self._chaos.rate,
                "seed": self.seed,
            }

    # --- bodies ----------------------------------------------------------------------------

    def _decoded(self, snapshot: Snapshot, params: Mapping[str, str] | None) -> dict[str, Any]:
        selection = Selection.from_params(params or {}, reading=self.max_results_reading)
        document: dict[str, Any] = orjson.loads(self._body(snapshot, selection))
        return document

    def _body(self, snapshot: Snapshot, selection: Selection) -> bytes:
        key = (snapshot.generation, snapshot.as_of, selection.key)
        with self._lock:
            body = self._bodies.get(key)
            if body is not None:
                self._bodies.move_to_end(key)
                return body
            body = orjson.dumps(selection.body(snapshot, milliseconds=self.as_of_milliseconds))
            self._bodies[key] = body
            if len(self._bodies) > _BODY_CACHE_ENTRIES:
                self._bodies.popitem(last=False)
            return body

    def _body_for(self, pairs: Sequence[tuple[str, str]]) -> bytes:
        """The 200 body for these parameters, or the default one if they are invalid."""
        with self._lock:
            snapshot = self._snapshots[-1]
        try:
            selection = Selection.from_pairs(pairs, reading=self.max_results_reading)
        except ParameterError:
            selection = Selection.from_pairs((), reading=self.max_results_reading)
        return self._body(snapshot, selection)

    # --- the API ---------------------------------------------------------------------------

    def _next_fault(self) -> Fault | None:
        with self._lock:
            if self._script:
                return self._script.popleft()
            chaos = self._chaos
            if chaos is not None and chaos.rng.random() < chaos.rate:
                return chaos.rng.choice(chaos.faults)
            return None

    def _record(
        self,
        request: web.Request,
        status: int | str,
        http_status: int | None,
        fault: str | None = None,
    ) -> None:
        record = RecordedRequest(
            method=request.method,
            path=request.path,
            params=dict(request.query),
            status=status,
            http_status=http_status,
            fault=fault,
            at=self._clock(),
        )
        with self._lock:
            self._log.append(record)
        logger.debug("%s %s -> %s", record.method, request.path_qs, status)

    def _reply(
        self,
        request: web.Request,
        status: int,
        document: Mapping[str, Any] | bytes,
        headers: Mapping[str, str] | None = None,
    ) -> web.Response:
        self._record(request, status, status)
        body = document if isinstance(document, bytes) else orjson.dumps(document)
        return web.Response(
            status=status, body=body, content_type="application/json", headers=headers
        )

    async def _api(self, request: web.Request) -> web.StreamResponse:
        pairs = list(request.query.items())
        fault = self._next_fault()
        if fault is not None:
            self._record(request, fault.kind, fault.status, fault.name)
            return await send_fault(
                fault,
                request,
                ok_body=lambda: self._body_for(pairs),
                stall=self._stall,
                wall_now=self._wall_clock(),
            )
        if request.method != "GET":
            return self._reply(
                request,
                405,
                error_body(405, f"method {request.method} is not allowed; use GET"),
                {"Allow": "GET"},
            )
        if request.path.rstrip("/") != ENDPOINT:
            return self._reply(request, 404, error_body(404, f"no such endpoint: {request.path}"))
        key, problem = _bearer_key(request.headers.get("Authorization"))
        if key is None or (self._keys is not None and _key_digest(key) not in self._keys):
            return self._reply(request, 401, bare_error_body(401, problem or "invalid API key"))
        with self._lock:
            decision = self._limiter.take(_key_digest(key))
        headers = {} if decision is None else decision.headers(self._wall_clock())
        if decision is not None and not decision.allowed:
            return self._reply(request, 429, _rate_limited(decision), headers)
        try:
            selection = Selection.from_pairs(pairs, reading=self.max_results_reading)
        except ParameterError as error:
            return self._reply(request, 400, error.body(), headers)
        with self._lock:
            snapshot = self._snapshots[-1]
        return self._reply(request, 200, self._body(snapshot, selection), headers)

    async def _stall(self, seconds: float) -> bool:
        """Wait up to ``seconds``; True if the fake is closing (the wait was cut short)."""
        closing = self._closing
        if closing is None:
            return True
        try:
            await asyncio.wait_for(closing.wait(), seconds)
        except TimeoutError:
            return False
        return True

    # --- control endpoints -----------------------------------------------------------------

    def _control_routes(self) -> list[tuple[str, str, _Handler]]:
        return [
            ("GET", "/_fake/requests", self._get_requests),
            ("DELETE", "/_fake/requests", self._delete_requests),
            ("POST", "/_fake/faults", self._post_faults),
            ("DELETE", "/_fake/faults", self._delete_faults),
            ("POST", "/_fake/chaos", self._post_chaos),
            ("POST", "/_fake/publish", self._post_publish),
            ("POST", "/_fake/reset", self._post_reset),
            ("GET", "/_fake/state", self._get_state),
        ]

    async def _get_requests(self, request: web.Request) -> web.StreamResponse:
        return _json([record.to_json() for record in self.requests])

    async def _delete_requests(self, request: web.Request) -> web.StreamResponse:
        self.clear_requests()
        return web.Response(status=204)

    async def _post_faults(self, request: web.Request) -> web.StreamResponse:
        try:
            script = (await _read_json(request)).get("script")
            if not isinstance(script, list):
                raise ValueError('expected {"script": [fault, ...]}')
            self.script(*script)
        except (TypeError, ValueError) as error:
            return _bad_control(str(error))
        return _json(self.state())

    async def _delete_faults(self, request: web.Request) -> web.StreamResponse:
        self.clear_faults()
        return web.Response(status=204)

    async def _post_chaos(self, request: web.Request) -> web.StreamResponse:
        try:
            document = await _read_json(request)
            self.chaos(
                float(document.get("rate", 0.0)),
                document.get("faults"),
                seed=int(document.get("seed", 0)),
            )
        except (TypeError, ValueError) as error:
            return _bad_control(str(error))
        return _json(self.state())

    async def _post_publish(self, request: web.Request) -> web.StreamResponse:
        try:
            raw = (await _read_json(request)).get("as_of")
            as_of = None if raw is None else datetime.fromisoformat(str(raw))
            published = self.publish(as_of=as_of)
        except (TypeError, ValueError) as error:
            return _bad_control(str(error))
        return _json({"as_of": format_timestamp(published)})

    async def _post_reset(self, request: web.Request) -> web.StreamResponse:
        self.reset()
        return _json(self.state())

    async def _get_state(self, request: web.Request) -> web.StreamResponse:
        return _json(self.state())


def _bearer_key(header: str | None) -> tuple[str | None, str | None]:
    """The key from an Authorization header, or None and why it is unusable."""
    if header is None:
        return None, NO_CREDENTIALS
    scheme, _, key = header.strip().partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key or any(char.isspace() for char in key):
        return None, "malformed Authorization header; expected 'Bearer <key>'"
    return key, None


def _rate_limited(decision: RateDecision) -> dict[str, Any]:
    return error_body(
        429,
        f"rate limit exceeded: {decision.limit} requests per window; "
        f"retry in {decision.retry_after} s",
        {
            "error_type": RATE_LIMIT_ERROR_TYPE,
            "limit": decision.limit,
            "retry_after": decision.retry_after,
        },
    )


def _json(document: object, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(document), content_type="application/json")


def _bad_control(message: str) -> web.Response:
    return _json(error_body(400, message), status=400)


async def _read_json(request: web.Request) -> dict[str, Any]:
    """A control request's JSON object; an empty body is an empty object."""
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ValueError("the body is not JSON") from None
    if not isinstance(document, dict):
        raise ValueError("the body must be a JSON object")
    return document


async def serve(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    seed: int = 1,
    keys: Collection[str] | None = None,
    per_minute: int | None = 30,
    per_day: int | None = 500,
    as_of_milliseconds: bool = False,
    max_results_reading: MaxResultsReading = "reference",
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Run a fake until cancelled; ``on_ready`` gets the base URL once it listens.

    The options are :class:`FakeOpenRouter`'s.
    """
    async with FakeOpenRouter(
        seed=seed,
        host=host,
        port=port,
        keys=keys,
        per_minute=per_minute,
        per_day=per_day,
        as_of_milliseconds=as_of_milliseconds,
        max_results_reading=max_results_reading,
    ) as fake:
        if on_ready is not None:
            on_ready(fake.url)
        await asyncio.get_running_loop().create_future()
