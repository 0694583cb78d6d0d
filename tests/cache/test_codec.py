"""Stored values are untrusted: the codec reads only what the cache could have written."""

from __future__ import annotations

import attrs
import orjson
import pytest

from openrouter_bench.cache._codec import (
    CLOCK_SKEW,
    MAX_POINTER_BYTES,
    Pointer,
    UnreadableEntry,
    as_of_text,
    pack_page,
    pack_pointer,
    unpack_page,
    unpack_pointer,
)
from openrouter_bench.query import Query
from tests._cache_fixtures import AS_OF_1, AS_OF_2, AS_OF_3, make_page
from tests.cache._stored import NOW, pointer_bytes

NAMESPACE = "openrouter-bench:v1:test.invalid"

QUERY = Query(source="artificial-analysis", task_type="coding")


def test_a_stored_pointer_reads_back() -> None:
    """A pointer as the cache writes it decodes to the same pointer."""
    pointer = Pointer(as_of=AS_OF_2, fetched_at=NOW - 5, history=(AS_OF_2, AS_OF_1))
    assert unpack_pointer(pack_pointer(QUERY, pointer), QUERY, now=NOW, history=2) == pointer


def test_an_entry_is_read_only_for_the_query_it_names() -> None:
    """A page or pointer stored for one query is unreadable as another's."""
    other = Query(source="design-arena", arena="models")
    page = pack_page(QUERY, AS_OF_1, make_page(QUERY))
    with pytest.raises(UnreadableEntry, match="another query"):
        unpack_page(page, other, AS_OF_1)
    with pytest.raises(UnreadableEntry, match="another query"):
        unpack_pointer(pointer_bytes(), other, now=NOW, history=2)


def test_a_pointer_within_the_clock_skew_reads_and_one_past_it_does_not() -> None:
    """fetched_at may lead the clock by CLOCK_SKEW seconds (hosts disagree), no more."""
    within = unpack_pointer(
        pointer_bytes(fetched_at=NOW + CLOCK_SKEW - 1), QUERY, now=NOW, history=2
    )
    assert within.fetched_at == NOW + CLOCK_SKEW - 1
    with pytest.raises(UnreadableEntry, match="in the future"):
        unpack_pointer(pointer_bytes(fetched_at=NOW + CLOCK_SKEW + 1), QUERY, now=NOW, history=2)


@pytest.mark.parametrize("fetched_at", [1e300, -1, "yesterday", True, None, [NOW], {"s": 1}])
def test_a_pointer_whose_fetched_at_is_no_moment_is_unreadable(fetched_at: object) -> None:
    """Out of range, negative or not a number: UnreadableEntry, never ValueError."""
    with pytest.raises(UnreadableEntry, match="fetched_at"):
        unpack_pointer(pointer_bytes(fetched_at=fetched_at), QUERY, now=1e301, history=2)


@pytest.mark.parametrize(
    "as_of",
    [
        "soon",
        "2026-06-03T12:00:00",  # no offset
        "2026-06-03T17:30:00+05:30",  # not the canonical text the cache writes
        "0001-01-01T00:00:00+05:00",  # outside the calendar once in UTC
        "2026-06-03T12:00:00Z" + " " * 100,
        7,
    ],
)
def test_a_pointer_whose_as_of_does_not_read_is_unreadable(as_of: object) -> None:
    """A pointer must name an as_of in the form the cache writes it, or it is a miss."""
    with pytest.raises(UnreadableEntry):
        unpack_pointer(pointer_bytes(as_of=as_of, history=[as_of]), QUERY, now=NOW, history=2)


def test_a_pointer_reads_no_more_history_than_the_policy_keeps() -> None:
    """A long history (even of bad values past the kept ones) is cut to ``history`` entries."""
    listed = [AS_OF_3, AS_OF_2, AS_OF_1, *(["not an as_of"] * 500)]
    pointer = unpack_pointer(
        pointer_bytes(as_of=AS_OF_3, history=listed), QUERY, now=NOW, history=2
    )
    assert pointer.history == (AS_OF_3, AS_OF_2)


def test_the_same_pointer_bytes_are_checked_against_the_clock_on_every_read() -> None:
    """Bytes read before still pass the clock's check anew: once the clock is set back past
    their fetched_at (beyond the skew), they are unreadable."""
    stored = pointer_bytes(fetched_at=NOW)
    first = unpack_pointer(stored, QUERY, now=NOW, history=2)
    assert unpack_pointer(bytes(stored), QUERY, now=NOW + 600, history=2) == first
    with pytest.raises(UnreadableEntry, match="in the future"):
        unpack_pointer(bytes(stored), QUERY, now=NOW - CLOCK_SKEW - 1, history=2)


def test_the_same_pointer_bytes_read_for_another_query_or_history_are_read_anew() -> None:
    """Bytes read before as one query's pointer are still another query's miss, and still
    cut to the history asked for."""
    listed = [AS_OF_3, AS_OF_2, AS_OF_1]
    stored = pointer_bytes(as_of=AS_OF_3, history=listed)
    assert unpack_pointer(stored, QUERY, now=NOW, history=3).history == tuple(listed)
    assert unpack_pointer(stored, QUERY, now=NOW, history=1).history == (AS_OF_3,)
    with pytest.raises(UnreadableEntry, match="another query"):
        unpack_pointer(stored, Query(source="design-arena"), now=NOW, history=3)


def test_a_large_pointer_within_the_cap_reads_every_time() -> None:
    """A pointer too large to be remembered (a long history) is still read, and read the same."""
    listed = [AS_OF_1] * 400
    stored = pointer_bytes(history=listed)
    assert 4096 < len(stored) <= MAX_POINTER_BYTES
    for _ in range(2):
        assert unpack_pointer(stored, QUERY, now=NOW, history=2).history == (AS_OF_1,)


def test_a_pointer_over_the_size_cap_is_refused_before_it_is_parsed() -> None:
    """A stored pointer larger than MAX_POINTER_BYTES is unreadable whatever it holds."""
    huge = pointer_bytes(history=[AS_OF_1] * (MAX_POINTER_BYTES // 10))
    assert len(huge) > MAX_POINTER_BYTES
    with pytest.raises(UnreadableEntry, match="bytes"):
        unpack_pointer(huge, QUERY, now=NOW, history=2)


def test_a_page_whose_meta_as_of_is_not_its_keys_is_unreadable() -> None:
    """A page stored under one as_of whose own meta says another is a miss."""
    stored = pack_page(QUERY, AS_OF_2, make_page(QUERY, AS_OF_1))
    with pytest.raises(UnreadableEntry, match=r"meta\.as_of"):
        unpack_page(stored, QUERY, AS_OF_2)


def test_a_page_keeps_the_servers_as_of_text_under_a_canonical_key() -> None:
    """A page whose as_of came with milliseconds is stored under the canonical as_of and
    read back with the server's text."""
    page = make_page(QUERY, AS_OF_1)
    sent = AS_OF_1.replace("Z", ".000Z")
    page = attrs.evolve(page, meta=attrs.evolve(page.meta, raw_as_of=sent))
    assert as_of_text(page.meta.as_of) == AS_OF_1
    stored = pack_page(QUERY, as_of_text(page.meta.as_of), page)
    assert orjson.loads(stored)["as_of"] == AS_OF_1
    read = unpack_page(stored, QUERY, AS_OF_1)
    assert read == page
    assert read.meta.raw_as_of == sent
    with pytest.raises(UnreadableEntry):
        unpack_page(stored, QUERY, sent)


def test_a_pointer_naming_the_guides_as_of_form_is_unreadable() -> None:
    """The cache writes as_of canonically: a pointer naming the millisecond form is a miss."""
    sent = AS_OF_1.replace("Z", ".000Z")
    with pytest.raises(UnreadableEntry):
        unpack_pointer(pointer_bytes(as_of=sent, history=[sent]), QUERY, now=NOW, history=2)
