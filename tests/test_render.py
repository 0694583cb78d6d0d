"""What the renderer shows, through the commands: sorting and cutting what is shown, chosen
columns, each page of a grid, colours only on a terminal; and beside it the help's examples
and the logs, quiet unless asked for.

The commands run in-process against the fake server in thread mode, like
``tests/test_cli.py``; a terminal is a pseudo-terminal from ``os.openpty``.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import shlex
import threading
import time
from decimal import Decimal
from typing import Any

import pytest

from openrouter_bench.cli import _COMMANDS, _sort_values_joined, build_parser, main
from openrouter_bench.errors import ConfigurationError
from openrouter_bench.fake import FakeOpenRouter
from openrouter_bench.query import Query
from openrouter_bench.records import field_value
from openrouter_bench.render import ItemView, Palette, _item_fields, render_page
from tests.conftest import on_terminal, page_from, run_cli

ANSI = re.compile(r"\x1b\[[0-9;]*m")
ERROR_PREFIX = "openrouter-bench: error: "
DA_SVG = ("--source", "design-arena", "--category", "svg")
SVG_PARAMS = Query(source="design-arena", category="svg").params
QUIET = ("--quota", "off")


run = run_cli


@pytest.fixture
def api(api: FakeOpenRouter, monkeypatch: pytest.MonkeyPatch) -> FakeOpenRouter:
    """The shared CLI environment (conftest's ``api``) plus a colour terminal type."""
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    return api


def table_rows(text: str) -> list[list[str]]:
    """The body rows of a table, split on its two-space column gaps."""
    lines = text.split("\n\n", 1)[0].splitlines()[1:]
    return [re.split(r"\s{2,}", line.strip()) for line in lines]


# --- help -------------------------------------------------------------------------------------


def examples_of(help_text: str) -> list[list[str]]:
    """The example command lines of a --help, without leading variable assignments."""
    section = help_text.split("\nexamples:\n", 1)[1].split("\n\n", 1)[0]
    commands = []
    for line in section.splitlines():
        words = shlex.split(line)
        while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):
            words.pop(0)
        commands.append(words)
    return commands


@pytest.mark.parametrize("command", [(), *((name,) for name in sorted(_COMMANDS))])
def test_every_help_has_examples_that_parse(api: FakeOpenRouter, command: tuple[str, ...]) -> None:
    """--help of the program and of each command ends with examples the parser accepts."""
    result = run(*command, "--help")
    assert result.code == 0
    examples = examples_of(result.out)
    assert examples, result.out
    for words in examples:
        assert words[0] == "openrouter-bench"
        assert words[1] in _COMMANDS, words
        # As main() reads it; argparse exits (a failure here) if an example is wrong.
        build_parser().parse_args(_sort_values_joined(words[1:]))
    if command:
        assert any(words[1] == command[0] for words in examples)
    assert api.requests == []


@pytest.mark.parametrize("command", ["get", "grid", "watch"])
def test_help_explains_output_and_logging_options(api: FakeOpenRouter, command: str) -> None:
    """The data commands document every format, the sort direction, --top, -v and --debug."""
    text = " ".join(run(command, "--help").out.split())
    for fragment in ("table", "json", "csv", "ndjson", "-v, --verbose", "--debug", "NO_COLOR"):
        assert fragment in text, fragment
    if command != "watch":
        assert "largest first" in text
        assert "-FIELD for smallest first" in text
        assert "--top N" in text


# --- sorting and cutting ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sort", "reverse"),
    [
        pytest.param(("--sort", "win_rate"), True, id="largest-first"),
        pytest.param(("--sort", "-win_rate"), False, id="dash-as-its-own-word"),
        pytest.param(("--sort=-win_rate",), False, id="dash-after-equals"),
    ],
)
def test_sort_orders_by_any_field(
    api: FakeOpenRouter, sort: tuple[str, ...], reverse: bool
) -> None:
    """--sort FIELD is largest first, -FIELD smallest first, however the value is written."""
    result = run("get", *DA_SVG, *sort, "--format", "json")
    assert result.code == 0, result.err
    shown = [item["win_rate"] for item in json.loads(result.out)["data"]]
    expected = sorted(
        (item["win_rate"] for item in api.payload(SVG_PARAMS)["data"]), reverse=reverse
    )
    assert shown == expected


def test_sorting_changes_neither_the_request_nor_the_cache(api: FakeOpenRouter) -> None:
    """Sorted and cut views of one ranking send one request, with the query's own parameters."""
    plain = run("get", *DA_SVG, "--format", "json")
    sorted_ = run("get", *DA_SVG, "--sort", "-elo", "--top", "3", "--format", "json")
    again = run("get", *DA_SVG, "--format", "json")
    assert plain.code == sorted_.code == again.code == 0
    assert [dict(record.params) for record in api.requests] == [SVG_PARAMS]
    assert json.loads(again.out) == json.loads(plain.out) == api.payload(SVG_PARAMS)
    cut = json.loads(sorted_.out)
    assert cut["meta"] == api.payload(SVG_PARAMS)["meta"]
    assert len(cut["data"]) == 3


@pytest.mark.parametrize("fmt", ["table", "json", "csv", "ndjson"])
def test_top_cuts_every_format_after_sorting(api: FakeOpenRouter, fmt: str) -> None:
    """--top N shows the first N items after --sort, in every format."""
    result = run("get", *DA_SVG, "--sort", "avg_generation_time_ms", "--top", "4", "--format", fmt)
    assert result.code == 0, result.err
    items = api.payload(SVG_PARAMS)["data"]
    timed = [item for item in items if item["avg_generation_time_ms"] is not None]
    best = sorted(timed, key=lambda item: -item["avg_generation_time_ms"])[:4]
    models = [item["model_permaslug"] for item in best]
    if fmt == "json":
        shown = [item["model_permaslug"] for item in json.loads(result.out)["data"]]
    elif fmt == "ndjson":
        shown = [json.loads(line)["model_permaslug"] for line in result.out.splitlines()]
    elif fmt == "csv":
        shown = [row["model_permaslug"] for row in csv.DictReader(io.StringIO(result.out))]
    else:
        shown = [row[1] for row in table_rows(result.out)]
        assert f"4 of {len(items)} items, sorted by avg_generation_time_ms, largest first" in (
            result.out
        )
    assert shown == models


def test_a_table_sorted_by_a_hidden_field_shows_it(api: FakeOpenRouter) -> None:
    """Sorting a table by a field its usual columns leave out adds that column at the end."""
    result = run("get", *DA_SVG, "--sort", "tournament_stats.first_place", "--top", "3")
    assert result.code == 0, result.err
    header = result.out.splitlines()[0]
    assert header.split()[-1] == "tournament_stats.first_place"
    assert "elo" in header.split()
    firsts = [int(row[-1]) for row in table_rows(result.out)]
    assert firsts == sorted(firsts, reverse=True)


def test_items_without_a_value_come_last_either_way(api: FakeOpenRouter) -> None:
    """Items with a null (or absent) sort field follow the others, in the server's order."""
    page = page_from(api, {"source": "design-arena", "arena": "models"})
    for sort in ("pricing.prompt", "-pricing.prompt"):
        shown = ItemView(sort=sort).apply(page.items)
        values = [field_value(item, "pricing.prompt") for item in shown]
        priced = [value for value in values if value is not None]
        assert values[: len(priced)] == sorted(priced, reverse=not sort.startswith("-"))
        unpriced = [item for item in page.items if field_value(item, "pricing.prompt") is None]
        assert unpriced
        assert list(shown[len(priced) :]) == unpriced


def test_prices_sort_as_numbers_and_ties_keep_the_servers_order(api: FakeOpenRouter) -> None:
    """Decimal prices compare by value, not as text; equal values keep their order."""
    page = page_from(api, {"source": "artificial-analysis"})
    shown = ItemView(sort="-pricing.prompt").apply(page.items)
    prices = [field_value(item, "pricing.prompt") for item in shown]
    known = [price for price in prices if price is not None]
    assert all(isinstance(price, Decimal) for price in known)
    assert known == sorted(known)
    for price in set(known):
        tied = [item for item in shown if field_value(item, "pricing.prompt") == price]
        assert tied == [item for item in page.items if item in tied]


def test_a_mixed_page_sorts_what_has_the_field(api: FakeOpenRouter) -> None:
    """On an all-sources page, --sort elo ranks the Design Arena items; the rest follow."""
    page = page_from(api, {})
    shown = ItemView(sort="elo").apply(page.items)
    arena = [item for item in shown if item.source == "design-arena"]
    assert list(shown[: len(arena)]) == arena
    assert [field_value(item, "elo") for item in arena] == sorted(
        (field_value(item, "elo") for item in arena), reverse=True
    )
    assert list(shown[len(arena) :]) == [item for item in page.items if item not in arena]


def test_rendering_a_view_leaves_the_page_alone(api: FakeOpenRouter) -> None:
    """The view reorders copies: the page's own items keep the server's order."""
    page = page_from(api, SVG_PARAMS)
    before = page.items
    render_page(page, "json", ItemView(sort="-elo", top=2))
    assert page.items is before
    assert [item.model_permaslug for item in page.items] == [
        item["model_permaslug"] for item in api.payload(SVG_PARAMS)["data"]
    ]


# --- columns ----------------------------------------------------------------------------------


def test_columns_pick_the_tables_columns_in_order(api: FakeOpenRouter) -> None:
    """--columns shows those fields, in that order, after the rank."""
    result = run("get", *DA_SVG, "--columns", "display_name,win_rate,elo", "--top", "2")
    assert result.code == 0, result.err
    assert result.out.splitlines()[0].split() == ["#", "display_name", "win_rate", "elo"]
    items = api.payload(SVG_PARAMS)["data"][:2]
    assert table_rows(result.out) == [
        [str(rank), item["display_name"], f"{item['win_rate']:.4g}", f"{item['elo']:.0f}"]
        for rank, item in enumerate(items, start=1)
    ]


def test_columns_pick_the_csv_columns(api: FakeOpenRouter) -> None:
    """In CSV, --columns gives exactly those columns, values as the server sent them."""
    result = run("get", *DA_SVG, "--columns", "model_permaslug,pricing.prompt", "--format", "csv")
    assert result.code == 0, result.err
    reader = csv.DictReader(io.StringIO(result.out))
    rows = list(reader)
    assert reader.fieldnames == ["model_permaslug", "pricing.prompt"]
    items = api.payload(SVG_PARAMS)["data"]
    assert rows == [
        {
            "model_permaslug": item["model_permaslug"],
            "pricing.prompt": (item["pricing"] or {}).get("prompt") or "",
        }
        for item in items
    ]


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        pytest.param(("--columns", "display_name,elos"), "no field 'elos' to show", id="column"),
        pytest.param(("--sort", "win-rate"), "no field 'win-rate' to sort by", id="sort"),
    ],
)
def test_an_unknown_field_exits_2_listing_the_valid_ones(
    api: FakeOpenRouter, options: tuple[str, ...], fragment: str
) -> None:
    """A wrong field name is one error line that suggests the near one and lists them all."""
    result = run("get", *DA_SVG, *options)
    assert result.code == 2
    assert result.out == ""
    [line] = result.err.splitlines()
    assert line.startswith(ERROR_PREFIX + fragment)
    assert "did you mean" in line
    listed = line.split("valid fields: ", 1)[1].split(", ")
    assert listed == list(_item_fields(page_from(api, SVG_PARAMS).items))
    assert {"elo", "win_rate", "pricing.prompt", "tournament_stats.total"} <= set(listed)


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(("get", *DA_SVG, "--columns", "elo", "--format", "json"), id="get-json"),
        pytest.param(("get", *DA_SVG, "--columns", "elo", "--format", "ndjson"), id="get-ndjson"),
        pytest.param(("grid", *DA_SVG, "--columns", "elo"), id="grid-table"),
        pytest.param(("get", "--columns", "elo,,win_rate"), id="empty-name"),
        pytest.param(("get", "--top", "0"), id="top-0"),
    ],
)
def test_columns_where_they_mean_nothing_are_usage_errors(
    api: FakeOpenRouter, argv: tuple[str, ...]
) -> None:
    """--columns outside table/csv, an empty name or --top 0 exit 2 before any request."""
    result = run(*argv)
    assert result.code == 2
    assert result.err.startswith("usage: openrouter-bench")
    assert api.requests == []


def test_item_fields_without_items_are_every_known_shapes() -> None:
    """With nothing fetched, the valid fields are those of every known item shape."""
    fields = _item_fields(())
    assert {"elo", "coding_index", "accuracy", "primary_score", "run_config.temperature"} <= set(
        fields
    )
    with pytest.raises(ConfigurationError, match="did you mean 'coding_index'"):
        ItemView(sort="coding-index").check(())


# --- grid -----------------------------------------------------------------------------------


def test_grid_sorts_and_cuts_each_page(api: FakeOpenRouter) -> None:
    """grid --sort and --top apply per query; the table's leader follows the sort."""
    grid = ("grid", "--source", "design-arena", "--category", "svg,3d", *QUIET)
    table = run(*grid, "--sort", "-elo")
    as_csv = run(*grid, "--sort", "-elo", "--top", "2", "--format", "csv", "--columns", "elo")
    assert table.code == as_csv.code == 0, table.err + as_csv.err
    rows = list(csv.DictReader(io.StringIO(as_csv.out)))
    for category in ("svg", "3d"):
        items = api.payload({"source": "design-arena", "category": category})["data"]
        last = sorted(items, key=lambda item: item["elo"])
        key = Query(source="design-arena", category=category).key
        assert [row["elo"] for row in rows if row["query"] == key] == [
            str(item["elo"]) for item in last[:2]
        ]
        [line] = [line for line in table.out.splitlines() if f" {category} " in line]
        assert line.rstrip().endswith(f"#1 {last[0]['display_name']} ({last[0]['elo']:.1f})")
    assert list(rows[0]) == ["query", "elo"]
    # Both categories cut from the models page, once; the second run reads it from the cache.
    assert [r.params for r in api.requests] == [{"source": "design-arena", "arena": "models"}]


# --- colours ----------------------------------------------------------------------------------


def test_a_table_on_a_terminal_has_a_bold_header(api: FakeOpenRouter) -> None:
    """On a terminal the header is bold; without colours the text is the same."""
    code, shown, _ = on_terminal(["get", *DA_SVG, "--top", "3", "--no-cache"], stream="out")
    plain = run("get", *DA_SVG, "--top", "3", "--no-cache")
    assert code == plain.code == 0
    assert shown.splitlines()[0].startswith("\x1b[1m#  model")
    assert ANSI.sub("", shown) == plain.out
    assert "\x1b[" not in plain.out


def test_a_stale_page_is_yellow_on_a_terminal(api: FakeOpenRouter) -> None:
    """The STALE line of a table is coloured on a terminal."""
    assert run("get", *DA_SVG).code == 0
    api.script(503)
    code, shown, _ = on_terminal(["get", *DA_SVG, "--refresh", "--retries", "0"], stream="out")
    assert code == 0
    assert "\x1b[33mSTALE: the refresh failed" in shown


@pytest.mark.parametrize("fmt", ["json", "csv", "ndjson"])
def test_data_formats_are_never_coloured(api: FakeOpenRouter, fmt: str) -> None:
    """csv, json and ndjson carry no escape codes, even on a terminal."""
    code, shown, _ = on_terminal(["get", *DA_SVG, "--format", fmt], stream="out")
    assert code == 0
    assert shown.strip()
    assert "\x1b[" not in shown


def test_no_color_turns_colours_off(api: FakeOpenRouter, monkeypatch: pytest.MonkeyPatch) -> None:
    """NO_COLOR set to anything keeps the table and the error line plain on a terminal."""
    monkeypatch.setenv("NO_COLOR", "1")
    code, table, _ = on_terminal(["get", *DA_SVG], stream="out")
    api.script(401)
    failed, error, _ = on_terminal(["get", *DA_SVG, "--refresh"], stream="err")
    assert (code, failed) == (0, 3)
    assert table.split()[:2] == ["#", "model"]
    [line] = error.splitlines()
    assert line.startswith(ERROR_PREFIX)
    assert "\x1b[" not in table + error


def test_an_error_on_a_terminal_has_a_red_prefix(api: FakeOpenRouter) -> None:
    """The one error line starts with a red prefix on a terminal, and is still one line."""
    api.script(401)
    code, shown, out = on_terminal(["get", *DA_SVG], stream="err")
    assert code == 3
    assert out == ""
    [line] = shown.splitlines()
    assert line.startswith("\x1b[31mopenrouter-bench: error:\x1b[0m ")


def test_a_grid_table_on_a_terminal_marks_errors_red(api: FakeOpenRouter) -> None:
    """In a grid's table, the header is bold and a failed query's row red; stdout only."""
    api.script(401)
    argv = ["grid", *DA_SVG, "--arena", "models,builders", "--no-cache", "--retries", "0"]
    code, shown, err = on_terminal([*argv, *QUIET], stream="out")
    assert code == 3
    lines = shown.splitlines()
    assert lines[0].startswith("\x1b[1mquery")
    [failed] = [line for line in lines if " error " in line]
    assert failed.startswith("\x1b[31m")
    assert failed.endswith("\x1b[0m")
    [ok] = [line for line in lines if " ok " in line]
    assert "\x1b[" not in ok
    assert "\x1b[" not in err


def test_palette_follows_the_terminal_and_the_environment() -> None:
    """Colours need a terminal, an empty or absent NO_COLOR, and a TERM other than dumb."""

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert Palette.for_stream(Terminal(), {}).enabled
    assert not Palette.for_stream(io.StringIO(), {}).enabled
    assert not Palette.for_stream(Terminal(), {"NO_COLOR": "yes"}).enabled
    assert Palette.for_stream(Terminal(), {"NO_COLOR": ""}).enabled
    assert not Palette.for_stream(Terminal(), {"TERM": "dumb"}).enabled
    assert Palette(enabled=False).red("x") == "x"
    assert Palette(enabled=True).red("x") == "\x1b[31mx\x1b[0m"


# --- logging ----------------------------------------------------------------------------------


def test_retries_are_quiet_by_default(api: FakeOpenRouter) -> None:
    """A retried call prints its page and nothing on stderr; a failed one exactly one line."""
    api.script(503)
    recovered = run("get", *DA_SVG, "--retries", "1", "--no-cache")
    api.script(503, 502)
    failed = run("get", *DA_SVG, "--retries", "1", "--no-cache")
    assert recovered.code == 0
    assert recovered.err == ""
    assert failed.code == 5
    [line] = failed.err.splitlines()
    assert line.startswith(ERROR_PREFIX)
    assert "after 2 attempts" in line


def test_verbose_shows_retries_and_stale_serves(api: FakeOpenRouter) -> None:
    """-v logs each retry and each stale serve, and the error line stays the last."""
    api.script(503)
    retried = run("get", *DA_SVG, "--retries", "1", "-v")
    api.script(503)
    stale = run("get", *DA_SVG, "--retries", "0", "--refresh", "--verbose")
    assert retried.code == stale.code == 0
    assert re.search(r"^WARNING openrouter_bench\.retry: .*attempt 1 of 2", retried.err, re.M)
    assert re.search(r"^WARNING openrouter_bench\.cache: serving a stale snapshot", stale.err, re.M)
    assert "DEBUG" not in retried.err + stale.err
    assert "STALE" in stale.out


def test_debug_shows_everything(api: FakeOpenRouter) -> None:
    """--debug adds the debug logs, such as each response the client read."""
    result = run("get", *DA_SVG, "--debug", "--no-cache")
    assert result.code == 0
    assert re.search(r"^DEBUG openrouter_bench\.client: GET ", result.err, re.M)


def wait_for(condition: Any, what: str) -> None:
    """Until ``condition()`` holds (bounded: 10 s)."""
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.01)


def watch_in_thread(argv: list[str]) -> tuple[threading.Thread, dict[str, Any]]:
    """Run a watch command in its own thread; its outcome lands in the returned dict."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        out, err = io.StringIO(), io.StringIO()
        outcome["code"] = main(argv, stdout=out, stderr=err)
        outcome["out"], outcome["err"] = out.getvalue(), err.getvalue()

    thread = threading.Thread(target=target)
    thread.start()
    return thread, outcome


WATCH = ["watch", "--source", "design-arena", "--category", "gamedev", "--every", "0.02"]


def test_watch_shows_its_failed_polls_by_default(api: FakeOpenRouter) -> None:
    """A watch carries on after a failed poll, so it says so even without -v."""
    thread, outcome = watch_in_thread([*WATCH, "--count", "1", "--retries", "0", "--no-cache"])
    wait_for(lambda: len(api.requests) >= 1, "the baseline")
    api.script(503)
    wait_for(lambda: any(record.status == 503 for record in api.requests), "the failed poll")
    api.publish()
    thread.join(timeout=20)
    assert not thread.is_alive()
    assert outcome["code"] == 0, outcome["err"]
    assert re.search(r"^WARNING openrouter_bench\.watch: .*poll failed", outcome["err"], re.M)
    assert "new data as of" in outcome["out"]
    assert logging.getLogger("openrouter_bench.watch").level == logging.NOTSET


@pytest.mark.parametrize("fmt", ["table", "csv", "ndjson"])
def test_watch_prints_each_change_in_the_format_asked(api: FakeOpenRouter, fmt: str) -> None:
    """table: a titled table per change; csv: one header, a row per change; ndjson: a line."""
    thread, outcome = watch_in_thread([*WATCH, "--count", "2", "--format", fmt, "--no-cache"])
    before = api.payload({"source": "design-arena", "category": "gamedev"})
    wait_for(lambda: len(api.requests) >= 1, "the baseline")
    api.publish()
    # Two polls after the publish: the second surely began after it, and saw it.
    seen = len(api.requests)
    wait_for(lambda: len(api.requests) >= seen + 2, "two more polls")
    api.publish()
    thread.join(timeout=20)
    assert outcome["code"] == 0, outcome["err"]
    text: str = outcome["out"]
    citation = before["meta"]["citation"]
    if fmt == "ndjson":
        first, second = (json.loads(line) for line in text.splitlines())
        assert first["new_as_of"] == second["old_as_of"]
    elif fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(text)))
        assert text.count("new_as_of,old_as_of,change,") == 1
        assert len({row["new_as_of"] for row in rows}) == 2
        assert {row["change"] for row in rows} <= {"new #1", "entered", "left", "moved"}
        moved = [row for row in rows if row["change"] == "moved"]
        assert moved
        assert all(row["old_rank"] and row["new_rank"] for row in moved)
    else:
        assert text.count("new data as of") == 2
        assert text.count("change   ranking") == 2
        assert text.count(f"source: {citation}") == 2
        assert "\x1b[" not in text
