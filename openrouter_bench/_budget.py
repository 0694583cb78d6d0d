"""The retry budget: a busy client stops retrying while its upstream is down.

Retries carry a call through a blip. During an outage they multiply the load
on a server that is already failing: every caller sends ``attempts`` requests
instead of one. A :class:`RetryBudget` is a bucket of tokens that every call
of one client draws on, in the manner of botocore's "standard" retry mode:

- each retry withdraws ``retry_cost`` tokens, or ``timeout_cost`` after a
  timeout (a timed-out attempt held a connection for longest);
- a call that succeeds at its first attempt deposits ``success_refill``
  tokens, up to ``capacity``;
- a call that succeeds after retries pays back what its retries withdrew;
- a retry the balance cannot cover is not made: the call ends with its last
  error at once.

So ``n`` callers that all meet an outage send at most
``n + capacity // retry_cost`` requests, whatever the per-call attempt limit,
and an intermittent fault (most calls succeed in the end) costs the budget
nothing. Nothing here waits or refills with time: only successes refill, so
a client that sees no success sends no retries.

One budget belongs to one client; it is not thread-safe (one event loop).
The retry loop uses it through a per-call :class:`RetryAccount`, opened at a
call's first failure (a call that succeeds at once calls
:meth:`RetryBudget.succeeded_at_once` instead)::

    account = budget.account()
    ...                                  # an attempt failed and the policy would retry
    if not account.can_retry(error):
        raise error                      # the budget is spent
    ...                                  # the call succeeded
    account.on_success()
"""

from __future__ import annotations

import logging
from typing import Final

from openrouter_bench._checks import count
from openrouter_bench.errors import RequestTimeoutError, is_transient

__all__ = ["RetryBudget", "RetryAccount"]

logger: Final = logging.getLogger("openrouter_bench.retry")


class RetryBudget:
    """Tokens shared by every call of one client; a retry spends some, a success refills.

    The defaults are botocore's: 500 tokens, 5 per retry, 10 per retry after a
    timeout, 1 back per call that needed no retry. See the module docstring.
    """

    __slots__ = (
        "_depleted",
        "_tokens",
        "capacity",
        "denied",
        "retry_cost",
        "success_refill",
        "timeout_cost",
    )

    def __init__(
        self,
        capacity: int = 500,
        *,
        retry_cost: int = 5,
        timeout_cost: int = 10,
        success_refill: int = 1,
    ) -> None:
        self.capacity = count("capacity", capacity)
        self.retry_cost = count("retry_cost", retry_cost)
        self.timeout_cost = count("timeout_cost", timeout_cost)
        self.success_refill = count("success_refill", success_refill, minimum=0)
        self._tokens = self.capacity
        #: Retries refused so far because the balance could not cover them.
        self.denied = 0
        self._depleted = False

    def __repr__(self) -> str:
        return (
            f"<RetryBudget {self._tokens}/{self.capacity} tokens, "
            f"{self.retry_cost} per retry, {self.denied} retries refused>"
        )

    @property
    def tokens(self) -> int:
        """The balance now."""
        return self._tokens

    def cost_of(self, error: BaseException) -> int:
        """Tokens a retry after ``error`` withdraws."""
        return self.timeout_cost if isinstance(error, RequestTimeoutError) else self.retry_cost

    def account(self) -> RetryAccount:
        """An account for one call: it withdraws for that call's retries and repays on success."""
        return RetryAccount(self)

    def succeeded_at_once(self) -> None:
        """A call succeeded at its first attempt: deposit the refill.

        What the call's :meth:`RetryAccount.on_success` would do, for a call that
        never needed an account (the retry loop opens one at its first failure).
        """
        self._deposit(self.success_refill)

    def _withdraw(self, error: BaseException) -> int:
        """The tokens taken for a retry after ``error``, or 0 when the balance is short."""
        cost = self.cost_of(error)
        if cost > self._tokens:
            self.denied += 1
            if not self._depleted:
                self._depleted = True
                # Once per dry spell: every refused retry would flood the log in an outage.
                logger.warning(
                    "retry budget spent (%d of %d tokens left): failed calls are no longer "
                    "retried until calls succeed again",
                    self._tokens,
                    self.capacity,
                )
            return 0
        self._tokens -= cost
        return cost

    def _deposit(self, tokens: int) -> None:
        self._tokens = min(self.capacity, self._tokens + tokens)
        if self._depleted and self._tokens >= max(self.retry_cost, self.timeout_cost):
            self._depleted = False
            logger.info("retry budget refilled to %d tokens: retries resume", self._tokens)


class RetryAccount:
    """What one call withdrew from a :class:`RetryBudget`, so that a success can repay it."""

    __slots__ = ("_budget", "_settled", "spent")

    def __init__(self, budget: RetryBudget) -> None:
        self._budget = budget
        #: Tokens this call's retries have withdrawn so far.
        self.spent = 0
        self._settled = False

    def __repr__(self) -> str:
        return f"<RetryAccount spent={self.spent}>"

    def can_retry(self, error: BaseException) -> bool:
        """Withdraw the cost of one retry after ``error``; False (nothing taken) if it is short.

        An error that is not transient is never worth a retry, so it is refused
        without touching the balance.
        """
        if self._settled or not is_transient(error):
            return False
        taken = self._budget._withdraw(error)
        self.spent += taken
        return taken > 0

    def on_success(self) -> None:
        """The call succeeded: repay its retries, or deposit the refill if it needed none.

        Only the first call counts; later ones do nothing.
        """
        if self._settled:
            return
        self._settled = True
        self._budget._deposit(self.spent if self.spent else self._budget.success_refill)
