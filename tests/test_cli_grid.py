"""The grid and watch commands, run in-process against the fake server in thread mode.

The quota is turned off (``--quota off``: a trusted local server); its pacing
has its own tests. A terminal is a pseudo-terminal from ``os.openpty``.
"""

from __future__ import annotations

import io
import json
import threading
import time

import pytest

from openrouter_bench._text import plural
from openrouter_bench.cli import main
from openrouter_bench.fake import FakeOpenRouter
from openrouter_bench.fake.faults import FaultSpec
from openrouter_bench.query import ALL, Arena, Query
from tests.conftest import run_cli

SWEEP = ("grid", "--source", "design-arena", "--arena", "all", "--category", "all")
FOUR = (
    "grid",
    "--source",
    "design-arena",
    "--arena",
    "models,builders",
    "--category",
    "svg,3d",
    "--retries",
    "0",
)
#: Four queries that share no page: each its own request.
APART = ("grid", "--source", "openrouter", "--task-type", "all", "--retries", "0")
QUIET = ("--quota", "off")


run = run_cli


def discovered(fake: FakeOpenRouter) -> set[tuple[str, str]]:
    """Every (arena, category) the fake's data has."""
    pairs: set[tuple[str, str]] = set()
    for arena in Arena:
        payload = fake.payload({"source": "design-arena", "arena": arena.value})
        pairs |= {(arena.value, item["category"]) for item in payload["data"]}
    return pairs


@pytest.mark.parametrize(("cache", "requests", "hits"), [((), 3, 3), (("--no-cache",), 6, 0)])
def test_the_sweep_covers_every_arena_and_every_category_of_the_data(
    api: FakeOpenRouter, cache: tuple[str, ...], requests: int, hits: int
) -> None:
    """--arena all --category all: each (arena, category) the data has, each its page, cut
    from the 3 arena pages that named the categories (read twice without a cache)."""
    result = run(*SWEEP, "--format", "json", *cache, *QUIET)
    assert result.code == 0, result.err
    records = json.loads(result.out)
    expected = discovered(api)
    assert {(r["query"]["arena"], r["query"]["category"]) for r in records} == expected
    for record in records:
        assert record["page"] == api.payload(record["query"])
        assert record["derived_from"] == {
            "source": "design-arena",
            "arena": record["query"]["arena"],
        }
    count = len(expected)
    assert result.err.splitlines()[-1].startswith(
        f"{count} queries: {count} pages ({count} cut from 3 arena pages), 0 errors; "
        f"{requests} requests sent, {plural(hits, 'cache hit')};"
    )
    assert "\x1b[" not in result.err  # no progress bar when stderr is not a terminal
    assert len(api.requests) == requests
    assert all("category" not in r.params for r in api.requests)


def test_a_second_sweep_is_served_from_the_persistent_cache(api: FakeOpenRouter) -> None:
    """The CLI's own store answers a repeated grid: no request, every call a hit."""
    first = run(*SWEEP, *QUIET)
    assert first.code == 0, first.err
    sent = len(api.requests)
    assert sent == 3
    second = run(*SWEEP, *QUIET)
    assert second.code == 0, second.err
    assert len(api.requests) == sent
    # Each arena page is asked for twice (its categories, then the cut): every ask a hit.
    assert "0 requests sent, 6 cache hits" in second.err
    assert second.out.count(" cached, cut ") == len(discovered(api))


def test_an_arena_pages_failure_is_each_of_its_categories_error(api: FakeOpenRouter) -> None:
    """A 503 on the models page fails both models categories; builders' two pages stand."""
    api.script(503)
    result = run(*FOUR, "--no-cache", *QUIET)
    assert result.code == 5, result.err
    assert len(api.requests) == 2
    [failed] = [r.params["arena"] for r in api.requests if r.status == 503]
    lines = result.out.splitlines()
    assert sum(" error " in line and failed in line for line in lines) == 2
    assert sum(" ok, cut " in line for line in lines) == 2
    assert "4 queries: 2 pages (2 cut from 1 arena page), 2 errors; 2 requests sent" in result.err


@pytest.mark.parametrize(
    ("faults", "code"),
    [
        ([503], 5),
        ([{"fault": 429, "retry_after": 1}], 4),
        ([503, "malformed"], 6),
        (["malformed", 401], 3),
        ([400, 503], 2),
    ],
)
def test_the_exit_code_is_the_worst_failures(
    api: FakeOpenRouter, faults: list[FaultSpec], code: int
) -> None:
    """Failures leave the other pages whole; the exit code is the worst one's."""
    api.script(*faults)
    result = run(*APART, "--no-cache", *QUIET)
    assert result.code == code, result.err
    lines = result.out.splitlines()
    assert lines[0].split()[:2] == ["query", "result"]
    assert sum(" error " in line for line in lines) == len(faults)
    assert sum(" ok " in line for line in lines) == 4 - len(faults)
    errors = [line for line in result.err.splitlines() if line.startswith("openrouter-bench:")]
    assert len(errors) == len(faults)
    assert f"4 queries: {4 - len(faults)} pages, {plural(len(faults), 'error')}" in result.err


def test_ndjson_gives_each_querys_page_or_error(api: FakeOpenRouter) -> None:
    """One JSON line per query: the page, or the error's type, status and message."""
    api.script(402)
    result = run(*APART, "--format", "ndjson", "--no-cache", *QUIET)
    assert result.code == 4
    records = [json.loads(line) for line in result.out.splitlines()]
    assert len(records) == 4
    [failed] = [record for record in records if "error" in record]
    assert failed["error"]["type"] == "PaymentRequiredError"
    assert failed["error"]["status"] == 402
    for record in records:
        if "page" in record:
            assert record["page"] == api.payload(record["query"])


def test_csv_has_every_item_with_its_query(api: FakeOpenRouter) -> None:
    """CSV: one row per item of every page, its query in the first column."""
    result = run(*FOUR, "--format", "csv", "--no-cache", *QUIET)
    assert result.code == 0, result.err
    header, *rows = result.out.splitlines()
    assert header.startswith("query,source,model_permaslug")
    expected = 0
    for arena in ("models", "builders"):
        for category in ("svg", "3d"):
            query = Query(source="design-arena", arena=arena, category=category)
            count = len(api.payload(query.params)["data"])
            expected += count
            assert sum(row.startswith(query.key + ",") for row in rows) == count
    assert len(rows) == expected


def test_a_grid_of_other_sources_uses_the_grid_rules(api: FakeOpenRouter) -> None:
    """Lists and 'all' expand like Query.grid: only valid combinations, each once."""
    result = run("grid", "--source", "artificial-analysis,openrouter", "--task-type", "all", *QUIET)
    assert result.code == 0, result.err
    expected = Query.grid(source=["artificial-analysis", "openrouter"], task_type=ALL)
    assert len(api.requests) == len(expected)
    assert {Query.from_params(r.params) for r in api.requests} == set(expected)


def test_an_empty_grid_is_a_usage_error(api: FakeOpenRouter) -> None:
    """Values with no valid combination exit 2 with a clear message, sending nothing."""
    result = run("grid", "--source", "artificial-analysis", "--category", "all", *QUIET)
    assert result.code == 2
    assert "the grid is empty" in result.err
    assert api.requests == []


@pytest.mark.parametrize(
    "bad", [("--concurrency", "0"), ("--source", "openrouter,"), ("--quota", "memcached://x")]
)
def test_bad_grid_options_are_usage_errors(api: FakeOpenRouter, bad: tuple[str, str]) -> None:
    """A bad option value exits 2 before anything is sent."""
    result = run("grid", "--source", "openrouter", *bad)
    assert result.code == 2
    assert api.requests == []


def watch_in_thread(argv: list[str]) -> tuple[threading.Thread, dict[str, object]]:
    """Run a watch command in its own thread; its outcome lands in the returned dict."""
    outcome: dict[str, object] = {}

    def target() -> None:
        out, err = io.StringIO(), io.StringIO()
        outcome["code"] = main(argv, stdout=out, stderr=err)
        outcome["out"], outcome["err"] = out.getvalue(), err.getvalue()

    thread = threading.Thread(target=target)
    thread.start()
    return thread, outcome


def wait_for_requests(fake: FakeOpenRouter, count: int) -> None:
    """Until the fake has seen ``count`` requests (bounded)."""
    deadline = time.monotonic() + 10
    while len(fake.requests) < count:
        assert time.monotonic() < deadline, f"only {len(fake.requests)} requests"
        time.sleep(0.01)


def test_watch_prints_each_change_as_it_happens(api: FakeOpenRouter) -> None:
    """After the baseline, a publish is printed: the new as_of, the moves, the citation."""
    argv = ["watch", "--source", "design-arena", "--category", "gamedev", "--every", "0.05"]
    thread, outcome = watch_in_thread([*argv, "--count", "1", "--no-cache", *QUIET])
    wait_for_requests(api, 1)
    api.publish()
    thread.join(timeout=20)
    assert not thread.is_alive()
    assert outcome["code"] == 0, outcome["err"]
    text = str(outcome["out"])
    assert text.startswith(
        "Query(source='design-arena', arena='models', category='gamedev'): "
        "new data as of 2026-06-04 12:00 UTC (was 2026-06-03 12:00 UTC)"
    )
    assert text.rstrip().endswith(str(api.payload({"source": "design-arena"})["meta"]["citation"]))
    assert "watching Query(source='design-arena'" in str(outcome["err"])


def test_watch_json_gives_one_line_per_change(api: FakeOpenRouter) -> None:
    """--format json: one JSON object per change, consecutive as_of values."""
    argv = ["watch", "--source", "openrouter", "--every", "0.05", "--format", "json"]
    thread, outcome = watch_in_thread([*argv, "--count", "2", "--no-cache", *QUIET])
    wait_for_requests(api, 1)
    api.publish()
    # Two polls after the publish: the second one surely began after it, and saw it.
    wait_for_requests(api, len(api.requests) + 2)
    api.publish()
    thread.join(timeout=20)
    assert outcome["code"] == 0, outcome["err"]
    first, second = (json.loads(line) for line in str(outcome["out"]).splitlines())
    assert first["new_as_of"] == second["old_as_of"]
    assert first["query"] == {"source": "openrouter"}
    assert first["citation"] == api.payload({"source": "openrouter"})["meta"]["citation"]


@pytest.mark.parametrize("every", ["0", "-5", "soon"])
def test_watch_rejects_a_bad_interval(api: FakeOpenRouter, every: str) -> None:
    """--every must be a positive number of seconds."""
    result = run("watch", "--source", "openrouter", "--every", every)
    assert result.code == 2
    assert api.requests == []


@pytest.mark.parametrize("command", ["grid", "watch"])
def test_help_names_the_quota_and_the_environment(api: FakeOpenRouter, command: str) -> None:
    """--help explains --quota and lists the environment variables."""
    result = run(command, "--help")
    assert result.code == 0
    assert "--quota SPEC" in result.out
    assert "OPENROUTER_API_KEY" in result.out
