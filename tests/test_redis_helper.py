"""openrouter_bench._redis: the outage breaker the cache and the quota share."""

from __future__ import annotations

from openrouter_bench._redis import PROBE_INTERVAL, OutageBreaker
from tests._cache_fixtures import Clock


def test_a_failure_trips_the_breaker_once_and_holds_calls_until_the_probe() -> None:
    """The first failure reports the change; calls wait PROBE_INTERVAL; a second one is quiet."""
    clock = Clock()
    breaker = OutageBreaker(clock)
    assert breaker.allows()
    assert not breaker.down
    assert breaker.failed() is True
    assert breaker.down
    assert not breaker.allows()
    clock.advance(PROBE_INTERVAL)
    assert breaker.allows()  # one probe may go through
    assert breaker.failed() is False  # still down: nothing new to say
    assert not breaker.allows()


def test_a_success_after_an_outage_reports_the_recovery_once() -> None:
    """succeeded() is True only on the way back up."""
    clock = Clock()
    breaker = OutageBreaker(clock)
    assert breaker.succeeded() is False
    breaker.failed()
    clock.advance(PROBE_INTERVAL)
    assert breaker.succeeded() is True
    assert not breaker.down
    assert breaker.allows()
    assert breaker.succeeded() is False
