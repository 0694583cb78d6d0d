"""A :class:`~openrouter_bench.answers.Catalog`'s answers as text: table, JSON, CSV and NDJSON.

What the ``model``, ``compare``, ``best`` and ``leaders`` commands print. Every
format carries what an answer must show:

- **citations**: each part of the data set an answer used, with its ``as_of``
  and the attribution to show when republishing (a table's footer; a
  ``citations`` list in JSON; ``as_of`` and ``citation`` on every CSV and NDJSON
  row);
- **what is missing**: the parts that could not be fetched and those that may
  lack items (a table's footer and the JSON document; for CSV and NDJSON, which
  have no place for them, :func:`answer_warnings` gives the lines for stderr);
- **prices with their unit**: a blended price per million tokens (three input
  tokens to one output token) for Artificial Analysis and Design Arena, a cost
  per task for OpenRouter's evals, exact decimals in every data format.

Rankings are never merged: a table shows each ranking on its own (a block per
ranking for ``best``), and every row names its ranking. On a terminal a table
row gets a bar of its score, drawn from the lowest to the highest score of its
own ranking, since scores of different rankings do not compare.

A table's and a warning's server text (model ids, display names, ranking,
arena and category names, citations) is
:func:`~openrouter_bench._text.printable`: cells through
:func:`~openrouter_bench.render.align_rows`, headings and footers here, before
they are styled. JSON, CSV and NDJSON keep the server's values as sent.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any, Final

import attrs
import orjson

from openrouter_bench._text import printable
from openrouter_bench.answers import (
    PER_MILLION_TOKENS,
    PER_TASK,
    Catalog,
    CatalogPart,
    Comparison,
    ModelReport,
    ModelStanding,
    RankingAnswer,
    RankingAnswers,
)
from openrouter_bench.query import Source
from openrouter_bench.ranking import format_score
from openrouter_bench.render import FORMATS, Palette, align_rows, bar_room, score_bar

# Used by the commands; the package root exports none of it.
__all__: list[str] = []

#: The columns of a CSV row and the keys of an NDJSON line: one standing in one ranking.
STANDING_COLUMNS: Final = (
    "ranking",
    "source",
    "arena",
    "category",
    "model",
    "display_name",
    "rank",
    "entries",
    "score",
    "price",
    "price_unit",
    "variant",
    "as_of",
    "citation",
)

#: How each price unit is reckoned, for the footer of a table and the JSON document.
PRICE_NOTES: Final = {
    PER_MILLION_TOKENS: "(3 x the prompt price + the completion price) / 4, per token, x 1,000,000",
    PER_TASK: "the eval's average cost per task, as OpenRouter reports it",
}

#: How a price reads in a table cell, by its unit.
_PRICE_SUFFIX: Final = {PER_MILLION_TOKENS: "/M", PER_TASK: "/task"}


@attrs.frozen
class AnswerStyle:
    """How to show an answer: the format, a table's colours, and the terminal's width for bars.

    ``columns`` None draws no bars (not a terminal, or not a table).
    """

    fmt: str
    palette: Palette = attrs.field(factory=Palette)
    columns: int | None = None

    def __attrs_post_init__(self) -> None:
        if self.fmt not in FORMATS:
            raise ValueError(f"unknown format {self.fmt!r}; expected one of {', '.join(FORMATS)}")


# --- records: one function per shape, shared by JSON, CSV and NDJSON ---------------------------


def _money(value: Decimal | None) -> str | None:
    # A string, so that JSON and CSV keep the exact decimal.
    return None if value is None else f"{value.normalize():f}"


def _arena_category(standing: ModelStanding) -> tuple[str | None, str | None]:
    """A Design Arena ranking's arena and category (its name is ``design-arena ARENA/CATEGORY``)."""
    if standing.source != Source.DESIGN_ARENA:
        return None, None
    arena, _, category = standing.ranking.partition(" ")[2].partition("/")
    return arena or None, category or None


def standing_record(standing: ModelStanding) -> dict[str, Any]:
    """One standing as a flat record with :data:`STANDING_COLUMNS` as its keys."""
    arena, category = _arena_category(standing)
    return {
        "ranking": standing.ranking,
        "source": standing.source,
        "arena": arena,
        "category": category,
        "model": standing.model,
        "display_name": standing.display_name,
        "rank": standing.rank,
        "entries": standing.entries,
        "score": standing.score,
        "price": _money(standing.price),
        "price_unit": standing.price_unit,
        "variant": standing.variant,
        "as_of": standing.as_of.isoformat(),
        "citation": standing.citation,
    }


def _stale(part: CatalogPart) -> bool:
    """Whether a page of the part is an older snapshot, served because its refresh failed."""
    return any(page.stale for page in part.pages)


def _part_record(part: CatalogPart) -> dict[str, Any]:
    return {
        "part": part.name,
        "source": part.source,
        "as_of": None if part.as_of is None else part.as_of.isoformat(),
        "citation": part.citation,
        "stale": _stale(part),
    }


def _cited(catalog: Catalog, rankings: Iterable[str]) -> list[CatalogPart]:
    """The parts the named rankings were read from, each once, in the catalog's order."""
    used = {catalog.part_of(name).name for name in rankings}
    return [part for part in catalog.parts if part.name in used]


def _gaps(missing: Sequence[str], incomplete: Sequence[str]) -> dict[str, Any]:
    return {"missing": list(missing), "incomplete": list(incomplete)}


def _document(body: dict[str, Any], cited: Sequence[CatalogPart], gaps: dict[str, Any]) -> str:
    document = {
        **body,
        "citations": [_part_record(part) for part in cited],
        **gaps,
        "price_units": dict(PRICE_NOTES),
    }
    return orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n"


def _rows_text(fmt: str, records: Sequence[dict[str, Any]]) -> str:
    """Flat records as CSV (a header, then a row each) or NDJSON (a line each)."""
    if fmt == "ndjson":
        return "".join(orjson.dumps(record).decode() + "\n" for record in records)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(STANDING_COLUMNS)
    writer.writerows([["" if r[c] is None else r[c] for c in STANDING_COLUMNS] for r in records])
    return out.getvalue()


def answer_warnings(answer: ModelReport | Comparison | RankingAnswers) -> list[str]:
    """What an answer lacks, a line each: for stderr when the format has no room for it."""
    lines = []
    if answer.missing:
        lines.append(f"not fetched, so not looked at: {', '.join(answer.missing)}")
    if answer.incomplete:
        lines.append(f"may lack items (a page may have been cut): {', '.join(answer.incomplete)}")
    return [printable(line) for line in lines]


# --- tables -------------------------------------------------------------------------------------


def _price_cell(standing: ModelStanding) -> str:
    if standing.price is None:
        return "-"
    return f"${standing.price.normalize():f}{_PRICE_SUFFIX.get(standing.price_unit, '')}"


def _rank_cell(standing: ModelStanding) -> str:
    return f"#{standing.rank} of {standing.entries}"


def _model_cell(standing: ModelStanding) -> str:
    name = standing.display_name or standing.model
    return f"{name} [{standing.variant}]" if standing.variant else name


class _Bars:
    """A bar per row, each drawn across its own ranking's span of scores."""

    def __init__(self, catalog: Catalog, style: AnswerStyle) -> None:
        self._catalog = catalog
        self._columns = style.columns
        self._spans: dict[str, tuple[float, float]] = {}

    def room(self, used: int, bars: int = 1) -> int:
        """Each bar's width beside lines ``used`` wide holding ``bars`` bars (0: none fits)."""
        return bar_room(self._columns, used, bars)

    def draw(self, standing: ModelStanding | None, width: int) -> str:
        """The bar of one standing (spaces for none)."""
        if standing is None:
            return " " * width
        span = self._spans.get(standing.ranking)
        if span is None:
            scores = [row.score for row in self._catalog.ranking(standing.ranking)]
            span = self._spans[standing.ranking] = (min(scores), max(scores))
        return score_bar(standing.score, span[0], span[1], width)


def _with_bars(lines: list[str], standings: Sequence[ModelStanding], bars: _Bars) -> list[str]:
    """Aligned body lines with each row's bar after it, when the terminal has room."""
    width = bars.room(max((len(line) for line in lines), default=0))
    if not width:
        return lines
    widest = max(len(line) for line in lines)
    return [
        f"{line.ljust(widest)}  {bars.draw(standing, width)}".rstrip()
        for line, standing in zip(lines, standings, strict=True)
    ]


def _footer(
    cited: Sequence[CatalogPart],
    units: Iterable[str],
    missing: Sequence[str],
    incomplete: Sequence[str],
    palette: Palette,
) -> list[str]:
    lines = []
    for unit in dict.fromkeys(units):
        suffix = _PRICE_SUFFIX.get(unit, "")
        lines.append(palette.dim(f"${suffix}: {unit}: {PRICE_NOTES.get(unit, '')}"))
    if cited:
        lines.append("sources:")
        for part in cited:
            when = "-" if part.as_of is None else f"{part.as_of:%Y-%m-%d %H:%M} UTC"
            source = f"  {part.name}, as of {when}: {part.citation or 'no citation given'}"
            lines.append(printable(source))
            if _stale(part):
                lines.append(palette.yellow("    STALE: the refresh failed; an older snapshot"))
    if missing:
        lines.append(
            palette.yellow(printable(f"missing (could not be fetched): {', '.join(missing)}"))
        )
    if incomplete:
        lines.append(
            palette.yellow(
                printable(f"incomplete (a page may have been cut): {', '.join(incomplete)}")
            )
        )
    return lines


def _table(
    header: list[str],
    rows: Sequence[tuple[list[str], ModelStanding]],
    bars: _Bars | None,
    palette: Palette,
) -> list[str]:
    """A header and rows, aligned, each row with its bar (if ``bars``); sources apart."""
    head, *body = align_rows([header, *(cells for cells, _ in rows)])
    if bars is not None:
        body = _with_bars(body, [standing for _, standing in rows], bars)
    lines = [palette.bold(head)]
    for at, (line, (_, standing)) in enumerate(zip(body, rows, strict=True)):
        if at and standing.source != rows[at - 1][1].source:
            lines.append("")
        lines.append(line)
    return lines


# --- model ---------------------------------------------------------------------------------------


def render_model(report: ModelReport, catalog: Catalog, style: AnswerStyle) -> str:
    """One model in every ranking it stands in (``model NAME``)."""
    cited = _cited(catalog, (s.ranking for s in report.standings))
    gaps = _gaps(report.missing, report.incomplete)
    records = [standing_record(standing) for standing in report.standings]
    if style.fmt == "json":
        body = {
            "model": report.model,
            "display_names": list(report.display_names),
            "standings": records,
        }
        return _document(body, cited, gaps)
    if style.fmt != "table":
        return _rows_text(style.fmt, records)
    palette = style.palette
    names = ", ".join(report.display_names) or report.model
    lines = [palette.bold(printable(f"{names} ({report.model})")), ""]
    if report.standings:
        # A search eval's rows say which engine and surface scored; other rankings have none.
        variants = any(s.variant for s in report.standings)
        rows = [
            (
                [
                    s.ranking,
                    _rank_cell(s),
                    format_score(s.score),
                    _price_cell(s),
                    *([s.variant or ""] if variants else []),
                ],
                s,
            )
            for s in report.standings
        ]
        header = ["ranking", "rank", "score", "price", *(["variant"] if variants else [])]
        lines += [*_table(header, rows, _Bars(catalog, style), palette), ""]
    else:
        lines += ["ranked nowhere (known by name only)", ""]
    units = (s.price_unit for s in report.standings if s.price is not None)
    lines += _footer(cited, units, report.missing, report.incomplete, palette)
    return "\n".join(lines) + "\n"


# --- compare -------------------------------------------------------------------------------------


def _compared_cell(standing: ModelStanding) -> str:
    price = "" if standing.price is None else f" {_price_cell(standing)}"
    return f"#{standing.rank} {format_score(standing.score)}{price}"


def render_comparison(comparison: Comparison, catalog: Catalog, style: AnswerStyle) -> str:
    """Models side by side, ranking by ranking (``compare A B ...``)."""
    cited = _cited(catalog, (row.ranking for row in comparison.rows))
    gaps = _gaps(comparison.missing, comparison.incomplete)
    if style.fmt == "json":
        body = {
            "models": list(comparison.models),
            "rows": [
                {
                    "ranking": row.ranking,
                    "standings": [None if s is None else standing_record(s) for s in row.standings],
                }
                for row in comparison.rows
            ],
        }
        return _document(body, cited, gaps)
    records = [
        standing_record(s) for row in comparison.rows for s in row.standings if s is not None
    ]
    if style.fmt != "table":
        return _rows_text(style.fmt, records)
    palette = style.palette
    bars = _Bars(catalog, style)
    count = len(comparison.models)
    header = ["ranking", *comparison.models]
    cells = [
        [
            row.ranking,
            *("-" if s is None else _compared_cell(s) for s in row.standings),
        ]
        for row in comparison.rows
    ]
    lines = ["ranked together nowhere", ""]
    if cells:
        width = bars.room(max(map(len, align_rows([header, *cells]))), count)
        if width:
            # A bar after each model's cell, lined up: the model columns widen to hold it.
            wide = [max(len(line[at]) for line in cells) for at in range(1, count + 1)]
            cells = [
                [
                    line[0],
                    *(
                        f"{cell.ljust(wide[at])} {bars.draw(s, width)}"
                        for at, (cell, s) in enumerate(zip(line[1:], row.standings, strict=True))
                    ),
                ]
                for line, row in zip(cells, comparison.rows, strict=True)
            ]
        head, *shown = align_rows([header, *cells])
        lines = [palette.bold(head), *shown, ""]
    units = (
        s.price_unit for row in comparison.rows for s in row.standings if s and s.price is not None
    )
    lines += _footer(cited, units, comparison.missing, comparison.incomplete, palette)
    return "\n".join(lines) + "\n"


# --- best, frontier, leaders ---------------------------------------------------------------------


def _ceiling_text(answer: RankingAnswer) -> str:
    if answer.ceiling is None:
        return "no price limit"
    return f"at most ${answer.ceiling.normalize():f}{_PRICE_SUFFIX.get(answer.price_unit, '')}"


def _ranking_record(answer: RankingAnswer) -> dict[str, Any]:
    return {
        "ranking": answer.ranking,
        "source": answer.source,
        "price_unit": answer.price_unit,
        "ceiling": _money(answer.ceiling),
        "as_of": answer.as_of.isoformat(),
        "citation": answer.citation,
        "complete": answer.complete,
        "rows": [standing_record(row) for row in answer.rows],
    }


def render_rankings(
    answers: RankingAnswers,
    catalog: Catalog,
    style: AnswerStyle,
    *,
    title: str,
    question: dict[str, Any],
) -> str:
    """An answer per ranking (``best``, ``best --frontier``): a block of rows for each.

    ``title`` says what the rows are ("top 5", "Pareto frontier, cheapest
    first"); ``question`` is what was asked, as the JSON document repeats it.
    """
    cited = _cited(catalog, (answer.ranking for answer in answers.rankings))
    gaps = _gaps(answers.missing, answers.incomplete)
    if style.fmt == "json":
        body = {
            "question": question,
            "rankings": [_ranking_record(answer) for answer in answers.rankings],
        }
        return _document(body, cited, gaps)
    if style.fmt != "table":
        return _rows_text(
            style.fmt, [standing_record(row) for a in answers.rankings for row in a.rows]
        )
    palette = style.palette
    bars = _Bars(catalog, style)
    lines: list[str] = []
    for answer in answers.rankings:
        state = "" if answer.complete else ", may lack items"
        heading = f"{answer.ranking}: {title}, {_ceiling_text(answer)}{state}"
        lines.append(palette.bold(printable(heading)))
        if answer.rows:
            rows = [
                ([_rank_cell(s), _model_cell(s), format_score(s.score), _price_cell(s)], s)
                for s in answer.rows
            ]
            lines += _table(["rank", "model", "score", "price"], rows, bars, palette)
        else:
            lines.append("  no model with a known price within the limit")
        lines.append("")
    if not answers.rankings:
        lines += ["no ranking answers this", ""]
    units = (answer.price_unit for answer in answers.rankings)
    lines += _footer(cited, units, answers.missing, answers.incomplete, palette)
    return "\n".join(lines) + "\n"


def render_leaders(answers: RankingAnswers, catalog: Catalog, style: AnswerStyle) -> str:
    """The leader of every Design Arena arena and category (``leaders``): a row each.

    Each row is its own ranking's #1 (ties all shown), so no bar is drawn: it
    would be full on every row.
    """
    cited = _cited(catalog, (answer.ranking for answer in answers.rankings))
    gaps = _gaps(answers.missing, answers.incomplete)
    if style.fmt == "json":
        body = {"rankings": [_ranking_record(answer) for answer in answers.rankings]}
        return _document(body, cited, gaps)
    records = [standing_record(row) for answer in answers.rankings for row in answer.rows]
    if style.fmt != "table":
        return _rows_text(style.fmt, records)
    palette = style.palette
    rows = [
        (
            [answer.ranking, _model_cell(s), f"Elo {format_score(s.score)}", _price_cell(s)],
            s,
        )
        for answer in answers.rankings
        for s in answer.rows
    ]
    lines = (
        [*_table(["ranking", "leader", "score", "price"], rows, None, palette), ""]
        if rows
        else ["no Design Arena ranking was fetched", ""]
    )
    units = (s.price_unit for _, s in rows if s.price is not None)
    lines += _footer(cited, units, answers.missing, answers.incomplete, palette)
    return "\n".join(lines) + "\n"
