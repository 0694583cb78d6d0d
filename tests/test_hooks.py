"""Hooks: the events a service can count, in order, and a broken hook never fails a call."""

from __future__ import annotations

import asyncio
import logging

import pytest

from openrouter_bench import (
    BenchmarksClient,
    CacheEvent,
    ClientHooks,
    Query,
    QuotaPolicy,
    RequestSent,
    ResponseReceived,
    RetryPolicy,
    RetryScheduled,
    ServerError,
    WaitStarted,
)
from openrouter_bench.fake import FakeOpenRouter, FakeTime
from tests.conftest import CANARY_KEY, Recorder


def client_for(fake: FakeOpenRouter, hooks: ClientHooks, **options: object) -> BenchmarksClient:
    return BenchmarksClient(
        CANARY_KEY,
        base_url=fake.url,
        retry=RetryPolicy.no_wait(attempts=3),
        quota=None,
        hooks=hooks,
        **options,  # type: ignore[arg-type]
    )


async def test_a_retried_call_reports_each_attempt_in_order(fake: FakeOpenRouter) -> None:
    """A 503 then a page gives sent, failed response, retry, sent, good response."""
    fake.script(503)
    recorder = Recorder()
    query = Query(source="openrouter")
    async with client_for(fake, recorder, cache=None) as client:
        await client.get(query)
    upstream = [event for event in recorder.events if not isinstance(event, CacheEvent)]
    assert [type(event) for event in upstream] == [
        RequestSent,
        ResponseReceived,
        RetryScheduled,
        RequestSent,
        ResponseReceived,
    ]
    first, failed, retry, second, answered = upstream
    assert isinstance(failed, ResponseReceived)
    assert (failed.status, failed.error, failed.attempt) == (503, "ServerError", 1)
    assert isinstance(retry, RetryScheduled)
    assert (retry.attempt, retry.wait, retry.error) == (1, 0.0, "ServerError")
    assert isinstance(second, RequestSent)
    assert second.attempt == 2
    assert isinstance(answered, ResponseReceived)
    assert (answered.status, answered.error) == (200, None)
    assert answered.elapsed >= 0
    assert all(event.query == query for event in upstream)
    assert isinstance(first, RequestSent)


async def test_a_transport_failure_has_no_status(fake: FakeOpenRouter) -> None:
    """A connection reset shows as a response event with status None and the error's name."""
    fake.script("reset", "reset")
    recorder = Recorder()
    async with client_for(fake, recorder, cache=None) as client:
        await client.get()
    failed = recorder.of(ResponseReceived)[0]
    assert isinstance(failed, ResponseReceived)
    assert failed.status is None
    assert failed.error == "TransportError"


async def test_cache_events_tell_hits_misses_and_coalesced_calls(fake: FakeOpenRouter) -> None:
    """A cold burst of three is one miss and two coalesced; a repeat is a hit."""
    recorder = Recorder()
    query = Query(source="design-arena", category="svg")
    async with client_for(fake, recorder, cache="memory") as client:
        await asyncio.gather(*(client.get(query) for _ in range(3)))
        await client.get(query)
    outcomes = sorted(
        event.outcome for event in recorder.of(CacheEvent) if isinstance(event, CacheEvent)
    )
    assert outcomes == ["coalesced", "coalesced", "hit", "miss"]
    assert len(recorder.of(RequestSent)) == 1


async def test_a_stale_serve_is_reported(fake: FakeOpenRouter) -> None:
    """When a refresh fails and an older snapshot stands in, the cache event says stale."""
    recorder = Recorder()
    async with client_for(fake, recorder, cache="memory") as client:
        await client.get()
        fake.script(503, 503, 503)
        page = await client.get(max_age=0)
    assert page.stale
    outcomes = [event.outcome for event in recorder.of(CacheEvent) if isinstance(event, CacheEvent)]
    assert outcomes == ["miss", "stale"]


class Broken(Recorder):
    """Raises from every hook."""

    def request_sent(self, event: RequestSent) -> None:
        raise RuntimeError("hook bug")

    def cache_event(self, event: CacheEvent) -> None:
        raise RuntimeError("hook bug")


async def test_a_hook_that_raises_never_fails_the_call(
    fake: FakeOpenRouter, caplog: pytest.LogCaptureFixture
) -> None:
    """A broken hook is logged once per method and every call still gets its page."""
    caplog.set_level(logging.ERROR, logger="openrouter_bench.hooks")
    async with client_for(fake, Broken(), cache=None) as client:
        pages = [await client.get(source=source) for source in ("openrouter", "design-arena")]
    assert all(page.items for page in pages)
    # request_sent and cache_event, each logged once although each failed twice.
    assert sorted(record.args for record in caplog.records) == [  # type: ignore[type-var]
        ("cache_event",),
        ("request_sent",),
    ]


async def test_a_failed_call_still_reports_its_response(fake: FakeOpenRouter) -> None:
    """A call that ends in an error reports every attempt's response before raising."""
    fake.script(503, 503, 503)
    recorder = Recorder()
    async with client_for(fake, recorder, cache=None) as client:
        with pytest.raises(ServerError):
            await client.get()
    assert [event.status for event in recorder.of(ResponseReceived)] == [503, 503, 503]  # type: ignore[union-attr]
    assert len(recorder.of(RetryScheduled)) == 2


async def test_a_wait_for_the_quota_is_an_event_naming_the_query(
    fake: FakeOpenRouter, fake_time: FakeTime
) -> None:
    """With the minute's budget spent, the next call's wait is told: its query, why, how long."""
    recorder = Recorder()
    async with BenchmarksClient(
        CANARY_KEY,
        base_url=fake.url,
        cache=None,
        retry=RetryPolicy.no_wait(),
        quota=QuotaPolicy(per_minute=1, per_day=None),
        hooks=recorder,
        clock=fake_time.time,
        timer=fake_time.monotonic,
        sleep=fake_time.sleep,
    ) as client:
        await client.get(source="openrouter")
        await client.get(source="design-arena")
    [wait] = recorder.of(WaitStarted)
    assert isinstance(wait, WaitStarted)
    assert (wait.query, wait.reason, wait.seconds) == (
        Query(source="design-arena"),
        "quota",
        fake_time.sleeps[0],
    )
    assert 59.0 < wait.seconds <= 60.0
    # Told before the wait, so the request it holds back comes after it.
    sent = [event for event in recorder.events if isinstance(event, RequestSent | WaitStarted)]
    assert [type(event) for event in sent] == [RequestSent, WaitStarted, RequestSent]
