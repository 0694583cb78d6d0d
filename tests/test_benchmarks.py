"""The benchmarks package: ``python -m benchmarks --quick`` runs every scenario end to end.

No figure is asserted (timings mean nothing on a shared CI machine); what is
checked is that every scenario runs, every contender gets a row, and the JSON
and the Markdown table say the same thing.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from benchmarks.__main__ import render_again
from benchmarks._contenders import client_options, sdk_arguments
from benchmarks._documents import PAGE_50, fan_out_queries, mixed_document
from benchmarks._measure import percentile, stats_of
from benchmarks._profile import WAITING, describe_difference
from benchmarks._profile import _origin as origin_of
from benchmarks._report import format_value
from openrouter_bench import (
    ArtificialAnalysisItem,
    BenchmarksClient,
    DesignArenaItem,
    OpenRouterEvalItem,
    Query,
    SearchEvalItem,
)
from openrouter_bench._convert import decode_page

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 6, 3, 12, 5, tzinfo=UTC)

#: Every scenario and the contenders its rows must name (scenario 4 may be skipped).
EXPECTED_ROWS: dict[int, list[str]] = {
    1: [
        "raw aiohttp + orjson + same structuring",
        "httpx + orjson + same structuring",
        "official SDK get_benchmarks_async",
        "openrouter-bench client.get",
    ],
    2: [
        "msgspec typed decode",
        "orjson.loads to dicts (untyped)",
        "official SDK unmarshal_json (pydantic)",
        "openrouter-bench decode_page",
    ],
    3: [
        "dict lookup (awaited)",
        "client.get(query), memory hit",
        "client.get(max_results=50), memory hit",
    ],
    4: [
        "redis-py GET of the page entry",
        "client.get(query), Redis hit, warm (near cache)",
        "client.get(query), Redis hit, first read of the page",
        "decoding the page entry alone (no I/O)",
        "first call in the fresh process",
    ],
    5: ["raw aiohttp, gather + semaphore", "client.get, gather + semaphore"],
    6: [
        "official SDK, concurrent calls",
        "client.get, one cold call",
        "raw aiohttp once, every task awaiting it",
        "client.get, concurrent identical calls",
    ],
    7: [
        "RSS before, max_entries=200",
        "RSS after 2,000 queries, max_entries=200",
        "RSS after 2,000 queries, max_entries=100",
    ],
    8: ["parsed on the loop (threshold off)", "parsed off the loop above 64 KiB"],
}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str, str]:
    """One ``python -m benchmarks --quick`` run: its JSON, its Markdown and its output."""
    out = tmp_path_factory.mktemp("bench")
    json_path, doc_path = out / "quick.json", out / "quick.md"
    completed = subprocess.run(  # noqa: S603  # this interpreter, this repository's module
        [
            sys.executable,
            "-m",
            "benchmarks",
            "--quick",
            "--json",
            str(json_path),
            "--doc",
            str(doc_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    document: dict[str, Any] = orjson.loads(json_path.read_bytes())
    return document, doc_path.read_text(encoding="utf-8"), completed.stdout


def _redis_available() -> bool:
    return bool(os.environ.get("REDIS_URL")) or shutil.which("redis-server") is not None


def test_quick_run_covers_every_scenario_and_contender(
    quick_run: tuple[dict[str, Any], str, str],
) -> None:
    """The JSON has every scenario, each with one row per contender and figures in each."""
    document, _, _ = quick_run
    assert document["quick"] is True
    rows: dict[int, list[dict[str, Any]]] = {}
    for scenario in document["scenarios"]:
        rows.setdefault(scenario["number"], []).extend(scenario["rows"])
    assert sorted(rows) == sorted(EXPECTED_ROWS)
    for number, expected in EXPECTED_ROWS.items():
        names = [row["contender"] for row in rows[number]]
        if number == 4 and not _redis_available():
            assert names == ["skipped"]
            continue
        for name in expected:
            assert name in names, f"scenario {number} has no row for {name!r}"
        for row in rows[number]:
            assert isinstance(row["median"], float)
            assert row["median"] > 0
            assert row["count"] >= 1
    # Scenario 1 runs once per page size.
    titles = [s["title"] for s in document["scenarios"] if s["number"] == 1]
    assert titles == ["cold call, 50 items", "cold call, 1,000 items"]


def test_quick_run_judges_every_goal(quick_run: tuple[dict[str, Any], str, str]) -> None:
    """Every row with a goal carries a verdict; every scenario names its baseline."""
    document, _, _ = quick_run
    for scenario in document["scenarios"]:
        verdicts = [row["verdict"] for row in scenario["rows"]]
        if verdicts == [""] and scenario["rows"][0]["contender"] == "skipped":
            continue
        assert verdicts.count("baseline") == 1, scenario["title"]
        for row in scenario["rows"]:
            if row["goal"]:
                assert row["verdict"] in ("met", "missed")
                assert row["detail"]


def test_quick_run_single_flight_sends_one_request(
    quick_run: tuple[dict[str, Any], str, str],
) -> None:
    """The burst scenario counted one upstream request per client burst, one per SDK call."""
    document, _, _ = quick_run
    (burst,) = [s for s in document["scenarios"] if s["number"] == 6]
    requests = burst["raw"]["requests"]
    assert set(requests["client.get, concurrent identical calls"]) == {1}
    assert set(requests["official SDK, concurrent calls"]) == {burst["raw"]["burst"]}


def test_quick_run_writes_the_table(quick_run: tuple[dict[str, Any], str, str]) -> None:
    """The Markdown page has a table line for every row of the JSON, and the machine."""
    document, markdown, stdout = quick_run
    assert "This is a `--quick` run" in markdown
    for scenario in document["scenarios"]:
        label = f"**{scenario['number']}. {scenario['title']}**"
        assert label in markdown
        table = markdown.split(label, 1)[1].split("\n\n", 2)[1].splitlines()
        assert table[0] == "| contender | n | median | p99 | ratio |"
        for row in scenario["rows"]:
            prefix = f"| {row['contender']} | {row['count']} |"
            assert any(line.startswith(prefix) for line in table), prefix
    for fact in ("| cpu |", "| cores |", "| python |", "| openrouter |", "| date |"):
        assert fact in markdown
    assert "Profile (" in markdown
    assert "wrote" in stdout


def test_percentile_is_nearest_rank() -> None:
    """p99 of 100 samples is the 99th smallest; of fewer than 100, the largest."""
    samples = [float(value) for value in range(1, 101)]
    assert percentile(samples, 0.99) == 99.0
    assert percentile(samples[:10], 0.99) == 10.0
    assert percentile([5.0], 0.5) == 5.0
    stats = stats_of([3.0, 1.0, 2.0])
    assert (stats.median, stats.p99, stats.count) == (2.0, 3.0, 3)
    with pytest.raises(ValueError, match="no samples"):
        percentile([], 0.5)


def test_format_value_picks_a_unit() -> None:
    """Seconds print as µs, ms or s by size; memory in MiB; nothing as a dash."""
    assert format_value(12.34e-6, "s") == "12.3 µs"
    assert format_value(4.567e-3, "s") == "4.57 ms"
    assert format_value(1.2, "s") == "1.20 s"
    assert format_value(61.25, "MiB") == "61.2 MiB"
    assert format_value(None, "s") == "-"


def test_profile_origins_name_whose_code_it_is() -> None:
    """Profiler entries are grouped by package, module of ours, stdlib module or built-in."""
    site = "/venv/lib/python3.11/site-packages"
    assert origin_of(f"{site}/tenacity/__init__.py", "f") == "tenacity"
    assert origin_of("/src/openrouter_bench/retry.py", "f") == "openrouter_bench.retry"
    assert origin_of("/usr/lib/python3.11/asyncio/tasks.py", "f") == "asyncio"
    assert origin_of("/usr/lib/python3.11/inspect.py", "f") == "stdlib inspect"
    generated = "<openrouter_bench._convert structure_Pricing>"
    assert origin_of(generated, "f") == "openrouter_bench._convert (generated)"
    assert origin_of("~", "{method 'poll' of 'select.epoll' objects}") == WAITING
    assert origin_of("~", "{orjson.loads}") == "built-in orjson"


def test_describe_difference_orders_the_extra_time() -> None:
    """The largest extra cost comes first; savings are listed apart."""
    text = describe_difference(
        {"tenacity": 40e-6, "aiohttp": 100e-6, "asyncio": 5e-6},
        {"aiohttp": 90e-6, "asyncio": 8e-6},
        name="test",
    )
    assert "+47 µs in all" in text
    assert text.index("tenacity +40 µs") < text.index("aiohttp +10 µs")
    assert "less: asyncio -3 µs" in text


def test_client_options_turn_every_layer_off() -> None:
    """The cold-call client has no cache, and no quota when it takes one."""
    options = client_options()
    assert options["cache"] is None
    assert options.get("quota", None) is None
    client = BenchmarksClient("k", base_url="http://127.0.0.1:9/api/v1", **options)
    assert client.cache.backend is None


def test_sdk_arguments_match_the_query() -> None:
    """The SDK gets the query's parameters with its own types."""
    query = Query(source="openrouter", task_type="search", max_results=7, include_run_config=True)
    assert sdk_arguments(query) == {
        "source": "openrouter",
        "task_type": "search",
        "max_results": 7,
        "include_run_config": True,
    }
    assert sdk_arguments(PAGE_50) == {"max_results": 50}


def test_documents_are_valid_and_distinct() -> None:
    """The 10,000-item body reads as four shapes; fan-out queries never repeat."""
    page = decode_page(mixed_document(10_000), query=Query(), fetched_at=NOW)
    assert len(page.items) == 10_000
    kinds = {type(item) for item in page.items}
    assert kinds == {ArtificialAnalysisItem, DesignArenaItem, OpenRouterEvalItem, SearchEvalItem}
    assert any(isinstance(i, SearchEvalItem) and i.run_config for i in page.items)
    queries = fan_out_queries(1000)
    assert len(set(queries)) == 1000
    assert max(query.max_results or 0 for query in queries) <= 13


def test_the_published_page_is_its_json_rendered_again(tmp_path: Path) -> None:
    """docs/performance.md is what --render makes of the JSON it names: no hand edits, no drift."""
    page = (ROOT / "docs" / "performance.md").read_text(encoding="utf-8")
    named = re.search(r"Raw samples: `(?P<path>[^`]+)`", page)
    assert named is not None
    written = render_again(ROOT / named.group("path"), tmp_path / "performance.md")
    assert written.read_text(encoding="utf-8") == page


def test_verdicts_have_a_table_of_their_own() -> None:
    """Each scenario's figures are a narrow table; every goal's verdict is in the goals table."""
    page = (ROOT / "docs" / "performance.md").read_text(encoding="utf-8")
    figures, goals = page.split("\n## Goals\n", 1)
    widest = max(line.count(" | ") for line in figures.splitlines() if line.startswith("| "))
    assert widest <= 4, "a figures table has more than five columns"
    goal_rows = [line for line in goals.split("\n## ", 1)[0].splitlines() if line.startswith("| ")]
    assert goal_rows[0] == "| scenario | contender | goal | result |"
    named = re.search(r"Raw samples: `(?P<path>[^`]+)`", page)
    assert named is not None
    document = orjson.loads((ROOT / named.group("path")).read_bytes())
    judged = [
        (f"{scenario['number']}. {scenario['title']}", row["contender"], row["goal"])
        for scenario in document["scenarios"]
        for row in scenario["rows"]
        if row["goal"]
    ]
    assert judged
    for label, contender, goal in judged:
        assert any(
            line.startswith(f"| {label} | {contender} | {goal} | ")
            and ("met" in line or "missed" in line)
            for line in goal_rows
        ), (label, contender)
