"""SingleFlight on its own: one task per key, its outcome for each caller, cancelled by caller."""

from __future__ import annotations

import asyncio

import pytest

from openrouter_bench.cache._singleflight import SingleFlight
from openrouter_bench.errors import ServerError


class Work:
    """Work that counts its starts and finishes only when released."""

    def __init__(self) -> None:
        self.started = 0
        self.cancelled = 0
        self.release = asyncio.Event()

    async def __call__(self) -> str:
        self.started += 1
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        return f"result {self.started}"


async def _settle() -> None:
    """Let every ready task run up to its next wait."""
    for _ in range(5):
        await asyncio.sleep(0)


async def test_identical_concurrent_calls_share_one_task() -> None:
    """Ten callers of one key start the work once and all get its result; nine joined."""
    flights: SingleFlight[str] = SingleFlight()
    work = Work()
    callers = [asyncio.create_task(flights.run("key", work)) for _ in range(10)]
    await _settle()
    work.release.set()
    outcomes = await asyncio.gather(*callers)
    assert work.started == 1
    assert [result for result, _ in outcomes] == ["result 1"] * 10
    assert sorted(joined for _, joined in outcomes) == [False] + [True] * 9
    assert len(flights) == 0


async def test_distinct_keys_run_apart() -> None:
    """Two keys start two tasks."""
    flights: SingleFlight[str] = SingleFlight()
    work = Work()
    callers = [asyncio.create_task(flights.run(key, work)) for key in ("a", "b")]
    await _settle()
    assert len(flights) == 2
    work.release.set()
    await asyncio.gather(*callers)
    assert work.started == 2


async def test_a_finished_key_starts_afresh() -> None:
    """A caller after the task finished starts new work rather than reusing the old result."""
    flights: SingleFlight[str] = SingleFlight()
    work = Work()
    work.release.set()
    first, _ = await flights.run("key", work)
    second, joined = await flights.run("key", work)
    assert (first, second, joined) == ("result 1", "result 2", False)


async def test_each_caller_gets_its_own_copy_of_the_error() -> None:
    """A failure reaches every caller as an equal but distinct exception, attributes kept."""
    flights: SingleFlight[str] = SingleFlight()
    release = asyncio.Event()

    async def failing() -> str:
        await release.wait()
        raise ServerError("upstream broke", status=503)

    callers = [asyncio.create_task(flights.run("key", failing)) for _ in range(3)]
    await _settle()
    release.set()
    errors = await asyncio.gather(*callers, return_exceptions=True)
    assert all(isinstance(error, ServerError) for error in errors)
    assert len({id(error) for error in errors}) == 3
    assert {str(error) for error in errors} == {"HTTP 503: upstream broke"}
    assert {getattr(error, "status", None) for error in errors} == {503}


async def test_cancelling_one_caller_leaves_the_others_their_result() -> None:
    """One caller cancelled: the work goes on and the other callers get its result."""
    flights: SingleFlight[str] = SingleFlight()
    work = Work()
    callers = [asyncio.create_task(flights.run("key", work)) for _ in range(3)]
    await _settle()
    callers[0].cancel()
    await _settle()
    assert work.cancelled == 0
    work.release.set()
    results = await asyncio.gather(*callers[1:])
    assert [result for result, _ in results] == ["result 1", "result 1"]
    with pytest.raises(asyncio.CancelledError):
        await callers[0]


async def test_cancelling_every_caller_cancels_the_work() -> None:
    """With the last caller gone nobody wants the result: the work is cancelled and forgotten."""
    flights: SingleFlight[str] = SingleFlight()
    work = Work()
    callers = [asyncio.create_task(flights.run("key", work)) for _ in range(2)]
    await _settle()
    for caller in callers:
        caller.cancel()
    await asyncio.gather(*callers, return_exceptions=True)
    await _settle()
    assert work.cancelled == 1
    assert len(flights) == 0


async def test_cancel_all_cancels_running_work_and_waits_for_it() -> None:
    """cancel_all cancels every task and returns once each has finished."""
    flights: SingleFlight[str] = SingleFlight()
    work = Work()
    callers = [asyncio.create_task(flights.run(key, work)) for key in ("a", "b")]
    await _settle()
    await flights.cancel_all()
    assert work.cancelled == 2
    assert len(flights) == 0
    outcomes = await asyncio.gather(*callers, return_exceptions=True)
    assert all(isinstance(outcome, asyncio.CancelledError) for outcome in outcomes)


async def test_callers_cancelled_as_they_join_leave_no_work_running() -> None:
    """Every caller cancelled right after joining: the work is cancelled, nothing is left."""
    flights: SingleFlight[str] = SingleFlight()
    work = Work()
    callers = [asyncio.create_task(flights.run("key", work)) for _ in range(2)]
    await asyncio.sleep(0)  # the callers have joined; the work's task has not run yet
    for caller in callers:
        caller.cancel()
    outcomes = await asyncio.gather(*callers, return_exceptions=True)
    await _settle()
    assert all(isinstance(outcome, asyncio.CancelledError) for outcome in outcomes)
    assert (work.started - work.cancelled, len(flights)) == (0, 0)


async def test_cancel_all_before_the_work_starts_ends_every_caller() -> None:
    """cancel_all right after the callers joined: each ends with CancelledError, none hangs."""
    flights: SingleFlight[str] = SingleFlight()
    work = Work()
    callers = [asyncio.create_task(flights.run("key", work)) for _ in range(3)]
    await asyncio.sleep(0)
    await flights.cancel_all()
    outcomes = await asyncio.wait_for(asyncio.gather(*callers, return_exceptions=True), 5)
    assert all(isinstance(outcome, asyncio.CancelledError) for outcome in outcomes)
    assert work.started == 0
