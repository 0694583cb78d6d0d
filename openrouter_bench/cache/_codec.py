"""How snapshot-cache entries look as bytes, for backends that cannot hold objects.

Two kinds of entry, both small versioned JSON documents (orjson):

- a **page**: ``{"format": 2, "kind": "page", "key": query.key, "as_of": ...,
  "fetched_at": ..., "page": {"data": [...], "meta": {...}}}`` where ``page`` is
  the endpoint's own JSON shape, so any later version of this package can read it;
- a **pointer**: ``{"format": 2, "kind": "pointer", "key": query.key, "as_of": ...,
  "fetched_at": <seconds>, "history": [as_of, ...]}`` naming the newest snapshot
  of a query and the older ones still kept, newest first.

A stored value is untrusted: anyone who can write to a shared Redis,
memcached or SQLite file can put anything under any key. So a value is only
read as an answer to the query it names (``key``), a page only as the
snapshot its key and its own ``meta.as_of`` both say, a pointer only if it is
small, dated no later than now (give or take :data:`CLOCK_SKEW`) and names
well-formed ``as_of`` values, and no more of its history is read than the
cache keeps. Nothing is pickled: a shared Redis must never be a way to run
code in a reader. A value that fails any check raises
:class:`UnreadableEntry`, which the cache counts as a miss.
"""

from __future__ import annotations

import functools
import math
import reprlib
from datetime import UTC, datetime
from typing import Any, Final

import attrs
import orjson

from openrouter_bench._convert import structure_page, unstructure_page
from openrouter_bench.errors import ResponseFormatError
from openrouter_bench.models import Page
from openrouter_bench.query import Query

__all__ = [
    "CLOCK_SKEW",
    "FORMAT",
    "MAX_POINTER_BYTES",
    "BytesSerializer",
    "Pointer",
    "UnreadableEntry",
    "as_of_text",
    "pack_page",
    "pack_pointer",
    "unpack_page",
    "unpack_pointer",
]

#: Bumped whenever the layout of an entry changes; part of every key too.
#: 2: entries name their query by ``query.key`` (1 held its parameters).
FORMAT: Final = 2

#: Seconds a pointer may be dated ahead of this cache's clock (clocks of hosts sharing a
#: backend disagree a little); one dated later is a miss, or it would stay fresh for ever.
CLOCK_SKEW: Final = 60.0

#: The largest stored pointer decoded at all: a real one is a few hundred bytes.
MAX_POINTER_BYTES: Final = 64 * 1024


#: What a stored value may be: bytes, or text from a backend that decodes what it reads.
_TEXT: Final = (bytes, str)


class UnreadableEntry(Exception):
    """A stored value is not a readable entry of this format (corrupt, foreign or old)."""


class BytesSerializer:
    """An aiocache serializer that passes bytes through untouched.

    aiocache backends default to pickling (or to str/JSON of Python objects);
    the snapshot cache hands them finished bytes and wants the same bytes back.
    ``encoding = None`` tells aiocache not to decode what it reads.
    """

    encoding: str | None = None

    def dumps(self, value: bytes) -> bytes:
        """The value as it is."""
        return value

    def loads(self, value: bytes | None) -> bytes | None:
        """The value as it is."""
        return value


@attrs.frozen
class Pointer:
    """The newest snapshot of a query and when this cache last confirmed it.

    ``fetched_at`` is in the cache clock's seconds; ``history`` lists the
    ``as_of`` of every kept snapshot, newest (``as_of``) first. In memory the
    pointer also holds ``page``, the page itself as a hit returns it, so a hit
    does no work at all.
    """

    as_of: str
    fetched_at: float
    history: tuple[str, ...]
    page: Page | None = attrs.field(default=None, eq=False, repr=False)


def as_of_text(moment: datetime) -> str:
    """The canonical text of an ``as_of``: UTC, ISO 8601, as used in keys."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def pack_pointer(query: Query, pointer: Pointer) -> bytes:
    """A pointer as JSON bytes."""
    return orjson.dumps(
        {
            "format": FORMAT,
            "kind": "pointer",
            "key": query.key,
            "as_of": pointer.as_of,
            "fetched_at": pointer.fetched_at,
            "history": list(pointer.history),
        }
    )


def pack_page(query: Query, as_of: str, page: Page) -> bytes:
    """A page as JSON bytes: the endpoint's own shape inside a small envelope."""
    return orjson.dumps(
        {
            "format": FORMAT,
            "kind": "page",
            "key": query.key,
            "as_of": as_of,
            "fetched_at": page.fetched_at.isoformat(),
            "page": unstructure_page(page),
        }
    )


def _shown(value: object) -> str:
    # A stored value can be megabytes: name it in a few dozen characters, never build it whole.
    return reprlib.repr(value)


def _envelope(raw: object, key: str, kind: str) -> dict[str, Any]:
    if not isinstance(raw, _TEXT):
        raise UnreadableEntry(f"expected bytes, found {type(raw).__name__}")
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise UnreadableEntry(f"not JSON ({error})") from None
    if not isinstance(document, dict):
        raise UnreadableEntry("not a JSON object")
    if document.get("format") != FORMAT:
        raise UnreadableEntry(
            f"format {_shown(document.get('format'))}, this version reads {FORMAT}"
        )
    if document.get("kind") != kind:
        raise UnreadableEntry(f"a {_shown(document.get('kind'))} entry where a {kind} was expected")
    if document.get("key") != key:
        raise UnreadableEntry(f"an entry of another query ({_shown(document.get('key'))})")
    return document


def _as_of(value: object) -> str:
    """``value`` if it is an ``as_of`` in canonical form (as :func:`as_of_text` writes it)."""
    if isinstance(value, str) and len(value) <= 40 and _canonical(value):
        return value
    raise UnreadableEntry(f"a pointer naming an as_of that does not read: {_shown(value)}")


@functools.lru_cache(maxsize=1024)
def _canonical(text: str) -> bool:
    # Bounded memo: every hit reads the same few as_of texts, and parsing costs a few µs.
    try:
        moment = datetime.fromisoformat(text)
        return moment.utcoffset() is not None and as_of_text(moment) == text
    except (ValueError, OverflowError):
        return False


def _moment(value: object) -> float:
    """``value`` if it is a moment a pointer can have been confirmed at (any day up to now)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UnreadableEntry(f"a pointer whose fetched_at is not a number: {_shown(value)}")
    moment = float(value)
    if not math.isfinite(moment) or moment < 0:
        raise UnreadableEntry(f"a pointer whose fetched_at is not a moment: {value!r}")
    try:
        datetime.fromtimestamp(moment, UTC)
    except (OverflowError, OSError, ValueError):
        raise UnreadableEntry(f"a pointer whose fetched_at is out of range: {value!r}") from None
    return moment


def _pointer(raw: object, key: str, history: int) -> Pointer:
    """Every check of :func:`unpack_pointer` but the clock's."""
    if isinstance(raw, _TEXT) and len(raw) > MAX_POINTER_BYTES:
        raise UnreadableEntry(f"a pointer of {len(raw)} bytes, over {MAX_POINTER_BYTES}")
    document = _envelope(raw, key, "pointer")
    as_of = _as_of(document.get("as_of"))
    fetched_at = _moment(document.get("fetched_at"))
    listed = document.get("history")
    if not isinstance(listed, list) or not listed or listed[0] != as_of:
        raise UnreadableEntry("a pointer whose history does not start at its as_of")
    kept = tuple(dict.fromkeys(_as_of(item) for item in listed[:history]))
    return Pointer(as_of=as_of, fetched_at=fetched_at, history=kept)


# Bounded in count and in the size of what it holds: at most 1,024 pointers of 4 KiB (a
# real one is a few hundred bytes); a larger one is read in full every time. A value that
# fails a check raises, and lru_cache keeps nothing of a call that raised.
_MEMO_POINTER_BYTES: Final = 4096
_checked_pointer: Final = functools.lru_cache(maxsize=1024)(_pointer)


def unpack_pointer(raw: object, query: Query, *, now: float, history: int) -> Pointer:
    """The pointer in ``raw``; :class:`UnreadableEntry` if it is not one of ``query``'s.

    ``now`` is the cache clock (a pointer dated past it by more than
    :data:`CLOCK_SKEW` is refused); at most ``history`` entries of its history
    are read, however many it lists.
    """
    if isinstance(raw, bytes) and len(raw) <= _MEMO_POINTER_BYTES:
        # Every hit reads the same pointer bytes until the next refresh moves it: the same
        # bytes read as the same pointer, so they are decoded and checked once. What
        # depends on the clock is checked again on every read.
        pointer = _checked_pointer(raw, query.key, history)
    else:
        pointer = _pointer(raw, query.key, history)
    if pointer.fetched_at > now + CLOCK_SKEW:
        raise UnreadableEntry(f"a pointer dated {pointer.fetched_at - now:.0f} s in the future")
    return pointer


def unpack_page(raw: object, query: Query, as_of: str) -> Page:
    """The page in ``raw``; :class:`UnreadableEntry` if it is not ``query``'s at ``as_of``."""
    document = _envelope(raw, query.key, "page")
    if document.get("as_of") != as_of:
        raise UnreadableEntry("a page of another as_of")
    try:
        fetched_at = datetime.fromisoformat(document["fetched_at"])
        if fetched_at.tzinfo is not None:
            fetched_at.astimezone(UTC)
    except (KeyError, TypeError, ValueError, OverflowError):
        raise UnreadableEntry("a page without a readable fetched_at") from None
    if fetched_at.tzinfo is None:
        raise UnreadableEntry("a page whose fetched_at has no time zone")
    payload = document.get("page")
    if not isinstance(payload, dict):
        raise UnreadableEntry("a page without its payload")
    try:
        page = structure_page(payload, query=query, fetched_at=fetched_at)
    except ResponseFormatError as error:
        raise UnreadableEntry(f"a page that does not read: {error}") from None
    if as_of_text(page.meta.as_of) != as_of:
        raise UnreadableEntry("a page whose meta.as_of is not its key's")
    return page
