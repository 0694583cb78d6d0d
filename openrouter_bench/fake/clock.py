"""A test clock: wall and monotonic time that move only when told, and a sleep that returns at once.

Give its methods to the client (``clock=fake_time.time``, ``timer=fake_time.monotonic``,
``sleep=fake_time.sleep``) and to :class:`~openrouter_bench.fake.FakeOpenRouter`
(``wall_clock=fake_time.time``): a ``Retry-After`` of a minute then costs no real
time, and every wait the client chose is in :attr:`FakeTime.sleeps`.
"""

from __future__ import annotations

from typing import Final

__all__ = ["FakeTime"]

#: Where a fresh clock starts: a fixed instant in 2026, in Unix seconds.
_START: Final = 1_780_000_000.0


class FakeTime:
    """A clock pair (wall and monotonic) whose ``sleep`` advances time instead of waiting."""

    def __init__(self, start: float = _START) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def time(self) -> float:
        """Wall-clock seconds since the epoch."""
        return self.now

    def monotonic(self) -> float:
        """Monotonic seconds: the same figure, since this clock never goes back."""
        return self.now

    def advance(self, seconds: float) -> None:
        """Move both clocks ``seconds`` on."""
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        """Record the wait and move the clocks past it at once."""
        self.sleeps.append(seconds)
        self.now += seconds
