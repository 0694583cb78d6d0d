"""A hostile HTTP server on loopback: it answers with whatever bytes it is scripted to send.

The fake server (:mod:`openrouter_bench.fake.server`) behaves like a real API
that is sometimes broken. This one behaves like what can sit in front of an
API instead: a compromised proxy, a captive portal, a misconfigured gateway.
It speaks raw HTTP/1.1 over a socket, so an answer can be anything at all:
a body that inflates past its size on the wire, a status line aiohttp cannot
parse, an error message that echoes the request's ``Authorization`` header,
a ``Retry-After`` of centuries. Use it to check that code built on the
client keeps its promises when the other side is malicious::

    async with HostileServer(respond(429, b"{}", headers={"Retry-After": "1e12"})) as server:
        async with BenchmarksClient("key", base_url=server.url, cache=None) as client:
            ...
    server.requests[0].headers  # what the client sent

Each answer in the script is either bytes (sent as they are, then the
connection is closed) or an async callable ``(request, writer)`` that writes
what it likes. The script is used in order; the last answer repeats.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from types import TracebackType
from typing import Final, Self

import attrs

__all__ = ["Answer", "HostileServer", "RawRequest", "chunked", "respond"]

#: The most of a request head the server reads; the client's heads are far smaller.
_MAX_HEAD: Final = 64 * 1024


@attrs.frozen
class RawRequest:
    """One request as the hostile server read it off the socket."""

    method: str
    target: str
    #: Header names in lower case, values as sent, in the order sent.
    headers: tuple[tuple[str, str], ...]

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (any case), or None."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key == wanted), None)


#: What the server does with one request: bytes to send, or a coroutine that writes its own.
Answer = bytes | Callable[[RawRequest, asyncio.StreamWriter], Awaitable[None]]


def respond(
    status: int,
    body: bytes = b"",
    *,
    headers: Mapping[str, str] | Sequence[tuple[str, str]] = (),
    reason: str = "Hostile",
    content_type: str | None = "application/json",
    content_length: bool = True,
) -> bytes:
    """The bytes of one whole HTTP/1.1 answer, with ``Connection: close``.

    ``headers`` are sent as given (so a header can repeat, or lie about the
    body); ``Content-Length`` is added from the body unless
    ``content_length=False`` or the headers already carry one (or say
    ``Transfer-Encoding``), and then the body simply ends at the close.
    """
    pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
    names = {name.lower() for name, _ in pairs}
    if content_type is not None and "content-type" not in names:
        pairs.append(("Content-Type", content_type))
    if content_length and not names & {"content-length", "transfer-encoding"}:
        pairs.append(("Content-Length", str(len(body))))
    pairs.append(("Connection", "close"))
    head = f"HTTP/1.1 {status} {reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in pairs)
    return head.encode("latin-1") + b"\r\n" + body


def chunked(*parts: bytes) -> bytes:
    """``parts`` framed as a chunked body, with the closing empty chunk."""
    framed = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in parts if part)
    return framed + b"0\r\n\r\n"


class HostileServer:
    """A raw HTTP/1.1 server on 127.0.0.1 that sends scripted answers and logs requests.

    ``url`` is an API base URL (``http://127.0.0.1:PORT/api/v1``) to give a
    client. ``requests`` lists every request read, in order. ``script()``
    replaces the answers. Every connection is closed after one answer.
    """

    def __init__(self, *answers: Answer) -> None:
        if not answers:
            answers = (respond(500, b'{"error": {"code": 500, "message": "unscripted"}}'),)
        self._answers: list[Answer] = list(answers)
        self._served = 0
        self.requests: list[RawRequest] = []
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self.url = ""

    def script(self, *answers: Answer) -> None:
        """Answer the next requests with ``answers``, in order; the last repeats."""
        if not answers:
            raise ValueError("script at least one answer")
        self._answers = list(answers)
        self._served = 0

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/api/v1"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop listening and end every connection still being answered."""
        if self._server is not None:
            self._server.close()
            for task in list(self._handlers):
                task.cancel()
            for task in list(self._handlers):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await self._server.wait_closed()
            self._server = None

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        try:
            request = await _read_head(reader)
            if request is None:
                return
            self.requests.append(request)
            answer = self._answers[min(self._served, len(self._answers) - 1)]
            self._served += 1
            if isinstance(answer, bytes):
                writer.write(answer)
                await writer.drain()
            else:
                await answer(request, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client hung up first: that is its right
        except asyncio.CancelledError:
            # aclose() stopping an answer still being sent; ending quietly keeps
            # Python 3.11's stream callback from logging the cancelled task as an error.
            pass
        finally:
            if task is not None:
                self._handlers.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                await writer.wait_closed()


async def _read_head(reader: asyncio.StreamReader) -> RawRequest | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        return None
    if len(head) > _MAX_HEAD:
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, _, rest = lines[0].partition(" ")
    target = rest.rpartition(" ")[0]
    headers = tuple(
        (name.strip().lower(), value.strip())
        for name, _, value in (line.partition(":") for line in lines[1:] if line)
    )
    return RawRequest(method=method, target=target, headers=headers)
