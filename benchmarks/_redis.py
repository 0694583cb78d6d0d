"""A Redis for the Redis scenario: ``$REDIS_URL``, else a private ``redis-server`` on loopback.

The private server is a child process of this one (no daemon, no persistence,
a free port), stopped when the run ends. Without either, or without the
``redis`` package, the scenario says it was skipped.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from typing import Final

from openrouter_bench.fake import free_port

__all__ = ["redis_server"]

_START_TIMEOUT: Final = 10.0
_STOP_TIMEOUT: Final = 10.0


def _wait_until_up(url: str, process: subprocess.Popen[bytes]) -> None:
    import redis

    deadline = time.monotonic() + _START_TIMEOUT
    client = redis.Redis.from_url(url, socket_connect_timeout=0.5)
    try:
        while True:
            try:
                client.ping()
            except redis.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the private redis-server did not start") from None
                time.sleep(0.05)
            else:
                return
    finally:
        client.close()


@contextlib.contextmanager
def redis_server() -> Iterator[str | None]:
    """``$REDIS_URL`` if set; else a private server's URL; None without redis-server or redis-py."""
    if importlib.util.find_spec("redis") is None:
        yield None
        return
    given = os.environ.get("REDIS_URL")
    if given:
        yield given
        return
    binary = shutil.which("redis-server")
    if binary is None:
        yield None
        return
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-redis-") as directory:
        process = subprocess.Popen(  # noqa: S603  # redis-server from PATH, fixed arguments
            [
                binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                directory,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            url = f"redis://127.0.0.1:{port}/0"
            _wait_until_up(url, process)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
