"""Queries: what to ask the benchmarks endpoint, validated and in canonical form.

A :class:`Query` is built once, checked before any I/O, and put in canonical
form (the server's defaults made explicit), so two queries that ask the server
the same thing compare and hash equal and share one cache entry.

The API grows: values it does not know yet are accepted as plain strings, and
only what is certainly wrong raises :class:`~openrouter_bench.errors.InvalidQueryError`.
"""

from __future__ import annotations

import difflib
import enum
import functools
import itertools
import math
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, Self, TypeVar
from urllib.parse import urlencode

import attrs

from openrouter_bench.errors import InvalidQueryError

__all__ = [
    "ALL",
    "KNOWN_CATEGORIES",
    "Arena",
    "BenchmarkType",
    "Query",
    "SearchSurface",
    "Source",
    "TaskType",
]


class Source(enum.StrEnum):
    """Where a ranking comes from; decides the shape of its items."""

    ARTIFICIAL_ANALYSIS = "artificial-analysis"
    DESIGN_ARENA = "design-arena"
    OPENROUTER = "openrouter"


class TaskType(enum.StrEnum):
    """What the models are ranked at; each source maps it to its own index or category."""

    CODING = "coding"
    INTELLIGENCE = "intelligence"
    AGENTIC = "agentic"
    SEARCH = "search"


class Arena(enum.StrEnum):
    """A Design Arena leaderboard."""

    MODELS = "models"
    BUILDERS = "builders"
    AGENTS = "agents"


class BenchmarkType(enum.StrEnum):
    """One exact OpenRouter eval."""

    GPQA_DIAMOND = "gpqa_diamond"
    TAU_BENCH_VERIFIED_AIRLINE = "tau_bench_verified_airline"
    SEARCH_BROWSECOMP = "search_browsecomp"
    SEARCH_HLE = "search_hle"
    SEARCH_DSQA = "search_dsqa"
    SEARCH_WIDESEARCH = "search_widesearch"

    @property
    def is_search(self) -> bool:
        """True for the search evals (``search_*``)."""
        return self.value.startswith("search_")


class SearchSurface(enum.StrEnum):
    """How a search eval reached the search engine."""

    SERVER_TOOL = "server-tool"
    PLUGIN = "plugin"


#: The Design Arena categories the contract names; the server may know more.
KNOWN_CATEGORIES: Final[tuple[str, ...]] = (
    "codecategories",
    "uicomponent",
    "gamedev",
    "3d",
    "dataviz",
    "image",
    "video",
    "svg",
)


class _All(enum.Enum):
    ALL = "ALL"

    def __repr__(self) -> str:
        return "ALL"


#: Pass to :meth:`Query.grid` for "every known value of this parameter".
ALL: Final = _All.ALL

_E = TypeVar("_E", bound=enum.StrEnum)

#: The longest text a parameter takes: every name the API uses is a word or two.
_MAX_TEXT: Final = 200
#: The largest ``max_results``: the most a server's 64-bit integer holds (``sys.maxsize``).
_MAX_RESULTS: Final = 2**63 - 1
#: The most queries one grid may expand to, before any is built.
_MAX_GRID: Final = 100_000

# No name the API uses has one; each would end up in a URL, a cache key and a log
# line (lone surrogates cannot even be encoded into a URL).
_UNSENDABLE: Final = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_DIGITS: Final = re.compile("[0-9]{1,19}")


def _text(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise InvalidQueryError(
            f"{name} must be a string, not {type(value).__name__}", parameter=name
        )
    if len(value) > _MAX_TEXT:
        raise InvalidQueryError(
            f"{name} must be at most {_MAX_TEXT} characters, got {len(value)}", parameter=name
        )
    if not value.strip():
        raise InvalidQueryError(f"{name} must not be empty", parameter=name)
    if value != value.strip():
        raise InvalidQueryError(
            f"{name} must not start or end with white space: {value!r}", parameter=name
        )
    wrong = _UNSENDABLE.search(value)
    if wrong is not None:
        raise InvalidQueryError(
            f"{name} must not contain control characters or lone surrogates "
            f"(U+{ord(wrong.group()):04X} at position {wrong.start()})",
            parameter=name,
        )
    # A str subclass (another enum's member, say) becomes the plain text it holds.
    return value if type(value) is str else str.__str__(value)


def _member(enum_type: type[_E], name: str, value: object) -> _E | str | None:
    if value is None or isinstance(value, enum_type):
        return value
    text = _text(name, value)
    # A dict lookup: calling the enum (and failing for an unknown value) costs far more.
    member: _E | None = _by_value(enum_type).get(text)
    return text if member is None else member


@functools.cache
def _by_value(enum_type: type[_E]) -> dict[str, _E]:
    return {member.value: member for member in enum_type}


def _source(value: object) -> Source | str | None:
    return _member(Source, "source", value)


def _task_type(value: object) -> TaskType | str | None:
    return _member(TaskType, "task_type", value)


def _arena(value: object) -> Arena | str | None:
    return _member(Arena, "arena", value)


def _benchmark_type(value: object) -> BenchmarkType | str | None:
    return _member(BenchmarkType, "benchmark_type", value)


def _search_surface(value: object) -> SearchSurface | str | None:
    return _member(SearchSurface, "search_surface", value)


def _category(value: object) -> str | None:
    return None if value is None else _text("category", value)


def _search_engine(value: object) -> str | None:
    return None if value is None else _text("search_engine", value)


def _max_results(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidQueryError(
            f"max_results must be an integer, not {type(value).__name__}",
            parameter="max_results",
        )
    if value < 1:
        raise InvalidQueryError(
            f"max_results must be at least 1, got {max(value, -(10**18))}",
            parameter="max_results",
        )
    if value > _MAX_RESULTS:
        raise InvalidQueryError(
            f"max_results must be at most {_MAX_RESULTS} (2**63 - 1)", parameter="max_results"
        )
    return int(value)


def _flag(value: object) -> bool:
    if not isinstance(value, bool):
        raise InvalidQueryError(
            f"include_run_config must be True or False, not {type(value).__name__}",
            parameter="include_run_config",
        )
    return value


_NON_SEARCH_TASKS: Final = frozenset({TaskType.CODING, TaskType.INTELLIGENCE, TaskType.AGENTIC})
_CLASSIC_SOURCES: Final = frozenset({Source.ARTIFICIAL_ANALYSIS, Source.DESIGN_ARENA})


@attrs.frozen(cache_hash=True, repr=False)
class Query:
    """One question to ``GET /benchmarks``, checked and in canonical form.

    Every parameter is optional. Enum-like ones take a member of the matching
    enum or any non-empty string: a known string becomes its member, an
    unknown one is kept as it is (the API grows). ``Query(source="design-arena")``
    equals ``Query(source=Source.DESIGN_ARENA, arena=Arena.MODELS)``, the
    server's default made explicit.

    Raises :class:`InvalidQueryError` for what is certainly wrong: a wrong
    type, an empty string, ``max_results < 1``, ``arena``/``category`` with a
    source other than Design Arena, an OpenRouter benchmark or the ``search``
    task with a source that has neither, or search-only options
    (``include_run_config``, ``search_engine``, ``search_surface``) on a query
    that can return no search items.
    """

    source: Source | str | None = attrs.field(default=None, converter=_source)
    task_type: TaskType | str | None = attrs.field(default=None, converter=_task_type)
    arena: Arena | str | None = attrs.field(default=None, converter=_arena)
    category: str | None = attrs.field(default=None, converter=_category)
    max_results: int | None = attrs.field(default=None, converter=_max_results)
    benchmark_type: BenchmarkType | str | None = attrs.field(
        default=None, converter=_benchmark_type
    )
    include_run_config: bool = attrs.field(default=False, converter=_flag)
    search_engine: str | None = attrs.field(default=None, converter=_search_engine)
    search_surface: SearchSurface | str | None = attrs.field(
        default=None, converter=_search_surface
    )

    def __new__(cls, *args: object, **params: object) -> Self:
        # Before attrs' __init__, which would raise a bare TypeError for a misspelt name:
        # that is refused here as an InvalidQueryError naming it, like a bad value.
        if not _PARAMETERS.issuperset(params):
            raise _unknown_parameter(set(params) - _PARAMETERS)
        return object.__new__(cls)

    def __attrs_post_init__(self) -> None:
        source = self.source
        narrows_arena = self.arena is not None or self.category is not None
        if narrows_arena and source in (None, Source.ARTIFICIAL_ANALYSIS, Source.OPENROUTER):
            which = "arena" if self.arena is not None else "category"
            raise InvalidQueryError(
                f"{which} applies to Design Arena only; "
                f"set source='design-arena' (source is {_show(source)})",
                parameter=which,
            )
        if source == Source.DESIGN_ARENA and self.arena is None:
            # The server's default, made explicit so equal questions share a cache entry.
            object.__setattr__(self, "arena", Arena.MODELS)
        if source in _CLASSIC_SOURCES:
            if self.task_type == TaskType.SEARCH:
                raise InvalidQueryError(
                    f"task_type='search' covers OpenRouter search evals only, "
                    f"not source={_show(source)}",
                    parameter="task_type",
                )
            if self.benchmark_type is not None:
                raise InvalidQueryError(
                    f"benchmark_type names an OpenRouter eval; it does not apply to "
                    f"source={_show(source)}",
                    parameter="benchmark_type",
                )
        benchmark = self.benchmark_type
        if isinstance(benchmark, BenchmarkType):
            if benchmark.is_search and self.task_type in _NON_SEARCH_TASKS:
                raise InvalidQueryError(
                    f"benchmark_type={benchmark.value!r} is a search eval, "
                    f"but task_type is {_show(self.task_type)}",
                    parameter="benchmark_type",
                )
            if not benchmark.is_search and self.task_type == TaskType.SEARCH:
                raise InvalidQueryError(
                    f"benchmark_type={benchmark.value!r} is not a search eval, "
                    "but task_type is 'search'",
                    parameter="benchmark_type",
                )
        self._check_search_options()

    def _check_search_options(self) -> None:
        options = [
            name
            for name, given in (
                ("include_run_config", self.include_run_config),
                ("search_engine", self.search_engine is not None),
                ("search_surface", self.search_surface is not None),
            )
            if given
        ]
        if not options:
            return
        reason = None
        if self.source in _CLASSIC_SOURCES:
            reason = f"source is {_show(self.source)}"
        elif self.task_type in _NON_SEARCH_TASKS:
            reason = f"task_type is {_show(self.task_type)}"
        elif isinstance(self.benchmark_type, BenchmarkType) and not self.benchmark_type.is_search:
            reason = f"benchmark_type is {_show(self.benchmark_type)}"
        if reason is not None:
            raise InvalidQueryError(
                f"{options[0]} applies to search evals only, but {reason}; "
                "use task_type='search' or a search_* benchmark_type",
                parameter=options[0],
            )

    @property
    def params(self) -> dict[str, str]:
        """The query string parameters, in a fixed order, defaults left out (a fresh dict)."""
        params: dict[str, str] = {}
        for name in _PARAM_ORDER:
            value = getattr(self, name)
            if value is None or value is False:
                continue
            if value is True:
                params[name] = "true"
            else:
                params[name] = str(value)
        return params

    @functools.cached_property
    def key(self) -> str:
        """A canonical text form, stable across processes: the cache's name for this query.

        Computed once per query object: the cache, the quota and the logs all ask for it.
        """
        return urlencode(self.params) or "all"

    @property
    def is_default(self) -> bool:
        """True when no parameter is set: every source in one list."""
        return not self.params

    def evolve(self, **changes: Any) -> Query:
        """A copy with some parameters changed (and checked again)."""
        return attrs.evolve(self, **changes)

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={_plain(getattr(self, name))!r}" for name in self.params)
        return f"Query({inner})"

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> Query:
        """Parse query-string parameters (strings) back into a :class:`Query`."""
        if not isinstance(params, Mapping):
            raise InvalidQueryError(
                f"expected a mapping of parameter names to strings, got {type(params).__name__}"
            )
        values: dict[str, Any] = {}
        for name, raw in params.items():
            if not isinstance(name, str):
                raise InvalidQueryError(f"parameter names are strings, got a {type(name).__name__}")
            if not isinstance(raw, str):
                raise InvalidQueryError(
                    f"{_cut(name)} must be a string, not {type(raw).__name__}",
                    parameter=name,
                )
            values[name] = raw
        unknown = set(values) - set(_PARAM_ORDER)
        if unknown:
            raise _unknown_parameter(unknown)
        if "max_results" in values:
            raw = values["max_results"]
            if not _DIGITS.fullmatch(raw):
                raise InvalidQueryError(
                    f"max_results must be a whole number of at most 19 digits, got {_cut(raw)!r}",
                    parameter="max_results",
                )
            values["max_results"] = int(raw)
        if "include_run_config" in values:
            raw = str(params["include_run_config"]).lower()
            if raw not in ("true", "false"):
                raise InvalidQueryError(
                    f"include_run_config must be true or false, got {raw!r}",
                    parameter="include_run_config",
                )
            values["include_run_config"] = raw == "true"
        return cls(**values)

    @classmethod
    def grid(
        cls,
        *,
        source: object = None,
        task_type: object = None,
        arena: object = None,
        category: object = None,
        max_results: object = None,
        benchmark_type: object = None,
        include_run_config: object = False,
        search_engine: object = None,
        search_surface: object = None,
    ) -> list[Query]:
        """Every valid query in the cross product of the given values.

        Each parameter takes one value, a list (or other iterable) of values,
        or :data:`ALL` for every value this package knows. ``None`` in a list
        means "left out". Combinations that cannot be valid (a category with a
        source other than Design Arena, say) are skipped, a badly typed value
        raises :class:`InvalidQueryError`, and duplicates after
        canonicalisation appear once, in first-seen order.
        """
        axes: dict[str, list[object]] = {
            "source": _axis(source, Source),
            "task_type": _axis(task_type, TaskType),
            "arena": _axis(arena, Arena),
            "category": _axis(category, KNOWN_CATEGORIES),
            "max_results": _axis(max_results, None),
            "benchmark_type": _axis(benchmark_type, BenchmarkType),
            "include_run_config": _axis(include_run_config, (False, True)),
            "search_engine": _axis(search_engine, None),
            "search_surface": _axis(search_surface, SearchSurface),
        }
        for name, values in axes.items():
            converter = _FIELD_CONVERTERS[name]
            for value in values:
                converter(value)  # a wrong type is an error, not a skipped combination
        size = math.prod(len(values) for values in axes.values())
        if size > _MAX_GRID:
            raise InvalidQueryError(
                f"the grid has {size} combinations; at most {_MAX_GRID} are built"
            )
        seen: dict[Query, None] = {}
        names = list(axes)
        for combination in itertools.product(*axes.values()):
            try:
                query = cls(**dict(zip(names, combination, strict=True)))
            except InvalidQueryError:
                continue
            seen.setdefault(query, None)
        return list(seen)


_PARAM_ORDER: Final = (
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

_PARAMETERS: Final = frozenset(_PARAM_ORDER)

_FIELD_CONVERTERS: Final[dict[str, Callable[[Any], object]]] = {
    field.name: field.converter  # type: ignore[misc]
    for field in attrs.fields(Query)
}


def _axis(value: object, every: Iterable[object] | None) -> list[object]:
    if value is ALL:
        if every is None:
            raise InvalidQueryError("ALL is not available for this parameter")
        return list(every)
    # bytes are one (wrong) value, not a list of small integers.
    if isinstance(value, str | bytes | bytearray | bool | int | enum.Enum) or value is None:
        return [value]
    if isinstance(value, Iterable):
        values = list(itertools.islice(value, _MAX_GRID + 1))
        if len(values) > _MAX_GRID:
            raise InvalidQueryError(f"a grid axis may have at most {_MAX_GRID} values")
        if not values:
            raise InvalidQueryError("a grid axis must have at least one value")
        return values
    return [value]


def _unknown_parameter(names: Iterable[str]) -> InvalidQueryError:
    name = sorted(names)[0]
    close = difflib.get_close_matches(name[:_MAX_TEXT], _PARAM_ORDER, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return InvalidQueryError(
        f"unknown parameter {_cut(name)!r}{hint} (the parameters: {', '.join(_PARAM_ORDER)})",
        parameter=name,
    )


def _cut(text: str) -> str:
    # A caller's text in a message, short: a megabyte of it must not become the message.
    return text if len(text) <= 60 else text[:57] + "..."


def _show(value: object) -> str:
    return "not set" if value is None else repr(str(value))


def _plain(value: object) -> object:
    # Enum members print as their wire value, so a repr reads like the call that made it.
    return str(value) if isinstance(value, enum.Enum) else value
