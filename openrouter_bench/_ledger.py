"""What a quota keeps: the request ledger's shape, and the one kept in this process.

A ledger counts the requests of each window (a minute, a day), the ones in
flight, and a pause a server asked for; it answers "may this request go, or
how long must it wait?" with a :class:`Verdict`. :class:`LocalLedger` keeps
them in this process; the quota's Redis ledger and the SQLite one
(:mod:`openrouter_bench._sqlite_quota`) keep them where several processes share them.
"""

from __future__ import annotations

import bisect
import enum
import math
from collections.abc import Callable
from typing import Final, Protocol

import attrs

__all__ = [
    "GRANTED",
    "Ledger",
    "LocalFallback",
    "LocalLedger",
    "Turn",
    "Usage",
    "Verdict",
    "Window",
]

Clock = Callable[[], float]


@attrs.frozen
class Window:
    limit: int
    length: float
    daily: bool


class Turn(enum.Enum):
    GRANTED = "granted"
    WINDOW = "a slot frees at a known time"
    HELD = "every slot is held by a request in flight"
    PAUSED = "the server asked everyone to wait"
    EXHAUSTED = "the daily budget is spent"


@attrs.frozen
class Verdict:
    turn: Turn
    wait: float = 0.0


GRANTED: Final = Verdict(Turn.GRANTED)


class Ledger(Protocol):
    async def take(self, token: str, lease: float) -> Verdict: ...

    async def finish(self, token: str) -> None: ...

    async def pause(self, seconds: float) -> None: ...

    async def usage(self) -> Usage: ...

    async def aclose(self) -> None: ...


@attrs.frozen
class Usage:
    # Requests counted in each window (in flight included), in the policy's window order,
    # and the seconds left of a pause.
    used: tuple[int, ...]
    paused_for: float


class LocalLedger:
    """The windows of one process: release times, sorted, and the tokens in flight."""

    def __init__(self, windows: tuple[Window, ...], clock: Clock) -> None:
        self._windows = windows
        self._clock = clock
        self._longest = max((window.length for window in windows), default=0.0)
        # Split once: take() runs for every request.
        self._daily = tuple(window for window in windows if window.daily)
        self._others = tuple(window for window in windows if not window.daily)
        self._stamps: list[float] = []
        self._held: set[str] = set()
        self._paused_until = -math.inf

    async def take(self, token: str, lease: float) -> Verdict:
        return self.take_now(token, lease)

    def take_now(self, token: str, lease: float) -> Verdict:
        """:meth:`take` without the coroutine: nothing here waits."""
        now = self._clock()
        stamps = self._stamps
        expired = bisect.bisect_right(stamps, now - self._longest)
        if expired:
            del stamps[:expired]
        for window in self._daily:
            verdict = self._check(window, now)
            if verdict is not None:
                wait = verdict.wait if verdict.turn is Turn.WINDOW else window.length
                return Verdict(Turn.EXHAUSTED, wait)
        if self._paused_until > now:
            return Verdict(Turn.PAUSED, self._paused_until - now)
        for window in self._others:
            verdict = self._check(window, now)
            if verdict is not None:
                return verdict
        self._held.add(token)
        return GRANTED

    def _check(self, window: Window, now: float) -> Verdict | None:
        stamps = self._stamps
        first = bisect.bisect_right(stamps, now - window.length)
        # Requests in flight count as inside every window, and as the newest.
        used = len(stamps) - first + len(self._held)
        if used < window.limit:
            return None
        pivot = first + used - window.limit
        if pivot >= len(stamps):
            return Verdict(Turn.HELD, math.inf)
        return Verdict(Turn.WINDOW, stamps[pivot] + window.length - now)

    async def finish(self, token: str) -> None:
        self.finish_now(token)

    def finish_now(self, token: str) -> None:
        """:meth:`finish` without the coroutine."""
        if token in self._held:
            self._held.discard(token)
            bisect.insort(self._stamps, self._clock())

    async def pause(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, self._clock() + seconds)

    async def usage(self) -> Usage:
        now = self._clock()
        stamps = self._stamps
        used = tuple(
            len(stamps) - bisect.bisect_right(stamps, now - window.length) + len(self._held)
            for window in self._windows
        )
        return Usage(used, max(0.0, self._paused_until - now))

    async def aclose(self) -> None:
        return None


class LocalFallback:
    """A shared ledger's stand-in while its store is unreachable: counts in this process.

    It remembers which requests it let through, so that each one's slot is
    given back here (``finish`` answers True) and not to the shared store,
    which never saw it.
    """

    def __init__(self, windows: tuple[Window, ...], clock: Clock) -> None:
        self._ledger = LocalLedger(windows, clock)
        self._tokens: set[str] = set()

    async def take(self, token: str, lease: float) -> Verdict:
        verdict = await self._ledger.take(token, lease)
        if verdict.turn is Turn.GRANTED:
            self._tokens.add(token)
        return verdict

    async def finish(self, token: str) -> bool:
        """Give back ``token``'s slot if this stand-in granted it; True if it did."""
        if token not in self._tokens:
            return False
        self._tokens.discard(token)
        await self._ledger.finish(token)
        return True

    async def pause(self, seconds: float) -> None:
        await self._ledger.pause(seconds)

    async def usage(self) -> Usage:
        return await self._ledger.usage()
