"""The benchmark server: the endpoint's answers, built before timing, served from another process.

The bundled fake checks rate limits, logs every request and builds bodies on
demand; all of that is right for tests and wrong here, where the server must
never be what is measured. This server runs in its own process (its own
core, its own GIL), builds every body it will send once at start-up from the
fake's data (:mod:`benchmarks._documents`), and answers a request with a dict
lookup. It reads parameters with the fake's own parser, so requests that ask
the same thing in different words (the official SDK always sends
``include_run_config=false``) get the same bytes.

``GET /_bench/requests`` answers ``{"count": n}``: the API requests served so
far, the count the single-flight scenario checks.

Run by :func:`bench_server`; the process stops when its standard input closes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import select
import subprocess
import sys
from collections.abc import Iterator
from typing import Final

import aiohttp
import orjson
from aiohttp import web

from benchmarks._documents import body_for, served_queries
from openrouter_bench.fake import ParameterError
from openrouter_bench.fake.selection import Selection, error_body

__all__ = ["BenchServer", "bench_server"]

_START_TIMEOUT: Final = 120.0
_STOP_TIMEOUT: Final = 10.0
_READY: Final = "READY "


class BenchServer:
    """A running benchmark server in a child process: its base URL and request count."""

    def __init__(self, url: str) -> None:
        self.url = url

    def __repr__(self) -> str:
        return f"<BenchServer {self.url}>"

    async def requests_served(self) -> int:
        """API requests the server has answered so far."""
        control = self.url.split("/api/", 1)[0] + "/_bench/requests"
        async with aiohttp.ClientSession() as session, session.get(control) as response:
            response.raise_for_status()
            count: int = (await response.json())["count"]
        return count


@contextlib.contextmanager
def bench_server(*, fan_out: int) -> Iterator[BenchServer]:
    """Start the server in a child process (answering a run with ``fan_out`` fan-out queries)."""
    process = subprocess.Popen(  # noqa: S603  # our own interpreter and module, no shell
        [sys.executable, "-m", "benchmarks._server", "--fan-out", str(fan_out)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], _START_TIMEOUT)
        line = process.stdout.readline() if ready else ""
        if not line.startswith(_READY):
            raise RuntimeError(f"the benchmark server did not start (said {line.strip()!r})")
        yield BenchServer(line[len(_READY) :].strip())
    finally:
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def _bodies(fan_out: int) -> dict[str, bytes]:
    bodies: dict[str, bytes] = {}
    for query in served_queries(fan_out):
        bodies[Selection.from_params(query.params).key] = body_for(query)
    return bodies


def _app(bodies: dict[str, bytes]) -> web.Application:
    served = 0

    async def benchmarks(request: web.Request) -> web.Response:
        nonlocal served
        if not request.headers.get("Authorization", "").startswith("Bearer "):
            return _json(error_body(401, "missing Authorization header"), 401)
        try:
            key = Selection.from_pairs(request.query.items()).key
        except ParameterError as error:
            return _json(error.body(), 400)
        body = bodies.get(key)
        if body is None:
            return _json(error_body(404, f"not a query of this benchmark run: {key}"), 404)
        served += 1
        return web.Response(body=body, content_type="application/json")

    async def requests(request: web.Request) -> web.Response:
        return _json({"count": served}, 200)

    app = web.Application()
    app.router.add_get("/api/v1/benchmarks", benchmarks)
    app.router.add_get("/_bench/requests", requests)
    return app


def _json(document: object, status: int) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(document), content_type="application/json")


async def _serve(fan_out: int) -> None:
    runner = web.AppRunner(_app(_bodies(fan_out)), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        print(f"{_READY}http://{host}:{port}/api/v1", flush=True)
        # Serve until the parent closes our standard input (or dies, which closes it too).
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.buffer.read)
    finally:
        await runner.cleanup()


def main() -> None:
    """The child process: build the bodies, listen on a free loopback port, print the URL."""
    parser = argparse.ArgumentParser(description="the benchmark server (started by benchmarks)")
    parser.add_argument("--fan-out", type=int, required=True, help="fan-out queries to answer")
    args = parser.parse_args()
    asyncio.run(_serve(args.fan_out))


if __name__ == "__main__":
    main()
