"""Faults the fake can inject, and how each one goes on the wire.

A fault is an HTTP error status (any 4xx or 5xx, with the contract's JSON
error body: a 401 with only ``error.message`` and ``error.code``, as the real
endpoint sends it, a 429 with ``error.metadata.error_type`` set to
``"rate_limit_exceeded"``) or one of the named failures in :data:`FAULT_NAMES`:

``reset``
    The connection is reset (TCP RST) before any response byte. aiohttp's
    ``ClientSession`` resends an idempotent request once, on a new
    connection, after such a failure: a lone ``reset`` is invisible to it (its
    resend meets the next fault or succeeds), so script two in a row to make an
    aiohttp client see one.
``reset_mid_body``
    200 headers and part of a chunked body, then the connection closes.
``timeout``
    Nothing at all for ``delay`` seconds (default 30), then the connection
    closes. Closing the fake ends the wait at once.
``slow_body``
    200 headers and the first part of the body, a stall of ``delay`` seconds,
    then the rest.
``truncate``
    200 with a ``Content-Length`` larger than the bytes sent, then a close.
``html502``, ``html503``
    A proxy's HTML error page with that status.
``malformed``
    200, ``application/json``, a body that is not JSON.
``wrong_shape``
    200 with valid JSON of the wrong shape (the ``data`` array alone).
``oversize``
    200 with a valid document of ``size`` bytes (default 12 MiB).
``redirect``
    302 to the same path on another loopback host, where nothing listens.

Statuses and the HTML pages take ``retry_after`` (seconds) for a
``Retry-After`` header, sent as an HTTP date instead with
``retry_after_date=True``.
"""

from __future__ import annotations

import asyncio
import email.utils
import http
import itertools
import math
import socket
import struct
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final, NoReturn

import attrs
import orjson
from aiohttp import web

from openrouter_bench.fake.selection import RATE_LIMIT_ERROR_TYPE, bare_error_body, error_body

__all__ = ["FAULT_NAMES", "TRANSIENT_FAULTS", "Fault", "FaultSpec", "send_fault"]

FAULT_NAMES: Final = (
    "reset",
    "reset_mid_body",
    "timeout",
    "slow_body",
    "truncate",
    "html502",
    "html503",
    "malformed",
    "wrong_shape",
    "oversize",
    "redirect",
)

#: What :meth:`FakeOpenRouter.chaos` draws from by default: failures a client should retry.
TRANSIENT_FAULTS: Final[tuple[int | str, ...]] = (
    500,
    502,
    503,
    504,
    "reset",
    "truncate",
    "html502",
    "html503",
)

_HTML_STATUS: Final = {"html502": 502, "html503": 503}
_DEFAULT_SIZE: Final = 12 * 1024 * 1024
_SPEC_KEYS: Final = frozenset({"fault", "retry_after", "retry_after_date", "delay", "size"})


def _check_kind(_: object, __: object, kind: int | str) -> None:
    if isinstance(kind, bool):
        raise ValueError(f"a fault is a status or a name, not {kind!r}")
    if isinstance(kind, int):
        if not 400 <= kind <= 599:
            raise ValueError(f"a fault status must be a 4xx or 5xx, got {kind}")
    elif kind not in FAULT_NAMES:
        raise ValueError(f"unknown fault {kind!r}; known: {', '.join(FAULT_NAMES)} or a status")


def _non_negative(_: object, attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is not None and (isinstance(value, bool) or value < 0):
        raise ValueError(f"{attribute.name} must be a number >= 0, got {value!r}")


@attrs.frozen
class Fault:
    """One scripted failure; see the module docstring for each kind."""

    kind: int | str = attrs.field(validator=_check_kind)
    retry_after: float | None = attrs.field(default=None, validator=_non_negative)
    retry_after_date: bool = False
    delay: float = attrs.field(default=30.0, validator=_non_negative)
    size: int = attrs.field(default=_DEFAULT_SIZE, validator=_non_negative)

    @property
    def name(self) -> str:
        """The name the request log shows: the status as text, or the fault's name."""
        return str(self.kind)

    @property
    def status(self) -> int | None:
        """The HTTP status this fault answers with; None when no response is sent."""
        if isinstance(self.kind, int):
            return self.kind
        if self.kind in _HTML_STATUS:
            return _HTML_STATUS[self.kind]
        if self.kind in ("reset", "timeout"):
            return None
        return 302 if self.kind == "redirect" else 200

    @classmethod
    def of(cls, spec: FaultSpec) -> Fault:
        """A fault from a short form: ``503``, ``"reset"``, ``{"fault": 503, "retry_after": 2}``."""
        if isinstance(spec, Fault):
            return spec
        if isinstance(spec, Mapping):
            extra = set(spec) - _SPEC_KEYS
            if extra or "fault" not in spec:
                raise ValueError(
                    f"a fault mapping needs 'fault' and may have {sorted(_SPEC_KEYS - {'fault'})}; "
                    f"got keys {sorted(spec)}"
                )
            options = {name: value for name, value in spec.items() if name != "fault"}
            if not isinstance(options.get("retry_after_date", False), bool):
                raise ValueError("retry_after_date must be true or false")
            return cls(_kind(spec["fault"]), **options)
        return cls(_kind(spec))


FaultSpec = Fault | int | str | Mapping[str, Any]


def _kind(value: object) -> int | str:
    if isinstance(value, str) and value.isdigit():
        return int(value)
    if isinstance(value, int | str):
        return value
    raise ValueError(f"a fault is a status or a name, not {value!r}")


async def send_fault(
    fault: Fault,
    request: web.Request,
    *,
    ok_body: Callable[[], bytes],
    stall: Callable[[float], Awaitable[bool]],
    wall_now: float,
) -> web.StreamResponse:
    """Answer ``request`` with ``fault``.

    ``ok_body`` gives the body a 200 would carry (for the faults that damage
    one); ``stall`` waits up to that many seconds and returns True when the
    server is closing instead.
    """
    kind = fault.kind
    if isinstance(kind, int):
        return web.json_response(
            _status_body(kind),
            status=kind,
            headers=_retry_after(fault, wall_now),
            dumps=_dumps,
        )
    if kind in _HTML_STATUS:
        status = _HTML_STATUS[kind]
        return web.Response(
            status=status,
            text=_proxy_page(status),
            content_type="text/html",
            headers=_retry_after(fault, wall_now),
        )
    if kind == "reset":
        _drop(request, reset=True)
    if kind == "timeout":
        await stall(fault.delay)
        _drop(request, reset=True)
    if kind == "redirect":
        host = "127.0.0.2"  # loopback, but not where the fake listens
        port = request.url.port
        return web.Response(
            status=302, headers={"Location": f"http://{host}:{port}{request.path_qs}"}
        )
    body = ok_body()
    if kind == "malformed":
        return web.Response(body=body[: len(body) // 2], content_type="application/json")
    if kind == "wrong_shape":
        data = orjson.loads(body)["data"]
        return web.Response(body=orjson.dumps(data), content_type="application/json")
    if kind == "oversize":
        return web.Response(body=_padded(body, fault.size), content_type="application/json")
    response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    if kind == "reset_mid_body":
        response.enable_chunked_encoding()
        await response.prepare(request)
        await response.write(body[: len(body) // 2])
        _drop(request, reset=False)
    response.content_length = len(body)
    await response.prepare(request)
    if kind == "truncate":
        await response.write(body[: len(body) * 3 // 4])
        _drop(request, reset=False)
    head = max(1, len(body) // 4)
    await response.write(body[:head])
    if await stall(fault.delay):
        _drop(request, reset=True)
    try:
        await response.write(body[head:])
        await response.write_eof()
    except ConnectionError:
        # The client gave up during the stall; nobody is left to answer.
        _drop(request, reset=True)
    return response


def _drop(request: web.Request, *, reset: bool) -> NoReturn:
    """End the connection now, without a (complete) response. Never returns."""
    transport = request.transport
    if transport is not None:
        if reset:
            sock = transport.get_extra_info("socket")
            if sock is not None:
                # Linger 0: close() sends RST instead of FIN, as a crashed peer or proxy would.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort()
        else:
            transport.close()
    # aiohttp takes a cancelled handler for a vanished client: it writes nothing more.
    raise asyncio.CancelledError


def _status_body(status: int) -> dict[str, Any]:
    # The shapes the real endpoint uses: a bare 401, a 429 naming its error type.
    message = _phrase(status)
    if status == 401:
        return bare_error_body(status, message)
    if status == 429:
        return error_body(status, message, {"error_type": RATE_LIMIT_ERROR_TYPE})
    return error_body(status, message)


def _phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _retry_after(fault: Fault, wall_now: float) -> dict[str, str]:
    if fault.retry_after is None:
        if fault.retry_after_date:
            return {"Retry-After": _http_date(wall_now + 1)}
        return {}
    if fault.retry_after_date:
        return {"Retry-After": _http_date(wall_now + fault.retry_after)}
    return {"Retry-After": str(math.ceil(fault.retry_after))}


def _http_date(epoch: float) -> str:
    moment = datetime.fromtimestamp(0, UTC) + timedelta(seconds=math.ceil(epoch))
    return email.utils.format_datetime(moment, usegmt=True)


def _proxy_page(status: int) -> str:
    phrase = _phrase(status)
    return (
        "<!DOCTYPE html>\n"
        f"<html><head><title>{status} {phrase}</title></head>\n"
        f"<body><h1>{status} {phrase}</h1>\n"
        "<p>The gateway could not get a response from the upstream service. "
        "Please try again in a few moments.</p>\n"
        "<hr><address>edge-proxy</address></body></html>\n"
    )


def _padded(body: bytes, size: int) -> bytes:
    """A valid document of exactly ``size`` bytes (or the smallest possible), repeating items."""
    document = orjson.loads(body)
    items = [orjson.dumps(item) for item in document["data"]]
    head = b'{"data":['
    tail = b'],"meta":' + orjson.dumps(document["meta"]) + b"}"
    room = size - len(head) - len(tail)
    chosen: list[bytes] = []
    used = 0
    for item in itertools.cycle(items) if items else ():
        if used + len(item) + 1 > room:
            break
        chosen.append(item)
        used += len(item) + 1
    middle = b",".join(chosen)
    # JSON allows white space before the closing brace: it makes up the exact size.
    padding = b" " * max(0, room - len(middle))
    return head + middle + tail[:-1] + padding + tail[-1:]


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()
