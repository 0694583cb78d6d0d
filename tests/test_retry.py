"""Retries: the policy's decisions, the loop around an attempt, and the shared 429 gate.

Nothing here sleeps for real: a fake clock's sleep records the wait and moves time on.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Iterable
from datetime import timedelta

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tenacity import RetryError

from openrouter_bench._checks import MAX_SECONDS
from openrouter_bench.errors import (
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    InvalidQueryError,
    RateLimitError,
    RequestTimeoutError,
    ResponseFormatError,
    ServerError,
    TransportError,
)
from openrouter_bench.retry import RetryPolicy, _RateLimitGate, call_with_retries

CANARY_KEY = "sk-or-v1-canary-retry-0000"


class FakeClock:
    """A monotonic clock that only moves when something sleeps on it."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class ScriptedAttempt:
    """An attempt function that plays a script: raise each error in turn, then return."""

    def __init__(
        self,
        outcomes: Iterable[BaseException | str],
        *,
        clock: FakeClock | None = None,
        takes: float = 0.0,
    ) -> None:
        self._outcomes = list(outcomes)
        self._clock = clock
        self._takes = takes
        self.budgets: list[float] = []

    @property
    def calls(self) -> int:
        return len(self.budgets)

    async def __call__(self, budget: float) -> str:
        self.budgets.append(budget)
        if self._clock is not None:
            self._clock.now += self._takes
        outcome = self._outcomes[min(len(self.budgets), len(self._outcomes)) - 1]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


def _server_error(number: int = 0) -> ServerError:
    return ServerError(f"bad gateway #{number}", status=502)


def _rate_limited(retry_after: float | None) -> RateLimitError:
    return RateLimitError("rate limit exceeded", status=429, retry_after=retry_after)


def _fixed(value: float) -> Callable[[], float]:
    return lambda: value


async def _run(
    attempt: Callable[[float], Awaitable[str]],
    clock: FakeClock,
    policy: RetryPolicy,
    *,
    gate: _RateLimitGate | None = None,
) -> str:
    return await call_with_retries(
        attempt,
        policy=policy,
        gate=gate if gate is not None else _RateLimitGate(clock=clock, sleep=clock.sleep),
        clock=clock,
        sleep=clock.sleep,
        rng=_fixed(1.0),
    )


# --- RetryPolicy: construction -----------------------------------------------


def test_policy_defaults_match_the_design() -> None:
    """Five attempts, 0.5 s doubling to 30 s with jitter, 60 s per call."""
    policy = RetryPolicy()
    assert (policy.attempts, policy.initial_wait, policy.max_wait, policy.deadline) == (
        5,
        0.5,
        30.0,
        60.0,
    )
    assert policy.jitter is True


@pytest.mark.parametrize("attempts", [0, -1, True, 2.5, "3", None])
def test_policy_refuses_bad_attempts(attempts: object) -> None:
    """attempts must be an int >= 1 (bool and float are not): a ConfigurationError naming it."""
    with pytest.raises(ConfigurationError, match="attempts must be"):
        RetryPolicy(attempts=attempts)  # type: ignore[arg-type]


def test_policy_accepts_timedelta_durations() -> None:
    """Durations may be timedelta; they are stored as float seconds."""
    policy = RetryPolicy(
        initial_wait=timedelta(milliseconds=250),
        max_wait=timedelta(seconds=10),
        deadline=timedelta(minutes=2),
    )
    assert (policy.initial_wait, policy.max_wait, policy.deadline) == (0.25, 10.0, 120.0)
    assert all(type(value) is float for value in (policy.initial_wait, policy.deadline))


def test_policy_accepts_int_seconds_as_float() -> None:
    """An int number of seconds becomes a float."""
    assert RetryPolicy(deadline=90).deadline == 90.0


@pytest.mark.parametrize("field", ["initial_wait", "max_wait", "deadline", "max_retry_after"])
@pytest.mark.parametrize(
    "value",
    [
        -0.1,
        timedelta(seconds=-1),
        float("nan"),
        float("inf"),
        1e400,
        10**400,
        True,
        "60",
        None,
        timedelta.max,
    ],
)
def test_policy_refuses_bad_durations(field: str, value: object) -> None:
    """A negative, NaN, infinite, huge, bool or non-number duration is a ConfigurationError."""
    with pytest.raises(ConfigurationError, match=field):
        RetryPolicy(**{field: value})  # type: ignore[arg-type]


@pytest.mark.parametrize("field", ["deadline", "max_retry_after"])
def test_policy_refuses_a_zero_deadline_or_ceiling(field: str) -> None:
    """No time at all for a call, or for a pause, is refused; zero waits are allowed."""
    with pytest.raises(ConfigurationError, match=field):
        RetryPolicy(**{field: 0})  # type: ignore[arg-type]
    assert RetryPolicy(initial_wait=0, max_wait=0).max_wait == 0.0


@pytest.mark.parametrize("value", [1, 0, "yes", None])
def test_policy_refuses_a_jitter_that_is_not_a_bool(value: object) -> None:
    """jitter is True or False, nothing that merely looks like one."""
    with pytest.raises(ConfigurationError, match="jitter"):
        RetryPolicy(jitter=value)  # type: ignore[arg-type]


_ANY_VALUE = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**600), max_value=10**600)
    | st.floats()
    | st.text(max_size=20)
    | st.binary(max_size=20)
    | st.timedeltas()
    | st.decimals()
    | st.fractions()
    | st.lists(st.integers(), max_size=3)
    | st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)
)


@pytest.mark.parametrize(
    "field", ["attempts", "initial_wait", "max_wait", "deadline", "jitter", "max_retry_after"]
)
@given(value=_ANY_VALUE)
def test_any_value_of_any_field_is_a_policy_or_a_configuration_error(
    field: str, value: object
) -> None:
    """Whatever a field is given, the result is a usable policy or a ConfigurationError."""
    try:
        policy = RetryPolicy(**{field: value})  # type: ignore[arg-type]
    except ConfigurationError:
        return
    number = getattr(policy, field)
    if field == "jitter":
        assert isinstance(number, bool)
    elif field == "attempts":
        assert type(number) is int
        assert number >= 1
    else:
        assert type(number) is float
        assert 0 <= number <= MAX_SECONDS
    # A valid policy decides without raising, whatever it holds.
    policy.decide(_rate_limited(1e15), attempt=1, elapsed=0.0)
    policy.backoff(10**6)


def test_the_default_retry_after_ceiling_is_an_hour() -> None:
    """One hour: past any rate-limit window, short of parking a service."""
    assert RetryPolicy().max_retry_after == 3600.0
    assert RetryPolicy(max_retry_after=timedelta(minutes=5)).max_retry_after == 300.0


def test_policy_is_frozen() -> None:
    """A policy is a value: it cannot be changed after construction."""
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        RetryPolicy().attempts = 1  # type: ignore[misc]


def test_no_wait_policy() -> None:
    """no_wait keeps the attempts and deadline but never backs off."""
    policy = RetryPolicy.no_wait(attempts=3, deadline=timedelta(seconds=5))
    assert (policy.attempts, policy.deadline) == (3, 5.0)
    assert [policy.backoff(retry) for retry in range(1, 6)] == [0.0] * 5


def test_never_policy_makes_one_attempt() -> None:
    """never allows exactly one attempt, so no failure is retried."""
    policy = RetryPolicy.never()
    assert policy.attempts == 1
    assert policy.decide(_server_error(), attempt=1, elapsed=0.0) is None


# --- RetryPolicy: backoff ----------------------------------------------------


def test_backoff_without_jitter_doubles_to_the_cap() -> None:
    """Without jitter the wait doubles from initial_wait and stops at max_wait."""
    policy = RetryPolicy(jitter=False)
    assert [policy.backoff(retry) for retry in range(1, 9)] == [
        0.5,
        1.0,
        2.0,
        4.0,
        8.0,
        16.0,
        30.0,
        30.0,
    ]


@pytest.mark.parametrize(("draw", "expected"), [(0.0, 0.0), (0.25, 1.0), (0.5, 2.0), (1.0, 4.0)])
def test_backoff_full_jitter_scales_the_ceiling(draw: float, expected: float) -> None:
    """Full jitter picks ceiling * rng(): anything from 0 up to the exponential ceiling."""
    assert RetryPolicy().backoff(4, _fixed(draw)) == expected


def test_backoff_full_jitter_stays_within_bounds() -> None:
    """Over many draws the jittered wait stays in [0, min(cap, initial * 2**(n-1))]."""
    rng = random.Random(20261125).random
    policy = RetryPolicy(initial_wait=0.5, max_wait=30.0)
    for retry in range(1, 12):
        ceiling = min(30.0, 0.5 * 2 ** (retry - 1))
        waits = [policy.backoff(retry, rng) for _ in range(200)]
        assert all(0.0 <= wait <= ceiling for wait in waits)
        assert max(waits) > ceiling / 2


def test_backoff_jitter_cap_applies_before_the_draw() -> None:
    """The cap bounds the ceiling, so even a maximal draw never exceeds max_wait."""
    assert RetryPolicy(max_wait=3.0).backoff(20, _fixed(1.0)) == 3.0


@pytest.mark.parametrize("retry", [1025, 5000])
def test_backoff_for_a_very_late_retry_stays_a_number(retry: int) -> None:
    """A policy allowing thousands of attempts still gets a capped wait, not an overflow."""
    assert RetryPolicy(attempts=10_000, jitter=False).backoff(retry) == 30.0
    assert RetryPolicy.no_wait(attempts=10_000).backoff(retry) == 0.0


# --- RetryPolicy: decide -----------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [
        BadRequestError("bad", status=400),
        AuthenticationError("no key", status=401),
        ResponseFormatError("not JSON"),
        InvalidQueryError("bad query"),
        ValueError("foreign"),
        asyncio.CancelledError(),
    ],
    ids=lambda error: type(error).__name__,
)
def test_decide_gives_up_on_non_transient(error: BaseException) -> None:
    """A failure that is not transient is never retried."""
    assert RetryPolicy().decide(error, attempt=1, elapsed=0.0) is None


@pytest.mark.parametrize(
    "error",
    [
        _server_error(),
        ServerError("unavailable", status=503),
        TransportError("reset"),
        RequestTimeoutError("slow"),
        _rate_limited(None),
    ],
    ids=lambda error: type(error).__name__,
)
def test_decide_retries_transient_after_backoff(error: BaseException) -> None:
    """A transient failure is retried after the backoff for that attempt."""
    policy = RetryPolicy(jitter=False)
    assert policy.decide(error, attempt=1, elapsed=0.0) == 0.5
    assert policy.decide(error, attempt=3, elapsed=0.0) == 2.0


def test_decide_passes_its_rng_to_the_backoff() -> None:
    """decide uses the given rng for jitter."""
    wait = RetryPolicy().decide(_server_error(), attempt=2, elapsed=0.0, rng=_fixed(0.5))
    assert wait == 0.5


def test_decide_honours_retry_after_as_a_minimum() -> None:
    """Retry-After longer than the backoff is what decide waits."""
    policy = RetryPolicy(jitter=False)
    assert policy.decide(_rate_limited(10.0), attempt=1, elapsed=0.0) == 10.0


def test_decide_keeps_backoff_longer_than_retry_after() -> None:
    """Retry-After is a floor, not a replacement: a longer backoff still applies."""
    policy = RetryPolicy(jitter=False)
    assert policy.decide(_rate_limited(0.1), attempt=3, elapsed=0.0) == 2.0


def test_decide_honours_retry_after_on_server_errors() -> None:
    """A 503 with Retry-After is waited for like a 429."""
    error = ServerError("maintenance", status=503, retry_after=4.0)
    assert RetryPolicy.no_wait().decide(error, attempt=1, elapsed=0.0) == 4.0


@pytest.mark.parametrize("attempt", [5, 6])
def test_decide_gives_up_when_attempts_are_spent(attempt: int) -> None:
    """After policy.attempts attempts nothing is retried."""
    assert RetryPolicy().decide(_server_error(), attempt=attempt, elapsed=0.0) is None


def test_decide_retries_on_the_last_allowed_retry() -> None:
    """With attempts left, the last retry is still allowed."""
    assert RetryPolicy(attempts=5, jitter=False).decide(_server_error(), attempt=4, elapsed=0) == 4


def test_decide_gives_up_when_the_wait_would_pass_the_deadline() -> None:
    """A wait that would run past the deadline is refused instead of slept."""
    policy = RetryPolicy(jitter=False, deadline=60.0)
    assert policy.decide(_server_error(), attempt=1, elapsed=59.8) is None
    assert policy.decide(_server_error(), attempt=1, elapsed=10.0) == 0.5


@pytest.mark.parametrize("asked", [1e12, MAX_SECONDS, float("inf"), 10**400])
def test_decide_cuts_a_huge_retry_after_to_the_ceiling(asked: float) -> None:
    """A Retry-After of centuries waits the ceiling, or gives up when that passes the deadline."""
    long_call = RetryPolicy.no_wait(deadline=7200.0)
    assert long_call.decide(_rate_limited(asked), attempt=1, elapsed=0.0) == 3600.0
    assert RetryPolicy.no_wait().decide(_rate_limited(asked), attempt=1, elapsed=0.0) is None


@pytest.mark.parametrize("asked", [float("nan"), -5.0, True, "10"])
def test_decide_ignores_a_retry_after_that_is_not_a_wait(asked: object) -> None:
    """NaN, a negative, a bool or a string on an error is no Retry-After: plain backoff."""
    error = _rate_limited(None)
    error.retry_after = asked  # type: ignore[assignment]
    assert RetryPolicy(jitter=False).decide(error, attempt=1, elapsed=0.0) == 0.5


@given(
    asked=st.floats(allow_nan=True, allow_infinity=True) | st.none(),
    ceiling=st.floats(min_value=0.001, max_value=MAX_SECONDS),
    elapsed=st.floats(min_value=0.0, max_value=1e6),
)
def test_decide_never_waits_past_the_ceiling_or_the_deadline(
    asked: float | None, ceiling: float, elapsed: float
) -> None:
    """Whatever Retry-After says, a wait is at most the ceiling and within the deadline."""
    policy = RetryPolicy(max_retry_after=ceiling, deadline=MAX_SECONDS)
    wait = policy.decide(_rate_limited(asked), attempt=1, elapsed=elapsed)
    if wait is not None:
        assert 0.0 <= wait <= max(ceiling, policy.max_wait)
        assert elapsed + wait < policy.deadline


def test_decide_gives_up_on_retry_after_past_the_deadline() -> None:
    """A Retry-After longer than what is left of the deadline means give up now."""
    policy = RetryPolicy.no_wait(deadline=60.0)
    assert policy.decide(_rate_limited(45.0), attempt=1, elapsed=20.0) is None
    assert policy.decide(_rate_limited(30.0), attempt=1, elapsed=20.0) == 30.0


# --- call_with_retries -------------------------------------------------------


async def test_success_first_time() -> None:
    """A first success returns at once, with the whole deadline as the attempt's budget."""
    clock = FakeClock()
    attempt = ScriptedAttempt(["page"])
    assert await _run(attempt, clock, RetryPolicy(deadline=60.0)) == "page"
    assert attempt.budgets == [60.0]
    assert clock.sleeps == []


async def test_transient_errors_then_success() -> None:
    """Transient failures are retried with backoff until the attempt succeeds."""
    clock = FakeClock()
    attempt = ScriptedAttempt([_server_error(1), TransportError("reset"), "page"])
    result = await _run(attempt, clock, RetryPolicy(jitter=False))
    assert result == "page"
    assert attempt.calls == 3
    assert clock.sleeps == [0.5, 1.0]


async def test_budget_shrinks_with_elapsed_time() -> None:
    """Each attempt is told how much of the deadline is left for its own timeout."""
    clock = FakeClock()
    attempt = ScriptedAttempt([_server_error(), _server_error(), "page"], clock=clock, takes=2.0)
    await _run(attempt, clock, RetryPolicy(jitter=False, deadline=60.0))
    assert attempt.budgets == [60.0, 57.5, 54.5]


async def test_time_spent_before_the_call_counts_against_the_deadline() -> None:
    """With ``started`` in the past (the cache waited), the first attempt gets only the rest."""
    clock = FakeClock()
    attempt = ScriptedAttempt(["page"])
    await call_with_retries(
        attempt,
        policy=RetryPolicy.no_wait(deadline=10.0),
        gate=_RateLimitGate(clock=clock, sleep=clock.sleep),
        clock=clock,
        sleep=clock.sleep,
        started=clock() - 4.0,
    )
    assert attempt.budgets == [6.0]


async def test_non_transient_error_is_raised_at_once() -> None:
    """A non-transient error ends the call after one attempt, with attempts=1."""
    clock = FakeClock()
    refused = BadRequestError("bad parameter", status=400)
    attempt = ScriptedAttempt([refused, "page"])
    with pytest.raises(BadRequestError) as caught:
        await _run(attempt, clock, RetryPolicy.no_wait())
    assert caught.value is refused
    assert caught.value.attempts == 1
    assert attempt.calls == 1
    assert clock.sleeps == []


async def test_exhausted_raises_the_last_typed_error() -> None:
    """After the last attempt the caller gets the last error, never tenacity's RetryError."""
    clock = FakeClock()
    errors = [_server_error(number) for number in range(1, 4)]
    attempt = ScriptedAttempt(errors)
    with pytest.raises(ServerError) as caught:
        await _run(attempt, clock, RetryPolicy.no_wait(attempts=3))
    assert caught.value is errors[-1]
    assert caught.value.attempts == 3
    assert "(after 3 attempts)" in str(caught.value)
    assert not isinstance(caught.value, RetryError)
    assert attempt.calls == 3


async def test_exhausted_on_transport_errors() -> None:
    """Transport failures exhaust the attempts like status errors do."""
    clock = FakeClock()
    attempt = ScriptedAttempt([RequestTimeoutError("slow")])
    with pytest.raises(RequestTimeoutError) as caught:
        await _run(attempt, clock, RetryPolicy.no_wait(attempts=4))
    assert caught.value.attempts == 4
    assert attempt.calls == 4
    assert clock.sleeps == [0.0, 0.0, 0.0]


async def test_single_attempt_policy_does_not_retry() -> None:
    """RetryPolicy.never() surfaces the first transient error with attempts=1."""
    clock = FakeClock()
    attempt = ScriptedAttempt([_server_error(), "page"])
    with pytest.raises(ServerError) as caught:
        await _run(attempt, clock, RetryPolicy.never())
    assert caught.value.attempts == 1
    assert attempt.calls == 1


async def test_deadline_bounds_the_whole_call() -> None:
    """Slow attempts use up the deadline: the call stops even with attempts left."""
    clock = FakeClock()
    attempt = ScriptedAttempt([_server_error()], clock=clock, takes=30.0)
    with pytest.raises(ServerError) as caught:
        await _run(attempt, clock, RetryPolicy.no_wait(attempts=5, deadline=60.0))
    assert caught.value.attempts == 2
    assert attempt.calls == 2


async def test_cancelled_error_from_the_attempt_is_never_retried() -> None:
    """A CancelledError raised inside an attempt propagates after one attempt."""
    clock = FakeClock()
    attempt = ScriptedAttempt([asyncio.CancelledError(), "page"])
    with pytest.raises(asyncio.CancelledError):
        await _run(attempt, clock, RetryPolicy.no_wait())
    assert attempt.calls == 1
    assert clock.sleeps == []


async def test_cancelling_the_caller_is_never_retried() -> None:
    """Cancelling the task mid-attempt cancels the call; the attempt is not run again."""
    clock = FakeClock()
    started = asyncio.Event()
    calls = 0

    async def hangs(budget: float) -> str:
        nonlocal calls
        calls += 1
        started.set()
        await asyncio.Event().wait()
        return "never"

    task = asyncio.create_task(_run(hangs, clock, RetryPolicy.no_wait()))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled()
    assert calls == 1
    assert clock.sleeps == []


async def test_retry_after_is_passed_to_sleep() -> None:
    """A 429's Retry-After is the wait handed to the injected sleep."""
    clock = FakeClock()
    attempt = ScriptedAttempt([_rate_limited(7.0), _rate_limited(2.5), "page"])
    assert await _run(attempt, clock, RetryPolicy.no_wait()) == "page"
    assert clock.sleeps == [7.0, 2.5]
    assert attempt.calls == 3


async def test_retry_after_longer_than_the_deadline_fails_at_once() -> None:
    """A 429 asking for more time than the deadline leaves fails without sleeping."""
    clock = FakeClock()
    limited = _rate_limited(120.0)
    attempt = ScriptedAttempt([limited, "page"])
    with pytest.raises(RateLimitError) as caught:
        await _run(attempt, clock, RetryPolicy.no_wait(deadline=60.0))
    assert caught.value is limited
    assert caught.value.attempts == 1
    assert clock.sleeps == []
    assert attempt.calls == 1


async def test_a_429_closes_the_shared_gate() -> None:
    """A 429 with Retry-After closes the gate for that long, for every call sharing it."""
    clock = FakeClock()
    gate = _RateLimitGate(clock=clock, sleep=clock.sleep)
    attempt = ScriptedAttempt([_rate_limited(120.0)])
    with pytest.raises(RateLimitError):
        await _run(attempt, clock, RetryPolicy.no_wait(deadline=60.0), gate=gate)
    assert gate.remaining == 120.0


async def test_a_huge_429_pauses_the_gate_for_the_ceiling_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Retry-After of 10^12 s closes the gate for the ceiling; the error says the ceiling too."""
    clock = FakeClock()
    gate = _RateLimitGate(clock=clock, sleep=clock.sleep, max_pause=3600.0)
    limited = _rate_limited(1e12)
    with (
        caplog.at_level(logging.DEBUG, logger="openrouter_bench.retry"),
        pytest.raises(RateLimitError),
    ):
        await _run(ScriptedAttempt([limited]), clock, RetryPolicy.no_wait(), gate=gate)
    assert gate.remaining == 3600.0
    assert limited.retry_after == 3600.0
    clock.now += 3600.0
    assert await _run(ScriptedAttempt(["page"]), clock, RetryPolicy.no_wait(), gate=gate) == "page"
    assert [r.levelno for r in caplog.records if "suspicious" in r.getMessage()] == [
        logging.WARNING
    ]


def test_the_suspicious_pause_is_a_warning_once_per_gate(caplog: pytest.LogCaptureFixture) -> None:
    """The first cut pause of a gate is a warning, later ones debug; a new gate warns again."""
    clock = FakeClock()
    with caplog.at_level(logging.DEBUG, logger="openrouter_bench.retry"):
        first = _RateLimitGate(clock=clock, max_pause=60.0)
        for asked in (1e9, 1e10, float("inf")):
            first.close_for(asked)
        _RateLimitGate(clock=clock, max_pause=60.0).close_for(1e9)
    levels = [r.levelno for r in caplog.records if "suspicious" in r.getMessage()]
    assert levels == [logging.WARNING, logging.DEBUG, logging.DEBUG, logging.WARNING]
    assert first.remaining == 60.0


@pytest.mark.parametrize("asked", [float("nan"), -1.0, 0.0, float("-inf")])
def test_a_pause_that_is_not_a_positive_number_is_no_pause(asked: float) -> None:
    """NaN, zero and negatives never close the gate (and never raise)."""
    gate = _RateLimitGate(clock=FakeClock())
    gate.close_for(asked)
    assert gate.remaining == 0.0


async def test_a_429_without_retry_after_leaves_the_gate_open() -> None:
    """Without Retry-After there is nothing to pause the other calls for."""
    clock = FakeClock()
    gate = _RateLimitGate(clock=clock, sleep=clock.sleep)
    attempt = ScriptedAttempt([_rate_limited(None), "page"])
    await _run(attempt, clock, RetryPolicy(jitter=False), gate=gate)
    assert gate.remaining == 0.0
    assert clock.sleeps == [0.5]


async def test_closed_gate_is_waited_before_the_first_attempt() -> None:
    """A call that finds the gate closed waits for it before sending anything."""
    clock = FakeClock()
    gate = _RateLimitGate(clock=clock, sleep=clock.sleep)
    gate.close_for(4.0)
    attempt = ScriptedAttempt(["page"])
    assert await _run(attempt, clock, RetryPolicy(deadline=60.0), gate=gate) == "page"
    assert clock.sleeps == [4.0]
    assert attempt.budgets == [56.0]


async def test_gate_closed_past_the_deadline_fails_before_sending() -> None:
    """A gate closed for longer than the deadline fails the call at once, nothing sent."""
    clock = FakeClock()
    gate = _RateLimitGate(clock=clock, sleep=clock.sleep)
    gate.close_for(90.0)
    attempt = ScriptedAttempt(["page"])
    with pytest.raises(RateLimitError) as caught:
        await _run(attempt, clock, RetryPolicy(deadline=60.0), gate=gate)
    assert caught.value.attempts == 0
    assert caught.value.retry_after == 90.0
    assert attempt.calls == 0
    assert clock.sleeps == []


async def test_retry_is_logged_without_the_key(caplog: pytest.LogCaptureFixture) -> None:
    """Each retry logs a warning naming the attempt; the key used by the attempt never appears."""
    clock = FakeClock()
    headers = {"Authorization": f"Bearer {CANARY_KEY}"}

    async def attempt(budget: float) -> str:
        # The attempt holds the key, as the real transport does; the loop only sees its error.
        assert headers["Authorization"].endswith(CANARY_KEY)
        if clock.sleeps:
            return "page"
        raise _server_error()

    with caplog.at_level(logging.WARNING, logger="openrouter_bench.retry"):
        await call_with_retries(
            attempt,
            policy=RetryPolicy.no_wait(attempts=3),
            gate=_RateLimitGate(clock=clock, sleep=clock.sleep),
            clock=clock,
            sleep=clock.sleep,
            describe="GET /benchmarks",
        )
    assert [record.levelno for record in caplog.records] == [logging.WARNING]
    assert "GET /benchmarks failed (attempt 1 of 3)" in caplog.text
    assert CANARY_KEY not in caplog.text


async def test_concurrent_calls_build_separate_loops() -> None:
    """Many concurrent calls with one policy keep their own attempt counts."""
    clock = FakeClock()
    gate = _RateLimitGate(clock=clock, sleep=clock.sleep)
    policy = RetryPolicy.no_wait(attempts=3)
    scripts: list[list[BaseException | str]] = [
        [*[_server_error()] * failures, "ok"] for failures in range(3)
    ]
    attempts = [ScriptedAttempt(script) for script in scripts]
    results = await asyncio.gather(*(_run(a, clock, policy, gate=gate) for a in attempts))
    assert results == ["ok", "ok", "ok"]
    assert [a.calls for a in attempts] == [1, 2, 3]


# --- _RateLimitGate -----------------------------------------------------------


async def test_open_gate_does_not_sleep() -> None:
    """A gate nobody closed lets calls through without sleeping."""
    clock = FakeClock()
    gate = _RateLimitGate(clock=clock, sleep=clock.sleep)
    await gate.wait(budget=0.0)
    assert gate.remaining == 0.0
    assert clock.sleeps == []


async def test_gate_sleeps_the_remaining_time() -> None:
    """close_for then wait sleeps exactly what is left of the pause."""
    clock = FakeClock()
    gate = _RateLimitGate(clock=clock, sleep=clock.sleep)
    gate.close_for(5.0)
    clock.now += 2.0
    assert gate.remaining == 3.0
    await gate.wait(budget=10.0)
    assert clock.sleeps == [3.0]
    assert gate.remaining == 0.0


async def test_gate_waits_when_budget_equals_remaining() -> None:
    """A pause that fits the budget exactly is waited, not refused."""
    clock = FakeClock()
    gate = _RateLimitGate(clock=clock, sleep=clock.sleep)
    gate.close_for(5.0)
    await gate.wait(budget=5.0)
    assert clock.sleeps == [5.0]


async def test_gate_reopens_by_itself() -> None:
    """Once the pause has passed the gate is open again without anyone sleeping on it."""
    clock = FakeClock()
    gate = _RateLimitGate(clock=clock, sleep=clock.sleep)
    gate.close_for(5.0)
    clock.now += 6.0
    await gate.wait(budget=0.0)
    assert clock.sleeps == []


def test_close_for_never_shortens_a_longer_pause() -> None:
    """A shorter Retry-After does not cut a longer pause short."""
    clock = FakeClock()
    gate = _RateLimitGate(clock=clock, sleep=clock.sleep)
    gate.close_for(10.0)
    gate.close_for(2.0)
    assert gate.remaining == 10.0
    gate.close_for(15.0)
    assert gate.remaining == 15.0


async def test_gate_wait_beyond_budget_raises_at_once() -> None:
    """A pause longer than the budget raises RateLimitError (429) without sleeping."""
    clock = FakeClock()
    gate = _RateLimitGate(clock=clock, sleep=clock.sleep)
    gate.close_for(30.0)
    with pytest.raises(RateLimitError) as caught:
        await gate.wait(budget=10.0)
    assert caught.value.status == 429
    assert caught.value.retry_after == 30.0
    assert "30.0 s" in str(caught.value)
    assert clock.sleeps == []


async def test_gate_wait_loops_if_closed_again_while_sleeping() -> None:
    """If another 429 extends the pause during the wait, the waiter waits again."""
    clock = FakeClock()

    async def sleep_and_extend(seconds: float) -> None:
        await clock.sleep(seconds)
        if len(clock.sleeps) == 1:
            gate.close_for(2.0)

    gate = _RateLimitGate(clock=clock, sleep=sleep_and_extend)
    gate.close_for(3.0)
    await gate.wait(budget=10.0)
    assert clock.sleeps == [3.0, 2.0]


async def test_gate_extension_counts_against_the_budget() -> None:
    """Waits already slept are taken off the budget before deciding to wait again."""
    clock = FakeClock()

    async def sleep_and_extend(seconds: float) -> None:
        await clock.sleep(seconds)
        if len(clock.sleeps) == 1:
            gate.close_for(5.0)

    gate = _RateLimitGate(clock=clock, sleep=sleep_and_extend)
    gate.close_for(3.0)
    with pytest.raises(RateLimitError):
        await gate.wait(budget=6.0)
    assert clock.sleeps == [3.0]


async def test_a_429_seen_by_one_call_holds_back_another() -> None:
    """Two calls share a gate: the 429 one of them gets makes the other wait before sending."""
    clock = FakeClock()
    gate_sleeps: list[float] = []

    async def gate_sleep(seconds: float) -> None:
        gate_sleeps.append(seconds)
        await clock.sleep(seconds)

    gate = _RateLimitGate(clock=clock, sleep=gate_sleep)
    first_was_limited = asyncio.Event()
    second_finished = asyncio.Event()
    first_retry_sleeps: list[float] = []

    first_outcomes: list[BaseException | str] = [_rate_limited(5.0), "first"]

    async def first_attempt(budget: float) -> str:
        outcome = first_outcomes.pop(0)
        if isinstance(outcome, BaseException):
            first_was_limited.set()
            raise outcome
        return outcome

    async def first_sleep(seconds: float) -> None:
        # The first call backs off; it does not move the clock, so the second
        # call (the one this test is about) can only get through by the gate.
        first_retry_sleeps.append(seconds)
        await second_finished.wait()

    second = ScriptedAttempt(["second"])

    async def first_call() -> str:
        return await call_with_retries(
            first_attempt,
            policy=RetryPolicy.no_wait(),
            gate=gate,
            clock=clock,
            sleep=first_sleep,
        )

    async def second_call() -> str:
        await first_was_limited.wait()
        try:
            return await call_with_retries(
                second, policy=RetryPolicy.no_wait(), gate=gate, clock=clock, sleep=clock.sleep
            )
        finally:
            second_finished.set()

    assert list(await asyncio.gather(first_call(), second_call())) == ["first", "second"]
    assert first_retry_sleeps == [5.0]
    assert gate_sleeps == [5.0]
    assert second.calls == 1
    assert second.budgets == [55.0]
