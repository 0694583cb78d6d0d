"""Stored values as another writer might leave them: raw bytes of the codec's shape."""

from __future__ import annotations

from typing import Any, Final

import orjson

from openrouter_bench.cache._codec import FORMAT
from openrouter_bench.query import Query
from tests._cache_fixtures import AS_OF_1

NOW: Final = 1_780_000_000.0
QUERY: Final = Query(source="artificial-analysis", task_type="coding")


def pointer_bytes(**fields: Any) -> bytes:
    """A pointer of ``QUERY`` as JSON bytes, with ``fields`` laid over a well-formed one."""
    document = {
        "format": FORMAT,
        "kind": "pointer",
        "key": QUERY.key,
        "as_of": AS_OF_1,
        "fetched_at": NOW,
        "history": [AS_OF_1],
    } | fields
    return orjson.dumps(document)
