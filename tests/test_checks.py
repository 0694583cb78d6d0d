"""The shared checks of configured durations, counts and header values."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openrouter_bench._checks import MAX_SECONDS, count, header_value, seconds, to_seconds
from openrouter_bench.errors import ConfigurationError

# --- seconds -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1, 1.0), (0.25, 0.25), (timedelta(minutes=2), 120.0), (MAX_SECONDS, MAX_SECONDS)],
)
def test_seconds_takes_numbers_and_timedeltas(value: float | timedelta, expected: float) -> None:
    """A positive number or timedelta comes back as float seconds."""
    result = seconds("ttl", value)
    assert result == expected
    assert type(result) is float


@pytest.mark.parametrize(
    "value",
    [0, -1, math.nan, math.inf, -math.inf, True, "60", None, [1], timedelta(seconds=-1)],
)
def test_seconds_refuses_what_is_not_a_positive_duration(value: object) -> None:
    """Zero, negatives, NaN, infinities, bools and non-numbers are refused, naming the option."""
    with pytest.raises(ConfigurationError, match=r"^timeout must be"):
        seconds("timeout", value)  # type: ignore[arg-type]


def test_seconds_allows_zero_when_asked() -> None:
    """zero=True lets 0 through (no caching, no stale serves) and still refuses negatives."""
    assert seconds("ttl", 0, zero=True) == 0.0
    with pytest.raises(ConfigurationError, match=">= 0"):
        seconds("ttl", -0.5, zero=True)


def test_seconds_refuses_more_than_the_maximum() -> None:
    """A duration past ``maximum`` is refused, the maximum named."""
    with pytest.raises(ConfigurationError, match="at most 30 s"):
        seconds("every", 31, maximum=30)


def test_seconds_refuses_an_integer_too_large_for_a_float_briefly() -> None:
    """10**400 seconds is refused without an OverflowError and without its digits."""
    with pytest.raises(ConfigurationError) as caught:
        seconds("ttl", 10**400)
    assert "more than 18 digits" in str(caught.value)
    assert len(str(caught.value)) < 120


# --- to_seconds --------------------------------------------------------------


def test_to_seconds_converts_numbers_and_timedeltas_and_leaves_the_rest() -> None:
    """The converter half: floats from numbers and timedeltas, anything else untouched."""
    assert to_seconds(timedelta(seconds=3)) == 3.0
    assert type(to_seconds(90)) is float
    for value in ("60", True, None, 10**400):
        assert to_seconds(value) is value  # type: ignore[arg-type]


# --- count -------------------------------------------------------------------


def test_count_takes_whole_numbers_in_range() -> None:
    """A whole number from minimum to maximum comes back unchanged."""
    assert count("history", 1) == 1
    assert count("max_response_bytes", 1024, minimum=1024, maximum=2048) == 1024


@pytest.mark.parametrize(
    ("value", "words"),
    [(0, "at least 1"), (True, "a whole number"), (2.0, "a whole number"), ("3", "a whole number")],
)
def test_count_refuses_what_is_not_a_whole_number_in_range(value: object, words: str) -> None:
    """Bools, floats, strings and numbers below the minimum are refused, naming the option."""
    with pytest.raises(ConfigurationError, match=f"^concurrency must be {words}"):
        count("concurrency", value)  # type: ignore[arg-type]


def test_count_refuses_past_the_maximum_without_printing_digits() -> None:
    """A count of thousands of digits is refused with a short message."""
    with pytest.raises(ConfigurationError, match="at most 1000") as caught:
        count("concurrency", 10**5000, maximum=1000)
    assert len(str(caught.value)) < 120


# --- header_value ------------------------------------------------------------


@pytest.mark.parametrize("value", ["Best Model Bot", "Café ünd Ñ", "https://bot.example/x?y=1", ""])
def test_header_value_takes_printable_latin_1(value: str) -> None:
    """Printable Latin-1 text (spaces and accents included) is a header value."""
    assert header_value("app_title", value, limit=256) == value


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("a\nb", "control character U\\+000A at position 1"),
        ("a\rb", "control character U\\+000D"),
        ("\tb", "control character U\\+0009 at position 0"),
        ("a\x85", "control character U\\+0085"),
        ("bot \u2603", "U\\+2603, outside Latin-1"),
        ("a\ud800", "U\\+D800, outside Latin-1"),
    ],
)
def test_header_value_refuses_what_a_header_cannot_carry(value: str, words: str) -> None:
    """Line breaks, controls and characters past Latin-1 are refused, with where they are."""
    with pytest.raises(ConfigurationError, match=f"^app_title cannot be sent .*{words}"):
        header_value("app_title", value, limit=256)


def test_header_value_refuses_non_strings_and_long_values() -> None:
    """Only strings, and only up to the limit."""
    with pytest.raises(ConfigurationError, match="must be a string, not int"):
        header_value("app_url", 3, limit=10)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="at most 10 characters, got 11"):
        header_value("app_url", "x" * 11, limit=10)


@pytest.mark.parametrize("bad", [" ", "\n", "é", "\x00", "\u2603"])
def test_a_secret_header_value_is_visible_ascii_and_never_echoed(bad: str) -> None:
    """A secret refuses spaces and anything past visible ASCII; the message holds none of it."""
    key = "sk-or-v1-canary-0123456789abcdef"
    with pytest.raises(ConfigurationError) as caught:
        header_value("api_key", key + bad, limit=512, secret=True)
    assert "api_key cannot be sent as an HTTP header" in str(caught.value)
    assert key not in str(caught.value)
    assert "0123456789" not in str(caught.value)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_header_value_accepts_exactly_what_latin_1_printable_allows(value: str) -> None:
    """Any text is either returned unchanged or refused, as the Latin-1 rule says."""
    allowed = all(0x20 <= ord(ch) <= 0x7E or 0xA0 <= ord(ch) <= 0xFF for ch in value)
    try:
        assert header_value("app_title", value, limit=256) == value
    except ConfigurationError:
        assert not allowed
    else:
        assert allowed
