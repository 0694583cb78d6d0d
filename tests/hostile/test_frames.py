"""Hostile answers made into rows and data frames: odd types and sizes never crash or round."""

from __future__ import annotations

import decimal
from decimal import Decimal
from typing import Any, Final

import orjson
import pandas as pd
import polars as pl
import pytest

from openrouter_bench import (
    BenchmarksClient,
    Page,
    ResponseFormatError,
    RetryPolicy,
    rows_of,
    to_pandas,
    to_polars,
)
from openrouter_bench.fake.hostile import HostileServer, respond
from tests.conftest import CANARY_KEY, bare_meta

from .conftest import Observe

META: Final = bare_meta(2)

#: A classic eval item as the endpoint documents it.
EVAL: Final = {
    "source": "openrouter",
    "model_permaslug": "lab/model",
    "display_name": "Model",
    "benchmark_type": "gpqa_diamond",
    "accuracy": 0.5,
    "accuracy_stddev": None,
    "avg_cost_per_task": 0.01,
    "total_tasks": 100,
    "last_run_timestamp": "2026-06-01T00:00:00Z",
}


async def page_of(*items: dict[str, Any]) -> Page:
    """The page a client reads from a hostile server answering with these items."""
    body = orjson.dumps({"data": list(items), "meta": META})
    async with (
        HostileServer(respond(200, body)) as server,
        BenchmarksClient(
            CANARY_KEY, base_url=server.url, retry=RetryPolicy.never(), cache=None, quota=None
        ) as client,
    ):
        return await client.get()


@pytest.mark.hostile(
    case="an eval's total_tasks of 2**64 - 1 (a JSON integer past 64 bits)",
    expected="rows and both frames keep it exactly, in an object column; no OverflowError",
)
async def test_a_count_past_64_bits_is_kept_whole(observe: Observe) -> None:
    """A count no 64-bit column holds leaves that column as Python ints, exact."""
    huge = 2**64 - 1
    page = await page_of({**EVAL, "total_tasks": huge}, EVAL)
    assert [row.to_dict()["total_tasks"] for row in rows_of(page)] == [huge, 100]
    frame = to_pandas(page)
    assert frame["total_tasks"].dtype == object
    assert frame["total_tasks"].tolist() == [huge, 100]
    polars = to_polars(page)
    assert polars.schema["total_tasks"] == pl.Object
    assert polars["total_tasks"].to_list() == [huge, 100]
    assert frame["accuracy"].dtype == pd.Float64Dtype()
    observe(f"total_tasks kept as {frame['total_tasks'][0]} in object columns; accuracy Float64")


@pytest.mark.hostile(
    case="an item of an unknown source whose keys clash with known columns: elo 'high', "
    "total_tasks '12', last_run_timestamp 7",
    expected="those columns hold the values as sent (object); the known items' values unchanged",
)
async def test_an_unknown_items_clashing_keys_do_not_break_the_frame(observe: Observe) -> None:
    """Wrong types from an unknown source degrade only the columns they land in."""
    stranger = {
        "source": "new-lab",
        "model_permaslug": "x/y",
        "elo": "high",
        "total_tasks": "12",
        "last_run_timestamp": 7,
    }
    page = await page_of(EVAL, stranger)
    frame = to_pandas(page)
    polars = to_polars(page)
    for name, sent in (("elo", "high"), ("total_tasks", "12"), ("last_run_timestamp", 7)):
        assert frame[name].dtype == object, name
        assert frame[name].tolist()[1] == sent, name
        assert polars.schema[name] == pl.Object, name
    assert frame["total_tasks"].tolist()[0] == 100
    assert frame["accuracy"].tolist() == [0.5, pd.NA]
    assert list(frame["source"]) == ["openrouter", "new-lab"]
    observe(
        "elo, total_tasks and last_run_timestamp became object columns with the values as sent; "
        f"accuracy stays {frame['accuracy'].dtype}"
    )


@pytest.mark.hostile(
    case="prices of 40 decimal places and of 10**90 USD per token",
    expected="rows and pandas keep them exact; polars raises ResponseFormatError naming the "
    "row and column instead of rounding",
)
async def test_prices_no_fixed_scale_holds_are_never_rounded(observe: Observe) -> None:
    """Prices past the polars scale stay exact in rows and pandas, and polars says so."""
    tiny = "0." + "0" * 39 + "1"
    item = {
        "source": "artificial-analysis",
        "model_permaslug": "lab/model",
        "display_name": "Model",
        "intelligence_index": 50,
        "coding_index": None,
        "agentic_index": None,
        "pricing": {"prompt": tiny, "completion": "1" + "0" * 90},
    }
    page = await page_of(item)
    (row,) = rows_of(page)
    assert row.input_price_per_million == Decimal(tiny) * 1_000_000
    with decimal.localcontext(prec=200):
        # Python's default 28 digits would round the blend; the rows' arithmetic does not.
        exact = (3 * Decimal(tiny) + Decimal(10) ** 90) / 4 * 10**6
    assert row.blended_price_per_million == exact
    assert to_pandas(page)["pricing.prompt"][0] == Decimal(tiny)
    with pytest.raises(ResponseFormatError, match="row 0, ") as refused:
        to_polars(page)
    observe(f"rows and pandas exact; polars: {str(refused.value)[:90]}...")
