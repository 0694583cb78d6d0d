"""Single-flight: identical concurrent calls share one piece of work.

The first caller for a key starts the work as its own task; later callers for
the same key await that task instead of starting another. Each caller awaits
it through :func:`asyncio.shield`, so cancelling one caller leaves the work
running for the others; when the last caller leaves, the work is cancelled
(nobody wants its result any more) and forgotten, so a new caller starts
afresh rather than joining a task on its way out.

A failure reaches every caller as its **own copy** of the exception (same
type, arguments and attributes, same original traceback). Re-raising one
instance from many tasks would have each ``raise`` rewrite its
``__traceback__`` and ``__context__`` while the others are still unwinding,
so one caller's traceback would show another caller's frames and keep them
alive.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["SingleFlight"]

_T = TypeVar("_T")


class _Call(Generic[_T]):
    __slots__ = ("task", "waiters")

    def __init__(self, task: asyncio.Task[_T]) -> None:
        self.task = task
        self.waiters = 0


class SingleFlight(Generic[_T]):
    """At most one running task per key; every caller of that key gets its outcome."""

    def __init__(self) -> None:
        self._calls: dict[Hashable, _Call[_T]] = {}

    def __len__(self) -> int:
        return len(self._calls)

    async def run(self, key: Hashable, work: Callable[[], Awaitable[_T]]) -> tuple[_T, bool]:
        """The outcome of ``work()`` for ``key``, and whether this call joined another's.

        ``work`` is only called when no task for ``key`` is running.
        """
        call = self._calls.get(key)
        joined = call is not None
        if call is None:
            call = _Call(asyncio.ensure_future(work()))
            self._calls[key] = call
            call.task.add_done_callback(functools.partial(self._finished, key, call))
        call.waiters += 1
        try:
            return await asyncio.shield(call.task), joined
        except asyncio.CancelledError:
            raise
        except BaseException as error:  # noqa: BLE001  # every failure is handed on, as a copy
            failure = error
        finally:
            call.waiters -= 1
            if call.waiters == 0 and not call.task.done():
                self._forget(key, call)
                call.task.cancel()
        # Raised outside the except block so the copy keeps the original's __context__.
        raise _private_copy(failure)

    async def cancel_all(self) -> None:
        """Cancel every running task and wait until each has finished."""
        calls = list(self._calls.items())
        self._calls.clear()
        for _, call in calls:
            call.task.cancel()
        if calls:
            # wait() hands back no outcomes; _finished has marked them seen.
            await asyncio.wait([call.task for _, call in calls])

    def _forget(self, key: Hashable, call: _Call[_T]) -> None:
        if self._calls.get(key) is call:
            del self._calls[key]

    def _finished(self, key: Hashable, call: _Call[_T], task: asyncio.Task[_T]) -> None:
        self._forget(key, call)
        if not call.task.cancelled():
            # Mark the outcome as seen: with every caller gone, nobody else would,
            # and asyncio would log "exception was never retrieved".
            call.task.exception()


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
