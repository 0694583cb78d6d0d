"""The HTTP exchange: one GET through aiohttp, its body read within a cap, its errors made ours.

This is the only module that touches aiohttp's request and response objects.
It knows nothing of caches, quotas or retries: it sends what
:func:`openrouter_bench.wire.build_request` built and hands back the status,
the headers and the body, or raises one of this package's errors. Three rules
hold for whatever the other side sends:

- **The cap counts decoded bytes.** aiohttp's own decompression is turned off
  for the request (the session may be the caller's, so it is never trusted to
  be set up right); gzip and deflate (and br and zstd when their decoders are
  installed) are inflated here, a bounded slice at a time, so a small body
  that inflates to gigabytes stops at the cap holding little more than it.
- **An error status is read for what it is.** For any status but 200 only the
  first :data:`_ERROR_EXCERPT_BYTES` of the body are read: a 502 with a 20 MiB
  HTML page is still a 502 (a transient error the cache can mask with a stale
  page), not a body over the cap.
- **The key does not come back.** Every copy of the request's credential in the
  body or the headers of an answer is replaced before anything reads them.
- **No aiohttp object rides on our errors.** aiohttp's errors hold the request
  (``request_info``, with the Authorization header): ours are built after the
  ``except`` block, so neither ``__context__`` nor ``__cause__`` points at them,
  and their text, which can quote the server's bytes, is cleaned of the key.

:func:`read_page` turns the answer into a page with :func:`~openrouter_bench.wire.read_response`,
off the event loop when the body is large.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import zlib
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final, Protocol
from urllib.parse import urlsplit

import aiohttp
import attrs

from openrouter_bench._convert import MAX_PAGE_ITEMS
from openrouter_bench._text import REDACTED, untrusted_text
from openrouter_bench.errors import (
    OpenRouterBenchError,
    RequestTimeoutError,
    ResponseFormatError,
    TransportError,
)
from openrouter_bench.models import Page
from openrouter_bench.query import Query
from openrouter_bench.wire import Request, credential_forms, read_response

# Used by the client; the package root exports none of it.
__all__: list[str] = []

#: The default cap on a 200 body, counted after decoding. The fake's unfiltered page
#: (every source, 1,061 items) is 335 KiB, so 2 MiB is six of them: room for the
#: catalogue to grow. It is no higher because parsing holds the interpreter:
#: ``orjson.loads`` cannot be interrupted, so even in a worker thread a body of small
#: items stalls the event loop for as long as that one call takes, and longer when the
#: machine is busy. Measured on two cores (``python -m benchmarks.loop_stall``), the
#: longest stall over a whole call with a body of small items at the cap: 2 MiB, 25 ms
#: at a load of 3 and 77 ms at a load of 7; 3 MiB, 55 ms and 4 MiB, 110 ms at a load of
#: 3 (the goal is under 50 ms). A caller expecting larger pages passes
#: ``max_response_bytes``.
DEFAULT_MAX_RESPONSE_BYTES: Final = 2 * 1024 * 1024

#: Bodies longer than this are parsed in a worker thread. Below it the parse holds the
#: loop for a few milliseconds (the 1,000-item page, 313 KiB: about 4 ms on an idle
#: core), and a thread would not shorten that much: ``orjson.loads`` (some 40 % of the
#: parse) holds the interpreter wherever it runs, and a worker keeps the interpreter
#: for up to ``sys.getswitchinterval()`` (5 ms) before the loop gets a turn. The hand-off
#: itself (the executor, a wake-up through the loop's self-pipe, an extra pass of the
#: loop) costs a cold 1,000-item call some 3 % of its time. Above this size the parse
#: runs long enough that the thread lets the loop in between switch intervals.
_OFF_LOOP_BYTES: Final = 384 * 1024

#: How much of an error status's body is read: enough for the API's error JSON or a
#: proxy page's ``<title>``; the rest is never read.
_ERROR_EXCERPT_BYTES: Final = 64 * 1024

#: Bytes asked of the socket at a time.
_READ_CHUNK: Final = 64 * 1024
#: The most a decoder inflates in one call; between slices the loop runs other tasks.
_SLICE: Final = 256 * 1024
#: gzip allows members one after another; a real body has one or two.
_MAX_MEMBERS: Final = 64


# --- decoders ---------------------------------------------------------------------------------


class _Decoder(Protocol):
    """A content decoder that inflates at most ``limit`` bytes per call."""

    name: str

    def decode(self, data: bytes, limit: int) -> bytes:
        """Feed ``data`` (empty while :attr:`pending`); at most about ``limit`` bytes out."""

    @property
    def pending(self) -> bool:
        """True while output is waiting that needs no new input."""

    def finish(self) -> None:
        """Raise :class:`ResponseFormatError` if the stream stopped before its end."""


class _Zlib:
    """gzip (several members allowed) or deflate (zlib-wrapped, or raw as some servers send)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._obj: Any = None
        self._members = 0
        self._full = False

    def _start(self, data: bytes) -> None:
        if self.name == "gzip":
            wbits = 16 + zlib.MAX_WBITS
        elif len(data) >= 2 and data[0] & 0x0F == 8 and int.from_bytes(data[:2]) % 31 == 0:
            wbits = zlib.MAX_WBITS  # a zlib header, as RFC 9110 says deflate is
        else:
            wbits = -zlib.MAX_WBITS  # bare deflate
        self._members += 1
        if self._members > _MAX_MEMBERS:
            raise ResponseFormatError(f"the gzip body has more than {_MAX_MEMBERS} members")
        self._obj = zlib.decompressobj(wbits)

    def decode(self, data: bytes, limit: int) -> bytes:
        if self._obj is not None and self._obj.eof:
            rest = self._obj.unused_data + data
            if not rest:
                return b""
            if self.name != "gzip":
                raise ResponseFormatError("the deflate body goes on after its stream ends")
            data, self._obj = rest, None
        if self._obj is None:
            if not data:
                return b""
            self._start(data)
        try:
            out: bytes = self._obj.decompress(self._obj.unconsumed_tail + data, limit)
        except zlib.error as error:
            reason = str(error)
        else:
            self._full = len(out) >= limit
            return out
        raise ResponseFormatError(f"the {self.name} body does not decode ({reason})")

    @property
    def pending(self) -> bool:
        if self._obj is None:
            return False
        if self._obj.eof:
            return bool(self._obj.unused_data)
        return self._full or bool(self._obj.unconsumed_tail)

    def finish(self) -> None:
        if self._obj is None or not self._obj.eof:
            raise ResponseFormatError(f"the {self.name} body ends before its stream does")


class _Brotli:
    """br, with a Brotli that can bound its output (1.1 and later)."""

    name = "br"

    def __init__(self, module: Any) -> None:
        self._error: type[Exception] = module.error
        self._obj = module.Decompressor()

    def decode(self, data: bytes, limit: int) -> bytes:
        try:
            out: bytes = self._obj.process(data, output_buffer_limit=limit)
        except self._error as error:
            reason = str(error) or type(error).__name__
        else:
            return out
        raise ResponseFormatError(f"the br body does not decode ({reason})")

    @property
    def pending(self) -> bool:
        return not self._obj.can_accept_more_data()

    def finish(self) -> None:
        if not self._obj.is_finished():
            raise ResponseFormatError("the br body ends before its stream does")


class _Zstd:
    """zstd (frames one after another allowed), from ``compression.zstd`` or its backport."""

    name = "zstd"

    def __init__(self, module: Any) -> None:
        self._module = module
        self._obj = module.ZstdDecompressor()
        self._frames = 1

    def decode(self, data: bytes, limit: int) -> bytes:
        if self._obj.eof:
            data = self._obj.unused_data + data
            if not data:
                return b""
            self._frames += 1
            if self._frames > _MAX_MEMBERS:
                raise ResponseFormatError(f"the zstd body has more than {_MAX_MEMBERS} frames")
            self._obj = self._module.ZstdDecompressor()
        try:
            out: bytes = self._obj.decompress(data, limit)
        except self._module.ZstdError as error:
            reason = str(error)
        else:
            return out
        raise ResponseFormatError(f"the zstd body does not decode ({reason})")

    @property
    def pending(self) -> bool:
        if self._obj.eof:
            return bool(self._obj.unused_data)
        return not self._obj.needs_input

    def finish(self) -> None:
        if not self._obj.eof:
            raise ResponseFormatError("the zstd body ends before its stream does")


def _optional(*names: str) -> Any:
    for name in names:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    return None


_BROTLI: Final = _optional("brotli", "brotlicffi")
_ZSTD: Final = _optional("compression.zstd", "backports.zstd")

_FACTORIES: Final[dict[str, Callable[[], _Decoder]]] = {
    "gzip": lambda: _Zlib("gzip"),
    "x-gzip": lambda: _Zlib("gzip"),
    "deflate": lambda: _Zlib("deflate"),
}
# A decoder that cannot bound its output could not keep the cap: such a Brotli is not used.
if _BROTLI is not None and hasattr(_BROTLI.Decompressor(), "can_accept_more_data"):
    _FACTORIES["br"] = lambda: _Brotli(_BROTLI)
if _ZSTD is not None:
    _FACTORIES["zstd"] = lambda: _Zstd(_ZSTD)

#: What the client says it can decode: exactly the codings above.
_ACCEPT_ENCODING: Final = ", ".join(name for name in _FACTORIES if name != "x-gzip")


def _decoder(content_encoding: str) -> _Decoder | None:
    """The decoder for a ``Content-Encoding`` value; None for none; unknown ones refused."""
    coding = content_encoding.strip().lower()
    if coding in ("", "identity"):
        return None
    factory = _FACTORIES.get(coding)
    if factory is None:
        shown = untrusted_text(content_encoding, limit=60)
        raise ResponseFormatError(
            f"the answer is in a content coding this client cannot decode: {shown!r} "
            f"(it accepts {_ACCEPT_ENCODING})"
        )
    return factory()


# --- reading a body ---------------------------------------------------------------------------


def _over_cap(limit: int, decoded: int, coding: str | None) -> ResponseFormatError:
    if coding is None:
        return ResponseFormatError(f"the answer is over the {limit}-byte cap; stopped reading")
    return ResponseFormatError(
        f"the {coding} answer inflates past the {limit}-byte cap; "
        f"stopped after {decoded} decoded bytes"
    )


async def _read_body(response: aiohttp.ClientResponse, limit: int, *, cut: bool) -> bytes:
    """The decoded body, at most ``limit`` bytes: over it, the first ``limit`` if ``cut``,
    else :class:`ResponseFormatError`. The bytes on the wire are held to ``limit`` too, so
    a stream that decodes to nothing cannot go on for ever."""
    decoder = _decoder(response.headers.get("Content-Encoding", ""))
    coding = None if decoder is None else decoder.name
    declared = response.content_length
    if not cut and declared is not None and declared > limit:
        raise ResponseFormatError(f"the answer is {declared} bytes, over the {limit}-byte cap")
    if decoder is None and not cut and declared is not None:
        # Identity and known within the cap: one read, which aiohttp stops at Content-Length.
        return await response.read()
    parts: list[bytes] = []
    decoded = 0
    received = 0
    async for chunk in response.content.iter_chunked(_READ_CHUNK):
        received += len(chunk)
        if decoder is None:
            parts.append(chunk)
            decoded += len(chunk)
        else:
            if received > limit and not cut:
                raise _over_cap(limit, decoded, coding)
            data = chunk
            while True:
                piece = decoder.decode(data, min(_SLICE, limit - decoded + 1))
                data = b""
                parts.append(piece)
                decoded += len(piece)
                if decoded > limit or not decoder.pending:
                    break
                await asyncio.sleep(0)  # a bomb inflates in slices, not in one stall
        if decoded > limit or (cut and received > limit):
            if not cut:
                raise _over_cap(limit, decoded, coding)
            response.close()  # the rest is never read: this connection cannot be reused
            return b"".join(parts)[:limit]
    if decoder is not None:
        decoder.finish()
    return b"".join(parts)


# --- the exchange -----------------------------------------------------------------------------


@attrs.frozen
class _RawResponse:
    """What came back: the status, the response's headers (by lower-case name), and the
    decoded body.

    For a status other than 200, ``body`` is at most :data:`_ERROR_EXCERPT_BYTES`
    of it (the rest was not read).
    """

    status: int
    headers: Mapping[str, str] = attrs.field(repr=False)
    body: bytes = attrs.field(repr=False)


def _secrets(request: Request) -> tuple[str, ...]:
    """The request's credential in every form it was sent, for :func:`untrusted_text`."""
    for name, value in request.headers.items():
        if name.lower() == "authorization":
            key = value.partition(" ")[2]
            return credential_forms(key) if key else (value,)
    return ()


#: The shortest secret scrubbed from an answer's data (an OpenRouter key is some 70 characters).
_SCRUBBED_LENGTH: Final = 12


def _needles(secrets: Sequence[str]) -> list[str]:
    """The secrets that hold no other one: a text holds a secret only if it holds one of these.

    ``Bearer <key>`` holds ``<key>``, so looking for the key alone is enough.
    """
    needles = []
    for secret in secrets:
        if not secret:
            continue
        for other in secrets:
            if other and other != secret and other in secret:
                break
        else:
            needles.append(secret)
    return needles


class Redaction:
    """The forms of a request's credential an answer is scrubbed of, sifted once.

    Built once per client (the key does not change), so a call does not sort and
    compare the forms again; :func:`exchange` builds one from the request when it
    is given none.
    """

    __slots__ = ("_hidden", "_needles", "secrets")

    def __init__(self, secrets: Sequence[str]) -> None:
        #: Every form, for :func:`untrusted_text` (whatever its length).
        self.secrets = tuple(secrets)
        # Longest first, so ``Bearer <key>`` is replaced whole.
        self._hidden = tuple(
            sorted((s for s in self.secrets if len(s) >= _SCRUBBED_LENGTH), key=len, reverse=True)
        )
        self._needles = tuple(_needles(self._hidden))

    def __repr__(self) -> str:
        return "<Redaction>"


def _without_secrets(
    status: int, headers: Mapping[str, str], body: bytes, redaction: Redaction
) -> _RawResponse:
    """The answer with every copy of the key in it replaced, before anything reads it.

    A real server never echoes the credential; a hostile one does, in a body or a
    header, so that it lands in an error message, a log line or the cache. The
    longest secret goes first, so ``Bearer <key>`` is replaced whole. A secret
    shorter than :data:`_SCRUBBED_LENGTH` is left in the data: it cannot be told
    apart from the data's own text (a test key ``"k"`` is in every field name),
    and no real key is that short; texts bound for errors and logs are still
    redacted of it (:func:`untrusted_text`).
    """
    hidden = redaction._hidden
    needles = redaction._needles
    # Looked for before anything is replaced: a page's body is scanned once, not once
    # per form of the key, and copied only if it holds one.
    for needle in needles:
        if needle.encode() in body:
            for secret in hidden:
                body = body.replace(secret.encode(), REDACTED.encode())
            break
    kept: dict[str, str] = {}
    for name, value in headers.items():
        for needle in needles:
            if needle in value:
                for secret in hidden:
                    value = value.replace(secret, REDACTED)
                break
        key = name.lower()
        # A repeated header reads as its values joined, as RFC 9110 combines them.
        kept[key] = f"{kept[key]}, {value}" if key in kept else value
    return _RawResponse(status=status, headers=kept, body=body)


def _reason(error: BaseException, secrets: tuple[str, ...]) -> str:
    # aiohttp's text can quote what the server sent (a bad status line): untrusted.
    text = untrusted_text(error, secrets=secrets)
    name = type(error).__name__
    return f"{name}: {text}" if text else name


def _host(request: Request) -> str | None:
    # Only an error names the host: parsed then, not for every request.
    return urlsplit(request.url).hostname


@functools.lru_cache(maxsize=64)
def _client_timeout(total: float, connect: float) -> aiohttp.ClientTimeout:
    # Frozen, so one per pair of values serves every request: a call's total is the
    # client's timeout unless its deadline is nearer, so a few pairs cover nearly all.
    return aiohttp.ClientTimeout(total=total, connect=connect)


async def exchange(
    session: aiohttp.ClientSession,
    request: Request,
    *,
    total_seconds: float,
    connect_seconds: float,
    max_bytes: int,
    verify_tls: bool = True,
    redaction: Redaction | None = None,
) -> _RawResponse:
    """Send ``request`` once; its status, headers and body (a 200's up to ``max_bytes``
    decoded bytes, else :class:`ResponseFormatError`).

    Connection failures, resets and bodies cut short raise :class:`TransportError`;
    no complete answer within ``total_seconds`` raises :class:`RequestTimeoutError`
    (``connect_seconds`` bounds the connection alone).
    Redirects are not followed (the status comes back as it is). ``redaction`` is
    the request's credential sifted once (built from the request when not given).
    """
    if redaction is None:
        redaction = Redaction(_secrets(request))
    secrets = redaction.secrets
    headers = dict(request.headers)
    if "accept-encoding" not in map(str.lower, headers):
        headers["Accept-Encoding"] = _ACCEPT_ENCODING
    client_timeout = _client_timeout(total_seconds, connect_seconds)
    failure: OpenRouterBenchError
    try:
        async with session.get(
            request.url,
            params=request.params or None,
            headers=headers,
            allow_redirects=False,
            timeout=client_timeout,
            ssl=verify_tls,
            # Per request, so a caller's session set to decompress cannot undo the cap.
            auto_decompress=False,
        ) as response:
            status = response.status
            declared = response.content_length
            if status != 200:
                body = await _error_excerpt(response)
            elif (
                declared is not None
                and declared <= max_bytes
                and "Content-Encoding" not in response.headers
            ):
                # Identity and known within the cap: one read, which aiohttp stops at
                # Content-Length (what _read_body does too, past a coroutine and a lookup).
                body = await response.read()
            else:
                body = await _read_body(response, max_bytes, cut=False)
            return _without_secrets(status, response.headers, body, redaction)
    except TimeoutError:
        failure = RequestTimeoutError(
            f"no complete answer from {_host(request)} within {total_seconds:.1f} s"
        )
    except aiohttp.ClientPayloadError as error:
        failure = TransportError(
            f"the answer from {_host(request)} was cut short ({_reason(error, secrets)})"
        )
    except aiohttp.ClientError as error:
        failure = TransportError(f"request to {_host(request)} failed: {_reason(error, secrets)}")
    # Raised here, outside the except blocks, so that no __context__ leads back to
    # aiohttp's error and its request_info (which holds the Authorization header).
    raise failure


async def _error_excerpt(response: aiohttp.ClientResponse) -> bytes:
    # Whatever is wrong with an error's body, the status says what happened: a body
    # in an unknown coding or one that does not decode reads as empty.
    try:
        return await _read_body(response, _ERROR_EXCERPT_BYTES, cut=True)
    except ResponseFormatError:
        response.close()
        return b""


# --- the page ---------------------------------------------------------------------------------

_Reader = Callable[..., Page]


async def read_page(
    response: _RawResponse,
    *,
    query: Query,
    fetched_at: datetime,
    off_loop_bytes: int = _OFF_LOOP_BYTES,
    reader: _Reader = read_response,
    secrets: Sequence[str] = (),
    max_items: int = MAX_PAGE_ITEMS,
) -> Page:
    """The page in ``response``, or the typed error it means (as
    :func:`~openrouter_bench.wire.read_response` reads it).

    A body longer than ``off_loop_bytes`` is read in a worker thread, so the
    event loop goes on meanwhile. ``reader`` is the pure function that does it;
    ``secrets`` are the texts it must redact from what it keeps; a page of more
    than ``max_items`` items is a :class:`ResponseFormatError`.
    The error raised carries no chain and no traceback into the parser: those
    would hold the body, which a hostile server can fill with the request's key.
    """
    status, headers, body = response.status, response.headers, response.body
    hidden = tuple(secrets)
    failure: OpenRouterBenchError
    read = functools.partial(
        reader,
        status,
        headers,
        body,
        query=query,
        fetched_at=fetched_at,
        secrets=hidden,
        max_items=max_items,
    )
    try:
        if len(body) > off_loop_bytes:
            return await asyncio.to_thread(read)
        return read()
    except OpenRouterBenchError as error:
        failure = error
    failure.__cause__ = None
    failure.__context__ = None
    raise failure.with_traceback(None)
