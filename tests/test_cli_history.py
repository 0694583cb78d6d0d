"""The history command: a model's standing over the snapshots the CLI's own store kept."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any, Final

import orjson
import pytest

from openrouter_bench.fake import FakeOpenRouter
from openrouter_bench.render import FORMATS
from tests.conftest import on_terminal, run_cli

WHERE: Final = ("--source", "design-arena", "--arena", "models", "--category", "gamedev")
PARAMS: Final = {"source": "design-arena", "arena": "models", "category": "gamedev"}
SNAPSHOTS: Final = 6
SPARKS: Final = set("▁▂▃▄▅▆▇█")


@pytest.fixture
def six_runs(api: FakeOpenRouter) -> list[datetime]:
    """Six separate runs of get, the fake publishing between them; the as_of seen."""
    for n in range(SNAPSHOTS):
        if n:
            api.publish()
        assert run_cli("get", *WHERE, "--refresh").code == 0
    return api.published


def leader(api: FakeOpenRouter, as_of: datetime) -> dict[str, Any]:
    """The first item of the fake's gamedev body at ``as_of``."""
    first: dict[str, Any] = api.payload_at(as_of, PARAMS)["data"][0]
    return first


def expected_points(api: FakeOpenRouter, published: list[datetime], model: str) -> list[Any]:
    """(rank, elo) of ``model`` in each snapshot, in the fake's own bodies (None: absent)."""
    points: list[Any] = []
    for as_of in published:
        data = api.payload_at(as_of, PARAMS)["data"]
        found = [(n, i["elo"]) for n, i in enumerate(data, 1) if i["model_permaslug"] == model]
        points.append(found[0] if found else (None, None))
    return points


def test_every_format_holds_the_kept_snapshots(
    api: FakeOpenRouter, six_runs: list[datetime]
) -> None:
    """table, json, csv and ndjson give the six snapshots' ranks and scores, sending nothing."""
    item = leader(api, six_runs[0])
    model, name = item["model_permaslug"], item["display_name"]
    expected = expected_points(api, six_runs, model)
    sent = len(api.requests)
    outputs = {fmt: run_cli("history", name, *WHERE, "--format", fmt) for fmt in FORMATS}
    assert len(api.requests) == sent  # the current snapshot was fresh in the store
    for fmt, run in outputs.items():
        assert run.code == 0, (fmt, run.err)
        assert f"{SNAPSHOTS} snapshots" in run.err
    document = orjson.loads(outputs["json"].out)
    (series,) = document["series"]
    assert series["model"] == model
    assert [(p["rank"], p["score"]) for p in series["points"]] == expected
    assert [p["as_of"] for p in series["points"]] == [a.isoformat() for a in six_runs]
    rows = list(csv.DictReader(io.StringIO(outputs["csv"].out)))
    assert [(int(r["rank"]), float(r["score"])) for r in rows if r["rank"]] == [
        point for point in expected if point[0] is not None
    ]
    assert len(rows) == SNAPSHOTS
    lines = [orjson.loads(line) for line in outputs["ndjson"].out.splitlines()]
    assert [(line["rank"], line["score"]) for line in lines] == expected
    table = outputs["table"].out
    assert f"({model}) in design-arena models/gamedev" in table
    assert len([line for line in table.splitlines() if line[:1].isdigit()]) == SNAPSHOTS
    assert not SPARKS & set(table)  # piped: no chart


def test_a_sparkline_is_drawn_on_a_terminal_only(
    api: FakeOpenRouter, six_runs: list[datetime]
) -> None:
    """On a terminal the table is headed by a sparkline of six cells; piped, it is not."""
    name = leader(api, six_runs[0])["display_name"]
    code, shown, _ = on_terminal(["history", name, *WHERE], stream="out")
    assert code == 0
    (spark,) = [line for line in shown.splitlines() if line.startswith("score ")]
    cells = spark.split()[1]
    assert len(cells) == SNAPSHOTS
    assert set(cells) <= SPARKS | {"·"}
    assert SPARKS & set(cells)
    code, shown, _ = on_terminal(["history", name, *WHERE, "--format", "csv"], stream="out")
    assert code == 0
    assert not SPARKS & set(shown)


def test_changes_between_snapshot_1_and_5(api: FakeOpenRouter, six_runs: list[datetime]) -> None:
    """--changes 1 5 reports the change from the first to the fifth snapshot, in every format."""
    for fmt in FORMATS:
        run = run_cli("history", "--changes", "1", "5", *WHERE, "--format", fmt)
        assert run.code == 0, (fmt, run.err)
        assert run.out
    document = orjson.loads(
        run_cli("history", "--changes", "1", "-2", *WHERE, "--format", "json").out
    )
    assert document["old_as_of"] == six_runs[0].isoformat()
    assert document["new_as_of"] == six_runs[4].isoformat()
    assert document["moves"]


def test_an_unknown_model_exits_7_with_suggestions(
    api: FakeOpenRouter, six_runs: list[datetime]
) -> None:
    """A misspelt name exits with 2 and the close names, as a snapshot out of range does."""
    name = leader(api, six_runs[0])["display_name"]
    run = run_cli("history", name[:-1] + "q", *WHERE)
    assert run.code == 2
    assert "did you mean" in run.err
    assert run_cli("history", "--changes", "1", "99", *WHERE).code == 2


@pytest.mark.parametrize(
    "argv", [["history", *WHERE], ["history", "x", "--changes", "1", "2", *WHERE]]
)
def test_a_name_or_changes_is_required_not_both(api: FakeOpenRouter, argv: list[str]) -> None:
    """Neither a NAME nor --changes, or both, is a usage error before any request."""
    run = run_cli(*argv)
    assert run.code == 2
    assert "--changes" in run.err
    assert api.requests == []
