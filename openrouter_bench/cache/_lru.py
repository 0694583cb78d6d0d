"""A bounded in-memory aiocache backend: least recently used entries go first.

aiocache's ``SimpleMemoryCache`` never forgets anything, so a bot that asks
endless distinct questions would grow without limit. :class:`BoundedMemoryCache`
keeps at most ``max_entries`` entries weighing at most ``max_bytes`` together,
and holds references (no serialization): what is stored is what comes back,
the same object.

What an entry weighs is an estimate, because measuring a graph of records is
far dearer than a lookup. :func:`footprint` weighs a page by the size of the
body it was decoded from, with a floor per item, both measured as resident
memory (RSS) grown per page kept, on CPython 3.11:

- the fake's unfiltered page (1,061 items of every shape, a 343 KB body) grows
  RSS by 1.8 times its body (590 bytes an item): hence :data:`BODY_FACTOR` 2;
- a page of a million tiny items (``{"source": "x"}``, a 15 MB body) grows it
  by 32 times its body (480 bytes an item): hence :data:`ITEM_FLOOR` 512 bytes.

Besides the aiocache coroutine API it has a small synchronous API
(:meth:`~BoundedMemoryCache.lookup`, :meth:`~BoundedMemoryCache.store`,
:meth:`~BoundedMemoryCache.discard`) that the snapshot cache uses for its hit
path, because aiocache's per-call decorators cost more than the lookup itself.
"""

from __future__ import annotations

import sys
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Final, NamedTuple

from aiocache.base import BaseCache
from aiocache.serializers import NullSerializer

from openrouter_bench.cache._codec import Pointer
from openrouter_bench.models import Page

__all__ = [
    "BODY_FACTOR",
    "DEFAULT_MAX_BYTES",
    "ENTRY_OVERHEAD",
    "ITEM_FLOOR",
    "LARGEST_SHARE",
    "BoundedMemoryCache",
    "Weigh",
    "footprint",
]

#: The default budget: some 50 pages of the whole data set, or thousands of ordinary ones,
#: and small beside what a long-running bot's process can spare.
DEFAULT_MAX_BYTES: Final = 64 * 1024 * 1024
#: A page's resident size per byte of the body it was decoded from (measured: 1.8).
BODY_FACTOR: Final = 2
#: A page's resident size per item at least, however small its body (measured: 480).
ITEM_FLOOR: Final = 512
#: What an entry costs besides its value: the key's text, the dict slot, the tuple,
#: the pointer record (measured: about 380 bytes for a key of 110 characters).
ENTRY_OVERHEAD: Final = 512
#: No single entry may take more than this fraction of the budget: one huge page
#: would otherwise push out everything else, and come back no sooner than they would.
LARGEST_SHARE: Final = 8

#: What a value weighs: the object holding its bulk (several entries may keep the same
#: one; it is counted once) or None when it is the value's own, and that bulk's bytes.
Weigh = Callable[[Any], tuple[object | None, int]]


def footprint(value: Any) -> tuple[object | None, int]:
    """What a value of the snapshot cache weighs (see the module docstring).

    A page's bulk is its items; a pointer holds the page a hit returns, which
    shares its items with the stored page, so the two count them once.
    """
    page = value.page if isinstance(value, Pointer) else value
    if isinstance(page, Page):
        return page.items, max(BODY_FACTOR * page.body_bytes, ITEM_FLOOR * len(page.items))
    if isinstance(value, Pointer):
        return None, 0
    return None, sys.getsizeof(value)


#: The dict methods :meth:`BoundedMemoryCache.raw` passes through.
_READ_COMMANDS: Final = frozenset({"__contains__", "__len__", "keys"})


class _Entry(NamedTuple):
    value: Any
    deadline: float | None
    #: ``id()`` of the bulk this entry shares with others, or None.
    bulk: int | None
    #: Bytes counted for this entry alone.
    own: int


class BoundedMemoryCache(BaseCache):  # type: ignore[misc]  # aiocache ships no type hints
    """An LRU dict behind the aiocache ``BaseCache`` interface, bounded in entries and bytes.

    ``max_entries`` bounds the number of keys and ``max_bytes`` their weight
    together (``weigh``, :func:`footprint` by default, plus
    :data:`ENTRY_OVERHEAD` each); storing past either drops the least recently
    used. A value weighing more than ``max_bytes / LARGEST_SHARE`` is not kept
    (and no older value stays under its key): :meth:`store` says False.
    Expiry is lazy: an entry past its ttl is dropped when it is next looked at
    (or pushed out by newer ones), so no timer runs per key. ``clock``
    measures ttls (monotonic seconds by default).
    """

    NAME = "bounded-memory"

    def __init__(
        self,
        max_entries: int = 10_000,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        weigh: Weigh = footprint,
        clock: Callable[[], float] = time.monotonic,
        **kwargs: Any,
    ) -> None:
        for name, bound in (("max_entries", max_entries), ("max_bytes", max_bytes)):
            if isinstance(bound, bool) or not isinstance(bound, int) or bound < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {bound!r}")
        kwargs.setdefault("serializer", NullSerializer())
        super().__init__(**kwargs)
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        #: The heaviest value that is kept.
        self.max_value_bytes = max_bytes // LARGEST_SHARE
        self._weigh = weigh
        self._clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        # id(bulk) -> [entries keeping it, its bytes]; an entry's value keeps the bulk
        # alive, so an id stays unique while it is counted here.
        self._bulks: dict[int, list[int]] = {}
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        mib = 1024 * 1024
        return (
            f"<BoundedMemoryCache {len(self._entries)}/{self.max_entries} entries, "
            f"{self._bytes / mib:.1f}/{self.max_bytes / mib:.1f} MiB>"
        )

    @property
    def accounted_bytes(self) -> int:
        """What the entries weigh together, as counted against ``max_bytes``."""
        return self._bytes

    # The synchronous API: what the aiocache methods below are built on.

    def lookup(self, key: str) -> Any:
        """The value under ``key`` (marking it recently used), or None."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        deadline = entry[1]
        if deadline is not None and self._clock() >= deadline:
            self.discard(key)
            return None
        self._entries.move_to_end(key)
        return entry[0]

    def store(self, key: str, value: Any, ttl: float | None = None) -> bool:
        """Keep ``value`` under ``key`` for ``ttl`` seconds (None or 0: until evicted).

        False when ``value`` weighs more than ``max_value_bytes``: then nothing
        is kept under ``key``.
        """
        return self._put(key, value, None if not ttl else self._clock() + ttl)

    def _put(self, key: str, value: Any, deadline: float | None) -> bool:
        self.discard(key)
        bulk, size = self._weigh(value)
        if size + ENTRY_OVERHEAD > self.max_value_bytes:
            return False
        own = ENTRY_OVERHEAD
        bulk_id = None
        if bulk is None:
            own += size
        else:
            bulk_id = id(bulk)
            held = self._bulks.get(bulk_id)
            if held is None:
                self._bulks[bulk_id] = [1, size]
                self._bytes += size
            else:
                held[0] += 1
        self._bytes += own
        entries = self._entries
        entries[key] = _Entry(value, deadline, bulk_id, own)
        while len(entries) > self.max_entries or self._bytes > self.max_bytes:
            self._uncount(entries.popitem(last=False)[1])
        return True

    def _uncount(self, entry: _Entry) -> None:
        self._bytes -= entry.own
        if entry.bulk is not None:
            held = self._bulks[entry.bulk]
            held[0] -= 1
            if not held[0]:
                del self._bulks[entry.bulk]
                self._bytes -= held[1]

    def discard(self, key: str) -> bool:
        """Drop ``key``; True if it was there."""
        entry = self._entries.pop(key, None)
        if entry is None:
            return False
        self._uncount(entry)
        return True

    def keys_with_prefix(self, prefix: str) -> list[str]:
        """Every live key that starts with ``prefix``."""
        return [key for key in self._entries if key.startswith(prefix)]

    # The aiocache backend hooks.

    async def _get(self, key: str, encoding: str | None = "utf-8", _conn: Any = None) -> Any:
        return self.lookup(key)

    async def _gets(self, key: str, encoding: str | None = "utf-8", _conn: Any = None) -> Any:
        return self.lookup(key)

    async def _multi_get(
        self, keys: list[str], encoding: str | None = "utf-8", _conn: Any = None
    ) -> list[Any]:
        return [self.lookup(key) for key in keys]

    async def _set(
        self,
        key: str,
        value: Any,
        ttl: float | None = None,
        _cas_token: Any = None,
        _conn: Any = None,
    ) -> bool:
        if _cas_token is not None and _cas_token != self.lookup(key):
            return False
        return self.store(key, value, ttl)

    async def _multi_set(
        self, pairs: list[tuple[str, Any]], ttl: float | None = None, _conn: Any = None
    ) -> bool:
        kept = [self.store(key, value, ttl) for key, value in pairs]
        return all(kept)

    async def _add(self, key: str, value: Any, ttl: float | None = None, _conn: Any = None) -> bool:
        if self.lookup(key) is not None:
            raise ValueError(f"Key {key} already exists, use .set to update the value")
        return self.store(key, value, ttl)

    async def _exists(self, key: str, _conn: Any = None) -> bool:
        return self.lookup(key) is not None

    async def _increment(self, key: str, delta: int, _conn: Any = None) -> int:
        current = self.lookup(key)
        if current is None:
            value = delta
        else:
            try:
                value = int(current) + delta
            except (TypeError, ValueError):
                raise TypeError("Value is not an integer") from None
        # An increment keeps the entry's expiry, as Redis does.
        entry = self._entries.get(key)
        self._put(key, value, None if entry is None else entry.deadline)
        return value

    async def _expire(self, key: str, ttl: float | None, _conn: Any = None) -> bool:
        value = self.lookup(key)
        if value is None:
            return False
        self.store(key, value, ttl)
        return True

    async def _delete(self, key: str, _conn: Any = None) -> int:
        return int(self.discard(key))

    async def _clear(self, namespace: str | None = None, _conn: Any = None) -> int:
        if namespace:
            doomed = self.keys_with_prefix(namespace)
            for key in doomed:
                self.discard(key)
            return len(doomed)
        count = len(self._entries)
        self._entries.clear()
        self._bulks.clear()
        self._bytes = 0
        return count

    async def _raw(
        self, command: str, *args: Any, encoding: Any = None, _conn: Any = None, **kwargs: Any
    ) -> Any:
        # Only commands that read: one that wrote behind the weights would unbalance them.
        if command not in _READ_COMMANDS:
            raise ValueError(f"raw {command!r} is not one of {sorted(_READ_COMMANDS)}")
        return getattr(self._entries, command)(*args, **kwargs)

    async def _redlock_release(self, key: str, value: Any) -> int:
        if self.lookup(key) == value:
            return int(self.discard(key))
        return 0

    @classmethod
    def parse_uri_path(cls, path: str) -> dict[str, str]:
        """No options live in a memory URI's path."""
        return {}
