"""The fault matrix, run: each row of ``benchmarks/fault_matrix.py`` against a real server.

The rows are the documentation too: ``docs/reliability.md`` prints them, and
the last test here fails when the document no longer matches the table.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from benchmarks.fault_matrix import (
    FAULT_MATRIX,
    FaultCase,
    expected_row_start,
    observed_matches,
    run_case,
)
from openrouter_bench.fake import FAULT_NAMES
from openrouter_bench.fake.faults import FaultSpec
from tests.conftest import CANARY_KEY

DOCS = Path(__file__).resolve().parents[2] / "docs" / "reliability.md"


def _kind(spec: FaultSpec) -> object:
    return spec["fault"] if isinstance(spec, Mapping) else spec


@pytest.mark.parametrize("case", FAULT_MATRIX, ids=[case.name for case in FAULT_MATRIX])
async def test_each_fault_has_its_documented_outcome(case: FaultCase) -> None:
    """Outcome, attempts, requests seen, Retry-After waits and total time are as the row says."""
    observed = await run_case(case, key=CANARY_KEY)
    assert observed_matches(case, observed) == []
    if case.outcome is None:
        assert observed.page_matches is True
    if case.name == "redirect" and sys.platform == "linux":
        # Something listened where the redirect pointed, and nothing reached it.
        assert observed.redirect_target_connections == 0


def test_the_matrix_covers_every_fault_the_fake_can_script() -> None:
    """Every named fault of the fake and every status the contract expects has a row."""
    kinds = {_kind(spec) for case in FAULT_MATRIX for spec in case.script}
    assert set(FAULT_NAMES) <= kinds
    assert {400, 401, 402, 403, 404, 408, 429, 500, 503, 504} <= kinds
    assert {"stub", "nothing"} <= {case.via for case in FAULT_MATRIX}


def test_every_row_has_a_unique_name() -> None:
    """Row names are test ids and must not collide."""
    names = [case.name for case in FAULT_MATRIX]
    assert len(names) == len(set(names))


def test_the_docs_show_the_current_matrix() -> None:
    """docs/reliability.md shows every row as the table has it (see benchmarks/soak.py)."""
    text = DOCS.read_text(encoding="utf-8")
    missing = [case.name for case in FAULT_MATRIX if expected_row_start(case) not in text]
    assert missing == []
