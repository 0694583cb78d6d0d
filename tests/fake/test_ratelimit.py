"""The fake's per-minute and per-day limits (openrouter_bench.fake.ratelimit), over HTTP."""

from __future__ import annotations

import time

import aiohttp
import orjson

from openrouter_bench.fake import FakeOpenRouter
from tests.fake.conftest import fetch


class ManualClock:
    """A monotonic clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_per_minute_limit_and_recovery(session: aiohttp.ClientSession) -> None:
    """Past per_minute: 429 with headers; refused requests do not count; the window slides."""
    clock = ManualClock()
    async with FakeOpenRouter(per_minute=3, minute_window=2.0, per_day=None, clock=clock) as fake:
        remaining = []
        for _ in range(3):
            status, headers, _ = await fetch(session, fake)
            assert status == 200
            assert headers["X-RateLimit-Limit"] == "3"
            remaining.append(headers["X-RateLimit-Remaining"])
            clock.now += 0.5
        assert remaining == ["2", "1", "0"]
        status, headers, body = await fetch(session, fake)
        assert status == 429
        assert headers["Retry-After"] == "1"  # the first request expires in 0.5 s, rounded up
        assert headers["X-RateLimit-Remaining"] == "0"
        assert int(headers["X-RateLimit-Reset"]) > time.time() * 1000 - 60_000
        assert orjson.loads(body)["error"]["code"] == 429
        assert orjson.loads(body)["error"]["metadata"]["error_type"] == "rate_limit_exceeded"
        status, _, _ = await fetch(session, fake)
        assert status == 429  # still refused, and not counted
        clock.now += 0.5
        status, _, _ = await fetch(session, fake)
        assert status == 200  # exactly one slot freed
        status, _, _ = await fetch(session, fake)
        assert status == 429
        clock.now += 10
        for _ in range(3):
            status, _, _ = await fetch(session, fake)
            assert status == 200
        other_key = {"Authorization": "Bearer another-key"}
        status, _, _ = await fetch(session, fake, "", other_key)
        assert status == 200  # limits are per key


async def test_per_day_limit(session: aiohttp.ClientSession) -> None:
    """Past per_day: 429 with Retry-After up to the end of the day window."""
    clock = ManualClock()
    async with FakeOpenRouter(per_minute=None, per_day=2, day_window=100.0, clock=clock) as fake:
        for _ in range(2):
            status, headers, _ = await fetch(session, fake)
            assert status == 200
            assert headers["X-RateLimit-Limit"] == "2"
        clock.now += 30.2
        status, headers, _ = await fetch(session, fake)
        assert status == 429
        assert headers["Retry-After"] == "70"
        clock.now += 70
        status, _, _ = await fetch(session, fake)
        assert status == 200


async def test_invalid_request_still_counts(session: aiohttp.ClientSession) -> None:
    """A 400 spends quota like any request; the headers say so."""
    clock = ManualClock()
    async with FakeOpenRouter(per_minute=2, per_day=None, clock=clock) as fake:
        status, headers, _ = await fetch(session, fake, "source=bogus")
        assert (status, headers["X-RateLimit-Remaining"]) == (400, "1")
        status, headers, _ = await fetch(session, fake)
        assert (status, headers["X-RateLimit-Remaining"]) == (200, "0")
        status, _, _ = await fetch(session, fake)
        assert status == 429
