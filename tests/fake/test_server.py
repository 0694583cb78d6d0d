"""The fake server over HTTP (openrouter_bench.fake.server): answers, keys, control, lifecycle."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from typing import Any

import aiohttp
import orjson
import pytest
from yarl import URL

from openrouter_bench.fake import FakeOpenRouter, RecordedRequest, serve
from tests.fake.conftest import AUTH, KEY, fetch


async def test_http_body_is_the_payload_oracle(
    server: FakeOpenRouter, session: aiohttp.ClientSession
) -> None:
    """A 200 carries exactly payload(params), as JSON."""
    params = {"source": "openrouter", "task_type": "search", "include_run_config": "true"}
    status, headers, body = await fetch(session, server, params)
    assert status == 200
    assert headers["Content-Type"].startswith("application/json")
    assert orjson.loads(body) == server.payload(params)
    assert server.requests == [
        RecordedRequest(
            method="GET",
            path="/api/v1/benchmarks",
            params=params,
            status=200,
            http_status=200,
            fault=None,
            at=server.requests[0].at,
        )
    ]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer   "},
        {"Authorization": f"Basic {KEY}"},
        {"Authorization": f"Bearer {KEY} extra"},
        {"Authorization": "Bearer someone-else"},
    ],
)
async def test_bad_credentials_get_401(
    session: aiohttp.ClientSession, headers: dict[str, str]
) -> None:
    """Missing, empty, malformed or unknown keys get a 401 that never echoes a key."""
    async with FakeOpenRouter(keys=[KEY]) as fake:
        status, _, body = await fetch(session, fake, "", headers)
        assert status == 401
        document = orjson.loads(body)
        assert document["error"]["code"] == 401
        assert KEY not in body.decode()
        assert "someone-else" not in body.decode()
        ok, _, _ = await fetch(session, fake)
        assert ok == 200


async def test_any_key_is_valid_without_a_key_list(
    server: FakeOpenRouter, session: aiohttp.ClientSession
) -> None:
    """With keys=None, any non-empty bearer key works."""
    status, _, _ = await fetch(session, server, "", {"Authorization": "bearer anything"})
    assert status == 200


async def test_other_paths_and_methods(
    server: FakeOpenRouter, session: aiohttp.ClientSession
) -> None:
    """Unknown API paths get 404 and other methods 405, both logged, in the error shape."""
    async with session.get(server.url + "/models", headers=AUTH) as response:
        assert response.status == 404
        assert orjson.loads(await response.read())["error"]["code"] == 404
    async with session.post(server.endpoint, headers=AUTH) as response:
        assert response.status == 405
    assert [record.status for record in server.requests] == [404, 405]


async def test_the_key_never_reaches_the_log(
    server: FakeOpenRouter, session: aiohttp.ClientSession
) -> None:
    """Neither the log, its JSON, the control endpoint nor the fake's repr holds the key."""
    server.script(503)
    await fetch(session, server)
    await fetch(session, server, "source=bogus")
    await fetch(session, server)
    async with session.get(URL(server.url).with_path("/_fake/requests")) as response:
        served = await response.text()
    shown = [repr(server.requests), json.dumps([r.to_json() for r in server.requests])]
    for text in (*shown, served, repr(server), str(server.state())):
        assert KEY not in text
    assert len(orjson.loads(served)) == 3


async def test_control_endpoints_over_http(
    server: FakeOpenRouter, session: aiohttp.ClientSession
) -> None:
    """The /_fake/ endpoints script faults, read and clear the log, publish, report and reset."""
    control = URL(server.url).with_path("/_fake")
    async with session.post(control / "faults", json={"script": [503, {"fault": 429}]}) as r:
        assert r.status == 200
        assert (await r.json())["pending_faults"] == 2
    assert [(await fetch(session, server))[0] for _ in range(3)] == [503, 429, 200]
    async with session.get(control / "requests") as r:
        assert [record["status"] for record in await r.json()] == [503, 429, 200]
    async with session.delete(control / "requests") as r:
        assert r.status == 204
    assert server.requests == []
    async with session.post(control / "publish", json={"as_of": "2026-07-01T00:00:00Z"}) as r:
        assert (await r.json()) == {"as_of": "2026-07-01T00:00:00Z"}
    async with session.post(control / "publish") as r:
        assert (await r.json()) == {"as_of": "2026-07-02T00:00:00Z"}
    async with session.get(control / "state") as r:
        state = await r.json()
    assert state["as_of"] == "2026-07-02T00:00:00Z"
    assert state["published"][0] == "2026-06-03T12:00:00Z"
    async with session.post(control / "chaos", json={"rate": 1, "faults": [502]}) as r:
        assert (await r.json())["chaos_rate"] == 1
    assert (await fetch(session, server))[0] == 502
    async with session.post(control / "faults", json={"script": ["explode"]}) as r:
        assert r.status == 400
        assert "explode" in (await r.json())["error"]["message"]
    async with session.post(control / "publish", data=b"not json") as r:
        assert r.status == 400
    async with session.post(control / "reset") as r:
        state = await r.json()
    assert (state["as_of"], state["requests"], state["chaos_rate"]) == (
        "2026-06-03T12:00:00Z",
        0,
        0.0,
    )
    assert (await fetch(session, server))[0] == 200


async def test_http_serves_the_newest_snapshot(
    server: FakeOpenRouter, session: aiohttp.ClientSession
) -> None:
    """After publish, responses carry the new as_of."""
    _, _, before = await fetch(session, server, "max_results=1")
    server.publish()
    _, _, after = await fetch(session, server, "max_results=1")
    assert orjson.loads(before)["meta"]["as_of"] == "2026-06-03T12:00:00Z"
    assert orjson.loads(after)["meta"]["as_of"] == "2026-06-04T12:00:00Z"


def test_loopback_only_and_url_before_start() -> None:
    """A non-loopback host is refused; the URL needs a started fake."""
    with pytest.raises(ValueError, match="loopback"):
        FakeOpenRouter(host="0.0.0.0")  # noqa: S104 - the refused value under test
    with pytest.raises(RuntimeError, match="not started"):
        _ = FakeOpenRouter().url


async def test_starts_quickly_and_only_once() -> None:
    """Starting a fake for a fresh seed is quick; a closed fake cannot start again."""
    started = time.perf_counter()
    async with FakeOpenRouter(seed=987) as fake:
        assert time.perf_counter() - started < 0.5
        assert fake.url.startswith("http://127.0.0.1:")
        assert fake.url.endswith("/api/v1")
    with pytest.raises(RuntimeError):
        await fake.start()


def sync_get(url: str) -> tuple[int, dict[str, Any]]:
    """A blocking GET with the test key."""
    request = urllib.request.Request(url, headers=AUTH)  # noqa: S310 - a loopback http URL
    with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310 - same
        return answer.status, json.load(answer)


def test_thread_mode_serves_sync_code() -> None:
    """running_in_thread serves blocking clients; control calls work across threads."""
    with FakeOpenRouter.running_in_thread(seed=4, per_minute=None) as fake:
        status, body = sync_get(fake.endpoint + "?source=openrouter&max_results=2")
        assert status == 200
        assert body == fake.payload({"source": "openrouter", "max_results": "2"})
        fake.script(502)
        with pytest.raises(urllib.error.HTTPError) as failed:
            sync_get(fake.endpoint)
        assert failed.value.code == 502
        failed.value.close()
        assert [record.status for record in fake.requests] == [200, 502]
        endpoint = fake.endpoint
    with pytest.raises(urllib.error.URLError):
        sync_get(endpoint)


async def test_thread_mode_can_be_left_inside_a_running_loop(
    session: aiohttp.ClientSession,
) -> None:
    """A thread-mode fake opened and closed from async code shuts down without RuntimeError."""
    with FakeOpenRouter.running_in_thread(seed=4, per_minute=None) as fake:
        async with session.get(fake.endpoint, headers=AUTH) as response:
            assert response.status == 200
    assert fake.requests[0].status == 200


async def test_serve_runs_until_cancelled(session: aiohttp.ClientSession) -> None:
    """serve reports its URL when ready, answers requests, and stops when cancelled."""
    ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(serve(seed=2, keys=[KEY], on_ready=ready.set_result))
    url = await asyncio.wait_for(ready, 5)
    async with session.get(url + "/benchmarks", headers=AUTH) as response:
        assert response.status == 200
        assert response.headers["X-RateLimit-Limit"] == "30"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    with pytest.raises(aiohttp.ClientConnectionError):
        async with session.get(url + "/benchmarks", headers=AUTH):
            pass


async def test_missing_credentials_get_the_real_bare_401(
    server: FakeOpenRouter, session: aiohttp.ClientSession
) -> None:
    """No Authorization header: exactly the real endpoint's body, with no optional keys."""
    status, headers, body = await fetch(session, server, "", {})
    assert status == 401
    assert headers["Content-Type"].startswith("application/json")
    assert orjson.loads(body) == {
        "error": {"message": "No cookie auth credentials found", "code": 401}
    }
    _, _, malformed = await fetch(session, server, "", {"Authorization": "Basic x"})
    assert set(orjson.loads(malformed)) == {"error"}
    assert set(orjson.loads(malformed)["error"]) == {"message", "code"}


async def test_scripted_401_and_429_have_the_real_shapes(
    server: FakeOpenRouter, session: aiohttp.ClientSession
) -> None:
    """A scripted 401 is bare like the real one; a scripted 429 names its error type."""
    server.script(401, 429)
    _, _, unauthorized = await fetch(session, server)
    _, _, limited = await fetch(session, server)
    assert set(orjson.loads(unauthorized)) == {"error"}
    assert orjson.loads(limited)["error"]["metadata"] == {"error_type": "rate_limit_exceeded"}


async def test_guide_reading_over_http(session: aiohttp.ClientSession) -> None:
    """max_results_reading='guide': 50 items when omitted, a 400 naming the range over 100."""
    async with FakeOpenRouter(max_results_reading="guide", per_minute=None) as fake:
        status, _, body = await fetch(session, fake, "source=design-arena")
        assert status == 200
        assert len(orjson.loads(body)["data"]) == 50
        status, _, body = await fetch(session, fake, "max_results=101")
        assert status == 400
        error = orjson.loads(body)["error"]
        assert error["message"] == "max_results must be between 1 and 100; got '101'"
        assert error["metadata"] == {"parameter": "max_results"}
        assert [record.status for record in fake.requests] == [200, 400]


async def test_as_of_milliseconds_over_http(session: aiohttp.ClientSession) -> None:
    """as_of_milliseconds=True: the 200 body carries meta.as_of with .000Z."""
    async with FakeOpenRouter(as_of_milliseconds=True, per_minute=None) as fake:
        _, _, body = await fetch(session, fake, "source=openrouter")
        assert orjson.loads(body)["meta"]["as_of"] == "2026-06-03T12:00:00.000Z"
        fake.publish()
        _, _, body = await fetch(session, fake, "source=openrouter")
        assert orjson.loads(body)["meta"]["as_of"] == "2026-06-04T12:00:00.000Z"
