"""open_cache: from a spec to a snapshot cache, and the specs it refuses."""

from __future__ import annotations

import pytest

from openrouter_bench.cache import open_cache
from openrouter_bench.errors import (
    ConfigurationError,
)
from openrouter_bench.query import Query

NAMESPACE = "openrouter-bench:v1:test.invalid"

QUERY = Query(source="artificial-analysis", task_type="coding")


def test_open_cache_rejects_unknown_specs() -> None:
    """A spec that names no backend is a configuration error, not a silent no-cache."""
    with pytest.raises(ConfigurationError):
        open_cache("postgres://db", namespace=NAMESPACE)
    with pytest.raises(ConfigurationError):
        open_cache(42, namespace=NAMESPACE)
    with pytest.raises(ConfigurationError):
        open_cache("sqlite://host/file.db", namespace=NAMESPACE)
