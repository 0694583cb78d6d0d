"""Data frames from rows: :func:`to_pandas` and :func:`to_polars`, through optional extras.

Neither library is a dependency of the package: ``pip install
'openrouter-bench[pandas]'`` or ``'openrouter-bench[polars]'`` brings one.
Calling a function whose library is missing raises
:class:`~openrouter_bench.errors.MissingDependencyError` naming the package
and the extra; importing this package never needs either.

Both take the same things: rows (:func:`~openrouter_bench.rows_of`), a page,
several pages (a fan-out's ``result.pages.values()``) or a
:class:`~openrouter_bench.Catalog`. A frame has one row per item and the
columns of :meth:`ItemRow.to_dict <openrouter_bench.ItemRow.to_dict>`: where
the item stands (``source``, ``ranking``, ``rank``, ``score``...), its prices
per million tokens, every field of every item class present (``elo``,
``pricing.prompt``, ``tournament_stats.total``...), then ``as_of``,
``citation`` and ``query``. A column an item's class does not have is
missing (null) on its row.

Column types:

============================  ==========================  ==============================
values                        pandas                      polars
============================  ==========================  ==============================
names of a few values         ``category``                ``Categorical``
(source, ranking, arena,
category, benchmark_type,
primary_metric, search_engine,
search_surface)
other text                    ``string``                  ``String``
whole numbers (rank,          ``Int64`` (nullable)        ``Int64``
total_tasks, podium counts)
other numbers (scores, elo,   ``Float64`` (nullable)      ``Float64``
win_rate, costs)
prices (per token and per     ``object``: exact           ``Decimal(38, 18)``: exact
million tokens)               :class:`~decimal.Decimal`
                              values, None when missing
times (as_of,                 ``datetime64[us, UTC]``     ``Datetime("us", "UTC")``
last_run_timestamp)
keys no class declares        inferred from the values,   inferred likewise, else
                              else ``object``             ``Object``
============================  ==========================  ==============================

A column whose values do not all fit its type (an item of a source this
package does not know sending ``"elo": "high"``, a count past 64 bits) is left
as objects (``object``, ``Object``), every value as it was sent, rather than
failing or converting.

Prices stay exact: pandas has no decimal type of its own (a float column would
turn ``0.0000025`` into ``2.4999999999999998e-06``), so its price columns hold
:class:`~decimal.Decimal` objects, which sort, compare and add exactly
(``df["blended_price_per_million"].astype(float)`` for a plot). Polars holds
them as ``Decimal(38, 18)``: eighteen decimal places hold every per-token
price the endpoint documents (``"0.0000025"``) and the blended price, which
adds two places to a per-million price; a price that needs more places
raises :class:`~openrouter_bench.errors.ResponseFormatError` rather than being
rounded.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final, TypeAlias

from openrouter_bench.answers import Catalog
from openrouter_bench.errors import InvalidQueryError, MissingDependencyError, ResponseFormatError
from openrouter_bench.models import Page
from openrouter_bench.records import (
    FIELD_TYPES,
    ROW_COLUMNS,
    ItemRow,
    check_iterable,
    decimal_places,
    rows_of,
)

if TYPE_CHECKING:
    import pandas as pd
    import polars as pl

__all__ = ["to_pandas", "to_polars"]

#: What a frame can be made from.
FrameSource: TypeAlias = Iterable[ItemRow[Any]] | Page | Iterable[Page] | Catalog

#: The decimal places of a polars price column: see the module docstring.
POLARS_PRICE_SCALE: Final = 18
_POLARS_PRICE_PRECISION: Final = 38

#: Text columns with few distinct values, kept as categories.
_CATEGORIES: Final = frozenset(
    {
        "source",
        "ranking",
        "arena",
        "category",
        "benchmark_type",
        "primary_metric",
        "search_engine",
        "search_surface",
    }
)

#: The type of each column a row or a known item class has (None aside).
_COLUMN_TYPES: Final[dict[str, type]] = {
    name: kind for types in FIELD_TYPES.values() for name, kind in types.items()
} | {
    "source": str,
    "ranking": str,
    "rank": int,
    "model_permaslug": str,
    "display_name": str,
    "score": float,
    "input_price_per_million": Decimal,
    "output_price_per_million": Decimal,
    "blended_price_per_million": Decimal,
    "as_of": datetime,
    "citation": str,
    "query": str,
}

#: The row's own columns that come after the item's fields.
_TAIL: Final = ("as_of", "citation", "query")


def _rows(data: FrameSource, caller: str) -> list[ItemRow[Any]]:
    if isinstance(data, Catalog):
        return list(data.rows())
    if isinstance(data, Page):
        return list(rows_of(data))
    check_iterable(data, f"{caller} takes rows, a Page, Pages or a Catalog", "data")
    entries = list(data)
    rows = [entry for entry in entries if isinstance(entry, ItemRow)]
    if len(rows) == len(entries):
        return rows
    pages = [entry for entry in entries if isinstance(entry, Page)]
    if len(pages) == len(entries):
        return list(rows_of(pages))
    odd = next((entry for entry in entries if not isinstance(entry, ItemRow | Page)), None)
    held = "both rows and pages" if odd is None else f"a {type(odd).__name__}"
    raise InvalidQueryError(
        f"{caller} takes an iterable of ItemRows or of Pages, and this one holds {held}",
        parameter="data",
    )


def _columns(rows: list[ItemRow[Any]]) -> dict[str, list[Any]]:
    """Every column of the rows, in order, each a list with one value per row."""
    records = [row.to_dict() for row in rows]
    names: dict[str, None] = dict.fromkeys(name for name in ROW_COLUMNS if name not in _TAIL)
    for record in records:
        names.update(dict.fromkeys(name for name in record if name not in _TAIL))
    names.update(dict.fromkeys(_TAIL))
    return {name: [record.get(name) for record in records] for name in names}


#: The whole numbers a 64-bit integer column holds.
_INT64: Final = range(-(2**63), 2**63)


def _fits(kind: str, value: object) -> bool:
    """Whether a value belongs in a column of ``kind`` as it is (bool is not a number here)."""
    if kind in ("category", "string"):
        return isinstance(value, str)
    if kind == "int":
        return type(value) is int and value in _INT64
    if kind == "float":
        return type(value) in (int, float)
    if kind == "bool":
        return type(value) is bool
    if kind == "decimal":
        return isinstance(value, Decimal)
    if kind == "datetime":
        return isinstance(value, datetime)
    return True


def _kind(name: str, values: list[Any]) -> str:
    """What a column holds: category, string, int, float, bool, decimal, datetime or object.

    A declared field's type, or for a key no class declares the one JSON type of
    its values. A column whose values do not all fit (an unknown source's item
    sending ``"elo": "high"``, a count past 64 bits) is left as objects, every
    value as it was.
    """
    present = [value for value in values if value is not None]
    declared = _COLUMN_TYPES.get(name)
    if declared is None:
        types = {type(value) for value in present}
        if types == {int, float}:
            types = {float}
        declared = types.pop() if len(types) == 1 else object
    if declared is str:
        kind = "category" if name in _CATEGORIES else "string"
    else:
        kinds = {int: "int", float: "float", bool: "bool", Decimal: "decimal", datetime: "datetime"}
        kind = kinds.get(declared, "object")
    return kind if all(_fits(kind, value) for value in present) else "object"


def _missing(package: str, caller: str) -> MissingDependencyError:
    return MissingDependencyError(
        f"{caller} needs {package}, which is not installed here: "
        f"pip install 'openrouter-bench[{package}]'",
        name=package,
        extra=package,
    )


def to_pandas(data: FrameSource) -> pd.DataFrame:
    """A pandas DataFrame with one row per item and the columns of :meth:`ItemRow.to_dict`.

    ``data``: rows (:func:`~openrouter_bench.rows_of`), a page, several pages or
    a :class:`~openrouter_bench.Catalog`. Text of few distinct values is
    ``category``, other text ``string``, numbers nullable ``Int64`` and
    ``Float64``, times ``datetime64[us, UTC]``, and prices exact
    :class:`~decimal.Decimal` objects (pandas has no exact decimal type).

    Needs pandas: ``pip install 'openrouter-bench[pandas]'``; without it, raises
    :class:`~openrouter_bench.errors.MissingDependencyError`.
    """
    try:
        import pandas as pd
    except ImportError as error:
        raise _missing("pandas", "to_pandas") from error
    rows = _rows(data, "to_pandas")
    nullable: dict[str, Any] = {
        "string": pd.StringDtype(),
        "int": pd.Int64Dtype(),
        "float": pd.Float64Dtype(),
        "bool": pd.BooleanDtype(),
        "decimal": object,
        "object": object,
    }
    series: dict[str, Any] = {}
    for name, values in _columns(rows).items():
        kind = _kind(name, values)
        if kind == "category":
            seen = list(dict.fromkeys(value for value in values if value is not None))
            series[name] = pd.Categorical(values, categories=seen)
        elif kind == "datetime":
            series[name] = pd.to_datetime(values, utc=True).as_unit("us")
        else:
            series[name] = pd.Series(values, dtype=nullable[kind])
    return pd.DataFrame(series)


def _exact(name: str, values: list[Any]) -> list[Any]:
    """The prices of a column, checked to fit the polars scale without rounding."""
    whole_digits = _POLARS_PRICE_PRECISION - POLARS_PRICE_SCALE
    for index, value in enumerate(values):
        if value is None:
            continue
        if (
            not value.is_finite()
            or decimal_places(value) > POLARS_PRICE_SCALE
            or (value and value.adjusted() >= whole_digits)
        ):
            raise ResponseFormatError(
                f"row {index}, {name}: {value} does not fit a polars "
                f"Decimal({_POLARS_PRICE_PRECISION}, {POLARS_PRICE_SCALE}) exactly; "
                "to_pandas keeps every price exact"
            )
    return values


def to_polars(data: FrameSource) -> pl.DataFrame:
    """A polars DataFrame with one row per item and the columns of :meth:`ItemRow.to_dict`.

    ``data`` as for :func:`to_pandas`. Text of few distinct values is
    ``Categorical``, other text ``String``, numbers ``Int64`` and ``Float64``,
    times ``Datetime("us", "UTC")``, and prices ``Decimal(38, 18)``; a price
    that needs more than 18 decimal places raises
    :class:`~openrouter_bench.errors.ResponseFormatError` rather than being rounded.

    Needs polars: ``pip install 'openrouter-bench[polars]'``; without it, raises
    :class:`~openrouter_bench.errors.MissingDependencyError`.
    """
    try:
        import polars as pl
    except ImportError as error:
        raise _missing("polars", "to_polars") from error
    rows = _rows(data, "to_polars")
    dtypes: dict[str, Any] = {
        "category": pl.Categorical,
        "string": pl.String,
        "int": pl.Int64,
        "float": pl.Float64,
        "bool": pl.Boolean,
        "decimal": pl.Decimal(_POLARS_PRICE_PRECISION, POLARS_PRICE_SCALE),
        "datetime": pl.Datetime("us", "UTC"),
        "object": pl.Object,
    }
    columns = []
    for name, values in _columns(rows).items():
        kind = _kind(name, values)
        if kind == "decimal":
            values = _exact(name, values)
        elif kind == "datetime":
            values = [None if value is None else value.astimezone(UTC) for value in values]
        columns.append(pl.Series(name, values, dtype=dtypes[kind]))
    return pl.DataFrame(columns)
