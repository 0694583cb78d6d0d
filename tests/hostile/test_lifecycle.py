"""Closing a client under its own calls: they end with ClientClosedError, never a stray cancel."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable
from typing import Any, TypeVar

import aiohttp
import pytest

from openrouter_bench import BenchmarksClient, ClientClosedError, Query, RetryPolicy
from openrouter_bench.fake import FakeOpenRouter
from tests.conftest import CANARY_KEY

from .conftest import Observe

_T = TypeVar("_T")

STALL = {"fault": "timeout", "delay": 30}

#: Generous on a loaded machine; a call that waited for the stall would take 30 s.
PROMPT = 5.0


def make_client(fake: FakeOpenRouter, **options: Any) -> BenchmarksClient:
    options.setdefault("retry", RetryPolicy.no_wait(attempts=2))
    options.setdefault("cache", None)
    options.setdefault("quota", None)
    return BenchmarksClient(CANARY_KEY, base_url=fake.url, **options)


async def until_requested(fake: FakeOpenRouter, count: int = 1) -> None:
    """Wait until the fake has seen ``count`` requests (bounded)."""
    for _ in range(1000):
        if len(fake.requests) >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"the fake saw {len(fake.requests)} requests, not {count}")


async def outcome(call: Awaitable[_T]) -> _T | BaseException:
    """What a call ended with: its result or the exception it raised."""
    try:
        return await call
    except BaseException as error:  # noqa: BLE001 - the kind of ending is the point
        return error


async def close_during(client: BenchmarksClient, task: asyncio.Task[Any]) -> tuple[float, float]:
    """Close ``client`` while ``task`` runs; (seconds until the task ended, aclose's seconds)."""
    started = time.perf_counter()
    await client.aclose()
    closed = time.perf_counter() - started
    await asyncio.wait_for(asyncio.shield(task), PROMPT)
    return time.perf_counter() - started, closed


@pytest.mark.hostile(
    case="aclose() while a get waits on a server that never answers",
    expected="the get ends at once with ClientClosedError; aclose returns promptly",
)
async def test_a_get_in_flight_ends_with_client_closed(
    fake: FakeOpenRouter, observe: Observe
) -> None:
    """A call waiting on a stalled server gets ClientClosedError, not CancelledError."""
    fake.script(STALL)
    client = make_client(fake)
    task = asyncio.create_task(outcome(client.get(source="openrouter")))
    await until_requested(fake)
    ended, closed = await close_during(client, task)
    error = task.result()
    assert isinstance(error, ClientClosedError)
    assert "closed while this call was in flight" in str(error)
    assert ended < PROMPT
    assert client.closed
    observe(
        f"{type(error).__name__} {ended:.3f} s after aclose began; aclose took {closed:.3f} s "
        f"(the stall was 30 s)"
    )


@pytest.mark.hostile(
    case="aclose() while several callers share one in-flight request (single-flight)",
    expected="every caller gets ClientClosedError",
)
async def test_every_caller_of_a_shared_fetch_ends_with_client_closed(
    fake: FakeOpenRouter, observe: Observe
) -> None:
    """Followers of a coalesced fetch are not left with the cancelled fetch's CancelledError."""
    fake.script(STALL)
    client = make_client(fake, cache="memory")
    tasks = [asyncio.create_task(outcome(client.get(source="openrouter"))) for _ in range(5)]
    await until_requested(fake)
    await client.aclose()
    done = await asyncio.wait_for(asyncio.gather(*tasks), PROMPT)
    kinds = sorted({type(error).__name__ for error in done})
    assert kinds == ["ClientClosedError"]
    assert len(fake.requests) == 1
    observe(f"{len(done)} callers, 1 request sent; all ended with {kinds[0]}")


@pytest.mark.hostile(
    case="aclose() while fan_out and stream run queries on a stalled server",
    expected="fan_out raises ClientClosedError; the stream's iteration raises it too",
)
async def closing_under(fake: FakeOpenRouter, *, derive: bool, sent: int) -> int:
    """aclose() under a fan-out, then under a stream, of three Design Arena categories on a
    stalled server, once ``sent`` requests are in; each must raise ClientClosedError."""
    grid = Query.grid(source="design-arena", category=["svg", "3d", "video"])
    fake.script(*[STALL] * 6)
    client = make_client(fake)
    fanned = asyncio.create_task(outcome(client.fan_out(grid, concurrency=3, derive=derive)))
    await until_requested(fake, sent)
    await client.aclose()
    assert isinstance(await asyncio.wait_for(fanned, PROMPT), ClientClosedError)

    fake.reset()
    fake.script(*[STALL] * 6)
    client = make_client(fake)

    async def consume() -> list[object]:
        stream = client.stream(grid, concurrency=3, derive=derive)
        async with contextlib.aclosing(stream) as results:
            return [item async for item in results]

    streamed = asyncio.create_task(outcome(consume()))
    await until_requested(fake, sent)
    await client.aclose()
    assert isinstance(await asyncio.wait_for(streamed, PROMPT), ClientClosedError)
    assert len(fake.requests) == sent
    return len(grid)


@pytest.mark.hostile(
    case="aclose() while fan_out and stream run queries on a stalled server",
    expected="fan_out raises ClientClosedError; the stream's iteration raises it too",
)
async def test_fan_out_and_stream_in_flight_end_with_client_closed(
    fake: FakeOpenRouter, observe: Observe
) -> None:
    """A closing client ends a whole fan-out, not one query's outcome, with ClientClosedError."""
    queries = await closing_under(fake, derive=False, sent=3)
    observe(f"{queries} queries each way: fan_out and stream both raised ClientClosedError")


@pytest.mark.hostile(
    case="aclose() while a fan-out's categories wait on their arena page, stalled",
    expected="fan_out raises ClientClosedError; the stream's iteration raises it too",
)
async def test_categories_waiting_on_an_arena_page_end_with_client_closed(
    fake: FakeOpenRouter, observe: Observe
) -> None:
    """Categories cut from one arena page share its one request, and its ClientClosedError."""
    queries = await closing_under(fake, derive=True, sent=1)
    observe(
        f"{queries} categories each way on 1 request: fan_out and stream both raised "
        "ClientClosedError"
    )


async def test_a_watch_between_polls_ends_with_client_closed(fake: FakeOpenRouter) -> None:
    """A watch sleeping until its next poll is ended by aclose, not left asleep for 15 minutes."""
    client = make_client(fake)
    changes = client.watch(source="openrouter", every=900)
    task = asyncio.create_task(outcome(anext(changes)))
    await until_requested(fake)
    await asyncio.sleep(0.05)  # the baseline poll is answered; the watch sleeps
    await client.aclose()
    assert isinstance(await asyncio.wait_for(task, PROMPT), ClientClosedError)
    await changes.aclose()


@pytest.mark.hostile(
    case="the caller cancels its own get at the moment aclose() runs",
    expected="the caller sees its own CancelledError, not ClientClosedError",
)
async def test_a_callers_own_cancellation_still_propagates(
    fake: FakeOpenRouter, observe: Observe
) -> None:
    """Cancelled by its caller and by aclose at once, a call raises CancelledError."""
    fake.script(STALL)
    client = make_client(fake)
    task = asyncio.create_task(client.get(source="openrouter"))
    await until_requested(fake)
    task.cancel()
    await client.aclose()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, PROMPT)
    assert task.cancelled()
    observe("the task ended cancelled (task.cancelled() is True)")


async def test_a_callers_timeout_still_reads_as_a_timeout(fake: FakeOpenRouter) -> None:
    """asyncio.timeout around a get that aclose also ends still raises TimeoutError."""
    fake.script(STALL)
    client = make_client(fake)

    async def bounded() -> None:
        async with asyncio.timeout(0.2):
            await client.get(source="openrouter")

    task = asyncio.create_task(outcome(bounded()))
    await until_requested(fake)
    await asyncio.sleep(0.3)  # the caller's own deadline has passed by now
    await client.aclose()
    assert isinstance(await asyncio.wait_for(task, PROMPT), TimeoutError)


async def test_the_callers_task_goes_on_uncancelled_after_client_closed(
    fake: FakeOpenRouter,
) -> None:
    """After ClientClosedError the caller's task carries no leftover cancellation."""
    fake.script(STALL)
    client = make_client(fake)

    async def caller() -> tuple[int, str]:
        with contextlib.suppress(ClientClosedError):
            await client.get(source="openrouter")
        task = asyncio.current_task()
        assert task is not None
        await asyncio.sleep(0.01)  # would raise CancelledError if a cancel were left pending
        return task.cancelling(), "went on"

    task = asyncio.create_task(caller())
    await until_requested(fake)
    await client.aclose()
    assert await asyncio.wait_for(task, PROMPT) == (0, "went on")


async def test_two_acloses_at_once_both_return_after_the_close(fake: FakeOpenRouter) -> None:
    """A second aclose while the first runs waits for it; both return, the client is closed."""
    fake.script(STALL)
    client = make_client(fake)
    task = asyncio.create_task(outcome(client.get(source="openrouter")))
    await until_requested(fake)
    await asyncio.wait_for(asyncio.gather(client.aclose(), client.aclose()), PROMPT)
    assert client.closed
    assert isinstance(await task, ClientClosedError)


async def test_calls_after_aclose_began_are_refused(fake: FakeOpenRouter) -> None:
    """While aclose waits for calls to unwind, a new call is refused at once."""
    fake.script(STALL)
    client = make_client(fake)
    task = asyncio.create_task(outcome(client.get(source="openrouter")))
    await until_requested(fake)
    closing = asyncio.create_task(client.aclose())
    await asyncio.sleep(0)
    with pytest.raises(ClientClosedError):
        await client.get(source="artificial-analysis")
    await asyncio.wait_for(closing, PROMPT)
    assert isinstance(await task, ClientClosedError)


async def test_a_borrowed_session_closed_by_its_owner_is_a_client_closed_error(
    fake: FakeOpenRouter,
) -> None:
    """A call on a client whose borrowed session was closed is refused, not a RuntimeError."""
    session = aiohttp.ClientSession()
    client = make_client(fake, session=session)
    await session.close()
    with pytest.raises(ClientClosedError, match="session given to this client is closed"):
        await client.get()
    await client.aclose()
