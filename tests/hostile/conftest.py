"""Hostile servers and poisoned caches: every test here is one row of a table in the docs.

Mark a test ``@pytest.mark.hostile(case="...", expected="...")`` and tell the
``observe`` fixture what actually happened, in words a reader can check
(``observe("ResponseFormatError after 1.0 MiB decoded, in 0.02 s")``); a
case bounded by a call's deadline passes it too (``deadline=5.0``), so the
page can show the slowest call against its deadline. A marked test that
observes nothing fails, so no row is ever empty.

With ``HOSTILE_REPORT=path`` in the environment, each passing row is
appended to that file as one JSON line; ``python -m benchmarks.hostile
--write-docs`` runs this folder that way and writes the table "Hostile server
and poisoned cache" into ``docs/reliability.md``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from typing import Final, Protocol

import orjson
import pytest

#: A well-formed answer of no items: what a hostile case sends when it needs a page at all.
PAGE: Final = orjson.dumps(
    {
        "data": [],
        "meta": {
            "as_of": "2026-06-03T12:00:00Z",
            "version": "v1",
            "source": "openrouter",
            "source_url": None,
            "citation": None,
            "model_count": 0,
            "task_type": None,
        },
    }
)


class Observe(Protocol):
    """``observe(text)``; ``deadline=`` (seconds) when the case is bounded by a call's deadline."""

    def __call__(self, text: str, /, *, deadline: float | None = None) -> None: ...


@pytest.fixture
def observe(request: pytest.FixtureRequest) -> Iterator[Observe]:
    """Record what a hostile case observed; written to ``$HOSTILE_REPORT`` when set."""
    marker = request.node.get_closest_marker("hostile")
    if marker is None:
        raise pytest.UsageError(f"{request.node.nodeid} uses observe without @pytest.mark.hostile")
    case = marker.kwargs.get("case")
    expected = marker.kwargs.get("expected")
    if not case or not expected:
        raise pytest.UsageError(f"{request.node.nodeid}: hostile(case=..., expected=...) both")
    notes: list[str] = []
    deadlines: list[float] = []
    started = time.perf_counter()

    def record(text: str, /, *, deadline: float | None = None) -> None:
        notes.append(text)
        if deadline is not None:
            deadlines.append(deadline)

    yield record
    if not notes:
        pytest.fail(f"{request.node.nodeid} is a hostile case but observed nothing")
    report = os.environ.get("HOSTILE_REPORT")
    if report:
        row = {
            "test": request.node.nodeid,
            "case": case,
            "expected": expected,
            "observed": "; ".join(notes),
            "seconds": round(time.perf_counter() - started, 3),
            "deadline": min(deadlines) if deadlines else None,
        }
        with open(report, "a", encoding="utf-8") as out:
            out.write(json.dumps(row) + "\n")
