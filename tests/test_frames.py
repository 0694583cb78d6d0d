"""Data frames of the rows: pandas and polars, column types, exact prices, missing libraries."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Final

import pandas as pd
import polars as pl
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
    Page,
    Pricing,
    Query,
    ResponseFormatError,
    TournamentStats,
    UnknownItem,
    rows_of,
    to_pandas,
    to_polars,
)
from openrouter_bench.fake import FakeOpenRouter
from openrouter_bench.records import ROW_COLUMNS
from tests.conftest import page_from

CATEGORIES: Final = (
    "source",
    "ranking",
    "arena",
    "category",
    "benchmark_type",
    "primary_metric",
    "search_engine",
    "search_surface",
)
TEXT: Final = (
    "model_permaslug",
    "display_name",
    "citation",
    "query",
    "run_config.reasoning_effort",
)
WHOLE: Final = (
    "rank",
    "total_tasks",
    "run_config.max_agent_turns",
    *(f"tournament_stats.{n}" for n in ("first_place", "second_place", "third_place", "total")),
)
NUMBERS: Final = (
    "score",
    "elo",
    "win_rate",
    "avg_generation_time_ms",
    "intelligence_index",
    "coding_index",
    "agentic_index",
    "accuracy",
    "accuracy_stddev",
    "avg_cost_per_task",
    "primary_score",
    "avg_latency_per_task_ms",
    "run_config.temperature",
)
PRICES: Final = (
    "input_price_per_million",
    "output_price_per_million",
    "blended_price_per_million",
    "pricing.prompt",
    "pricing.completion",
)
TIMES: Final = ("as_of", "last_run_timestamp")

#: Every source, arena, category and benchmark, with search run configs: every item class.
EVERYTHING: Final = {"include_run_config": "true"}


@pytest.fixture(scope="module")
def whole(dataset: FakeOpenRouter) -> Page:
    """The fake's whole data set in one unfiltered page."""
    return page_from(dataset, EVERYTHING)


def plain(value: Any) -> Any:
    """A frame's cell as the Python value a row holds (missing values as None)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value


def test_a_pandas_frame_has_a_row_per_item_and_typed_columns(whole: Page) -> None:
    """One row per item, the rows' columns in order, each with its nullable or exact dtype."""
    frame = to_pandas(whole)
    rows = rows_of(whole)
    assert len(frame) == len(rows) == len(whole)
    columns = list(frame.columns)
    assert columns[:12] == list(ROW_COLUMNS[:12])
    assert columns[-3:] == ["as_of", "citation", "query"]
    assert set(columns) == {name for row in rows for name in row.to_dict()}
    for name in CATEGORIES:
        assert isinstance(frame[name].dtype, pd.CategoricalDtype), name
    for name in TEXT:
        assert isinstance(frame[name].dtype, pd.StringDtype), name
    for name in WHOLE:
        assert frame[name].dtype == pd.Int64Dtype(), name
    for name in NUMBERS:
        assert frame[name].dtype == pd.Float64Dtype(), name
    for name in PRICES:
        assert frame[name].dtype == object, name
        assert {type(value) for value in frame[name]} == {Decimal, type(None)}, name
    for name in TIMES:
        dtype = frame[name].dtype
        assert isinstance(dtype, pd.DatetimeTZDtype), name
        assert str(dtype.tz) == "UTC", name
    # Missing where a class has no such field: a nullable column, not floats or objects.
    assert frame["elo"].isna().sum() == sum(not isinstance(i, DesignArenaItem) for i in whole.items)
    assert not frame["rank"].isna().any()
    assert list(frame["arena"].cat.categories) == ["models", "builders", "agents"]


def test_a_pandas_frame_gives_every_value_back(whole: Page) -> None:
    """Each cell is the row's value: prices the same Decimals, times the same moments."""
    frame = to_pandas(whole)
    for row, (_, cells) in zip(rows_of(whole), frame.iterrows(), strict=True):
        expected = row.to_dict()
        assert {name: plain(cells[name]) for name in expected} == expected
        assert all(plain(cells[name]) is None for name in frame.columns if name not in expected)


def test_pandas_takes_rows_pages_and_catalogs(whole: Page, fake_catalog: Catalog) -> None:
    """Rows, one page, several pages and a Catalog give the same frame as their rows."""
    pd.testing.assert_frame_equal(to_pandas(whole), to_pandas(rows_of(whole)))
    pd.testing.assert_frame_equal(to_pandas(whole), to_pandas([whole]))
    pd.testing.assert_frame_equal(to_pandas(fake_catalog), to_pandas(fake_catalog.rows()))
    arena = to_pandas(fake_catalog.rows(DesignArenaItem))
    assert set(arena["source"]) == {"design-arena"}
    assert "intelligence_index" not in arena.columns


def test_a_polars_frame_has_typed_columns_and_exact_prices(whole: Page) -> None:
    """Polars: the same columns as pandas, prices as Decimal(38, 18), times in UTC."""
    frame = to_polars(whole)
    assert frame.columns == list(to_pandas(whole).columns)
    assert frame.height == len(whole)
    schema = frame.schema
    for name in CATEGORIES:
        assert schema[name] == pl.Categorical, name
    for name in TEXT:
        assert schema[name] == pl.String, name
    for name in WHOLE:
        assert schema[name] == pl.Int64, name
    for name in NUMBERS:
        assert schema[name] == pl.Float64, name
    for name in PRICES:
        assert schema[name] == pl.Decimal(38, 18), name
    for name in TIMES:
        assert schema[name] == pl.Datetime("us", "UTC"), name


def test_a_polars_frame_gives_every_value_back(whole: Page) -> None:
    """Each polars cell equals the row's value: prices to the last digit, times as moments."""
    frame = to_polars(whole)
    for row, cells in zip(rows_of(whole), frame.iter_rows(named=True), strict=True):
        expected = row.to_dict()
        assert {name: cells[name] for name in expected} == expected
        assert all(cells[name] is None for name in frame.columns if name not in expected)


def priced_page(*prompts: str) -> Page:
    """An Artificial Analysis page of items priced ``prompt`` per input token."""
    items = tuple(
        ArtificialAnalysisItem(
            f"lab/m{n}", f"M{n}", 50.0, None, None, Pricing(Decimal(p), Decimal("0.000001"))
        )
        for n, p in enumerate(prompts)
    )
    meta = Meta(datetime(2026, 6, 3, tzinfo=UTC), "v1", "artificial-analysis", None, None, 1, None)
    return Page(
        items=items, meta=meta, query=Query(source="artificial-analysis"), fetched_at=meta.as_of
    )


def test_polars_refuses_a_price_it_would_round_and_pandas_keeps_it() -> None:
    """A price past 18 decimal places raises ResponseFormatError in polars; pandas keeps it."""
    fits = to_polars(priced_page("0.000000000000000001", "123456789.5"))
    assert fits["pricing.prompt"].to_list() == [Decimal("1E-18"), Decimal("123456789.5")]
    tiny = priced_page("0.0000025", "0.0000000000000000001")
    with pytest.raises(ResponseFormatError, match=r"row 1, pricing\.prompt: 1E-19 .*to_pandas"):
        to_polars(tiny)
    assert to_pandas(tiny)["pricing.prompt"][1] == Decimal("1E-19")
    with pytest.raises(ResponseFormatError, match=r"input_price_per_million: 1000.* does not fit"):
        to_polars(priced_page("1" + "0" * 20))


def test_keys_no_class_declares_get_a_type_from_their_values() -> None:
    """An extra key of one JSON type gets that type; mixed or nested values stay objects."""
    arena = DesignArenaItem(
        "a/b",
        "B",
        "models",
        "svg",
        1200,
        55.0,
        None,
        TournamentStats(1, None, 2, 0, 3),
        None,
        extra=MappingProxyType({"badge": "new", "votes": (1, 2), "weight": 2}),
    )
    other = UnknownItem("new-lab", MappingProxyType({"model_permaslug": "c/d", "weight": 2.5}))
    meta = Meta(datetime(2026, 6, 3, tzinfo=UTC), "v1", None, None, None, 2, None)
    page = Page(items=(arena, other), meta=meta, query=Query(), fetched_at=meta.as_of)
    frame = to_pandas(page)
    assert isinstance(frame["badge"].dtype, pd.StringDtype)
    assert frame["weight"].dtype == pd.Float64Dtype()
    assert frame["votes"].dtype == object
    assert frame["elo"].tolist() == [1200.0, pd.NA]
    polars = to_polars(page)
    assert polars.schema["badge"] == pl.String
    assert polars.schema["weight"] == pl.Float64
    assert polars.schema["votes"] == pl.Object
    assert polars["model_permaslug"].to_list() == ["a/b", "c/d"]


def test_no_rows_give_an_empty_frame_with_the_rows_columns() -> None:
    """Nothing to show: zero rows, and still the columns every row has, typed."""
    frame = to_pandas([])
    assert list(frame.columns) == list(ROW_COLUMNS)
    assert len(frame) == 0
    assert frame["rank"].dtype == pd.Int64Dtype()
    polars = to_polars([])
    assert polars.columns == list(ROW_COLUMNS)
    assert polars.schema["blended_price_per_million"] == pl.Decimal(38, 18)


@pytest.mark.parametrize("convert", [to_pandas, to_polars])
def test_what_is_not_rows_pages_or_a_catalog_is_refused(whole: Page, convert: Any) -> None:
    """A fan-out's result, a mix, or text: InvalidQueryError saying what to pass instead."""
    with pytest.raises(InvalidQueryError, match=r"FanOutResult.*result\.pages\.values\(\)"):
        convert(FanOutResult({whole.query: whole}))
    rows: list[ItemRow[Item]] = list(rows_of(whole))[:1]
    with pytest.raises(InvalidQueryError, match="both rows and pages"):
        convert([*rows, whole])
    with pytest.raises(InvalidQueryError, match="holds a int"):
        convert([1])
    with pytest.raises(InvalidQueryError, match="not str"):
        convert("rows")


# --- without the libraries ------------------------------------------------------------------

#: Run in a fresh interpreter: the package imports and makes rows, the frame call says what
#: to install. ``sys.modules[name] = None`` makes ``import name`` fail as if it were missing.
BLOCKED: Final = """
import sys
sys.modules["pandas"] = None
sys.modules["polars"] = None
from openrouter_bench import MissingDependencyError, Query, rows_of, {function}
assert rows_of([]) == ()
try:
    {function}([])
except MissingDependencyError as error:
    assert isinstance(error, ImportError)
    assert isinstance(error.__cause__, ImportError)
    print(error.name, error.extra)
    print(error)
else:
    raise SystemExit("no error")
"""


@pytest.mark.parametrize(
    ("function", "package"), [("to_pandas", "pandas"), ("to_polars", "polars")]
)
def test_a_missing_library_raises_an_error_naming_the_extra(function: str, package: str) -> None:
    """Without the library, the package still imports; the call names the package and extra."""
    done = subprocess.run(  # noqa: S603 - this interpreter, running our own snippet
        [sys.executable, "-c", textwrap.dedent(BLOCKED.format(function=function))],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    names, message = done.stdout.splitlines()
    assert names == f"{package} {package}"
    assert message == (
        f"{function} needs {package}, which is not installed here: "
        f"pip install 'openrouter-bench[{package}]'"
    )
