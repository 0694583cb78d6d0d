"""Checks of what a caller configures: one answer to "is this a valid duration?".

Every duration and count a constructor takes goes through :func:`seconds` or
:func:`count`, so every bad value (a bool, a string, NaN, infinity, a
negative, a number too large to use) gets the same :class:`ConfigurationError`
naming the option and the value, never a bare ``ValueError`` or
``OverflowError`` from deeper down. Every configured text sent as a request
header (the key, the attribution headers) goes through :func:`header_value`,
so a value aiohttp would refuse at send time is refused at construction.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta
from typing import Final

from openrouter_bench.errors import ConfigurationError

__all__ = ["MAX_SECONDS", "count", "header_value", "seconds", "to_seconds"]

#: No configured duration may be longer than this: 100 years, far past any real use,
#: well inside what ``datetime`` and ``asyncio`` timers can represent.
MAX_SECONDS: Final = 100 * 365.25 * 86_400.0

# What a header value may hold: printable Latin-1 (servers read header bytes as Latin-1);
# a key, visible ASCII only (no real key has anything else).
_NOT_HEADER: Final = re.compile("[^\x20-\x7e\xa0-\xff]")
_NOT_KEY: Final = re.compile("[^\x21-\x7e]")


def seconds(
    name: str,
    value: float | timedelta,
    *,
    zero: bool = False,
    maximum: float = MAX_SECONDS,
) -> float:
    """``value`` (float seconds or a ``timedelta``) as float seconds, or ConfigurationError.

    The value must be finite, positive (or zero where ``zero`` is True), and at
    most ``maximum``.
    """
    wanted = "a number of seconds >= 0" if zero else "a positive number of seconds"
    if isinstance(value, timedelta):
        number: object = value.total_seconds()
    else:
        number = value
    if isinstance(number, bool) or not isinstance(number, int | float):
        raise ConfigurationError(f"{name} must be {wanted}, got {_shown(value)}")
    try:
        as_float = float(number)
    except OverflowError:
        as_float = math.inf
    if math.isnan(as_float) or as_float < 0 or (as_float == 0 and not zero):
        raise ConfigurationError(f"{name} must be {wanted}, got {_shown(value)}")
    if as_float > maximum:
        raise ConfigurationError(f"{name} must be at most {maximum:g} s, got {_shown(value)}")
    return as_float


def to_seconds(value: float | timedelta) -> float:
    """Float seconds from a number or a ``timedelta``; anything else is returned as it is.

    The converter half of an attrs duration field, whose validator then calls
    :func:`seconds` and refuses a bad value by the field's name (a converter
    is not told the name).
    """
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, int | float) and not isinstance(value, bool) and abs(value) <= MAX_SECONDS:
        return float(value)
    return value


def count(name: str, value: int, *, minimum: int = 1, maximum: int | None = None) -> int:
    """``value`` as a whole number from ``minimum`` to ``maximum``, or ConfigurationError."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigurationError(f"{name} must be a whole number, got {_shown(value)}")
    if value < minimum:
        raise ConfigurationError(f"{name} must be at least {minimum}, got {_shown(value)}")
    if maximum is not None and value > maximum:
        raise ConfigurationError(f"{name} must be at most {maximum}, got {_shown(value)}")
    return value


def header_value(name: str, value: str, *, limit: int, secret: bool = False) -> str:
    """``value`` if it can be sent as an HTTP header value, or ConfigurationError.

    It must be a string of at most ``limit`` characters, each a printable
    Latin-1 character (no control character, no line break, no tab; aiohttp
    refuses line breaks at send time and servers refuse the rest). With
    ``secret`` the characters must be visible ASCII, and the message names the
    kind of character and its position, never the value.
    """
    if not isinstance(value, str):
        raise ConfigurationError(f"{name} must be a string, not {type(value).__name__}")
    if len(value) > limit:
        raise ConfigurationError(f"{name} must be at most {limit} characters, got {len(value)}")
    wrong = (_NOT_KEY if secret else _NOT_HEADER).search(value)
    if wrong is not None:
        raise ConfigurationError(
            f"{name} cannot be sent as an HTTP header: {_kind_of(wrong.group(), secret)} "
            f"at position {wrong.start()}"
        )
    return value


def _kind_of(character: str, secret: bool) -> str:
    point = ord(character)
    if point < 0x20 or 0x7F <= point <= 0x9F:
        # A control character's code point tells nothing about a key; name it, it helps.
        return f"control character U+{point:04X}"
    if point == 0x20:
        return "a space"
    if secret:
        return "a character that is not visible ASCII"
    return f"character U+{point:04X}, outside Latin-1"


def _shown(value: object) -> str:
    # A caller's value, shown short: an int of thousands of digits must not become the message.
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**18:
        return "a number with more than 18 digits"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
