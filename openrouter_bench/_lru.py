"""A bounded in-memory aiocache backend: least recently used entries go first.

aiocache's ``SimpleMemoryCache`` never forgets anything, so a bot that asks
endless distinct questions would grow without limit. :class:`BoundedMemoryCache`
keeps at most ``max_entries`` entries and holds references (no serialization):
what is stored is what comes back, the same object.

Besides the aiocache coroutine API it has a small synchronous API
(:meth:`~BoundedMemoryCache.lookup`, :meth:`~BoundedMemoryCache.store`,
:meth:`~BoundedMemoryCache.discard`) that the snapshot cache uses for its hit
path, because aiocache's per-call decorators cost more than the lookup itself.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from aiocache.base import BaseCache
from aiocache.serializers import NullSerializer

__all__ = ["BoundedMemoryCache"]


class BoundedMemoryCache(BaseCache):  # type: ignore[misc]  # aiocache ships no type hints
    """An LRU dict behind the aiocache ``BaseCache`` interface.

    ``max_entries`` bounds the number of keys; storing one more drops the least
    recently used. Expiry is lazy: an entry past its ttl is dropped when it is
    next looked at (or pushed out by newer ones), so no timer runs per key.
    ``clock`` measures ttls (monotonic seconds by default).
    """

    NAME = "bounded-memory"

    def __init__(
        self,
        max_entries: int = 10_000,
        *,
        clock: Callable[[], float] = time.monotonic,
        **kwargs: Any,
    ) -> None:
        if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 1:
            raise ValueError(f"max_entries must be an integer >= 1, got {max_entries!r}")
        kwargs.setdefault("serializer", NullSerializer())
        super().__init__(**kwargs)
        self.max_entries = max_entries
        self._clock = clock
        # key -> (value, deadline or None)
        self._entries: OrderedDict[str, tuple[Any, float | None]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"<BoundedMemoryCache {len(self._entries)}/{self.max_entries} entries>"

    # The synchronous API: what the aiocache methods below are built on.

    def lookup(self, key: str) -> Any:
        """The value under ``key`` (marking it recently used), or None."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        deadline = entry[1]
        if deadline is not None and self._clock() >= deadline:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry[0]

    def store(self, key: str, value: Any, ttl: float | None = None) -> None:
        """Keep ``value`` under ``key`` for ``ttl`` seconds (None or 0: until evicted)."""
        self._put(key, value, None if not ttl else self._clock() + ttl)

    def _put(self, key: str, value: Any, deadline: float | None) -> None:
        entries = self._entries
        entries[key] = (value, deadline)
        entries.move_to_end(key)
        while len(entries) > self.max_entries:
            entries.popitem(last=False)

    def discard(self, key: str) -> bool:
        """Drop ``key``; True if it was there."""
        return self._entries.pop(key, None) is not None

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
        self.store(key, value, ttl)
        return True

    async def _multi_set(
        self, pairs: list[tuple[str, Any]], ttl: float | None = None, _conn: Any = None
    ) -> bool:
        for key, value in pairs:
            self.store(key, value, ttl)
        return True

    async def _add(self, key: str, value: Any, ttl: float | None = None, _conn: Any = None) -> bool:
        if self.lookup(key) is not None:
            raise ValueError(f"Key {key} already exists, use .set to update the value")
        self.store(key, value, ttl)
        return True

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
        self._put(key, value, None if entry is None else entry[1])
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
                del self._entries[key]
            return len(doomed)
        count = len(self._entries)
        self._entries.clear()
        return count

    async def _raw(
        self, command: str, *args: Any, encoding: Any = None, _conn: Any = None, **kwargs: Any
    ) -> Any:
        return getattr(self._entries, command)(*args, **kwargs)

    async def _redlock_release(self, key: str, value: Any) -> int:
        if self.lookup(key) == value:
            return int(self.discard(key))
        return 0

    @classmethod
    def parse_uri_path(cls, path: str) -> dict[str, str]:
        """No options live in a memory URI's path."""
        return {}
