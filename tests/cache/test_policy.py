"""CachePolicy: the durations, counts and budgets it takes and refuses."""

from __future__ import annotations

from datetime import timedelta

import pytest

from openrouter_bench.cache import CachePolicy, open_cache
from openrouter_bench.cache._lru import BoundedMemoryCache
from openrouter_bench.errors import (
    ConfigurationError,
)
from openrouter_bench.query import Query

NAMESPACE = "openrouter-bench:v1:test.invalid"

QUERY = Query(source="artificial-analysis", task_type="coding")


def test_policy_rejects_nonsense() -> None:
    """Negative durations and a history of zero are refused at construction."""
    with pytest.raises(ConfigurationError):
        CachePolicy(ttl=-1)
    with pytest.raises(ConfigurationError):
        CachePolicy(history=0)
    with pytest.raises(ConfigurationError):
        CachePolicy(max_entries=True)


def test_policy_takes_timedeltas() -> None:
    """Durations may be given as timedelta; they are kept as float seconds."""
    policy = CachePolicy(ttl=timedelta(minutes=5), stale_if_error=timedelta(hours=1))
    assert policy.ttl == 300.0
    assert policy.stale_if_error == 3600.0
    assert policy.retain == 3600


def test_policy_takes_a_byte_budget() -> None:
    """max_bytes must be an integer >= 1; open_cache hands it to the memory backend."""
    with pytest.raises(ConfigurationError, match="max_bytes"):
        CachePolicy(max_bytes=0)
    cache = open_cache("memory", namespace=NAMESPACE, policy=CachePolicy(max_bytes=1234567))
    assert isinstance(cache.backend, BoundedMemoryCache)
    assert cache.backend.max_bytes == 1234567
