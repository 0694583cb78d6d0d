"""The table "Hostile server and poisoned cache" of ``docs/reliability.md``, from a real run.

    python -m benchmarks.hostile               # run the cases, print the section
    python -m benchmarks.hostile --write-docs  # and write it into docs/reliability.md

Every row is a test under ``tests/hostile/`` marked
``@pytest.mark.hostile(case=..., expected=...)``: the test asserts the
expected outcome, and what it reports through its ``observe`` fixture is the
row's *observed* column. This command runs that folder with
``HOSTILE_REPORT`` set, so a row appears only when its test passed, and
refuses to write the page if any test failed. The section sits between two
marker comments; ``python -m benchmarks.soak --write-docs`` keeps it as it is.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Final

from benchmarks import loop_stall
from openrouter_bench import transport

ROOT: Final = Path(__file__).resolve().parent.parent
DOCS: Final = ROOT / "docs" / "reliability.md"
CASES: Final = ROOT / "tests" / "hostile"

START: Final = "<!-- hostile:start (python -m benchmarks.hostile --write-docs) -->"
END: Final = "<!-- hostile:end -->"


def marked_cases(folder: Path = CASES) -> list[tuple[str, str]]:
    """``(case, expected)`` of every hostile marker of the tests in ``folder``.

    Read off the test functions themselves (imported, not run), so a marker put
    on a ``pytest.param`` of a parametrized test counts as well as one on a test.
    """
    found: list[tuple[str, str]] = []
    package = ".".join(folder.relative_to(ROOT).parts)
    for path in sorted(folder.glob("test_*.py")):
        module = importlib.import_module(f"{package}.{path.stem}")
        for name, test in sorted(vars(module).items()):
            if name.startswith("test_") and callable(test):
                found += [_words(mark) for mark in _hostile_marks(test)]
    return found


def _hostile_marks(test: Any) -> Iterable[Any]:
    for mark in getattr(test, "pytestmark", ()):
        if mark.name == "hostile":
            yield mark
        elif mark.name == "parametrize":
            values = mark.args[1] if len(mark.args) > 1 else mark.kwargs.get("argvalues", ())
            for value in values:
                yield from (m for m in getattr(value, "marks", ()) if m.name == "hostile")


def _words(mark: Any) -> tuple[str, str]:
    return str(mark.kwargs.get("case")), str(mark.kwargs.get("expected"))


def run_cases(extra: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Run ``tests/hostile`` with a report file; the rows of the tests that passed."""
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "rows.jsonl"
        environment = {**os.environ, "HOSTILE_REPORT": str(report)}
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(CASES)]
        # The check that the page matches these cases reads the page this run is to write.
        command.append(f"--ignore={CASES / 'test_table.py'}")
        # Our own interpreter running our own test folder: no outside input reaches the command.
        finished = subprocess.run(  # noqa: S603
            [*command, *extra], cwd=ROOT, env=environment, check=False
        )
        if finished.returncode != 0:
            raise SystemExit(f"tests/hostile failed (exit {finished.returncode}); page not written")
        lines = report.read_text(encoding="utf-8").splitlines() if report.exists() else []
    return [json.loads(line) for line in lines]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_rows(rows: Iterable[dict[str, Any]]) -> str:
    """The markdown table: case, expected, observed, time (and deadline where one bounds it)."""
    lines = [
        "| Case | Expected | Observed | Time |",
        "|---|---|---|---:|",
    ]
    for row in sorted(rows, key=lambda row: (row["test"].split("::")[0], row["case"])):
        time = f"{row['seconds']:.2f} s"
        if row.get("deadline") is not None:
            time += f" (deadline {row['deadline']:g} s)"
        lines.append(
            f"| {_cell(row['case'])} | {_cell(row['expected'])} | "
            f"{_cell(row['observed'])} | {time} |"
        )
    return "\n".join(lines) + "\n"


def slowest_against_deadline(rows: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    """The row whose time came closest to (or furthest past) its deadline, as a share of it."""
    bounded = [row for row in rows if row.get("deadline")]
    return max(bounded, key=lambda row: row["seconds"] / row["deadline"], default=None)


def measure_figures() -> dict[str, Any]:
    """The bomb's cost and the loop stalls at the default cap (benchmarks/loop_stall.py)."""
    bomb = asyncio.run(loop_stall.measure_bomb())
    measured = asyncio.run(loop_stall.stalls(quick=False))
    return {
        "bomb": bomb,
        "stalls": {label: {k: max(v) for k, v in samples.items()} for label, samples in measured},
    }


def render_figures(figures: dict[str, Any], rows: Sequence[dict[str, Any]]) -> str:
    """The three figures the section leads with, each with the command that measures it."""
    bomb = figures["bomb"]
    lines = [
        "| Figure | Value | Measured with |",
        "|---|---|---|",
        f"| peak RSS under the largest bomb ({bomb['inflated_bytes'] / 2**30:.0f} GiB of zeros, "
        f"about {bomb['compressed_bytes_about'] / 2**20:.0f} MiB of gzip) "
        f"| +{bomb['peak_rss_growth_bytes'] / 2**20:.1f} MiB, refused in {bomb['seconds']:.2f} s "
        "| `python -m benchmarks.loop_stall --bomb` |",
    ]
    for label, worst in figures["stalls"].items():
        off = max(value for name, value in worst.items() if name.startswith("parsed off"))
        on = max(value for name, value in worst.items() if name.startswith("parsed on"))
        idle = max(value for name, value in worst.items() if name.startswith("no request"))
        lines.append(
            f"| longest loop stall, a body at the {transport.DEFAULT_MAX_RESPONSE_BYTES // 2**20} "
            f"MiB default cap ({label}) | {off * 1e3:.0f} ms (on the loop: {on * 1e3:.0f} ms; "
            f"the machine idle: {idle * 1e3:.0f} ms) | `python -m benchmarks.loop_stall` |"
        )
    slowest = slowest_against_deadline(rows)
    if slowest is not None:
        lines.append(
            f"| the slowest call against its deadline | {slowest['seconds']:.2f} s of "
            f"{slowest['deadline']:g} s ({slowest['case']}) | "
            "`python -m benchmarks.hostile` |"
        )
    return "\n".join(lines) + "\n"


def render_section(rows: Sequence[dict[str, Any]], figures: dict[str, Any] | None = None) -> str:
    """The whole marked section, ready to stand in the page."""
    bound = "" if figures is None else render_figures(figures, rows) + "\n"
    return (
        f"{START}\n"
        "## Hostile server and poisoned cache\n\n"
        "A broken server is the fault matrix above; this is a malicious or badly\n"
        "misconfigured one (a compromised proxy, a captive portal) and a shared cache\n"
        "that someone else can write. Each row is a test in `tests/hostile/`, run\n"
        "against `openrouter_bench.fake.hostile.HostileServer` (raw bytes on loopback),\n"
        "the fake server, or real Redis, memcached and SQLite; it asserts *Expected*,\n"
        "and *Observed* is what that run reported. Generated by\n"
        "`python -m benchmarks.hostile --write-docs`.\n\n"
        f"{bound}"
        f"{render_rows(rows)}\n"
        f"{END}\n"
    )


def section_in(text: str) -> str | None:
    """The marked section of a page's text, markers included, or None."""
    start = text.find(START)
    end = text.find(END, start)
    if start < 0 or end < 0:
        return None
    return text[start : end + len(END)] + "\n"


def with_section(text: str, section: str) -> str:
    """``text`` with its marked section replaced by ``section`` (appended when it has none)."""
    current = section_in(text)
    if current is None:
        return text.rstrip("\n") + "\n\n" + section
    return text.replace(current, section)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the cases; print the section, or write it into the page."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.hostile", description=__doc__)
    parser.add_argument("--write-docs", action="store_true", help=f"write the section into {DOCS}")
    args = parser.parse_args(argv)
    figures = measure_figures()  # first: the bomb's peak RSS is this process's own
    rows = run_cases()
    missing = {case for case, _ in marked_cases()} - {row["case"] for row in rows}
    if missing:
        raise SystemExit(f"these cases reported nothing: {sorted(missing)}")
    section = render_section(rows, figures)
    if args.write_docs:
        DOCS.write_text(with_section(DOCS.read_text(encoding="utf-8"), section), encoding="utf-8")
        print(f"wrote {DOCS.relative_to(ROOT)}", file=sys.stderr)
    else:
        print(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
