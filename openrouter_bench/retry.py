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

"May I send now?" is asked of one gate per client (a :class:`SendGate`)
before every attempt: :class:`_RateLimitGate` knows only the server's pauses;
the client's :class:`~openrouter_bench.quota.QuotaLimiter` adds the request
budget, in this process or shared through Redis. A 429 pauses the whole gate,
not just the task that saw it. Time spent waiting in the gate's line for a
slot is not charged to the call's deadline; a pause is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from datetime import timedelta
from typing import Final, Protocol, TypeVar

import attrs
from tenacity import AsyncRetrying, RetryCallState

from openrouter_bench._budget import RetryAccount, RetryBudget
from openrouter_bench._checks import count, seconds
from openrouter_bench.errors import (
    APIError,
    ConfigurationError,
    OpenRouterBenchError,
    RateLimitError,
    is_transient,
)
from openrouter_bench.wire import DEFAULT_MAX_RETRY_AFTER

__all__ = ["RetryPolicy"]

logger: Final = logging.getLogger("openrouter_bench.retry")

T = TypeVar("T")

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


def _attempts(value: int) -> int:
    return count("attempts", value)


def _initial_wait(value: float | timedelta) -> float:
    return seconds("initial_wait", value, zero=True)


def _max_wait(value: float | timedelta) -> float:
    return seconds("max_wait", value, zero=True)


def _deadline(value: float | timedelta) -> float:
    return seconds("deadline", value)


def _max_retry_after(value: float | timedelta) -> float:
    return seconds("max_retry_after", value)


def _flag(instance: object, attribute: attrs.Attribute[bool], value: bool) -> None:
    if not isinstance(value, bool):
        raise ConfigurationError(
            f"{attribute.name} must be True or False, got {type(value).__name__}"
        )


@attrs.frozen
class RetryPolicy:
    """How a call retries transient failures.

    Durations take float seconds or a :class:`~datetime.timedelta`. The
    defaults: at most 5 attempts, backoff from 0.5 s doubling to a 30 s cap
    with full jitter, and 60 s for the whole call, waits included. Every
    value is checked: a bad one raises
    :class:`~openrouter_bench.errors.ConfigurationError`.

    ``max_retry_after`` is the longest wait a server's ``Retry-After`` (on a
    429 or a 503) can impose, one hour by default: longer than any real
    rate-limit window (OpenRouter's is a minute; the daily budget is kept by
    the client's own quota, which never sleeps on it), and short enough that
    a misbehaving server or proxy asking for centuries cannot park a
    service. A longer ask is cut to it; the client-wide pause a 429 starts
    is cut to it too (and, with a quota shared on Redis, the pause every
    process honours), and the first such cut of a client is logged as a
    warning. A wait past the call's deadline still fails the call at once
    with :class:`~openrouter_bench.errors.RateLimitError`.
    """

    attempts: int = attrs.field(default=5, converter=_attempts)
    initial_wait: float = attrs.field(default=0.5, converter=_initial_wait)
    max_wait: float = attrs.field(default=30.0, converter=_max_wait)
    deadline: float = attrs.field(default=60.0, converter=_deadline)
    jitter: bool = attrs.field(default=True, validator=_flag)
    max_retry_after: float = attrs.field(
        default=DEFAULT_MAX_RETRY_AFTER, converter=_max_retry_after
    )

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

    def retry_after(self, error: BaseException) -> float | None:
        """The wait ``error``'s ``Retry-After`` asks for, cut to ``max_retry_after``; or None.

        None when the error carries none (or one that is not a number of seconds >= 0).
        """
        asked: object = error.retry_after if isinstance(error, APIError) else None
        if isinstance(asked, bool) or not isinstance(asked, int | float) or not asked >= 0:
            return None
        # Compared before converting: an int of 400 digits does not fit a float.
        return float(asked) if asked <= self.max_retry_after else self.max_retry_after

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
        asked = self.retry_after(error)
        if asked is not None:
            wait = max(wait, asked)
        if not elapsed + wait < self.deadline:
            return None
        return wait


class SendGate(Protocol):
    """Where every attempt waits for its turn to send."""

    def admit(self, *, budget: float, retry: bool = False) -> AbstractAsyncContextManager[float]:
        """Wait for a turn, hold it while the block runs; yields the seconds spent in line.

        ``budget`` is what is left of the call's deadline (a pause longer than
        that raises :class:`RateLimitError` at once); ``retry`` is True for
        the second and later attempts of a call.
        """
        ...

    async def pause(self, seconds: float) -> None:
        """Hold every call back for ``seconds`` from now, at most the gate's ceiling."""
        ...

    def turn_at_once(self) -> str | None:
        """A turn's token if one is free now with nobody waiting; None: use :meth:`admit`.

        The synchronous road most first attempts take: no context manager, no
        coroutine. A token taken here is handed back with :meth:`give_back`.
        """
        ...

    def give_back(self, token: str) -> None:
        """End the turn :meth:`turn_at_once` gave ``token`` for."""
        ...


class PauseCeiling:
    """The longest client-wide pause a server may ask for; the first longer ask is logged.

    One per gate, so a client warns once about a suspicious ``Retry-After``
    (a misbehaving server or proxy), not once per 429; later cuts are logged
    at debug level.
    """

    def __init__(self, limit: float) -> None:
        self.seconds = seconds("max_pause", limit)
        self._warned = False

    def cut(self, asked: float) -> float:
        """``asked`` cut to the ceiling; 0 for anything that is not a positive number."""
        if isinstance(asked, bool) or not isinstance(asked, int | float) or not asked > 0:
            return 0.0
        if asked <= self.seconds:
            return float(asked)
        level = logging.DEBUG if self._warned else logging.WARNING
        self._warned = True
        logger.log(
            level,
            "suspicious Retry-After: the server asked every call to wait %.3g s; "
            "waiting the %g s ceiling (RetryPolicy.max_retry_after) instead",
            float(asked) if asked < 1e300 else math.inf,
            self.seconds,
        )
        return self.seconds


def paused_past_deadline(wait: float, left: float) -> RateLimitError:
    """The error of a call the server paused (429) for longer than its deadline has ``left``."""
    return RateLimitError(
        f"rate limited: the server asked to wait {wait:.1f} s, "
        f"more than the {max(0.0, left):.1f} s left of this call's deadline",
        status=429,
        retry_after=wait,
    )


class _RateLimitGate:
    """Holds every call of one client back while the server has asked it to wait.

    A 429 with ``Retry-After: N`` closes the gate for N seconds, at most
    ``max_pause`` (a longer ask is cut to it, the first time with a warning);
    a call that reaches it waits, or fails at once with
    :class:`RateLimitError` when the wait would pass its own deadline.
    """

    def __init__(
        self,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        max_pause: float = DEFAULT_MAX_RETRY_AFTER,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._ceiling = PauseCeiling(max_pause)
        self._open_at = 0.0

    def close_for(self, seconds: float) -> None:
        """Keep calls back for ``seconds`` from now (never shortens a longer pause)."""
        pause = self._ceiling.cut(seconds)
        if pause:
            self._open_at = max(self._open_at, self._clock() + pause)

    @property
    def remaining(self) -> float:
        """Seconds until the gate opens (0 when open)."""
        return max(0.0, self._open_at - self._clock())

    async def wait(self, *, budget: float) -> None:
        """Wait for the gate to open, within ``budget`` seconds."""
        while (remaining := self.remaining) > 0:
            if remaining > budget:
                raise paused_past_deadline(remaining, budget)
            logger.info("rate limited: waiting %.2f s before sending", remaining)
            await self._sleep(remaining)
            budget -= remaining

    @contextlib.asynccontextmanager
    async def admit(self, *, budget: float, retry: bool = False) -> AsyncIterator[float]:
        """The :class:`SendGate` side: wait out a pause; there is no line, so 0 s queued."""
        await self.wait(budget=budget)
        yield 0.0

    async def pause(self, seconds: float) -> None:
        """The :class:`SendGate` side of :meth:`close_for`."""
        self.close_for(seconds)

    def turn_at_once(self) -> str | None:
        """The :class:`SendGate` side: a turn now unless a pause is on (no line, no slots)."""
        return "" if self._open_at <= self._clock() else None

    def give_back(self, token: str) -> None:
        """The :class:`SendGate` side: there is no slot to give back."""


_RetryObserver = Callable[[BaseException, int, float], None]


async def call_with_retries(
    attempt: Callable[[float], Awaitable[T]],
    *,
    policy: RetryPolicy,
    gate: SendGate,
    clock: Clock = time.monotonic,
    sleep: Sleep = asyncio.sleep,
    rng: Callable[[], float] = random.random,
    describe: str = "request",
    budget: RetryBudget | None = None,
    on_retry: _RetryObserver | None = None,
    started: float | None = None,
) -> T:
    """Run ``attempt(budget)`` until it succeeds or ``policy`` gives up.

    Each attempt first takes a turn at ``gate``. ``budget`` is the seconds
    left of the call's deadline, for the attempt's own timeout; time spent in
    the gate's line moves the deadline back. A retry also needs a token from
    the client's :class:`~openrouter_bench._budget.RetryBudget` (when given),
    so an outage does not multiply the load. ``on_retry(error, attempt,
    wait)`` hears of each retry before its wait. The error that ends the call
    carries ``attempts``. ``started`` (by ``clock``) is when the call began, if
    before this: time it already spent (waiting on a cache) counts against the
    deadline.
    """
    started = clock() if started is None else started
    attempts = 0
    # The retry state (the budget's account, the loop) is built only after a failure.
    account: RetryAccount | None = None

    async def one_attempt() -> T:
        nonlocal attempts, started
        remaining = policy.deadline - (clock() - started)
        async with gate.admit(budget=remaining, retry=attempts > 0) as queued:
            started += queued
            attempts += 1
            try:
                return await attempt(policy.deadline - (clock() - started))
            except APIError as error:
                await _after_api_error(error, policy, gate)
                raise

    def judge(error: BaseException) -> float | None:
        # The one place a failure is judged: the policy, then the shared budget.
        nonlocal account
        wait = policy.decide(error, attempt=attempts, elapsed=clock() - started, rng=rng)
        if wait is None:
            return None
        if budget is not None:
            if account is None:
                account = budget.account()
            if not account.can_retry(error):
                return None
        logger.warning(
            "%s failed (attempt %d of %d): %s; retrying in %.2f s",
            describe,
            attempts,
            policy.attempts,
            error,
            wait,
        )
        if on_retry is not None:
            on_retry(error, attempts, wait)
        return wait

    # Most calls succeed at once: the first attempt runs without building a retry
    # loop, which costs more than a loopback request; and when the gate has a turn
    # free now, without its context manager either.
    try:
        token = gate.turn_at_once()
        if token is None:
            first = await one_attempt()
        else:
            attempts = 1
            try:
                first = await attempt(policy.deadline - (clock() - started))
            except APIError as error:
                await _after_api_error(error, policy, gate)
                raise
            finally:
                gate.give_back(token)
    except OpenRouterBenchError as error:
        wait = judge(error)
        if wait is None:
            error.attempts = attempts
            raise
    else:
        if budget is not None:
            budget.succeeded_at_once()
        return first

    decision: float | None = wait

    def should_retry(state: RetryCallState) -> bool:
        nonlocal decision
        error = _failure_or_none(state)
        decision = None if error is None else judge(error)
        return decision is not None

    def wait_for(state: RetryCallState) -> float:
        return decision or 0.0

    retrying = AsyncRetrying(sleep=sleep, wait=wait_for, retry=should_retry, reraise=True)
    await sleep(wait)
    try:
        result: T = await retrying(one_attempt)
    except OpenRouterBenchError as error:
        error.attempts = attempts
        raise
    if account is not None:
        account.on_success()
    return result


async def _after_api_error(error: APIError, policy: RetryPolicy, gate: SendGate) -> None:
    """What an attempt's API error does before its turn ends: a 429's pause, a cut wait."""
    if isinstance(error, RateLimitError) and error.retry_after:
        # Paused before the slot is given back, so nobody slips in between.
        # The gate cuts the pause to its ceiling (and says so).
        await gate.pause(error.retry_after)
    if error.retry_after is not None:
        # The error carries the wait actually imposed, never a century.
        error.retry_after = policy.retry_after(error)


def _failure_or_none(state: RetryCallState) -> BaseException | None:
    outcome = state.outcome
    if outcome is None or not outcome.failed:
        return None
    return outcome.exception()
