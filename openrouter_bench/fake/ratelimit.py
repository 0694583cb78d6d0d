"""The fake's per-key rate limits: sliding windows read from an injectable clock."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Sequence

import attrs

__all__ = ["RateDecision", "SlidingWindowLimiter"]


@attrs.frozen
class RateDecision:
    """The answer to one request: allowed or not, and what the X-RateLimit headers say."""

    allowed: bool
    limit: int
    remaining: int
    reset_after: float  # seconds until the reported window frees a slot
    retry_after: int | None  # whole seconds to wait, when refused

    def headers(self, wall_now: float) -> dict[str, str]:
        """The ``X-RateLimit-*`` headers (reset in epoch milliseconds) and ``Retry-After``."""
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(math.ceil((wall_now + self.reset_after) * 1000)),
        }
        if self.retry_after is not None:
            headers["Retry-After"] = str(self.retry_after)
        return headers


class SlidingWindowLimiter:
    """At most ``limit`` requests per ``window`` seconds per client, for each window given.

    A refused request is not counted, so a client that waits as told gets in.
    Not thread-safe on its own: the server calls it under its lock.
    """

    def __init__(self, windows: Sequence[tuple[int, float]], clock: Callable[[], float]) -> None:
        for limit, length in windows:
            if limit < 1 or length <= 0:
                raise ValueError(
                    f"a rate window needs limit >= 1 and length > 0, got {limit}/{length}"
                )
        self._windows = tuple(windows)
        self._clock = clock
        self._hits: dict[str, tuple[deque[float], ...]] = {}

    def take(self, client: str) -> RateDecision | None:
        """Count one request from ``client`` if a slot is free; None when there are no limits."""
        if not self._windows:
            return None
        now = self._clock()
        hits = self._hits.setdefault(client, tuple(deque() for _ in self._windows))
        for (_, length), times in zip(self._windows, hits, strict=True):
            while times and times[0] <= now - length:
                times.popleft()
        waits = [
            times[len(times) - limit] + length - now
            for (limit, length), times in zip(self._windows, hits, strict=True)
            if len(times) >= limit
        ]
        if waits:
            wait = max(waits)
            limit = next(
                limit
                for (limit, length), times in zip(self._windows, hits, strict=True)
                if len(times) >= limit and times[len(times) - limit] + length - now == wait
            )
            return RateDecision(False, limit, 0, wait, max(1, math.ceil(wait)))
        for times in hits:
            times.append(now)
        # Report the window closest to refusing: that is the one a client must respect.
        limit, length, times = min(
            (
                (limit, length, times)
                for (limit, length), times in zip(self._windows, hits, strict=True)
            ),
            key=lambda window: window[0] - len(window[2]),
        )
        return RateDecision(True, limit, limit - len(times), times[0] + length - now, None)

    def clear(self) -> None:
        """Forget every request counted so far."""
        self._hits.clear()
