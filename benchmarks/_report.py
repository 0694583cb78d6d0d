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
import html
import math
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
    "NOT_MEASURED",
    "Plan",
    "Verdict",
    "environment",
    "format_value",
    "plural",
    "render_chart",
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
    "hiredis",
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
    the median over the baseline's median. ``measured`` is the figure the
    goal is judged on, short (``1.22x``, ``worst 12.3 ms``); ``detail`` is
    what else a reader of the row should know. ``limit`` is the goal's bound
    in the terms of ``ratio``, drawn on the chart across the row's bar; None
    when the goal is not a ratio to the baseline (an absolute time, a count).
    ``at_least`` says the ratio must reach the limit rather than stay under it.
    """

    contender: str
    stats: Stats | None
    unit: str = "s"
    ratio: float | None = None
    goal: str = ""
    verdict: Verdict = Verdict.INFO
    detail: str = ""
    measured: str = ""
    limit: float | None = None
    at_least: bool = False

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
            "measured": self.measured,
            "limit": self.limit,
            "at_least": self.at_least,
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
            # Runs from before the goals had bounds lack these three.
            measured=row.get("measured", ""),
            limit=row.get("limit"),
            at_least=row.get("at_least", False),
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
    measured: str = "",
    limit: float | None = None,
    at_least: bool = False,
) -> Row:
    """A row of per-call seconds; ``ratio`` against the ``baseline`` samples' median."""
    stats = stats_of(samples)
    ratio = None if baseline is None else stats.median / stats_of(baseline).median
    return Row(contender, stats, "s", ratio, goal, verdict, detail, measured, limit, at_least)


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


@attrs.frozen
class Plan:
    """A scenario as known before any run: its number, its name and its goals in words.

    The page lists a planned scenario that a run has no result for as not
    measured in that run, with the goals it would have been judged on.
    """

    number: int
    name: str
    goals: tuple[str, ...]


#: What the page says of a planned scenario or goal the run has no result for.
NOT_MEASURED: Final = "not measured in this run"


def _p99(stats: Stats | None) -> float | None:
    # One sample (a memory reading, a first hit) has no spread to show.
    return None if stats is None or stats.count < 2 else stats.p99


def _ratio_text(ratio: float) -> str:
    # A single call against a burst of a thousand: two decimals would print 0.00x.
    return f"{ratio:.2f}x" if ratio >= 0.1 else f"{ratio:.2g}x"


def _ratio_cell(row: Row) -> str:
    return "-" if row.ratio is None else _ratio_text(row.ratio)


def _label(result: ScenarioResult) -> str:
    return f"{result.number}. {result.title}"


def _verdict_cell(row: Row) -> str:
    return "**missed**" if row.verdict is Verdict.MISSED else row.verdict.value


def _missing(results: Sequence[ScenarioResult], plans: Sequence[Plan]) -> list[Plan]:
    ran = {result.number for result in results}
    return [plan for plan in plans if plan.number not in ran]


def _in_order(
    results: Sequence[ScenarioResult], plans: Sequence[Plan]
) -> list[ScenarioResult | Plan]:
    """The run's scenarios and the planned ones it lacks, by number; a run's order kept."""
    entries: list[ScenarioResult | Plan] = [*results, *_missing(results, plans)]
    return sorted(entries, key=lambda entry: entry.number)


def _with_unjudged(
    results: Sequence[ScenarioResult], plans: Sequence[Plan]
) -> list[ScenarioResult | Plan]:
    """:func:`_in_order`, each scenario that ran followed by its planned goals no row judged.

    A row judges a planned goal when the plan's words end with the row's goal
    (the plan names the contender and the size; the row's contender is beside it).
    Those left over are a place kept on the page for rows a run lacks.
    """
    entries: list[ScenarioResult | Plan] = []
    ordered = _in_order(results, plans)
    for index, entry in enumerate(ordered):
        entries.append(entry)
        last = index + 1 == len(ordered) or ordered[index + 1].number != entry.number
        if isinstance(entry, Plan) or not last:
            continue
        judged = [
            row.goal for result in results if result.number == entry.number for row in result.rows
        ]
        for plan in plans:
            if plan.number == entry.number:
                left = tuple(
                    goal for goal in plan.goals if not any(goal.endswith(j) for j in judged if j)
                )
                if left:
                    entries.append(Plan(plan.number, plan.name, left))
    return entries


def _goal_lines(results: Sequence[ScenarioResult], plans: Sequence[Plan]) -> list[str]:
    lines = ["| scenario | goal | measured | verdict |", "|---|---|---|---|"]
    for entry in _with_unjudged(results, plans):
        if isinstance(entry, Plan):
            lines += [
                f"| {entry.number}. {entry.name} | {goal} | {NOT_MEASURED} | - |"
                for goal in entry.goals
            ]
            continue
        for row in entry.rows:
            if row.goal:
                lines.append(
                    f"| {_label(entry)} | {row.contender}: {row.goal} | "
                    f"{row.measured or row.detail} | {_verdict_cell(row)} |"
                )
    return lines


def _figure_lines(entry: ScenarioResult | Plan) -> list[str]:
    if isinstance(entry, Plan):
        return ["", f"**{entry.number}. {entry.name}**", "", "Not measured in this run."]
    lines = [
        "",
        f"**{_label(entry)}**",
        "",
        "| contender | n | median | p99 | ratio |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in entry.rows:
        stats = row.stats
        lines.append(
            f"| {row.contender} | {0 if stats is None else stats.count} | "
            f"{format_value(None if stats is None else stats.median, row.unit)} | "
            f"{format_value(_p99(stats), row.unit)} | {_ratio_cell(row)} |"
        )
    # A goal row's detail was its measured figure in runs before ``measured`` existed.
    notes = [row for row in entry.rows if row.detail and (row.measured or not row.goal)]
    if notes:
        lines.append("")
        lines += [f"- *{row.contender}*: {row.detail}" for row in notes]
    return lines


def _machine_line(env: dict[str, str]) -> str:
    return (
        f"{env['cores']} cores ({env['cpu']}), load average at start "
        f"{env['load average at start']}, {env['python']}"
    )


def render_markdown(
    results: Sequence[ScenarioResult],
    env: dict[str, str],
    *,
    command: str,
    json_path: str,
    quick: bool,
    elapsed: float,
    plans: Sequence[Plan] = (),
    chart: str | None = None,
) -> str:
    """The performance page for one run; ``chart`` names the SVG beside it, if any."""
    lines = [
        "# Performance",
        "",
        f"Run on {env['date']} with `{command}` ({elapsed:.0f} s): {_machine_line(env)}. "
        "Generated; do not edit by hand (run it again, or `python -m benchmarks --render "
        "FILE` after a change to the layout). Raw samples: `" + json_path + "`.",
        "",
    ]
    if quick:
        lines += [
            "**This is a `--quick` run: a handful of samples per row, for checking that the "
            "benchmarks work. Its figures and verdicts mean nothing.**",
            "",
        ]
    # The goals in a table of their own at the top: one table of every figure and verdict
    # was ten columns wide, and its verdicts were off the page at 1280 px.
    lines += [
        "## Goals",
        "",
        "Each goal compares medians taken in this one run, against the same server; "
        "*measured* is the figure it is judged on. The goals are those the run judged, as "
        "its JSON file records them; a goal of today that no row of the run judges (a "
        "scenario, or a row, the run lacks) is listed as not measured in this run.",
        "",
        *_goal_lines(results, plans),
        "",
    ]
    if chart is not None:
        lines += [
            # A link to the image too: a click shows it at full size.
            f"[![Each contender's median over its scenario's baseline, log scale, one row "
            f"per scenario, the goals drawn as lines]({chart})]({chart})",
            "",
            "Each bar runs from the scenario's baseline (1x, the dot) to the contender's "
            "ratio; a goal that is a ratio is the black line across its bar (goal <=: the "
            "bar must end before it; goal >=: beyond it). A goal on a time or a size shows "
            "its measured figure instead of the ratio.",
            "",
        ]
    lines += [
        "## Figures",
        "",
        "Every contender runs in the same process, one after another in interleaved rounds, "
        "against the same benchmark server: a separate process answering with bytes built "
        "from the bundled fake's data before any timing starts. *median* and *p99* are per "
        "call (per burst in scenarios 5 and 6); *ratio* is the median over the scenario's "
        "baseline median from this run; *n* is the number of samples (a p99 of fewer than "
        "100 samples is their maximum).",
    ]
    for entry in _in_order(results, plans):
        lines += _figure_lines(entry)
    lines += ["", "## How each scenario is measured", ""]
    for entry in _in_order(results, plans):
        if isinstance(entry, Plan):
            lines += [f"### {entry.number}. {entry.name}", "", "Not measured in this run.", ""]
            continue
        lines.append(f"### {_label(entry)}")
        lines.append("")
        for note in entry.notes:
            lines.append(note)
            lines.append("")
    lines += ["## Machine", "", "| | |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in env.items()]
    lines.append("")
    return "\n".join(lines)


# --- the chart --------------------------------------------------------------------------------

# Hand-written SVG: a few rectangles, lines and labels need no plotting library, and the
# bytes stay the same from one render of a JSON file to the next (the tests compare them).
# About the width of the documentation site's text column, so the labels are not shrunk.
_WIDTH: Final = 760
_LABELS: Final = 262  # x where the bars' area starts; the contenders' names sit left of it
_BARS_END: Final = 540  # the figures sit right of this
_ROW: Final = 20
_HEADING: Final = 26
_TOP: Final = 78
_COLOURS: Final = {
    Verdict.BASELINE: "#4b5563",
    Verdict.MET: "#15803d",
    Verdict.MISSED: "#b91c1c",
    Verdict.INFO: "#9ca3af",
}


def _charted(row: Row) -> bool:
    return row.ratio is not None and row.ratio > 0


def _decades(results: Sequence[ScenarioResult]) -> tuple[int, int]:
    """The powers of ten the axis runs between, 1x always inside."""
    values = [1.0]
    for result in results:
        for row in result.rows:
            if _charted(row) and row.ratio is not None:
                values.append(row.ratio)
            if row.limit is not None and row.limit > 0:
                values.append(row.limit)
    low = math.floor(math.log10(min(values)) + 1e-9)
    high = math.ceil(math.log10(max(values)) - 1e-9)
    return low, max(high, low + 1)


def _text(x: float, y: float, words: str, **attributes: str) -> str:
    extra = "".join(f' {name.replace("_", "-")}="{value}"' for name, value in attributes.items())
    return f'<text x="{x:.1f}" y="{y:.1f}"{extra}>{html.escape(words, quote=False)}</text>'


def _figure_text(row: Row) -> str:
    words = _ratio_cell(row)
    if row.verdict is Verdict.BASELINE:
        return "baseline"
    if row.goal and row.limit is None and row.measured:
        # A goal on an absolute figure (a stall in ms): the ratio would not judge it.
        words = row.measured
    if row.goal:
        words += f", {_verdict_cell(row).strip('*')}"
    if row.limit is not None:
        words += f" (goal {'>=' if row.at_least else '<='} {_ratio_text(row.limit)})"
    return words


def render_chart(results: Sequence[ScenarioResult], plans: Sequence[Plan] = ()) -> str:
    """An SVG of every contender's ratio to its scenario's baseline, log scale, goals as lines."""
    low, high = _decades(results)

    def x_of(ratio: float) -> float:
        share = (math.log10(ratio) - low) / (high - low)
        return _LABELS + share * (_BARS_END - _LABELS)

    body: list[str] = []
    y = float(_TOP)
    previous = 0
    for entry in _with_unjudged(results, plans):
        ran = previous == entry.number
        previous = entry.number
        if isinstance(entry, Plan):
            if ran:
                y -= 6  # under the scenario's own rows, no heading of its own
            else:
                body.append(_text(8, y + 17, f"{entry.number}. {entry.name}", font_weight="bold"))
                y += _HEADING
            for goal in entry.goals:
                words = f"{goal}: {NOT_MEASURED}"
                body.append(_text(24, y + 14, words, fill="#6b7280", font_style="italic"))
                y += _ROW
            y += 6
            continue
        rows = [row for row in entry.rows if _charted(row)]
        if not rows:
            continue
        body.append(_text(8, y + 17, _label(entry), font_weight="bold"))
        y += _HEADING
        for row in rows:
            ratio = row.ratio if row.ratio is not None else 1.0
            middle = y + _ROW / 2
            body.append(_text(_LABELS - 8, middle + 4, row.contender, text_anchor="end"))
            left, right = sorted((x_of(1.0), x_of(ratio)))
            colour = _COLOURS[row.verdict]
            if row.verdict is Verdict.BASELINE:
                body.append(
                    f'<circle cx="{x_of(1.0):.1f}" cy="{middle:.1f}" r="4" fill="{colour}"/>'
                )
            else:
                body.append(
                    f'<rect x="{left:.1f}" y="{y + 4:.1f}" width="{max(right - left, 1.0):.1f}" '
                    f'height="{_ROW - 8}" fill="{colour}"/>'
                )
            if row.limit is not None and row.limit > 0:
                at = x_of(row.limit)
                body.append(
                    f'<line x1="{at:.1f}" y1="{y + 1:.1f}" x2="{at:.1f}" y2="{y + _ROW - 1:.1f}" '
                    'stroke="#111827" stroke-width="2.5"/>'
                )
            body.append(_text(_BARS_END + 10, middle + 4, _figure_text(row)))
            y += _ROW
        y += 6
    axis: list[str] = []
    for power in range(low, high + 1):
        at = x_of(10.0**power)
        stroke = "#6b7280" if power == 0 else "#e5e7eb"
        axis.append(
            f'<line x1="{at:.1f}" y1="{_TOP - 6}" x2="{at:.1f}" y2="{y:.1f}" stroke="{stroke}"/>'
        )
        axis.append(_text(at, _TOP - 10, f"{10.0**power:g}x", text_anchor="middle"))
    legend = [
        _text(
            8, 20, "Median over the scenario's baseline (log scale), one run", font_weight="bold"
        ),
    ]
    x = 8.0
    for verdict, words in (
        (Verdict.MET, "goal met"),
        (Verdict.MISSED, "goal missed"),
        (Verdict.INFO, "no goal"),
    ):
        legend.append(
            f'<rect x="{x:.1f}" y="30" width="12" height="12" fill="{_COLOURS[verdict]}"/>'
        )
        legend.append(_text(x + 16, 40, words))
        x += 110
    legend.append(
        f'<line x1="{x:.1f}" y1="29" x2="{x:.1f}" y2="43" stroke="#111827" stroke-width="2.5"/>'
    )
    legend.append(_text(x + 8, 40, "the goal's bound (a ratio goal)"))
    height = int(y) + 10
    return "\n".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{_WIDTH}" height="{height}" '
            f'viewBox="0 0 {_WIDTH} {height}" font-family="sans-serif" font-size="11">',
            f'<rect width="{_WIDTH}" height="{height}" fill="#ffffff"/>',
            *legend,
            *axis,
            *body,
            "</svg>",
            "",
        ]
    )
