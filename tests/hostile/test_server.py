"""The hostile server itself: it sends exactly the bytes scripted and logs what it read."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from openrouter_bench.fake.hostile import HostileServer, RawRequest, chunked, respond

from .conftest import Observe


async def test_it_sends_the_scripted_bytes_and_logs_the_request_head() -> None:
    """A scripted answer arrives as sent; the request's headers are in the log."""
    async with (
        HostileServer(respond(418, b"short", headers={"X-Odd": "1"})) as server,
        aiohttp.ClientSession() as session,
        session.get(server.url + "/benchmarks", headers={"Authorization": "Bearer k"}) as answer,
    ):
        assert answer.status == 418
        assert answer.headers["X-Odd"] == "1"
        assert await answer.read() == b"short"
    assert server.requests[0].method == "GET"
    assert server.requests[0].target == "/api/v1/benchmarks"
    assert server.requests[0].header("authorization") == "Bearer k"


async def test_the_script_runs_in_order_and_its_last_answer_repeats() -> None:
    """Answers are used one per request, in order, and the last one repeats."""
    body = chunked(b'{"a":', b"1}")
    first = respond(200, body, headers={"Transfer-Encoding": "chunked"})
    async with HostileServer(first, respond(503)) as server, aiohttp.ClientSession() as session:
        statuses = []
        for _ in range(3):
            async with session.get(server.url) as answer:
                statuses.append(answer.status)
                if answer.status == 200:
                    assert await answer.json() == {"a": 1}
    assert statuses == [200, 503, 503]
    assert len(server.requests) == 3


@pytest.mark.hostile(case="the hostile server echoes a request header", expected="it is read back")
async def test_a_hostile_row_records_what_it_observed(observe: Observe) -> None:
    """A marked test reports its observation (the docs table is made of these)."""

    async def echo(request: RawRequest, writer: asyncio.StreamWriter) -> None:
        writer.write(respond(400, (request.header("authorization") or "").encode()))
        await writer.drain()

    async with (
        HostileServer(echo) as server,
        aiohttp.ClientSession() as session,
        session.get(server.url, headers={"Authorization": "Bearer k"}) as answer,
    ):
        text = await answer.text()
    assert text == "Bearer k"
    observe("the header came back in the body")
