"""``python -m benchmarks``: run the scenarios, write the JSON and the performance page.

A full run rewrites ``docs/performance.md`` and its chart
``docs/performance-ratios.svg``, and adds ``benchmarks/results/<UTC time>.json``.
``--quick`` takes a handful of samples (seconds, for CI) and by default writes
``benchmarks/results/quick.json``, ``quick.md`` and ``quick-ratios.svg``
there, leaving the published page alone.
``--render FILE`` writes the page and its chart again from a run's JSON,
measuring nothing (after a change to the page's layout).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import orjson

from benchmarks import (
    burst,
    cold_call,
    fan_out,
    loop_stall,
    memory_growth,
    memory_hit,
    parse,
    redis_hit,
)
from benchmarks._context import RunContext
from benchmarks._redis import redis_server
from benchmarks._report import (
    Plan,
    ScenarioResult,
    environment,
    render_chart,
    render_markdown,
    results_from_json,
)
from benchmarks._server import bench_server

ROOT: Final = Path(__file__).resolve().parent.parent
RESULTS: Final = ROOT / "benchmarks" / "results"

Scenario = Callable[[RunContext], Awaitable[list[ScenarioResult]]]

SCENARIOS: Final[dict[int, Scenario]] = {
    1: cold_call.run,
    2: parse.run,
    3: memory_hit.run,
    4: redis_hit.run,
    5: fan_out.run,
    6: burst.run,
    7: memory_growth.run,
    8: loop_stall.run,
}

#: Every scenario's name and goals, so a page can say which a run did not measure.
PLANS: Final[tuple[Plan, ...]] = (
    cold_call.PLAN,
    parse.PLAN,
    memory_hit.PLAN,
    redis_hit.PLAN,
    fan_out.PLAN,
    burst.PLAN,
    memory_growth.PLAN,
    loop_stall.PLAN,
)

#: Distinct fan-out queries in a full and in a quick run.
FAN_OUT: Final = 1000
QUICK_FAN_OUT: Final = 40


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="openrouter-bench against raw aiohttp, httpx, the official SDK and msgspec",
    )
    parser.add_argument(
        "--quick", action="store_true", help="a handful of samples per row (seconds; for CI)"
    )
    parser.add_argument(
        "--only",
        type=int,
        action="append",
        choices=sorted(SCENARIOS),
        metavar="N",
        help="run scenario N only (repeatable)",
    )
    parser.add_argument("--doc", type=Path, help="where to write the Markdown page")
    parser.add_argument("--json", type=Path, help="where to write the raw results")
    parser.add_argument(
        "--render",
        type=Path,
        metavar="FILE",
        help="write the page from a run's JSON file instead of running (measures nothing)",
    )
    return parser.parse_args(argv)


def _shown(path: Path) -> str:
    resolved = path.resolve()
    return str(resolved.relative_to(ROOT)) if resolved.is_relative_to(ROOT) else str(resolved)


def chart_path(doc_path: Path) -> Path:
    """Where the chart of the page ``doc_path`` goes: beside it, named after it."""
    return doc_path.with_name(f"{doc_path.stem}-ratios.svg")


def write_page(
    doc_path: Path,
    results: Sequence[ScenarioResult],
    document: dict[str, Any],
    *,
    json_path: str,
) -> Path:
    """Write the page and its chart for the run ``document`` describes; the page's path."""
    chart = chart_path(doc_path)
    doc_path.parent.mkdir(parents=True, exist_ok=True)
    chart.write_text(render_chart(results, PLANS), encoding="utf-8")
    doc_path.write_text(
        render_markdown(
            results,
            document["environment"],
            command=document["command"],
            json_path=json_path,
            quick=bool(document["quick"]),
            elapsed=document["elapsed_seconds"],
            plans=PLANS,
            chart=chart.name,
        ),
        encoding="utf-8",
    )
    return doc_path


def render_again(source: Path, doc_path: Path | None) -> Path:
    """Write the page and chart of the run ``source`` holds; where the page was written."""
    document: dict[str, Any] = orjson.loads(source.read_bytes())
    quick = bool(document["quick"])
    target = doc_path or (RESULTS / "quick.md" if quick else ROOT / "docs" / "performance.md")
    return write_page(target, results_from_json(document), document, json_path=_shown(source))


async def _run(arguments: argparse.Namespace, started: datetime) -> list[ScenarioResult]:
    numbers = arguments.only or sorted(SCENARIOS)
    fan_out_count = QUICK_FAN_OUT if arguments.quick else FAN_OUT
    results: list[ScenarioResult] = []
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(bench_server(fan_out=fan_out_count))
        redis_url = stack.enter_context(redis_server()) if 4 in numbers else None
        context = RunContext(
            server=server, quick=arguments.quick, fan_out=fan_out_count, redis_url=redis_url
        )
        for number in numbers:
            began = time.perf_counter()
            print(f"scenario {number}...", end=" ", flush=True)
            results.extend(await SCENARIOS[number](context))
            print(f"{time.perf_counter() - began:.1f} s", flush=True)
    return results


def _table(results: Sequence[ScenarioResult]) -> str:
    lines = []
    for result in results:
        for row in result.rows:
            median = "-" if row.stats is None else f"{row.stats.median:.6g}"
            verdict = row.verdict.value or "-"
            lines.append(
                f"{result.number} {result.title:32.32} {row.contender:48.48} {median:>12} "
                f"{verdict:8} {row.detail}"
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmarks; 0 when every scenario ran (a missed goal is reported, not failed)."""
    arguments = _arguments(argv)
    if arguments.render is not None:
        print(f"wrote {render_again(arguments.render, arguments.doc)}")
        return 0
    started = datetime.now(UTC)
    env = environment(started)
    clock = time.perf_counter()
    results = asyncio.run(_run(arguments, started))
    elapsed = time.perf_counter() - clock
    stamp = started.strftime("%Y-%m-%dT%H-%M-%SZ")
    if arguments.quick:
        json_path = arguments.json or RESULTS / "quick.json"
        doc_path = arguments.doc or RESULTS / "quick.md"
    else:
        json_path = arguments.json or RESULTS / f"{stamp}.json"
        doc_path = arguments.doc or ROOT / "docs" / "performance.md"
    command = "python -m benchmarks" + (" --quick" if arguments.quick else "")
    document: dict[str, Any] = {
        "command": command,
        "quick": arguments.quick,
        "elapsed_seconds": elapsed,
        "environment": env,
        "scenarios": [result.to_json() for result in results],
    }
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_bytes(orjson.dumps(document))
    write_page(doc_path, results, document, json_path=_shown(json_path))
    print(_table(results))
    print(f"wrote {doc_path}, {chart_path(doc_path)} and {json_path} in {elapsed:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
