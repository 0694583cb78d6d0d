"""The names of the cache's entries: ``{namespace}:v{format}:{kind}:{query.key}[:{as_of}]``.

A namespace is an API's host and path (:func:`namespace_for`), so two servers
never share entries; the format is the codec's (:data:`~.codec.FORMAT`), so an
old layout is never read as a new one. memcached takes fewer keys than the
others: :func:`memcached_key` makes one it accepts out of any.
"""

from __future__ import annotations

import functools
import hashlib
import re
from typing import Final

from openrouter_bench.cache._codec import FORMAT
from openrouter_bench.query import Query
from openrouter_bench.wire import parse_base_url

__all__ = ["EntryKeys", "memcached_key", "namespace_for", "redis_pattern"]

#: memcached's text protocol takes keys of at most 250 bytes, with no space or control byte.
_MEMCACHED_KEY_BYTES: Final = 250
_MEMCACHED_KEY: Final = re.compile(r"[!-~]+")


def namespace_for(base_url: str) -> str:
    """The cache namespace of an API: its host and path, so two servers never share entries.

    ``base_url`` is as :func:`~openrouter_bench.wire.check_base_url` returns it;
    its identity is the one the quota uses too.
    """
    return f"openrouter-bench:{parse_base_url(base_url, allow_insecure_http=True).identity}"


class EntryKeys:
    """Names of a namespace's entries: ``{namespace}:v{format}:{kind}:{query.key}[:{as_of}]``."""

    __slots__ = ("_text", "prefix")

    def __init__(self, namespace: str) -> None:
        self.prefix = f"{namespace}:v{FORMAT}:"
        # Bounded memo of query.key: building it costs more than a whole memory hit.
        self._text = functools.lru_cache(maxsize=4096)(_query_text)

    def pointer(self, query: Query) -> str:
        return f"{self.prefix}pointer:{self._text(query)}"

    def page(self, query: Query, as_of: str) -> str:
        return f"{self.prefix}page:{self._text(query)}:{as_of}"

    def history(self, query: Query) -> str:
        # The kept history's index (see _kept): apart from the pointer, which every hit reads.
        return f"{self.prefix}history:{self._text(query)}"

    def lease(self, query: Query) -> str:
        return f"{self.prefix}lease:{self._text(query)}"


def _query_text(query: Query) -> str:
    return query.key


def memcached_key(key: str, namespace: str | None = None) -> bytes:
    """``key`` as memcached takes it: as it is when it can be, else a readable prefix and a hash.

    A long or odd Design Arena category makes a key memcached refuses (over
    250 bytes, or with a space or control byte). Such a key becomes its first
    printable characters, ``#`` and the SHA-256 of the whole key: ``#`` never
    appears in a key as built (the query part is URL-encoded), so a hashed key
    cannot meet a plain one.
    """
    text = f"{namespace or ''}{key}"
    raw = text.encode()
    if len(raw) <= _MEMCACHED_KEY_BYTES and _MEMCACHED_KEY.fullmatch(text):
        return raw
    digest = hashlib.sha256(raw).hexdigest()
    readable = re.sub(r"[^!-~]", "_", text)[: _MEMCACHED_KEY_BYTES - len(digest) - 1]
    return f"{readable}#{digest}".encode()


def redis_pattern(prefix: str) -> str:
    """A SCAN pattern matching every key that starts with ``prefix``, taken literally."""
    return "".join(f"\\{char}" if char in "*?[]\\" else char for char in prefix) + "*"
