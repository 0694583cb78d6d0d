"""The quota: turns in order, exact sliding windows, the daily budget, shared pauses, Redis.

Limiter rules run on an injected clock; the end-to-end tests run the real
limits scaled down (30 per 2 s) against the fake server, whose request log
is checked for every window. The Redis tests read ``REDIS_URL`` and skip
without it, except under ``CI=true``.

Run as a module (``python -m tests.test_quota ...``) this file is one worker
process of the cross-process test, see :func:`_worker`.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from hypothesis import given
from hypothesis import strategies as st

from openrouter_bench import (
    BenchmarksClient,
    ConfigurationError,
    Page,
    Query,
    QuotaExhaustedError,
    QuotaPolicy,
    RateLimitError,
    RetryPolicy,
)
from openrouter_bench._checks import MAX_SECONDS
from openrouter_bench.fake import FakeOpenRouter, FakeTime, RecordedRequest, free_port
from openrouter_bench.quota import QuotaLimiter, open_quota
from openrouter_bench.retry import call_with_retries
from tests.conftest import CANARY_KEY

ROOT = Path(__file__).resolve().parent.parent
WINDOW = 2.0
SCALED = QuotaPolicy(per_minute=30, minute_window=WINDOW, per_day=None)


def scaled_fake(**options: object) -> FakeOpenRouter:
    """The fake with the real per-minute limit on a 2 s window, and no daily one."""
    settings: dict[str, object] = {"per_minute": 30, "minute_window": WINDOW, "per_day": None}
    settings.update(options)
    return FakeOpenRouter(**settings)  # type: ignore[arg-type]


def most_in_any_window(log: Sequence[RecordedRequest], window: float) -> int:
    """The most requests the log holds in any window of ``window`` seconds (the fake's rule)."""
    times = sorted(record.at for record in log)
    return max((sum(1 for t in times if end - window < t <= end) for end in times), default=0)


def distinct_queries(count: int, offset: int = 0) -> list[Query]:
    """``count`` distinct, valid queries (a ranking cut at different lengths)."""
    return [
        Query(source="artificial-analysis", max_results=offset + n) for n in range(1, count + 1)
    ]


def local_limiter(policy: QuotaPolicy | None, clock: FakeTime) -> QuotaLimiter:
    """An in-process limiter on the injected clock."""
    return open_quota(
        policy, api="test", timer=clock.monotonic, sleep=clock.sleep, wall_clock=clock.time
    )


async def until(condition: Callable[[], bool], *, rounds: int = 200) -> None:
    """Let the loop run until ``condition()`` holds (bounded; no time passes)."""
    for _ in range(rounds):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("the condition never held")


# --- QuotaPolicy ---------------------------------------------------------------------------


def test_policy_defaults_are_the_published_limits() -> None:
    """30 a minute and 500 a day, following the cache, one shared scope."""
    policy = QuotaPolicy()
    assert (policy.per_minute, policy.per_day) == (30, 500)
    assert (policy.minute_window, policy.day_window) == (60.0, 86_400.0)
    assert policy.store is None
    assert [(w.limit, w.length, w.daily) for w in policy.windows] == [
        (500, 86_400.0, True),
        (30, 60.0, False),
    ]


@pytest.mark.parametrize(
    "options",
    [
        {"per_minute": 0},
        {"per_day": -1},
        {"per_minute": True},
        {"per_minute": 2.5},
        {"minute_window": 0},
        {"day_window": float("inf")},
        {"minute_window": "60"},
        {"store": "memcached://localhost"},
        {"store": "redis://[::1"},
        {"store": "redis://host:notaport/0"},
        {"store": "redis://"},
        {"store": b"redis://localhost"},
        {"store": "sqlite:///"},
        {"store": "sqlite://relative"},
        {"scope": ""},
        {"scope": "two words"},
        {"scope": "a{b}"},
        {"scope": "x" * 201},
        {"scope": "bell\x07"},
        {"per_minute": 10**400},
        {"minute_window": float("nan")},
        {"minute_window": 1e400},
        {"day_window": -1},
        {"day_window": True},
    ],
)
def test_policy_refuses_bad_values(options: dict[str, object]) -> None:
    """Each impossible setting is a ConfigurationError at construction."""
    with pytest.raises(ConfigurationError):
        QuotaPolicy(**options)  # type: ignore[arg-type]


_ANY_VALUE = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**600), max_value=10**600)
    | st.floats()
    | st.text(max_size=30)
    | st.text(max_size=30).map(lambda text: "redis://" + text)
    | st.binary(max_size=20)
    | st.timedeltas()
    | st.decimals()
    | st.lists(st.integers(), max_size=3)
)


@pytest.mark.parametrize(
    "field", ["per_minute", "per_day", "minute_window", "day_window", "store", "scope"]
)
@given(value=_ANY_VALUE)
def test_any_value_of_any_field_is_a_policy_or_a_configuration_error(
    field: str, value: object
) -> None:
    """Whatever a field is given, the result is a usable policy or a ConfigurationError."""
    try:
        policy = QuotaPolicy(**{field: value})  # type: ignore[arg-type]
    except ConfigurationError:
        return
    repr(policy)
    assert all(window.limit >= 1 and 0 < window.length <= MAX_SECONDS for window in policy.windows)


def test_policy_repr_hides_a_redis_password() -> None:
    """A store URL's credentials never show in the policy's repr."""
    policy = QuotaPolicy(store="redis://user:s3cret-pass@cache.internal:6380/2")
    assert "s3cret-pass" not in repr(policy)
    assert "cache.internal:6380" in repr(policy)


def test_client_quota_argument_forms() -> None:
    """quota= takes a policy, 'memory', a redis:// URL or None; anything else is refused."""
    base = "http://127.0.0.1:9/api/v1"
    assert BenchmarksClient(CANARY_KEY, base_url=base).quota.policy == QuotaPolicy()
    assert BenchmarksClient(CANARY_KEY, base_url=base, quota=None).quota.policy is None
    memory = BenchmarksClient(CANARY_KEY, base_url=base, quota="memory").quota
    assert memory.policy == QuotaPolicy(store="memory")
    assert not memory.shared
    shared = BenchmarksClient(CANARY_KEY, base_url=base, quota="redis://127.0.0.1:9/0").quota
    assert shared.shared
    with pytest.raises(ConfigurationError):
        BenchmarksClient(CANARY_KEY, base_url=base, quota="everything")
    with pytest.raises(ConfigurationError):
        BenchmarksClient(CANARY_KEY, base_url=base, quota=30)  # type: ignore[arg-type]


# --- the limiter's rules, on an injected clock ---------------------------------------------


async def test_turns_are_taken_in_order_once_the_minute_is_spent(fake_time: FakeTime) -> None:
    """Past the per-minute budget, calls go in the order they came, when a slot frees."""
    limiter = local_limiter(QuotaPolicy(per_minute=3, minute_window=10, per_day=None), fake_time)
    start = fake_time.now
    admitted: list[tuple[int, float]] = []

    async def call(number: int) -> None:
        async with limiter.admit(budget=60.0):
            admitted.append((number, fake_time.now - start))

    await asyncio.gather(*(call(number) for number in range(7)))
    assert admitted == [(0, 0), (1, 0), (2, 0), (3, 10), (4, 10), (5, 10), (6, 20)]
    assert fake_time.sleeps == [10.0, 10.0]
    assert limiter.admitted == 7


async def test_each_timed_wait_is_told_before_it_starts(fake_time: FakeTime) -> None:
    """on_wait hears why and how long: a spent window ("quota"), a server's pause ("rate_limit")."""
    limiter = local_limiter(QuotaPolicy(per_minute=1, minute_window=10, per_day=None), fake_time)
    heard: list[tuple[str, float, int]] = []

    def on_wait(reason: str, seconds: float) -> None:
        heard.append((reason, seconds, len(fake_time.sleeps)))

    async with limiter.admit(budget=60.0, on_wait=on_wait):
        pass
    async with limiter.admit(budget=60.0, on_wait=on_wait):
        pass
    await limiter.pause(30.0)
    async with limiter.admit(budget=60.0, on_wait=on_wait):
        pass
    # Told before the sleep: no sleep had happened yet at the first one.
    assert heard == [("quota", 10.0, 0), ("rate_limit", 30.0, 1)]


async def test_a_request_in_flight_holds_its_slot_until_its_answer(fake_time: FakeTime) -> None:
    """A slot counts from the moment it is given back, not from when the request was let through."""
    limiter = local_limiter(QuotaPolicy(per_minute=1, minute_window=10, per_day=None), fake_time)
    start = fake_time.now
    answer = asyncio.Event()
    admitted_at: list[float] = []

    async def slow() -> None:
        async with limiter.admit(budget=60.0):
            await answer.wait()

    async def next_call() -> None:
        async with limiter.admit(budget=60.0):
            admitted_at.append(fake_time.now - start)

    first = asyncio.create_task(slow())
    await until(lambda: limiter.admitted == 1)
    second = asyncio.create_task(next_call())
    await until(lambda: limiter.waiting == 1)
    fake_time.advance(4.0)  # the answer takes 4 s to come
    answer.set()
    await asyncio.gather(first, second)
    assert admitted_at == [14.0]
    assert fake_time.sleeps == [10.0]


async def test_a_retry_goes_to_the_front_of_the_line(fake_time: FakeTime) -> None:
    """A retry of a call under way is let through before calls that have not started."""
    limiter = local_limiter(QuotaPolicy(per_minute=1, minute_window=10, per_day=None), fake_time)
    order: list[str] = []
    release = asyncio.Event()

    async def call(name: str, *, retry: bool = False) -> None:
        async with limiter.admit(budget=60.0, retry=retry):
            order.append(name)
            if name == "holder":
                await release.wait()

    holder = asyncio.create_task(call("holder"))
    await until(lambda: order == ["holder"])
    fresh = [asyncio.create_task(call(f"new-{number}")) for number in range(2)]
    await until(lambda: limiter.waiting == 2)
    retry = asyncio.create_task(call("retry", retry=True))
    await until(lambda: limiter.waiting == 3)
    release.set()
    await asyncio.gather(holder, retry, *fresh)
    assert order == ["holder", "retry", "new-0", "new-1"]


async def test_a_cancelled_waiter_gives_up_its_place(fake_time: FakeTime) -> None:
    """Cancelling a call waiting in line removes it; the next one moves up."""
    limiter = local_limiter(QuotaPolicy(per_minute=1, minute_window=10, per_day=None), fake_time)
    order: list[str] = []
    release = asyncio.Event()

    async def call(name: str) -> None:
        async with limiter.admit(budget=60.0):
            order.append(name)
            if name == "holder":
                await release.wait()

    holder = asyncio.create_task(call("holder"))
    await until(lambda: order == ["holder"])
    doomed = asyncio.create_task(call("doomed"))
    survivor = asyncio.create_task(call("survivor"))
    await until(lambda: limiter.waiting == 2)
    doomed.cancel()
    with pytest.raises(asyncio.CancelledError):
        await doomed
    release.set()
    await asyncio.gather(holder, survivor)
    assert order == ["holder", "survivor"]
    assert limiter.waiting == 0


async def test_a_spent_day_raises_at_once_with_the_time_it_returns(fake_time: FakeTime) -> None:
    """The request past the daily budget is refused at once: no sleep, available_at exact."""
    limiter = local_limiter(QuotaPolicy(per_minute=None, per_day=2, day_window=1000), fake_time)
    start = fake_time.now
    for _ in range(2):
        async with limiter.admit(budget=60.0):
            fake_time.advance(1.0)
    with pytest.raises(QuotaExhaustedError) as caught:
        async with limiter.admit(budget=60.0):
            pytest.fail("the third request of the day was let through")
    # The first slot was given back at start + 1 s; it leaves the window 1000 s later.
    assert caught.value.available_at == datetime.fromtimestamp(start + 1001.0, UTC)
    assert caught.value.attempts == 0
    assert fake_time.sleeps == []


async def test_a_pause_holds_every_call_back_within_its_budget(fake_time: FakeTime) -> None:
    """After pause(N), a call waits N s; one whose deadline is shorter fails at once."""
    limiter = local_limiter(None, fake_time)
    await limiter.pause(5.0)
    with pytest.raises(RateLimitError) as caught:
        async with limiter.admit(budget=3.0):
            pytest.fail("sent during a pause longer than the call's deadline")
    assert caught.value.retry_after == 5.0
    assert fake_time.sleeps == []
    async with limiter.admit(budget=60.0) as queued:
        assert queued == 0.0  # a pause is not time in line
    assert fake_time.sleeps == [5.0]


async def test_a_pause_of_centuries_lasts_the_ceiling(
    fake_time: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    """pause(10^12) holds calls back for max_pause only, with one warning per limiter."""
    limiter = open_quota(
        None, api="test", timer=fake_time.monotonic, sleep=fake_time.sleep, max_pause=60.0
    )
    with caplog.at_level(logging.DEBUG, logger="openrouter_bench"):
        await limiter.pause(1e12)
        await limiter.pause(float("inf"))
    with pytest.raises(RateLimitError) as caught:
        async with limiter.admit(budget=59.0):
            pytest.fail("sent during the pause")
    assert caught.value.retry_after == 60.0
    fake_time.advance(60.0)
    async with limiter.admit(budget=1.0):
        pass
    suspicious = [r.levelno for r in caplog.records if "suspicious" in r.getMessage()]
    assert suspicious == [logging.WARNING, logging.DEBUG]


@pytest.mark.parametrize("asked", [float("nan"), -1.0, 0.0, float("-inf")])
async def test_a_pause_that_is_not_a_positive_number_is_none(
    fake_time: FakeTime, asked: float
) -> None:
    """NaN, zero and negatives pause nothing and never raise."""
    limiter = local_limiter(None, fake_time)
    await limiter.pause(asked)
    async with limiter.admit(budget=0.001):
        pass
    assert fake_time.sleeps == []


async def test_time_in_line_is_not_charged_to_the_deadline(fake_time: FakeTime) -> None:
    """A call that waited 100 s for a slot still has its whole deadline for its attempts."""
    limiter = local_limiter(QuotaPolicy(per_minute=1, minute_window=100, per_day=None), fake_time)
    budgets: list[float] = []

    async def attempt(budget: float) -> str:
        budgets.append(budget)
        return "page"

    for _ in range(2):
        result = await call_with_retries(
            attempt,
            policy=RetryPolicy(deadline=60.0),
            gate=limiter,
            clock=fake_time.monotonic,
            sleep=fake_time.sleep,
        )
        assert result == "page"
    assert budgets == [60.0, 60.0]
    assert fake_time.sleeps == [100.0]
    assert limiter.queued == 100.0


async def test_an_unreachable_redis_falls_back_to_counting_here(
    fake_time: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    """With its Redis down, a shared limiter still keeps the limit, in-process, and logs once."""
    policy = QuotaPolicy(
        per_minute=2, minute_window=10, per_day=None, store=f"redis://127.0.0.1:{free_port()}/0"
    )
    limiter = local_limiter(policy, fake_time)
    assert limiter.shared
    with caplog.at_level(logging.WARNING, logger="openrouter_bench.quota"):
        for _ in range(3):
            async with limiter.admit(budget=60.0):
                pass
    await limiter.aclose()
    assert fake_time.sleeps == [10.0]
    warnings = [r for r in caplog.records if r.name == "openrouter_bench.quota"]
    assert len(warnings) == 1
    assert "counting in this process" in warnings[0].getMessage()


# --- the client against the fake: real time, scaled windows --------------------------------


async def test_a_grid_of_60_stays_within_every_window_with_no_429() -> None:
    """60 queries at 30 per 2 s: every page, zero 429s, at most 30 in any 2 s of the log."""
    async with (
        scaled_fake() as fake,
        BenchmarksClient(
            CANARY_KEY, base_url=fake.url, cache=None, quota=SCALED, retry=RetryPolicy.never()
        ) as client,
    ):
        started = time.monotonic()
        result = await client.fan_out(distinct_queries(60), concurrency=16)
        elapsed = time.monotonic() - started
    assert result.ok
    assert len(result.pages) == 60
    log = fake.requests
    assert [record.status for record in log] == [200] * 60
    assert most_in_any_window(log, WINDOW) == 30
    assert elapsed >= WINDOW  # the second half had to wait for the window


async def test_every_attempt_takes_a_slot_but_hits_and_coalesced_calls_none(
    fake: FakeOpenRouter,
) -> None:
    """Retries take slots; a cache hit and calls coalesced into one fetch take none."""
    async with BenchmarksClient(
        CANARY_KEY, base_url=fake.url, retry=RetryPolicy.no_wait(), quota=QuotaPolicy()
    ) as client:
        fake.script(503)
        await client.get(source="openrouter")
        assert client.quota.admitted == 2
        await client.get(source="openrouter")
        assert client.quota.admitted == 2
        await asyncio.gather(*(client.get(source="design-arena") for _ in range(20)))
        assert client.quota.admitted == 3
    assert len(fake.requests) == 3


async def test_request_501_of_a_day_is_never_sent() -> None:
    """501 distinct queries on a budget of 500: 500 pages, one QuotaExhaustedError, 500 sent."""
    policy = QuotaPolicy(per_minute=None, per_day=500)
    async with (
        FakeOpenRouter(per_minute=None, per_day=500) as fake,
        BenchmarksClient(CANARY_KEY, base_url=fake.url, cache=None, quota=policy) as client,
    ):
        result = await client.fan_out(distinct_queries(501), concurrency=16)
    assert len(result.pages) == 500
    [error] = result.errors.values()
    assert isinstance(error, QuotaExhaustedError)
    assert error.attempts == 0
    assert error.available_at is not None
    assert error.available_at > datetime.now(UTC)
    assert len(fake.requests) == 500
    assert {record.status for record in fake.requests} == {200}


async def test_a_spent_day_serves_stale_else_fails_at_once(
    fake: FakeOpenRouter, fake_time: FakeTime
) -> None:
    """Out of daily budget: a cached query is served stale, another fails at once; none is sent."""
    async with BenchmarksClient(
        CANARY_KEY,
        base_url=fake.url,
        quota=QuotaPolicy(per_minute=None, per_day=1),
        clock=fake_time.time,
        timer=fake_time.monotonic,
        sleep=fake_time.sleep,
    ) as client:
        fresh = await client.get(source="design-arena", category="svg")
        stale = await client.get(source="design-arena", category="svg", max_age=0)
        with pytest.raises(QuotaExhaustedError):
            await client.get(source="design-arena", category="3d")
    assert not fresh.stale
    assert stale.stale
    assert stale.items == fresh.items
    assert len(fake.requests) == 1
    assert fake_time.sleeps == []


async def test_a_429_keeps_every_task_silent_for_its_retry_after() -> None:
    """After a 429 with Retry-After: 1, no task of the client sends anything for 1 s."""
    async with (
        FakeOpenRouter(per_minute=None, per_day=None) as fake,
        BenchmarksClient(
            CANARY_KEY, base_url=fake.url, cache=None, retry=RetryPolicy.never(), quota=SCALED
        ) as client,
    ):
        fake.script({"fault": 429, "retry_after": 1})
        with pytest.raises(RateLimitError):
            await client.get(source="openrouter")
        result = await client.fan_out(distinct_queries(12), concurrency=12)
    assert result.ok
    refused, *after = fake.requests
    assert refused.status == 429
    assert len(after) == 12
    assert min(record.at for record in after) >= refused.at + 1.0


async def test_a_429_pauses_tasks_already_waiting(fake_time: FakeTime) -> None:
    """Concurrent calls: once one sees a 429, every later request waits out its Retry-After."""
    async with FakeOpenRouter(per_minute=None, per_day=None, clock=fake_time.monotonic) as server:
        server.script({"fault": 429, "retry_after": 30})
        async with BenchmarksClient(
            CANARY_KEY,
            base_url=server.url,
            cache=None,
            retry=RetryPolicy.no_wait(),
            quota=QuotaPolicy(per_minute=1, minute_window=0.001, per_day=None),
            clock=fake_time.time,
            timer=fake_time.monotonic,
            sleep=fake_time.sleep,
        ) as client:
            result = await client.fan_out(distinct_queries(6), concurrency=6)
    assert result.ok
    refused, *others = server.requests
    assert refused.status == 429
    assert [record.status for record in others] == [200] * 6
    # One request a "minute" of 1 ms: the 429 came first, the others all after its pause.
    assert all(record.at >= refused.at + 30 for record in others)


# --- Redis: one budget for several processes ------------------------------------------------


def _shared(redis_url: str, scope: str, **options: object) -> QuotaPolicy:
    settings: dict[str, object] = {
        "per_minute": 30,
        "minute_window": WINDOW,
        "per_day": None,
        "store": redis_url,
        "scope": scope,
    }
    settings.update(options)
    return QuotaPolicy(**settings)  # type: ignore[arg-type]


@pytest.mark.redis
async def test_three_processes_share_one_budget(redis_url: str, scope: str) -> None:
    """3 processes x 40 queries, one key, one Redis: zero 429s, at most 30 in any 2 s."""
    processes = 3
    async with scaled_fake(clock=time.time) as fake:
        workers = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "tests.test_quota",
                redis_url,
                fake.url,
                scope,
                str(processes),
                str(index),
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                cwd=ROOT,
            )
            for index in range(processes)
        ]
        outputs = await asyncio.wait_for(
            asyncio.gather(*(worker.communicate() for worker in workers)), timeout=60
        )
    for worker, (out, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err.decode()
        assert out.decode().split() == ["40", "0"]
    log = fake.requests
    assert len(log) == 120
    assert {record.status for record in log} == {200}
    assert most_in_any_window(log, WINDOW) <= 30


@pytest.mark.redis
async def test_a_429_seen_by_one_process_pauses_the_others(redis_url: str, scope: str) -> None:
    """Two clients sharing a Redis budget: the 429 one of them gets silences the other too."""
    policy = _shared(redis_url, scope)
    async with (
        # Wall time on both sides: the shared pause is kept on the Redis server's clock.
        FakeOpenRouter(per_minute=None, per_day=None, clock=time.time) as fake,
        BenchmarksClient(
            CANARY_KEY, base_url=fake.url, cache=None, retry=RetryPolicy.never(), quota=policy
        ) as first,
        BenchmarksClient(
            CANARY_KEY, base_url=fake.url, cache=None, retry=RetryPolicy.never(), quota=policy
        ) as second,
    ):
        fake.script({"fault": 429, "retry_after": 1})
        with pytest.raises(RateLimitError):
            await first.get(source="openrouter")
        page = await second.get(source="artificial-analysis")
    assert page.items
    refused, sent = fake.requests
    assert refused.status == 429
    assert sent.at >= refused.at + 1.0


@pytest.mark.redis
async def test_a_shared_day_is_refused_at_once_everywhere(redis_url: str, scope: str) -> None:
    """The daily budget spent by two limiters together refuses the next request at once."""
    policy = _shared(redis_url, scope, per_minute=None, per_day=3)
    limiters = [open_quota(policy, api="test") for _ in range(2)]
    try:
        for limiter in (*limiters, limiters[0]):
            async with limiter.admit(budget=60.0):
                pass
        started = time.monotonic()
        with pytest.raises(QuotaExhaustedError) as caught:
            async with limiters[1].admit(budget=60.0):
                pytest.fail("the fourth request of a day of three was let through")
        assert time.monotonic() - started < 0.5
        assert caught.value.available_at is not None
    finally:
        for limiter in limiters:
            await limiter.aclose()


@pytest.mark.redis
async def test_a_shared_status_counts_every_process(redis_url: str, scope: str) -> None:
    """quota status on Redis counts both limiters' requests, the one in flight, and a pause."""
    policy = _shared(redis_url, scope, per_day=10, minute_window=60.0)
    one, two = open_quota(policy, api="test"), open_quota(policy, api="test")
    try:
        async with one.admit(budget=60.0):
            pass
        async with two.admit(budget=60.0):
            status = await one.status()
        assert (status.minute_used, status.minute_left) == (2, 28)
        assert (status.day_used, status.day_left) == (2, 8)
        assert status.shared
        assert status.store.startswith("redis://")
        assert status.paused_until is None
        await two.pause(30.0)
        paused = await one.status()
        assert paused.paused_until is not None
        assert 25.0 < (paused.paused_until - paused.at).total_seconds() <= 30.0
    finally:
        await one.aclose()
        await two.aclose()


@pytest.mark.redis
async def test_the_budget_follows_a_redis_cache(redis_url: str, fake: FakeOpenRouter) -> None:
    """A Redis cache makes the default budget shared there; store='memory' keeps it local."""
    async with BenchmarksClient(CANARY_KEY, base_url=fake.url, cache=redis_url) as client:
        assert client.quota.shared
    async with BenchmarksClient(
        CANARY_KEY, base_url=fake.url, cache=redis_url, quota=QuotaPolicy(store="memory")
    ) as client:
        assert not client.quota.shared


@pytest.mark.redis
async def test_shared_keys_expire_and_hold_nothing_of_the_key(
    redis_url: str, scope: str, fake: FakeOpenRouter
) -> None:
    """The shared budget's keys expire by themselves and never contain the API key."""
    async with BenchmarksClient(
        CANARY_KEY,
        base_url=fake.url,
        cache=None,
        retry=RetryPolicy.never(),
        quota=_shared(redis_url, scope),
    ) as client:
        await client.get(source="openrouter")
        fake.script({"fault": 429, "retry_after": 5})
        with pytest.raises(RateLimitError):
            await client.get(source="artificial-analysis")
    control = aioredis.Redis.from_url(redis_url)
    try:
        keys = [key async for key in control.scan_iter(match=f"openrouter-bench:quota:*{scope}*")]
        assert len(keys) == 2
        for key in keys:
            assert CANARY_KEY.encode() not in key
            assert 0 < await control.pttl(key) <= (WINDOW + 30.0) * 1000
            if await control.type(key) == b"zset":
                members = await control.zrange(key, 0, -1)
                assert len(members) == 2
                assert not any(CANARY_KEY.encode() in member for member in members)
    finally:
        await control.aclose()


def _pause_key(scope: str) -> str:
    return f"openrouter-bench:quota:{{test|{scope}}}:pause"


@pytest.mark.redis
async def test_a_shared_pause_key_never_outlives_the_ceiling(redis_url: str, scope: str) -> None:
    """pause(10^12) on a shared limiter writes a pause key whose PTTL is at most the ceiling."""
    limiter = open_quota(_shared(redis_url, scope), api="test", max_pause=30.0)
    control = aioredis.Redis.from_url(redis_url)
    try:
        await limiter.pause(1e12)
        ttl = await control.pttl(_pause_key(scope))
        assert 0 < ttl <= 30_000
        with pytest.raises(RateLimitError) as caught:
            async with limiter.admit(budget=10.0):
                pytest.fail("sent during the shared pause")
        assert caught.value.retry_after is not None
        assert caught.value.retry_after <= 30.0
    finally:
        await limiter.aclose()
        await control.aclose()


@pytest.mark.redis
@pytest.mark.parametrize("poison", [b"9" * 30, b"1e400", b"not a number"])
async def test_a_poisoned_shared_pause_key_is_cut_to_the_ceiling(
    redis_url: str, scope: str, poison: bytes
) -> None:
    """A pause key written elsewhere for centuries (or garbage) holds calls the ceiling at most."""
    control = aioredis.Redis.from_url(redis_url)
    limiter = open_quota(_shared(redis_url, scope), api="test", max_pause=1.0)
    try:
        await control.set(_pause_key(scope), poison)
        started = time.monotonic()
        async with limiter.admit(budget=10.0):
            pass
        assert time.monotonic() - started < 1.0 + 2.0
        assert await control.pttl(_pause_key(scope)) <= 1_000
        assert not limiter._ledger._breaker.down  # type: ignore[attr-defined]  # Redis was never "failed"
    finally:
        await limiter.aclose()
        await control.aclose()


# --- the SQLite ledger: one budget for the processes of one machine ---------------------------


def _sqlite(path: Path, **options: object) -> QuotaPolicy:
    settings: dict[str, object] = {
        "per_minute": 30,
        "minute_window": WINDOW,
        "per_day": None,
        "store": f"sqlite:///{path}",
    }
    settings.update(options)
    return QuotaPolicy(**settings)  # type: ignore[arg-type]


def sqlite_limiter(policy: QuotaPolicy, clock: FakeTime) -> QuotaLimiter:
    """A limiter on the SQLite ledger, on the injected clock (the ledger reads wall time)."""
    return open_quota(
        policy, api="test", timer=clock.monotonic, sleep=clock.sleep, wall_clock=clock.time
    )


async def test_a_sqlite_day_remembers_across_limiters(tmp_path: Path, fake_time: FakeTime) -> None:
    """A day of 3 spent by one limiter refuses the next at once in a later one on the file."""
    policy = _sqlite(tmp_path / "quota.sqlite3", per_minute=None, per_day=3)
    first = sqlite_limiter(policy, fake_time)
    assert first.shared
    for _ in range(3):
        async with first.admit(budget=60.0):
            fake_time.advance(1.0)
    await first.aclose()
    later = sqlite_limiter(policy, fake_time)
    try:
        with pytest.raises(QuotaExhaustedError) as caught:
            async with later.admit(budget=60.0):
                pytest.fail("the fourth request of a day of three was let through")
        assert caught.value.available_at == datetime.fromtimestamp(
            fake_time.now - 3.0 + 1.0 + 86_400.0, UTC
        )
        fake_time.advance(86_400.0)
        async with later.admit(budget=60.0):
            pass
    finally:
        await later.aclose()


async def test_a_sqlite_minute_waits_in_order_and_counts_in_flight(
    tmp_path: Path, fake_time: FakeTime
) -> None:
    """Past the minute's 2 the third waits for the first slot's window; in flight counts."""
    policy = _sqlite(tmp_path / "q.sqlite3", per_minute=2, minute_window=60.0)
    limiter = sqlite_limiter(policy, fake_time)
    try:
        async with limiter.admit(budget=60.0):
            status = await limiter.status()
            assert (status.minute_used, status.minute_left) == (1, 1)
        fake_time.advance(10.0)
        async with limiter.admit(budget=60.0):
            pass
        async with limiter.admit(budget=60.0):
            pass
        assert fake_time.sleeps == [pytest.approx(50.0)]
    finally:
        await limiter.aclose()


async def test_a_sqlite_pause_holds_back_another_limiter(
    tmp_path: Path, fake_time: FakeTime
) -> None:
    """A 429 pause written by one limiter makes another on the file wait it out."""
    policy = _sqlite(tmp_path / "q.sqlite3")
    one, two = sqlite_limiter(policy, fake_time), sqlite_limiter(policy, fake_time)
    try:
        await one.pause(5.0)
        status = await two.status()
        assert status.paused_until == datetime.fromtimestamp(fake_time.now + 5.0, UTC)
        async with two.admit(budget=60.0):
            pass
        assert fake_time.sleeps == [pytest.approx(5.0)]
    finally:
        await one.aclose()
        await two.aclose()


async def test_an_unusable_sqlite_file_falls_back_to_counting_here(
    tmp_path: Path, fake_time: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    """A ledger path that cannot be a file: calls go on, counted in-process, logged once."""
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the ledger's directory should be")
    limiter = sqlite_limiter(_sqlite(blocker / "q.sqlite3", per_minute=2), fake_time)
    try:
        with caplog.at_level(logging.WARNING, logger="openrouter_bench.quota"):
            for _ in range(2):
                async with limiter.admit(budget=60.0):
                    pass
        status = await limiter.status()
    finally:
        await limiter.aclose()
    assert status.minute_used == 2
    warned = [record for record in caplog.records if "unavailable" in record.getMessage()]
    assert len(warned) == 1


async def test_quota_status_reports_the_client_budget(tmp_path: Path, fake: FakeOpenRouter) -> None:
    """client.quota_status(): spent and left per window, the store, no pause; hits are free."""
    policy = QuotaPolicy(per_minute=30, per_day=500, store=f"sqlite:///{tmp_path / 'q.sqlite3'}")
    async with BenchmarksClient(CANARY_KEY, base_url=fake.url, quota=policy) as client:
        await client.get(source="design-arena", category="svg")
        await client.get(source="design-arena", category="svg")
        await client.get(source="openrouter")
        status = await client.quota_status()
    assert (status.minute_used, status.minute_limit, status.minute_left) == (2, 30, 28)
    assert (status.day_used, status.day_limit, status.day_left) == (2, 500, 498)
    assert status.paused_until is None
    assert status.store == f"sqlite:///{tmp_path / 'q.sqlite3'}"
    assert status.shared


async def test_quota_status_without_a_policy_says_off(fake: FakeOpenRouter) -> None:
    """quota=None: the status says off, with no limits and nothing left to count."""
    async with BenchmarksClient(CANARY_KEY, base_url=fake.url, quota=None) as client:
        await client.get(source="openrouter")
        status = await client.quota_status()
    assert status.store == "off"
    assert (status.minute_limit, status.minute_left, status.day_left) == (None, None, None)


async def test_two_processes_share_one_sqlite_budget(tmp_path: Path) -> None:
    """2 processes x 40 queries on one ledger file: zero 429s, at most 30 in any 2 s."""
    ledger = tmp_path / "shared.sqlite3"
    async with scaled_fake(clock=time.time) as fake:
        workers = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "tests.test_quota",
                f"sqlite:///{ledger}",
                fake.url,
                "sqlite",
                "2",
                str(index),
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                cwd=ROOT,
            )
            for index in range(2)
        ]
        outputs = await asyncio.wait_for(
            asyncio.gather(*(worker.communicate() for worker in workers)), timeout=120
        )
    for worker, (out, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err.decode()
        assert out.decode().split() == ["40", "0"]
    log = fake.requests
    assert len(log) == 80
    assert {record.status for record in log} == {200}
    assert most_in_any_window(log, WINDOW) <= 30


async def _sqlite_worker(store: str, fake_url: str, index: int) -> None:
    """One process of the shared-file test: 40 distinct queries on the ledger file."""
    async with BenchmarksClient(
        CANARY_KEY,
        base_url=fake_url,
        cache=None,
        retry=RetryPolicy.never(),
        quota=QuotaPolicy(per_minute=30, minute_window=WINDOW, per_day=None, store=store),
    ) as client:
        result = await client.fan_out(distinct_queries(40, offset=40 * index), concurrency=8)
    print(len(result.pages), len(result.errors), flush=True)


# --- the cross-process worker ----------------------------------------------------------------


async def _worker(redis_url: str, fake_url: str, scope: str, processes: int, index: int) -> None:
    """One process of the shared-budget test: 40 distinct queries once every worker is ready."""
    control = aioredis.Redis.from_url(redis_url)
    ready = f"openrouter-bench:quota:test-ready:{scope}"
    try:
        await control.incr(ready)
        await control.expire(ready, 60)
        while int(await control.get(ready) or 0) < processes:  # noqa: ASYNC110  # polls other processes
            await asyncio.sleep(0.01)
        async with BenchmarksClient(
            CANARY_KEY,
            base_url=fake_url,
            cache=None,
            retry=RetryPolicy.never(),
            quota=_shared(redis_url, scope),
        ) as client:
            result = await client.fan_out(distinct_queries(40, offset=40 * index), concurrency=8)
        pages: list[Page] = list(result.pages.values())
        print(len(pages), len(result.errors), flush=True)
    finally:
        await control.aclose()


if __name__ == "__main__":
    url, base, name, count, number = sys.argv[1:]
    if url.startswith("sqlite:"):
        asyncio.run(_sqlite_worker(url, base, int(number)))
    else:
        asyncio.run(_worker(url, base, name, int(count), int(number)))
