"""Shared fixtures: the fake server on loopback, a canary key, and a controllable clock."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import io
import logging
import os
import queue
import shutil
import struct
import termios
import threading
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import attrs
import pytest
import redis.asyncio as aioredis

from openrouter_bench import BenchmarksClient, Catalog, RetryPolicy
from openrouter_bench._convert import structure_page
from openrouter_bench.cli import main
from openrouter_bench.fake import FakeOpenRouter, FakeTime, RedisServer
from openrouter_bench.fake.hostile import Answer, HostileServer
from openrouter_bench.hooks import (
    CacheEvent,
    ClientHooks,
    RequestSent,
    ResponseReceived,
    RetryScheduled,
    WaitStarted,
)
from openrouter_bench.models import Page
from openrouter_bench.query import Query

#: A key that must never show up anywhere: reprs, errors, logs, output, cache.
CANARY_KEY: Final = "sk-or-v1-canary-5f3a9c1e7d2b4f60a8e1c3b5d7f9a2c4"


@pytest.fixture
def fake_time() -> FakeTime:
    """A fresh controllable clock."""
    return FakeTime()


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenRouter]:
    """The bundled fake server on a free loopback port, no rate limits."""
    async with FakeOpenRouter(seed=7, per_minute=None, per_day=None) as server:
        yield server


@attrs.frozen
class Run:
    """What one command did: its exit code and both output streams."""

    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        """Standard error, line by line."""
        return self.err.splitlines()


def run_cli(*argv: str, secrets: tuple[str, ...] = (CANARY_KEY,)) -> Run:
    """Run the command line in this process; no secret may appear in either stream."""
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    result = Run(code, out.getvalue(), err.getvalue())
    for secret in secrets:
        assert secret not in result.out, argv
        assert secret not in result.err, argv
    return result


def on_terminal(
    argv: list[str], *, stream: str, columns: int | None = None
) -> tuple[int, str, str]:
    """Run a command with stdout or stderr on a pseudo-terminal; (code, terminal, other).

    ``columns``: the width the terminal reports (None: a fresh one's, which is 0).
    """
    leader, follower = os.openpty()
    if columns is not None:
        fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    received = bytearray()

    def drain() -> None:
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the other end closed
                return
            if not chunk:
                return
            received.extend(chunk)

    reader = threading.Thread(target=drain)
    reader.start()
    other = io.StringIO()
    with open(follower, "w", encoding="utf-8", closefd=True) as terminal:
        if stream == "out":
            code = main(argv, stdout=terminal, stderr=other)
        else:
            code = main(argv, stdout=other, stderr=terminal)
    reader.join(timeout=10)
    os.close(leader)
    shown = received.decode("utf-8", "replace").replace("\r\n", "\n")
    assert CANARY_KEY not in shown + other.getvalue()
    return code, shown, other.getvalue()


@contextlib.contextmanager
def serving_in_thread(*answers: Answer) -> Iterator[str]:
    """A :class:`HostileServer` with this script, in its own thread and loop; yields its URL.

    For commands run with :func:`run_cli`, which runs its own loop in this thread.
    """
    urls: queue.Queue[str] = queue.Queue()
    stop = threading.Event()

    async def serve() -> None:
        async with HostileServer(*answers) as server:
            urls.put(server.url)
            await asyncio.to_thread(stop.wait)

    thread = threading.Thread(target=asyncio.run, args=(serve(),))
    thread.start()
    try:
        yield urls.get(timeout=10)
    finally:
        stop.set()
        thread.join(timeout=10)


HookEvent = RequestSent | ResponseReceived | RetryScheduled | CacheEvent | WaitStarted


class Recorder(ClientHooks):
    """Keeps every event it hears."""

    def __init__(self) -> None:
        self.events: list[HookEvent] = []

    def request_sent(self, event: RequestSent) -> None:
        self.events.append(event)

    def response_received(self, event: ResponseReceived) -> None:
        self.events.append(event)

    def retry_scheduled(self, event: RetryScheduled) -> None:
        self.events.append(event)

    def cache_event(self, event: CacheEvent) -> None:
        self.events.append(event)

    def wait_started(self, event: WaitStarted) -> None:
        self.events.append(event)

    def of(self, kind: type[HookEvent]) -> list[HookEvent]:
        return [event for event in self.events if isinstance(event, kind)]


@pytest.fixture(scope="session")
def dataset() -> FakeOpenRouter:
    """The fake's data set (seed 7), not served: tests build pages from its answers (page_from)."""
    return FakeOpenRouter(seed=7, per_minute=None, per_day=None)


@pytest.fixture
async def fake_catalog(fake: FakeOpenRouter) -> Catalog:
    """The whole data set of ``fake``, loaded as a Catalog (five requests)."""
    async with BenchmarksClient(
        CANARY_KEY, base_url=fake.url, retry=RetryPolicy.no_wait(), quota=None
    ) as client:
        return await Catalog.load(client)


def page_from(fake: FakeOpenRouter, params: Mapping[str, str]) -> Page:
    """The page the client would build from the fake's answer to ``params`` (no request)."""
    return structure_page(
        fake.payload(params),
        query=Query.from_params(dict(params)),
        fetched_at=datetime(2026, 6, 3, tzinfo=UTC),
    )


def bare_meta(model_count: int, as_of: str = "2026-06-03T12:00:00Z") -> dict[str, object]:
    """A ``meta`` object of a handmade answer: every documented key, only the count filled."""
    return {
        "as_of": as_of,
        "version": "v1",
        "source": None,
        "source_url": None,
        "citation": None,
        "model_count": model_count,
        "task_type": None,
    }


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """main() configures the root logger for its process; put it back after each test."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture(scope="module")
def served() -> Iterator[FakeOpenRouter]:
    """One fake server in a background thread for the module, without rate limits."""
    with FakeOpenRouter.running_in_thread(seed=7, per_minute=None, per_day=None) as fake:
        yield fake


@pytest.fixture
def api(served: FakeOpenRouter, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeOpenRouter:
    """The fake, reset, with the key, the base URL and a private cache directory in the env."""
    served.reset()
    monkeypatch.setenv("OPENROUTER_API_KEY", CANARY_KEY)
    monkeypatch.setenv("OPENROUTER_BASE_URL", served.url)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    return served


def required(value: str | None, missing: str) -> str:
    """``value``, or skip the test saying what is ``missing`` (under CI=true, fail it instead)."""
    if not value:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{missing}, and CI=true requires this test to run")
        pytest.skip(missing)
    return value


def redis_url_or_skip() -> str:
    """The Redis to test against ($REDIS_URL), as :func:`required` allows."""
    return required(os.environ.get("REDIS_URL"), "REDIS_URL is not set")


@pytest.fixture
def redis_url() -> str:
    """The Redis to test against: skip without one, fail without one under CI."""
    return redis_url_or_skip()


@pytest.fixture
async def scope(redis_url: str) -> AsyncIterator[str]:
    """A quota scope of this test alone; its keys are removed afterwards."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    yield name
    control = aioredis.Redis.from_url(redis_url)
    try:
        keys = [key async for key in control.scan_iter(match=f"openrouter-bench:quota:*{name}*")]
        if keys:
            await control.delete(*keys)
    finally:
        await control.aclose()


@pytest.fixture
def memcached_url() -> str:
    """The memcached to test against: skip without one, fail without one under CI."""
    return required(os.environ.get("MEMCACHED_URL"), "MEMCACHED_URL is not set")


@pytest.fixture
def private_redis() -> Iterator[RedisServer]:
    """A redis-server of this test alone, which the test may stop and start again."""
    server = RedisServer(required(shutil.which("redis-server"), "redis-server is not installed"))
    server.start()
    yield server
    server.cleanup()
