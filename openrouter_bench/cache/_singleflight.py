"""Single-flight: identical concurrent calls share one piece of work.

The first caller for a key starts the work as its own task; later callers for
the same key wait on that flight instead of starting another. Each caller
waits on a future of its own, which the work's task resolves as its last step:
cancelling one caller cancels only that future, so the work goes on for the
others; when the last caller leaves, the work is cancelled (nobody wants its
result any more) and forgotten, so a new caller starts afresh rather than
joining a task on its way out.

A bare future per caller is the least that keeps callers apart: a task that
awaits a shared future and is cancelled cancels that future for everyone, and
:func:`asyncio.shield` costs a future, two callbacks and a turn of the event
loop more per caller. Resolving the callers from inside the work's task, rather
than from a done callback, saves another turn: the callers wake on the loop's
next pass after the work ends.

A failure reaches every caller as its **own copy** of the exception (same
type, arguments and attributes, same original traceback). Re-raising one
instance from many tasks would have each ``raise`` rewrite its
``__traceback__`` and ``__context__`` while the others are still unwinding,
so one caller's traceback would show another caller's frames and keep them
alive. The original is never raised to a caller: each raises a copy.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["SingleFlight"]

_T = TypeVar("_T")


class _Flight(Generic[_T]):
    """One running piece of work: its task, its callers' futures, and its outcome once known."""

    __slots__ = ("error", "live", "result", "task", "waiters")

    def __init__(self) -> None:
        self.task: asyncio.Task[None] | None = None
        # Every caller's future, cancelled ones included (they are skipped): a burst's worth.
        self.waiters: list[asyncio.Future[None]] = []
        # Callers still waiting: the last one to leave cancels the work.
        self.live = 0
        self.result: _T  # set when the work succeeds; read only then
        self.error: BaseException | None = None

    def cancel_waiters(self) -> None:
        for waiter in self.waiters:
            waiter.cancel()


class SingleFlight(Generic[_T]):
    """At most one running task per key; every caller of that key gets its outcome."""

    def __init__(self) -> None:
        self._flights: dict[Hashable, _Flight[_T]] = {}

    def __len__(self) -> int:
        return len(self._flights)

    async def run(self, key: Hashable, work: Callable[[], Awaitable[_T]]) -> tuple[_T, bool]:
        """The outcome of ``work()`` for ``key``, and whether this call joined another's.

        ``work`` is only called when no task for ``key`` is running. A caller on
        a hot path may take the three steps itself (:meth:`join`, await the
        waiter, :meth:`outcome`; :meth:`leave` if cancelled) and save a coroutine.
        """
        flight, waiter, joined = self.join(key, work)
        try:
            await waiter
        except asyncio.CancelledError:
            self.leave(key, flight)
            raise
        return self.outcome(flight), joined

    def join(
        self, key: Hashable, work: Callable[[], Awaitable[_T]]
    ) -> tuple[_Flight[_T], asyncio.Future[None], bool]:
        """Join the flight of ``key`` (starting it with ``work`` if none runs).

        Returns the flight, this caller's waiter (resolved when the work ends)
        and whether the flight was another caller's. A caller whose wait is
        cancelled must call :meth:`leave`; once the waiter is done,
        :meth:`outcome` gives the result or raises this caller's copy of the error.
        """
        loop = asyncio.get_running_loop()
        flight = self._flights.get(key)
        joined = flight is not None
        if flight is None:
            flight = self._flights[key] = _Flight()
            flight.task = loop.create_task(self._drive(key, flight, work))
        waiter: asyncio.Future[None] = loop.create_future()
        flight.waiters.append(waiter)
        flight.live += 1
        return flight, waiter, joined

    def leave(self, key: Hashable, flight: _Flight[_T]) -> None:
        """A caller's wait was cancelled (by its caller, or with the work): it leaves.

        The last caller to leave cancels the work: nobody wants its result.
        """
        flight.live -= 1
        task = flight.task
        if flight.live == 0 and task is not None and not task.done():
            self._forget(key, flight)
            task.cancel()

    @staticmethod
    def outcome(flight: _Flight[_T]) -> _T:
        """The work's result, or a private copy of its error, once the caller's waiter is done."""
        error = flight.error
        if error is None:
            return flight.result
        raise _private_copy(error)

    async def cancel_all(self) -> None:
        """Cancel every running task and wait until each has finished."""
        flights = list(self._flights.values())
        self._flights.clear()
        tasks = []
        for flight in flights:
            # The waiters too: a task cancelled before its first step never reaches them.
            flight.cancel_waiters()
            if flight.task is not None:
                flight.task.cancel()
                tasks.append(flight.task)
        if tasks:
            await asyncio.wait(tasks)

    def _forget(self, key: Hashable, flight: _Flight[_T]) -> None:
        current = self._flights.pop(key, None)
        if current is not None and current is not flight:
            self._flights[key] = current  # a newer flight of that key: not this one to forget

    async def _drive(
        self, key: Hashable, flight: _Flight[_T], work: Callable[[], Awaitable[_T]]
    ) -> None:
        """The flight's task: run ``work()``, then hand its outcome to every caller still there."""
        try:
            flight.result = await work()
        except asyncio.CancelledError:
            self._forget(key, flight)
            flight.cancel_waiters()
            raise
        except BaseException as error:  # noqa: BLE001  # every failure is handed on, as copies
            flight.error = error
        # Forgotten before the callers wake: a call made from now on starts afresh.
        self._forget(key, flight)
        for waiter in flight.waiters:
            if not waiter.done():
                waiter.set_result(None)
        failure = flight.error
        if failure is not None and not isinstance(failure, Exception):
            # KeyboardInterrupt and the like still end the task, as asyncio expects them to.
            raise failure


def _private_copy(error: BaseException) -> BaseException:
    cls = type(error)
    try:
        copy = cls.__new__(cls, *error.args)
        copy.__dict__.update(error.__dict__)
    except Exception:  # noqa: BLE001  # a type that cannot be rebuilt so is handed on as is
        return error
    copy.__cause__ = error.__cause__
    copy.__context__ = error.__context__
    copy.__suppress_context__ = error.__suppress_context__
    return copy.with_traceback(error.__traceback__)
