"""The benchmarks package: ``python -m benchmarks --quick`` runs every scenario end to end.

No figure is asserted (timings mean nothing on a shared CI machine); what is
checked is that every scenario runs, every contender gets a row, and the JSON
and the Markdown table say the same thing.
"""

from __future__ import annotations

import html
import math
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

from benchmarks import history_store, loop_stall, redis_hit
from benchmarks.__main__ import PLANS, chart_path, render_again
from benchmarks._contenders import client_options, sdk_arguments
from benchmarks._documents import PAGE_50, fan_out_queries, mixed_document
from benchmarks._measure import Stats, percentile, stats_of
from benchmarks._profile import WAITING, describe_difference
from benchmarks._profile import _origin as origin_of
from benchmarks._report import (
    NOT_MEASURED,
    Plan,
    Row,
    ScenarioResult,
    Verdict,
    format_value,
    render_chart,
    render_markdown,
)
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
    8: ["parsed on the loop (threshold off)", loop_stall.OFF_LOOP_ROW],
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
    document["doc"] = str(doc_path)
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
                assert row["measured"]


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


def test_quick_run_draws_the_chart(quick_run: tuple[dict[str, Any], str, str]) -> None:
    """The run writes an SVG beside its page, with a bar for every row that has a ratio."""
    document, markdown, _ = quick_run
    chart = chart_path(Path(document["doc"]))
    assert f"]({chart.name})" in markdown
    svg = chart.read_text(encoding="utf-8")
    assert svg.startswith("<svg ")
    for scenario in document["scenarios"]:
        for row in scenario["rows"]:
            if row["ratio"] is not None:
                assert f">{html.escape(row['contender'], quote=False)}</text>" in svg


def test_quick_run_judges_the_planned_goals(quick_run: tuple[dict[str, Any], str, str]) -> None:
    """Every goal a run judges is one its scenario's plan states; a ratio goal has its bound."""
    document, _, _ = quick_run
    plans = {plan.number: plan for plan in PLANS}
    assert sorted(plans) == sorted(EXPECTED_ROWS)
    for scenario in document["scenarios"]:
        for row in scenario["rows"]:
            if not row["goal"]:
                continue
            planned = plans[scenario["number"]].goals
            assert any(goal.endswith(row["goal"]) for goal in planned), row["goal"]
            if "x " in row["goal"]:
                assert row["limit"] is not None, row["contender"]
                assert row["limit"] > 0, row["contender"]


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
    assert max(query.max_results or 0 for query in queries) <= 15


def _published() -> tuple[str, Path]:
    page = (ROOT / "docs" / "performance.md").read_text(encoding="utf-8")
    named = re.search(r"Raw samples: `(?P<path>[^`]+)`", page)
    assert named is not None
    return page, ROOT / named.group("path")


def test_the_published_page_is_its_json_rendered_again(tmp_path: Path) -> None:
    """docs/performance.md and its chart are what --render makes of the JSON: no drift."""
    page, source = _published()
    written = render_again(source, tmp_path / "performance.md")
    assert written.read_text(encoding="utf-8") == page
    chart = (ROOT / "docs" / "performance-ratios.svg").read_text(encoding="utf-8")
    assert chart_path(written).read_text(encoding="utf-8") == chart
    assert "](performance-ratios.svg)" in page


def test_verdicts_have_a_table_of_their_own() -> None:
    """The goals table comes first, four columns; each scenario's figures are a narrow table."""
    page, source = _published()
    head, figures = page.split("\n## Figures\n", 1)
    goals = head.split("\n## Goals\n", 1)[1]
    goal_rows = [line for line in goals.splitlines() if line.startswith("| ")]
    assert goal_rows[0] == "| scenario | goal | measured | verdict |"
    assert max(line.count(" | ") for line in goal_rows) == 3
    widest = max(line.count(" | ") for line in figures.splitlines() if line.startswith("| "))
    assert widest <= 4, "a figures table has more than five columns"
    document = orjson.loads(source.read_bytes())
    judged = [
        (f"{scenario['number']}. {scenario['title']}", row["contender"], row["goal"])
        for scenario in document["scenarios"]
        for row in scenario["rows"]
        if row["goal"]
    ]
    assert judged
    for label, contender, goal in judged:
        assert any(
            line.startswith(f"| {label} | {contender}: {goal} | ")
            and line.endswith(("| met |", "| **missed** |"))
            for line in goal_rows
        ), (label, contender)


def test_the_page_says_what_a_run_did_not_measure(tmp_path: Path) -> None:
    """A scenario missing from the JSON is marked not measured on the page and the chart."""
    _, source = _published()
    document = orjson.loads(source.read_bytes())
    document["scenarios"] = [s for s in document["scenarios"] if s["number"] not in (4, 8)]
    trimmed = tmp_path / "trimmed.json"
    trimmed.write_bytes(orjson.dumps(document))
    page = render_again(trimmed, tmp_path / "page.md").read_text(encoding="utf-8")
    for plan in PLANS:
        if plan.number not in (4, 8):
            continue
        assert f"**{plan.number}. {plan.name}**\n\nNot measured in this run." in page
        for goal in plan.goals:
            assert f"| {plan.number}. {plan.name} | {goal} | {NOT_MEASURED} | - |" in page
    chart = chart_path(tmp_path / "page.md").read_text(encoding="utf-8")
    for plan in PLANS:
        if plan.number in (4, 8):
            assert f">{plan.number}. {plan.name}</text>" in chart
            for goal in plan.goals:
                assert f"{html.escape(goal, quote=False)}: {NOT_MEASURED}</text>" in chart


def test_a_planned_goal_no_row_judges_keeps_its_place() -> None:
    """A run of scenario 4 without near-cache rows lists the warm-process goal as not measured."""
    result = ScenarioResult(
        number=4,
        title="cache hit, Redis, fresh process",
        rows=(
            Row("raw GET", Stats(1.0, 1.0, 3), ratio=1.0, verdict=Verdict.BASELINE),
            Row(
                "client.get(query), Redis hit",
                Stats(1.5, 1.5, 3),
                ratio=1.5,
                goal=redis_hit.FIRST_READ_GOAL,
                verdict=Verdict.MET,
                measured="1.50x",
                limit=redis_hit.MAX_FIRST_RATIO,
            ),
        ),
    )
    env = {"date": "today", "cores": "2", "cpu": "x", "load average at start": "0", "python": "3"}
    page = render_markdown(
        [result], env, command="c", json_path="j", quick=False, elapsed=1.0, plans=PLANS
    )
    name = f"4. {redis_hit.PLAN.name}"
    assert f"| {name} | hit {redis_hit.WARM_GOAL} | {NOT_MEASURED} | - |" in page
    assert f"hit {redis_hit.FIRST_READ_GOAL} | {NOT_MEASURED}" not in page
    assert f"Redis hit: {redis_hit.FIRST_READ_GOAL} | 1.50x | met |" in page
    assert "**1. cold call**\n\nNot measured in this run." in page
    chart = render_chart([result], PLANS)
    assert f"{html.escape(redis_hit.WARM_GOAL, quote=False)}: {NOT_MEASURED}" in chart


def test_the_chart_draws_bars_and_goal_lines() -> None:
    """A bar per row with a ratio, on a log scale from 1x; a ratio goal's bound is a line."""
    result = ScenarioResult(
        number=1,
        title="example",
        rows=(
            Row("base", Stats(1.0, 1.0, 3), ratio=1.0, verdict=Verdict.BASELINE),
            Row(
                "ours",
                Stats(2.0, 2.0, 3),
                ratio=2.0,
                goal="<= 1.5x base",
                verdict=Verdict.MISSED,
                measured="2.00x",
                limit=1.5,
            ),
            Row("faster", Stats(0.1, 0.1, 3), ratio=0.1),
            Row("no ratio", Stats(5.0, 5.0, 1)),
        ),
    )
    svg = render_chart([result], [Plan(2, "absent", ("a goal",))])
    assert svg == render_chart([result], [Plan(2, "absent", ("a goal",))])
    assert svg.count("<rect x=") == 3 + 2  # the legend's three swatches, two bars
    assert "no ratio" not in svg
    assert "2.00x, missed (goal &lt;= 1.50x)" in svg
    assert svg.count('stroke-width="2.5"') == 2  # the legend's and the goal's
    assert NOT_MEASURED in svg
    # 0.1x to 10x over the bars' width: 1x in the middle, 2x and 1.5x right of it.
    ticks = re.findall(r'<line x1="([\d.]+)"[^>]*stroke="#(?:e5e7eb|6b7280)"/>', svg)
    low, one, high = (float(x) for x in ticks)
    assert one == pytest.approx((low + high) / 2, abs=0.1)
    goal_x = float(re.findall(r'<line x1="([\d.]+)"[^>]*stroke-width="2.5"', svg)[1])
    assert goal_x == pytest.approx(one + (high - one) * math.log10(1.5), abs=0.1)


def test_history_store_bound_keeps_the_file_within_it(capsys: pytest.CaptureFixture[str]) -> None:
    """benchmarks.history_store: with a store-wide bound the file in use stays under it."""
    history_store.main(["--queries", "4", "--snapshots", "12", "--store-mib", "0.5"])
    line = capsys.readouterr().out
    found = re.search(r"([\d.]+) MiB in use, file [\d.]+ MiB; snapshots per query (\d+) to", line)
    assert found is not None, line
    assert float(found[1]) <= 0.5 * 1.25  # the snapshot being written may pass it briefly
    assert 1 <= int(found[2]) < 12
