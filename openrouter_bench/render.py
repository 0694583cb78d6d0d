"""Turning pages into text for people and programs: table, JSON, CSV and NDJSON.

JSON is the API's own shape (``{"data": [...], "meta": {...}}``); CSV and
NDJSON hold one item per row with nested objects flattened to dotted names;
the table shows the columns that matter for the page's kind of item.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import Any, Final

import orjson

from openrouter_bench._convert import unstructure_item, unstructure_page
from openrouter_bench.models import (
    ArtificialAnalysisItem,
    DesignArenaItem,
    Item,
    OpenRouterEvalItem,
    Page,
    Pricing,
    SearchEvalItem,
    UnknownItem,
)

__all__ = ["FORMATS", "primary_score", "render_page"]

FORMATS: Final = ("table", "json", "csv", "ndjson")


def primary_score(item: Item) -> float | None:
    """The number an item is ranked by in its own source."""
    if isinstance(item, DesignArenaItem):
        return item.elo
    if isinstance(item, ArtificialAnalysisItem):
        return item.intelligence_index
    if isinstance(item, OpenRouterEvalItem):
        return item.accuracy
    if isinstance(item, SearchEvalItem):
        return item.primary_score
    return None


def render_page(page: Page, fmt: str) -> str:
    """The page as text in one of :data:`FORMATS` (ending with a newline unless empty)."""
    if fmt == "json":
        return orjson.dumps(unstructure_page(page), option=orjson.OPT_INDENT_2).decode() + "\n"
    if fmt == "ndjson":
        return "".join(orjson.dumps(unstructure_item(item)).decode() + "\n" for item in page.items)
    if fmt == "csv":
        return _csv([_flatten(unstructure_item(item)) for item in page.items])
    if fmt == "table":
        return _table(page)
    raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")


def _flatten(value: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, inner in value.items():
        name = f"{prefix}{key}"
        if isinstance(inner, dict):
            flat.update(_flatten(inner, f"{name}."))
        elif isinstance(inner, list):
            flat[name] = orjson.dumps(inner).decode()
        else:
            flat[name] = inner
    return flat


def _csv(rows: Sequence[dict[str, Any]]) -> str:
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: "" if value is None else value for key, value in row.items()})
    return out.getvalue()


def _number(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _per_million(pricing: Pricing | None) -> str:
    if pricing is None or pricing.prompt is None:
        return "-"
    return f"${(pricing.prompt * Decimal(1_000_000)).normalize():f}"


_Column = tuple[str, Callable[[Any], str]]

_COLUMNS: Final[dict[type, list[_Column]]] = {
    ArtificialAnalysisItem: [
        ("model", lambda i: i.model_permaslug),
        ("intelligence", lambda i: _number(i.intelligence_index)),
        ("coding", lambda i: _number(i.coding_index)),
        ("agentic", lambda i: _number(i.agentic_index)),
        ("$/M input", lambda i: _per_million(i.pricing)),
    ],
    DesignArenaItem: [
        ("model", lambda i: i.model_permaslug),
        ("arena", lambda i: i.arena),
        ("category", lambda i: i.category),
        ("elo", lambda i: _number(i.elo, 0)),
        ("win %", lambda i: _number(i.win_rate)),
        ("$/M input", lambda i: _per_million(i.pricing)),
    ],
    OpenRouterEvalItem: [
        ("model", lambda i: i.model_permaslug),
        ("benchmark", lambda i: i.benchmark_type),
        ("accuracy", lambda i: _number(i.accuracy, 3)),
        ("tasks", lambda i: str(i.total_tasks)),
        ("$/task", lambda i: _number(i.avg_cost_per_task, 4)),
    ],
    SearchEvalItem: [
        ("model", lambda i: i.model_permaslug),
        ("benchmark", lambda i: i.benchmark_type),
        ("score", lambda i: _number(i.primary_score, 3)),
        ("metric", lambda i: i.primary_metric),
        ("engine", lambda i: i.search_engine),
        ("surface", lambda i: i.search_surface),
    ],
}

_MIXED: Final[list[_Column]] = [
    ("source", lambda i: i.source),
    ("model", lambda i: i.model_permaslug or "?"),
    ("score", lambda i: _number(primary_score(i), 3)),
]


def _table(page: Page) -> str:
    kinds = {type(item) for item in page.items}
    columns = _COLUMNS[kinds.pop()] if len(kinds) == 1 and UnknownItem not in kinds else _MIXED
    header = ["#", *(name for name, _ in columns)]
    rows = [
        [str(rank), *(cell(item) for _, cell in columns)]
        for rank, item in enumerate(page.items, start=1)
    ]
    lines = _align([header, *rows])
    meta = page.meta
    footer = [f"as of {meta.as_of:%Y-%m-%d %H:%M} UTC, {len(page.items)} items"]
    if page.stale:
        footer.append("STALE: the refresh failed; this is an older snapshot")
    elif page.from_cache:
        footer.append("from cache")
    if meta.citation:
        footer.append(f"source: {meta.citation}")
    return "\n".join([*lines, "", *footer]) + "\n"


def _align(rows: Iterable[list[str]]) -> list[str]:
    table = list(rows)
    widths = [max(len(row[index]) for row in table) for index in range(len(table[0]))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in table
    ]
