"""Where the cache's entries live: one adapter per kind of backend.

Each adapter reads and writes pointers and pages, and owns what only it knows
about its backend: how to list the namespace's keys, how to clear them, how
to describe itself, how long a call may take and how to close it. The
snapshot rules (:mod:`~openrouter_bench.cache._snapshots`) never ask which
backend they run on; :func:`entries_for` picks the adapter once.

- :class:`ObjectEntries`: any aiocache backend that keeps Python objects
  (``NullSerializer``), e.g. ``SimpleMemoryCache``; :class:`MemoryEntries`
  drives the bounded LRU directly.
- :class:`ByteEntries`: any serializing backend, entries as versioned JSON
  bytes (:mod:`~openrouter_bench.cache._codec`); :class:`RedisEntries`,
  :class:`SQLiteEntries` and :class:`MemcachedEntries` add what their
  backend can (or cannot) do.
"""

from __future__ import annotations

import abc
import asyncio
import functools
import logging
import re
import sqlite3
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from typing import Any, ClassVar, Final, TypeVar, cast

from aiocache.base import BaseCache
from aiocache.serializers import NullSerializer

from openrouter_bench import _redis
from openrouter_bench._text import untrusted_text
from openrouter_bench.cache._codec import (
    MAX_POINTER_BYTES,
    Pointer,
    UnreadableEntry,
    pack_page,
    pack_pointer,
    unpack_page,
    unpack_pointer,
)
from openrouter_bench.cache._kept import (
    MAX_INDEX_BYTES,
    HistoryIndex,
    pack_index,
    store_evictions,
    unpack_index,
)
from openrouter_bench.cache._keys import EntryKeys, redis_pattern
from openrouter_bench.cache._lru import BoundedMemoryCache
from openrouter_bench.cache._sqlite import SQLiteCache, StoreBound
from openrouter_bench.errors import ConfigurationError
from openrouter_bench.models import Page
from openrouter_bench.query import Query

__all__ = [
    "BACKEND_DEADLINE",
    "ByteEntries",
    "Entries",
    "MemcachedEntries",
    "MemoryEntries",
    "NotStored",
    "ObjectEntries",
    "RedisEntries",
    "SQLiteEntries",
    "cannot_store",
    "entries_for",
    "redis_client_of",
]

_T = TypeVar("_T")

#: Keys whose unreadable value was already logged at warning level (then at debug): a
#: poisoned key read on every call must not flood the log.
_WARNED_KEYS: Final = 1024
#: A stored page larger than this is encoded and decoded on a worker thread: both take
#: some 30 ns a byte, so up to 2 ms on the loop, and a page at the response cap 0.5 s.
_OFF_LOOP_BYTES: Final = 64 * 1024
#: The same for a page known only by its items (about 320 bytes each as JSON).
_OFF_LOOP_ITEMS: Final = 200
#: The largest value each kind of backend holds (by aiocache ``NAME``): memcached's
#: default item size (1 MiB, its key and header included), Redis's bulk length, SQLite's
#: default SQLITE_MAX_LENGTH. A backend's own ``max_value_bytes`` attribute wins.
_VALUE_LIMITS: Final = {
    "memcached": 1024 * 1024 - 1024,
    "redis": 512 * 1024 * 1024,
    "sqlite": 1_000_000_000,
}
#: A large value is given this long per byte on top of the backend timeout to travel
#: (32 MB/s: a 15 MB page gets half a second more), so its size is not taken for an outage.
_BACKEND_SECONDS_PER_BYTE: Final = 1 / 32e6
#: The largest page Redis returns in the same round trip as its pointer: a larger one (or
#: one planted that large) is read by a GET of its own, which its size dwarfs anyway.
_ONE_TRIP_PAGE_BYTES: Final = 1024 * 1024
#: Reads a pointer (at most ARGV[1] + 1 bytes, as GETRANGE reads it alone) and the page
#: it names (key ARGV[2] .. as_of) when that weighs at most ARGV[3] bytes. Replies {}
#: (no pointer), {pointer} or {pointer, as_of, page or nil}; a value of the wrong type
#: reads as the byte 0xff, which no entry starts with. The as_of is found where this package's
#: pointers have it (a JSON decode costs the server more than the whole GET); a pointer
#: laid out otherwise comes alone. The reader checks everything again: the script only
#: saves a round trip, it decides nothing.
_READ_CURRENT: Final = r"""
local head = redis.pcall('GETRANGE', KEYS[1], 0, tonumber(ARGV[1]))
if type(head) ~= 'string' then return {'\255'} end
if head == '' then return {} end
local shape = '^{"format":%d+,"kind":"pointer","key":"[^"]*","as_of":"([^"\\]*)"'
local as_of = string.match(head, shape)
if as_of == nil or #as_of > 40 then return {head} end
local name = ARGV[2] .. as_of
local size = redis.pcall('STRLEN', name)
if type(size) ~= 'number' then return {head, as_of, '\255'} end
if size > tonumber(ARGV[3]) then return {head} end
if size == 0 then return {head, as_of, false} end
return {head, as_of, redis.call('GET', name)}
"""
#: Where this package's pointers name their as_of (as the Redis script finds it).
_POINTER_AS_OF: Final = re.compile(
    rb'\{"format":\d+,"kind":"pointer","key":"[^"]*","as_of":"([^"\\]{1,40})"'
)
#: The running backend call's timeout, so work moved off the loop can leave it out.
BACKEND_DEADLINE: ContextVar[asyncio.Timeout | None] = ContextVar(
    "openrouter_bench_backend_deadline", default=None
)


class Entries(abc.ABC):
    """What every adapter offers; a subclass overrides what its backend does differently."""

    #: True when pages are kept as objects (a pointer may carry its page: a hit does no work).
    holds_objects: ClassVar[bool] = False
    #: The bounded in-process LRU, when the entries are in one (hits skip the backend timeout).
    memory: BoundedMemoryCache | None = None
    #: The redis-py client the backend uses, when it is Redis (leases and a shared quota use it).
    redis_client: Any = None
    #: True when the backend holds the kept pages of every query to ``store_bytes``.
    counts_store: ClassVar[bool] = False

    def __init__(self, backend: BaseCache, keys: EntryKeys, retain: int) -> None:
        self.backend = backend
        self.keys = keys
        self.retain = retain
        #: How long a page is kept after its last write: ``retain``, or None (no expiry)
        #: once :meth:`keep_pages` was called (``CachePolicy.history_bytes`` is set).
        self.page_retain: int | None = retain
        #: What the kept pages of every query may weigh together where the backend can
        #: count it (``CachePolicy.history_store_bytes``; 0: no such bound).
        self.store_bytes = 0

    def keep_pages(self, store_bytes: int = 0) -> None:
        """Store pages without an expiry from now on: the kept history's index drops them,
        and a backend that can count them holds them all to ``store_bytes`` (0: no bound)."""
        self.page_retain = None
        self.store_bytes = store_bytes

    @property
    def timeout(self) -> float | None:
        """The longest one backend call may take before the backend counts as down."""
        return _redis.TIMEOUT

    @abc.abstractmethod
    async def read_pointer(self, query: Query) -> Pointer | None:
        """The pointer of ``query``, or None (missing, or not one this cache wrote)."""

    @abc.abstractmethod
    async def read_page(self, query: Query, as_of: str) -> Page | None:
        """The page of ``query`` at ``as_of``, or None (missing, or not one this cache wrote)."""

    @abc.abstractmethod
    async def write_page(self, query: Query, as_of: str, page: Page) -> None:
        """Store ``page`` as the snapshot of ``query`` at ``as_of``, for ``retain`` seconds."""

    @abc.abstractmethod
    async def keep_page(self, query: Query, as_of: str, page: Page) -> Page:
        """The stored page of ``query`` at ``as_of`` (``page`` if gone), kept ``retain`` more."""

    @abc.abstractmethod
    async def write_pointer(self, query: Query, pointer: Pointer) -> None:
        """Store ``pointer`` as the newest snapshot of ``query``, for ``retain`` seconds."""

    async def read_current(self, query: Query, held: str | None) -> tuple[Pointer | None, Any]:
        """The pointer of ``query`` and, where the backend reads both at once, its page.

        The page (a :class:`~openrouter_bench.models.Page`, checked as
        :meth:`read_page` checks it) is None when it was not read with the
        pointer, or is missing: the caller reads it with :meth:`read_page`
        if it needs it. ``held`` is the ``as_of`` of a page of ``query`` the
        caller holds decoded already (None: none); the pointer then comes alone.
        """
        return await self.read_pointer(query), None

    async def write_snapshot(
        self,
        query: Query,
        pointer: Pointer,
        page: Page,
        *,
        keep: bool,
        dropped: Sequence[str],
        index: HistoryIndex | None = None,
    ) -> None:
        """Store ``page`` at ``pointer.as_of`` (``keep``: renew the stored one), drop the
        pages of ``dropped``, write ``index`` (the kept history's, when given), then
        ``pointer``; here one operation after another.

        A page the backend cannot hold still leaves the pointer written (then the
        refusal is raised), as when each operation is made on its own.
        """
        refused: Exception | None = None
        try:
            if keep:
                await self.keep_page(query, pointer.as_of, page)
            else:
                await self.write_page(query, pointer.as_of, page)
        except Exception as error:
            if not cannot_store(error):
                raise
            refused = error
        for as_of in dropped:
            await self.delete_page(query, as_of)
        if index is not None:
            await self.write_index(query, index)
        await self.write_pointer(query, pointer)
        if refused is not None:
            raise refused

    @abc.abstractmethod
    async def delete_page(self, query: Query, as_of: str) -> None:
        """Drop the page of ``query`` at ``as_of`` (one past the history kept)."""

    @abc.abstractmethod
    async def read_index(self, query: Query, count: int) -> HistoryIndex | None:
        """The kept history's index of ``query`` (at most ``count`` snapshots), or None."""

    @abc.abstractmethod
    async def write_index(self, query: Query, index: HistoryIndex) -> None:
        """Store the kept history's index of ``query``, without an expiry (as its pages)."""

    async def clear(self) -> int:
        """Remove the namespace's entries; how many (0 when the backend does not count)."""
        removed = await self.backend.clear(namespace=self.backend.build_key(self.keys.prefix))
        return removed if type(removed) is int else 0

    async def stored_keys(self) -> list[str] | None:
        """The namespace's keys, or None when the backend cannot list them."""
        return None

    def describe(self) -> str:
        """The backend in a few words (its kind and where it is)."""
        backend = self.backend
        endpoint = getattr(backend, "endpoint", None)
        port = getattr(backend, "port", None)
        name = getattr(backend, "NAME", type(backend).__name__)
        return f"{name} {endpoint}:{port}" if endpoint is not None else str(name)

    async def close(self) -> None:
        """Close the backend (only called when the cache opened it)."""
        await self.backend.close(timeout=None)


class ObjectEntries(Entries):
    """Entries kept as Python objects (memory backends): references, no serialization."""

    holds_objects: ClassVar[bool] = True

    async def _get(self, key: str) -> Any:
        return await self.backend.get(key, timeout=None)

    async def _set(self, key: str, value: Any, ttl: int | None) -> None:
        await self.backend.set(key, value, ttl=ttl, timeout=None)

    async def _delete(self, key: str) -> None:
        await self.backend.delete(key, timeout=None)

    async def read_pointer(self, query: Query) -> Pointer | None:
        value = await self._get(self.keys.pointer(query))
        return value if isinstance(value, Pointer) else None

    async def read_page(self, query: Query, as_of: str) -> Page | None:
        value = await self._get(self.keys.page(query, as_of))
        return value if isinstance(value, Page) else None

    async def write_page(self, query: Query, as_of: str, page: Page) -> None:
        await self._set(self.keys.page(query, as_of), page, self.page_retain)

    async def keep_page(self, query: Query, as_of: str, page: Page) -> Page:
        stored = await self.read_page(query, as_of)
        if stored is None:
            stored = page
        await self._set(self.keys.page(query, as_of), stored, self.page_retain)
        return stored

    async def write_pointer(self, query: Query, pointer: Pointer) -> None:
        await self._set(self.keys.pointer(query), pointer, self.retain)

    async def delete_page(self, query: Query, as_of: str) -> None:
        await self._delete(self.keys.page(query, as_of))

    async def read_index(self, query: Query, count: int) -> HistoryIndex | None:
        value = await self._get(self.keys.history(query))
        if not isinstance(value, HistoryIndex) or not value.snapshots:
            return None
        return HistoryIndex(value.snapshots[:count])

    async def write_index(self, query: Query, index: HistoryIndex) -> None:
        await self._set(self.keys.history(query), index, None)


class MemoryEntries(ObjectEntries):
    """Objects in the bounded LRU, driven directly (aiocache's decorators cost more than a dict)."""

    def __init__(self, backend: BoundedMemoryCache, keys: EntryKeys, retain: int) -> None:
        super().__init__(backend, keys, retain)
        self.memory = backend

    @property
    def timeout(self) -> float | None:
        # In-process dict operations: nothing to wait for.
        return None

    async def _get(self, key: str) -> Any:
        return cast(BoundedMemoryCache, self.memory).lookup(key)

    async def _set(self, key: str, value: Any, ttl: int | None) -> None:
        memory = cast(BoundedMemoryCache, self.memory)
        if not memory.store(key, value, ttl):
            raise NotStored(f"over the memory cache's {memory.max_value_bytes}-byte share")

    async def _delete(self, key: str) -> None:
        cast(BoundedMemoryCache, self.memory).discard(key)

    async def stored_keys(self) -> list[str] | None:
        return cast(BoundedMemoryCache, self.memory).keys_with_prefix(self.keys.prefix)

    def describe(self) -> str:
        memory = cast(BoundedMemoryCache, self.memory)
        return (
            f"memory ({len(memory)}/{memory.max_entries} entries, "
            f"{memory.accounted_bytes / 1024:.0f} KiB of {memory.max_bytes / 1024:.0f} KiB)"
        )


def _as_is(value: Any) -> Any:
    return value


class NotStored(Exception):
    """The backend cannot hold this one entry (its size or its key): not an outage."""


def _value_limit(backend: BaseCache) -> int | None:
    """The largest value ``backend`` holds, if it is known."""
    limit = getattr(backend, "max_value_bytes", None)
    if isinstance(limit, int):
        return limit
    return _VALUE_LIMITS.get(str(getattr(backend, "NAME", "")))


def cannot_store(error: Exception) -> bool:
    """True when a backend refused one entry (its key or its size), as opposed to failing."""
    if isinstance(error, NotStored | sqlite3.DataError):
        # sqlite3.DataError: "string or blob too big".
        return True
    if type(error).__module__.startswith("aiomcache"):
        # A key aiomcache will not send (ValidationException), or memcached's
        # "SERVER_ERROR object too large for cache".
        return type(error).__name__ == "ValidationException" or "too large" in str(error)
    # aiocache turns aiomcache's ValidationException on a write into this TypeError.
    return isinstance(error, TypeError) and str(error).startswith("aiomcache error:")


def _allow_for(size: int) -> None:
    """Give the running backend call time to move ``size`` bytes before it counts as hung."""
    deadline = BACKEND_DEADLINE.get()
    when = None if deadline is None else deadline.when()
    if deadline is not None and when is not None:
        deadline.reschedule(when + size * _BACKEND_SECONDS_PER_BYTE)


async def _off_loop(work: Callable[..., _T], *args: Any) -> _T:
    """``work(*args)`` on a worker thread; its time does not count against a backend timeout."""
    deadline = BACKEND_DEADLINE.get()
    when = None if deadline is None else deadline.when()
    if deadline is None or when is None:
        return await asyncio.to_thread(work, *args)
    loop = asyncio.get_running_loop()
    left = when - loop.time()
    deadline.reschedule(None)
    try:
        return await asyncio.to_thread(work, *args)
    finally:
        deadline.reschedule(loop.time() + left)


class ByteEntries(Entries):
    """Entries kept as versioned JSON bytes (memcached, SQLite, any serializing backend)."""

    def __init__(
        self,
        backend: BaseCache,
        keys: EntryKeys,
        retain: int,
        logger: logging.Logger,
        *,
        clock: Callable[[], float],
        history: int,
    ) -> None:
        super().__init__(backend, keys, retain)
        self.logger = logger
        # What a stored pointer is checked against: it may not be dated past now, nor
        # make this cache read more history than it keeps.
        self.clock = clock
        self.history = history
        self._warned: dict[str, None] = {}
        self.value_limit = _value_limit(backend)

    # The four primitives, through aiocache's API.

    async def _load(self, key: str) -> object:
        return await self.backend.get(key, loads_fn=_as_is, timeout=None)

    async def _save(self, key: str, data: bytes, ttl: int | None) -> None:
        await self.backend.set(key, data, ttl=ttl, dumps_fn=_as_is, timeout=None)

    async def _renew(self, key: str, ttl: int | None) -> bool:
        # aiocache's expire with 0 lifts the expiry (memcached's touch, SQLite's own).
        return bool(await self.backend.expire(key, ttl or 0, timeout=None))

    async def _remove(self, key: str) -> None:
        await self.backend.delete(key, timeout=None)

    async def _load_head(self, key: str, limit: int) -> object:
        """The value at ``key``, or at least its first ``limit + 1`` bytes (more is a miss)."""
        return await self._load(key)

    # The entries, on top of them.

    async def _read(self, key: str, limit: int | None = None) -> object:
        try:
            return await (self._load(key) if limit is None else self._load_head(key, limit))
        except UnicodeDecodeError:
            # A backend set up to decode text met bytes that are not text: not ours.
            return b"\xff"

    async def _discard_unreadable(self, key: str, error: UnreadableEntry) -> None:
        # Corrupt, foreign or planted by someone who can write to the backend: a miss, said
        # once per key at warning level, then at debug.
        level = logging.DEBUG if key in self._warned else logging.WARNING
        if level == logging.WARNING:
            if len(self._warned) >= _WARNED_KEYS:
                self._warned.pop(next(iter(self._warned)))
            self._warned[key] = None
        self.logger.log(
            level,
            "snapshot cache: ignoring unreadable entry %s: %s",
            untrusted_text(key),
            untrusted_text(error),
        )
        await self._remove(key)

    async def read_pointer(self, query: Query) -> Pointer | None:
        key = self.keys.pointer(query)
        return await self._pointer_in(key, await self._read(key, MAX_POINTER_BYTES), query)

    async def _pointer_in(self, key: str, raw: object, query: Query) -> Pointer | None:
        if raw is None:
            return None
        try:
            return unpack_pointer(raw, query, now=self.clock(), history=self.history)
        except UnreadableEntry as error:
            await self._discard_unreadable(key, error)
            return None

    async def read_page(self, query: Query, as_of: str) -> Page | None:
        key = self.keys.page(query, as_of)
        return await self._page_in(key, await self._read(key), query, as_of)

    async def _page_in(self, key: str, raw: object, query: Query, as_of: str) -> Page | None:
        if raw is None:
            return None
        try:
            if isinstance(raw, bytes | str) and len(raw) > _OFF_LOOP_BYTES:
                return await _off_loop(unpack_page, raw, query, as_of)
            return unpack_page(raw, query, as_of)
        except UnreadableEntry as error:
            await self._discard_unreadable(key, error)
            return None

    async def write_page(self, query: Query, as_of: str, page: Page) -> None:
        await self._save(
            self.keys.page(query, as_of), await self._packed(query, as_of, page), self.page_retain
        )

    async def _packed(self, query: Query, as_of: str, page: Page) -> bytes:
        """``page`` as stored bytes, or NotStored when the backend cannot hold them."""
        if page.body_bytes > _OFF_LOOP_BYTES or len(page.items) > _OFF_LOOP_ITEMS:
            data = await _off_loop(pack_page, query, as_of, page)
        else:
            data = pack_page(query, as_of, page)
        if self.value_limit is not None and len(data) > self.value_limit:
            raise NotStored(f"a {len(data)}-byte page, over the backend's {self.value_limit}")
        _allow_for(len(data))
        return data

    async def keep_page(self, query: Query, as_of: str, page: Page) -> Page:
        # Renewing the expiry is one small command; the page is only written again
        # when it is gone (expired, evicted, or dropped as unreadable).
        if not await self._renew(self.keys.page(query, as_of), self.page_retain):
            await self.write_page(query, as_of, page)
        return page

    async def write_pointer(self, query: Query, pointer: Pointer) -> None:
        await self._save(self.keys.pointer(query), pack_pointer(query, pointer), self.retain)

    async def delete_page(self, query: Query, as_of: str) -> None:
        await self._remove(self.keys.page(query, as_of))

    async def read_index(self, query: Query, count: int) -> HistoryIndex | None:
        key = self.keys.history(query)
        raw = await self._read(key, MAX_INDEX_BYTES)
        if raw is None:
            return None
        try:
            return unpack_index(raw, query, count=count)
        except UnreadableEntry as error:
            await self._discard_unreadable(key, error)
            return None

    async def write_index(self, query: Query, index: HistoryIndex) -> None:
        await self._save(self.keys.history(query), pack_index(query, index), None)


class RedisEntries(ByteEntries):
    """Byte entries over the redis-py client inside an aiocache Redis backend.

    aiocache's Redis ``set`` with a ttl calls redis-py's deprecated ``setex``
    (a DeprecationWarning per write on redis-py 5+), and its decorators cost
    more than the command; the raw client does each primitive in one command.
    Keys still go through the backend's ``build_key``, so a namespace set on
    the aiocache instance is honoured.
    """

    def __init__(
        self,
        backend: BaseCache,
        client: Any,
        keys: EntryKeys,
        retain: int,
        logger: logging.Logger,
        *,
        clock: Callable[[], float],
        history: int,
    ) -> None:
        super().__init__(backend, keys, retain, logger, clock=clock, history=history)
        self.redis_client = client
        # Imported here: redis is optional, and this class exists only when it is installed.
        from redis.exceptions import ResponseError

        self._refused = ResponseError
        # None once the server refused the script (scripting off, or a proxy without it).
        self._read_script: Any = client.register_script(_READ_CURRENT)

    def _name(self, key: str) -> str:
        return cast(str, self.backend.build_key(key))

    async def _load(self, key: str) -> object:
        try:
            return await self.redis_client.get(self._name(key))
        except self._refused as error:
            return self._not_a_string(error)

    async def _load_head(self, key: str, limit: int) -> object:
        # A pointer is read only so far: a planted value of hundreds of megabytes costs
        # one small read, not a transfer that times out and takes the backend for down.
        try:
            head = await self.redis_client.getrange(self._name(key), 0, limit)
        except self._refused as error:
            return self._not_a_string(error)
        return head or None  # GETRANGE reads a missing key as empty

    @staticmethod
    def _not_a_string(error: Exception) -> object:
        # Someone stored a list or a hash under our key: an unreadable entry, not a
        # backend failure (which would turn the cache off for every query).
        if str(error).startswith("WRONGTYPE"):
            return b"\xff"
        raise error

    async def _save(self, key: str, data: bytes, ttl: int | None) -> None:
        await self.redis_client.set(self._name(key), data, ex=ttl)

    async def read_current(self, query: Query, held: str | None) -> tuple[Pointer | None, Any]:
        # One round trip: a script reads the pointer and the page it names (the page's
        # key depends on the pointer's as_of, so a pipeline of two GETs cannot). When the
        # caller holds a page of this query, the pointer almost always names it: then a
        # plain GETRANGE, cheaper on the server than running a script, and a second
        # round trip only the first time a new as_of is read.
        script = self._read_script
        if script is None or held is not None:
            return await super().read_current(query, held)
        key = self.keys.pointer(query)
        prefix = self._name(self.keys.page(query, ""))
        try:
            reply = await script(
                keys=[self._name(key)], args=[MAX_POINTER_BYTES, prefix, _ONE_TRIP_PAGE_BYTES]
            )
        except self._refused as error:
            self._read_script = None
            self.logger.info(
                "snapshot cache: Redis refused the read script (%s); reading pointer and page "
                "one after the other",
                untrusted_text(error),
            )
            return await super().read_current(query, held)
        if not isinstance(reply, list) or not reply:
            return None, None
        pointer = await self._pointer_in(key, reply[0], query)
        if pointer is None or len(reply) < 3 or not isinstance(reply[1], bytes):
            return pointer, None
        as_of = reply[1].decode(errors="replace")
        # The script found the page by its own reading of the pointer: it counts only if that
        # is the checked pointer's as_of, under the name this cache gives that page.
        if as_of != pointer.as_of or self._name(self.keys.page(query, as_of)) != prefix + as_of:
            return pointer, None
        return pointer, await self._page_in(self.keys.page(query, as_of), reply[2], query, as_of)

    async def write_snapshot(
        self,
        query: Query,
        pointer: Pointer,
        page: Page,
        *,
        keep: bool,
        dropped: Sequence[str],
        index: HistoryIndex | None = None,
    ) -> None:
        # One round trip, and atomic: readers never see the pointer before its page.
        as_of = pointer.as_of
        data: bytes | None = None
        refused: NotStored | None = None
        if not keep:
            try:
                data = await self._packed(query, as_of, page)
            except NotStored as error:
                refused = error
        async with self.redis_client.pipeline(transaction=True) as pipe:
            name = self._name(self.keys.page(query, as_of))
            if keep and self.page_retain is None:
                # A kept page: first whether it is there, then lift any expiry it was given.
                pipe.exists(name)
                pipe.persist(name)
            elif keep:
                pipe.expire(name, self.page_retain)
            elif data is not None:
                pipe.set(name, data, ex=self.page_retain)
            for old in dropped:
                pipe.delete(self._name(self.keys.page(query, old)))
            if index is not None:
                pipe.set(self._name(self.keys.history(query)), pack_index(query, index))
            pipe.set(
                self._name(self.keys.pointer(query)), pack_pointer(query, pointer), ex=self.retain
            )
            results = await pipe.execute()
        if keep and not results[0]:
            # The kept page was gone (expired, evicted, dropped as unreadable): write it again.
            await self.write_page(query, as_of, page)
        if refused is not None:
            raise refused

    async def _renew(self, key: str, ttl: int | None) -> bool:
        name = self._name(key)
        if ttl is not None:
            return bool(await self.redis_client.expire(name, ttl))
        async with self.redis_client.pipeline(transaction=True) as pipe:
            pipe.exists(name)
            pipe.persist(name)
            there, _ = await pipe.execute()
        return bool(there)

    async def _remove(self, key: str) -> None:
        await self.redis_client.delete(self._name(key))

    async def clear(self) -> int:
        prefix = self._name(self.keys.prefix)
        removed = 0
        batch: list[bytes] = []
        async for key in self.redis_client.scan_iter(match=redis_pattern(prefix), count=500):
            batch.append(key)
            if len(batch) >= 500:
                removed += await self.redis_client.delete(*batch)
                batch = []
        if batch:
            removed += await self.redis_client.delete(*batch)
        return removed

    async def stored_keys(self) -> list[str] | None:
        prefix = self.keys.prefix
        named = self._name(prefix)
        return [
            prefix + key.decode()[len(named) :]
            async for key in self.redis_client.scan_iter(match=redis_pattern(named), count=500)
        ]

    async def close(self) -> None:
        # aiocache's close() calls redis-py's deprecated close().
        await self.redis_client.aclose()


class SQLiteEntries(ByteEntries):
    """Byte entries over :class:`SQLiteCache`, whose pointers are read only up to the cap.

    A new snapshot is written in one transaction with its pointer and index, and
    there the store's kept pages are held to ``store_bytes`` together.
    """

    counts_store: ClassVar[bool] = True

    async def read_current(self, query: Query, held: str | None) -> tuple[Pointer | None, Any]:
        # Pointer and page in one hop to the worker thread, unless the caller holds a page
        # of this query (the pointer almost always names it: then the pointer alone).
        if held is not None:
            return await super().read_current(query, held)
        backend = cast(SQLiteCache, self.backend)
        key = self.keys.pointer(query)

        def page_name(head: Any) -> str | None:
            found = _POINTER_AS_OF.match(head) if isinstance(head, bytes) else None
            if found is None:
                return None
            return cast(str, backend.build_key(self.keys.page(query, found[1].decode("latin-1"))))

        head, raw = await backend.get_head_and_named(
            cast(str, backend.build_key(key)), MAX_POINTER_BYTES, page_name
        )
        pointer = await self._pointer_in(key, head, query)
        if pointer is None or raw is None:
            return pointer, None
        # The page was found by the pointer's text, before its checks: it counts only if it
        # is the checked pointer's as_of.
        found = _POINTER_AS_OF.match(head) if isinstance(head, bytes) else None
        if found is None or found[1].decode("latin-1") != pointer.as_of:
            return pointer, None
        return pointer, await self._page_in(
            self.keys.page(query, pointer.as_of), raw, query, pointer.as_of
        )

    async def _load_head(self, key: str, limit: int) -> object:
        backend = cast(SQLiteCache, self.backend)
        return await backend.get_head(cast(str, backend.build_key(key)), limit)

    async def write_snapshot(
        self,
        query: Query,
        pointer: Pointer,
        page: Page,
        *,
        keep: bool,
        dropped: Sequence[str],
        index: HistoryIndex | None = None,
    ) -> None:
        # Page, dropped pages, index, pointer and the store-wide bound: one trip to the
        # worker thread, one transaction. Renewing a stored page (keep) adds nothing to
        # the store: that stays the adapter's general way.
        if keep:
            await super().write_snapshot(
                query, pointer, page, keep=keep, dropped=dropped, index=index
            )
            return
        backend = cast(SQLiteCache, self.backend)

        def name(key: str) -> str:
            return cast(str, backend.build_key(key))

        as_of = pointer.as_of
        rows: list[tuple[str, Any, float | None]] = []
        refused: NotStored | None = None
        try:
            data = await self._packed(query, as_of, page)
        except NotStored as error:
            refused = error
        else:
            rows.append((name(self.keys.page(query, as_of)), data, self.page_retain))
        if index is not None:
            rows.append((name(self.keys.history(query)), pack_index(query, index), None))
        rows.append((name(self.keys.pointer(query)), pack_pointer(query, pointer), self.retain))
        bound: StoreBound | None = None
        if self.store_bytes and self.page_retain is None and refused is None:
            prefix = name(self.keys.prefix + "page:")
            spared = frozenset({rows[0][0]})
            choose = functools.partial(store_evictions, prefix=prefix, spared=spared)
            bound = (prefix, self.store_bytes, choose)
        deleted = [name(self.keys.page(query, old)) for old in dropped]
        evicted = await backend.write_and_bound(rows, deleted, bound)
        if evicted:
            self.logger.debug(
                "snapshot cache: %d kept snapshots dropped to hold the store to %d bytes",
                evicted,
                self.store_bytes,
            )
        if refused is not None:
            raise refused

    @property
    def timeout(self) -> float | None:
        # SQLite is local and bounds its own waits (for another process's lock): past that
        # it is slow, not down.
        return _redis.TIMEOUT + cast(SQLiteCache, self.backend).busy_timeout

    async def stored_keys(self) -> list[str] | None:
        return await cast(SQLiteCache, self.backend).keys_with_prefix(self.keys.prefix)

    def describe(self) -> str:
        return f"sqlite {cast(SQLiteCache, self.backend).path}"


class MemcachedEntries(ByteEntries):
    """Byte entries in memcached, which cannot list its keys: clearing them is refused.

    memcached has no command that finds keys by prefix, and ``flush_all`` would
    drop every entry on the server, other users' included. So :meth:`clear`
    raises :class:`~openrouter_bench.errors.ConfigurationError` saying so; the
    entries expire by themselves ``CachePolicy.retain`` seconds after their
    last write.

    A hit stays two round trips here: the page's key holds the ``as_of`` that
    only the pointer names, and memcached runs no scripts, so nothing can read
    the pointer and then its page in one request. The near cache spares the
    second one for every page this process has decoded before.
    """

    async def clear(self) -> int:
        raise ConfigurationError(
            "a memcached cache cannot clear its entries: memcached cannot list keys, and "
            "flushing the server would drop everyone's; they expire by themselves "
            f"{self.retain} s after their last write (or flush the server yourself)"
        )


def redis_client_of(backend: BaseCache) -> Any:
    """The redis-py client inside an aiocache Redis backend, or None for other backends."""
    try:
        from redis.asyncio import Redis
    except ImportError:
        return None
    client = getattr(backend, "client", None)
    return client if isinstance(client, Redis) else None


def entries_for(
    backend: BaseCache,
    keys: EntryKeys,
    retain: int,
    logger: logging.Logger,
    *,
    clock: Callable[[], float],
    history: int,
    keep_history: bool = False,
    store_bytes: int = 0,
) -> Entries:
    """The adapter for ``backend``: the one place that asks what kind of backend it is.

    ``keep_history``: pages are stored without an expiry (``CachePolicy.history_bytes``),
    and held to ``store_bytes`` together where the backend counts them
    (``CachePolicy.history_store_bytes``).
    """
    adapter = _adapter_for(backend, keys, retain, logger, clock=clock, history=history)
    if keep_history:
        adapter.keep_pages(store_bytes)
    return adapter


def _adapter_for(
    backend: BaseCache,
    keys: EntryKeys,
    retain: int,
    logger: logging.Logger,
    *,
    clock: Callable[[], float],
    history: int,
) -> Entries:
    client = redis_client_of(backend)
    if client is not None:
        return RedisEntries(backend, client, keys, retain, logger, clock=clock, history=history)
    if isinstance(backend, BoundedMemoryCache):
        return MemoryEntries(backend, keys, retain)
    if isinstance(backend.serializer, NullSerializer):
        return ObjectEntries(backend, keys, retain)
    if isinstance(backend, SQLiteCache):
        kind: type[ByteEntries] = SQLiteEntries
    elif getattr(backend, "NAME", None) == "memcached":
        kind = MemcachedEntries
    else:
        kind = ByteEntries
    return kind(backend, keys, retain, logger, clock=clock, history=history)
