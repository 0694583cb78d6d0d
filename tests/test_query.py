"""Query: validation before any I/O, canonical form, the wire parameters, and grids."""

from __future__ import annotations

import enum
import itertools
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openrouter_bench.errors import InvalidQueryError
from openrouter_bench.query import (
    ALL,
    KNOWN_CATEGORIES,
    Arena,
    BenchmarkType,
    Query,
    SearchSurface,
    Source,
    TaskType,
)

PARAMETER_NAMES = (
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

FULL_SEARCH_QUERY: dict[str, Any] = {
    "search_surface": "plugin",
    "search_engine": "exa",
    "include_run_config": True,
    "benchmark_type": "search_hle",
    "max_results": 3,
    "task_type": "search",
    "source": "openrouter",
}


def _refused(parameter: str | None, **kwargs: Any) -> InvalidQueryError:
    with pytest.raises(InvalidQueryError) as caught:
        Query(**kwargs)
    assert caught.value.parameter == parameter
    assert isinstance(caught.value, ValueError)
    assert caught.value.attempts == 0
    return caught.value


# --- enums -------------------------------------------------------------------


def test_enum_values_match_the_contract() -> None:
    """The enums hold exactly the wire values the contract lists."""
    assert [s.value for s in Source] == ["artificial-analysis", "design-arena", "openrouter"]
    assert [t.value for t in TaskType] == ["coding", "intelligence", "agentic", "search"]
    assert [a.value for a in Arena] == ["models", "builders", "agents"]
    assert [s.value for s in SearchSurface] == ["server-tool", "plugin"]
    assert {b.value for b in BenchmarkType} == {
        "gpqa_diamond",
        "tau_bench_verified_airline",
        "search_browsecomp",
        "search_hle",
        "search_dsqa",
        "search_widesearch",
    }
    assert set(KNOWN_CATEGORIES) >= {"codecategories", "uicomponent", "gamedev", "3d", "svg"}


@pytest.mark.parametrize("benchmark", list(BenchmarkType))
def test_benchmark_is_search_follows_prefix(benchmark: BenchmarkType) -> None:
    """``is_search`` is true exactly for the ``search_*`` evals."""
    assert benchmark.is_search is benchmark.value.startswith("search_")


def test_all_reads_as_all() -> None:
    """The grid's ALL sentinel has a short repr."""
    assert repr(ALL) == "ALL"


# --- canonical form ----------------------------------------------------------


def test_design_arena_gets_the_server_default_arena() -> None:
    """source='design-arena' without an arena is the server's default arena, made explicit."""
    query = Query(source="design-arena")
    assert query.arena is Arena.MODELS
    assert query == Query(source=Source.DESIGN_ARENA, arena=Arena.MODELS)
    assert query.params == {"source": "design-arena", "arena": "models"}


def test_design_arena_keeps_an_explicit_arena() -> None:
    """An arena given with Design Arena is kept as given."""
    assert Query(source="design-arena", arena="builders").arena is Arena.BUILDERS


@pytest.mark.parametrize(
    ("as_text", "as_members"),
    [
        ({"source": "artificial-analysis"}, {"source": Source.ARTIFICIAL_ANALYSIS}),
        (
            {"source": "design-arena", "arena": "agents", "category": "svg"},
            {"source": Source.DESIGN_ARENA, "arena": Arena.AGENTS, "category": "svg"},
        ),
        (
            {"source": "openrouter", "task_type": "search", "search_surface": "server-tool"},
            {
                "source": Source.OPENROUTER,
                "task_type": TaskType.SEARCH,
                "search_surface": SearchSurface.SERVER_TOOL,
            },
        ),
        ({"benchmark_type": "gpqa_diamond"}, {"benchmark_type": BenchmarkType.GPQA_DIAMOND}),
    ],
)
def test_text_and_enum_forms_are_equal_and_hash_equal(
    as_text: dict[str, Any], as_members: dict[str, Any]
) -> None:
    """A query built from strings equals and hashes like one built from enum members."""
    from_text, from_members = Query(**as_text), Query(**as_members)
    assert from_text == from_members
    assert hash(from_text) == hash(from_members)
    assert from_text.key == from_members.key
    assert len({from_text, from_members}) == 1


@pytest.mark.parametrize(
    ("name", "value", "member"),
    [
        ("source", "openrouter", Source.OPENROUTER),
        ("task_type", "agentic", TaskType.AGENTIC),
        ("benchmark_type", "search_dsqa", BenchmarkType.SEARCH_DSQA),
        ("search_surface", "plugin", SearchSurface.PLUGIN),
    ],
)
def test_known_strings_become_members(name: str, value: str, member: enum.Enum) -> None:
    """A known wire value is stored as its enum member."""
    assert getattr(Query(**{name: value}), name) is member


def test_known_arena_string_becomes_member() -> None:
    """A known arena string becomes an Arena member."""
    assert Query(source="design-arena", arena="builders").arena is Arena.BUILDERS


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"source": "future-source"}, "source"),
        ({"task_type": "reasoning"}, "task_type"),
        ({"source": "design-arena", "arena": "playground"}, "arena"),
        ({"benchmark_type": "search_newbench"}, "benchmark_type"),
        ({"task_type": "search", "search_surface": "sdk"}, "search_surface"),
    ],
)
def test_unknown_strings_are_kept_as_plain_strings(kwargs: dict[str, Any], name: str) -> None:
    """A value the package does not know yet is kept as a plain str, not refused (the API grows)."""
    value = getattr(Query(**kwargs), name)
    assert type(value) is str
    assert value == kwargs[name]


def test_unknown_source_may_take_arena_and_category() -> None:
    """An unknown source might be a Design Arena successor, so arena and category are allowed."""
    query = Query(source="design-arena-v2", arena="models", category="gamedev")
    assert query.params == {"source": "design-arena-v2", "arena": "models", "category": "gamedev"}


def test_unknown_source_gets_no_default_arena() -> None:
    """The default arena is filled in for Design Arena only."""
    assert Query(source="future-source").arena is None


def test_params_follow_a_fixed_order_whatever_the_call_order() -> None:
    """params and key list parameters in one fixed order, not the order they were passed."""
    forwards = Query(**FULL_SEARCH_QUERY)
    backwards = Query(**dict(reversed(list(FULL_SEARCH_QUERY.items()))))
    expected_order = [
        "source",
        "task_type",
        "max_results",
        "benchmark_type",
        "include_run_config",
        "search_engine",
        "search_surface",
    ]
    assert list(forwards.params) == expected_order
    assert list(backwards.params) == expected_order
    assert forwards.key == backwards.key


def test_key_is_the_exact_canonical_text() -> None:
    """key is the url-encoded params in canonical order: stable across processes."""
    assert Query(**FULL_SEARCH_QUERY).key == (
        "source=openrouter&task_type=search&max_results=3&benchmark_type=search_hle"
        "&include_run_config=true&search_engine=exa&search_surface=plugin"
    )


def test_key_escapes_reserved_characters() -> None:
    """Free-text values are escaped, so one key cannot be mistaken for another."""
    query = Query(source="design-arena", category="a b&c=d")
    assert query.key == "source=design-arena&arena=models&category=a+b%26c%3Dd"
    assert query.params["category"] == "a b&c=d"


def test_default_query_key_and_params() -> None:
    """The empty query has no params, reads as 'all', and is the default."""
    query = Query()
    assert query.params == {}
    assert query.key == "all"
    assert query.is_default


def test_non_default_query_is_not_default() -> None:
    """Any parameter set makes a query non-default."""
    assert not Query(max_results=1).is_default


def test_params_are_all_strings() -> None:
    """Every wire value is a str: enums as their value, ints in decimal, the flag as 'true'."""
    params = Query(**FULL_SEARCH_QUERY).params
    assert all(type(value) is str for value in params.values())
    assert params["max_results"] == "3"
    assert params["include_run_config"] == "true"
    assert params["source"] == "openrouter"


def test_include_run_config_false_is_left_out() -> None:
    """include_run_config appears only when true; false is the server's default."""
    assert "include_run_config" not in Query(task_type="search", include_run_config=False).params
    assert Query(task_type="search", include_run_config=True).params["include_run_config"] == (
        "true"
    )
    assert Query(task_type="search", include_run_config=False) == Query(task_type="search")


def test_none_parameters_are_left_out() -> None:
    """Passing None is the same as not passing the parameter."""
    assert Query(**dict.fromkeys(PARAMETER_NAMES[:6]), search_engine=None) == Query()


def test_params_returns_a_fresh_dict() -> None:
    """Changing the params dict a caller got changes neither the query nor its cache name."""
    query = Query(source="openrouter")
    assert query.key == "source=openrouter"
    query.params["source"] = "changed"
    assert query.params == {"source": "openrouter"}
    assert query.key == "source=openrouter"


def test_query_is_frozen() -> None:
    """A query cannot be changed after it was checked."""
    query = Query(source="openrouter")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        query.source = "design-arena"  # type: ignore[misc]


def test_repr_reads_like_the_call() -> None:
    """repr shows only the set parameters, enum members as their wire strings."""
    assert repr(Query()) == "Query()"
    assert repr(Query(source=Source.DESIGN_ARENA, max_results=5)) == (
        "Query(source='design-arena', arena='models', max_results=5)"
    )
    assert repr(Query(task_type="search", include_run_config=True)) == (
        "Query(task_type='search', include_run_config=True)"
    )


def test_repr_round_trips_through_eval() -> None:
    """The repr is a valid call that builds the same query."""
    query = Query(**FULL_SEARCH_QUERY)
    assert eval(repr(query), {"Query": Query}) == query  # noqa: S307 - our own repr, test only


# --- refused queries ---------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("source", 5, "must be a string, not int"),
        ("source", True, "must be a string, not bool"),
        ("source", 1.5, "must be a string, not float"),
        ("source", ["openrouter"], "must be a string, not list"),
        ("source", b"openrouter", "must be a string, not bytes"),
        ("task_type", 0, "must be a string"),
        ("benchmark_type", 3.0, "must be a string"),
        ("search_engine", 7, "must be a string"),
        ("search_surface", False, "must be a string"),
        ("category", ("gamedev",), "must be a string"),
    ],
)
def test_wrong_types_are_refused(name: str, value: object, words: str) -> None:
    """A value of the wrong type names its parameter and its type."""
    kwargs: dict[str, Any] = {name: value}
    if name == "category":
        kwargs["source"] = "design-arena"
    error = _refused(name, **kwargs)
    assert words in str(error)


def test_wrong_arena_type_is_refused() -> None:
    """An arena that is not a string is refused even with Design Arena."""
    _refused("arena", source="design-arena", arena=1)


@pytest.mark.parametrize("name", ["source", "task_type", "benchmark_type", "search_engine"])
@pytest.mark.parametrize("value", ["", " ", "\t\n"])
def test_empty_strings_are_refused(name: str, value: str) -> None:
    """An empty or blank string is refused rather than sent."""
    error = _refused(name, **{name: value})
    assert "must not be empty" in str(error)


@pytest.mark.parametrize("value", [" openrouter", "openrouter ", "openrouter\n", "\topenrouter"])
def test_padded_strings_are_refused(value: str) -> None:
    """Leading or trailing white space is refused, not silently stripped."""
    error = _refused("source", source=value)
    assert "white space" in str(error)
    assert repr(value) in str(error)


def test_padded_category_is_refused() -> None:
    """Free-text parameters are checked for padding too."""
    _refused("category", source="design-arena", category="gamedev ")


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (True, "must be an integer, not bool"),
        (False, "must be an integer, not bool"),
        (2.0, "must be an integer, not float"),
        ("5", "must be an integer, not str"),
        (0, "must be at least 1, got 0"),
        (-3, "must be at least 1, got -3"),
    ],
)
def test_bad_max_results_are_refused(value: object, words: str) -> None:
    """max_results must be a real int >= 1 (bool is not an int here)."""
    error = _refused("max_results", max_results=value)
    assert words in str(error)


def test_max_results_of_one_is_accepted() -> None:
    """1 is the smallest max_results."""
    assert Query(max_results=1).params == {"max_results": "1"}


@pytest.mark.parametrize("value", ["true", 1, 0, None, "false"])
def test_include_run_config_must_be_a_bool(value: object) -> None:
    """include_run_config takes True or False only."""
    _refused("include_run_config", task_type="search", include_run_config=value)


@pytest.mark.parametrize("source", [None, "artificial-analysis", "openrouter"])
def test_arena_needs_design_arena(source: str | None) -> None:
    """arena with no source or another known source is refused, naming arena."""
    error = _refused("arena", source=source, arena="models")
    assert "Design Arena only" in str(error)


@pytest.mark.parametrize("source", [None, "artificial-analysis", "openrouter"])
def test_category_needs_design_arena(source: str | None) -> None:
    """category with no source or another known source is refused, naming category."""
    _refused("category", source=source, category="gamedev")


@pytest.mark.parametrize("source", ["artificial-analysis", "design-arena"])
def test_search_task_needs_a_source_with_search_evals(source: str) -> None:
    """task_type='search' with Artificial Analysis or Design Arena is refused."""
    _refused("task_type", source=source, task_type="search")


@pytest.mark.parametrize("source", ["artificial-analysis", "design-arena"])
@pytest.mark.parametrize("benchmark", ["gpqa_diamond", "search_hle", "some_future_eval"])
def test_benchmark_type_needs_openrouter(source: str, benchmark: str) -> None:
    """Any benchmark_type, known or not, is refused with a classic source."""
    _refused("benchmark_type", source=source, benchmark_type=benchmark)


@pytest.mark.parametrize("task", ["coding", "intelligence", "agentic"])
def test_search_benchmark_with_non_search_task_is_refused(task: str) -> None:
    """A search_* benchmark contradicts a non-search task type."""
    _refused("benchmark_type", task_type=task, benchmark_type="search_browsecomp")


def test_classic_benchmark_with_search_task_is_refused() -> None:
    """A classic benchmark contradicts task_type='search'."""
    _refused("benchmark_type", task_type="search", benchmark_type="gpqa_diamond")


@pytest.mark.parametrize(
    ("option", "value"),
    [("include_run_config", True), ("search_engine", "exa"), ("search_surface", "plugin")],
)
@pytest.mark.parametrize(
    "context",
    [
        {"source": "artificial-analysis"},
        {"source": "design-arena"},
        {"task_type": "coding"},
        {"source": "openrouter", "task_type": "intelligence"},
        {"benchmark_type": "gpqa_diamond"},
        {"source": "openrouter", "benchmark_type": "tau_bench_verified_airline"},
    ],
)
def test_search_options_without_search_items_are_refused(
    option: str, value: object, context: dict[str, Any]
) -> None:
    """Search-only options on a query that can return no search item are refused."""
    error = _refused(option, **context, **{option: value})
    assert "search evals only" in str(error)


def test_first_search_option_is_named() -> None:
    """With several misplaced search options the error names the first in wire order."""
    _refused(
        "include_run_config",
        source="artificial-analysis",
        search_surface="plugin",
        include_run_config=True,
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"include_run_config": True},
        {"source": "openrouter", "search_engine": "exa"},
        {"task_type": "search", "search_surface": "server-tool"},
        {"benchmark_type": "search_widesearch", "include_run_config": True},
        {"benchmark_type": "search_future", "task_type": "coding"},
        {"task_type": "future-task", "search_engine": "exa"},
        {"source": "future-source", "include_run_config": True},
        {"source": "openrouter", "task_type": "coding", "benchmark_type": "gpqa_diamond"},
        {"task_type": "search", "benchmark_type": "search_hle"},
    ],
)
def test_queries_that_may_return_search_items_are_accepted(kwargs: dict[str, Any]) -> None:
    """Search options and benchmarks are accepted wherever search items may come back."""
    assert Query(**kwargs).params


def test_a_misspelt_parameter_is_named_with_a_suggestion() -> None:
    """An unknown keyword is an InvalidQueryError naming it, the closest name and every name."""
    with pytest.raises(InvalidQueryError) as caught:
        Query(sauce="openrouter")  # type: ignore[call-arg]
    assert caught.value.parameter == "sauce"
    assert "did you mean 'source'?" in str(caught.value)
    assert all(name in str(caught.value) for name in PARAMETER_NAMES)


def test_an_unknown_parameter_far_from_any_name_gets_no_suggestion() -> None:
    """Without a close match the message lists the parameters and guesses nothing."""
    with pytest.raises(InvalidQueryError, match="unknown parameter 'zzz'") as caught:
        Query(zzz=1)  # type: ignore[call-arg]
    assert "did you mean" not in str(caught.value)


def test_evolve_with_an_unknown_parameter_is_refused() -> None:
    """evolve names a misspelt parameter like the constructor does."""
    with pytest.raises(InvalidQueryError, match="did you mean 'category'"):
        Query(source="design-arena").evolve(categroy="svg")


def test_a_huge_unknown_name_is_cut_in_the_message() -> None:
    """A megabyte of parameter name does not become a megabyte of message."""
    with pytest.raises(InvalidQueryError) as caught:
        Query(**{"x" * 1_000_000: 1})
    assert len(str(caught.value)) < 400


# --- evolve ------------------------------------------------------------------


def test_evolve_changes_and_recanonicalises() -> None:
    """evolve returns a checked, canonical copy and leaves the original alone."""
    original = Query(max_results=5)
    changed = original.evolve(source="design-arena", category="svg")
    assert changed == Query(source="design-arena", arena="models", category="svg", max_results=5)
    assert original == Query(max_results=5)


def test_evolve_checks_again() -> None:
    """evolve to an invalid combination raises InvalidQueryError."""
    with pytest.raises(InvalidQueryError) as caught:
        Query(source="openrouter").evolve(category="gamedev")
    assert caught.value.parameter == "category"


def test_evolve_away_from_design_arena_must_drop_the_arena() -> None:
    """The explicit default arena travels with the query, so leaving Design Arena clears it."""
    arena_query = Query(source="design-arena")
    with pytest.raises(InvalidQueryError):
        arena_query.evolve(source="openrouter")
    assert arena_query.evolve(source="openrouter", arena=None) == Query(source="openrouter")


def test_evolve_converts_strings() -> None:
    """evolve runs the same converters as the constructor."""
    assert Query().evolve(task_type="coding").task_type is TaskType.CODING


# --- from_params -------------------------------------------------------------


ROUND_TRIP_GRID = Query.grid(
    source=[None, *Source, "future-source"],
    task_type=[None, *TaskType],
    arena=[None, "builders"],
    category=[None, "gamedev"],
    max_results=[None, 1, 25],
    benchmark_type=[None, "gpqa_diamond", "search_hle"],
    include_run_config=[False, True],
    search_engine=[None, "exa"],
    search_surface=[None, "plugin"],
)


def test_round_trip_grid_is_broad() -> None:
    """The round-trip grid covers every source and many combinations."""
    assert len(ROUND_TRIP_GRID) > 300
    assert {query.source for query in ROUND_TRIP_GRID} == {None, *Source, "future-source"}


def test_from_params_round_trip() -> None:
    """Parsing a query's own params gives the same query back, for every query of a broad grid."""
    mismatched = [
        query.key
        for query in ROUND_TRIP_GRID
        if (parsed := Query.from_params(query.params)) != query or parsed.key != query.key
    ]
    assert mismatched == []


def test_from_params_parses_types() -> None:
    """from_params turns the integer and flag strings back into int and bool."""
    query = Query.from_params(
        {"task_type": "search", "max_results": "10", "include_run_config": "TRUE"}
    )
    assert query.max_results == 10
    assert query.include_run_config is True
    assert query.task_type is TaskType.SEARCH


def test_from_params_false_flag_is_default() -> None:
    """An explicit include_run_config=false parses to the default."""
    assert Query.from_params({"include_run_config": "false"}) == Query()


def test_from_params_empty_is_default() -> None:
    """No parameters is the default query."""
    assert Query.from_params({}) == Query()


def test_from_params_fills_in_the_default_arena() -> None:
    """A parsed Design Arena query is canonicalised like a built one."""
    assert Query.from_params({"source": "design-arena"}).arena is Arena.MODELS


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"sauce": "openrouter"}, "sauce"),
        ({"source": "openrouter", "zeta": "1", "alpha": "2"}, "alpha"),
        ({"max_results": "ten"}, "max_results"),
        ({"max_results": "2.5"}, "max_results"),
        ({"max_results": ""}, "max_results"),
        ({"max_results": "0"}, "max_results"),
        ({"include_run_config": "yes"}, "include_run_config"),
        ({"include_run_config": "1"}, "include_run_config"),
        ({"source": ""}, "source"),
        ({"category": "gamedev"}, "category"),
        ({"source": "design-arena", "task_type": "search"}, "task_type"),
    ],
)
def test_from_params_errors(params: dict[str, str], parameter: str) -> None:
    """Bad or unknown query-string parameters raise InvalidQueryError naming the parameter."""
    with pytest.raises(InvalidQueryError) as caught:
        Query.from_params(params)
    assert caught.value.parameter == parameter


def test_from_params_error_does_not_chain_the_int_parse_failure() -> None:
    """A bad max_results reads as our error, without the int() traceback attached."""
    with pytest.raises(InvalidQueryError) as caught:
        Query.from_params({"max_results": "ten"})
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None or caught.value.__suppress_context__


# --- grid --------------------------------------------------------------------


def test_grid_is_the_cross_product_in_order() -> None:
    """grid yields every combination, in the order of the given values."""
    grid = Query.grid(
        source="design-arena", arena=["models", "builders"], category=["gamedev", "svg", "3d"]
    )
    assert [(q.arena, q.category) for q in grid] == [
        (Arena.MODELS, "gamedev"),
        (Arena.MODELS, "svg"),
        (Arena.MODELS, "3d"),
        (Arena.BUILDERS, "gamedev"),
        (Arena.BUILDERS, "svg"),
        (Arena.BUILDERS, "3d"),
    ]
    assert all(q.source is Source.DESIGN_ARENA for q in grid)


def test_grid_with_no_arguments_is_the_default_query() -> None:
    """An empty grid call is the one default query."""
    assert Query.grid() == [Query()]


def test_grid_skips_invalid_combinations() -> None:
    """Combinations that cannot be valid are skipped, not raised."""
    grid = Query.grid(source=[None, *Source], category=["gamedev", None])
    assert grid == [
        Query(),
        Query(source="artificial-analysis"),
        Query(source="design-arena", category="gamedev"),
        Query(source="design-arena"),
        Query(source="openrouter"),
    ]


def test_grid_with_no_valid_combination_is_empty() -> None:
    """A grid whose every combination is invalid is empty."""
    assert Query.grid(source="openrouter", category=["gamedev", "svg"]) == []


def test_grid_all_uses_every_known_value() -> None:
    """ALL expands to every member this package knows (and not to None)."""
    grid = Query.grid(source="design-arena", arena=ALL, category=ALL)
    assert len(grid) == len(Arena) * len(KNOWN_CATEGORIES)
    assert {q.category for q in grid} == set(KNOWN_CATEGORIES)
    assert {q.arena for q in grid} == set(Arena)


def test_grid_all_for_sources() -> None:
    """source=ALL gives one query per known source."""
    assert [q.source for q in Query.grid(source=ALL)] == list(Source)


def test_grid_all_for_the_flag_keeps_only_valid_pairs() -> None:
    """include_run_config=ALL tries both values and keeps the valid ones."""
    grid = Query.grid(source="openrouter", task_type=ALL, include_run_config=ALL)
    assert [(q.task_type, q.include_run_config) for q in grid] == [
        (TaskType.CODING, False),
        (TaskType.INTELLIGENCE, False),
        (TaskType.AGENTIC, False),
        (TaskType.SEARCH, False),
        (TaskType.SEARCH, True),
    ]


@pytest.mark.parametrize("name", ["max_results", "search_engine"])
def test_grid_all_without_known_values_is_refused(name: str) -> None:
    """ALL makes no sense for a free parameter and is refused."""
    with pytest.raises(InvalidQueryError, match="ALL"):
        Query.grid(**{name: ALL})


def test_grid_none_in_a_list_means_left_out() -> None:
    """None among the values is the query without that parameter."""
    grid = Query.grid(max_results=[None, 10])
    assert grid == [Query(), Query(max_results=10)]


def test_grid_dedups_after_canonicalisation_keeping_first_order() -> None:
    """Values that canonicalise to the same query appear once, where first seen."""
    grid = Query.grid(
        source=["design-arena", Source.DESIGN_ARENA],
        arena=["builders", None, "models", Arena.MODELS, Arena.BUILDERS],
    )
    assert grid == [
        Query(source="design-arena", arena="builders"),
        Query(source="design-arena", arena="models"),
    ]


def test_grid_accepts_any_iterable() -> None:
    """Tuples and generators work as axes; a string is one value, not its letters."""
    grid = Query.grid(source="openrouter", task_type=(t for t in ("coding", "search")))
    assert [q.task_type for q in grid] == [TaskType.CODING, TaskType.SEARCH]


def test_grid_keeps_unknown_values() -> None:
    """Unknown strings in a grid are kept like in a single query."""
    grid = Query.grid(source=["future-source", "openrouter"])
    assert [q.source for q in grid] == ["future-source", Source.OPENROUTER]


@pytest.mark.parametrize(
    ("kwargs", "parameter"),
    [
        ({"max_results": [5, "x"]}, "max_results"),
        ({"max_results": [0]}, "max_results"),
        ({"max_results": 2.5}, "max_results"),
        ({"source": [1]}, "source"),
        ({"source": 3.5}, "source"),
        ({"category": [""]}, "category"),
        ({"include_run_config": ["true"]}, "include_run_config"),
        ({"search_surface": [" plugin"]}, "search_surface"),
    ],
)
def test_grid_refuses_bad_values(kwargs: dict[str, Any], parameter: str) -> None:
    """A badly typed value anywhere in a grid raises instead of being skipped."""
    with pytest.raises(InvalidQueryError) as caught:
        Query.grid(**kwargs)
    assert caught.value.parameter == parameter


def test_grid_refuses_bad_value_even_when_no_combination_uses_it_validly() -> None:
    """A wrong type raises even if its combinations would all be skipped as invalid."""
    with pytest.raises(InvalidQueryError):
        Query.grid(source="openrouter", category=[5])


def test_grid_refuses_an_empty_axis() -> None:
    """An empty list of values is refused; it would silently make an empty grid."""
    with pytest.raises(InvalidQueryError, match="at least one value"):
        Query.grid(source=[])


# --- properties --------------------------------------------------------------

_ENUM_MEMBERS: list[enum.Enum] = [
    *Source,
    *TaskType,
    *Arena,
    *BenchmarkType,
    *SearchSurface,
]

_KNOWN_STRINGS = [member.value for member in _ENUM_MEMBERS] + list(KNOWN_CATEGORIES)

_ANY_VALUE = st.one_of(
    st.none(),
    st.sampled_from(_KNOWN_STRINGS),
    st.sampled_from(_ENUM_MEMBERS),
    st.text(max_size=12),
    st.integers(min_value=-(10**6), max_value=10**12),
    st.booleans(),
    st.floats(allow_nan=True),
    st.lists(st.text(max_size=4), max_size=2),
)


@settings(max_examples=300, deadline=None)
@given(st.fixed_dictionaries({}, optional=dict.fromkeys(PARAMETER_NAMES, _ANY_VALUE)))
def test_any_input_gives_a_query_or_invalid_query_error(kwargs: dict[str, Any]) -> None:
    """Arbitrary values never raise anything but InvalidQueryError; any Query round-trips."""
    query = _query_or_error(kwargs)
    if isinstance(query, InvalidQueryError):
        assert query.parameter in (*PARAMETER_NAMES, None)
        return
    assert Query.from_params(query.params) == query
    assert hash(Query.from_params(query.params)) == hash(query)
    assert Query(**query.params | _typed_flags(query)) == query


def _query_or_error(kwargs: dict[str, Any]) -> Query | InvalidQueryError:
    try:
        return Query(**kwargs)
    except InvalidQueryError as error:
        return error


def _typed_flags(query: Query) -> dict[str, Any]:
    # params are strings; the constructor wants the int and bool back.
    typed: dict[str, Any] = {}
    if query.max_results is not None:
        typed["max_results"] = query.max_results
    if query.include_run_config:
        typed["include_run_config"] = True
    return typed


@settings(max_examples=200, deadline=None)
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "source": st.sampled_from(["openrouter", "future-source", None]),
            "task_type": st.sampled_from([*TaskType, None]),
            "max_results": st.integers(min_value=1, max_value=10**9),
            "search_engine": st.text(min_size=1).filter(lambda text: text == text.strip()),
            "include_run_config": st.booleans(),
        },
    )
)
def test_valid_search_queries_round_trip_with_any_text(kwargs: dict[str, Any]) -> None:
    """Free text of any characters survives params -> from_params unchanged."""
    try:
        query = Query(**kwargs)
    except InvalidQueryError:
        return
    assert Query.from_params(query.params) == query


# --- absurd sizes and characters ---------------------------------------------


@pytest.mark.parametrize("zeros", [19, 5000])
def test_max_results_past_a_64_bit_integer_is_refused(zeros: int) -> None:
    """A max_results no server can hold is refused, without printing its digits."""
    with pytest.raises(InvalidQueryError, match="at most") as caught:
        Query(max_results=10**zeros)
    assert caught.value.parameter == "max_results"
    assert len(str(caught.value)) < 200


def test_max_results_of_a_64_bit_maximum_is_kept() -> None:
    """sys.maxsize (a common "no limit") is still a valid max_results."""
    assert Query(max_results=2**63 - 1).params == {"max_results": str(2**63 - 1)}


def test_a_hugely_negative_max_results_is_refused_briefly() -> None:
    """A negative of thousands of digits is refused with a short message."""
    with pytest.raises(InvalidQueryError) as caught:
        Query(max_results=-(10**5000))
    assert len(str(caught.value)) < 200


def test_text_longer_than_the_limit_is_refused() -> None:
    """A parameter text past _MAX_TEXT characters is refused, naming the parameter."""
    with pytest.raises(InvalidQueryError, match="at most 200") as caught:
        Query(source="design-arena", category="x" * 201)
    assert caught.value.parameter == "category"
    assert Query(source="design-arena", category="x" * 200).category == "x" * 200


@pytest.mark.parametrize("value", ["game\ndev", "a\x00b", "a\x85b", "a\u2028b", "a\ud800b"])
def test_control_characters_and_lone_surrogates_are_refused(value: str) -> None:
    """Characters no API name has, and that could not even be encoded, are refused at once."""
    with pytest.raises(InvalidQueryError, match="control characters or lone surrogates"):
        Query(source="design-arena", category=value)


def test_another_enums_member_becomes_plain_text() -> None:
    """A member of the wrong enum is kept as the plain text it holds, not as that member."""
    query = Query(source=TaskType.CODING)
    assert type(query.source) is str
    assert query.source == "coding"


def test_max_results_of_an_int_subclass_becomes_an_int() -> None:
    """An int subclass (an IntEnum member, say) is kept as a plain int."""

    class Size(enum.IntEnum):
        SMALL = 5

    query = Query(max_results=Size.SMALL)
    assert type(query.max_results) is int
    assert query.params == {"max_results": "5"}


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"max_results": "1" * 5000}, "at most 19 digits"),
        ({"max_results": "1_000"}, "whole number"),
        ({"max_results": " 5"}, "whole number"),
        ({"max_results": 5}, "must be a string"),
        ({"source": None}, "must be a string"),
        ({1: "x"}, "parameter names are strings"),
        ({"sorce": "openrouter"}, "did you mean 'source'"),
    ],
)
def test_from_params_refuses_what_a_query_string_cannot_hold(
    params: dict[Any, Any], words: str
) -> None:
    """from_params takes strings only, digits only for max_results, and names what is wrong."""
    with pytest.raises(InvalidQueryError, match=words) as caught:
        Query.from_params(params)
    assert len(str(caught.value)) < 300


def test_from_params_refuses_something_not_a_mapping() -> None:
    """A list of pairs is not a mapping of parameters."""
    with pytest.raises(InvalidQueryError, match="expected a mapping"):
        Query.from_params([("source", "openrouter")])  # type: ignore[arg-type]


def test_a_grid_too_large_to_build_is_refused_before_building() -> None:
    """A grid of more than _MAX_GRID combinations is refused at once, not built."""
    names = [f"c{number}" for number in range(400)]
    with pytest.raises(InvalidQueryError, match="combinations"):
        Query.grid(source="design-arena", category=names, search_engine=names)


def test_a_grid_axis_too_long_is_refused() -> None:
    """An endless iterable as an axis is refused, not read forever."""
    with pytest.raises(InvalidQueryError, match="at most 100000 values"):
        Query.grid(max_results=itertools.count(1))


def test_bytes_in_a_grid_are_one_wrong_value_not_integers() -> None:
    """b"\\x05" is a badly typed max_results, not the list [5]."""
    with pytest.raises(InvalidQueryError, match="max_results must be an integer"):
        Query.grid(max_results=b"\x05")
