"""Entry names: memcached takes every key the cache makes."""

from __future__ import annotations

import hashlib

import pytest

from openrouter_bench.cache._codec import FORMAT
from openrouter_bench.cache._keys import EntryKeys, memcached_key, namespace_for
from openrouter_bench.query import Query
from tests._cache_fixtures import AS_OF_1

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


def test_a_namespace_is_an_apis_host_and_path() -> None:
    """Two servers, or two paths on one, never share a namespace; the scheme does not matter."""
    assert namespace_for("https://openrouter.ai/api/v1") == "openrouter-bench:openrouter.ai/api/v1"
    assert namespace_for("http://127.0.0.1:8080/api/v1") != namespace_for(
        "http://127.0.0.1:8081/api/v1"
    )
    assert namespace_for("http://h/a") != namespace_for("http://h/b")


def test_entry_names_carry_namespace_format_kind_and_query() -> None:
    """Pointer, page and lease names follow {namespace}:v{format}:{kind}:{query.key}[:{as_of}]."""
    keys = EntryKeys(NAMESPACE)
    assert keys.prefix == f"{NAMESPACE}:v{FORMAT}:"
    assert keys.pointer(QUERY) == f"{NAMESPACE}:v{FORMAT}:pointer:{QUERY.key}"
    assert keys.page(QUERY, AS_OF_1) == f"{NAMESPACE}:v{FORMAT}:page:{QUERY.key}:{AS_OF_1}"
    assert keys.lease(QUERY) == f"{NAMESPACE}:v{FORMAT}:lease:{QUERY.key}"
