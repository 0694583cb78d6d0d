"""JSON <-> records: the benchmarks endpoint's documents read into typed records and back.

Reading is the hot path of every fetch and every cache hit, so each record
class gets a structuring function generated once at import from its attrs
fields: exact-class checks inline, the slow checks (and the error message)
only on a value that fails them. Items are dispatched by a dict lookup on
their ``source``; nothing goes through a generic union dispatch per item.

Malformed input raises :class:`~openrouter_bench.errors.ResponseFormatError`
naming the JSON path, e.g. ``data[3].elo: expected a number, got str``.

Writing gives the server's document back: extra keys merged in, ints kept as
ints, prices as plain decimal strings, UTC timestamps as
``YYYY-MM-DDTHH:MM:SS[.ffffff]Z`` (other offsets keep their offset), and an
optional key (``run_config``) only when the input had it. A timestamp field
with a companion text field (``Meta.raw_as_of``, marked ``text_of`` in its
metadata) keeps the server's text when it is in another form, such as
``...T12:00:00.000Z``, and writes that text back.

Both directions are registered on one private :class:`cattrs.Converter`
(``_converter``), so ``_converter.structure(obj, DesignArenaItem)`` runs the
same generated function.
"""

from __future__ import annotations

import functools
import linecache
import math
import re
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any, Final

import attrs
import cattrs
import orjson

from openrouter_bench import models
from openrouter_bench.errors import ResponseFormatError
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
from openrouter_bench.query import Query

__all__ = [
    "MAX_PAGE_ITEMS",
    "decode_page",
    "encode_page",
    "structure_item",
    "structure_meta",
    "structure_page",
    "unstructure_item",
    "unstructure_meta",
    "unstructure_page",
]

# The models' own default, so records built here and by hand share one empty mapping.
_NO_EXTRA: Final[Mapping[str, Any]] = models.NO_EXTRA
_ABSENT: Final = object()
_ROOT: Final = "(root)"
# orjson refuses to write documents nested deeper than 254 levels; an extra
# value deeper than this could be read but never cached, so it is refused early.
_MAX_EXTRA_DEPTH: Final = 200
_EXCERPT_CHARS: Final = 160
#: The most items one page may hold. The fake's unfiltered page (every source, arena and
#: category) holds about 1,100; a page of 100,000 would weigh some 50 MB in memory, and a
#: million tiny items (15 MB on the wire) about 480 MB, so more is refused before structuring.
MAX_PAGE_ITEMS: Final = 100_000


# --- failures ---------------------------------------------------------------------------------


class _Invalid(Exception):
    """A malformed value, with its path relative to the object being read.

    Raised by the generated functions and turned into a ResponseFormatError by
    whoever knows where that object sits in the document.
    """

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(path, reason)
        self.path = path
        self.reason = reason

    def within(self, key: str) -> _Invalid:
        self.path = f"{key}.{self.path}" if self.path else key
        return self

    def error(self, prefix: str) -> ResponseFormatError:
        if prefix == _ROOT:
            path = self.path or _ROOT
        else:
            path = f"{prefix}.{self.path}" if self.path else prefix
        return ResponseFormatError(f"{path}: {self.reason}", path=path)


def _kind_of(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _or_null(nullable: bool) -> str:
    return " or null" if nullable else ""


def _want_str(value: object, key: str, nullable: bool) -> str:
    if isinstance(value, str):
        return str.__str__(value)  # a str subclass (a StrEnum member) becomes a plain str
    raise _Invalid(key, f"expected a string{_or_null(nullable)}, got {_kind_of(value)}")


def _want_number(value: object, key: str, nullable: bool) -> float:
    if isinstance(value, int) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, float):
        if math.isfinite(value):
            return float(value)
        raise _Invalid(key, f"expected a finite number{_or_null(nullable)}, got {value!r}")
    raise _Invalid(key, f"expected a number{_or_null(nullable)}, got {_kind_of(value)}")


def _want_int(value: object, key: str, nullable: bool) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return int(value)
    raise _Invalid(key, f"expected an integer{_or_null(nullable)}, got {_kind_of(value)}")


def _want_object(value: object, key: str, nullable: bool) -> dict[str, Any]:
    if isinstance(value, Mapping):
        return dict(value)
    raise _Invalid(key, f"expected an object{_or_null(nullable)}, got {_kind_of(value)}")


def _want_timestamp(value: object, key: str, nullable: bool) -> datetime:
    if not isinstance(value, str):
        raise _Invalid(
            key, f"expected an ISO-8601 timestamp string{_or_null(nullable)}, got {_kind_of(value)}"
        )
    text = str.__str__(value)
    parsed = _parse_timestamp(text)
    if parsed is not None:
        return parsed
    try:
        offset = datetime.fromisoformat(text).utcoffset()
    except ValueError:
        raise _Invalid(key, f"not an ISO-8601 timestamp: {_excerpt(text)}") from None
    if offset is None:
        raise _Invalid(key, f"not an aware ISO-8601 timestamp (no UTC offset): {_excerpt(text)}")
    raise _Invalid(key, f"a timestamp outside the calendar once in UTC: {_excerpt(text)}")


def _want_decimal(value: object, key: str, nullable: bool) -> Decimal:
    if not isinstance(value, str):
        raise _Invalid(key, f"expected a decimal string{_or_null(nullable)}, got {_kind_of(value)}")
    text = str.__str__(value)
    parsed = _parse_decimal(text)
    if parsed is not None:
        return parsed
    raise _Invalid(key, f"not a decimal string: {_excerpt(text)}")


def _missing(obj: Mapping[str, Any], required: tuple[str, ...]) -> _Invalid:
    for key in required:
        if key not in obj:
            return _Invalid(key, "required key is missing")
    raise AssertionError("a KeyError was raised but every required key is present")


def _excerpt(text: str) -> str:
    if len(text) > 60:
        return repr(text[:60]) + "..."
    return repr(text)


# --- scalars ----------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def _parse_timestamp(text: str) -> datetime | None:
    # Bounded cache: a page repeats a handful of last_run_timestamp values many times.
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    if value.utcoffset() is None:
        return None
    try:
        # Year 1 at +05:00 or 9999-12-31 at -05:00 is not a moment datetime can hold in UTC:
        # everything downstream (cache keys, ages, comparisons) would raise OverflowError.
        value.astimezone(UTC)
    except OverflowError:
        return None
    return value


def _format_timestamp(value: datetime) -> str:
    # Not cached: equal datetimes with different offsets hash alike, and each keeps its own.
    offset = value.utcoffset()
    if offset is not None and not offset:
        return value.replace(tzinfo=None).isoformat() + "Z"
    return value.isoformat()


# The longest timestamp text kept as sent: ISO 8601 with nanoseconds and an offset is 35
# characters, and datetime reads a fraction of any length, which is not worth keeping.
_KEPT_TEXT_CHARS: Final = 64


def _kept_text(raw: str, value: datetime) -> str | None:
    """The server's text of a timestamp, when writing ``value`` would not give it back."""
    text = str.__str__(raw)
    if len(text) > _KEPT_TEXT_CHARS or _format_timestamp(value) == text:
        return None
    return text


def _written_timestamp(value: datetime, text: str | None) -> str:
    # The kept text, while it still reads as this very value: attrs.evolve can give a
    # record a new timestamp and leave the old text behind.
    if text is not None:
        kept = _parse_timestamp(text) if text.__class__ is str else None
        if kept is not None and kept == value and kept.utcoffset() == value.utcoffset():
            return text
    return _format_timestamp(value)


# JSON's number grammar with at most a two-digit exponent. Decimal() alone would also take
# " 1", "1_0", "007" (which would not write back the same), "NaN", and "1e999999999",
# whose plain form is a billion characters long.
_DECIMAL_TEXT: Final = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]{1,2})?")


@functools.lru_cache(maxsize=4096)
def _parse_decimal(text: str) -> Decimal | None:
    # Bounded cache: the same model's prices repeat once per category and source.
    if _DECIMAL_TEXT.fullmatch(text) is None:
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def _format_decimal(value: Decimal) -> str:
    return format(value, "f")


# --- extra keys -------------------------------------------------------------------------------


def _freeze(value: Any, key: str, depth: int = 0) -> Any:
    """A read-only copy of a JSON value: objects become mapping proxies, arrays tuples.

    Raises for what JSON cannot hold (NaN, a set, a datetime object), so that a record
    read from a Python payload can always be written back.
    """
    if isinstance(value, str | int) or value is None:
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        raise _Invalid(key, f"expected a finite number, got {value!r}")
    if depth >= _MAX_EXTRA_DEPTH:
        raise _Invalid(key, f"nested deeper than {_MAX_EXTRA_DEPTH} levels")
    if isinstance(value, Mapping):
        frozen: dict[str, Any] = {}
        for name, inner in value.items():
            if not isinstance(name, str):
                raise _Invalid(key, f"object keys must be strings, got {_kind_of(name)}")
            frozen[name] = _freeze(inner, key, depth + 1)
        return MappingProxyType(frozen)
    if isinstance(value, list | tuple):
        return tuple(_freeze(inner, key, depth + 1) for inner in value)
    raise _Invalid(key, f"not a JSON value: {_kind_of(value)}")


def _thaw(value: Any) -> Any:
    """The JSON value behind a frozen one, as fresh dicts and lists."""
    if isinstance(value, Mapping):
        return {name: _thaw(inner) for name, inner in value.items()}
    if isinstance(value, tuple | list):
        return [_thaw(inner) for inner in value]
    return value


def _extras(
    obj: Mapping[Any, Any], known: frozenset[str], optional: frozenset[str]
) -> Mapping[str, Any]:
    # An optional key sent as null is kept here, so writing the item back includes it.
    extra: dict[str, Any] = {}
    for key, value in obj.items():
        if key in known and not (key in optional and value is None):
            continue
        if not isinstance(key, str):
            raise _Invalid("", f"object keys must be strings, got {_kind_of(key)}")
        extra[key] = _freeze(value, key)
    return MappingProxyType(extra) if extra else _NO_EXTRA


def _merge_extra(document: dict[str, Any], extra: Mapping[str, Any]) -> None:
    for key, value in extra.items():
        if key not in document:
            document[key] = _thaw(value)


# --- generated record functions ---------------------------------------------------------------


@attrs.frozen
class _FieldPlan:
    """How one attrs field is read and written: its kind and, for records, its class."""

    name: str
    kind: str  # "str", "number", "int", "timestamp", "decimal" or "record"
    nullable: bool
    optional_key: bool
    record: type | None
    # The field that keeps this timestamp's text as the server wrote it, if any.
    text_field: str | None = None


_SCALAR_KINDS: Final[dict[object, str]] = {
    str: "str",
    float: "number",
    int: "int",
    datetime: "timestamp",
    Decimal: "decimal",
}


def _plan(cls: type) -> list[_FieldPlan]:
    plans = []
    texts = {
        field.metadata["text_of"]: field.name
        for field in attrs.fields(cls)
        if "text_of" in field.metadata
    }
    for field in attrs.fields(cls):
        if field.name == "extra" or "text_of" in field.metadata:
            continue
        args = typing.get_args(field.type)
        nullable = type(None) in args
        base = field.type
        if isinstance(field.type, types.UnionType):
            (base,) = [arg for arg in args if arg is not type(None)]
        optional_key = field.default is None and field.kw_only
        if base in _SCALAR_KINDS:
            kind = _SCALAR_KINDS[base]
            text = texts.get(field.name)
            if text is not None and (kind != "timestamp" or nullable or optional_key):
                raise TypeError(f"{cls.__name__}.{text}: text_of names a required timestamp")
            plans.append(_FieldPlan(field.name, kind, nullable, optional_key, None, text))
        elif isinstance(base, type) and attrs.has(base):
            plans.append(_FieldPlan(field.name, "record", nullable, optional_key, base))
        else:
            raise TypeError(f"{cls.__name__}.{field.name}: no conversion for {field.type!r}")
    return plans


def _source_constant(cls: type) -> str | None:
    names = {field.name for field in attrs.fields(cls)}
    value = getattr(cls, "source", None)
    return value if isinstance(value, str) and "source" not in names else None


# Per kind: the test a good value passes at the cost of a class check, and the slow
# function that accepts a near miss (a str subclass, an int subclass) or raises.
_FAST_TESTS: Final[dict[str, tuple[str, str]]] = {
    "str": ("{v}.__class__ is str", "_want_str"),
    "int": ("{v}.__class__ is int", "_want_int"),
    # `v - v` is nan only for nan and the infinities.
    "number": (
        "{v}.__class__ is int or ({v}.__class__ is float and {v} - {v} == 0.0)",
        "_want_number",
    ),
    "record": ("{v}.__class__ is dict", "_want_object"),
}
_PARSERS: Final[dict[str, tuple[str, str]]] = {
    "timestamp": ("_parse_timestamp", "_want_timestamp"),
    "decimal": ("_parse_decimal", "_want_decimal"),
}


def _check_lines(plan: _FieldPlan, v: str) -> list[str]:
    key, nullable = plan.name, plan.nullable
    if plan.kind in _PARSERS:
        parse, want = _PARSERS[plan.kind]
        lines = [
            f"{v}_ = {parse}({v}) if {v}.__class__ is str else None",
            f"{v} = {want}({v}, {key!r}, {nullable}) if {v}_ is None else {v}_",
        ]
    else:
        test, want = _FAST_TESTS[plan.kind]
        lines = [f"if not ({test.format(v=v)}): {v} = {want}({v}, {key!r}, {nullable})"]
    if plan.record is not None:
        lines += [
            "try:",
            f"    {v} = _structure_{plan.record.__name__}({v})",
            "except _Invalid as invalid:",
            f"    raise invalid.within({key!r}) from None",
        ]
    if nullable:
        return [f"if {v} is not None:", *("    " + line for line in lines)]
    return lines


def _structure_source(cls: type, plans: list[_FieldPlan]) -> str:
    source = _source_constant(cls)
    required = [plan.name for plan in plans if not plan.optional_key]
    has_optional = len(required) < len(plans)
    lines = [f"def structure_{cls.__name__}(obj):", "    try:"]
    lines += [f"        v_{name} = obj[_key_{name}]" for name in required]
    lines += ["    except KeyError:", "        raise _missing(obj, _REQUIRED) from None"]
    # With every required key present, a length equal to the count of known keys
    # proves there are no extra keys, without looking at any of them.
    lines += [f"    size = {len(required) + (source is not None)}"]
    if has_optional:
        lines += ["    nulls = False"]
    for plan in plans:
        v = f"v_{plan.name}"
        if plan.optional_key:
            lines += [
                f"    {v} = obj.get(_key_{plan.name}, _ABSENT)",
                f"    if {v} is _ABSENT:",
                f"        {v} = None",
                "    else:",
                "        size += 1",
                f"        nulls = nulls or {v} is None",
            ]
        lines += ["    " + line for line in _check_lines(plan, v)]
        if plan.text_field is not None:
            lines += [f"    v_{plan.text_field} = _kept_text(obj[_key_{plan.name}], {v})"]
    no_extra = "len(obj) == size and not nulls" if has_optional else "len(obj) == size"
    lines += [
        f"    extra = _NO_EXTRA if {no_extra} else _extras(obj, _KNOWN, _OPTIONAL)",
        "    record = _new(_building)",
        *(f"    record.{plan.name} = v_{plan.name}" for plan in plans),
        *(
            f"    record.{plan.text_field} = v_{plan.text_field}"
            for plan in plans
            if plan.text_field is not None
        ),
        "    record.extra = extra",
        "    record.__class__ = _cls",
        "    return record",
    ]
    return "\n".join(lines) + "\n"


def _write_expression(plan: _FieldPlan, value: str) -> str:
    if plan.text_field is not None:
        expression = f"_written_timestamp({value}, record.{plan.text_field})"
    elif plan.kind == "timestamp":
        expression = f"_format_timestamp({value})"
    elif plan.kind == "decimal":
        expression = f"_format_decimal({value})"
    elif plan.record is not None:
        expression = f"_unstructure_{plan.record.__name__}({value})"
    else:
        return value
    if plan.nullable and not plan.optional_key:
        return f"None if {value} is None else {expression}"
    return expression


def _unstructure_source(cls: type, plans: list[_FieldPlan]) -> str:
    source = _source_constant(cls)
    lines = [f"def unstructure_{cls.__name__}(record):"]
    entries = [] if source is None else [f"'source': {source!r}"]
    optional_lines = []
    for plan in plans:
        v = f"record.{plan.name}"
        if plan.nullable and _write_expression(plan, v) != v:
            # Read the attribute once for both the null test and the conversion.
            lines += [f"    v_{plan.name} = {v}"]
            v = f"v_{plan.name}"
        if plan.optional_key:
            # Written only when set: None stands for "the server did not send it".
            optional_lines += [
                f"    if {v} is not None:",
                f"        document[{plan.name!r}] = {_write_expression(plan, v)}",
            ]
        else:
            entries.append(f"{plan.name!r}: {_write_expression(plan, v)}")
    lines += ["    document = {" + ", ".join(entries) + "}", *optional_lines]
    lines += [
        "    if record.extra:",
        "        _merge_extra(document, record.extra)",
        "    return document",
    ]
    return "\n".join(lines) + "\n"


_NAMESPACE: Final[dict[str, Any]] = {
    "_ABSENT": _ABSENT,
    "_Invalid": _Invalid,
    "_NO_EXTRA": _NO_EXTRA,
    "_extras": _extras,
    "_format_decimal": _format_decimal,
    "_format_timestamp": _format_timestamp,
    "_kept_text": _kept_text,
    "_merge_extra": _merge_extra,
    "_missing": _missing,
    "_parse_decimal": _parse_decimal,
    "_parse_timestamp": _parse_timestamp,
    "_want_decimal": _want_decimal,
    "_want_int": _want_int,
    "_want_number": _want_number,
    "_want_object": _want_object,
    "_want_str": _want_str,
    "_want_timestamp": _want_timestamp,
    "_written_timestamp": _written_timestamp,
}


def _compile(source: str, name: str, namespace: dict[str, Any]) -> Callable[..., Any]:
    filename = f"<openrouter_bench._convert {name}>"
    # Registered so a traceback through generated code shows its source.
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - our own generated code
    function: Callable[..., Any] = namespace[name]
    return function


_StructureFn = Callable[[dict[str, Any]], Any]
_UnstructureFn = Callable[[Any], dict[str, Any]]
_STRUCTURE: Final[dict[type, _StructureFn]] = {}
_UNSTRUCTURE: Final[dict[type, _UnstructureFn]] = {}


def _check_plain(cls: type) -> None:
    # The generated code fills the slots directly, skipping attrs' __init__ (it costs
    # more than all the checks together); that is only the same thing for plain fields.
    hooks = ("__attrs_pre_init__", "__attrs_post_init__")
    for field in attrs.fields(cls):
        if field.validator is not None or field.converter is not None or not field.init:
            raise TypeError(f"{cls.__name__}.{field.name}: the converter needs plain fields")
    if any(hasattr(cls, hook) for hook in hooks):
        raise TypeError(f"{cls.__name__}: the converter does not run init hooks")


def _orjson_keys(names: Iterable[str]) -> dict[str, str]:
    """Each name as the very str object orjson makes of a key with that text.

    orjson keeps one object per short key text (its key cache) and hands it out in every
    document it reads. A dict lookup by that same object matches on identity, without
    comparing text; should orjson hand out another object one day, a lookup compares the
    text as before, so only the speed depends on this.
    """
    return {key: key for key in orjson.loads(orjson.dumps(dict.fromkeys(names)))}


def _building_class(cls: type) -> type:
    """A subclass of ``cls`` whose instances take attribute assignments: a record is built
    as one of these, then made a ``cls`` by ``__class__`` assignment.

    Frozen attrs classes refuse setattr, and each alternative (attrs' ``__init__``, a
    slot descriptor's ``__set__``) is a call through a method wrapper per field, which
    costs more than the checks of the value it sets. A subclass that adds no slots and
    takes back object's own ``__setattr__`` and ``__delattr__`` (they share one type
    slot) gets CPython's plain slot stores, and has the layout of ``cls``, so the record
    can become a ``cls``: the object the caller gets is exactly what attrs would build.
    """
    building = type(
        f"_Building{cls.__name__}",
        (cls,),
        {"__slots__": (), "__setattr__": object.__setattr__, "__delattr__": object.__delattr__},
    )
    trial: Any = object.__new__(building)
    trial.__class__ = cls  # raises TypeError at import if the layouts ever part
    return building


def _generate(cls: type) -> None:
    """Compile the structure and unstructure functions of one record class."""
    _check_plain(cls)
    attrs.resolve_types(cls)
    plans = _plan(cls)
    source = _source_constant(cls)
    namespace = {
        **_NAMESPACE,
        "_cls": cls,
        "_REQUIRED": tuple(p.name for p in plans if not p.optional_key),
        "_KNOWN": frozenset([p.name for p in plans] + ([] if source is None else ["source"])),
        "_OPTIONAL": frozenset(p.name for p in plans if p.optional_key),
        "_new": object.__new__,
        "_building": _building_class(cls),
        **{f"_key_{name}": key for name, key in _orjson_keys(p.name for p in plans).items()},
    }
    name = cls.__name__
    _STRUCTURE[cls] = _compile(_structure_source(cls, plans), f"structure_{name}", namespace)
    _UNSTRUCTURE[cls] = _compile(_unstructure_source(cls, plans), f"unstructure_{name}", namespace)
    # Later classes call these from their own generated code.
    _NAMESPACE[f"_structure_{name}"] = _STRUCTURE[cls]
    _NAMESPACE[f"_unstructure_{name}"] = _UNSTRUCTURE[cls]


# Children before the records that hold them.
for _record_class in (
    Pricing,
    TournamentStats,
    RunConfig,
    ArtificialAnalysisItem,
    DesignArenaItem,
    OpenRouterEvalItem,
    SearchEvalItem,
    Meta,
):
    _generate(_record_class)

_structure_meta_fn: Final = _STRUCTURE[Meta]
_unstructure_meta_fn: Final = _UNSTRUCTURE[Meta]
_structure_eval: Final = _STRUCTURE[OpenRouterEvalItem]
_structure_search: Final = _STRUCTURE[SearchEvalItem]


# --- items ------------------------------------------------------------------------------------


# The keys every item is dispatched on, as orjson's own objects (see _orjson_keys).
_SOURCE_KEY, _BENCHMARK_KEY = _orjson_keys(["source", "benchmark_type"]).values()


def _structure_openrouter(obj: dict[str, Any]) -> OpenRouterEvalItem | SearchEvalItem:
    benchmark = obj.get(_BENCHMARK_KEY, _ABSENT)
    if benchmark.__class__ is not str:
        if benchmark is _ABSENT:
            raise _Invalid("benchmark_type", "required key is missing")
        benchmark = _want_str(benchmark, "benchmark_type", False)
    if benchmark.startswith("search_"):
        result: SearchEvalItem = _structure_search(obj)
        return result
    classic: OpenRouterEvalItem = _structure_eval(obj)
    return classic


_BY_SOURCE: Final[dict[str, _StructureFn]] = {
    "artificial-analysis": _STRUCTURE[ArtificialAnalysisItem],
    "design-arena": _STRUCTURE[DesignArenaItem],
    "openrouter": _structure_openrouter,
}


def _structure_any_item(obj: object) -> Item:
    """The slow road for one item: not a plain dict, or a source the table does not know."""
    if obj.__class__ is not dict:
        if not isinstance(obj, Mapping):
            raise _Invalid("", f"expected an object, got {_kind_of(obj)}")
        obj = dict(obj)
    assert isinstance(obj, dict)
    given = obj.get("source", _ABSENT)
    if given is _ABSENT:
        raise _Invalid("source", "required key is missing")
    source = _want_str(given, "source", False)
    if given.__class__ is not str:
        obj = {**obj, "source": source}
    hook = _BY_SOURCE.get(source)
    if hook is not None:
        known: Item = hook(obj)
        return known
    raw = _freeze(obj, "")
    return UnknownItem(source=source, raw=raw)


def _structure_items(data: list[Any] | tuple[Any, ...]) -> tuple[Item, ...]:
    items: list[Item] = []
    append = items.append
    by_source = _BY_SOURCE
    source_key = _SOURCE_KEY
    try:
        for obj in data:
            if obj.__class__ is dict:
                source = obj.get(source_key)
                hook = by_source.get(source) if source.__class__ is str else None
                if hook is not None:
                    append(hook(obj))
                    continue
            append(_structure_any_item(obj))
    except _Invalid as invalid:
        # Every item before the bad one was appended, so its index is the list's length.
        raise invalid.error(f"data[{len(items)}]") from None
    return tuple(items)


def _unstructure_unknown(item: UnknownItem) -> dict[str, Any]:
    document: dict[str, Any] = _thaw(item.raw)
    document.setdefault("source", item.source)
    return document


_UNSTRUCTURE[UnknownItem] = _unstructure_unknown


def structure_item(obj: object, *, path: str = "data[0]") -> Item:
    """One item of ``data`` as its record; errors name the item as ``path``."""
    try:
        return _structure_any_item(obj)
    except _Invalid as invalid:
        raise invalid.error(path) from None


def unstructure_item(item: Item) -> dict[str, Any]:
    """One record as the JSON object the server sent for it."""
    try:
        unstructure = _UNSTRUCTURE[type(item)]
    except KeyError:
        raise TypeError(f"not an item record: {type(item).__name__}") from None
    return unstructure(item)


# --- meta and pages ---------------------------------------------------------------------------


def _meta(obj: object, prefix: str) -> Meta:
    try:
        document = obj if isinstance(obj, dict) else _want_object(obj, "", False)
        meta: Meta = _structure_meta_fn(document)
    except _Invalid as invalid:
        raise invalid.error(prefix) from None
    return meta


def structure_meta(obj: object) -> Meta:
    """The ``meta`` object of a page; errors name paths under ``meta``."""
    return _meta(obj, "meta")


def unstructure_meta(meta: Meta) -> dict[str, Any]:
    """A :class:`Meta` as the server's ``meta`` object."""
    return _unstructure_meta_fn(meta)


def structure_page(
    payload: object, *, query: Query, fetched_at: datetime, body_bytes: int = 0
) -> Page:
    """A decoded ``{"data": [...], "meta": {...}}`` document as a :class:`Page`.

    ``body_bytes`` is the size of the body it was decoded from, kept on the page.
    Keys at the top level other than ``data`` and ``meta`` are ignored.
    Raises :class:`ResponseFormatError` naming the JSON path of the first
    malformed value.
    """
    if payload.__class__ is not dict:
        if not isinstance(payload, Mapping):
            raise ResponseFormatError(
                f'{_ROOT}: expected an object with "data" and "meta", got {_kind_of(payload)}',
                path=_ROOT,
            )
        payload = dict(payload)
    assert isinstance(payload, dict)
    for key in ("data", "meta"):
        if key not in payload:
            raise ResponseFormatError(f"{key}: required key is missing", path=key)
    data = payload["data"]
    if data.__class__ is not list and not isinstance(data, list | tuple):
        raise ResponseFormatError(f"data: expected a list, got {_kind_of(data)}", path="data")
    meta = _meta(payload["meta"], "meta")
    return Page(
        items=_structure_items(data),
        meta=meta,
        query=query,
        fetched_at=fetched_at,
        body_bytes=body_bytes,
    )


def unstructure_page(page: Page) -> dict[str, Any]:
    """A :class:`Page` as the server's document ``{"data": [...], "meta": {...}}``."""
    unstructure = _UNSTRUCTURE
    return {
        "data": [unstructure[type(item)](item) for item in page.items],
        "meta": _unstructure_meta_fn(page.meta),
    }


def decode_page(
    body: bytes, *, query: Query, fetched_at: datetime, max_items: int = MAX_PAGE_ITEMS
) -> Page:
    """A response body as a :class:`Page`; a body that is not the document, or that lists
    more than ``max_items`` items, raises :class:`ResponseFormatError`."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise _not_json(body, error) from None
    data = payload.get("data") if isinstance(payload, dict) else None
    if isinstance(data, list) and len(data) > max_items:
        # Counted before any item is structured: each one costs hundreds of bytes as a record.
        raise ResponseFormatError(
            f"data: {len(data)} items, over the cap of {max_items} items a page may hold",
            path="data",
        )
    return structure_page(payload, query=query, fetched_at=fetched_at, body_bytes=len(body))


def _not_json(body: bytes, error: orjson.JSONDecodeError) -> ResponseFormatError:
    if not bytes(body).strip():
        return ResponseFormatError("response body is empty, expected a JSON document")
    text = bytes(body[: _EXCERPT_CHARS * 4]).decode("utf-8", "replace")
    excerpt = repr(text[:_EXCERPT_CHARS])
    if len(excerpt) > _EXCERPT_CHARS or len(text) > _EXCERPT_CHARS:
        # Escaped control bytes can make the repr much longer than the text.
        excerpt = excerpt[:_EXCERPT_CHARS] + "..."
    return ResponseFormatError(f"response body is not JSON ({error.msg}): {excerpt}")


def encode_page(page: Page) -> bytes:
    """A :class:`Page` as the JSON bytes of the server's document."""
    return orjson.dumps(unstructure_page(page))


# --- the converter ----------------------------------------------------------------------------


def _build_converter() -> cattrs.Converter:
    converter = cattrs.Converter()

    def direct(cls: type) -> Callable[[object, type], Any]:
        structure = _STRUCTURE[cls]
        source = _source_constant(cls)

        def hook(obj: object, _: type) -> Any:
            try:
                if obj.__class__ is not dict:
                    obj = _want_object(obj, "", False)
                assert isinstance(obj, dict)
                if source is not None:
                    _check_shape(obj, cls, source)
                return structure(obj)
            except _Invalid as invalid:
                raise invalid.error(_ROOT) from None

        return hook

    for cls in _STRUCTURE:
        converter.register_structure_hook(cls, direct(cls))
    for cls, unstructure in _UNSTRUCTURE.items():
        converter.register_unstructure_hook(cls, unstructure)

    def unknown(obj: object, _: type) -> UnknownItem:
        item = structure_item(obj, path=_ROOT)
        if not isinstance(item, UnknownItem):
            raise ResponseFormatError(
                f"source: {item.source!r} is a known source, not an UnknownItem", path="source"
            )
        return item

    converter.register_structure_hook(UnknownItem, unknown)
    converter.register_structure_hook_func(
        lambda cls: cls == Item, lambda obj, _: structure_item(obj, path=_ROOT)
    )
    converter.register_unstructure_hook_func(lambda cls: cls == Item, unstructure_item)
    converter.register_unstructure_hook(Page, unstructure_page)
    converter.register_unstructure_hook(Decimal, _format_decimal)
    converter.register_unstructure_hook(datetime, _format_timestamp)
    converter.register_structure_hook(Decimal, _scalar(_parse_decimal, _want_decimal))
    converter.register_structure_hook(datetime, _scalar(_parse_timestamp, _want_timestamp))
    return converter


def _scalar(
    parse: Callable[[str], Any], want: Callable[[object, str, bool], Any]
) -> Callable[[object, type], Any]:
    def hook(obj: object, _: type) -> Any:
        parsed = parse(obj) if isinstance(obj, str) else None
        if parsed is not None:
            return parsed
        try:
            return want(obj, "", False)
        except _Invalid as invalid:
            raise invalid.error(_ROOT) from None

    return hook


def _check_shape(obj: dict[str, Any], cls: type, source: str) -> None:
    # Called outside the page path, where dispatch has already made sure of both.
    given = obj.get("source", _ABSENT)
    if given is _ABSENT:
        raise _Invalid("source", "required key is missing")
    if given != source:
        raise _Invalid("source", f"expected {source!r} for {cls.__name__}, got {given!r}")
    if source == "openrouter":
        benchmark = obj.get("benchmark_type")
        if isinstance(benchmark, str) and benchmark.startswith("search_") != (
            cls is SearchEvalItem
        ):
            raise _Invalid(
                "benchmark_type", f"{benchmark!r} is not the benchmark of a {cls.__name__}"
            )


_converter: Final = _build_converter()
