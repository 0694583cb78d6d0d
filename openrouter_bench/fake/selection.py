"""What one request asks the fake for: its parameters checked (or a 400), and the body to send.

The checks mirror :class:`openrouter_bench.query.Query` but are written out
again on purpose, so the fake can catch the client getting them wrong. Unlike
the client, the fake knows the whole API: an enum value it does not list is
an error here.

How each filter selects items (the order of the result is described in
:mod:`openrouter_bench.fake.dataset`):

``source``
    Only that source's items. Omitted: every source, in the order
    artificial-analysis, design-arena, openrouter; Design Arena then
    contributes all three arenas.
``task_type``
    Artificial Analysis: items whose matching index (``coding_index``,
    ``intelligence_index``, ``agentic_index``) is not null, sorted by that
    index. Design Arena: the categories in :data:`TASK_CATEGORIES`
    (``coding``: ``codecategories`` only, as the published guide says;
    ``intelligence``: dataviz, 3d, svg; ``agentic``: gamedev, website, mobile,
    cli). OpenRouter: ``intelligence`` is ``gpqa_diamond``, ``agentic`` is
    ``tau_bench_verified_airline``, ``search`` is every ``search_*`` eval and
    ``coding`` has no OpenRouter eval (no OpenRouter items). ``search`` keeps
    OpenRouter search evals only.
``arena``, ``category``
    Design Arena only (``source=design-arena`` required); ``arena`` defaults
    to ``models``. An unknown category matches nothing (an empty list, not a
    400): categories are data, not part of the API.
``benchmark_type``
    A ``search_*`` value keeps only that search eval; a classic one narrows
    the OpenRouter items and leaves the other sources alone.
``search_engine``, ``search_surface``
    Keep only search evals run that way (an unknown engine matches nothing).
``include_run_config``
    Adds ``run_config`` to search eval items; it selects nothing.
``max_results``
    Truncates the final list. The published documents disagree on its
    bounds, so the fake reads it one of two ways (``reading``, see
    :data:`MAX_RESULTS_READINGS`): ``"reference"`` (the API reference: at
    least 1, omitted means every matching item) or ``"guide"`` (the Data API
    guide: 1 to :data:`GUIDE_MAX_RESULTS`, omitted means at most
    :data:`GUIDE_DEFAULT_RESULTS` items; a value out of range is a 400 saying
    ``max_results must be between 1 and 100``).

``meta.citation`` and ``meta.source_url`` name the one source a query can
reach (the ``source`` filter, or, without it, the only source left by the
other filters, as with ``task_type=search``); they are null when the results
can span sources.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Final, Literal, TypeAlias
from urllib.parse import urlencode

import attrs

from openrouter_bench.fake.dataset import (
    CITATIONS,
    JSON,
    SEARCH_BENCHMARKS,
    SOURCE_ORDER,
    SOURCE_URLS,
    Snapshot,
    format_timestamp,
)
from openrouter_bench.query import Arena, BenchmarkType, SearchSurface, Source, TaskType

__all__ = [
    "GUIDE_DEFAULT_RESULTS",
    "GUIDE_MAX_RESULTS",
    "MAX_RESULTS_READINGS",
    "PARAMETERS",
    "MaxResultsReading",
    "TASK_CATEGORIES",
    "NO_CREDENTIALS",
    "RATE_LIMIT_ERROR_TYPE",
    "ParameterError",
    "Selection",
    "bare_error_body",
    "error_body",
]

#: Every query parameter the endpoint knows, in the order the checks run.
PARAMETERS: Final = (
    "source",
    "task_type",
    "arena",
    "category",
    "max_results",
    "benchmark_type",
    "include_run_config",
    "search_engine",
    "search_surface",
)

#: How ``max_results`` is read: the API reference's way or the Data API guide's.
MaxResultsReading: TypeAlias = Literal["reference", "guide"]
#: The two readings of ``max_results`` the published documents give (see the module docstring).
MAX_RESULTS_READINGS: Final[tuple[MaxResultsReading, ...]] = ("reference", "guide")
#: The Data API guide's bounds: ``max_results`` from 1 to 100, and 50 items when it is omitted.
GUIDE_MAX_RESULTS: Final = 100
GUIDE_DEFAULT_RESULTS: Final = 50

_CHOICES: Final[dict[str, tuple[str, ...]]] = {
    "source": tuple(member.value for member in Source),
    "task_type": tuple(member.value for member in TaskType),
    "arena": tuple(member.value for member in Arena),
    "benchmark_type": tuple(member.value for member in BenchmarkType),
    "search_surface": tuple(member.value for member in SearchSurface),
}

_AA: Final = Source.ARTIFICIAL_ANALYSIS.value
_DA: Final = Source.DESIGN_ARENA.value
_OR: Final = Source.OPENROUTER.value

#: The Design Arena categories each task type selects: coding's as the contract has it, the
#: others the fake's own choice.
TASK_CATEGORIES: Final[dict[str, frozenset[str]]] = {
    "coding": frozenset({"codecategories"}),
    "intelligence": frozenset({"dataviz", "3d", "svg"}),
    "agentic": frozenset({"gamedev", "website", "mobile", "cli"}),
    "search": frozenset(),
}
_TASK_INDEXES: Final = {
    "coding": "coding_index",
    "intelligence": "intelligence_index",
    "agentic": "agentic_index",
}
_TASK_BENCHMARKS: Final[dict[str, tuple[str, ...]]] = {
    "coding": (),
    "intelligence": ("gpqa_diamond",),
    "agentic": ("tau_bench_verified_airline",),
    "search": SEARCH_BENCHMARKS,
}
_NON_SEARCH_TASKS: Final = ("coding", "intelligence", "agentic")
_SEARCH_OPTIONS: Final = ("include_run_config", "search_engine", "search_surface")
_DIGITS: Final = re.compile(r"[0-9]+")
_ECHO_LIMIT: Final = 60


class ParameterError(ValueError):
    """A query parameter the endpoint refuses with 400; ``parameter`` names it."""

    def __init__(self, message: str, *, parameter: str) -> None:
        super().__init__(message)
        self.message = message
        self.parameter = parameter

    def body(self) -> JSON:
        """The 400 body the endpoint sends for this error."""
        return error_body(400, self.message, {"parameter": self.parameter})


def error_body(code: int, message: str, metadata: JSON | None = None) -> JSON:
    """An error body in the contract's full shape (every optional key present, some null)."""
    return {
        "error": {"code": code, "message": message, "metadata": metadata},
        "openrouter_metadata": None,
        "user_id": None,
    }


#: The ``error.metadata.error_type`` every 429 body carries.
RATE_LIMIT_ERROR_TYPE: Final = "rate_limit_exceeded"
#: What the real endpoint says to a request without credentials.
NO_CREDENTIALS: Final = "No cookie auth credentials found"


def bare_error_body(code: int, message: str) -> JSON:
    """An error body with only the required keys, as the real 401 is:
    ``{"error": {"message": ..., "code": ...}}`` (no ``metadata``, ``openrouter_metadata``
    or ``user_id``)."""
    return {"error": {"message": message, "code": code}}


def _echo(value: str) -> str:
    return repr(value if len(value) <= _ECHO_LIMIT else value[:_ECHO_LIMIT] + "...")


@attrs.frozen
class Selection:
    """A checked request: which items to send, and how."""

    source: str | None = None
    task_type: str | None = None
    arena: str | None = None
    category: str | None = None
    max_results: int | None = None
    benchmark_type: str | None = None
    include_run_config: bool = False
    search_engine: str | None = None
    search_surface: str | None = None

    @classmethod
    def from_pairs(
        cls, pairs: Iterable[tuple[str, str]], *, reading: MaxResultsReading = "reference"
    ) -> Selection:
        """Check query-string pairs; raises :class:`ParameterError` for the first problem.

        ``reading`` is how ``max_results`` is read: ``"reference"`` or ``"guide"``.
        """
        if reading not in MAX_RESULTS_READINGS:
            raise ValueError(
                f"reading must be one of {', '.join(map(repr, MAX_RESULTS_READINGS))}, "
                f"got {reading!r}"
            )
        values: dict[str, str] = {}
        unknown: list[str] = []
        for name, value in pairs:
            if name not in PARAMETERS:
                unknown.append(name)
            elif name in values:
                raise ParameterError(f"parameter {name!r} given more than once", parameter=name)
            else:
                values[name] = value
        if unknown:
            name = sorted(unknown)[0]
            raise ParameterError(
                f"unknown parameter {_echo(name)}; known parameters: {', '.join(PARAMETERS)}",
                parameter=name,
            )
        for name, value in values.items():
            if not value:
                raise ParameterError(f"{name} must not be empty", parameter=name)
            choices = _CHOICES.get(name)
            if choices is not None and value not in choices:
                allowed = ", ".join(repr(choice) for choice in choices)
                raise ParameterError(
                    f"{name} must be one of {allowed}; got {_echo(value)}", parameter=name
                )
        selection = cls(
            source=values.get("source"),
            task_type=values.get("task_type"),
            arena=values.get("arena"),
            category=values.get("category"),
            max_results=_max_results(values.get("max_results"), reading),
            benchmark_type=values.get("benchmark_type"),
            include_run_config=_flag(values.get("include_run_config")),
            search_engine=values.get("search_engine"),
            search_surface=values.get("search_surface"),
        )
        selection._check_combination()
        if selection.source == _DA and selection.arena is None:
            selection = attrs.evolve(selection, arena=Arena.MODELS.value)
        return selection

    @classmethod
    def from_params(
        cls, params: Mapping[str, str], *, reading: MaxResultsReading = "reference"
    ) -> Selection:
        """Check a mapping of query parameters (string values, as in a URL)."""
        for name, value in params.items():
            if not isinstance(value, str):
                raise TypeError(
                    f"parameter {name!r} must be a string, as in a query string; "
                    f"got {type(value).__name__}"
                )
        return cls.from_pairs(params.items(), reading=reading)

    def _check_combination(self) -> None:
        source = self.source
        for name in ("arena", "category"):
            if getattr(self, name) is not None and source != _DA:
                shown = "not set" if source is None else f"{source!r}"
                raise ParameterError(
                    f"{name} applies to source='design-arena' only (source is {shown})",
                    parameter=name,
                )
        if source in (_AA, _DA):
            if self.task_type == "search":
                raise ParameterError(
                    f"task_type='search' covers OpenRouter search evals only, "
                    f"not source={source!r}",
                    parameter="task_type",
                )
            if self.benchmark_type is not None:
                raise ParameterError(
                    f"benchmark_type names an OpenRouter eval; it does not apply to "
                    f"source={source!r}",
                    parameter="benchmark_type",
                )
        benchmark = self.benchmark_type
        if benchmark is not None:
            searching = benchmark in SEARCH_BENCHMARKS
            if searching and self.task_type in _NON_SEARCH_TASKS:
                raise ParameterError(
                    f"benchmark_type={benchmark!r} is a search eval, "
                    f"but task_type is {self.task_type!r}",
                    parameter="benchmark_type",
                )
            if not searching and self.task_type == "search":
                raise ParameterError(
                    f"benchmark_type={benchmark!r} is not a search eval, but task_type is 'search'",
                    parameter="benchmark_type",
                )
        given = [name for name in _SEARCH_OPTIONS if getattr(self, name) not in (None, False)]
        if not given:
            return
        reason = None
        if source in (_AA, _DA):
            reason = f"source is {source!r}"
        elif self.task_type in _NON_SEARCH_TASKS:
            reason = f"task_type is {self.task_type!r}"
        elif benchmark is not None and benchmark not in SEARCH_BENCHMARKS:
            reason = f"benchmark_type is {benchmark!r}"
        if reason is not None:
            raise ParameterError(
                f"{given[0]} applies to search evals only, but {reason}", parameter=given[0]
            )

    @property
    def key(self) -> str:
        """A canonical form: equal for requests that ask the same thing."""
        pairs = [
            (name, "true" if value is True else str(value))
            for name in PARAMETERS
            if (value := getattr(self, name)) not in (None, False)
        ]
        return urlencode(pairs)

    @property
    def search_only(self) -> bool:
        """True when only OpenRouter search evals can match."""
        return (
            self.task_type == "search"
            or self.benchmark_type in SEARCH_BENCHMARKS
            or self.search_engine is not None
            or self.search_surface is not None
        )

    @property
    def sources(self) -> tuple[str, ...]:
        """The sources whose items this request can return, in response order."""
        candidates = SOURCE_ORDER if self.source is None else (self.source,)
        return tuple(
            source
            for source in candidates
            if not (self.search_only and source != _OR)
            and not (source == _OR and self.task_type == "coding")
        )

    @property
    def cited_source(self) -> str | None:
        """The one source ``meta`` attributes the results to, or None when they can span sources."""
        if self.source is not None:
            return self.source
        sources = self.sources
        return sources[0] if len(sources) == 1 else None

    def admits(self, item: Mapping[str, Any]) -> bool:
        """Whether an item of the data matches every filter."""
        source = item["source"]
        if source not in self.sources:
            return False
        task = self.task_type
        if source == _AA:
            return task is None or item[_TASK_INDEXES[task]] is not None
        if source == _DA:
            return (
                (self.arena is None or item["arena"] == self.arena)
                and (self.category is None or item["category"] == self.category)
                and (task is None or item["category"] in TASK_CATEGORIES[task])
            )
        benchmark = item["benchmark_type"]
        return (
            (task is None or benchmark in _TASK_BENCHMARKS[task])
            and (self.benchmark_type is None or benchmark == self.benchmark_type)
            and (not self.search_only or benchmark in SEARCH_BENCHMARKS)
            and (self.search_engine is None or item.get("search_engine") == self.search_engine)
            and (self.search_surface is None or item.get("search_surface") == self.search_surface)
        )

    def items(self, snapshot: Snapshot) -> list[JSON]:
        """The ``data`` list for this request against one snapshot."""
        assessed: list[JSON] = []
        others: list[JSON] = []
        for listing in snapshot.listings:
            if not self.admits(listing.item):
                continue
            item = listing.item
            if self.include_run_config and listing.run_config is not None:
                item = {**item, "run_config": listing.run_config}
            (assessed if listing.source == _AA else others).append(item)
        if self.task_type in _TASK_INDEXES:
            index = _TASK_INDEXES[self.task_type]
            assessed.sort(key=lambda item: (-item[index], item["model_permaslug"]))
        data = assessed + others
        return data if self.max_results is None else data[: self.max_results]

    def body(self, snapshot: Snapshot, *, milliseconds: bool = False) -> JSON:
        """The whole 200 body: ``data`` and ``meta``.

        ``milliseconds`` writes ``meta.as_of`` as the Data API guide shows it
        (``2026-06-03T12:00:00.000Z``) rather than as the reference does
        (``2026-06-03T12:00:00Z``).
        """
        data = self.items(snapshot)
        cited = self.cited_source
        meta: JSON = {
            "as_of": format_timestamp(snapshot.as_of, milliseconds=milliseconds),
            "version": "v1",
            "source": self.source,
            "source_url": None if cited is None else SOURCE_URLS[cited],
            "citation": None if cited is None else CITATIONS[cited],
            "model_count": len({item["model_permaslug"] for item in data}),
            "task_type": self.task_type,
        }
        return {"data": data, "meta": meta}


def _max_results(raw: str | None, reading: str) -> int | None:
    guide = reading == "guide"
    if raw is None:
        return GUIDE_DEFAULT_RESULTS if guide else None
    if guide and not (_DIGITS.fullmatch(raw) and 1 <= int(raw) <= GUIDE_MAX_RESULTS):
        raise ParameterError(
            f"max_results must be between 1 and {GUIDE_MAX_RESULTS}; got {_echo(raw)}",
            parameter="max_results",
        )
    if not _DIGITS.fullmatch(raw) or int(raw) < 1:
        raise ParameterError(
            f"max_results must be an integer >= 1; got {_echo(raw)}", parameter="max_results"
        )
    return int(raw)


def _flag(raw: str | None) -> bool:
    if raw is None:
        return False
    if raw.lower() not in ("true", "false"):
        raise ParameterError(
            f"include_run_config must be true or false; got {_echo(raw)}",
            parameter="include_run_config",
        )
    return raw.lower() == "true"
