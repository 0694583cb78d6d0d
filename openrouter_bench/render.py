"""Turning pages into text for people and programs: table, JSON, CSV and NDJSON.

The commands' other outputs are here too: a grid's outcomes
(:func:`render_grid`), a watch's changes (:func:`render_change`), a model's
standing over time (:func:`render_standing`, with a :func:`sparkline` of its
score on a terminal) and the request budget (:func:`render_quota`).

JSON is the API's own shape (``{"data": [...], "meta": {...}}``); CSV and
NDJSON hold one item per row with nested objects flattened to dotted names;
the table shows the columns that matter for the page's kind of item.

An :class:`ItemView` says which of a page's items to show and how: ordered by
any item field (``elo``, ``coding_index``, ``pricing.prompt``...), only the
first N, and which columns a table or a CSV file has. It reorders what was
fetched and nothing else: the page, and what the cache holds, stay as the
server sent them. A :class:`Palette` colours a table for a terminal; CSV, JSON
and NDJSON are never coloured.

Every text a table shows that came from the server (a cell, a display name in
a heading, a citation in a footer) passes through
:func:`~openrouter_bench._text.printable` first, so a hostile server or a
poisoned cache cannot drive the terminal (clear it, forge lines, write to the
clipboard, reorder text with bidi controls): :func:`align_rows` cleans every
cell, and each heading and footer cleans its own text before it is styled.
JSON, CSV and NDJSON are data and hold the server's values as sent: JSON and
NDJSON escape ESC and the other C0 controls but not DEL, C1 or bidi
characters, and CSV carries every character raw, so a program or a file, not
a terminal, is their reader.
"""

from __future__ import annotations

import csv
import difflib
import io
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Final, TextIO, TypeVar

import attrs
import orjson

from openrouter_bench._convert import unstructure_item, unstructure_page
from openrouter_bench._text import plural, printable
from openrouter_bench.errors import ConfigurationError, OpenRouterBenchError
from openrouter_bench.fanout import FanOutResult
from openrouter_bench.history import StandingPoint, StandingSeries
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
from openrouter_bench.query import Query
from openrouter_bench.quota import QuotaStatus
from openrouter_bench.ranking import format_score, ranking_name, ranking_score
from openrouter_bench.records import (
    KNOWN_FIELDS,
    ItemRow,
    field_value,
    flatten,
    parents,
    per_million,
    rows_of,
)
from openrouter_bench.watch import SnapshotChange

# Used by the commands and the demo; the package root exports none of it.
__all__: list[str] = []

FORMATS: Final = ("table", "json", "csv", "ndjson")

_T = TypeVar("_T")

#: ``watch`` prints changes: ``text`` is the change told in sentences, for people and chats.
CHANGE_FORMATS: Final = ("text", *FORMATS)


# --- colours ----------------------------------------------------------------------------------


@attrs.frozen
class Palette:
    """ANSI styles for text bound for a terminal; each style returns the text as is when off."""

    enabled: bool = False

    @classmethod
    def for_stream(cls, stream: TextIO, environ: Mapping[str, str] | None = None) -> Palette:
        """Colours when ``stream`` is a terminal, unless ``NO_COLOR`` is set or ``TERM=dumb``."""
        env = os.environ if environ is None else environ
        isatty = getattr(stream, "isatty", None)
        on_terminal = bool(isatty is not None and isatty())
        # no-color.org: set and not empty means no colour, whatever its value.
        return cls(on_terminal and not env.get("NO_COLOR") and env.get("TERM") != "dumb")

    def _style(self, code: str, text: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.enabled and text else text

    def bold(self, text: str) -> str:
        """Headers."""
        return self._style("1", text)

    def dim(self, text: str) -> str:
        """Asides: where a page came from."""
        return self._style("2", text)

    def red(self, text: str) -> str:
        """Errors."""
        return self._style("31", text)

    def yellow(self, text: str) -> str:
        """Warnings: a stale page."""
        return self._style("33", text)


#: No colours: for files, pipes and programs.
_PLAIN: Final = Palette()


# --- item fields ------------------------------------------------------------------------------


def _item_fields(items: Iterable[Item]) -> tuple[str, ...]:
    """The field names ``items`` can be sorted by or shown in columns, dotted when nested.

    The fields of each shape present, and any extra key an item carries; with
    no items, the fields of every known shape.
    """
    names: dict[str, None] = {}
    kinds: dict[type, None] = {}
    for item in items:
        kinds.setdefault(type(item))
        names.update(dict.fromkeys(flatten(unstructure_item(item))))
    for kind in kinds or KNOWN_FIELDS:
        names.update(dict.fromkeys(KNOWN_FIELDS.get(kind, ())))
    # "pricing" is a null object on some items; its leaves are the fields.
    objects = parents(names)
    return tuple(name for name in names if name not in objects)


_NUMBER_TEXT: Final = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?")


def _sort_key(value: Any) -> tuple[int, Any] | None:
    """How a field value orders: numbers, then times, then text; None for no value."""
    if value is None or isinstance(value, Mapping | list | tuple):
        return None
    if isinstance(value, int | float | Decimal):
        return (0, value)
    if isinstance(value, datetime):
        return (1, value.timestamp())
    text = str(value)
    if _NUMBER_TEXT.fullmatch(text):
        # Prices of items this package does not know arrive as decimal strings.
        try:
            return (0, Decimal(text))
        except InvalidOperation:  # pragma: no cover - the pattern admits only numbers
            pass
    return (2, text.casefold())


def _unknown_field(kind: str, name: str, valid: Sequence[str]) -> ConfigurationError:
    close = difflib.get_close_matches(name, valid, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return ConfigurationError(
        f"no field {name!r} {kind} in these items{hint}; valid fields: {', '.join(valid)}"
    )


@attrs.frozen
class ItemView:
    """Which items of a page to show, in which order, and with which columns.

    - ``sort``: a field name (:func:`_item_fields`), largest first (best first
      for every score); ``"-name"`` for smallest first. Items without a value
      come last either way, and ties keep the server's order. None: the
      server's order.
    - ``top``: only the first N items, after sorting. None: all.
    - ``columns``: the field names a table or a CSV file shows, in order.
      None: a table's usual columns (plus the sort field), every field in CSV.
    """

    sort: str | None = None
    top: int | None = None
    columns: tuple[str, ...] | None = None

    @property
    def selects(self) -> bool:
        """True when the view sorts or cuts the items (a page shown whole needs no copy)."""
        return self.sort is not None or self.top is not None

    @property
    def sort_field(self) -> str | None:
        """The field sorted by, without its direction."""
        return None if self.sort is None else self.sort.removeprefix("-")

    @property
    def descending(self) -> bool:
        """True when the largest value comes first."""
        return self.sort is not None and not self.sort.startswith("-")

    def check(self, items: Sequence[Item]) -> None:
        """Raise :class:`ConfigurationError` naming the valid fields if a name is not one."""
        wanted = [*([] if self.sort_field is None else [self.sort_field]), *(self.columns or ())]
        if not wanted:
            return
        valid = _item_fields(items)
        known = set(valid)
        if self.sort_field is not None and self.sort_field not in known:
            raise _unknown_field("to sort by", self.sort_field, valid)
        for name in self.columns or ():
            if name not in known:
                raise _unknown_field("to show", name, valid)

    def apply(self, items: Sequence[Item]) -> tuple[Item, ...]:
        """The items to show, in order: sorted, then cut to ``top``."""
        return self._select(items, _itself)

    def apply_rows(self, rows: Sequence[ItemRow[Item]]) -> tuple[ItemRow[Item], ...]:
        """The rows of the items :meth:`apply` shows, in its order."""
        return self._select(rows, _item_of)

    def _select(self, entries: Sequence[_T], item_of: Callable[[_T], Item]) -> tuple[_T, ...]:
        chosen = tuple(entries)
        name = self.sort_field
        if name is not None:
            keyed: list[tuple[tuple[int, Any], _T]] = []
            missing: list[_T] = []
            for entry in chosen:
                key = _sort_key(field_value(item_of(entry), name))
                if key is None:
                    missing.append(entry)
                else:
                    keyed.append((key, entry))
            # A stable sort, reversed or not, keeps the server's order among equals.
            keyed.sort(key=lambda pair: pair[0], reverse=self.descending)
            chosen = (*(entry for _, entry in keyed), *missing)
        return chosen if self.top is None else chosen[: self.top]

    def describe(self, shown: int, total: int) -> str:
        """What the view did, for a table's footer."""
        words = [f"{shown} of {plural(total, 'item')}" if shown != total else plural(total, "item")]
        if self.sort is not None:
            order = "largest" if self.descending else "smallest"
            words.append(f"sorted by {self.sort_field}, {order} first")
        return ", ".join(words)


def _itself(item: Item) -> Item:
    return item


def _item_of(row: ItemRow[Item]) -> Item:
    return row.item


#: Every item, in the server's order, with the usual columns.
_AS_SENT: Final = ItemView()


# --- pages ------------------------------------------------------------------------------------


def render_page(page: Page, fmt: str, view: ItemView = _AS_SENT, palette: Palette = _PLAIN) -> str:
    """The page as text in one of :data:`FORMATS` (ending with a newline unless empty).

    ``view`` picks, orders and cuts the items and, for a table or CSV, the
    columns; a field name it does not find raises :class:`ConfigurationError`.
    ``palette`` colours a table only.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    view.check(page.items)
    items = view.apply(page.items)
    if fmt == "json":
        shown = attrs.evolve(page, items=items) if view.selects else page
        return orjson.dumps(unstructure_page(shown), option=orjson.OPT_INDENT_2).decode() + "\n"
    if fmt == "ndjson":
        return "".join(orjson.dumps(unstructure_item(item)).decode() + "\n" for item in items)
    if fmt == "csv":
        return _csv([row.fields for row in view.apply_rows(rows_of(page))], view.columns)
    return _table(page, items, view, palette)


def _csv(rows: Sequence[dict[str, Any]], chosen: Sequence[str] | None = None) -> str:
    columns: dict[str, None] = {}
    if chosen is not None:
        columns.update(dict.fromkeys(chosen))
    else:
        for row in rows:
            columns.update(dict.fromkeys(row))
        # A null object (pricing: null) is just empty cells under the columns its
        # non-null siblings spread into, not a column of its own.
        for name in parents(columns) & columns.keys():
            if all(row.get(name) is None for row in rows):
                del columns[name]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: "" if row.get(key) is None else row[key] for key in columns})
    return out.getvalue()


def _number(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _per_million(pricing: Pricing | None) -> str:
    price = None if pricing is None else per_million(pricing.prompt)
    return "-" if price is None else f"${price.normalize():f}"


def _cell(value: Any) -> str:
    """Any field value as a table cell."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        # Elo ratings and milliseconds need no decimals; indexes, rates and costs do.
        return f"{value:.0f}" if abs(value) >= 100 else f"{value:.4g}"
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M}"
    if isinstance(value, Mapping | list | tuple):
        return orjson.dumps(value, default=str).decode()
    return str(value)


@attrs.frozen
class _Column:
    header: str
    field: str | None  # the item field it shows; None: a value computed from several
    cell: Callable[[Any], str]


def _field_column(name: str) -> _Column:
    return _Column(name, name, lambda item: _cell(field_value(item, name)))


_COLUMNS: Final[dict[type, list[_Column]]] = {
    ArtificialAnalysisItem: [
        _Column("model", "model_permaslug", lambda i: i.model_permaslug),
        _Column("intelligence", "intelligence_index", lambda i: _number(i.intelligence_index)),
        _Column("coding", "coding_index", lambda i: _number(i.coding_index)),
        _Column("agentic", "agentic_index", lambda i: _number(i.agentic_index)),
        _Column("$/M input", "pricing.prompt", lambda i: _per_million(i.pricing)),
    ],
    DesignArenaItem: [
        _Column("model", "model_permaslug", lambda i: i.model_permaslug),
        _Column("arena", "arena", lambda i: i.arena),
        _Column("category", "category", lambda i: i.category),
        _Column("elo", "elo", lambda i: _number(i.elo, 0)),
        _Column("win %", "win_rate", lambda i: _number(i.win_rate)),
        _Column("$/M input", "pricing.prompt", lambda i: _per_million(i.pricing)),
    ],
    OpenRouterEvalItem: [
        _Column("model", "model_permaslug", lambda i: i.model_permaslug),
        _Column("benchmark", "benchmark_type", lambda i: i.benchmark_type),
        _Column("accuracy", "accuracy", lambda i: _number(i.accuracy, 3)),
        _Column("tasks", "total_tasks", lambda i: str(i.total_tasks)),
        _Column("$/task", "avg_cost_per_task", lambda i: _number(i.avg_cost_per_task, 4)),
    ],
    SearchEvalItem: [
        _Column("model", "model_permaslug", lambda i: i.model_permaslug),
        _Column("benchmark", "benchmark_type", lambda i: i.benchmark_type),
        _Column("score", "primary_score", lambda i: _number(i.primary_score, 3)),
        _Column("metric", "primary_metric", lambda i: i.primary_metric),
        _Column("engine", "search_engine", lambda i: i.search_engine),
        _Column("surface", "search_surface", lambda i: i.search_surface),
    ],
}


def _mixed_columns(query: Query) -> list[_Column]:
    """Items of several shapes: each row says which ranking it stands in, and its score there."""
    return [
        _Column("ranking", None, lambda i: ranking_name(i, query)),
        _Column("model", "model_permaslug", lambda i: i.model_permaslug or "?"),
        _Column("score", None, lambda i: format_score(ranking_score(i, query))),
    ]


def _is_mixed(items: Sequence[Item]) -> bool:
    kinds = {type(item) for item in items}
    return len(kinds) != 1 or UnknownItem in kinds


#: The one shape a source's items have, for the header of a table with no items.
_SHAPE_OF: Final[dict[object, type]] = {
    "artificial-analysis": ArtificialAnalysisItem,
    "design-arena": DesignArenaItem,
}


def _shape(items: Sequence[Item], query: Query) -> type | None:
    """The one known shape of the items (of the query's source when there are none), or None."""
    if not items:
        return _SHAPE_OF.get(query.source)
    return None if _is_mixed(items) else type(items[0])


def _columns_for(items: Sequence[Item], view: ItemView, query: Query) -> list[_Column]:
    if view.columns is not None:
        return [_field_column(name) for name in view.columns]
    shape = _shape(items, query)
    columns = _mixed_columns(query) if shape is None else _COLUMNS[shape]
    sort_field = view.sort_field
    if sort_field is not None and all(column.field != sort_field for column in columns):
        # Sorted by a field the usual columns leave out: show it, or the order looks random.
        columns = [*columns, _field_column(sort_field)]
    return columns


def _grouped(items: Sequence[Item], query: Query) -> list[tuple[int, Item]]:
    """Items of several rankings, each ranking's together (first seen first), with its rank."""
    groups: dict[str, list[Item]] = {}
    for item in items:
        groups.setdefault(ranking_name(item, query), []).append(item)
    return [
        (rank, item) for members in groups.values() for rank, item in enumerate(members, start=1)
    ]


def _table(page: Page, items: Sequence[Item], view: ItemView, palette: Palette) -> str:
    columns = _columns_for(items or page.items, view, page.query)
    header = ["#", *(column.header for column in columns)]
    # A list spanning sources is several rankings: rank each row within its own, unless
    # the caller asked for one order across them all.
    ranked = (
        _grouped(items, page.query)
        if view.sort is None and _is_mixed(items or page.items)
        else list(enumerate(items, start=1))
    )
    rows = [[str(rank), *(column.cell(item) for column in columns)] for rank, item in ranked]
    head, *body = align_rows([header, *rows])
    meta = page.meta
    footer = [f"as of {meta.as_of:%Y-%m-%d %H:%M} UTC, {view.describe(len(items), len(page))}"]
    if page.stale:
        footer.append(palette.yellow("STALE: the refresh failed; this is an older snapshot"))
    elif page.from_cache:
        footer.append(palette.dim("from cache"))
    if meta.citation:
        footer.append(printable(f"source: {meta.citation}"))
    return "\n".join([palette.bold(head), *body, "", *footer]) + "\n"


def align_rows(rows: Iterable[list[str]]) -> list[str]:
    """Rows of cells as lines of columns, each as wide as its widest cell.

    Each cell is :func:`~openrouter_bench._text.printable` first: one line, no
    terminal control, as wide as its ``len``.
    """
    table = [[printable(cell) for cell in row] for row in rows]
    widths = [max(len(row[index]) for row in table) for index in range(len(table[0]))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in table
    ]


# --- changes (watch) --------------------------------------------------------------------------

#: The CSV columns of a change: one row per new leader, entry, exit and move.
_CHANGE_COLUMNS: Final = (
    "new_as_of",
    "old_as_of",
    "change",
    "ranking",
    "model",
    "display_name",
    "variant",
    "old_rank",
    "new_rank",
    "old_score",
    "new_score",
)


def _change_rows(change: SnapshotChange) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for kind, standings in (("new #1", change.new_leaders), ("entered", change.entered)):
        rows += [
            {
                "change": kind,
                "ranking": s.ranking,
                "model": s.model,
                "display_name": s.display_name,
                "variant": s.variant,
                "new_rank": s.rank,
                "new_score": s.score,
            }
            for s in standings
        ]
    rows += [
        {
            "change": "left",
            "ranking": s.ranking,
            "model": s.model,
            "display_name": s.display_name,
            "variant": s.variant,
            "old_rank": s.rank,
            "old_score": s.score,
        }
        for s in change.left
    ]
    rows += [
        {
            "change": "moved",
            "ranking": m.ranking,
            "model": m.model,
            "display_name": m.display_name,
            "variant": m.variant,
            "old_rank": m.old_rank,
            "new_rank": m.new_rank,
            "old_score": m.old_score,
            "new_score": m.new_score,
        }
        for m in change.moves
    ]
    stamps = {
        "new_as_of": change.new_as_of.isoformat(),
        "old_as_of": change.old_as_of.isoformat(),
    }
    return [{**stamps, **row} for row in rows]


def _span(old: Any, new: Any, fmt: Callable[[Any], str]) -> str:
    if old is None:
        return fmt(new)
    if new is None:
        return f"was {fmt(old)}"
    return fmt(new) if old == new else f"{fmt(old)} -> {fmt(new)}"


def _rank(value: Any) -> str:
    return f"#{value}"


def _change_table(change: SnapshotChange, palette: Palette) -> str:
    title = printable(change.describe().splitlines()[0])
    rows = [
        [
            row["change"],
            row["ranking"],
            row["display_name"] or row["model"],
            _span(row.get("old_rank"), row.get("new_rank"), _rank),
            _span(row.get("old_score"), row.get("new_score"), _cell),
        ]
        for row in _change_rows(change)
    ]
    lines = [title]
    if rows:
        head, *body = align_rows([["change", "ranking", "model", "rank", "score"], *rows])
        lines += ["", palette.bold(head), *body]
    if change.citation:
        lines += ["", printable(f"source: {change.citation}")]
    return "\n".join(lines) + "\n\n"


def render_change(
    change: SnapshotChange, fmt: str, *, header: bool = True, palette: Palette = _PLAIN
) -> str:
    """One change of a watch as text in one of :data:`CHANGE_FORMATS`.

    A watch prints changes one after the other, as they happen: ``json`` and
    ``ndjson`` are one JSON object per line, ``csv`` a row per new leader,
    entry, exit and move (``header`` for the first change only), ``table`` a
    table per change, ``text`` the change told in sentences.
    """
    if fmt == "text":
        return change.describe()
    if fmt in ("json", "ndjson"):
        return orjson.dumps(change.to_json()).decode() + "\n"
    if fmt == "csv":
        text = _csv(_change_rows(change), _CHANGE_COLUMNS)
        return text if header else text.split("\n", 1)[1]
    if fmt == "table":
        return _change_table(change, palette)
    raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(CHANGE_FORMATS)}")


# --- grids (fan-outs) ------------------------------------------------------------------------


def _grid_label(query: Query) -> str:
    words = []
    for name, value in query.params.items():
        if name == "max_results":
            words.append(f"top {value}")
        elif name == "include_run_config":
            words.append("run-config")
        else:
            words.append(value)
    return " ".join(words) or "everything"


def _leader(items: Sequence[Item], query: Query) -> str:
    if not items:
        return "no items"
    top = items[0]
    name = getattr(top, "display_name", None) or getattr(top, "model_permaslug", None) or "?"
    score = ranking_score(top, query)
    return f"#1 {name}" if score is None else f"#1 {name} ({format_score(score)})"


def _as_is(text: str) -> str:
    return text


def _grid_table(result: FanOutResult, view: ItemView, palette: Palette) -> str:
    rows = [["query", "result", "items", "as of", "leader or error"]]
    styles: list[Callable[[str], str]] = [palette.bold]
    for query, outcome in result.items():
        if isinstance(outcome, Page):
            state = "stale" if outcome.stale else "cached" if outcome.from_cache else "ok"
            if outcome.derived_from is not None:
                state += ", cut"  # from its arena's page, which the same run read
            rows.append(
                [
                    _grid_label(query),
                    state,
                    str(len(outcome)),
                    f"{outcome.as_of:%Y-%m-%d %H:%M}",
                    _leader(view.apply(outcome.items), query),
                ]
            )
            styles.append(palette.yellow if outcome.stale else _as_is)
        else:
            rows.append([_grid_label(query), "error", "-", "-", str(outcome)])
            styles.append(palette.red)
    lines = [style(line) for style, line in zip(styles, align_rows(rows), strict=True)]
    return "\n".join(lines) + "\n"


def _grid_record(
    query: Query, outcome: Page | OpenRouterBenchError, view: ItemView
) -> dict[str, Any]:
    if isinstance(outcome, Page):
        shown = attrs.evolve(outcome, items=view.apply(outcome.items)) if view.selects else outcome
        return {
            "query": query.params,
            "from_cache": outcome.from_cache,
            "stale": outcome.stale,
            "derived_from": None if outcome.derived_from is None else outcome.derived_from.params,
            "page": unstructure_page(shown),
        }
    return {
        "query": query.params,
        "error": {
            "type": type(outcome).__name__,
            "message": str(outcome),
            "status": getattr(outcome, "status", None),
            "attempts": outcome.attempts,
        },
    }


def render_grid(
    result: FanOutResult,
    fmt: str,
    view: ItemView = _AS_SENT,
    palette: Palette = _PLAIN,
) -> str:
    """A grid's outcomes as text in one of :data:`FORMATS`.

    ``view`` sorts and cuts each page's items (and picks the CSV's columns);
    a field name it does not find in any page raises
    :class:`~openrouter_bench.errors.ConfigurationError`.
    """
    view.check([item for page in result.pages.values() for item in page.items])
    if fmt == "json":
        records = [_grid_record(query, outcome, view) for query, outcome in result.items()]
        return orjson.dumps(records, option=orjson.OPT_INDENT_2).decode() + "\n"
    if fmt == "ndjson":
        return "".join(
            orjson.dumps(_grid_record(query, outcome, view)).decode() + "\n"
            for query, outcome in result.items()
        )
    if fmt == "csv":
        rows = [
            {"query": query.key, **row.fields}
            for query, page in result.pages.items()
            for row in view.apply_rows(rows_of(page))
        ]
        if not rows:
            return ""
        return _csv(rows, None if view.columns is None else ("query", *view.columns))
    return _grid_table(result, view, palette)


# --- the quota --------------------------------------------------------------------------------


def _quota_rows(status: QuotaStatus) -> list[dict[str, Any]]:
    paused = None if status.paused_until is None else status.paused_until.isoformat()
    return [
        {
            "window": name,
            "window_seconds": length,
            "limit": limit,
            "used": used,
            "left": left,
            "paused_until": paused,
            "store": status.store,
        }
        for name, length, limit, used, left in (
            (
                "minute",
                status.minute_window,
                status.minute_limit,
                status.minute_used,
                status.minute_left,
            ),
            ("day", status.day_window, status.day_limit, status.day_used, status.day_left),
        )
    ]


def render_quota(status: QuotaStatus, fmt: str) -> str:
    """The request budget's state as text in one of :data:`FORMATS`."""
    rows = _quota_rows(status)
    if fmt == "json":
        document = {
            "at": status.at.isoformat(),
            "store": status.store,
            "shared": status.shared,
            "paused_until": rows[0]["paused_until"],
            **{
                row["window"]: {
                    key: row[key] for key in ("limit", "used", "left", "window_seconds")
                }
                for row in rows
            },
        }
        return orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n"
    if fmt == "ndjson":
        return "".join(orjson.dumps(row).decode() + "\n" for row in rows)
    if fmt == "csv":
        return _csv(rows)
    shown = [["window", "limit", "used", "left"]]
    for row in rows:
        unlimited = row["limit"] is None
        shown.append(
            [
                f"last {row['window']}"
                if row["window_seconds"] in (60.0, 86_400.0)
                else f"last {row['window_seconds']:g} s",
                "none" if unlimited else str(row["limit"]),
                str(row["used"]),
                "-" if unlimited else str(row["left"]),
            ]
        )
    kept = f"{status.store}, shared with other processes" if status.shared else status.store
    if status.store == "off":
        kept = "no ledger: the quota is off, nothing is counted"
    if status.paused_until is None:
        pause = "no pause"
    else:
        left = max(0.0, (status.paused_until - status.at).total_seconds())
        pause = (
            f"paused by the server until {status.paused_until:%Y-%m-%d %H:%M:%S} UTC ({left:.0f} s)"
        )
    lines = [
        f"quota: {kept}" if status.store == "off" else f"quota kept in {kept}",
        *align_rows(shown),
        pause,
    ]
    return "\n".join(lines) + "\n"


# --- charts -----------------------------------------------------------------------------------

#: A bar's last cell: eighths of a block, so that a bar of ten cells tells eighty steps apart.
_EIGHTHS: Final = ("", "▏", "▎", "▍", "▌", "▋", "▊", "▉")
_FULL_BLOCK: Final = "█"
#: A bar wider than this reads no better; one narrower than the least tells too little.
_BAR_MOST: Final = 16
_BAR_LEAST: Final = 4
#: The width assumed of a terminal that does not report one (a fresh pseudo-terminal says 0).
_DEFAULT_COLUMNS: Final = 80


def terminal_columns(stream: TextIO, environ: Mapping[str, str] | None = None) -> int | None:
    """How wide the terminal ``stream`` writes to is; None when it is not a terminal.

    Charts are drawn for people only: piped or redirected output gets none.
    A terminal that reports no width is taken to be ``$COLUMNS`` wide, else 80.
    """
    isatty = getattr(stream, "isatty", None)
    if isatty is None or not isatty():
        return None
    try:
        columns = os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        columns = 0
    if columns > 0:
        return columns
    env = os.environ if environ is None else environ
    given = env.get("COLUMNS", "")
    return int(given) if given.isdigit() and int(given) > 0 else _DEFAULT_COLUMNS


def bar_room(columns: int | None, used: int, bars: int = 1) -> int:
    """The width of each of ``bars`` bars beside lines ``used`` characters wide (0: none fits).

    ``columns`` is :func:`terminal_columns`' answer (None: not a terminal, no bar).
    """
    if columns is None or bars < 1:
        return 0
    # Two spaces before each bar.
    room = min(_BAR_MOST, (columns - used) // bars - 2)
    return room if room >= _BAR_LEAST else 0


def score_bar(value: float, low: float, high: float, width: int) -> str:
    """``value``'s place from ``low`` to ``high`` as a bar of Unicode blocks, ``width`` cells wide.

    Eighth blocks make the last cell, and the bar is padded with spaces to
    ``width``, so bars line up. A value at ``low`` draws an empty bar; one at
    ``high`` (or any value when ``low == high``) a full one; values outside
    the span are held to it.
    """
    if width < 1:
        return ""
    span = high - low
    share = 1.0 if span <= 0 else min(1.0, max(0.0, (value - low) / span))
    eighths = round(share * width * 8)
    full, part = divmod(eighths, 8)
    return (_FULL_BLOCK * full + _EIGHTHS[part]).ljust(width)


# --- standings over time (history) -------------------------------------------------------------

#: The CSV columns of a model's standing over time: one row per ranking and snapshot.
_STANDING_COLUMNS: Final = (
    "model",
    "display_name",
    "ranking",
    "variant",
    "snapshot",
    "as_of",
    "rank",
    "entries",
    "score",
)
#: Eight heights of a bar, lowest first: a sparkline's cells.
_SPARKS: Final = "▁▂▃▄▅▆▇█"
#: A sparkline's cell where there is no value (the model was not ranked then).
_NO_SPARK: Final = "·"


def sparkline(values: Sequence[float | None]) -> str:
    """One cell per value, as high as the value within the values' range (``·``: None)."""
    known = [value for value in values if value is not None]
    if not known:
        return _NO_SPARK * len(values)
    low, high = min(known), max(known)
    top = len(_SPARKS) - 1
    cells = []
    for value in values:
        if value is None:
            cells.append(_NO_SPARK)
        elif high == low:
            cells.append(_SPARKS[top // 2])
        else:
            cells.append(_SPARKS[round((value - low) / (high - low) * top)])
    return "".join(cells)


def _series_record(line: StandingSeries) -> dict[str, Any]:
    return {
        "model": line.model,
        "display_name": line.display_name,
        "ranking": line.ranking,
        "variant": line.variant,
    }


def _point_record(point: StandingPoint) -> dict[str, Any]:
    return {
        "snapshot": point.snapshot,
        "as_of": point.as_of.isoformat(),
        "rank": point.rank,
        "entries": point.entries,
        "score": point.score,
    }


def _standing_rows(series: Sequence[StandingSeries]) -> list[dict[str, Any]]:
    return [_series_record(line) | _point_record(point) for line in series for point in line.points]


def render_standing(
    series: Sequence[StandingSeries],
    fmt: str,
    *,
    query: Query,
    chart: bool = False,
    palette: Palette = _PLAIN,
) -> str:
    """A model's rank and score over time as text in one of :data:`FORMATS`.

    ``json`` is one document (the query, then each ranking's series with its
    points), ``csv`` and ``ndjson`` a row per ranking and snapshot, ``table`` a
    table per ranking, headed on a terminal (``chart``) by a :func:`sparkline`
    of the score, oldest on the left.
    """
    if fmt == "json":
        document = {
            "query": query.params,
            "series": [
                _series_record(line)
                | {
                    "citation": line.citation,
                    "points": [_point_record(point) for point in line.points],
                }
                for line in series
            ],
        }
        return orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n"
    if fmt == "ndjson":
        return "".join(orjson.dumps(row).decode() + "\n" for row in _standing_rows(series))
    if fmt == "csv":
        return _csv(_standing_rows(series), _STANDING_COLUMNS)
    if fmt != "table":
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    blocks = []
    for line in series:
        title = (
            f"{palette.bold(printable(line.label))} ({printable(line.model)}) "
            f"in {printable(line.ranking)}"
        )
        head = [title]
        if chart:
            first, last = line.points[0], line.points[-1]
            head.append(
                f"score {sparkline(line.scores)}  {first.as_of:%Y-%m-%d} -> {last.as_of:%Y-%m-%d}"
            )
        rows = [["#", "as of", "rank", "score"]]
        rows += [
            [
                str(point.snapshot),
                f"{point.as_of:%Y-%m-%d %H:%M}",
                "-" if point.rank is None else f"{point.rank} of {point.entries}",
                format_score(point.score),
            ]
            for point in line.points
        ]
        tail = [palette.dim(printable(f"source: {line.citation}"))] if line.citation else []
        blocks.append("\n".join([*head, *align_rows(rows), *tail]))
    return "\n\n".join(blocks) + "\n"
