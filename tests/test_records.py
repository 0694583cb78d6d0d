"""Flat rows for analysis: one per item, its place, its exact prices, and the CSV's columns.

Pages are built from the fake's own answers (``page_from``), so every expected
value is the server's JSON. The ``assert_type`` calls are checked by the
project's mypy run: strictly typed code reads a filtered row's item with no cast.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final, assert_type

import pytest

from openrouter_bench import (
    ArtificialAnalysisItem,
    Catalog,
    DesignArenaItem,
    FanOutResult,
    InvalidQueryError,
    Item,
    ItemRow,
    Meta,
    OpenRouterEvalItem,
    Page,
    Pricing,
    Query,
    SearchEvalItem,
    UnknownItem,
    rows_of,
)
from openrouter_bench._convert import structure_page
from openrouter_bench.fake import FakeOpenRouter
from openrouter_bench.records import ROW_COLUMNS, blended_price, flatten, per_million
from openrouter_bench.render import ItemView, render_grid, render_page
from tests.conftest import bare_meta, page_from, run_cli

MILLION: Final = Decimal(1_000_000)

#: One query per item class of the fake's data set, and the class its items have.
CLASS_QUERIES: Final = [
    pytest.param({"source": "artificial-analysis"}, ArtificialAnalysisItem, id="aa"),
    pytest.param(
        {"source": "artificial-analysis", "task_type": "agentic"},
        ArtificialAnalysisItem,
        id="aa-agentic",
    ),
    pytest.param({"source": "design-arena"}, DesignArenaItem, id="da-arena"),
    pytest.param(
        {"source": "design-arena", "arena": "builders"}, DesignArenaItem, id="da-builders"
    ),
    pytest.param(
        {"source": "openrouter", "benchmark_type": "gpqa_diamond"}, OpenRouterEvalItem, id="eval"
    ),
    pytest.param(
        {"task_type": "search", "include_run_config": "true"}, SearchEvalItem, id="search"
    ),
]

#: The field the server ranks each kind of item by, given the query's task type.
SCORE_FIELD: Final = {
    "design-arena": "elo",
    "openrouter-eval": "accuracy",
    "openrouter-search": "primary_score",
}


def expected_score(item: dict[str, Any], params: dict[str, str]) -> float | None:
    """The score the server ranked ``item`` by, read from its JSON."""
    if item["source"] == "artificial-analysis":
        task = params.get("task_type", "intelligence")
        value: float | None = item[f"{task}_index"]
        return value
    if item["source"] == "design-arena":
        return float(item["elo"])
    kind = "search" if item["benchmark_type"].startswith("search_") else "eval"
    return float(item[SCORE_FIELD[f"openrouter-{kind}"]])


def expected_ranking(item: dict[str, Any], params: dict[str, str]) -> str:
    """The ranking name a person would expect for ``item``."""
    if item["source"] == "design-arena":
        return f"design-arena {item['arena']}/{item['category']}"
    if item["source"] == "artificial-analysis":
        task = params.get("task_type")
        return "artificial-analysis" if task is None else f"artificial-analysis {task}"
    return f"openrouter {item['benchmark_type']}"


def server_ranks(items: list[dict[str, Any]], params: dict[str, str]) -> list[int]:
    """Each item's 1-based position in its ranking, in the server's order."""
    seen: dict[str, int] = {}
    ranks = []
    for item in items:
        name = expected_ranking(item, params)
        seen[name] = seen.get(name, 0) + 1
        ranks.append(seen[name])
    return ranks


@pytest.mark.parametrize(("params", "kind"), CLASS_QUERIES)
def test_rows_hold_each_items_place_and_fields(
    dataset: FakeOpenRouter, params: dict[str, str], kind: type[Item]
) -> None:
    """A row per item of every class: its source, ranking, rank, score and the server's fields."""
    payload = dataset.payload(params)
    page = page_from(dataset, params)
    rows = rows_of(page)
    items = payload["data"]
    assert len(rows) == len(items) > 0
    for row, item, rank in zip(rows, items, server_ranks(items, params), strict=True):
        assert isinstance(row.item, kind)
        assert row.fields == flatten(item)
        assert row.source == item["source"]
        assert row.model_permaslug == item["model_permaslug"]
        assert row.display_name == item["display_name"]
        assert row.arena == item.get("arena")
        assert row.category == item.get("category")
        assert row.benchmark_type == item.get("benchmark_type")
        assert row.ranking == expected_ranking(item, params)
        assert row.rank == rank
        assert row.score == expected_score(item, params)
        assert row.as_of == datetime.fromisoformat(payload["meta"]["as_of"])
        assert row.citation == payload["meta"]["citation"]
        assert row.query == Query.from_params(params)


@pytest.mark.parametrize(("params", "kind"), CLASS_QUERIES)
def test_prices_are_the_servers_exact_decimals_per_million(
    dataset: FakeOpenRouter, params: dict[str, str], kind: type[Item]
) -> None:
    """Per-million input, output and 3:1 blended prices equal the server's strings exactly."""
    rows = rows_of(page_from(dataset, params))
    for row, item in zip(rows, dataset.payload(params)["data"], strict=True):
        pricing = item.get("pricing")
        prices = (
            row.input_price_per_million,
            row.output_price_per_million,
            row.blended_price_per_million,
        )
        if pricing is None:
            assert prices == (None, None, None)
            continue
        prompt, completion = Decimal(pricing["prompt"]), Decimal(pricing["completion"])
        assert all(type(price) is Decimal for price in prices)
        assert prices == (
            prompt * MILLION,
            completion * MILLION,
            (3 * prompt + completion) / 4 * MILLION,
        )
        assert row.fields["pricing.prompt"] == pricing["prompt"]
    priced = [row for row in rows if row.blended_price_per_million is not None]
    # OpenRouter evals cost per task, and Design Arena's builders are not on OpenRouter.
    assert bool(priced) == (kind is ArtificialAnalysisItem or params == {"source": "design-arena"})


def test_every_category_of_an_arena_page_ranks_from_one_like_the_servers_own_answer(
    dataset: FakeOpenRouter,
) -> None:
    """Ranks in an arena-wide page are each category's own: its per-category answer's order."""
    rows = rows_of(page_from(dataset, {"source": "design-arena"}))
    categories = dict.fromkeys(row.category for row in rows)
    assert len(categories) > 3
    for category in categories:
        assert category is not None
        own = dataset.payload({"source": "design-arena", "category": category})["data"]
        mine = sorted((row for row in rows if row.category == category), key=lambda r: r.rank)
        assert [row.rank for row in mine] == list(range(1, len(own) + 1))
        assert [row.model_permaslug for row in mine] == [item["model_permaslug"] for item in own]


def test_a_page_spanning_sources_ranks_each_ranking_on_its_own(dataset: FakeOpenRouter) -> None:
    """An unfiltered page holds many rankings; each counts from 1 without gaps."""
    rows = rows_of(page_from(dataset, {}))
    by_ranking: dict[str, list[int]] = {}
    for row in rows:
        by_ranking.setdefault(row.ranking, []).append(row.rank)
    assert {row.source for row in rows} == {"artificial-analysis", "design-arena", "openrouter"}
    assert len(by_ranking) > 10
    for ranks in by_ranking.values():
        assert ranks == list(range(1, len(ranks) + 1))


def aa_page(*scores: float | None) -> Page:
    """An Artificial Analysis page with these intelligence indexes, in this order."""
    items = tuple(
        ArtificialAnalysisItem(f"lab/model-{n}", f"Model {n}", score, None, None, None)
        for n, score in enumerate(scores)
    )
    meta = Meta(datetime(2026, 6, 3, tzinfo=UTC), "v1", "artificial-analysis", None, None, 1, None)
    query = Query(source="artificial-analysis")
    return Page(items=items, meta=meta, query=query, fetched_at=meta.as_of)


def test_equal_scores_get_consecutive_ranks_in_the_servers_order() -> None:
    """Ties share no rank: they keep the server's order, as a table's # column does."""
    rows = rows_of(aa_page(70.0, 64.5, 64.5, 60.0, None))
    assert [(row.model_permaslug, row.rank) for row in rows] == [
        ("lab/model-0", 1),
        ("lab/model-1", 2),
        ("lab/model-2", 3),
        ("lab/model-3", 4),
        ("lab/model-4", 5),
    ]
    assert rows[-1].score is None


def test_rows_of_one_class_are_typed_and_keep_their_ranks(dataset: FakeOpenRouter) -> None:
    """kind= keeps one item class, typed as it (no cast), each row ranked as in the whole page."""
    page = page_from(dataset, {})
    arena = rows_of(page, DesignArenaItem)
    assert_type(arena, tuple[ItemRow[DesignArenaItem], ...])
    assert_type(arena[0].item.elo, float)
    assert arena == tuple(row for row in rows_of(page) if isinstance(row.item, DesignArenaItem))
    assert [row.item for row in arena] == list(page.items_of(DesignArenaItem))
    search = rows_of(page, SearchEvalItem)
    assert_type(search[0].item.search_engine, str)
    assert {row.benchmark_type for row in search} == {
        item.benchmark_type for item in page.items_of(SearchEvalItem)
    }
    everything = rows_of(page)
    assert_type(everything, tuple[ItemRow[Item], ...])
    assert rows_of(page, UnknownItem) == ()


def test_rows_of_several_pages_are_each_pages_rows_in_turn(dataset: FakeOpenRouter) -> None:
    """Several pages (a fan-out's pages, say): each page's rows, in the order given."""
    first = page_from(dataset, {"source": "design-arena", "category": "svg"})
    second = page_from(dataset, {"source": "artificial-analysis", "task_type": "coding"})
    assert rows_of([first, second]) == rows_of(first) + rows_of(second)
    assert rows_of(iter([second])) == rows_of(second)
    assert rows_of([]) == ()
    assert rows_of([first, second], ArtificialAnalysisItem) == rows_of(second)


def test_rows_of_refuses_what_is_not_pages_naming_it(dataset: FakeOpenRouter) -> None:
    """Not pages, or not an item class: InvalidQueryError saying what was given and what to pass."""
    page = page_from(dataset, {"source": "design-arena", "category": "svg"})
    result = FanOutResult({page.query: page})
    with pytest.raises(InvalidQueryError, match=r"FanOutResult.*result\.pages\.values\(\)"):
        rows_of(result)  # type: ignore[arg-type]
    with pytest.raises(InvalidQueryError, match="holds a str"):
        rows_of([page, "page"])  # type: ignore[list-item]
    with pytest.raises(InvalidQueryError, match="not int"):
        rows_of(3)  # type: ignore[call-overload]
    with pytest.raises(InvalidQueryError, match=r"rows_of takes an item class.*not Page") as error:
        rows_of(page, Page)  # type: ignore[type-var]
    assert error.value.parameter == "kind"


def test_to_dict_has_every_field_of_the_class_typed(dataset: FakeOpenRouter) -> None:
    """to_dict: the row's columns, then every field of the item's class typed, then the page's."""
    params = {"task_type": "search"}
    row = rows_of(page_from(dataset, params))[0]
    record = row.to_dict()
    names = list(record)
    assert names[:12] == list(ROW_COLUMNS[:12])
    assert names[-3:] == ["as_of", "citation", "query"]
    # Without include_run_config the item has no run_config; its columns are still there.
    assert "run_config" not in row.fields
    assert record["run_config.temperature"] is None
    assert isinstance(record["last_run_timestamp"], datetime)
    assert record["last_run_timestamp"] == datetime.fromisoformat(row.fields["last_run_timestamp"])
    assert record["query"] == "task_type=search"
    for name, value in row.fields.items():
        if name != "last_run_timestamp":
            assert record[name] == value, name
    arena = rows_of(
        page_from(dataset, {"source": "design-arena", "category": "svg"}), DesignArenaItem
    )
    unpriced = next(row for row in arena if row.item.pricing is None)
    typed = unpriced.to_dict()
    assert typed["pricing.prompt"] is None
    assert typed["tournament_stats.total"] == unpriced.item.tournament_stats.total
    priced = next(row for row in arena if row.item.pricing is not None).to_dict()
    assert type(priced["pricing.prompt"]) is Decimal


def test_extra_keys_and_unknown_items_are_kept_as_columns() -> None:
    """A key no class declares, and an item of an unknown source, are columns as sent."""
    payload = {
        "data": [
            {
                "source": "design-arena",
                "model_permaslug": "a/b",
                "display_name": "B",
                "arena": "models",
                "category": "svg",
                "elo": 1200.5,
                "win_rate": 55.0,
                "avg_generation_time_ms": None,
                "tournament_stats": {
                    "first_place": 1,
                    "second_place": None,
                    "third_place": 2,
                    "fourth_place": 0,
                    "total": 3,
                },
                "pricing": {"prompt": "0.000001", "completion": "0.000002", "cached": "0.0000001"},
                "votes": [1, 2],
                "badge": "new",
            },
            {"source": "new-lab", "model_permaslug": "c/d", "score": 0.5},
        ],
        "meta": bare_meta(2, as_of="2026-06-03T12:00:00.000Z"),
    }
    page = structure_page(payload, query=Query(), fetched_at=datetime(2026, 6, 3, tzinfo=UTC))
    known, unknown = rows_of(page)
    assert known.fields["pricing.cached"] == "0.0000001"
    assert known.fields["votes"] == "[1,2]"
    record = known.to_dict()
    assert record["badge"] == "new"
    assert record["votes"] == (1, 2)
    assert record["pricing.cached"] == "0.0000001"
    assert known.blended_price_per_million == Decimal("1.25")
    assert (unknown.source, unknown.ranking, unknown.rank, unknown.score) == (
        "new-lab",
        "new-lab",
        1,
        None,
    )
    assert unknown.model_permaslug == "c/d"
    assert unknown.display_name is None
    assert unknown.to_dict()["score"] is None  # the row's own score: none is known for it
    assert unknown.fields == {"source": "new-lab", "model_permaslug": "c/d", "score": 0.5}


# --- the CSV output is these rows ------------------------------------------------------------


def as_cells(fields: dict[str, Any], columns: list[str]) -> dict[str, str]:
    """A row's fields as csv.DictReader reads them back."""
    return {name: "" if fields.get(name) is None else str(fields[name]) for name in columns}


def read_csv(text: str) -> tuple[list[str], list[dict[str, str]]]:
    """A CSV document's header and rows."""
    reader = csv.DictReader(io.StringIO(text))
    rows = list(reader)
    assert reader.fieldnames is not None
    return list(reader.fieldnames), rows


@pytest.mark.parametrize(("params", "kind"), CLASS_QUERIES)
@pytest.mark.parametrize(
    "view", [ItemView(), ItemView(sort="-display_name", top=9)], ids=["as-sent", "sorted"]
)
def test_the_csv_output_is_the_rows_fields(
    dataset: FakeOpenRouter, params: dict[str, str], kind: type[Item], view: ItemView
) -> None:
    """render_page's CSV has one line per row, the rows' fields, in the view's order."""
    page = page_from(dataset, params)
    header, lines = read_csv(render_page(page, "csv", view))
    rows = view.apply_rows(rows_of(page))
    assert [row.item for row in rows] == list(view.apply(page.items))
    assert lines == [as_cells(row.fields, header) for row in rows]
    # Every CSV column is a column of the rows' records (an all-null object, "pricing" of a
    # page whose items are all unpriced, stands for its fields there).
    names = {name for row in rows for name in row.to_dict()}
    assert all(name in names or any(n.startswith(f"{name}.") for n in names) for name in header)


def test_the_grid_csv_is_each_pages_rows_after_its_query(dataset: FakeOpenRouter) -> None:
    """render_grid's CSV: the query, then the rows' fields, page after page."""
    pages = [page_from(dataset, {"source": "design-arena", "category": c}) for c in ("svg", "3d")]
    result = FanOutResult({page.query: page for page in pages})
    header, lines = read_csv(render_grid(result, "csv"))
    assert header[0] == "query"
    expected = [
        {"query": row.query.key, **as_cells(row.fields, header[1:])}
        for row in rows_of(result.pages.values())
    ]
    assert lines == expected


def test_the_commands_csv_is_the_rows_fields(api: FakeOpenRouter) -> None:
    """openrouter-bench get --format csv prints the rows of the page it fetched."""
    params = {"source": "design-arena", "arena": "builders"}
    done = run_cli("get", "--source", "design-arena", "--arena", "builders", "--format", "csv")
    assert done.code == 0, done.err
    header, lines = read_csv(done.out)
    assert lines == [as_cells(row.fields, header) for row in rows_of(page_from(api, params))]


# --- catalogs --------------------------------------------------------------------------------


async def test_a_catalogs_rows_are_every_parts_page_rows(fake_catalog: Catalog) -> None:
    """Catalog.rows(): the rows of every page it was read from, part by part; kind= filters."""
    pages = [page for part in fake_catalog.parts for page in part.pages]
    rows = fake_catalog.rows()
    assert_type(rows, tuple[ItemRow[Item], ...])
    assert rows == rows_of(pages)
    assert len(rows) == sum(len(page) for page in pages) > 1000
    assert {row.source for row in rows} == {"artificial-analysis", "design-arena", "openrouter"}
    evals = fake_catalog.rows(OpenRouterEvalItem)
    assert_type(evals, tuple[ItemRow[OpenRouterEvalItem], ...])
    assert_type(evals[0].item.accuracy, float)
    assert evals == tuple(row for row in rows if isinstance(row.item, OpenRouterEvalItem))
    # The catalog's own blended prices are the rows' (one definition of the blend).
    cheapest = fake_catalog.best("coding", max_price="1", limit=1).rankings[0].rows[0]
    found = next(
        r for r in rows if (r.model_permaslug, r.source) == (cheapest.model, cheapest.source)
    )
    assert found.blended_price_per_million == cheapest.price


# --- prices ---------------------------------------------------------------------------------


PRICE_CASES: Final = [
    ("0.0000025", "0.00001", Decimal("2.5"), Decimal("10"), Decimal("4.375")),
    ("0.00000002", "0.00000016", Decimal("0.02"), Decimal("0.16"), Decimal("0.055")),
    ("0", "0", Decimal(0), Decimal(0), Decimal(0)),
    # Past the 28 digits of Python's default decimal context: still exact.
    (
        "0.000000123456789012345678901234567",
        "0.000001",
        Decimal("0.123456789012345678901234567"),
        Decimal("1"),
        Decimal("0.34259259175925925917592592525"),
    ),
]


@pytest.mark.parametrize(("prompt", "completion", "inputs", "outputs", "blended"), PRICE_CASES)
def test_prices_per_million_are_exact_and_plainly_written(
    prompt: str, completion: str, inputs: Decimal, outputs: Decimal, blended: Decimal
) -> None:
    """Per-million prices and the 3:1 blend lose no digit and carry no trailing zeros."""
    pricing = Pricing(Decimal(prompt), Decimal(completion))
    assert per_million(pricing.prompt) == inputs
    assert per_million(pricing.completion) == outputs
    assert blended_price(pricing) == blended
    for value in (per_million(pricing.prompt), blended_price(pricing)):
        assert value is not None
        text = str(value)
        assert "E" not in text
        assert not ("." in text and text.endswith("0")), text


def test_a_price_too_long_to_blend_exactly_is_unknown_not_rounded() -> None:
    """A blend that would need over a thousand digits is None (no real price comes close)."""
    assert blended_price(Pricing(Decimal("1E+99"), Decimal("1E-99"))) is not None
    assert blended_price(Pricing(Decimal("1E+999"), Decimal("1E-999"))) is None
    assert per_million(None) is None
