"""The faults the fake injects (openrouter_bench.fake.faults), seen from a plain aiohttp client."""

from __future__ import annotations

import asyncio
import email.utils
import time
from datetime import UTC, datetime, timedelta

import aiohttp
import orjson
import pytest
from yarl import URL

from openrouter_bench.fake import FakeOpenRouter, Fault
from tests.fake.conftest import AUTH, fetch


@pytest.mark.parametrize("code", [400, 402, 403, 408, 500, 502, 503, 504])
async def test_status_fault_sends_a_json_error(
    server: FakeOpenRouter, session: aiohttp.ClientSession, code: int
) -> None:
    """A scripted status answers with that code and a contract-shaped body, once."""
    server.script(code)
    status, _, body = await fetch(session, server)
    assert status == code
    assert orjson.loads(body)["error"]["code"] == code
    status, _, _ = await fetch(session, server)
    assert status == 200
    assert [(r.status, r.fault) for r in server.requests] == [(code, str(code)), (200, None)]


async def test_retry_after_in_seconds_and_as_http_date(
    server: FakeOpenRouter, session: aiohttp.ClientSession
) -> None:
    """429/503 faults carry Retry-After as seconds or as an HTTP date."""
    server.script(
        {"fault": 503, "retry_after": 2},
        {"fault": 429, "retry_after": 30, "retry_after_date": True},
        Fault(429),
    )
    _, headers, _ = await fetch(session, server)
    assert headers["Retry-After"] == "2"
    status, headers, _ = await fetch(session, server)
    assert status == 429
    when = email.utils.parsedate_to_datetime(headers["Retry-After"])
    assert timedelta(seconds=20) < when - datetime.now(UTC) < timedelta(seconds=40)
    _, headers, _ = await fetch(session, server)
    assert "Retry-After" not in headers


@pytest.mark.parametrize("name", ["html502", "html503"])
async def test_proxy_html_pages(
    server: FakeOpenRouter, session: aiohttp.ClientSession, name: str
) -> None:
    """html502/html503 answer with a proxy's HTML page, not JSON."""
    server.script(name)
    status, headers, body = await fetch(session, server)
    assert status == int(name[-3:])
    assert headers["Content-Type"].startswith("text/html")
    assert body.startswith(b"<!DOCTYPE html>")


async def test_bodies_that_are_not_the_document(
    server: FakeOpenRouter, session: aiohttp.ClientSession
) -> None:
    """malformed is not JSON; wrong_shape is a JSON array; oversize is valid and that big."""
    server.script("malformed", "wrong_shape", {"fault": "oversize", "size": 1_000_000})
    status, _, body = await fetch(session, server)
    assert status == 200
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(body)
    status, _, body = await fetch(session, server)
    assert status == 200
    assert isinstance(orjson.loads(body), list)
    status, _, body = await fetch(session, server)
    assert status == 200
    assert len(body) == 1_000_000
    assert len(orjson.loads(body)["data"]) > len(server.payload()["data"])


async def test_default_oversize_is_twelve_mebibytes(
    server: FakeOpenRouter, session: aiohttp.ClientSession
) -> None:
    """Without a size, oversize sends 12 MiB."""
    server.script("oversize")
    _, headers, body = await fetch(session, server, {"source": "openrouter"})
    assert int(headers["Content-Length"]) == len(body) == 12 * 1024 * 1024


@pytest.mark.parametrize("name", ["truncate", "reset_mid_body"])
async def test_cut_bodies_fail_while_reading(
    server: FakeOpenRouter, session: aiohttp.ClientSession, name: str
) -> None:
    """truncate and reset_mid_body send 200 headers, then the body breaks off."""
    server.script(name)
    async with session.get(server.endpoint, headers=AUTH) as response:
        assert response.status == 200
        with pytest.raises(aiohttp.ClientPayloadError):
            await response.read()
    assert server.requests[-1].fault == name


async def test_reset_before_headers(server: FakeOpenRouter, session: aiohttp.ClientSession) -> None:
    """reset drops the connection before any header (aiohttp retries a GET once on its own)."""
    server.script("reset", "reset")
    with pytest.raises(aiohttp.ClientConnectionError):
        await fetch(session, server)
    assert [(r.status, r.http_status) for r in server.requests] == [("reset", None)] * 2


async def test_timeout_does_not_block_close(session: aiohttp.ClientSession) -> None:
    """timeout sends nothing for its delay; the client times out and close() stays prompt."""
    fake = FakeOpenRouter(per_minute=None)
    await fake.start()
    fake.script({"fault": "timeout", "delay": 30})
    with pytest.raises(asyncio.TimeoutError):
        async with session.get(
            fake.endpoint, headers=AUTH, timeout=aiohttp.ClientTimeout(total=0.2)
        ):
            pass
    pending = asyncio.create_task(
        session.get(fake.endpoint, headers=AUTH, timeout=aiohttp.ClientTimeout(total=5))
    )
    fake.script({"fault": "timeout", "delay": 30})
    await asyncio.sleep(0.05)  # let the second request reach its stall
    started = time.perf_counter()
    await fake.close()
    assert time.perf_counter() - started < 1.5
    with pytest.raises(aiohttp.ClientError):
        (await pending).close()
    await fake.close()  # idempotent


async def test_slow_body_arrives_late_but_whole(
    server: FakeOpenRouter, session: aiohttp.ClientSession
) -> None:
    """slow_body stalls after the headers, then completes the real body."""
    server.script({"fault": "slow_body", "delay": 0.05})
    started = time.perf_counter()
    status, _, body = await fetch(session, server, {"source": "artificial-analysis"})
    assert time.perf_counter() - started >= 0.05
    assert status == 200
    assert orjson.loads(body) == server.payload({"source": "artificial-analysis"})


async def test_redirect_points_to_another_host(
    server: FakeOpenRouter, session: aiohttp.ClientSession
) -> None:
    """redirect answers 302 with a Location on a different host."""
    server.script("redirect")
    status, headers, _ = await fetch(session, server, "source=openrouter")
    assert status == 302
    location = URL(headers["Location"])
    assert location.host != URL(server.url).host
    assert location.path_qs == "/api/v1/benchmarks?source=openrouter"


def test_fault_specs_are_checked() -> None:
    """Unknown fault names, statuses outside 4xx/5xx and unknown options are refused."""
    fake = FakeOpenRouter()
    for bad in (200, 600, "explode", {"fault": 503, "retry": 2}, {"retry_after": 1}, True):
        with pytest.raises(ValueError, match="fault"):
            fake.script(bad)
    with pytest.raises(ValueError, match="delay"):
        fake.script({"fault": "timeout", "delay": -1})
    assert fake.state()["pending_faults"] == 0


async def test_faults_fire_in_order_then_stop(
    server: FakeOpenRouter, session: aiohttp.ClientSession
) -> None:
    """Scripted faults hit the next requests one each, in order, then requests succeed."""
    server.script(500, "malformed")
    server.script("html503")
    statuses = [(await fetch(session, server))[0] for _ in range(4)]
    assert statuses == [500, 200, 503, 200]
    assert [r.status for r in server.requests] == [500, "malformed", "html503", 200]


async def test_chaos_is_a_seeded_fraction(session: aiohttp.ClientSession) -> None:
    """chaos fails about its rate of requests, the same ones for the same seed; rate 0 stops."""
    patterns = []
    for _ in range(2):
        async with FakeOpenRouter(per_minute=None, per_day=None) as fake:
            fake.chaos(0.5, [500, 503], seed=4)
            patterns.append([(await fetch(session, fake))[0] for _ in range(40)])
            fake.chaos(0)
            assert [(await fetch(session, fake))[0] for _ in range(5)] == [200] * 5
    assert patterns[0] == patterns[1]
    failures = sum(status != 200 for status in patterns[0])
    assert 8 <= failures <= 32
    assert set(patterns[0]) == {200, 500, 503}
