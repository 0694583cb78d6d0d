"""untrusted_text: the one cleaner of server and cache text before it reaches an error or a log.

printable: server text made safe for a terminal, every character still shown.
"""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openrouter_bench._text import REDACTED, TEXT_LIMIT, printable, untrusted_text

KEY = "sk-or-v1-0123456789abcdef0123456789abcdef"
SECRETS = (f"Bearer {KEY}", KEY)

# Every character untrusted_text must never let through.
_FORBIDDEN = {chr(code) for code in [*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029]}
_FORBIDDEN |= {"\u200b", "\u200e", "\u202e", "\u2066", "\ufeff", "\u00ad"}


def _assert_clean(text: str, limit: int = TEXT_LIMIT) -> None:
    assert KEY not in text
    assert not _FORBIDDEN & set(text)
    assert not any(0xD800 <= ord(ch) <= 0xDFFF for ch in text)
    assert len(text) <= limit


def test_plain_text_is_kept_as_it_is() -> None:
    """Ordinary text within the limit comes back unchanged."""
    assert untrusted_text("upstream timed out (après 30 s)") == "upstream timed out (après 30 s)"


def test_non_text_is_shown_as_text() -> None:
    """A number or a mapping is shown through str()."""
    assert untrusted_text(404) == "404"
    assert untrusted_text({"a": 1}) == "{'a': 1}"


def test_an_int_too_long_to_print_shows_its_kind() -> None:
    """str() of a 5000-digit int raises in Python; the cleaner shows '<int>' instead."""
    assert untrusted_text(10**5000) == "<int>"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (KEY, REDACTED),
        (f"Bearer {KEY}", REDACTED),
        (f"got Authorization: Bearer {KEY} here", f"got Authorization: {REDACTED} here"),
        (f"{KEY}{KEY}", REDACTED + REDACTED),
    ],
)
def test_secrets_are_replaced(text: str, expected: str) -> None:
    """The key, bare or as the header value, is replaced whole."""
    assert untrusted_text(text, secrets=SECRETS) == expected


def test_a_secret_past_the_cut_is_replaced_before_cutting() -> None:
    """A key that straddles the limit never leaves its first half behind."""
    text = "x" * (TEXT_LIMIT - 5) + KEY
    cleaned = untrusted_text(text, secrets=SECRETS)
    assert KEY[:8] not in cleaned
    assert cleaned.endswith("…")
    assert len(cleaned) == TEXT_LIMIT


def test_a_secret_before_the_cut_is_replaced() -> None:
    """A key early in a long text is replaced and the rest cut."""
    cleaned = untrusted_text(KEY + " " + "y" * 10_000, secrets=SECRETS)
    assert cleaned.startswith(REDACTED + " yyy")
    assert len(cleaned) == TEXT_LIMIT


@pytest.mark.parametrize("splitter", ["\n", "\r\n", "\x00", "\x1b", "\x85", "\u2028", "\t\n\t"])
def test_a_key_split_by_control_characters_is_still_found(splitter: str) -> None:
    """A key broken by a newline or another control character is joined up and replaced."""
    text = f"echo {KEY[:13]}{splitter}{KEY[13:]} done"
    cleaned = untrusted_text(text, secrets=SECRETS)
    assert REDACTED in cleaned
    assert KEY[13:] not in cleaned
    _assert_clean(cleaned)


@pytest.mark.parametrize("splitter", ["\u200b", "\u200d", "\u00ad", "\ufeff", "\u202e", "\u2066"])
def test_a_key_split_by_an_invisible_character_is_still_found(splitter: str) -> None:
    """Zero-width, soft-hyphen, BOM and bidi characters are dropped, so no key hides behind one."""
    cleaned = untrusted_text(f"{KEY[:9]}{splitter}{KEY[9:]}", secrets=SECRETS)
    assert cleaned == REDACTED


def test_bearer_split_from_the_key_by_a_newline_is_replaced() -> None:
    """'Bearer' and the key on two lines still hide the key."""
    cleaned = untrusted_text(f"Bearer\n{KEY}", secrets=SECRETS)
    assert KEY not in cleaned
    _assert_clean(cleaned)


def test_forged_log_lines_become_one_line() -> None:
    """Newlines and ANSI escapes cannot start a new record or drive a terminal."""
    text = "boom\n2026-01-01 00:00:00 CRITICAL forged\r\n\x1b[31mred\x1b[0m"
    cleaned = untrusted_text(text)
    assert cleaned == "boom 2026-01-01 00:00:00 CRITICAL forged [31mred [0m"
    _assert_clean(cleaned)


def test_c1_controls_and_unicode_separators_become_spaces() -> None:
    """NEL, CSI (C1), DEL and U+2028/U+2029 are control characters like any other."""
    cleaned = untrusted_text("a\x85b\x9bc\x7fd\u2028e\u2029f")
    assert cleaned == "a b c d e f"


def test_lone_surrogates_are_dropped() -> None:
    """Undecodable header bytes (kept by aiohttp as surrogates) cannot break a log stream."""
    cleaned = untrusted_text("caf\udce9 ok")
    assert cleaned == "caf ok"
    cleaned.encode("utf-8")


@pytest.mark.parametrize("limit", [1, 2, 10, 120, TEXT_LIMIT])
def test_the_limit_holds_and_a_cut_ends_in_an_ellipsis(limit: int) -> None:
    """A text over the limit is cut to exactly the limit, ellipsis included."""
    cleaned = untrusted_text("word " * 1000, limit=limit)
    assert len(cleaned) <= limit
    assert cleaned.endswith("…")


def test_a_limit_below_one_still_gives_a_bounded_text() -> None:
    """A nonsensical limit is taken as 1, never an error."""
    assert untrusted_text("abc", limit=0) == "…"


def test_a_text_already_cut_drops_a_trailing_half_key() -> None:
    """cut=True: the end of a prefix may be half a key, so it is dropped."""
    cleaned = untrusted_text("start " + KEY[:20], secrets=SECRETS, cut=True)
    assert KEY[:8] not in cleaned
    assert cleaned.endswith("…")


def test_a_megabyte_costs_no_more_than_a_few_kilobytes() -> None:
    """Only a bounded prefix is looked at: 16 MB of text is cleaned in well under a second."""
    text = ("\n" * 7 + KEY[:20]) * (16 * 1024 * 1024 // 27)
    started = time.perf_counter()
    cleaned = untrusted_text(text, secrets=SECRETS)
    assert time.perf_counter() - started < 1.0
    _assert_clean(cleaned)


def test_a_key_at_the_end_of_the_scanned_prefix_leaves_no_half() -> None:
    """A long text cut for the scan never shows half of a key that straddled the cut."""
    for shift in range(0, 60, 7):
        text = "\n" * (16 * TEXT_LIMIT + 4 * len(SECRETS[0]) - shift) + KEY + "z" * 10
        cleaned = untrusted_text(text, secrets=SECRETS)
        assert KEY[:8] not in cleaned


def test_empty_secrets_are_ignored() -> None:
    """An empty secret would match everywhere; it is skipped."""
    assert untrusted_text("abc", secrets=("", "b")) == f"a{REDACTED}c"


@given(
    before=st.text(max_size=400),
    after=st.text(max_size=400),
    splitter=st.sampled_from(["", "\n", "\x1b", "\u200b", "\u2028", "\x9b"]),
    at=st.integers(min_value=0, max_value=len(KEY)),
    limit=st.integers(min_value=1, max_value=500),
    bearer=st.booleans(),
)
def test_no_text_ever_shows_the_key_a_control_or_too_much(
    before: str, after: str, splitter: str, at: int, limit: int, bearer: bool
) -> None:
    """Any text around the key, split anywhere, comes out clean and within the limit."""
    echoed = ("Bearer " if bearer else "") + KEY[:at] + splitter + KEY[at:]
    cleaned = untrusted_text(before + echoed + after, secrets=SECRETS, limit=limit)
    _assert_clean(cleaned, limit)


@given(st.text(), st.integers(min_value=1, max_value=400))
def test_any_text_comes_out_clean_and_bounded(text: str, limit: int) -> None:
    """Whatever the text, the result has no control character and fits the limit."""
    _assert_clean(untrusted_text(text, secrets=SECRETS, limit=limit), limit)


def test_printable_keeps_ordinary_text_as_it_is() -> None:
    """Accents, other scripts, symbols, a backslash: nothing to escape, nothing changed."""
    text = "Kimi K2 (après) 中文 ▁▂█ $0.5/M \\ ok"
    assert printable(text) == text


def test_printable_shows_each_terminal_command_as_an_escape() -> None:
    """ESC, BEL, CR, newline, tab, NUL, DEL, C1 CSI, bidi and zero-width: each one, escaped."""
    assert printable("a\x1b[2Jb") == "a\\x1b[2Jb"
    assert printable("\x1b]52;c;aGk=\x07") == "\\x1b]52;c;aGk=\\x07"
    assert printable("\r\n\t\x00\x7f\x9b") == "\\x0d\\x0a\\x09\\x00\\x7f\\x9b"
    assert printable("x\u202ey\u200bz\u2028") == "x\\u202ey\\u200bz\\u2028"
    assert printable("tag\U000e0041") == "tag\\U000e0041"
    assert printable("\ud800") == "\\ud800"


@given(st.text())
def test_printable_text_has_no_control_and_cleaning_it_again_changes_nothing(text: str) -> None:
    """Whatever the text, the result has no control or invisible character, and is a fixed point."""
    shown = printable(text)
    assert not _FORBIDDEN & set(shown)
    assert not any(0xD800 <= ord(ch) <= 0xDFFF for ch in shown)
    assert printable(shown) == shown
