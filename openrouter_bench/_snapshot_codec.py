"""How snapshot-cache entries look as bytes, for backends that cannot hold objects.

Two kinds of entry, both small versioned JSON documents (orjson):

- a **page**: ``{"format": 1, "kind": "page", "query": {...params}, "as_of": ...,
  "fetched_at": ..., "page": {"data": [...], "meta": {...}}}`` where ``page`` is
  the endpoint's own JSON shape, so any later version of this package can read it;
- a **pointer**: ``{"format": 1, "kind": "pointer", "query": {...}, "as_of": ...,
  "fetched_at": <seconds>, "history": [as_of, ...]}`` naming the newest snapshot
  of a query and the older ones still kept, newest first.

Nothing is pickled: a shared Redis must never be a way to run code in a reader.
A value that is not one of ours (corrupt, foreign, another format) raises
:class:`UnreadableEntry`, which the cache counts as a miss.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

import attrs
import orjson

from openrouter_bench._convert import structure_page, unstructure_page
from openrouter_bench.errors import ResponseFormatError
from openrouter_bench.models import Page
from openrouter_bench.query import Query

__all__ = [
    "FORMAT",
    "BytesSerializer",
    "Pointer",
    "UnreadableEntry",
    "as_of_text",
    "decode_page",
    "decode_pointer",
    "encode_page",
    "encode_pointer",
]

#: Bumped whenever the layout of an entry changes; part of every key too.
FORMAT: Final = 1


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
    pointer also holds ``served``, the page as a hit returns it, so a hit does
    no work at all.
    """

    as_of: str
    fetched_at: float
    history: tuple[str, ...]
    served: Page | None = attrs.field(default=None, eq=False, repr=False)


def as_of_text(moment: datetime) -> str:
    """The canonical text of an ``as_of``: UTC, ISO 8601, as used in keys."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def encode_pointer(query: Query, pointer: Pointer) -> bytes:
    """A pointer as JSON bytes."""
    return orjson.dumps(
        {
            "format": FORMAT,
            "kind": "pointer",
            "query": query.params,
            "as_of": pointer.as_of,
            "fetched_at": pointer.fetched_at,
            "history": list(pointer.history),
        }
    )


def encode_page(query: Query, as_of: str, page: Page) -> bytes:
    """A page as JSON bytes: the endpoint's own shape inside a small envelope."""
    return orjson.dumps(
        {
            "format": FORMAT,
            "kind": "page",
            "query": query.params,
            "as_of": as_of,
            "fetched_at": page.fetched_at.isoformat(),
            "page": unstructure_page(page),
        }
    )


def _envelope(raw: object, query: Query, kind: str) -> dict[str, Any]:
    if not isinstance(raw, bytes | str):
        raise UnreadableEntry(f"expected bytes, found {type(raw).__name__}")
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise UnreadableEntry(f"not JSON ({error})") from None
    if not isinstance(document, dict):
        raise UnreadableEntry("not a JSON object")
    if document.get("format") != FORMAT:
        raise UnreadableEntry(f"format {document.get('format')!r}, this version reads {FORMAT}")
    if document.get("kind") != kind:
        raise UnreadableEntry(f"a {document.get('kind')!r} entry where a {kind} was expected")
    if document.get("query") != query.params:
        raise UnreadableEntry("an entry of another query")
    return document


def decode_pointer(raw: object, query: Query) -> Pointer:
    """The pointer in ``raw``; :class:`UnreadableEntry` if it is not one of ``query``'s."""
    document = _envelope(raw, query, "pointer")
    as_of = document.get("as_of")
    fetched_at = document.get("fetched_at")
    history = document.get("history")
    if (
        not isinstance(as_of, str)
        or isinstance(fetched_at, bool)
        or not isinstance(fetched_at, int | float)
        or not isinstance(history, list)
        or not history
        or history[0] != as_of
        or not all(isinstance(item, str) for item in history)
    ):
        raise UnreadableEntry("a pointer with missing or ill-typed fields")
    return Pointer(as_of=as_of, fetched_at=float(fetched_at), history=tuple(history))


def decode_page(raw: object, query: Query, as_of: str) -> Page:
    """The page in ``raw``; :class:`UnreadableEntry` if it is not ``query``'s at ``as_of``."""
    document = _envelope(raw, query, "page")
    if document.get("as_of") != as_of:
        raise UnreadableEntry("a page of another as_of")
    try:
        fetched_at = datetime.fromisoformat(document["fetched_at"])
    except (KeyError, TypeError, ValueError):
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
