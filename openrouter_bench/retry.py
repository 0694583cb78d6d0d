"""Retries: which failures to try again, how long to wait, and when to stop.

One decision, :meth:`RetryPolicy.decide`, answers "no", "yes, after N s":
transient failures only (:func:`~openrouter_bench.errors.is_transient`),
exponential backoff with full jitter, the server's ``Retry-After`` obeyed, and
a total deadline per call that is never overrun: a wait that would pass it
fails at once with the last error instead of sleeping.

The loop itself is tenacity's, built anew for every call (one shared
``AsyncRetrying`` is not safe across concurrent calls). Callers never see
tenacity's ``RetryError``: the last typed error is raised, with ``attempts``
set on it.

A 429 pauses the whole client, not just the task that saw it: every call
waits at the :class:`RateLimitGate` before it sends.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Final, TypeVar

import attrs
from tenacity import AsyncRetrying, RetryCallState

from openrouter_bench.errors import (
    APIError,
    OpenRouterBenchError,
    RateLimitError,
    is_transient,
)

__all__ = ["RateLimitGate", "RetryPolicy", "call_with_retries"]

logger: Final = logging.getLogger("openrouter_bench.retry")

T = TypeVar("T")

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


def _seconds(value: float | timedelta) -> float:
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if seconds < 0 or seconds != seconds:
        raise ValueError(f"a duration must be a non-negative number of seconds, got {value!r}")
    return seconds


def _positive_int(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{attribute.name} must be an integer >= 1, got {value!r}")


@attrs.frozen
class RetryPolicy:
    """How a call retries transient failures.

    Durations take float seconds or a :class:`~datetime.timedelta`. The
    defaults: at most 5 attempts, backoff from 0.5 s doubling to a 30 s cap
    with full jitter, and 60 s for the whole call, waits included.
    """

    attempts: int = attrs.field(default=5, validator=_positive_int)
    initial_wait: float = attrs.field(default=0.5, converter=_seconds)
    max_wait: float = attrs.field(default=30.0, converter=_seconds)
    deadline: float = attrs.field(default=60.0, converter=_seconds)
    jitter: bool = True

    @classmethod
    def no_wait(cls, *, attempts: int = 5, deadline: float | timedelta = 60.0) -> RetryPolicy:
        """Retry at once, for tests: the same decisions, no backoff (Retry-After still counts)."""
        return cls(
            attempts=attempts, initial_wait=0.0, max_wait=0.0, deadline=deadline, jitter=False
        )

    @classmethod
    def never(cls, *, deadline: float | timedelta = 60.0) -> RetryPolicy:
        """One attempt only."""
        return cls(attempts=1, deadline=deadline)

    def backoff(self, retry: int, rng: Callable[[], float] = random.random) -> float:
        """The wait before retry number ``retry`` (1 for the first), before any Retry-After."""
        # Bounded exponent: from 2 ** 1024 on, the power no longer fits a float and raises.
        ceiling = min(self.max_wait, self.initial_wait * 2.0 ** min(retry - 1, 1000))
        return ceiling * rng() if self.jitter else ceiling

    def decide(
        self,
        error: BaseException,
        *,
        attempt: int,
        elapsed: float,
        rng: Callable[[], float] = random.random,
    ) -> float | None:
        """Seconds to wait before trying again after ``error``, or None to give up now.

        ``attempt`` is the number of attempts made so far and ``elapsed`` the
        seconds since the call began.
        """
        if attempt >= self.attempts or not is_transient(error):
            return None
        wait = self.backoff(attempt, rng)
        if isinstance(error, APIError) and error.retry_after is not None:
            wait = max(wait, error.retry_after)
        if elapsed + wait >= self.deadline:
            return None
        return wait


class RateLimitGate:
    """Holds every call of one client back while the server has asked it to wait.

    A 429 with ``Retry-After: N`` closes the gate for N seconds; a call that
    reaches it waits, or fails at once with :class:`RateLimitError` when the
    wait would pass its own deadline.
    """

    def __init__(self, *, clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep) -> None:
        self._clock = clock
        self._sleep = sleep
        self._open_at = 0.0

    def close_for(self, seconds: float) -> None:
        """Keep calls back for ``seconds`` from now (never shortens a longer pause)."""
        self._open_at = max(self._open_at, self._clock() + seconds)

    @property
    def remaining(self) -> float:
        """Seconds until the gate opens (0 when open)."""
        return max(0.0, self._open_at - self._clock())

    async def wait(self, *, budget: float) -> None:
        """Wait for the gate to open, within ``budget`` seconds."""
        while (remaining := self.remaining) > 0:
            if remaining > budget:
                raise RateLimitError(
                    f"rate limited: the server asked to wait {remaining:.1f} s, "
                    f"more than the {budget:.1f} s left of this call's deadline",
                    status=429,
                    retry_after=remaining,
                )
            logger.info("rate limited: waiting %.2f s before sending", remaining)
            await self._sleep(remaining)
            budget -= remaining


async def call_with_retries(
    attempt: Callable[[float], Awaitable[T]],
    *,
    policy: RetryPolicy,
    gate: RateLimitGate,
    clock: Clock = time.monotonic,
    sleep: Sleep = asyncio.sleep,
    rng: Callable[[], float] = random.random,
    describe: str = "request",
) -> T:
    """Run ``attempt(budget)`` until it succeeds or ``policy`` gives up.

    ``budget`` is the seconds left of the call's deadline, for the attempt's
    own timeout. The error that ends the call carries ``attempts``.
    """
    started = clock()
    attempts = 0

    async def one_attempt() -> T:
        nonlocal attempts
        budget = policy.deadline - (clock() - started)
        await gate.wait(budget=budget)
        attempts += 1
        try:
            return await attempt(policy.deadline - (clock() - started))
        except RateLimitError as error:
            if error.retry_after:
                gate.close_for(error.retry_after)
            raise

    decision: float | None = None

    def should_retry(state: RetryCallState) -> bool:
        # The one place a failure is judged; wait() only reads what was decided here.
        nonlocal decision
        error = _failure_or_none(state)
        decision = (
            None
            if error is None
            else policy.decide(error, attempt=attempts, elapsed=clock() - started, rng=rng)
        )
        return decision is not None

    def wait(state: RetryCallState) -> float:
        return decision or 0.0

    def before_sleep(state: RetryCallState) -> None:
        logger.warning(
            "%s failed (attempt %d of %d): %s; retrying in %.2f s",
            describe,
            attempts,
            policy.attempts,
            _failure_or_none(state),
            state.upcoming_sleep,
        )

    retrying = AsyncRetrying(
        sleep=sleep,
        wait=wait,
        retry=should_retry,
        before_sleep=before_sleep,
        reraise=True,
    )
    try:
        return await retrying(one_attempt)
    except OpenRouterBenchError as error:
        error.attempts = attempts
        raise


def _failure_or_none(state: RetryCallState) -> BaseException | None:
    outcome = state.outcome
    if outcome is None or not outcome.failed:
        return None
    return outcome.exception()
