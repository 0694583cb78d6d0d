"""The answer commands (model, compare, best, leaders) against the fake, in every format.

What each command prints is checked against a :class:`Catalog` loaded in this
process from the same fake: the rows, their citations and ``as_of``, and the
gaps. Runs go through :func:`tests.conftest.run_cli`, so the key is checked in
neither stream; the persistent cache lives under ``tmp_path``.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qsl, urlsplit

import orjson
import pytest

from openrouter_bench import BenchmarksClient, Catalog, ModelStanding, RetryPolicy
from openrouter_bench.answers import PER_MILLION_TOKENS, PER_TASK
from openrouter_bench.fake import FakeOpenRouter
from openrouter_bench.fake.hostile import RawRequest, respond
from openrouter_bench.render import FORMATS
from tests.conftest import CANARY_KEY, Run, on_terminal, run_cli, serving_in_thread

KIMI: Final = "moonshotai/kimi-k2-thinking"
GPT5: Final = "openai/gpt-5"
PARTS: Final = 5
BLOCKS: Final = frozenset("█▏▎▍▌▋▊▉")

#: Each command as a person would type it.
COMMANDS: Final = {
    "model": ("model", "Kimi", "K2", "Thinking"),
    "compare": ("compare", KIMI, GPT5),
    "best": ("best", "--task", "coding", "--max-price", "2"),
    "frontier": ("best", "--task", "intelligence", "--frontier"),
    "leaders": ("leaders",),
}


def catalog_of(fake: FakeOpenRouter) -> Catalog:
    """The catalog the commands answer from, loaded here (without a cache) as an oracle."""

    async def load() -> Catalog:
        async with BenchmarksClient(
            CANARY_KEY, base_url=fake.url, cache=None, quota=None, retry=RetryPolicy.no_wait()
        ) as client:
            return await Catalog.load(client)

    return asyncio.run(load())


def answered(command: str, catalog: Catalog) -> tuple[list[str], list[ModelStanding]]:
    """The rankings a command answers from and the standings it shows, as the catalog has them."""
    if command == "model":
        standings = list(catalog.model(KIMI).standings)
        return [s.ranking for s in standings], standings
    if command == "compare":
        rows = catalog.compare(KIMI, GPT5).rows
        shown = [s for row in rows for s in row.standings if s is not None]
        return [row.ranking for row in rows], shown
    if command == "best":
        answers = catalog.best("coding", max_price=2)
    elif command == "frontier":
        answers = catalog.frontier("intelligence")
    else:
        answers = catalog.leaders()
    names = [answer.ranking for answer in answers.rankings]
    return names, [row for answer in answers.rankings for row in answer.rows]


def expected(command: str, catalog: Catalog) -> list[ModelStanding]:
    """The standings a command shows, in order."""
    return answered(command, catalog)[1]


def key(row: dict[str, Any]) -> tuple[str, str, int, float, str | None, str]:
    """What identifies a shown standing, from a JSON, CSV or NDJSON row."""
    price = row["price"] or None
    rank, score = int(row["rank"]), float(row["score"])
    return (row["ranking"], row["model"], rank, score, price, row["as_of"])


def standing_key(standing: ModelStanding) -> tuple[str, str, int, float, str | None, str]:
    price = None if standing.price is None else f"{standing.price.normalize():f}"
    return (
        standing.ranking,
        standing.model,
        standing.rank,
        standing.score,
        price,
        standing.as_of.isoformat(),
    )


def json_rows(command: str, document: dict[str, Any]) -> list[dict[str, Any]]:
    if command == "model":
        rows: list[dict[str, Any]] = document["standings"]
        return rows
    if command == "compare":
        return [s for row in document["rows"] for s in row["standings"] if s is not None]
    return [row for ranking in document["rankings"] for row in ranking["rows"]]


def parsed_rows(fmt: str, command: str, text: str) -> list[dict[str, Any]]:
    """The rows of a command's output in a data format."""
    if fmt == "json":
        return json_rows(command, json.loads(text))
    if fmt == "ndjson":
        return [json.loads(line) for line in text.splitlines()]
    return list(csv.DictReader(io.StringIO(text)))


def has_bars(text: str) -> bool:
    return bool(BLOCKS & set(text))


@pytest.mark.parametrize("fmt", ["json", "csv", "ndjson"])
@pytest.mark.parametrize("command", list(COMMANDS))
def test_data_formats_hold_the_catalogs_rows_with_their_citations(
    api: FakeOpenRouter, command: str, fmt: str
) -> None:
    """JSON, CSV and NDJSON hold the catalog's answer, every row with its as_of and citation."""
    result = run_cli(*COMMANDS[command], "--format", fmt)
    assert result.code == 0, result.err
    catalog = catalog_of(api)
    wanted = expected(command, catalog)
    rows = parsed_rows(fmt, command, result.out)
    assert wanted
    assert [key(row) for row in rows] == [standing_key(s) for s in wanted]
    for row, standing in zip(rows, wanted, strict=True):
        assert row["citation"] == standing.citation
        assert row["price_unit"] == standing.price_unit
    assert not has_bars(result.out)
    assert "warning" not in result.err


@pytest.mark.parametrize("command", list(COMMANDS))
def test_json_names_each_cited_part_its_as_of_and_the_gaps(
    api: FakeOpenRouter, command: str
) -> None:
    """The JSON document cites every part it used, with as_of, and says what was missing."""
    document = json.loads(run_cli(*COMMANDS[command], "--format", "json").out)
    catalog = catalog_of(api)
    # A ranking that answered "none within the price" is cited too: the answer rests on it.
    used = {catalog.part_of(name).name for name in answered(command, catalog)[0]}
    cited = {entry["part"]: entry for entry in document["citations"]}
    assert set(cited) == used
    for part in catalog.parts:
        if part.name in used:
            assert part.as_of is not None
            assert cited[part.name]["as_of"] == part.as_of.isoformat()
            assert cited[part.name]["citation"] == part.citation
    assert document["missing"] == document["incomplete"] == []
    assert set(document["price_units"]) == {PER_MILLION_TOKENS, PER_TASK}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_tables_show_every_row_the_units_and_the_sources(api: FakeOpenRouter, command: str) -> None:
    """A table names each standing's ranking and model, how prices are counted, and its sources."""
    result = run_cli(*COMMANDS[command])
    assert result.code == 0, result.err
    catalog = catalog_of(api)
    wanted = expected(command, catalog)
    for standing in wanted:
        assert standing.ranking in result.out
        # Leaders are each ranking's #1: their table has no rank column.
        assert command == "leaders" or f"#{standing.rank}" in result.out
    if command != "compare":  # compare's columns are the model ids
        assert all(s.display_name in result.out for s in wanted)
    units = {s.price_unit for s in wanted if s.price is not None}
    for unit in units:
        assert unit in result.out
    assert "sources:" in result.out
    for part in {catalog.part_of(s.ranking) for s in wanted}:
        assert part.as_of is not None
        assert f"{part.name}, as of {part.as_of:%Y-%m-%d %H:%M} UTC: {part.citation}" in result.out
    assert not has_bars(result.out), "a pipe gets no bars"


def test_repeated_questions_are_answered_from_the_persistent_cache(api: FakeOpenRouter) -> None:
    """The first answer loads the data set in 5 requests; every later one, any format, none."""
    first = run_cli("model", KIMI)
    assert first.code == 0
    assert len(api.requests) == PARTS
    assert f"data set: 5 of 5 parts; {PARTS} requests sent, 0 cache hits" in first.err
    for argv in COMMANDS.values():
        for fmt in FORMATS:
            again = run_cli(*argv, "--format", fmt)
            assert again.code == 0, again.err
            assert f"0 requests sent, {PARTS} cache hits" in again.err
    assert len(api.requests) == PARTS


def test_refresh_and_no_cache_ask_the_server_again(api: FakeOpenRouter) -> None:
    """--refresh fetches every part past the cache; --no-cache neither reads nor writes it."""
    run_cli("leaders")
    assert run_cli("leaders", "--refresh").code == 0
    assert len(api.requests) == 2 * PARTS
    assert run_cli("leaders", "--no-cache").code == 0
    assert len(api.requests) == 3 * PARTS


# Bars, on a terminal only.


def bar_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if has_bars(line)]


def test_a_terminal_gets_a_bar_of_each_rows_score(api: FakeOpenRouter) -> None:
    """On a wide terminal each row has a bar, full for a ranking's leader, within the width."""
    code, shown, _ = on_terminal(["model", KIMI], stream="out", columns=120)
    assert code == 0
    report = catalog_of(api).model(KIMI)
    bars = bar_lines(shown)
    assert len(bars) == len(report.standings)
    assert all(len(line) <= 120 for line in bars)
    for line, standing in zip(bars, report.standings, strict=True):
        assert standing.ranking in line
        assert line.rstrip().endswith("█" * 16) == (standing.rank == 1)


def test_compare_draws_a_bar_per_model_on_a_wide_terminal(api: FakeOpenRouter) -> None:
    """compare puts a bar after each model's cell when the terminal has room for them all."""
    code, shown, _ = on_terminal(["compare", KIMI, GPT5], stream="out", columns=160)
    assert code == 0
    both = [
        line for line in bar_lines(shown) if line.startswith("artificial-analysis intelligence")
    ]
    assert len(both) == 1
    assert len([cell for cell in both[0].split("  ") if has_bars(cell)]) == 2
    assert all(len(line) <= 160 for line in bar_lines(shown))


def test_a_narrow_terminal_gets_the_table_without_bars(api: FakeOpenRouter) -> None:
    """Where a bar does not fit beside the rows, none is drawn: the table stays whole."""
    code, shown, _ = on_terminal(["model", KIMI], stream="out", columns=60)
    assert code == 0
    assert "artificial-analysis coding" in shown
    assert not has_bars(shown)


@pytest.mark.parametrize("fmt", ["csv", "json", "ndjson"])
def test_data_formats_get_no_bars_even_on_a_terminal(api: FakeOpenRouter, fmt: str) -> None:
    """Bars are for people reading a table: CSV, JSON and NDJSON never carry one."""
    code, shown, _ = on_terminal(["best", "--task", "coding", "--format", fmt], stream="out")
    assert code == 0
    assert shown.strip()
    assert not has_bars(shown)


# Names, usage and exit codes.


def test_an_unknown_name_exits_2_with_suggestions(api: FakeOpenRouter) -> None:
    """A name no model goes by exits 2; stderr's one error line names the closest models."""
    for argv in (("model", "Kimi-K2-Thinkin"), ("compare", GPT5, "Kimi-K2-Thinkin")):
        result = run_cli(*argv)
        assert result.code == 2
        assert result.out == ""
        errors = [line for line in result.err_lines if line.startswith("openrouter-bench: error:")]
        assert errors == [
            "openrouter-bench: error: no model goes by 'Kimi-K2-Thinkin'; "
            "did you mean 'moonshotai/kimi-k2-thinking'?"
        ]


@contextlib.contextmanager
def serving_a_twin(fake: FakeOpenRouter) -> Iterator[str]:
    """A server answering as the fake does, with a second vendor's qwen3-max among AA's models."""

    async def answer(request: RawRequest, writer: asyncio.StreamWriter) -> None:
        params = dict(parse_qsl(urlsplit(request.target).query))
        document = fake.payload(params)
        if params.get("source") == "artificial-analysis":
            first = document["data"][0]
            twin = {**first, "model_permaslug": "other-vendor/qwen3-max", "display_name": "X"}
            document["data"].append(twin)
        writer.write(respond(200, orjson.dumps(document)))
        await writer.drain()

    with serving_in_thread(answer) as url:
        yield url


def test_an_ambiguous_name_exits_2_listing_the_candidates(
    api: FakeOpenRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A name two models go by exits 2, naming both ids; either full id is answered."""
    with serving_a_twin(api) as url:
        monkeypatch.setenv("OPENROUTER_BASE_URL", url)
        result = run_cli("model", "qwen3-max")
        chosen = run_cli("model", "qwen/qwen3-max", "--format", "json")
    assert result.code == 2
    assert result.err_lines[-1] == (
        "openrouter-bench: error: 'qwen3-max' could be any of other-vendor/qwen3-max, "
        "qwen/qwen3-max; name one of them"
    )
    assert chosen.code == 0
    assert json.loads(chosen.out)["model"] == "qwen/qwen3-max"


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (("compare", KIMI), "compare takes 2 to 20 model names, got 1"),
        (("best", "--task", "codin"), "did you mean coding?"),
        (("best", "--task", "coding", "--frontier", "--top", "3"), "a frontier is shown whole"),
        (("best", "--task", "coding", "--max-price", "-1"), "must be a finite amount"),
        (("best", "--task", "coding", "--max-price", "two"), "not an amount of USD"),
        (("best",), "the following arguments are required: --task"),
    ],
)
def test_questions_that_cannot_be_answered_exit_2_before_any_request(
    api: FakeOpenRouter, argv: tuple[str, ...], said: str
) -> None:
    """A question wrong on its face exits 2 saying why, and costs no request."""
    result = run_cli(*argv)
    assert result.code == 2
    assert said in result.err
    assert api.requests == []


def test_a_ranking_the_data_lacks_exits_2_with_the_closest(api: FakeOpenRouter) -> None:
    """--task names a ranking the data set does not have: exit 2, with the closest names."""
    result = run_cli("best", "--task", "design-arena models/svgg")
    assert result.code == 2
    assert "did you mean 'design-arena models/svg'" in result.err


def mapped(params: dict[str, str]) -> str:
    """The name of the part a query of the catalog asks for: its source, and arena if any."""
    return " ".join(value for value in (params["source"], params.get("arena")) if value)


def test_a_part_that_failed_is_named_in_every_format(api: FakeOpenRouter) -> None:
    """One part fails: the answer comes from the others and says which is missing."""
    api.script(500)
    table = run_cli("model", KIMI, "--retries", "0", "--no-cache")
    failed = next(request for request in api.requests if request.status == 500)
    part = mapped(failed.params)
    assert table.code == 0
    assert f"missing (could not be fetched): {part}" in table.out
    assert "data set: 4 of 5 parts" in table.err
    api.script(500)
    as_csv = run_cli("model", KIMI, "--retries", "0", "--no-cache", "--format", "csv")
    assert as_csv.code == 0
    assert "openrouter-bench: warning: not fetched, so not looked at: " in as_csv.err
    # Leaders look at Design Arena only: another source's failure is no gap of theirs.
    api.script(500)
    leaders = run_cli("leaders", "--retries", "0", "--no-cache", "--format", "json")
    failed = [r for r in api.requests if r.status == 500][-1]
    gaps = json.loads(leaders.out)["missing"]
    assert gaps == ([] if failed.params["source"] != "design-arena" else [mapped(failed.params)])


def test_when_every_part_fails_the_failure_is_the_answer(api: FakeOpenRouter) -> None:
    """No part could be fetched: the command exits with that failure's code (5), one line."""
    api.script(*[503] * PARTS)
    result = run_cli("model", KIMI, "--retries", "0")
    assert result.code == 5
    assert result.out == ""
    assert result.err_lines[-1].startswith("openrouter-bench: error:")


def test_missing_key_exits_3_before_loading(
    api: FakeOpenRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a key the answer commands exit 3, like the others, and send nothing."""
    monkeypatch.delenv("OPENROUTER_API_KEY")
    assert run_cli("leaders").code == 3
    assert api.requests == []


# Prices: each ceiling in its ranking's own unit.


def rankings(argv: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    result: Run = run_cli(*argv, "--format", "json")
    assert result.code == 0, result.err
    return {ranking["ranking"]: ranking for ranking in json.loads(result.out)["rankings"]}


def test_max_price_keeps_the_first_models_priced_within_it(api: FakeOpenRouter) -> None:
    """--max-price 2 keeps, per ranking, the best models blended at most $2 per million tokens."""
    shown = rankings(("best", "--task", "coding", "--max-price", "2", "--top", "3"))
    catalog = catalog_of(api)
    assert shown
    for name, ranking in shown.items():
        assert ranking["price_unit"] == PER_MILLION_TOKENS
        assert ranking["ceiling"] == "2"
        within = [s for s in catalog.ranking(name) if s.price is not None and s.price <= Decimal(2)]
        assert [key(row) for row in ranking["rows"]] == [standing_key(s) for s in within[:3]]
        assert all(Decimal(row["price"]) <= 2 for row in ranking["rows"])


def test_each_ceiling_applies_in_its_own_unit(api: FakeOpenRouter) -> None:
    """--max-price limits per-token rankings only, --max-cost-per-task OpenRouter's evals only."""
    per_token = rankings(("best", "--task", "intelligence", "--max-price", "0.5"))
    per_task = rankings(("best", "--task", "intelligence", "--max-cost-per-task", "0.005"))
    aa, evals = "artificial-analysis intelligence", "openrouter gpqa_diamond"
    catalog = catalog_of(api)
    assert per_token[aa]["ceiling"] == "0.5"
    assert per_token[evals]["ceiling"] is None
    assert [key(r) for r in per_token[evals]["rows"]] == [
        standing_key(s) for s in catalog.ranking(evals)[:5]
    ]
    assert per_task[aa]["ceiling"] is None
    assert per_task[evals]["ceiling"] == "0.005"
    assert per_task[evals]["price_unit"] == PER_TASK
    assert per_task[evals]["rows"]
    assert all(Decimal(row["price"]) <= Decimal("0.005") for row in per_task[evals]["rows"])


def test_a_frontier_is_cut_at_the_price(api: FakeOpenRouter) -> None:
    """--frontier --max-price shows the frontier's points within the price, cheapest first."""
    whole = rankings(("best", "--task", "coding", "--frontier"))
    cut = rankings(("best", "--task", "coding", "--frontier", "--max-price", "3"))
    for name, ranking in whole.items():
        prices = [Decimal(row["price"]) for row in ranking["rows"]]
        assert prices == sorted(prices)
        kept = [key(row) for row in ranking["rows"] if Decimal(row["price"]) <= 3]
        assert [key(row) for row in cut[name]["rows"]] == kept


def test_parts_that_may_lack_items_are_named_under_the_guides_reading(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Where an unfiltered page stops at 50 items, answers say which parts may lack items."""
    with FakeOpenRouter.running_in_thread(
        seed=7, per_minute=None, per_day=None, max_results_reading="guide"
    ) as fake:
        monkeypatch.setenv("OPENROUTER_API_KEY", CANARY_KEY)
        monkeypatch.setenv("OPENROUTER_BASE_URL", fake.url)
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
        # Read category by category, the data set takes more than a minute's 30 requests.
        table = run_cli("model", KIMI, "--quota", "off")
        document = json.loads(run_cli("model", KIMI, "--format", "json").out)
        as_csv = run_cli("model", KIMI, "--format", "csv")
    # Artificial Analysis cannot be asked for in narrower pages: its cut page stays cut.
    assert "artificial-analysis" in document["incomplete"]
    assert document["missing"] == []
    footer = [line for line in table.out.splitlines() if line.startswith("incomplete")]
    assert footer == [f"incomplete (a page may have been cut): {', '.join(document['incomplete'])}"]
    assert (
        "openrouter-bench: warning: may lack items (a page may have been cut): "
        f"{', '.join(document['incomplete'])}"
    ) in as_csv.err


def test_a_part_served_stale_says_so(api: FakeOpenRouter) -> None:
    """When a refresh fails and the cache serves an older snapshot, the answer says which part."""
    assert run_cli("leaders").code == 0
    api.script(*[503] * PARTS)
    document = json.loads(run_cli("leaders", "--refresh", "--retries", "0", "--format", "json").out)
    assert document["citations"]
    assert all(entry["stale"] for entry in document["citations"])
    api.script(*[503] * PARTS)
    table = run_cli("leaders", "--refresh", "--retries", "0")
    assert table.code == 0
    assert table.out.count("STALE: the refresh failed") == len(document["citations"])
    fresh = json.loads(run_cli("leaders", "--format", "json").out)
    assert not any(entry["stale"] for entry in fresh["citations"])
