"""Entry names: memcached takes every key the cache makes."""

from __future__ import annotations

import hashlib

import pytest

from openrouter_bench.cache.keys import memcached_key
from openrouter_bench.query import Query

NAMESPACE = "openrouter-bench:v1:test.invalid"

QUERY = Query(source="artificial-analysis", task_type="coding")


def test_memcached_keys_that_memcached_takes_stay_as_they_are() -> None:
    """A key of printable ASCII within 250 bytes is sent unchanged."""
    key = f"{NAMESPACE}:v1:pointer:source=design-arena&category=gamedev"
    assert memcached_key(key) == key.encode()
    assert memcached_key("pointer:x", "ns:") == b"ns:pointer:x"


@pytest.mark.parametrize(
    "key",
    [
        "pointer:category=" + "x" * 300,
        "pointer:category=a b",
        "pointer:category=tab\there",
        "pointer:category=caf\u00e9",
    ],
)
def test_memcached_keys_it_would_refuse_become_a_prefix_and_a_hash(key: str) -> None:
    """A long or odd key becomes at most 250 bytes of printable ASCII ending in its SHA-256."""
    stored = memcached_key(key)
    assert len(stored) <= 250
    assert stored.isascii()
    assert all(0x21 <= byte <= 0x7E for byte in stored)
    assert stored.startswith(b"pointer:category=")
    assert stored.endswith(hashlib.sha256(key.encode()).hexdigest().encode())
    assert memcached_key(key + "y") != stored
