"""The command line, run in-process against the fake server in thread mode.

Every run goes through :func:`run`, which also checks that the canary key
shows up in neither stream. The persistent cache lives under ``tmp_path``
(``XDG_CACHE_HOME``), never in the real home directory.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import select
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from openrouter_bench._version import __version__
from openrouter_bench.cli import _COMMANDS
from openrouter_bench.fake import FakeOpenRouter
from openrouter_bench.query import Query
from tests.conftest import CANARY_KEY, Run, run_cli

# The distinctive tail too: a leak may cut a key short.
SECRETS = (CANARY_KEY, CANARY_KEY[-20:])
ERROR_PREFIX = "openrouter-bench: error: "
PROCESS_TIMEOUT = 30.0


def run(*argv: str) -> Run:
    """Run the command line in this process; neither the key nor its tail may be printed."""
    return run_cli(*argv, secrets=SECRETS)


def store_path(tmp_path: Path) -> Path:
    """Where the CLI's persistent store must be, given the test's XDG_CACHE_HOME."""
    return tmp_path / "xdg-cache" / "openrouter-bench" / "snapshots.sqlite3"


def flatten(item: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """An item as the CSV shows it: nested objects as dotted column names."""
    flat: dict[str, Any] = {}
    for key, value in item.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def as_csv_cell(value: Any) -> str:
    return "" if value is None else str(value)


DA_SVG = ("--source", "design-arena", "--category", "svg", "--max-results", "6")
FORMAT_QUERIES = [
    pytest.param(DA_SVG, Query(source="design-arena", category="svg", max_results=6), id="da"),
    pytest.param(
        ("--source", "artificial-analysis", "--task-type", "coding"),
        Query(source="artificial-analysis", task_type="coding"),
        id="aa",
    ),
    pytest.param(
        ("--task-type", "search", "--include-run-config", "--max-results", "9"),
        Query(task_type="search", include_run_config=True, max_results=9),
        id="search",
    ),
    pytest.param(
        ("--source", "openrouter", "--benchmark-type", "gpqa_diamond"),
        Query(source="openrouter", benchmark_type="gpqa_diamond"),
        id="eval",
    ),
    pytest.param((), Query(), id="everything"),
]


# Output formats.


@pytest.mark.parametrize(("options", "query"), FORMAT_QUERIES)
def test_json_is_the_servers_document(
    api: FakeOpenRouter, options: tuple[str, ...], query: Query
) -> None:
    """--format json prints exactly the document the server sent, and sends the query's params."""
    result = run("get", *options, "--format", "json")
    assert result.code == 0, result.err
    assert result.err == ""
    assert json.loads(result.out) == api.payload(query.params)
    assert [record.params for record in api.requests] == [query.params]


@pytest.mark.parametrize(("options", "query"), FORMAT_QUERIES)
def test_csv_has_one_row_per_item_with_flattened_columns(
    api: FakeOpenRouter, options: tuple[str, ...], query: Query
) -> None:
    """--format csv: a header, then one row per item, nested objects as dotted columns."""
    result = run("get", *options, "--format", "csv")
    assert result.code == 0, result.err
    items = api.payload(query.params)["data"]
    reader = csv.DictReader(io.StringIO(result.out))
    rows = list(reader)
    assert len(rows) == len(items) > 0
    flat_items = [flatten(item) for item in items]
    columns = {column for flat in flat_items for column in flat}
    # A column per leaf value; a null object is empty cells under its siblings' columns.
    leaves = {column for column in columns if not any(c.startswith(column + ".") for c in columns)}
    assert reader.fieldnames is not None
    assert set(reader.fieldnames) == leaves
    assert len(reader.fieldnames) == len(leaves)
    for row, flat in zip(rows, flat_items, strict=True):
        assert row == {column: as_csv_cell(flat.get(column)) for column in reader.fieldnames}


def test_csv_flattens_nested_objects_of_each_shape(api: FakeOpenRouter) -> None:
    """Pricing, tournament stats and run configs become dotted columns, not JSON blobs."""
    arena = run("get", *DA_SVG, "--format", "csv").out.splitlines()[0].split(",")
    search = run("get", "--task-type", "search", "--include-run-config", "--format", "csv")
    assert {"pricing.prompt", "pricing.completion", "tournament_stats.total"} <= set(arena)
    assert "pricing" not in arena
    header = search.out.splitlines()[0].split(",")
    assert {"run_config.max_agent_turns", "run_config.temperature"} <= set(header)


@pytest.mark.parametrize(("options", "query"), FORMAT_QUERIES)
def test_ndjson_has_one_item_per_line(
    api: FakeOpenRouter, options: tuple[str, ...], query: Query
) -> None:
    """--format ndjson: one JSON object per line, each the server's item as it was sent."""
    result = run("get", *options, "--format", "ndjson")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert [json.loads(line) for line in lines] == api.payload(query.params)["data"]
    assert result.out.endswith("\n")


def test_table_shows_every_row_in_rank_order(api: FakeOpenRouter) -> None:
    """The table has a header, one ranked row per item with its model and score, and a footer."""
    result = run("get", *DA_SVG)
    assert result.code == 0, result.err
    payload = api.payload(Query(source="design-arena", category="svg", max_results=6).params)
    lines = result.out.splitlines()
    header, rows = lines[0], lines[1 : 1 + len(payload["data"])]
    assert header.split() == ["#", "model", "arena", "category", "elo", "win", "%", "$/M", "input"]
    for rank, (row, item) in enumerate(zip(rows, payload["data"], strict=True), start=1):
        cells = row.split()
        assert cells[:4] == [str(rank), item["model_permaslug"], "models", "svg"]
        assert cells[4] == f"{item['elo']:.0f}"
    assert lines[1 + len(rows)] == ""
    assert "as of 2026-06-03 12:00 UTC, 6 items" in lines
    assert f"source: {payload['meta']['citation']}" in lines


def test_table_of_mixed_sources_places_every_row_in_its_ranking(api: FakeOpenRouter) -> None:
    """An all-sources table groups the rows by ranking, each ranked within its own."""
    result = run("get")
    items = api.payload({})["data"]
    rows = [re.split(r"\s{2,}", line) for line in result.out.splitlines()[1 : 1 + len(items)]]
    groups: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        if item["source"] == "design-arena":
            ranking = f"design-arena {item['arena']}/{item['category']}"
        elif item["source"] == "openrouter":
            ranking = f"openrouter {item['benchmark_type']}"
        else:
            ranking = item["source"]
        groups.setdefault(ranking, []).append(item)
    expected = [
        [str(rank), ranking, item["model_permaslug"]]
        for ranking, members in groups.items()
        for rank, item in enumerate(members, start=1)
    ]
    assert result.code == 0
    assert [row[:3] for row in rows] == expected
    assert len(groups) > 3


# Exit codes and error output.


@pytest.mark.parametrize(
    ("faults", "code", "fragment"),
    [
        pytest.param([400], 2, "400", id="400"),
        pytest.param([401], 3, "401", id="401"),
        pytest.param([403], 3, "403", id="403"),
        pytest.param([402], 4, "402", id="402"),
        pytest.param([429], 4, "429", id="429"),
        pytest.param([500], 5, "500", id="500"),
        pytest.param([503], 5, "503", id="503"),
        pytest.param(["html502"], 5, "502", id="html502"),
        pytest.param(["reset", "reset"], 5, "failed", id="reset"),
        pytest.param(["malformed"], 6, "JSON", id="malformed"),
        pytest.param(["wrong_shape"], 6, "", id="wrong-shape"),
    ],
)
def test_failures_exit_with_their_code_and_one_line(
    api: FakeOpenRouter, faults: list[int | str], code: int, fragment: str
) -> None:
    """Each failure has its exit code and exactly one line on stderr, with no traceback."""
    api.script(*faults)
    result = run("get", "--source", "artificial-analysis", "--retries", "0")
    assert result.code == code, result.err
    assert result.out == ""
    assert len(result.err_lines) == 1, result.err
    assert result.err.startswith(ERROR_PREFIX)
    assert fragment in result.err
    assert "Traceback" not in result.err
    assert [record.fault for record in api.requests] == [str(fault) for fault in faults]


@pytest.mark.parametrize(
    "options",
    [
        pytest.param(("--source", "artificial-analysis", "--category", "gamedev"), id="category"),
        pytest.param(("--arena", "models"), id="arena-without-source"),
        pytest.param(("--max-results", "0"), id="max-results"),
        pytest.param(("--source", "design-arena", "--task-type", "search"), id="search-task"),
        pytest.param(("--task-type", "coding", "--search-engine", "exa"), id="search-option"),
        pytest.param(("--source", " padded"), id="white-space"),
    ],
)
def test_a_locally_invalid_query_exits_2_and_sends_nothing(
    api: FakeOpenRouter, options: tuple[str, ...]
) -> None:
    """A query that is certainly wrong is refused with exit code 2 before any request."""
    result = run("get", *options)
    assert result.code == 2
    assert len(result.err_lines) == 1, result.err
    assert result.err.startswith(ERROR_PREFIX)
    assert api.requests == []


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(("get", "--max-results", "many"), id="not-a-number"),
        pytest.param(("get", "--format", "xml"), id="unknown-format"),
        pytest.param(("get", "--retries", "-1"), id="negative-retries"),
        pytest.param(("cache", "inspect"), id="unknown-action"),
        pytest.param(("frobnicate",), id="unknown-command"),
        pytest.param((), id="no-command"),
    ],
)
def test_usage_errors_exit_2_with_usage_on_stderr(
    api: FakeOpenRouter, argv: tuple[str, ...]
) -> None:
    """Bad command lines exit 2 and print the usage to the given stderr, nothing to stdout."""
    result = run(*argv)
    assert result.code == 2
    assert result.out == ""
    assert result.err.startswith("usage: openrouter-bench")
    assert "error:" in result.err_lines[-1]
    assert api.requests == []


@pytest.mark.parametrize("command", ["get", "grid", "watch"])
def test_missing_key_exits_3_in_the_command_lines_words(
    api: FakeOpenRouter, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    """Without OPENROUTER_API_KEY: exit 3 (authentication), one line naming the variable."""
    monkeypatch.delenv("OPENROUTER_API_KEY")
    result = run(command, "--source", "design-arena", "--no-cache")
    assert result.code == 3
    assert len(result.err_lines) == 1
    assert "set OPENROUTER_API_KEY" in result.err
    assert "api_key=" not in result.err
    assert api.requests == []


def test_server_errors_exit_5_after_the_retries(api: FakeOpenRouter) -> None:
    """--retries 1 makes two attempts; both failing exits 5 with the error as the last line."""
    api.script(503, 502)
    result = run("get", "--source", "artificial-analysis", "--retries", "1")
    assert result.code == 5
    assert [record.status for record in api.requests] == [503, 502]
    assert result.err_lines[-1].startswith(ERROR_PREFIX)
    assert "after 2 attempts" in result.err_lines[-1]
    assert [line for line in result.err_lines if line.startswith(ERROR_PREFIX)] == [
        result.err_lines[-1]
    ]
    assert "Traceback" not in result.err


def test_a_retry_recovers_from_a_transient_failure(api: FakeOpenRouter) -> None:
    """--retries 1 turns one 503 into a second attempt and a normal answer."""
    api.script(503)
    result = run("get", "--source", "artificial-analysis", "--retries", "1", "--format", "json")
    assert result.code == 0
    assert [record.status for record in api.requests] == [503, 200]
    assert json.loads(result.out) == api.payload({"source": "artificial-analysis"})


def test_retries_0_makes_exactly_one_attempt(api: FakeOpenRouter) -> None:
    """--retries 0 gives up after the first transient failure."""
    api.script(503, 503)
    result = run("get", "--retries", "0")
    assert result.code == 5
    assert len(api.requests) == 1
    assert result.err == f"{ERROR_PREFIX}HTTP 503: Service Unavailable\n"


def test_debug_adds_the_traceback(api: FakeOpenRouter) -> None:
    """--debug prints the traceback (and debug logs) before the same one-line error."""
    api.script(401)
    result = run("get", "--retries", "0", "--debug")
    assert result.code == 3
    assert "Traceback (most recent call last)" in result.err
    assert "AuthenticationError" in result.err
    assert result.err_lines[-1].startswith(ERROR_PREFIX)


# The persistent cache.


def test_a_repeated_get_is_served_from_the_persistent_store(
    api: FakeOpenRouter, tmp_path: Path
) -> None:
    """Two runs in a row send one request: the second reads the sqlite store in XDG_CACHE_HOME."""
    first = run("get", *DA_SVG)
    second = run("get", *DA_SVG)
    as_json = run("get", *DA_SVG, "--format", "json")
    assert first.code == second.code == as_json.code == 0
    assert len(api.requests) == 1
    assert "from cache" not in first.out
    assert "from cache" in second.out
    assert json.loads(as_json.out) == api.payload(dict(api.requests[0].params))
    assert store_path(tmp_path).is_file()
    for secret in SECRETS:
        assert secret.encode() not in store_path(tmp_path).read_bytes()


def test_no_cache_and_refresh_send_again(api: FakeOpenRouter, tmp_path: Path) -> None:
    """--no-cache neither reads nor writes the store; --refresh asks the server and stores."""
    assert run("get", *DA_SVG, "--no-cache").code == 0
    assert not store_path(tmp_path).exists()
    assert run("get", *DA_SVG).code == 0
    assert run("get", *DA_SVG, "--no-cache").code == 0
    refreshed = run("get", *DA_SVG, "--refresh")
    cached = run("get", *DA_SVG)
    assert len(api.requests) == 4
    assert "from cache" not in refreshed.out
    assert "from cache" in cached.out


def test_another_cache_url_is_used_instead(api: FakeOpenRouter, tmp_path: Path) -> None:
    """--cache sqlite:///file keeps the snapshots in that file, not the default one."""
    other = tmp_path / "elsewhere" / "cache.db"
    for _ in range(2):
        assert run("get", *DA_SVG, "--cache", f"sqlite:///{other}").code == 0
    assert len(api.requests) == 1
    assert other.is_file()
    assert not store_path(tmp_path).exists()


def test_cache_path_names_the_store_in_the_user_cache_dir(
    api: FakeOpenRouter, tmp_path: Path
) -> None:
    """cache path prints the store's file path under XDG_CACHE_HOME, and --cache when given."""
    default = run("cache", "path")
    given = run("cache", "path", "--cache", "redis://127.0.0.1:1/0")
    assert default.code == given.code == 0
    assert default.out == f"{store_path(tmp_path)}\n"
    assert given.out == "redis://127.0.0.1:1/0\n"


def test_cache_stats_and_clear_see_what_get_stored(api: FakeOpenRouter, tmp_path: Path) -> None:
    """stats counts the stored queries and snapshots; clear removes them, so get sends again."""
    empty = run("cache", "stats")
    run("get", *DA_SVG)
    run("get", "--source", "artificial-analysis", "--max-results", "3")
    api.publish()
    run("get", *DA_SVG, "--refresh")
    stats = run("cache", "stats")
    cleared = run("cache", "clear")
    after = run("cache", "stats")
    run("get", *DA_SVG)
    assert empty.code == stats.code == cleared.code == after.code == 0
    assert "stored: 0 queries, 0 snapshots" in empty.out
    assert f"backend: sqlite {store_path(tmp_path)}" in stats.out
    assert f"namespace: openrouter-bench:{api.url.split('//', 1)[1]}" in stats.out
    assert "stored: 2 queries, 3 snapshots" in stats.out
    # In the words stats uses: 2 queries and 3 snapshots are what it counted.
    assert cleared.out == (
        f"cleared 2 queries and 3 snapshots from sqlite:///{store_path(tmp_path)}\n"
    )
    assert "this run:" not in stats.out
    assert "stored: 0 queries, 0 snapshots" in after.out
    assert len(api.requests) == 4


def test_cache_commands_keep_each_apis_entries_apart(api: FakeOpenRouter) -> None:
    """--base-url picks whose entries the cache command shows and clears."""
    run("get", *DA_SVG)
    other = run("cache", "clear", "--base-url", "http://127.0.0.1:1/api/v1")
    mine = run("cache", "stats")
    assert other.out.startswith("cleared 0 queries and 0 snapshots")
    assert "stored: 1 query, 1 snapshot" in mine.out
    assert run("get", *DA_SVG).code == 0
    assert len(api.requests) == 1


# Version and help.


def test_version(api: FakeOpenRouter) -> None:
    """--version prints the package version to the given stdout and exits 0."""
    result = run("--version")
    assert result.code == 0
    assert result.out == f"openrouter-bench {__version__}\n"


@pytest.mark.parametrize("command", [(), *((name,) for name in sorted(_COMMANDS))])
def test_help_of_each_command_lists_the_environment(
    api: FakeOpenRouter, command: tuple[str, ...]
) -> None:
    """--help of every command exits 0 and names the environment variables it reads."""
    result = run(*command, "--help")
    assert result.code == 0
    assert result.out.startswith("usage: openrouter-bench")
    for variable in ("OPENROUTER_API_KEY", "OPENROUTER_BASE_URL", "XDG_CACHE_HOME"):
        assert variable in result.out
    assert api.requests == []


def test_get_help_documents_retries(api: FakeOpenRouter) -> None:
    """get --help explains --retries and its default."""
    result = run("get", "--help")
    assert "--retries N" in result.out
    assert "default 4" in " ".join(result.out.split())


# The fake-server command, as its own process.


def _read_line(process: subprocess.Popen[str], timeout: float) -> str:
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    assert ready, "the fake server printed no URL in time"
    return process.stdout.readline().strip()


@pytest.mark.parametrize(
    ("stop", "expected_code"),
    [pytest.param(signal.SIGTERM, 0, id="SIGTERM"), pytest.param(signal.SIGINT, 130, id="SIGINT")],
)
def test_fake_server_command_serves_until_stopped(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, stop: signal.Signals, expected_code: int
) -> None:
    """fake-server prints its URL, answers requests, and stops cleanly on SIGTERM or Ctrl-C."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("OPENROUTER_API_KEY", CANARY_KEY)
    process = subprocess.Popen(  # a fixed argv, no shell
        [sys.executable, "-m", "openrouter_bench", "fake-server", "--port", "0", "--seed", "3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        url = _read_line(process, PROCESS_TIMEOUT)
        assert url.startswith("http://127.0.0.1:")
        assert url.endswith("/api/v1")
        request = urllib.request.Request(  # noqa: S310  # the URL the fake printed: http, loopback
            url + "/benchmarks?source=artificial-analysis&max_results=2",
            headers={"Authorization": "Bearer any-key"},
        )
        with urllib.request.urlopen(request, timeout=PROCESS_TIMEOUT) as answer:  # noqa: S310  # loopback
            document = json.load(answer)
        assert len(document["data"]) == 2
        result = run(
            "get", "--base-url", url, "--no-cache", "--format", "json", "--max-results", "1"
        )
        assert result.code == 0, result.err
        assert len(json.loads(result.out)["data"]) == 1
        process.send_signal(stop)
        rest, err = process.communicate(timeout=PROCESS_TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == expected_code, err
    assert "Traceback" not in err
    for secret in SECRETS:
        assert secret not in url + rest + err


def test_fake_server_command_takes_the_guides_readings() -> None:
    """fake-server --max-results-reading guide --as-of-milliseconds serves the guide's forms."""
    process = subprocess.Popen(  # a fixed argv, no shell
        [
            sys.executable,
            "-m",
            "openrouter_bench",
            "fake-server",
            "--max-results-reading",
            "guide",
            "--as-of-milliseconds",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        url = _read_line(process, PROCESS_TIMEOUT)
        request = urllib.request.Request(  # noqa: S310  # the URL the fake printed: http, loopback
            url + "/benchmarks?source=design-arena",
            headers={"Authorization": "Bearer any-key"},
        )
        with urllib.request.urlopen(request, timeout=PROCESS_TIMEOUT) as answer:  # noqa: S310  # loopback
            document = json.load(answer)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=PROCESS_TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert len(document["data"]) == 50
    assert document["meta"]["as_of"] == "2026-06-03T12:00:00.000Z"


# The demo.


def test_demo_runs_and_tells_its_story(api: FakeOpenRouter) -> None:
    """demo exits 0 and shows rankings, retries, a cache hit, a coalesced burst, a stale serve."""
    result = run("demo")
    assert result.code == 0, result.err
    text = result.out
    for line in (
        "1. Top 5 models at coding (Artificial Analysis)",
        "-> 4 requests sent (503, reset, html502, 200): retried, and the caller saw only the page",
        "InvalidQueryError: category applies to Design Arena only",
        "from_cache=True",
        "100 callers, all got the same",
        "-> 1 request sent (200): coalesced into one request",
        "stale=True: served the snapshot of 2026-06-03 instead of failing",
        "history keeps 2 snapshots: 2026-06-04, 2026-06-03",
        "In all: 15 requests reached the server",
        "for 108 calls; 1 cache hit, 99 coalesced, 1 stale serve",
    ):
        assert line in text, line
    assert "Traceback" not in text + result.err
    # The demo runs its own fake: the fixture's server saw nothing.
    assert api.requests == []


# The canary key, everywhere.


@pytest.mark.parametrize("fmt", ["table", "json", "csv", "ndjson"])
@pytest.mark.parametrize("faults", [[], [401], [503], ["malformed"], ["reset", "reset"]])
def test_the_key_never_shows_in_any_output(
    api: FakeOpenRouter, fmt: str, faults: list[int | str]
) -> None:
    """No format, outcome or --debug output carries the key (run() checks both streams)."""
    api.script(*faults)
    result = run("get", "--format", fmt, "--debug", "--retries", "0", "--no-cache", *DA_SVG)
    assert (result.code == 0) == (not faults)
    assert "DEBUG" in result.err  # --debug really logged, so its lines were checked too
