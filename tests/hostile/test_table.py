"""The table of docs/reliability.md is these tests' own: every case there, and nothing else."""

from __future__ import annotations

from benchmarks.hostile import (
    DOCS,
    END,
    START,
    marked_cases,
    render_rows,
    section_in,
    slowest_against_deadline,
    with_section,
)


def _documented_cases() -> list[str]:
    section = section_in(DOCS.read_text(encoding="utf-8"))
    assert section is not None, "run python -m benchmarks.hostile --write-docs"
    rows = section.split("| Case | Expected | Observed | Time |", 1)[1].splitlines()[2:]
    table = [row for row in rows if row.startswith("| ")]
    return [row.split(" | ")[0].removeprefix("| ").replace("\\|", "|") for row in table]


def test_every_hostile_case_has_a_row_in_the_docs_and_every_row_a_case() -> None:
    """The page shows each marked case at least once and no case that is gone."""
    marked = {case for case, _ in marked_cases()}
    documented = set(_documented_cases())
    assert marked, "no hostile cases found"
    assert marked - documented == set(), "regenerate: python -m benchmarks.hostile --write-docs"
    assert documented - marked == set(), "regenerate: python -m benchmarks.hostile --write-docs"


def test_the_cases_are_read_off_tests_and_their_params() -> None:
    """A marker on a test and a marker on a pytest.param of a parametrized test both count."""
    cases = dict(marked_cases())
    assert cases["the hostile server echoes a request header"] == "it is read back"
    assert "garbage instead of a status line" in cases  # a pytest.param's marker


def test_rows_render_escaped_and_the_section_replaces_itself() -> None:
    """Pipes are escaped; a deadline shows beside the time; the marked section is swapped whole."""
    rows = [
        {"test": "t::a", "case": "x|y", "expected": "e", "observed": "o", "seconds": 1.5},
        {
            "test": "t::b",
            "case": "z",
            "expected": "e",
            "observed": "o",
            "seconds": 0.5,
            "deadline": 5.0,
        },
    ]
    table = render_rows(rows)
    assert "| x\\|y | e | o | 1.50 s |" in table
    assert "| z | e | o | 0.50 s (deadline 5 s) |" in table
    assert slowest_against_deadline(rows) == rows[1]
    page = f"# Title\n\n{START}\nold\n{END}\n\nafter\n"
    replaced = with_section(page, f"{START}\nnew\n{END}\n")
    assert "old" not in replaced
    assert "new" in replaced
    assert replaced.endswith("after\n")
    assert with_section("# Title\n", f"{START}\nnew\n{END}\n").startswith("# Title\n\n<!--")
