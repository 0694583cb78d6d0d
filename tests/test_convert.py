"""The JSON <-> records converter: shapes, validation with JSON paths, and exact round trips."""

from __future__ import annotations

import copy
import enum
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import attrs
import cattrs
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openrouter_bench._convert import (
    _converter,
    decode_page,
    encode_page,
    structure_item,
    structure_meta,
    structure_page,
    unstructure_item,
    unstructure_meta,
    unstructure_page,
)
from openrouter_bench.errors import InvalidQueryError, ResponseFormatError
from openrouter_bench.models import (
    ArtificialAnalysisItem,
    DesignArenaItem,
    Item,
    Meta,
    OpenRouterEvalItem,
    Page,
    Pricing,
    RunConfig,
    SearchEvalItem,
    TournamentStats,
    UnknownItem,
)
from openrouter_bench.query import Query, Source

QUERY = Query()
FETCHED_AT = datetime(2026, 6, 3, 12, 5, tzinfo=UTC)


def aa_item() -> dict[str, Any]:
    return {
        "source": "artificial-analysis",
        "model_permaslug": "openai/gpt-4o",
        "display_name": "GPT-4o",
        "intelligence_index": 61.2,
        "coding_index": None,
        "agentic_index": 48,
        "pricing": {"prompt": "0.0000025", "completion": "0.00001"},
    }


def da_item() -> dict[str, Any]:
    return {
        "source": "design-arena",
        "model_permaslug": "anthropic/claude-sonnet-4",
        "display_name": "Claude Sonnet 4",
        "arena": "models",
        "category": "gamedev",
        "elo": 1312,
        "win_rate": 71.5,
        "avg_generation_time_ms": None,
        "tournament_stats": {
            "first_place": 120,
            "second_place": 80,
            "third_place": None,
            "fourth_place": 10,
            "total": 260,
        },
        "pricing": None,
    }


def eval_item() -> dict[str, Any]:
    return {
        "source": "openrouter",
        "model_permaslug": "google/gemini-2.5-pro",
        "display_name": "Gemini 2.5 Pro",
        "benchmark_type": "gpqa_diamond",
        "accuracy": 0.84,
        "accuracy_stddev": 0.012,
        "avg_cost_per_task": None,
        "total_tasks": 198,
        "last_run_timestamp": "2026-05-30T08:15:00Z",
    }


def search_item(*, run_config: bool = True) -> dict[str, Any]:
    item: dict[str, Any] = {
        "source": "openrouter",
        "model_permaslug": "openai/gpt-5",
        "display_name": "GPT-5",
        "benchmark_type": "search_browsecomp",
        "primary_metric": "accuracy",
        "primary_score": 0.51,
        "avg_cost_per_task": 0.031,
        "avg_latency_per_task_ms": 41250,
        "search_engine": "exa",
        "search_surface": "server-tool",
        "total_tasks": 300,
        "last_run_timestamp": "2026-05-31T23:59:59.250000+05:30",
    }
    if run_config:
        item["run_config"] = {"max_agent_turns": 20, "reasoning_effort": "high", "temperature": 1}
    return item


def meta_object() -> dict[str, Any]:
    return {
        "as_of": "2026-06-03T12:00:00Z",
        "version": "v1",
        "source": None,
        "source_url": None,
        "citation": None,
        "model_count": 4,
        "task_type": None,
    }


def document() -> dict[str, Any]:
    return {"data": [aa_item(), da_item(), eval_item(), search_item()], "meta": meta_object()}


def as_json(value: object) -> bytes:
    """Canonical JSON bytes: tells 1 from 1.0 and True from 1, which == does not."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def read(doc: object) -> Page:
    return structure_page(doc, query=QUERY, fetched_at=FETCHED_AT)


# --- one test per shape -----------------------------------------------------------------------


def test_artificial_analysis_item_structures_with_exact_prices() -> None:
    """An Artificial Analysis item becomes its record, prices as exact Decimals."""
    item = structure_item(aa_item())
    assert isinstance(item, ArtificialAnalysisItem)
    assert item.intelligence_index == 61.2
    assert item.coding_index is None
    assert item.agentic_index == 48
    assert type(item.agentic_index) is int
    assert item.pricing == Pricing(prompt=Decimal("0.0000025"), completion=Decimal("0.00001"))
    assert item.extra == {}


def test_design_arena_item_structures_with_tournament_stats() -> None:
    """A Design Arena item carries its TournamentStats record, nulls kept, ints kept."""
    item = structure_item(da_item())
    assert isinstance(item, DesignArenaItem)
    assert item.tournament_stats == TournamentStats(
        first_place=120, second_place=80, third_place=None, fourth_place=10, total=260
    )
    assert type(item.elo) is int
    assert item.pricing is None
    assert not item.on_openrouter


def test_openrouter_classic_eval_structures_with_aware_timestamp() -> None:
    """A classic OpenRouter eval becomes OpenRouterEvalItem with an aware UTC datetime."""
    item = structure_item(eval_item())
    assert isinstance(item, OpenRouterEvalItem)
    assert item.last_run_timestamp == datetime(2026, 5, 30, 8, 15, tzinfo=UTC)
    assert item.last_run_timestamp.utcoffset() == timedelta(0)
    assert item.total_tasks == 198


def test_openrouter_search_eval_structures_with_run_config() -> None:
    """A search_* eval becomes SearchEvalItem with its RunConfig and its own UTC offset."""
    item = structure_item(search_item())
    assert isinstance(item, SearchEvalItem)
    assert item.run_config == RunConfig(max_agent_turns=20, reasoning_effort="high", temperature=1)
    assert item.last_run_timestamp.utcoffset() == timedelta(hours=5, minutes=30)
    assert item.last_run_timestamp.microsecond == 250000


def test_search_eval_without_run_config_writes_no_run_config_key() -> None:
    """Without run_config in the input, the record has None and the output has no key."""
    item = structure_item(search_item(run_config=False))
    assert isinstance(item, SearchEvalItem)
    assert item.run_config is None
    assert "run_config" not in unstructure_item(item)


def test_null_run_config_is_written_back_as_null() -> None:
    """A run_config sent as null reads as None and writes back as an explicit null."""
    raw = search_item(run_config=False)
    raw["run_config"] = None
    item = structure_item(raw)
    assert isinstance(item, SearchEvalItem)
    assert item.run_config is None
    assert unstructure_item(item) == raw
    assert "run_config" in unstructure_item(item)


def test_unknown_source_is_kept_whole_and_read_only() -> None:
    """An item of an unknown source becomes an UnknownItem whose raw mapping cannot change."""
    raw: dict[str, Any] = {"source": "lmarena", "model_permaslug": "x/y", "score": [1, {"a": 2}]}
    item = structure_item(raw)
    assert isinstance(item, UnknownItem)
    assert item.source == "lmarena"
    assert item.model_permaslug == "x/y"
    assert isinstance(item.raw, MappingProxyType)
    assert item.raw["score"] == (1, {"a": 2})
    raw["score"].append(3)  # the caller's document is not shared with the record
    assert item.raw["score"] == (1, {"a": 2})
    assert unstructure_item(item) == {
        "source": "lmarena",
        "model_permaslug": "x/y",
        "score": [1, {"a": 2}],
    }


def test_extra_keys_are_kept_read_only_and_written_back() -> None:
    """Keys a shape does not declare land in a read-only extra and come back on output."""
    raw = da_item()
    raw["new_metric"] = {"values": [1, 2.5, None]}
    raw["tournament_stats"]["draws"] = 3
    raw["pricing"] = {"prompt": "0.000001", "completion": "0.000002", "image": "0.01"}
    item = structure_item(raw)
    assert isinstance(item, DesignArenaItem)
    assert item.extra == {"new_metric": {"values": (1, 2.5, None)}}
    assert isinstance(item.extra, MappingProxyType)
    assert isinstance(item.extra["new_metric"], MappingProxyType)
    assert item.tournament_stats.extra == {"draws": 3}
    assert item.pricing is not None
    assert item.pricing.extra == {"image": "0.01"}
    assert as_json(unstructure_item(item)) == as_json(raw)


def test_records_without_extras_share_one_empty_mapping() -> None:
    """Records with no extra keys all point at the same empty mapping (no per-item dict)."""
    first, second = structure_item(aa_item()), structure_item(eval_item())
    assert isinstance(first, ArtificialAnalysisItem)
    assert isinstance(second, OpenRouterEvalItem)
    assert first.extra is second.extra
    assert first.extra is Pricing(prompt=None, completion=None).extra


def test_meta_structures_with_aware_as_of_and_keeps_extras() -> None:
    """meta becomes Meta: as_of an aware datetime, model_count an int, extras kept."""
    raw = meta_object() | {"source": "design-arena", "generated_by": "pipeline-7"}
    meta = structure_meta(raw)
    assert meta.as_of == datetime(2026, 6, 3, 12, tzinfo=UTC)
    assert meta.source == "design-arena"
    assert meta.model_count == 4
    assert meta.extra == {"generated_by": "pipeline-7"}
    assert unstructure_meta(meta) == raw


@pytest.mark.parametrize(
    "text",
    [
        "2026-06-03T12:00:00.000Z",  # the Data API guide's form
        "2026-06-03T12:00:00.120Z",
        "2026-06-03T12:00:00+00:00",
        "2026-06-03T14:00:00.000+02:00",
    ],
)
def test_meta_as_of_in_another_form_round_trips_as_sent(text: str) -> None:
    """An as_of in another ISO form reads as an aware datetime and writes back as sent."""
    meta = structure_meta(meta_object() | {"as_of": text})
    assert meta.as_of == datetime.fromisoformat(text)
    assert meta.as_of.utcoffset() is not None
    assert meta.raw_as_of == text
    assert unstructure_meta(meta)["as_of"] == text
    assert structure_meta(unstructure_meta(meta)).raw_as_of == text
    page = read(document() | {"meta": meta_object() | {"as_of": text}})
    assert orjson.loads(encode_page(page))["meta"]["as_of"] == text


def test_meta_as_of_in_the_standard_form_keeps_no_text() -> None:
    """The reference's form keeps nothing extra, and equals the same moment in the guide's form."""
    plain = structure_meta(meta_object() | {"as_of": "2026-06-03T12:00:00Z"})
    millis = structure_meta(meta_object() | {"as_of": "2026-06-03T12:00:00.000Z"})
    assert plain.raw_as_of is None
    assert plain == millis
    assert hash(plain) == hash(millis)
    assert "000Z" not in repr(millis)


def test_a_kept_as_of_text_is_dropped_once_as_of_changes() -> None:
    """A meta evolved to another as_of writes that as_of, not the old text."""
    meta = structure_meta(meta_object() | {"as_of": "2026-06-03T12:00:00.000Z"})
    moved = attrs.evolve(meta, as_of=meta.as_of + timedelta(days=1))
    assert unstructure_meta(moved)["as_of"] == "2026-06-04T12:00:00Z"
    forged = attrs.evolve(meta, raw_as_of="not a timestamp")
    assert unstructure_meta(forged)["as_of"] == "2026-06-03T12:00:00Z"


def test_an_absurdly_long_as_of_fraction_is_not_kept() -> None:
    """A fraction of a thousand digits reads as a moment, but only its standard form is kept."""
    meta = structure_meta(meta_object() | {"as_of": "2026-06-03T12:00:00." + "0" * 1000 + "Z"})
    assert meta.raw_as_of is None
    assert unstructure_meta(meta)["as_of"] == "2026-06-03T12:00:00Z"


def test_page_structures_items_in_order_with_query_and_time() -> None:
    """A whole document becomes a Page of typed items, in order, with query and fetch time."""
    page = read(document())
    assert [type(item) for item in page.items] == [
        ArtificialAnalysisItem,
        DesignArenaItem,
        OpenRouterEvalItem,
        SearchEvalItem,
    ]
    assert page.query == QUERY
    assert page.fetched_at == FETCHED_AT
    assert page.meta.version == "v1"
    assert not page.from_cache
    assert not page.stale


def records_in(record: Any) -> list[Any]:
    """``record`` and every record it holds, depth first."""
    found = [record]
    for field in attrs.fields(type(record)):
        value = getattr(record, field.name)
        if attrs.has(type(value)):
            found += records_in(value)
    return found


def test_records_read_are_exactly_what_attrs_builds() -> None:
    """Every record read (items, their nested records, meta) is of its own class, frozen,
    and equal to, hashing as, the record attrs builds from the same values."""
    page = read(document())
    records = [record for item in (*page.items, page.meta) for record in records_in(item)]
    assert {type(record) for record in records} >= {Pricing, TournamentStats, RunConfig, Meta}
    for record in records:
        cls = type(record)
        assert cls.__module__ == "openrouter_bench.models"
        rebuilt = cls(**{field.name: getattr(record, field.name) for field in attrs.fields(cls)})
        assert rebuilt == record
        assert hash(rebuilt) == hash(record)
        name = attrs.fields(cls)[0].name
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            setattr(record, name, None)
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            delattr(record, name)


def test_page_round_trips_to_the_same_json() -> None:
    """unstructure_page(structure_page(doc)) gives doc back, ints as ints, prices as strings."""
    doc = document()
    assert as_json(unstructure_page(read(doc))) == as_json(doc)


def test_encode_then_decode_gives_an_equal_page() -> None:
    """encode_page's bytes decode back to an equal Page."""
    page = read(document())
    assert decode_page(encode_page(page), query=QUERY, fetched_at=FETCHED_AT) == page


@pytest.mark.parametrize("text", ["0001-01-01T05:00:00+05:00", "9999-12-31T23:59:59Z"])
def test_the_calendars_edges_that_fit_in_utc_are_kept(text: str) -> None:
    """A timestamp at the edge of the calendar reads as long as it has a UTC form."""
    item = structure_item(eval_item() | {"last_run_timestamp": text})
    assert isinstance(item, OpenRouterEvalItem)
    assert item.last_run_timestamp == datetime.fromisoformat(text)


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("2026-06-03T12:00:00Z", "2026-06-03T12:00:00Z"),
        ("2026-06-03T12:00:00.000001Z", "2026-06-03T12:00:00.000001Z"),
        ("2026-06-03T12:00:00+00:00", "2026-06-03T12:00:00Z"),
        ("2026-06-03T12:00:00.123Z", "2026-06-03T12:00:00.123000Z"),
        ("2026-06-03T12:00:00-07:00", "2026-06-03T12:00:00-07:00"),
    ],
)
def test_timestamps_write_in_canonical_form(text: str, written: str) -> None:
    """UTC timestamps write as ...Z with optional microseconds; other offsets keep theirs."""
    raw = eval_item() | {"last_run_timestamp": text}
    assert unstructure_item(structure_item(raw))["last_run_timestamp"] == written


def test_same_instant_in_two_offsets_keeps_each_offset() -> None:
    """Two timestamps for one instant in different offsets each write back in their own form."""
    first = eval_item() | {"last_run_timestamp": "2026-06-03T12:00:00Z"}
    second = eval_item() | {"last_run_timestamp": "2026-06-03T17:30:00+05:30"}
    doc = {"data": [first, second], "meta": meta_object()}
    assert as_json(unstructure_page(read(doc))) == as_json(doc)


def test_int_subclass_values_become_plain_ints() -> None:
    """An IntEnum where a number or integer belongs is kept as a plain int, not refused."""

    class Count(enum.IntEnum):
        TOTAL = 260

    raw = da_item()
    raw["elo"] = Count.TOTAL
    raw["tournament_stats"]["total"] = Count.TOTAL
    item = structure_item(raw)
    assert isinstance(item, DesignArenaItem)
    assert type(item.elo) is int
    assert type(item.tournament_stats.total) is int


def test_read_only_mappings_are_accepted_as_objects() -> None:
    """Mappings other than dict (a read-only proxy, say) read like the dict they wrap."""
    doc = document()
    proxied = MappingProxyType(
        {"data": [MappingProxyType(item) for item in doc["data"]], "meta": doc["meta"]}
    )
    assert read(proxied) == read(doc)


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("0.0000025", "0.0000025"),
        ("0.00001000", "0.00001000"),
        ("-1", "-1"),
        ("0", "0"),
        ("1E-7", "0.0000001"),
        ("2.5e+3", "2500"),
    ],
)
def test_prices_write_as_plain_decimal_strings(text: str, written: str) -> None:
    """Prices keep their exact digits and never write in scientific notation."""
    raw = aa_item() | {"pricing": {"prompt": text, "completion": None}}
    item = structure_item(raw)
    assert isinstance(item, ArtificialAnalysisItem)
    assert item.pricing is not None
    assert item.pricing.prompt == Decimal(text)
    assert unstructure_item(item)["pricing"] == {"prompt": written, "completion": None}


def test_string_enum_values_from_python_become_plain_strings() -> None:
    """A StrEnum source from Python dispatches like its string; the caller's dict is untouched."""
    raw = da_item() | {"source": Source.DESIGN_ARENA}
    item = structure_item(raw)
    assert isinstance(item, DesignArenaItem)
    assert raw["source"] is Source.DESIGN_ARENA
    assert type(unstructure_item(item)["source"]) is str


# --- validation with paths --------------------------------------------------------------------


def _set(path: tuple[Any, ...], value: object) -> Callable[[dict[str, Any]], None]:
    def mutate(doc: dict[str, Any]) -> None:
        target: Any = doc
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value

    return mutate


def _delete(path: tuple[Any, ...]) -> Callable[[dict[str, Any]], None]:
    def mutate(doc: dict[str, Any]) -> None:
        target: Any = doc
        for step in path[:-1]:
            target = target[step]
        del target[path[-1]]

    return mutate


MALFORMED = [
    (_set(("data", 1, "elo"), "1300"), "data[1].elo", "expected a number, got str"),
    (_set(("data", 1, "elo"), True), "data[1].elo", "expected a number, got bool"),
    (_set(("data", 1, "elo"), float("nan")), "data[1].elo", "expected a finite number"),
    (_set(("data", 1, "win_rate"), float("inf")), "data[1].win_rate", "expected a finite number"),
    (_set(("data", 1, "elo"), None), "data[1].elo", "expected a number, got null"),
    (_delete(("data", 1, "elo")), "data[1].elo", "required key is missing"),
    (
        _set(("data", 1, "tournament_stats", "total"), "260"),
        "data[1].tournament_stats.total",
        "expected an integer or null, got str",
    ),
    (
        _set(("data", 1, "tournament_stats", "total"), 2.0),
        "data[1].tournament_stats.total",
        "expected an integer or null, got float",
    ),
    (
        _set(("data", 1, "tournament_stats"), None),
        "data[1].tournament_stats",
        "expected an object, got null",
    ),
    (_set(("data", 1, "pricing"), []), "data[1].pricing", "expected an object or null, got list"),
    (
        _set(("data", 0, "pricing", "prompt"), "cheap"),
        "data[0].pricing.prompt",
        "not a decimal string",
    ),
    (
        _set(("data", 0, "pricing", "prompt"), "NaN"),
        "data[0].pricing.prompt",
        "not a decimal string",
    ),
    (
        _set(("data", 0, "pricing", "prompt"), "1e999999"),
        "data[0].pricing.prompt",
        "not a decimal string",
    ),
    (
        _set(("data", 0, "pricing", "prompt"), " 1"),
        "data[0].pricing.prompt",
        "not a decimal string",
    ),
    (
        _set(("data", 0, "pricing", "completion"), 0.00001),
        "data[0].pricing.completion",
        "expected a decimal string or null, got float",
    ),
    (_delete(("data", 0, "pricing", "prompt")), "data[0].pricing.prompt", "required key"),
    (_set(("data", 0, "display_name"), 7), "data[0].display_name", "expected a string, got int"),
    (_set(("data", 0, "coding_index"), "n/a"), "data[0].coding_index", "expected a number or null"),
    (
        _set(("data", 2, "total_tasks"), True),
        "data[2].total_tasks",
        "expected an integer, got bool",
    ),
    (
        _set(("data", 2, "last_run_timestamp"), "2026-05-30T08:15:00"),
        "data[2].last_run_timestamp",
        "not an aware ISO-8601 timestamp",
    ),
    (
        _set(("data", 2, "last_run_timestamp"), "last tuesday"),
        "data[2].last_run_timestamp",
        "not an ISO-8601 timestamp",
    ),
    (
        _set(("data", 2, "last_run_timestamp"), 1780000000),
        "data[2].last_run_timestamp",
        "expected an ISO-8601 timestamp string, got int",
    ),
    (_delete(("data", 2, "benchmark_type")), "data[2].benchmark_type", "required key"),
    (
        _set(("data", 2, "benchmark_type"), ["gpqa_diamond"]),
        "data[2].benchmark_type",
        "expected a string, got list",
    ),
    (
        _set(("data", 3, "run_config", "max_agent_turns"), "20"),
        "data[3].run_config.max_agent_turns",
        "expected an integer or null, got str",
    ),
    (_set(("data", 3, "run_config"), "high"), "data[3].run_config", "expected an object or null"),
    (_delete(("data", 3, "search_surface")), "data[3].search_surface", "required key is missing"),
    (_delete(("data", 2, "source")), "data[2].source", "required key is missing"),
    (_set(("data", 2, "source"), None), "data[2].source", "expected a string, got null"),
    (_set(("data", 2), [1, 2]), "data[2]", "expected an object, got list"),
    (_set(("data", 3), "item"), "data[3]", "expected an object, got str"),
    (_set(("data",), {"0": {}}), "data", "expected a list, got dict"),
    (_delete(("data",)), "data", "required key is missing"),
    (_delete(("meta",)), "meta", "required key is missing"),
    (_set(("meta",), []), "meta", "expected an object, got list"),
    (_set(("meta", "as_of"), "soon"), "meta.as_of", "not an ISO-8601 timestamp"),
    (
        _set(("meta", "as_of"), "0001-01-01T00:00:00+05:00"),
        "meta.as_of",
        "outside the calendar once in UTC",
    ),
    (
        _set(("meta", "as_of"), "9999-12-31T23:59:59-05:00"),
        "meta.as_of",
        "outside the calendar once in UTC",
    ),
    (
        _set(("data", 2, "last_run_timestamp"), "9999-12-31T22:00:00-02:00"),
        "data[2].last_run_timestamp",
        "outside the calendar once in UTC",
    ),
    (_set(("meta", "as_of"), "2026-06-03"), "meta.as_of", "not an aware ISO-8601 timestamp"),
    (_set(("meta", "model_count"), 4.0), "meta.model_count", "expected an integer, got float"),
    (_set(("meta", "source"), 1), "meta.source", "expected a string or null, got int"),
    (_delete(("meta", "citation")), "meta.citation", "required key is missing"),
]


@pytest.mark.parametrize(("mutate", "path", "reason"), MALFORMED)
def test_malformed_document_names_its_json_path(
    mutate: Callable[[dict[str, Any]], None], path: str, reason: str
) -> None:
    """Each malformed value raises ResponseFormatError naming its JSON path and what was wrong."""
    doc = document()
    mutate(doc)
    with pytest.raises(ResponseFormatError) as caught:
        read(doc)
    assert caught.value.path == path
    assert str(caught.value).startswith(f"{path}: ")
    assert reason in str(caught.value)


@pytest.mark.parametrize("payload", [[], "data", 3, None, True])
def test_non_object_root_names_the_root(payload: object) -> None:
    """A document that is not an object says so at path (root)."""
    with pytest.raises(ResponseFormatError, match=r'^\(root\): expected an object with "data"'):
        read(payload)


def test_extra_nested_too_deep_for_the_cache_is_refused() -> None:
    """An extra value nested past what can be written back raises instead of failing later."""
    deep: Any = []
    for _ in range(300):
        deep = [deep]
    raw = aa_item() | {"nested": deep}
    with pytest.raises(ResponseFormatError, match=r"^data\[0\]\.nested: nested deeper"):
        structure_item(raw)


@pytest.mark.parametrize(
    ("value", "reason"),
    [(float("nan"), "expected a finite number"), ({1, 2}, "not a JSON value: set")],
)
def test_extra_values_json_cannot_hold_are_refused(value: object, reason: str) -> None:
    """An extra value that could not be written back as JSON is refused with its path."""
    with pytest.raises(ResponseFormatError, match=rf"^data\[0\]\.odd: {reason}"):
        structure_item(aa_item() | {"odd": [value]})


def test_structure_item_uses_the_given_path() -> None:
    """structure_item prefixes errors with the path it is given."""
    with pytest.raises(ResponseFormatError, match=r"^data\[41\]\.elo: ") as caught:
        structure_item(da_item() | {"elo": "x"}, path="data[41]")
    assert caught.value.path == "data[41].elo"


# --- decode_page ------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [b"", b" \n\t"])
def test_empty_body_says_it_is_empty(body: bytes) -> None:
    """An empty body raises a ResponseFormatError that says the body is empty."""
    with pytest.raises(ResponseFormatError, match="response body is empty"):
        decode_page(body, query=QUERY, fetched_at=FETCHED_AT)


def test_html_body_is_not_json_with_a_short_excerpt() -> None:
    """A proxy's HTML page raises 'not JSON' with an excerpt of at most ~200 characters."""
    body = b"<html><head><title>502 Bad Gateway</title></head>" + b"<p>x</p>" * 500
    with pytest.raises(ResponseFormatError, match=r"^response body is not JSON") as caught:
        decode_page(body, query=QUERY, fetched_at=FETCHED_AT)
    message = str(caught.value)
    assert "502 Bad Gateway" in message
    assert len(message) < 300


def test_binary_body_excerpt_stays_short() -> None:
    """Control bytes, escaped in the excerpt, do not make the message long."""
    with pytest.raises(ResponseFormatError, match=r"^response body is not JSON") as caught:
        decode_page(b"\x00\x01" * 1000, query=QUERY, fetched_at=FETCHED_AT)
    assert len(str(caught.value)) < 300


def test_truncated_json_is_not_json() -> None:
    """A body cut short mid-document raises 'not JSON', not a decoder exception."""
    body = orjson.dumps(document())[:-40]
    with pytest.raises(ResponseFormatError, match=r"^response body is not JSON"):
        decode_page(body, query=QUERY, fetched_at=FETCHED_AT)


# --- the converter ----------------------------------------------------------------------------


def test_converter_is_private_and_runs_the_record_hooks() -> None:
    """The module's converter is its own, and structures each record class directly."""
    assert _converter is not cattrs.global_converter
    item = _converter.structure(da_item(), DesignArenaItem)
    assert item == structure_item(da_item())
    assert _converter.unstructure(item) == da_item()
    assert _converter.structure(meta_object(), Meta) == structure_meta(meta_object())
    assert isinstance(_converter.structure(search_item(), Item), SearchEvalItem)  # type: ignore[arg-type]


def test_converter_direct_hooks_check_shape_and_report_paths() -> None:
    """Structuring the wrong source or a bad field through the converter raises with a path."""
    with pytest.raises(ResponseFormatError, match=r"^source: expected 'design-arena'"):
        _converter.structure(aa_item(), DesignArenaItem)
    with pytest.raises(ResponseFormatError, match=r"^benchmark_type: "):
        _converter.structure(search_item(), OpenRouterEvalItem)
    with pytest.raises(ResponseFormatError, match=r"^elo: expected a number"):
        _converter.structure(da_item() | {"elo": "x"}, DesignArenaItem)
    with pytest.raises(ResponseFormatError, match=r"^\(root\): expected an object"):
        _converter.structure([], TournamentStats)


# --- properties -------------------------------------------------------------------------------

KNOWN_SOURCES = {"artificial-analysis", "design-arena", "openrouter"}

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
names = st.text(max_size=12)
numbers = st.integers(min_value=-(2**53), max_value=2**53) | st.floats(
    allow_nan=False, allow_infinity=False
)
counts = st.integers(min_value=0, max_value=2**31)
decimal_strings = st.from_regex(r"-?(0|[1-9][0-9]{0,6})(\.[0-9]{1,14})?", fullmatch=True)
offsets = st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59).filter(bool)


@st.composite
def timestamps(draw: st.DrawFn) -> str:
    moment = draw(st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1)))
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}"
    minutes = draw(st.none() | offsets)
    if minutes is None:
        return text + "Z"
    sign = "+" if minutes > 0 else "-"
    return text + f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def with_extras(
    known: set[str], shape: st.SearchStrategy[dict[str, Any]]
) -> st.SearchStrategy[dict[str, Any]]:
    extras = st.dictionaries(names.filter(lambda key: key not in known), json_values, max_size=2)
    return st.builds(lambda obj, extra: extra | obj, shape, extras)


def fixed(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    shape = st.fixed_dictionaries(fields)
    return with_extras(set(fields), shape)


pricings = st.none() | fixed(
    prompt=st.none() | decimal_strings, completion=st.none() | decimal_strings
)
aa_items = fixed(
    source=st.just("artificial-analysis"),
    model_permaslug=names,
    display_name=names,
    intelligence_index=st.none() | numbers,
    coding_index=st.none() | numbers,
    agentic_index=st.none() | numbers,
    pricing=pricings,
)
stats_objects = fixed(
    first_place=st.none() | counts,
    second_place=st.none() | counts,
    third_place=st.none() | counts,
    fourth_place=st.none() | counts,
    total=st.none() | counts,
)
da_items = fixed(
    source=st.just("design-arena"),
    model_permaslug=names,
    display_name=names,
    arena=names,
    category=names,
    elo=numbers,
    win_rate=numbers,
    avg_generation_time_ms=st.none() | numbers,
    tournament_stats=stats_objects,
    pricing=pricings,
)
eval_items = fixed(
    source=st.just("openrouter"),
    model_permaslug=names,
    display_name=names,
    benchmark_type=names.filter(lambda name: not name.startswith("search_")),
    accuracy=numbers,
    accuracy_stddev=st.none() | numbers,
    avg_cost_per_task=st.none() | numbers,
    total_tasks=counts,
    last_run_timestamp=timestamps(),
)
run_configs = st.none() | fixed(
    max_agent_turns=st.none() | counts,
    reasoning_effort=st.none() | names,
    temperature=st.none() | numbers,
)
search_fields: dict[str, st.SearchStrategy[Any]] = {
    "source": st.just("openrouter"),
    "model_permaslug": names,
    "display_name": names,
    "benchmark_type": names.map(lambda name: "search_" + name),
    "primary_metric": names,
    "primary_score": numbers,
    "avg_cost_per_task": st.none() | numbers,
    "avg_latency_per_task_ms": st.none() | numbers,
    "search_engine": names,
    "search_surface": st.sampled_from(["server-tool", "plugin"]),
    "total_tasks": counts,
    "last_run_timestamp": timestamps(),
}
search_items = with_extras(
    {*search_fields, "run_config"},
    st.fixed_dictionaries(search_fields, optional={"run_config": run_configs}),
)
unknown_items = st.builds(
    lambda source, rest: rest | {"source": source},
    names.filter(lambda name: name not in KNOWN_SOURCES),
    st.dictionaries(names, json_values, max_size=3),
)
meta_objects = fixed(
    as_of=timestamps(),
    version=names,
    source=st.none() | names,
    source_url=st.none() | names,
    citation=st.none() | names,
    model_count=counts,
    task_type=st.none() | names,
)
documents = st.fixed_dictionaries(
    {
        "data": st.lists(
            aa_items | da_items | eval_items | search_items | unknown_items, max_size=6
        ),
        "meta": meta_objects,
    }
)
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(documents)
def test_valid_documents_round_trip_exactly(doc: dict[str, Any]) -> None:
    """Any valid document reads into a Page and writes back to the same JSON, byte for byte."""
    page = read(doc)
    assert as_json(unstructure_page(page)) == as_json(doc)
    assert decode_page(encode_page(page), query=QUERY, fetched_at=FETCHED_AT) == page


@PROPERTY
@given(json_values)
def test_arbitrary_json_gives_a_page_or_a_format_error(payload: object) -> None:
    """Any JSON value yields a Page or ResponseFormatError, never another exception."""
    outcome: Page | ResponseFormatError
    try:
        outcome = read(payload)
    except ResponseFormatError as error:
        outcome = error
    assert isinstance(outcome, Page) or outcome.path is not None


def _locations(value: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [here]
    if isinstance(value, dict):
        for key, inner in value.items():
            found += _locations(inner, (*here, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found += _locations(inner, (*here, index))
    return found


@PROPERTY
@given(documents, st.data())
def test_mutated_documents_give_a_page_or_a_format_error(
    doc: dict[str, Any], data: st.DataObject
) -> None:
    """Replacing or deleting one value of a valid document gives a Page or ResponseFormatError."""
    mutated = copy.deepcopy(doc)
    location = data.draw(st.sampled_from(_locations(mutated)[1:] or [("data",)]))
    if data.draw(st.booleans()) and isinstance(location[-1], str):
        _delete(location)(mutated)
    else:
        _set(location, data.draw(json_values | st.floats()))(mutated)
    outcome: Page | ResponseFormatError
    try:
        outcome = read(mutated)
    except ResponseFormatError as error:
        outcome = error
    assert isinstance(outcome, Page) or str(outcome).startswith(f"{outcome.path}: ")


@PROPERTY
@given(
    st.binary(max_size=200)
    | documents.map(orjson.dumps).flatmap(
        lambda body: st.integers(0, len(body)).map(lambda cut: body[:cut])
    )
)
def test_arbitrary_bytes_give_a_page_or_a_format_error(body: bytes) -> None:
    """decode_page on any bytes (noise, cut-off documents) gives a Page or ResponseFormatError."""
    try:
        page = decode_page(body, query=QUERY, fetched_at=FETCHED_AT)
    except ResponseFormatError:
        return
    assert isinstance(page, Page)


def test_python_payload_with_aware_datetime_values_is_refused() -> None:
    """A datetime object where the JSON has a string is a format error, not silently accepted."""
    raw = eval_item() | {"last_run_timestamp": datetime(2026, 1, 1, tzinfo=UTC)}
    with pytest.raises(
        ResponseFormatError, match="expected an ISO-8601 timestamp string, got datetime"
    ):
        structure_item(raw)


# --- typed views of a page --------------------------------------------------------------------


def test_items_of_keeps_one_shape_in_order_typed_as_it() -> None:
    """items_of(cls) gives the items of that class only, in the server's order."""
    doc = document()
    doc["data"] = [da_item(), aa_item(), {**da_item(), "model_permaslug": "b/two"}]
    doc["data"].append({"source": "someday", "model_permaslug": "x/y"})
    page = read(doc)
    arena = page.items_of(DesignArenaItem)
    assert [item.model_permaslug for item in arena] == [
        doc["data"][0]["model_permaslug"],
        "b/two",
    ]
    assert sum(item.elo for item in arena) == 2 * doc["data"][0]["elo"]
    assert page.items_of(ArtificialAnalysisItem) == (page.items[1],)
    assert page.items_of(UnknownItem) == (page.items[3],)
    assert page.items_of(SearchEvalItem) == ()


@pytest.mark.parametrize("kind", [dict, Page, "DesignArenaItem"])
def test_items_of_refuses_what_is_not_an_item_class(kind: Any) -> None:
    """A class that is no item shape is a typed error naming the valid ones, not an empty tuple."""
    with pytest.raises(InvalidQueryError, match="items_of takes an item class") as refused:
        read(document()).items_of(kind)
    assert "DesignArenaItem" in str(refused.value)


def _page_of(count: int, query: Query) -> Page:
    """A page of ``count`` Artificial Analysis items answering ``query``."""
    item = structure_item(aa_item())
    return attrs.evolve(read(document()), items=(item,) * count, query=query)


@pytest.mark.parametrize(
    ("count", "max_results", "cut"),
    [
        (0, None, False),
        (49, None, False),
        (50, None, True),  # the Data API guide's default cap, exactly
        (51, None, False),  # more than the guide's cap: the server applied none
        (1_100, None, False),
        (4, 5, False),
        (5, 5, True),
        (100, 100, True),
    ],
)
def test_a_page_may_be_cut_when_it_fills_a_cap_that_could_apply(
    count: int, max_results: int | None, cut: bool
) -> None:
    """may_be_cut: a page as long as max_results, or of exactly 50 items without it."""
    page = _page_of(count, Query(source="artificial-analysis", max_results=max_results))
    assert page.may_be_cut is cut
