"""The retry budget: retries stop when the upstream is down, and cost nothing on a blip.

The module is tested on its own, driving the same decisions a retry loop makes
(:meth:`RetryPolicy.decide`, then the account). The test against the client
runs once ``BenchmarksClient`` takes a ``retry_budget``; until then it is
skipped with the reason.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import random

import pytest

from benchmarks.fault_matrix import UNLIMITED
from openrouter_bench import BenchmarksClient, Query, RetryPolicy, ServerError
from openrouter_bench._budget import RetryAccount, RetryBudget
from openrouter_bench.errors import (
    BadRequestError,
    ConfigurationError,
    RequestTimeoutError,
    ResponseFormatError,
    TransportError,
)
from openrouter_bench.fake import FakeOpenRouter
from tests.conftest import CANARY_KEY

OUTAGE = ServerError("service unavailable", status=503)
POLICY = RetryPolicy.no_wait(attempts=5)
CALLERS = 1_000


async def _call(budget: RetryBudget | None, fails: bool | random.Random, sent: list[int]) -> bool:
    """One call as a retry loop makes it: True if it ended with a page.

    ``fails`` is True for an outage (every attempt fails) or a generator
    drawing a 20 % failure per attempt. ``sent`` counts the requests.
    """
    account = budget.account() if budget is not None else None
    attempt = 0
    while True:
        attempt += 1
        sent[0] += 1
        await asyncio.sleep(0)  # every caller's attempt interleaves with the others'
        failed = fails if isinstance(fails, bool) else fails.random() < 0.2
        if not failed:
            if account is not None:
                account.on_success()
            return True
        if POLICY.decide(OUTAGE, attempt=attempt, elapsed=0.0) is None:
            return False
        if account is not None and not account.can_retry(OUTAGE):
            return False


async def test_an_outage_costs_callers_plus_a_bounded_number_of_retries() -> None:
    """1,000 callers during an outage send at most 1,000 + capacity / cost requests, not 5,000."""
    budget = RetryBudget()
    sent = [0]
    results = await asyncio.gather(*(_call(budget, True, sent) for _ in range(CALLERS)))
    assert not any(results)
    assert sent[0] == CALLERS + budget.capacity // budget.retry_cost
    assert budget.tokens < budget.retry_cost
    assert budget.denied == CALLERS
    unbudgeted = [0]
    await asyncio.gather(*(_call(None, True, unbudgeted) for _ in range(CALLERS)))
    assert unbudgeted[0] == CALLERS * POLICY.attempts


async def test_successes_after_an_outage_let_retries_resume() -> None:
    """After the budget runs dry, calls that succeed refill it, and retries are made again."""
    budget = RetryBudget(capacity=20)
    await asyncio.gather(*(_call(budget, True, [0]) for _ in range(10)))
    assert budget.tokens < budget.retry_cost
    for _ in range(budget.retry_cost):
        assert await _call(budget, False, [0])
    assert budget.tokens >= budget.retry_cost
    assert budget.account().can_retry(OUTAGE)


async def test_intermittent_faults_do_not_drain_the_budget() -> None:
    """10,000 calls through 20 % random faults: every retry is repaid, none is ever refused."""
    budget = RetryBudget()
    draws = random.Random(4)
    sent = [0]
    results = [await _call(budget, draws, sent) for _ in range(10_000)]
    assert budget.denied == 0
    assert budget.tokens == budget.capacity
    assert sum(results) >= 9_990
    assert sent[0] > 12_000  # the faults were real and were retried


def test_a_retry_withdraws_its_cost_and_a_timeout_costs_more() -> None:
    """5 tokens per retry, 10 after a timeout; the account counts what its call took."""
    budget = RetryBudget(capacity=100)
    account = budget.account()
    assert account.can_retry(ServerError("bad gateway", status=502))
    assert account.can_retry(TransportError("reset"))
    assert account.can_retry(RequestTimeoutError("slow"))
    assert budget.tokens == 100 - 5 - 5 - 10
    assert account.spent == 20


def test_a_success_repays_its_retries_or_deposits_the_refill() -> None:
    """A call with retries repays them on success; one without adds one token, up to capacity."""
    budget = RetryBudget(capacity=100)
    first = budget.account()
    assert first.can_retry(OUTAGE)
    other = budget.account()
    assert other.can_retry(OUTAGE)
    assert budget.tokens == 90
    first.on_success()
    assert budget.tokens == 95
    budget.account().on_success()
    assert budget.tokens == 96
    other.on_success()
    other.on_success()  # only the first success of a call counts
    assert budget.tokens == 100
    budget.account().on_success()
    assert budget.tokens == 100


def test_a_short_balance_refuses_without_taking_anything() -> None:
    """A retry the balance cannot cover is refused; the tokens stay and the refusal is counted."""
    budget = RetryBudget(capacity=12)
    account = budget.account()
    assert account.can_retry(OUTAGE)
    assert not account.can_retry(RequestTimeoutError("slow"))
    assert budget.tokens == 7
    assert account.can_retry(OUTAGE)
    assert not account.can_retry(OUTAGE)
    assert budget.tokens == 2
    assert budget.denied == 2
    assert account.spent == 10


@pytest.mark.parametrize(
    "error",
    [BadRequestError("bad", status=400), ResponseFormatError("not json"), ValueError("x")],
)
def test_what_is_not_transient_is_never_worth_a_retry(error: Exception) -> None:
    """A non-transient error is refused without touching the balance or the refusal count."""
    budget = RetryBudget()
    assert not budget.account().can_retry(error)
    assert budget.tokens == budget.capacity
    assert budget.denied == 0


def test_a_settled_account_takes_nothing_more() -> None:
    """After its call succeeded, an account refuses further retries."""
    budget = RetryBudget()
    account = budget.account()
    account.on_success()
    assert not account.can_retry(OUTAGE)
    assert budget.tokens == budget.capacity


@pytest.mark.parametrize(
    "options",
    [
        {"capacity": 0},
        {"capacity": True},
        {"capacity": 2.5},
        {"retry_cost": 0},
        {"timeout_cost": -1},
        {"success_refill": -1},
    ],
)
def test_nonsense_settings_are_refused(options: dict[str, object]) -> None:
    """Counts must be whole numbers: capacity and costs at least 1, the refill at least 0."""
    with pytest.raises(ConfigurationError):
        RetryBudget(**options)  # type: ignore[arg-type]


def test_running_dry_is_logged_once_and_recovery_once(caplog: pytest.LogCaptureFixture) -> None:
    """One warning when retries stop (not one per refusal), one info when they can resume."""
    caplog.set_level(logging.INFO, logger="openrouter_bench.retry")
    budget = RetryBudget(capacity=10, timeout_cost=10)
    for _ in range(5):
        budget.account().can_retry(OUTAGE)
    for _ in range(10):
        budget.account().on_success()
    messages = [(record.levelno, record.getMessage()) for record in caplog.records]
    assert [level for level, _ in messages] == [logging.WARNING, logging.INFO]
    assert "retry budget spent" in messages[0][1]
    assert "retries resume" in messages[1][1]


def test_reprs_say_the_balance() -> None:
    """The budget's and the account's reprs show the balance and what a call spent."""
    budget = RetryBudget(capacity=50)
    account = budget.account()
    account.can_retry(OUTAGE)
    assert repr(budget) == "<RetryBudget 45/50 tokens, 5 per retry, 0 retries refused>"
    assert repr(account) == "<RetryAccount spent=5>"
    assert isinstance(account, RetryAccount)


WIRED = "retry_budget" in inspect.signature(BenchmarksClient).parameters


@pytest.mark.skipif(not WIRED, reason="BenchmarksClient does not take retry_budget= yet")
async def test_the_client_sends_a_bounded_number_of_requests_during_an_outage() -> None:
    """1,000 distinct calls while the server fails everything send at most 1,010 requests."""
    budget = RetryBudget(capacity=50)
    async with FakeOpenRouter(per_minute=None, per_day=None) as fake:
        fake.chaos(1.0, [503])
        options = {"retry_budget": budget, **UNLIMITED}
        async with BenchmarksClient(
            CANARY_KEY, base_url=fake.url, cache=None, retry=POLICY, **options
        ) as client:
            outcomes = await asyncio.gather(
                *(client.get(Query(max_results=n)) for n in range(1, CALLERS + 1)),
                return_exceptions=True,
            )
            assert all(isinstance(outcome, ServerError) for outcome in outcomes)
            assert len(fake.requests) <= CALLERS + budget.capacity // budget.retry_cost
            assert budget.denied > 0
            fake.chaos(0)
            page = await client.get(source="artificial-analysis")
    assert page.items


def test_a_first_attempt_success_deposits_what_an_unspent_account_would() -> None:
    """succeeded_at_once refills as much as on_success of an account that spent nothing."""
    direct, through_account = RetryBudget(capacity=20), RetryBudget(capacity=20)
    for budget in (direct, through_account):
        assert budget.account().can_retry(OUTAGE)  # 5 tokens out: room for a refill
    direct.succeeded_at_once()
    through_account.account().on_success()
    assert direct.tokens == through_account.tokens == 16
