"""Shared fixtures: the fake server on loopback, a canary key, and a controllable clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Final

import pytest

from openrouter_bench.fake import FakeOpenRouter

#: A key that must never show up anywhere: reprs, errors, logs, output, cache.
CANARY_KEY: Final = "sk-or-v1-canary-5f3a9c1e7d2b4f60a8e1c3b5d7f9a2c4"


class FakeTime:
    """A clock pair (wall and monotonic) whose ``sleep`` advances time instead of waiting."""

    def __init__(self, start: float = 1_780_000_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time() -> FakeTime:
    """A fresh controllable clock."""
    return FakeTime()


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenRouter]:
    """The bundled fake server on a free loopback port, no rate limits."""
    async with FakeOpenRouter(seed=7, per_minute=None, per_day=None) as server:
        yield server
