"""Untrusted text made safe to show: the one place server (or cache) text is cleaned.

Anything a response carries (an error ``message``, ``metadata``, an HTML
``<title>``, a body excerpt, a kept header, the text of an aiohttp error that
quotes the bytes it choked on) passes through :func:`untrusted_text` before it
reaches an exception, an attribute or a log record. The server can then
neither echo the key into a log, nor flood a record with megabytes, nor
forge log lines with newlines or terminal escapes.

Text for a terminal (a table's cells, headings and footers, a watch's
sentences) passes through :func:`printable` instead: whole, every character
kept, but each control and invisible character shown as an escape, so the
server can neither drive the terminal nor hide that it tried.

:func:`plural` is the one way a count and its noun are written for people
("1 item", "3 items"), wherever the package prints or logs one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

__all__ = ["REDACTED", "TEXT_LIMIT", "plural", "printable", "untrusted_text"]

#: What stands where a secret was.
REDACTED: Final = "<redacted>"

#: The most characters of one untrusted text kept (a few hundred: enough to read, too few to flood).
TEXT_LIMIT: Final = 300

# C0 and C1 controls, DEL, and the Unicode line and paragraph separators: each can
# break a log line, forge one, or drive a terminal. They become spaces.
_CONTROLS: Final = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
# Characters that show as nothing: zero-width and bidirectional controls (which can
# make a log line read other than it is), the soft hyphen, the byte-order mark, tag
# characters, and lone surrogates (aiohttp keeps undecodable header bytes as those,
# and a log stream that encodes strictly fails on them). They are dropped, so a key
# cannot hide behind one either.
_INVISIBLE: Final = re.compile(
    "[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb"
    "\ud800-\udfff\U000e0000-\U000e007f]+"
)
_SPACES: Final = re.compile(r"\s{2,}")

# How much of a text is looked at, per character kept: a megabyte message costs no
# more to clean than a few kilobytes, whatever its content.
_SCAN_FACTOR: Final = 16


def untrusted_text(
    text: object,
    *,
    secrets: Iterable[str] = (),
    limit: int = TEXT_LIMIT,
    cut: bool = False,
) -> str:
    """``text`` with every secret replaced, control characters made spaces, cut to ``limit``.

    Secrets are replaced before cutting (so a cut can never leave half a key)
    and again once the control and invisible characters are gone (so a key
    split by a newline or a zero-width space is still found). A cut text ends
    in ``…``. Only the first ``16 * limit`` characters (and some) are looked
    at, so the work is bounded whatever the size of ``text``.

    ``cut=True`` says ``text`` is already the start of something longer (a
    prefix of a body): its end may then be the first half of a secret, so the
    end is dropped.
    """
    if isinstance(text, str):
        value = text
    else:
        try:
            value = str(text)
        except Exception:  # noqa: BLE001  # e.g. an int too long to print: show its kind only
            value = f"<{type(text).__name__}>"
    limit = max(1, limit)
    hidden = [secret for secret in secrets if secret]
    # Longest first: "Bearer <key>" is replaced whole, not left as "Bearer <redacted>".
    hidden.sort(key=len, reverse=True)
    longest = len(hidden[0]) if hidden else 0
    scan = _SCAN_FACTOR * limit + 4 * longest
    if len(value) > scan:
        value, cut = value[:scan], True
    value = _INVISIBLE.sub("", value)
    for secret in hidden:
        value = value.replace(secret, REDACTED)
    spaced = _CONTROLS.sub(" ", value)
    joined = _CONTROLS.sub("", value)
    if any(secret in joined for secret in hidden):
        # A key split by control characters: join it up so that it is found and hidden.
        spaced = joined
    value = _SPACES.sub(" ", spaced).strip()
    for secret in hidden:
        value = value.replace(secret, REDACTED)
    if cut and longest:
        # What ends a cut text may be the head of a secret, spread by the spaces that
        # replaced control characters to at most twice its length: drop that much.
        value = value[: max(0, len(value) - 2 * longest)].rstrip()
    if cut or len(value) > limit:
        value = value[: max(0, limit - 1)].rstrip() + "…"
    return value


def _escaped(code: int) -> str:
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _escape(found: re.Match[str]) -> str:
    return "".join(_escaped(ord(char)) for char in found.group())


def printable(text: str) -> str:
    """``text`` safe to print on a terminal, each control and invisible character as an escape.

    The characters :func:`untrusted_text` makes spaces or drops (C0 and C1
    controls with ESC, tab, CR and newline among them, DEL, the line
    separators, zero-width and bidi controls, lone surrogates) are written as
    Python writes them in a string (``\\x1b``, ``\\u202e``): what was there
    stays visible, and nothing reaches the terminal as a command. The result
    is one line, and an escape is as wide on screen as its ``len`` (it is
    ASCII), so tables aligned by ``len`` stay aligned; cleaning it again
    changes nothing. Nothing is cut and no secret is looked for: this
    is for data shown to the person who asked for it.
    """
    return _INVISIBLE.sub(_escape, _CONTROLS.sub(_escape, text))


def plural(count: int, noun: str, many: str | None = None) -> str:
    """``count`` and ``noun``, the noun in the plural unless the count is one.

    ``many`` is the plural when adding an "s" does not make it ("1 query", "2 queries").
    """
    return f"{count} {noun if count == 1 else many or noun + 's'}"
