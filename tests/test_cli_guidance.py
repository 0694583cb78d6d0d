"""The command line guides a new user: right scores, hints for empty answers and wrong URLs,
announced waits, a watch that speaks, a fake server driven from the shell, words that add up."""

from __future__ import annotations

import re
import sys

import pytest

from openrouter_bench.fake import FakeOpenRouter
from tests.conftest import CANARY_KEY, Run, on_terminal, run_cli

SECRETS = (CANARY_KEY, CANARY_KEY[-20:])


def run(*argv: str) -> Run:
    """Run the command line in this process; neither the key nor its tail may be printed."""
    return run_cli(*argv, secrets=SECRETS)


# --- one score per ranking ----------------------------------------------------------------------


@pytest.mark.parametrize("task", ["agentic", "coding", "intelligence"])
def test_grid_leader_shows_the_index_of_the_task_asked(api: FakeOpenRouter, task: str) -> None:
    """An Artificial Analysis leader's score is the index of the task type, not intelligence."""
    result = run("grid", "--source", "artificial-analysis", "--task-type", task)
    top = api.payload({"source": "artificial-analysis", "task_type": task})["data"][0]
    assert result.code == 0, result.err
    assert f"#1 {top['display_name']} ({top[f'{task}_index']:.1f})" in result.out


def test_demo_scores_the_coding_question_by_the_coding_index() -> None:
    """The demo's cached coding answer shows its leader's coding index, as its table does."""
    result = run("demo")
    top = FakeOpenRouter(seed=1).payload(
        {"source": "artificial-analysis", "task_type": "coding", "max_results": "5"}
    )["data"][0]
    assert result.code == 0, result.err
    assert f"from_cache=True, #1 {top['display_name']} ({top['coding_index']:.1f})" in result.out


# --- empty answers say why ----------------------------------------------------------------------


def test_a_misspelt_category_gets_a_did_you_mean(api: FakeOpenRouter) -> None:
    """An empty answer for a category nobody knows suggests the close one, with one request more."""
    result = run("get", "--source", "design-arena", "--category", "gamdev")
    assert result.code == 0
    assert "0 items" in result.out
    [hint] = [line for line in result.err_lines if "hint:" in line]
    assert "did you mean gamedev?" in hint
    assert "website" in hint  # a category found in the data, not only in the package's list
    assert [record.params for record in api.requests] == [
        {"source": "design-arena", "arena": "models", "category": "gamdev"},
        {"source": "design-arena", "arena": "models"},
    ]


def test_the_hint_costs_nothing_when_the_arena_is_cached(api: FakeOpenRouter) -> None:
    """With the arena's page cached, the categories come from the cache: no request more."""
    assert run("get", "--source", "design-arena").code == 0
    result = run("get", "--source", "design-arena", "--category", "gamdev")
    assert "did you mean gamedev?" in result.err
    assert len(api.requests) == 2


def test_a_known_or_found_category_gets_no_hint(api: FakeOpenRouter) -> None:
    """A category the data has is not second-guessed."""
    result = run("get", "--source", "design-arena", "--category", "website")
    assert result.code == 0
    assert "hint" not in result.err
    assert len(api.requests) == 1


def test_grid_hints_a_misspelt_category_too(api: FakeOpenRouter) -> None:
    """A grid row with no items for an unknown category gets the same hint."""
    result = run("grid", "--source", "design-arena", "--category", "gamdev,svg")
    assert result.code == 0
    assert "did you mean gamedev?" in result.err
    assert "1 query" not in result.err


def test_an_empty_grid_says_why_in_gets_words(api: FakeOpenRouter) -> None:
    """A grid with no valid combination names the reason, as get does for that query."""
    grid = run("grid", "--source", "artificial-analysis", "--category", "gamedev")
    get = run("get", "--source", "artificial-analysis", "--category", "gamedev")
    assert grid.code == get.code == 2
    assert "category applies to Design Arena only" in grid.err
    assert get.err.split("error: ", 1)[1] in grid.err
    assert api.requests == []


# --- long waits are announced on a terminal ----------------------------------------------------


def test_a_long_wait_is_announced_on_a_terminal(api: FakeOpenRouter) -> None:
    """A 429 asking for 3 s shows one line on a terminal's stderr saying what waits and how long."""
    api.script({"fault": 429, "retry_after": 3})
    code, shown, _ = on_terminal(["get", "--source", "design-arena", "--no-cache"], stream="err")
    assert code == 0
    [line] = [line for line in shown.splitlines() if "retrying in" in line]
    assert "RateLimitError" in line
    assert "retrying in 3 s" in line
    assert "design-arena" in line


def test_quiet_and_pipes_keep_waits_silent(api: FakeOpenRouter) -> None:
    """-q on a terminal, or stderr not a terminal: nothing is said about a wait."""
    api.script({"fault": 429, "retry_after": 3})
    code, shown, _ = on_terminal(
        ["get", "--source", "design-arena", "--no-cache", "-q"], stream="err"
    )
    api.script({"fault": 429, "retry_after": 3})
    piped = run("get", "--source", "design-arena", "--no-cache")
    assert code == piped.code == 0
    assert "retrying" not in shown + piped.err


# --- watch speaks, and stops --------------------------------------------------------------------


def test_watch_polls_bound_ends_a_watch_that_saw_nothing(api: FakeOpenRouter) -> None:
    """--polls 2 stops after two polls of unchanged data, and says so."""
    result = run(
        "watch",
        "--source",
        "design-arena",
        "--every",
        "0.01",
        "--count",
        "1",
        "--polls",
        "2",
        "--no-cache",
    )
    assert result.code == 0
    assert result.out == ""
    assert "stopped after 2 polls: 0 changes seen" in result.err
    assert len(api.requests) == 3  # the baseline and two polls


def test_watch_says_at_each_poll_that_nothing_is_new(api: FakeOpenRouter) -> None:
    """On a terminal (and with -v) each poll without new data says so on stderr."""
    argv = ["watch", "--source", "design-arena", "--every", "0.01", "--polls", "2", "--no-cache"]
    code, shown, _ = on_terminal(argv, stream="err")
    verbose = run(*argv, "-v")
    assert code == verbose.code == 0
    for text in (shown, verbose.err):
        assert "poll 1: no new data (still as of 2026-06-03 12:00 UTC)" in text
        assert "poll 2: no new data" in text


def test_watch_help_counts_changes_not_polls(api: FakeOpenRouter) -> None:
    """--count is documented as changes, and --polls as polls."""
    text = " ".join(run("watch", "--help").out.split())
    assert "stop after N changes, that is N new snapshots" in text
    assert "--polls N stop after N polls" in text


# --- the fake, driven from the shell ------------------------------------------------------------


def test_fake_server_help_lists_its_control_endpoints() -> None:
    """fake-server --help names every control endpoint."""
    text = run("fake-server", "--help").out
    for endpoint in (
        "/_fake/publish",
        "/_fake/faults",
        "/_fake/chaos",
        "/_fake/requests",
        "/_fake/reset",
        "/_fake/state",
    ):
        assert endpoint in text, endpoint
    for option in ("--max-results-reading {reference,guide}", "--as-of-milliseconds"):
        assert option in text, option


def test_fake_publish_then_watch_sees_the_change(api: FakeOpenRouter) -> None:
    """fake publish moves the running fake's as_of; a get afterwards sees the new data."""
    before = run("get", "--source", "design-arena", "--category", "svg")
    published = run("fake", "publish")
    after = run("get", "--source", "design-arena", "--category", "svg", "--refresh")
    assert published.code == 0, published.err
    assert published.out == "published a new snapshot, as of 2026-06-04T12:00:00Z\n"
    assert "as of 2026-06-03" in before.out
    assert "as of 2026-06-04" in after.out


def test_fake_fault_scripts_the_next_requests(api: FakeOpenRouter) -> None:
    """fake fault 503 reset makes the next two API requests fail, in order."""
    scripted = run("fake", "fault", "503", "reset")
    result = run("get", "--source", "design-arena", "--retries", "2", "-v")
    listing = run("fake", "requests")
    assert scripted.code == result.code == listing.code == 0, scripted.err
    assert "503, reset" in scripted.out
    assert [record.status for record in api.requests] == [503, "reset", 200]
    rows = listing.out.splitlines()
    assert rows[0].split() == ["#", "status", "fault", "query"]
    assert [row.split()[1] for row in rows[1:4]] == ["503", "reset", "200"]
    assert "source=design-arena&arena=models" in rows[3]
    assert listing.out.endswith("\n3 requests\n")


def test_fake_fault_refuses_a_name_it_does_not_know(api: FakeOpenRouter) -> None:
    """A wrong fault name exits 2 with the close one and every valid one; nothing is scripted."""
    result = run("fake", "fault", "resett")
    assert result.code == 2
    assert "did you mean reset?" in result.err
    assert "html502" in result.err
    assert api.state()["pending_faults"] == 0


def test_fake_without_a_url_says_which_is_missing(
    api: FakeOpenRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """fake with neither --base-url nor OPENROUTER_BASE_URL says how to name the fake."""
    monkeypatch.delenv("OPENROUTER_BASE_URL")
    result = run("fake", "requests")
    assert result.code == 2
    assert "--base-url" in result.err
    assert "OPENROUTER_BASE_URL" in result.err


# --- a wrong base URL, wrong options, missing pieces ---------------------------------------------


def test_a_404_shows_the_url_and_the_usual_base(api: FakeOpenRouter) -> None:
    """A base URL without /api/v1 gets a 404 naming the URL asked for and the likely fix."""
    root = api.url.removesuffix("/api/v1")
    result = run("get", "--source", "design-arena", "--base-url", root + "/", "--no-cache")
    assert result.code == 1
    [line] = result.err_lines
    assert f"(GET {root}/benchmarks)" in line
    assert f"the base URL is usually {root}/api/v1" in line


def test_a_404_under_the_right_path_gets_no_base_url_hint(api: FakeOpenRouter) -> None:
    """The /api/v1 hint appears only when the path does not end in it."""
    result = run("get", "--base-url", api.url.replace("/api/v1", "/x/api/v1"), "--no-cache")
    assert result.code == 1
    assert "/x/api/v1/benchmarks)" in result.err
    assert "usually" not in result.err


def test_a_wrong_quota_is_refused_in_the_command_lines_words(api: FakeOpenRouter) -> None:
    """--quota bogus exits 2 naming memory, off and redis://, never Python's None."""
    result = run("get", "--quota", "bogus")
    assert result.code == 2
    assert "expected memory, off or a redis://... URL, got 'bogus'" in result.err
    assert "None" not in result.err
    assert api.requests == []


def test_memcached_without_its_package_names_the_extra(
    api: FakeOpenRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A memcached cache without aiomcache says which extra to install."""
    monkeypatch.setitem(sys.modules, "aiocache.backends.memcached", None)
    result = run("get", "--cache", "memcached://127.0.0.1:1")
    assert result.code == 2
    assert "openrouter-bench[memcached]" in result.err


def test_an_unreachable_cache_is_reported_once(api: FakeOpenRouter) -> None:
    """A Redis that is down: the answer still comes, and stderr says once the cache was skipped."""
    result = run("get", "--source", "design-arena", "--cache", "redis://:hunter2@127.0.0.1:1/0")
    assert result.code == 0
    [line] = result.err_lines
    assert "the cache redis://127.0.0.1:1/0 could not be used" in line
    assert "hunter2" not in line


# --- values the API does not have are refused before they cost a request -----------------------


@pytest.mark.parametrize(
    ("argv", "valid"),
    [
        (("get", "--source", "nope"), "artificial-analysis, design-arena, openrouter"),
        (("get", "--task-type", "codng"), "did you mean coding?"),
        (("get", "--source", "design-arena", "--arena", "modles"), "did you mean models?"),
        (("get", "--benchmark-type", "gpqa"), "gpqa_diamond"),
        (("get", "--search-surface", "tool"), "server-tool, plugin"),
        (("grid", "--source", "design-arena,nope"), "artificial-analysis"),
        (("watch", "--task-type", "bogus"), "agentic"),
    ],
)
def test_unknown_values_exit_2_listing_the_valid_ones(
    api: FakeOpenRouter, argv: tuple[str, ...], valid: str
) -> None:
    """A value the API does not know exits 2, lists the valid ones, and sends nothing."""
    result = run(*argv)
    assert result.code == 2
    assert valid in result.err_lines[-1]
    assert "--allow-unknown" in result.err_lines[-1]
    assert api.requests == []


def test_allow_unknown_sends_the_value_anyway(api: FakeOpenRouter) -> None:
    """--allow-unknown passes a newer value on; here the fake's 400 answers it."""
    result = run("get", "--source", "nope", "--allow-unknown", "--no-cache")
    assert result.code == 2
    assert [record.params for record in api.requests] == [{"source": "nope"}]


# --- words that add up ---------------------------------------------------------------------------


def test_counts_of_one_are_singular(api: FakeOpenRouter) -> None:
    """One item, one query, one request: no "1 items" anywhere."""
    got = run("get", "--source", "design-arena", "--category", "svg", "--max-results", "1")
    grid = run("grid", "--source", "design-arena", "--category", "3d", "--max-results", "1")
    assert "as of 2026-06-03 12:00 UTC, 1 item\n" in got.out
    assert "1 query: 1 page, 0 errors; 1 request sent, 0 cache hits;" in grid.err


def test_the_demo_tells_a_story_that_adds_up() -> None:
    """The demo names models alike throughout, and its sweep's figures add up."""
    text = run("demo").out
    step_one = text.split("\n2. ", 1)[0]
    assert "display_name" in step_one
    assert "/" not in step_one.split("\n#", 1)[1].split("\n\n", 1)[0]  # no model ids
    sweep = re.search(r"(\d+) queries in .*?: (\d+) cut from 3 arena pages, (\d+) asked", text)
    seen = re.search(r"The server saw (\d+) requests: (\d+) to find the categories, (\d+)", text)
    assert sweep is not None
    assert seen is not None
    queries, cut, own = map(int, sweep.groups())
    total, found, swept = map(int, seen.groups())
    assert (cut, own) == (queries, 0)
    assert (total, found, swept) == (3, 3, 0)  # the whole sweep: one request per arena
    # The comparison, a request per category: the same queries, each page its own request.
    apart = re.search(r"(\d+) queries in .*?: (\d+) answered from the cache, (\d+) sent", text)
    assert apart is not None
    assert int(apart[1]) == queries
    assert int(apart[2]) + int(apart[3]) == queries
    assert "website: the server has it, this package's list does not" in text
    assert "found in the data only" not in text
    assert "new data was published in step 7" in text


def test_the_demo_answers_questions_about_models_for_two_requests() -> None:
    """The demo's catalog reuses the sweep's arena pages, and a thousand questions send nothing."""
    text = run("demo").out
    questions = text.split("Questions about models", 1)[1]
    loaded = re.search(
        r"<Catalog (\d+) models, (\d+) rankings, 5/5 parts>.*-> (\d+) requests", text
    )
    assert loaded is not None
    assert int(loaded[1]) > 100
    assert int(loaded[2]) > 10
    assert int(loaded[3]) == 2  # Artificial Analysis and OpenRouter; the arenas were cached
    assert "1,000 more questions like these in" in questions
    assert questions.count(": 0 requests sent") == 1
    assert re.search(r'"how good is .+\?" \([\w.-]+/[\w.:-]+\):\n      #\d+ of \d+ in ', questions)
    assert "cited: " in questions
