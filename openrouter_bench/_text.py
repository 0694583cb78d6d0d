"""Untrusted text made safe to show: the one place server (or cache) text is cleaned.

Anything a response carries (an error ``message``, ``metadata``, an HTML
``<title>``, a body excerpt, a kept header, the text of an aiohttp error that
quotes the bytes it choked on) passes through :func:`untrusted_text` before it
reaches an exception, an attribute or a log record. The server can then
neither echo the key into a log, nor flood a record with megabytes, nor
forge log lines with newlines or terminal escapes.

:func:`plural` is the one way a count and its noun are written for people
("1 item", "3 items"), wherever the package prints or logs one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

__all__ = ["REDACTED", "TEXT_LIMIT", "plural", "untrusted_text"]

#: What stands where a secret was.
REDACTED: Final = "<redacted>"

#: The most characters of one untrusted text kept (a few hundred: enough to read, too few to flood).
TEXT_LIMIT: Final = 300

# C0 and C1 controls, DEL, and the Unicode line and paragraph separators: each can
# break a log line, forge one, or drive a terminal.
_CONTROLS: Final = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_SPACES: Final = re.compile(r"\s{2,}")


def untrusted_text(text: object, *, secrets: Iterable[str] = (), limit: int = TEXT_LIMIT) -> str:
    """``text`` with every secret replaced, control characters made spaces, cut to ``limit``.

    Secrets are replaced before cutting (so a cut can never leave half a key)
    and again once the control characters are gone (so a key split by a
    newline is still found). A cut text ends in ``…``.
    """
    value = text if isinstance(text, str) else str(text)
    hidden = [secret for secret in secrets if secret]
    # Longest first: "Bearer <key>" is replaced whole, not left as "Bearer <redacted>".
    hidden.sort(key=len, reverse=True)
    for secret in hidden:
        value = value.replace(secret, REDACTED)
    spaced = _CONTROLS.sub(" ", value)
    if any(secret in _CONTROLS.sub("", value) and secret not in spaced for secret in hidden):
        # A key split by control characters: join it up so that it is found and hidden.
        spaced = _CONTROLS.sub("", value)
    value = _SPACES.sub(" ", spaced).strip()
    for secret in hidden:
        value = value.replace(secret, REDACTED)
    if len(value) > limit:
        value = value[: max(0, limit - 1)].rstrip() + "…"
    return value


def plural(count: int, noun: str, many: str | None = None) -> str:
    """``count`` and ``noun``, the noun in the plural unless the count is one.

    ``many`` is the plural when adding an "s" does not make it ("1 query", "2 queries").
    """
    return f"{count} {noun if count == 1 else many or noun + 's'}"
