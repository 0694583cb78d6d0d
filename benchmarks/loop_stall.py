"""Scenario 8: how long the event loop stalls while a body at the size cap becomes a page;
and, on its own, what a decompression bomb costs.

    python -m benchmarks.loop_stall            # the stall figures, printed
    python -m benchmarks.loop_stall --bomb     # a 10 GiB gzip bomb: peak RSS and time

A heartbeat task (``asyncio.sleep(0.001)`` in a loop) records the longest gap
between its beats while one request is sent, its body read, parsed and turned
into a :class:`~openrouter_bench.Page`. The body is the largest that fits the
default cap (:data:`~openrouter_bench.transport.DEFAULT_MAX_RESPONSE_BYTES`),
made two ways: (a) a few items with very long strings (cheap to parse, long to
copy) and (b) as many ordinary items as fit (the most objects to build). Each
is measured with bodies over :data:`~openrouter_bench.transport._OFF_LOOP_BYTES`
parsed in a worker thread (as the client does) and with that threshold forced
off (parsed on the loop). The server is a :class:`HostileServer` on its own
thread and loop, answering with bytes built before timing.

The hostile bodies here (:func:`inflating`, :func:`streamed`) are generated as
they are sent, never built whole: the tests of ``tests/hostile`` use them too.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import resource
import sys
import threading
import time
import zlib
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, Final

import aiohttp
import orjson

from benchmarks._context import RunContext
from benchmarks._documents import API_KEY, mixed_document
from benchmarks._report import Plan, ScenarioResult, Verdict, timed_row
from openrouter_bench import BenchmarksClient, Query, ResponseFormatError, RetryPolicy, transport
from openrouter_bench.fake.hostile import Answer, HostileServer, RawRequest, respond
from openrouter_bench.wire import build_request

__all__ = [
    "BOMB_BYTES",
    "MAX_STALL",
    "OFF_LOOP_ROW",
    "PLAN",
    "Heartbeat",
    "bodies_at_cap",
    "inflating",
    "idle_stall",
    "longest_stall",
    "measure_bomb",
    "run",
    "stalls",
    "streamed",
]

#: The goal: no beat of the heartbeat waits longer than this.
MAX_STALL: Final = 0.050
GOAL: Final = f"worst stall < {MAX_STALL * 1e3:.0f} ms"
PLAN: Final = Plan(8, "loop stall at the cap", (f"a default-cap body: client {GOAL}",))
#: The bomb of ``--bomb``: 10 GiB of zeros, about 10 MiB of gzip on the wire.
BOMB_BYTES: Final = 10 * 1024**3

_BLOCK: Final = 1024 * 1024
_WBITS: Final = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}
_ON_LOOP: Final = "parsed on the loop (threshold off)"
OFF_LOOP_ROW: Final = f"parsed off the loop above {transport._OFF_LOOP_BYTES // 1024} KiB"
_IDLE: Final = "no request, as long (the machine's noise)"


# --- hostile bodies, generated as they are sent -----------------------------------------------


def inflating(
    coding: str,
    inflated: int,
    *,
    content_length: bool = True,
    chunked: bool = False,
    status: int = 200,
) -> Answer:
    """A HostileServer answer: ``inflated`` zero bytes (whole MiB) as ``coding`` (gzip or deflate).

    The stream is made of identical flushed segments of one MiB each, so it is
    sent segment by segment without compressing 10 GiB first, and its exact
    compressed length (``Content-Length`` unless ``content_length=False``) is
    known up front. ``chunked`` frames it with ``Transfer-Encoding: chunked``.
    """
    blocks = max(1, inflated // _BLOCK)
    block = bytes(_BLOCK)
    compressor = zlib.compressobj(9, zlib.DEFLATED, _WBITS[coding])
    first = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    # After a full flush the compressor starts afresh: every later MiB comes out the same.
    segment = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    trailer_size = 8 if coding == "gzip" else 4
    size = len(first) + (blocks - 1) * len(segment) + 2 + trailer_size
    headers = [("Content-Encoding", coding)]
    if chunked:
        headers.append(("Transfer-Encoding", "chunked"))
    elif content_length:
        headers.append(("Content-Length", str(size)))

    async def answer(request: RawRequest, writer: asyncio.StreamWriter) -> None:
        writer.write(respond(status, b"", headers=headers, content_length=False))
        for index in range(blocks):
            _send(writer, first if index == 0 else segment, chunked)
            await writer.drain()
            await asyncio.sleep(0)  # the client's turn: drain does not wait while buffers are free
        # Reached only by a client that reads it all: then the check over every byte is owed.
        check = zlib.crc32(b"") if coding == "gzip" else zlib.adler32(b"")
        for _ in range(blocks):
            check = zlib.crc32(block, check) if coding == "gzip" else zlib.adler32(block, check)
        if coding == "gzip":
            size_mod = (blocks * _BLOCK) % 2**32
            end = b"\x03\x00" + check.to_bytes(4, "little") + size_mod.to_bytes(4, "little")
        else:
            end = b"\x03\x00" + check.to_bytes(4, "big")
        _send(writer, end, chunked)
        if chunked:
            writer.write(b"0\r\n\r\n")
        await writer.drain()

    return answer


def streamed(status: int, size: int, *, content_type: str = "text/html") -> Answer:
    """A HostileServer answer: ``status`` with a ``size``-byte HTML page, sent 64 KiB at a time.

    The page starts with a ``<title>`` naming the status and is padded with
    one repeated chunk, so nothing of its size is ever held.
    """
    title = f"<html><head><title>{status} Bad Gateway</title></head><body>".encode()
    filler = b"<p>upstream unavailable</p>\n" * (64 * 1024 // 28)
    headers = [("Content-Length", str(size)), ("Content-Type", content_type)]

    async def answer(request: RawRequest, writer: asyncio.StreamWriter) -> None:
        writer.write(respond(status, b"", headers=headers, content_type=None))
        writer.write(title)
        left = size - len(title)
        while left > 0:
            piece = filler[:left]
            writer.write(piece)
            left -= len(piece)
            await writer.drain()
            await asyncio.sleep(0)

    return answer


def _send(writer: asyncio.StreamWriter, data: bytes, chunked: bool) -> None:
    writer.write(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)


# --- the heartbeat ----------------------------------------------------------------------------


class Heartbeat:
    """A task that beats every millisecond and keeps the longest gap between beats.

    The gap still open when the block ends counts too: a stall just before the
    end would otherwise never be seen, its beat cancelled before it came.
    """

    def __init__(self) -> None:
        self.longest = 0.0
        self._last = 0.0
        self._task: asyncio.Task[None] | None = None

    def _mark(self) -> None:
        now = time.perf_counter()
        self.longest = max(self.longest, now - self._last)
        self._last = now

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(0.001)
            self._mark()

    async def __aenter__(self) -> Heartbeat:
        self._last = time.perf_counter()
        self._task = asyncio.create_task(self._beat())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._mark()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


# --- the stall scenario -----------------------------------------------------------------------


def bodies_at_cap(cap: int = transport.DEFAULT_MAX_RESPONSE_BYTES) -> dict[str, bytes]:
    """The two bodies of the scenario, each as large as fits ``cap``."""
    few = orjson.loads(mixed_document(4))
    overhead = len(orjson.dumps(few))
    for item in few["data"]:
        item["display_name"] = "x" * ((cap - overhead) // 4 - 64)
    large = orjson.dumps(few)
    per_item = len(mixed_document(1000)) / 1000
    count = int(cap / per_item)
    small = mixed_document(count)
    while len(small) > cap:
        count -= max(1, (len(small) - cap) // int(per_item) + 1)
        small = mixed_document(count)
    return {
        f"{len(few['data'])} items of {len(large) // 4 // 1024} KiB": large,
        f"{count:,} ordinary items": small,
    }


@contextlib.contextmanager
def _server_thread(answer: Answer) -> Iterator[str]:
    """A HostileServer answering ``answer`` on a thread and loop of its own; its URL."""
    ready = threading.Event()
    stop: list[asyncio.Event] = []
    url: list[str] = []
    loops: list[asyncio.AbstractEventLoop] = []

    async def serve() -> None:
        async with HostileServer(answer) as server:
            stopping = asyncio.Event()
            stop.append(stopping)
            loops.append(asyncio.get_running_loop())
            url.append(server.url)
            ready.set()
            await stopping.wait()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    ready.wait(timeout=30)
    try:
        yield url[0]
    finally:
        loops[0].call_soon_threadsafe(stop[0].set)
        thread.join(timeout=30)


async def longest_stall(url: str, *, off_loop_bytes: int) -> float:
    """Seconds of the longest heartbeat gap over one request to ``url`` and its page."""
    request = build_request(Query(), base_url=url, api_key=API_KEY)
    gc.collect()
    async with aiohttp.ClientSession() as session, Heartbeat() as beat:
        response = await transport.exchange(
            session,
            request,
            total_seconds=60.0,
            connect_seconds=10.0,
            max_bytes=transport.DEFAULT_MAX_RESPONSE_BYTES,
        )
        await transport.read_page(
            response,
            query=Query(),
            fetched_at=datetime.now(UTC),
            off_loop_bytes=off_loop_bytes,
        )
    return beat.longest


async def idle_stall(seconds: float) -> float:
    """The longest heartbeat gap over ``seconds`` of doing nothing: the machine's own noise."""
    async with Heartbeat() as beat:
        await asyncio.sleep(seconds)
    return beat.longest


async def stalls(quick: bool) -> list[tuple[str, dict[str, list[float]]]]:
    """Per body at the cap: the longest heartbeat gap of each run, on and off the loop and idle."""
    runs = 2 if quick else 15
    measured = []
    for label, body in bodies_at_cap().items():
        samples: dict[str, list[float]] = {_ON_LOOP: [], OFF_LOOP_ROW: [], _IDLE: []}
        with _server_thread(respond(200, body)) as url:
            await longest_stall(url, off_loop_bytes=transport._OFF_LOOP_BYTES)  # warm
            for _ in range(runs):
                started = time.perf_counter()
                samples[OFF_LOOP_ROW].append(
                    await longest_stall(url, off_loop_bytes=transport._OFF_LOOP_BYTES)
                )
                samples[_IDLE].append(await idle_stall(time.perf_counter() - started))
                samples[_ON_LOOP].append(await longest_stall(url, off_loop_bytes=sys.maxsize))
        measured.append((label, samples))
    return measured


async def run(context: RunContext) -> list[ScenarioResult]:
    """The longest loop stall for both bodies at the cap, with off-loop parsing on and off."""
    cap = transport.DEFAULT_MAX_RESPONSE_BYTES
    results = []
    for label, samples in await stalls(context.quick):
        worst = max(samples[OFF_LOOP_ROW])
        rows = (
            timed_row(
                _ON_LOOP,
                samples[_ON_LOOP],
                baseline=samples[_ON_LOOP],
                verdict=Verdict.BASELINE,
                detail=f"worst {max(samples[_ON_LOOP]) * 1e3:.1f} ms",
            ),
            timed_row(
                OFF_LOOP_ROW,
                samples[OFF_LOOP_ROW],
                baseline=samples[_ON_LOOP],
                goal=GOAL,
                verdict=Verdict.of(worst < MAX_STALL),
                measured=f"worst {worst * 1e3:.1f} ms",
            ),
            timed_row(
                _IDLE,
                samples[_IDLE],
                baseline=samples[_ON_LOOP],
                detail=f"worst {max(samples[_IDLE]) * 1e3:.1f} ms",
            ),
        )
        results.append(
            ScenarioResult(
                number=8,
                title=f"loop stall at the cap, {label}",
                rows=rows,
                notes=(
                    f"One request whose 200 body ({label}) is as large as the default "
                    f"{cap // 2**20} MiB cap allows, read, parsed and made a page while a "
                    "heartbeat task sleeps 1 ms at a time; a sample is the longest gap between "
                    "two beats in one call. The server runs on a thread of its own. *Parsed on "
                    "the loop* forces the off-loop threshold off; the ratio is the client's "
                    "stall over that one. *No request* runs the heartbeat alone for as long as the "
                    "call took: what the machine's load alone costs.",
                ),
                raw={"samples": samples},
            )
        )
    return results


# --- the bomb ---------------------------------------------------------------------------------


def _peak_rss() -> int:
    # ru_maxrss is in KiB on Linux and in bytes on macOS.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


async def measure_bomb(inflated: int = BOMB_BYTES) -> dict[str, Any]:
    """One client call against a gzip bomb of ``inflated`` bytes: what it raised, and its cost."""
    block = bytes(_BLOCK)
    compressed = len(zlib.compress(block, 9)) * (inflated // _BLOCK)
    async with HostileServer(inflating("gzip", inflated, content_length=False)) as server:
        client = BenchmarksClient(
            API_KEY,
            base_url=server.url,
            cache=None,
            quota=None,
            retry=RetryPolicy.no_wait(attempts=1),
        )
        async with client:
            with contextlib.suppress(ResponseFormatError):
                await client.get(max_results=1)  # warm: imports, connections, buffers
            del block
            gc.collect()
            before = _peak_rss()
            started = time.perf_counter()
            try:
                await client.get()
            except ResponseFormatError as error:
                outcome = f"ResponseFormatError: {error}"
            else:
                outcome = "a page (the cap did not hold)"
            seconds = time.perf_counter() - started
    return {
        "inflated_bytes": inflated,
        "compressed_bytes_about": compressed,
        "cap_bytes": transport.DEFAULT_MAX_RESPONSE_BYTES,
        "outcome": outcome,
        "peak_rss_growth_bytes": max(0, _peak_rss() - before),
        "seconds": seconds,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Print the stall figures, or with ``--bomb`` the bomb's."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.loop_stall", description=__doc__)
    parser.add_argument("--bomb", action="store_true", help="measure a 10 GiB gzip bomb instead")
    parser.add_argument("--quick", action="store_true", help="two samples per row")
    arguments = parser.parse_args(argv)
    if arguments.bomb:
        figures = asyncio.run(measure_bomb())
        print(
            f"{figures['outcome']}\n"
            f"bomb: {figures['inflated_bytes'] / 2**30:.0f} GiB of zeros, about "
            f"{figures['compressed_bytes_about'] / 2**20:.0f} MiB of gzip; cap "
            f"{figures['cap_bytes'] / 2**20:.0f} MiB; peak RSS "
            f"+{figures['peak_rss_growth_bytes'] / 2**20:.1f} MiB; {figures['seconds']:.2f} s"
        )
        return 0
    print(
        f"cap {transport.DEFAULT_MAX_RESPONSE_BYTES / 2**20:.0f} MiB, off-loop above "
        f"{transport._OFF_LOOP_BYTES // 1024} KiB"
    )
    for label, samples in asyncio.run(stalls(arguments.quick)):
        for name, values in samples.items():
            print(
                f"{label:32} {name:40} worst {max(values) * 1e3:6.1f} ms  "
                f"median {sorted(values)[len(values) // 2] * 1e3:6.1f} ms"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
