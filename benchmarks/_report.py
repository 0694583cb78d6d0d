"""Results: rows with their goals, the machine they ran on, the JSON and the Markdown page.

A scenario hands back a :class:`ScenarioResult`: table rows (one per
contender, ratios against the scenario's baseline from the same run, the goal
and whether it was met), notes on how it was measured, and its raw samples for
the JSON file. :func:`render_markdown` turns a run into ``docs/performance.md``; the JSON
file holds everything it needs, so :func:`results_from_json` can render a
past run again (``python -m benchmarks --render FILE``) without measuring.
"""

from __future__ import annotations

import enum
import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Sequence
from datetime import datetime
from importlib import metadata
from typing import Any, Final

import attrs
import psutil  # type: ignore[import-untyped]  # ships no type hints

from benchmarks._measure import Stats, stats_of

__all__ = [
    "Row",
    "ScenarioResult",
    "Verdict",
    "environment",
    "format_value",
    "plural",
    "render_markdown",
    "results_from_json",
    "timed_row",
]

#: Distributions whose versions decide the figures; shown with every run.
PACKAGES: Final = (
    "openrouter-bench",
    "aiohttp",
    "attrs",
    "cattrs",
    "orjson",
    "tenacity",
    "aiocache",
    "redis",
    "httpx",
    "openrouter",
    "pydantic",
    "pydantic-core",
    "msgspec",
    "psutil",
)


class Verdict(enum.Enum):
    """What a row says about its goal."""

    BASELINE = "baseline"
    MET = "met"
    MISSED = "missed"
    INFO = ""

    @classmethod
    def of(cls, met: bool) -> Verdict:
        """MET or MISSED."""
        return cls.MET if met else cls.MISSED


@attrs.frozen
class Row:
    """One contender's figures in one scenario.

    ``unit`` is ``"s"`` (the figures are seconds) or ``"MiB"``. ``ratio`` is
    the median over the baseline's median. ``detail`` states the measured
    figure the goal is judged on.
    """

    contender: str
    stats: Stats | None
    unit: str = "s"
    ratio: float | None = None
    goal: str = ""
    verdict: Verdict = Verdict.INFO
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        """The row as plain JSON values."""
        return {
            "contender": self.contender,
            "median": None if self.stats is None else self.stats.median,
            "p99": None if self.stats is None else self.stats.p99,
            "count": 0 if self.stats is None else self.stats.count,
            "unit": self.unit,
            "ratio": self.ratio,
            "goal": self.goal,
            "verdict": self.verdict.value,
            "detail": self.detail,
        }

    @classmethod
    def from_json(cls, row: dict[str, Any]) -> Row:
        """The row :meth:`to_json` wrote."""
        stats = None
        if row["median"] is not None:
            stats = Stats(median=row["median"], p99=row["p99"], count=row["count"])
        return cls(
            contender=row["contender"],
            stats=stats,
            unit=row["unit"],
            ratio=row["ratio"],
            goal=row["goal"],
            verdict=Verdict(row["verdict"]),
            detail=row["detail"],
        )


@attrs.frozen
class ScenarioResult:
    """A scenario's rows, how it was measured, and its raw samples."""

    number: int
    title: str
    rows: tuple[Row, ...]
    notes: tuple[str, ...] = ()
    raw: dict[str, Any] = attrs.field(factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The scenario as plain JSON values."""
        return {
            "number": self.number,
            "title": self.title,
            "rows": [row.to_json() for row in self.rows],
            "notes": list(self.notes),
            "raw": self.raw,
        }

    @classmethod
    def from_json(cls, scenario: dict[str, Any]) -> ScenarioResult:
        """The scenario :meth:`to_json` wrote."""
        return cls(
            number=scenario["number"],
            title=scenario["title"],
            rows=tuple(Row.from_json(row) for row in scenario["rows"]),
            notes=tuple(scenario["notes"]),
            raw=scenario["raw"],
        )


def results_from_json(document: dict[str, Any]) -> list[ScenarioResult]:
    """The scenarios of a run's JSON file, as the run had them."""
    return [ScenarioResult.from_json(scenario) for scenario in document["scenarios"]]


def timed_row(
    contender: str,
    samples: Sequence[float],
    *,
    baseline: Sequence[float] | None = None,
    goal: str = "",
    verdict: Verdict = Verdict.INFO,
    detail: str = "",
) -> Row:
    """A row of per-call seconds; ``ratio`` against the ``baseline`` samples' median."""
    stats = stats_of(samples)
    ratio = None if baseline is None else stats.median / stats_of(baseline).median
    return Row(contender, stats, "s", ratio, goal, verdict, detail)


def plural(count: int, noun: str) -> str:
    """``1 call``, ``2 calls``, ``1,000 calls``."""
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


def format_value(value: float | None, unit: str) -> str:
    """``12.3 µs``, ``4.56 ms``, ``1.20 s`` or ``12.3 MiB``."""
    if value is None:
        return "-"
    if unit == "MiB":
        return f"{value:.1f} MiB"
    if value < 1e-3:
        return f"{value * 1e6:.1f} µs"
    if value < 1.0:
        return f"{value * 1e3:.2f} ms"
    return f"{value:.2f} s"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _redis_server_version() -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        return "not installed"
    completed = subprocess.run(  # noqa: S603  # a fixed binary found on PATH, no shell
        [binary, "--version"], capture_output=True, text=True, check=False, timeout=10
    )
    words = completed.stdout.split()
    version = next((word for word in words if word.startswith("v=")), "v=?")
    return version[2:]


def environment(started: datetime) -> dict[str, str]:
    """The machine, the interpreter and the package versions of this run."""
    versions: dict[str, str] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    memory = psutil.virtual_memory().total / 2**30
    return {
        "date": started.strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": _cpu_model(),
        "cores": f"{os.cpu_count()} logical, {psutil.cpu_count(logical=False)} physical",
        "memory": f"{memory:.1f} GiB",
        # Other work on the machine shows in every figure; this says how much there was.
        "load average at start": " / ".join(f"{load:.2f}" for load in os.getloadavg()),
        "os": platform.platform(),
        "python": f"{platform.python_implementation()} {sys.version.split()[0]}",
        "redis-server": _redis_server_version(),
        **versions,
    }


def _result_cell(row: Row) -> str:
    if row.verdict is Verdict.INFO:
        return row.detail
    if row.verdict is Verdict.BASELINE:
        return "baseline" + (f"; {row.detail}" if row.detail else "")
    mark = "met" if row.verdict is Verdict.MET else "**missed**"
    return f"{mark}: {row.detail}" if row.detail else mark


def _p99(stats: Stats | None) -> float | None:
    # One sample (a memory reading, a first hit) has no spread to show.
    return None if stats is None or stats.count < 2 else stats.p99


def _ratio_cell(row: Row) -> str:
    if row.ratio is None:
        return "-"
    # A single call against a burst of a thousand: two decimals would print 0.00x.
    return f"{row.ratio:.2f}x" if row.ratio >= 0.1 else f"{row.ratio:.2g}x"


def _label(result: ScenarioResult) -> str:
    return f"{result.number}. {result.title}"


def render_markdown(
    results: Sequence[ScenarioResult],
    env: dict[str, str],
    *,
    command: str,
    json_path: str,
    quick: bool,
    elapsed: float,
) -> str:
    """The performance page for one run."""
    lines = [
        "# Performance",
        "",
        f"Generated by `{command}` on {env['date']} in {elapsed:.0f} s; do not edit by hand "
        "(run it again). Raw samples: `" + json_path + "`.",
        "",
    ]
    if quick:
        lines += [
            "**This is a `--quick` run: a handful of samples per row, for checking that the "
            "benchmarks work. Its figures and verdicts mean nothing.**",
            "",
        ]
    lines += [
        "Every contender runs in the same process, one after another in interleaved rounds, "
        "against the same benchmark server: a separate process answering with bytes built "
        "from the bundled fake's data before any timing starts. *median* and *p99* are per "
        "call (per burst in scenarios 5 and 6); *ratio* is the median over the scenario's "
        "baseline median from this run; *n* is the number of samples (a p99 of fewer than "
        "100 samples is their maximum).",
    ]
    # A table per scenario, and the goals in a table of their own: one table of every figure
    # and verdict was ten columns wide, and its verdicts were off the page at 1280 px.
    for result in results:
        lines += [
            "",
            f"**{_label(result)}**",
            "",
            "| contender | n | median | p99 | ratio |",
            "|---|---:|---:|---:|---:|",
        ]
        for row in result.rows:
            stats = row.stats
            lines.append(
                f"| {row.contender} | {0 if stats is None else stats.count} | "
                f"{format_value(None if stats is None else stats.median, row.unit)} | "
                f"{format_value(_p99(stats), row.unit)} | {_ratio_cell(row)} |"
            )
    lines += [
        "",
        "## Goals",
        "",
        "Each goal, and what the run above says about it; then the notes of rows without one.",
        "",
        "| scenario | contender | goal | result |",
        "|---|---|---|---|",
    ]
    judged = [(result, row) for result in results for row in result.rows if row.goal]
    noted = [
        (result, row) for result in results for row in result.rows if row.detail and not row.goal
    ]
    for result, row in [*judged, *noted]:
        lines.append(
            f"| {_label(result)} | {row.contender} | {row.goal or '-'} | {_result_cell(row)} |"
        )
    lines += ["", "## How each scenario is measured", ""]
    for result in results:
        lines.append(f"### {result.number}. {result.title}")
        lines.append("")
        for note in result.notes:
            lines.append(note)
            lines.append("")
    lines += ["## Machine", "", "| | |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in env.items()]
    lines.append("")
    return "\n".join(lines)
