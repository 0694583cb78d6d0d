"""Retry-After has a ceiling: a server asking for centuries parks nobody for longer than it.

A 429 or 503 whose ``Retry-After`` is 10^12 s, a date in year 9999, or no
number at all (NaN, ``1e400``, thousands of digits) never raises anything but
the typed error, and never holds the client, or the processes sharing its
quota on Redis, for longer than ``RetryPolicy.max_retry_after`` (one hour by
default). The local rows run on an injected clock; the Redis row on real time
with a one-second ceiling.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Final

import orjson
import pytest
import redis.asyncio as aioredis

from openrouter_bench import (
    BenchmarksClient,
    QuotaPolicy,
    RateLimitError,
    RetryPolicy,
    ServerError,
)
from openrouter_bench.fake import FakeTime
from openrouter_bench.fake.hostile import HostileServer, respond
from tests.conftest import CANARY_KEY

from .conftest import PAGE, Observe

CEILING: Final = 3600.0


def _limited(retry_after: str, status: int = 429) -> bytes:
    body = orjson.dumps({"error": {"code": status, "message": "slow down"}})
    return respond(status, body, headers={"Retry-After": retry_after})


@pytest.fixture
def suspicious() -> Iterator[list[logging.LogRecord]]:
    """The records that report a Retry-After cut to the ceiling."""
    found: list[logging.LogRecord] = []

    class Catch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "suspicious Retry-After" in record.getMessage():
                found.append(record)

    handler = Catch(logging.DEBUG)
    package = logging.getLogger("openrouter_bench")
    level = package.level
    package.addHandler(handler)
    package.setLevel(logging.DEBUG)
    try:
        yield found
    finally:
        package.removeHandler(handler)
        package.setLevel(level)


def _client(url: str, fake_time: FakeTime, **options: object) -> BenchmarksClient:
    settings: dict[str, object] = {
        "base_url": url,
        "cache": None,
        "quota": "memory",
        "retry": RetryPolicy.no_wait(attempts=3),
        "clock": fake_time.time,
        "timer": fake_time.monotonic,
        "sleep": fake_time.sleep,
    }
    settings.update(options)
    return BenchmarksClient(CANARY_KEY, **settings)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "retry_after",
    [str(10**12), "1e12", "Fri, 31 Dec 9999 23:59:59 GMT"],
    ids=["10^12 s", "1e12", "year 9999"],
)
@pytest.mark.hostile(
    case="a 429 asks every call to wait 10^12 s, or until a date in year 9999",
    expected="the call fails at once with RateLimitError; the client pauses for the one-hour "
    "ceiling only, warns once, and the next call after it is sent",
)
async def test_a_429_of_centuries_pauses_the_client_for_the_ceiling(
    retry_after: str,
    fake_time: FakeTime,
    suspicious: list[logging.LogRecord],
    observe: Observe,
) -> None:
    """The pause is cut to the ceiling; calls within it fail at once, later ones are sent."""
    async with (
        HostileServer(_limited(retry_after), respond(200, PAGE)) as server,
        _client(server.url, fake_time) as client,
    ):
        with pytest.raises(RateLimitError) as first:
            await client.get(source="openrouter")
        with pytest.raises(RateLimitError) as held:
            await client.get(source="openrouter", refresh=True)
        sent_while_paused = len(server.requests)
        fake_time.advance(CEILING)
        page = await client.get(source="openrouter", refresh=True)
    assert first.value.retry_after == CEILING
    assert held.value.retry_after is not None
    assert held.value.retry_after <= CEILING
    assert sent_while_paused == 1
    assert len(server.requests) == 2
    assert fake_time.sleeps == []
    assert [record.levelno for record in suspicious] == [logging.WARNING]
    observe(
        f"RateLimitError at once (retry_after {first.value.retry_after:g} s, 0 s slept); "
        f"a call within the pause sent nothing; after {CEILING:g} s the next call got a page "
        f"({len(page)} items); {len(suspicious)} warning"
    )


@pytest.mark.parametrize(
    "retry_after",
    [
        "-1",
        "nan",
        "inf",
        "-inf",
        "1e400",
        "-1e400",
        pytest.param("9" * 5000, id="5000 digits"),
        "Mon, 01 Jan 0001 00:00:00 GMT",
        "Fri, 31 Dec 9999 23:59:59 -2359",
        "Wed, 99 Foo 99999999999999999999 99:99:99 GMT",
        "0x10",
        pytest.param("\u0661\u0662".encode().decode("latin-1"), id="Arabic-Indic digits"),
        "",
    ],
)
@pytest.mark.hostile(
    case="a 429's Retry-After is absurd: negative, NaN, inf, 1e400, 5000 digits, "
    "the first or last day of the calendar, garbage",
    expected="only RateLimitError is raised; no pause outlives the one-hour ceiling",
)
async def test_an_absurd_retry_after_never_raises_nor_locks(
    retry_after: str, fake_time: FakeTime, observe: Observe
) -> None:
    """Whatever the value, the error is typed and the client is open again after the ceiling."""
    async with (
        HostileServer(_limited(retry_after), respond(200, PAGE)) as server,
        _client(server.url, fake_time, retry=RetryPolicy.never()) as client,
    ):
        with pytest.raises(RateLimitError) as caught:
            await client.get(source="openrouter")
        fake_time.advance(CEILING)
        page = await client.get(source="openrouter", refresh=True)
    asked = caught.value.retry_after
    assert asked is None or 0 <= asked <= CEILING
    if retry_after in ("1e400", "9" * 5000):
        assert asked == CEILING
    assert page.meta.source == "openrouter"
    observe(f"RateLimitError with retry_after={asked!r}; the next call after the ceiling was sent")


@pytest.mark.hostile(
    case="a 503 asks to wait 10^12 s",
    expected="ServerError at once with retry_after cut to the ceiling; no client-wide pause",
)
async def test_a_503_of_centuries_fails_the_call_but_pauses_nobody(
    fake_time: FakeTime, observe: Observe
) -> None:
    """A 503's wait is cut and past the deadline, so the call fails; the next call is sent."""
    async with (
        HostileServer(_limited(str(10**12), status=503), respond(200, PAGE)) as server,
        _client(server.url, fake_time) as client,
    ):
        with pytest.raises(ServerError) as caught:
            await client.get(source="openrouter")
        page = await client.get(source="openrouter", refresh=True)
    assert caught.value.retry_after == CEILING
    assert fake_time.sleeps == []
    assert len(server.requests) == 2
    observe(
        f"ServerError after {caught.value.attempts} attempt, retry_after "
        f"{caught.value.retry_after:g} s; the next call was sent at once ({len(page)} items)"
    )


@pytest.mark.redis
@pytest.mark.hostile(
    case="a 429 of 10^12 s reaches one of two processes sharing a quota on Redis",
    expected="the shared pause key's PTTL is at most the ceiling; the other process "
    "sends its next call once the ceiling has passed",
)
async def test_a_shared_pause_of_centuries_expires_at_the_ceiling(
    redis_url: str, scope: str, observe: Observe
) -> None:
    """The pause written to Redis is cut to the ceiling (1 s here) and every process resumes."""
    policy = QuotaPolicy(per_minute=30, per_day=None, store=redis_url, scope=scope)
    retry = RetryPolicy(attempts=1, deadline=10.0, max_retry_after=1.0)
    control = aioredis.Redis.from_url(redis_url)
    try:
        async with (
            HostileServer(_limited(str(10**12)), respond(200, PAGE)) as server,
            BenchmarksClient(
                CANARY_KEY, base_url=server.url, cache=None, retry=retry, quota=policy
            ) as first,
            BenchmarksClient(
                CANARY_KEY, base_url=server.url, cache=None, retry=retry, quota=policy
            ) as second,
        ):
            with pytest.raises(RateLimitError):
                await first.get(source="openrouter")
            keys = [k async for k in control.scan_iter(match=f"openrouter-bench:quota:*{scope}*")]
            pause_key = next(key for key in keys if key.endswith(b":pause"))
            ttl = await control.pttl(pause_key)
            started = time.monotonic()
            page = await second.get(source="openrouter")
            waited = time.monotonic() - started
    finally:
        await control.aclose()
    assert 0 < ttl <= 1_000
    assert waited < 1.0 + 2.0
    assert page.meta.source == "openrouter"
    observe(
        f"pause key PTTL {ttl} ms (ceiling 1000 ms); the other client's call was sent "
        f"after {waited:.2f} s"
    )
