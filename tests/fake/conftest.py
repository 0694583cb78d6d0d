"""Fixtures and helpers of the fake server's tests: plain aiohttp against loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any, Final

import aiohttp
import pytest
from yarl import URL

from openrouter_bench.fake import FakeOpenRouter

KEY: Final = "sk-or-v1-fake-test-7c1d9e0b3a5f"
AUTH: Final = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture(scope="module")
def data() -> FakeOpenRouter:
    """A fake that is never started: its payloads are the data under test."""
    return FakeOpenRouter(seed=11)


@pytest.fixture
async def server() -> AsyncIterator[FakeOpenRouter]:
    """A started fake without rate limits."""
    async with FakeOpenRouter(seed=11, per_minute=None, per_day=None) as fake:
        yield fake


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain aiohttp session with a short total timeout."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as client:
        yield client


async def fetch(
    session: aiohttp.ClientSession,
    fake: FakeOpenRouter,
    query: str | Mapping[str, str] = "",
    headers: Mapping[str, str] = AUTH,
) -> tuple[int, Mapping[str, str], bytes]:
    """One GET of the endpoint; a string query is sent exactly as written."""
    if isinstance(query, str):
        url = URL(fake.endpoint + ("?" + query if query else ""), encoded=True)
        request = session.get(url, headers=headers, allow_redirects=False)
    else:
        request = session.get(fake.endpoint, params=query, headers=headers, allow_redirects=False)
    async with request as response:
        return response.status, response.headers, await response.read()


def items_of(fake: FakeOpenRouter, **params: str) -> list[dict[str, Any]]:
    """The data list a 200 would carry for these parameters."""
    data: list[dict[str, Any]] = fake.payload(params)["data"]
    return data
