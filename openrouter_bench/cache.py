"""The snapshot cache: every cache rule of the client in one place.

The endpoint's data changes rarely and says when (``meta.as_of``), while its
quota is scarce (30 requests a minute, 500 a day). So the cache keeps
**snapshots**, not responses:

- a **page** is stored under (namespace, format, canonical query, ``as_of``)
  and never changes: same data, same ``as_of``;
- a **pointer** names a query's newest ``as_of`` and when this cache last
  confirmed it (``fetched_at``); it is fresh for ``ttl`` seconds. A fresh
  pointer whose page is stored is a hit: no request.
- when the pointer is older, the page is fetched again: an unchanged
  ``as_of`` keeps the stored page and only moves the pointer; a new one
  stores a new page and keeps the previous ones (``history`` of them);
- if that fetch fails with a transient error, a rate limit or an exhausted
  quota, the last page is served flagged ``stale`` for ``stale_if_error``
  seconds after it was last confirmed;
- identical concurrent calls share one backend read and one fetch (in this
  process), and with Redis a short lease, renewed while its holder fetches,
  keeps several processes from fetching one query at once;
- a broken backend (down, slow, refusing writes) never fails a call: the
  cache steps aside, logs once, and comes back with the backend. One entry
  a backend cannot hold (over its value size, or a key it refuses) is served
  and not kept, and is no outage: the other queries keep their cache.

Nothing derived from the API key is stored or used in a key: the cache never
sees it. Keys are ``{namespace}:v{format}:{kind}:{query.key}[:{as_of}]``.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import hashlib
import logging
import math
import re
import secrets
import sqlite3
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from typing import Any, Final, TypeVar, cast
from urllib.parse import unquote, urlsplit

import attrs
from aiocache.base import BaseCache
from aiocache.serializers import NullSerializer

from openrouter_bench import _checks
from openrouter_bench._lru import DEFAULT_MAX_BYTES, BoundedMemoryCache
from openrouter_bench._singleflight import SingleFlight
from openrouter_bench._snapshot_codec import (
    FORMAT,
    MAX_POINTER_BYTES,
    BytesSerializer,
    Pointer,
    UnreadableEntry,
    as_of_text,
    decode_page,
    decode_pointer,
    encode_page,
    encode_pointer,
)
from openrouter_bench._sqlite_cache import SQLiteCache, default_cli_cache_path
from openrouter_bench._text import plural, untrusted_text
from openrouter_bench.errors import (
    ClientClosedError,
    ConfigurationError,
    QuotaExhaustedError,
    RateLimitError,
    is_transient,
)
from openrouter_bench.hooks import CacheOutcome
from openrouter_bench.models import Page
from openrouter_bench.query import Query

__all__ = [
    "BoundedMemoryCache",
    "CachePolicy",
    "CacheStats",
    "SQLiteCache",
    "SnapshotCache",
    "default_cli_cache_path",
    "namespace_for",
    "open_cache",
]

_T = TypeVar("_T")
_F = TypeVar("_F")

_LOGGER: Final = logging.getLogger(__name__)

#: No backend call may hold up a request longer than this; past it the backend counts as down.
_BACKEND_TIMEOUT: Final = 0.5
#: While the backend is down, it is tried again at most this often (cache clock seconds).
_PROBE_INTERVAL: Final = 1.0
#: How often a process waiting for another's lease looks at the pointer (real seconds).
_LEASE_POLL: Final = 0.05
#: Entries live at least this long in the backend, whatever the policy.
_MIN_RETAIN: Final = 60.0
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
#: memcached's text protocol takes keys of at most 250 bytes, with no space or control byte.
_MEMCACHED_KEY_BYTES: Final = 250
_MEMCACHED_KEY: Final = re.compile(r"[!-~]+")
#: A large value is given this long per byte on top of the backend timeout to travel
#: (32 MB/s: a 15 MB page gets half a second more), so its size is not taken for an outage.
_BACKEND_SECONDS_PER_BYTE: Final = 1 / 32e6
#: The running backend call's timeout, so work moved off the loop can leave it out.
_BACKEND_DEADLINE: ContextVar[asyncio.Timeout | None] = ContextVar(
    "openrouter_bench_backend_deadline", default=None
)

_RELEASE_LEASE: Final = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""

_RENEW_LEASE: Final = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""


def namespace_for(base_url: str) -> str:
    """The cache namespace of an API: its host and path, so two servers never share entries.

    ``base_url`` is as :func:`~openrouter_bench.wire.check_base_url` returns it.
    """
    parts = urlsplit(base_url)
    return f"openrouter-bench:{parts.netloc}{parts.path}"


def _seconds(value: float | timedelta) -> float:
    """Seconds from a number or a ``timedelta``."""
    if isinstance(value, timedelta):
        return value.total_seconds()
    return value


def _non_negative(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    _checks.seconds(attribute.name, value, zero=True)


def _count_to(maximum: int) -> Callable[[object, attrs.Attribute[int], int], None]:
    """A validator of whole numbers from 1 to ``maximum`` (past it, a policy is a typo)."""

    def check(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
        _checks.count(attribute.name, value, maximum=maximum)

    return check


@attrs.frozen
class CachePolicy:
    """How long snapshots count as fresh, how long they may stand in, and how many to keep.

    - ``ttl``: seconds a confirmed snapshot is served without asking the server.
    - ``stale_if_error``: seconds after its last confirmation that a snapshot may
      stand in for a refresh that failed transiently (flagged ``stale``).
    - ``history``: snapshots (distinct ``as_of``) kept per query, newest included.
    - ``max_entries``: bound of the in-memory backend (pages and pointers).
    - ``max_bytes``: what the in-memory backend's entries may weigh together
      (64 MiB by default: a page weighs about twice its body, see
      :mod:`~openrouter_bench._lru`); a page over an eighth of it is served, not kept.
    - ``lease_ttl``: lifetime of a Redis lease. Its holder renews it every third of
      that while its fetch runs (a fetch with retries can outlast it many times),
      so a holder that dies frees it within ``lease_ttl``.
    - ``lease_wait``: how long a process waits for another's fetch before fetching itself;
      never more than half of what is left of the call's deadline, so the call can
      still fetch in time if the other process never delivers.

    Durations are seconds, as a number or a :class:`~datetime.timedelta`.
    """

    ttl: float = attrs.field(default=600.0, converter=_seconds, validator=_non_negative)
    stale_if_error: float = attrs.field(
        default=86400.0, converter=_seconds, validator=_non_negative
    )
    history: int = attrs.field(default=2, validator=_count_to(1_000))
    max_entries: int = attrs.field(default=10_000, validator=_count_to(100_000_000))
    max_bytes: int = attrs.field(default=DEFAULT_MAX_BYTES, validator=_count_to(2**40))
    lease_ttl: float = attrs.field(default=10.0, converter=_seconds, validator=_non_negative)
    lease_wait: float = attrs.field(default=15.0, converter=_seconds, validator=_non_negative)

    @property
    def retain(self) -> int:
        """Whole seconds an entry is kept in the backend after its last write."""
        return math.ceil(max(self.ttl, self.stale_if_error, _MIN_RETAIN))


@attrs.frozen
class CacheStats:
    """What the cache has done so far (a snapshot; the cache's counters move on).

    ``hits`` and ``misses`` count calls; ``coalesced`` the calls that shared a
    fetch made by another call (in this process or, with Redis, another one);
    ``fetches`` the upstream calls made; ``stale_serves`` the calls answered
    with a stale snapshot; ``backend_errors`` failed backend operations;
    ``not_stored`` entries the backend cannot hold (too large, or a key it
    refuses), which are served but not kept and leave the backend in use.
    """

    hits: int = 0
    misses: int = 0
    stale_serves: int = 0
    coalesced: int = 0
    fetches: int = 0
    backend_errors: int = 0
    not_stored: int = 0


class _Keys:
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

    def lease(self, query: Query) -> str:
        return f"{self.prefix}lease:{self._text(query)}"


def _query_text(query: Query) -> str:
    return query.key


def _served(page: Page, fetched_at: float) -> Page:
    """``page`` as the cache hands it out: from the cache, as of the pointer's confirmation."""
    return attrs.evolve(
        page, from_cache=True, stale=False, fetched_at=datetime.fromtimestamp(fetched_at, UTC)
    )


class _ObjectEntries:
    """Entries kept as Python objects (memory backends): references, no serialization."""

    holds_objects: Final = True

    def __init__(self, backend: BaseCache, keys: _Keys, retain: int) -> None:
        self.backend = backend
        self.keys = keys
        self.retain = retain
        # The bounded LRU is driven directly: aiocache's decorators cost more than the dict.
        self.lru = backend if isinstance(backend, BoundedMemoryCache) else None

    async def _get(self, key: str) -> Any:
        if self.lru is not None:
            return self.lru.lookup(key)
        return await self.backend.get(key, timeout=None)

    async def _set(self, key: str, value: Any) -> None:
        if self.lru is not None:
            if not self.lru.store(key, value, self.retain):
                raise _NotStored(f"over the memory cache's {self.lru.max_value_bytes}-byte share")
        else:
            await self.backend.set(key, value, ttl=self.retain, timeout=None)

    async def read_pointer(self, query: Query) -> Pointer | None:
        value = await self._get(self.keys.pointer(query))
        return value if isinstance(value, Pointer) else None

    async def read_page(self, query: Query, as_of: str) -> Page | None:
        value = await self._get(self.keys.page(query, as_of))
        return value if isinstance(value, Page) else None

    async def write_page(self, query: Query, as_of: str, page: Page) -> None:
        await self._set(self.keys.page(query, as_of), page)

    async def keep_page(self, query: Query, as_of: str, page: Page) -> Page:
        stored = await self.read_page(query, as_of)
        if stored is None:
            stored = page
        await self._set(self.keys.page(query, as_of), stored)
        return stored

    async def write_pointer(self, query: Query, pointer: Pointer) -> None:
        await self._set(self.keys.pointer(query), pointer)

    async def delete_page(self, query: Query, as_of: str) -> None:
        key = self.keys.page(query, as_of)
        if self.lru is not None:
            self.lru.discard(key)
        else:
            await self.backend.delete(key, timeout=None)


def _as_is(value: Any) -> Any:
    return value


class _NotStored(Exception):
    """The backend cannot hold this one entry (its size or its key): not an outage."""


def _value_limit(backend: BaseCache) -> int | None:
    """The largest value ``backend`` holds, if it is known."""
    limit = getattr(backend, "max_value_bytes", None)
    if isinstance(limit, int):
        return limit
    return _VALUE_LIMITS.get(str(getattr(backend, "NAME", "")))


def _cannot_store(error: Exception) -> bool:
    """True when a backend refused one entry (its key or its size), as opposed to failing."""
    if isinstance(error, _NotStored | sqlite3.DataError):
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
    deadline = _BACKEND_DEADLINE.get()
    when = None if deadline is None else deadline.when()
    if deadline is not None and when is not None:
        deadline.reschedule(when + size * _BACKEND_SECONDS_PER_BYTE)


async def _off_loop(work: Callable[..., _T], *args: Any) -> _T:
    """``work(*args)`` on a worker thread; its time does not count against a backend timeout."""
    deadline = _BACKEND_DEADLINE.get()
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


class _ByteEntries:
    """Entries kept as versioned JSON bytes (memcached, SQLite, any serializing backend)."""

    holds_objects: Final = False

    def __init__(
        self,
        backend: BaseCache,
        keys: _Keys,
        retain: int,
        logger: logging.Logger,
        *,
        clock: Callable[[], float],
        history: int,
    ) -> None:
        self.backend = backend
        self.keys = keys
        self.retain = retain
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

    async def _save(self, key: str, data: bytes) -> None:
        await self.backend.set(key, data, ttl=self.retain, dumps_fn=_as_is, timeout=None)

    async def _renew(self, key: str) -> bool:
        return bool(await self.backend.expire(key, self.retain, timeout=None))

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
        raw = await self._read(key, MAX_POINTER_BYTES)
        if raw is None:
            return None
        try:
            return decode_pointer(raw, query, now=self.clock(), history=self.history)
        except UnreadableEntry as error:
            await self._discard_unreadable(key, error)
            return None

    async def read_page(self, query: Query, as_of: str) -> Page | None:
        key = self.keys.page(query, as_of)
        raw = await self._read(key)
        if raw is None:
            return None
        try:
            if isinstance(raw, bytes | str) and len(raw) > _OFF_LOOP_BYTES:
                return await _off_loop(decode_page, raw, query, as_of)
            return decode_page(raw, query, as_of)
        except UnreadableEntry as error:
            await self._discard_unreadable(key, error)
            return None

    async def write_page(self, query: Query, as_of: str, page: Page) -> None:
        if page.body_bytes > _OFF_LOOP_BYTES or len(page.items) > _OFF_LOOP_ITEMS:
            data = await _off_loop(encode_page, query, as_of, page)
        else:
            data = encode_page(query, as_of, page)
        if self.value_limit is not None and len(data) > self.value_limit:
            raise _NotStored(f"a {len(data)}-byte page, over the backend's {self.value_limit}")
        _allow_for(len(data))
        await self._save(self.keys.page(query, as_of), data)

    async def keep_page(self, query: Query, as_of: str, page: Page) -> Page:
        # Renewing the expiry is one small command; the page is only written again
        # when it is gone (expired, evicted, or dropped as unreadable).
        if not await self._renew(self.keys.page(query, as_of)):
            await self.write_page(query, as_of, page)
        return page

    async def write_pointer(self, query: Query, pointer: Pointer) -> None:
        await self._save(self.keys.pointer(query), encode_pointer(query, pointer))

    async def delete_page(self, query: Query, as_of: str) -> None:
        await self._remove(self.keys.page(query, as_of))


class _RedisEntries(_ByteEntries):
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
        keys: _Keys,
        retain: int,
        logger: logging.Logger,
        *,
        clock: Callable[[], float],
        history: int,
    ) -> None:
        super().__init__(backend, keys, retain, logger, clock=clock, history=history)
        self.client = client
        # Imported here: redis is optional, and this class exists only when it is installed.
        from redis.exceptions import ResponseError

        self._refused = ResponseError

    def _name(self, key: str) -> str:
        return cast(str, self.backend.build_key(key))

    async def _load(self, key: str) -> object:
        try:
            return await self.client.get(self._name(key))
        except self._refused as error:
            return self._not_a_string(error)

    async def _load_head(self, key: str, limit: int) -> object:
        # A pointer is read only so far: a planted value of hundreds of megabytes costs
        # one small read, not a transfer that times out and takes the backend for down.
        try:
            head = await self.client.getrange(self._name(key), 0, limit)
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

    async def _save(self, key: str, data: bytes) -> None:
        await self.client.set(self._name(key), data, ex=self.retain)

    async def _renew(self, key: str) -> bool:
        return bool(await self.client.expire(self._name(key), self.retain))

    async def _remove(self, key: str) -> None:
        await self.client.delete(self._name(key))


class _SQLiteEntries(_ByteEntries):
    """Byte entries over :class:`SQLiteCache`, whose pointers are read only up to the cap."""

    async def _load_head(self, key: str, limit: int) -> object:
        backend = cast(SQLiteCache, self.backend)
        return await backend.get_head(cast(str, backend.build_key(key)), limit)


class _Source(enum.Enum):
    """Where a call's page came from."""

    CACHE = "a fresh snapshot"
    UPSTREAM = "this process's fetch"
    PEER = "another process's fetch (it held the lease)"
    STALE = "an older snapshot, standing in for a failed fetch"


class _Lease(enum.Enum):
    BUSY = "another process holds it"
    UNAVAILABLE = "leases cannot be taken now"


class _RedisLeases:
    """Cross-process leases: ``SET key token NX PX ttl``, renewed and released by their holder.

    aiocache's ``RedLock`` keeps its state in the process, so it cannot stop
    another process; a Redis key with a random token can. Renewal and release
    are compare-and-set scripts, so a holder whose lease expired and was taken
    over can neither extend nor free the new holder's lease.
    """

    def __init__(self, client: Any, backend: BaseCache) -> None:
        self._client = client
        self._backend = backend
        self._release = client.register_script(_RELEASE_LEASE)
        self._renew = client.register_script(_RENEW_LEASE)

    def _key(self, key: str) -> str:
        # Honour a namespace configured on the aiocache instance, as its own calls do.
        return cast(str, self._backend.build_key(key))

    async def acquire(self, key: str, ttl: float) -> str | _Lease:
        token = secrets.token_hex(16)
        taken = await self._client.set(self._key(key), token, nx=True, px=_lease_ms(ttl))
        return token if taken else _Lease.BUSY

    async def expires(self, key: str) -> bool:
        """False if ``key`` exists and never expires: not a lease any holder of ours took."""
        return int(await self._client.pttl(self._key(key))) != -1

    async def release(self, key: str, token: str) -> None:
        await self._release(keys=[self._key(key)], args=[token])

    async def renew(self, key: str, token: str, ttl: float) -> bool:
        """Extend the lease to ``ttl`` from now; False if ``token`` no longer holds it."""
        return bool(await self._renew(keys=[self._key(key)], args=[token, _lease_ms(ttl)]))


def _lease_ms(ttl: float) -> int:
    return max(1, int(ttl * 1000))


def _redis_client(backend: BaseCache) -> Any:
    """The redis-py client inside an aiocache Redis backend, or None for other backends."""
    try:
        from redis.asyncio import Redis
    except ImportError:
        return None
    client = getattr(backend, "client", None)
    return client if isinstance(client, Redis) else None


def _redis_pattern(prefix: str) -> str:
    """A SCAN pattern matching every key that starts with ``prefix``, taken literally."""
    return "".join(f"\\{char}" if char in "*?[]\\" else char for char in prefix) + "*"


def _masks(error: BaseException) -> bool:
    """True for failures a stale snapshot may stand in for."""
    return is_transient(error) or isinstance(error, RateLimitError | QuotaExhaustedError)


class SnapshotCache:
    """Snapshots of the endpoint's pages over any aiocache backend; see the module docstring.

    ``backend`` is an aiocache ``BaseCache`` instance (None: no cache, but
    identical concurrent calls still share one fetch). ``namespace`` prefixes
    every key; the client makes it from the base URL's host so two services
    never mix. ``clock`` is wall time in seconds, used for freshness.
    """

    def __init__(
        self,
        backend: BaseCache | None,
        *,
        namespace: str,
        policy: CachePolicy = CachePolicy(),  # frozen: one shared default is safe
        clock: Callable[[], float] = time.time,
        logger: logging.Logger | None = None,
    ) -> None:
        if not namespace:
            raise ConfigurationError("the cache namespace must not be empty")
        self.namespace = namespace
        self.policy = policy
        self.backend = backend
        self._clock = clock
        self._logger = logger if logger is not None else _LOGGER
        self._keys = _Keys(namespace)
        self._entries: _ObjectEntries | _ByteEntries | None = None
        self._lru: BoundedMemoryCache | None = None
        self._leases: _RedisLeases | None = None
        client = None if backend is None else _redis_client(backend)
        if client is not None:
            self._entries = _RedisEntries(
                backend,
                client,
                self._keys,
                policy.retain,
                self._logger,
                clock=clock,
                history=policy.history,
            )
            self._leases = _RedisLeases(client, backend)
        elif backend is not None:
            if isinstance(backend, BoundedMemoryCache) or isinstance(
                backend.serializer, NullSerializer
            ):
                self._entries = _ObjectEntries(backend, self._keys, policy.retain)
                self._lru = self._entries.lru
            else:
                kind = _SQLiteEntries if isinstance(backend, SQLiteCache) else _ByteEntries
                self._entries = kind(
                    backend,
                    self._keys,
                    policy.retain,
                    self._logger,
                    clock=clock,
                    history=policy.history,
                )
        self._owns_backend = False
        # SQLite is local and bounds its own waits (for another process's lock): past that
        # it is slow, not down.
        self._backend_timeout = _BACKEND_TIMEOUT + (
            backend.busy_timeout if isinstance(backend, SQLiteCache) else 0.0
        )
        self._flights: SingleFlight[tuple[Page, _Source]] = SingleFlight()
        self._closed = False
        self._outage = False
        self._probe_at = 0.0
        self._hits = 0
        self._misses = 0
        self._stale_serves = 0
        self._coalesced = 0
        self._fetches = 0
        self._backend_errors = 0
        self._not_stored = 0
        #: Told how each call was answered: "hit", "miss", "coalesced" or "stale" (client hooks).
        self.on_event: Callable[[Query, CacheOutcome], None] | None = None

    def __repr__(self) -> str:
        backend = "no backend" if self.backend is None else type(self.backend).__name__
        return f"<SnapshotCache {self.namespace!r} over {backend}>"

    @property
    def stats(self) -> CacheStats:
        """A snapshot of the counters."""
        return CacheStats(
            hits=self._hits,
            misses=self._misses,
            stale_serves=self._stale_serves,
            coalesced=self._coalesced,
            fetches=self._fetches,
            backend_errors=self._backend_errors,
            not_stored=self._not_stored,
        )

    async def get(
        self,
        query: Query,
        fetch: Callable[[], Awaitable[Page]],
        *,
        max_age: float | None = None,
        refresh: bool = False,
        deadline: float | None = None,
    ) -> Page:
        """The page for ``query``: from the cache while fresh, else from ``fetch()``.

        ``max_age`` replaces the policy's ``ttl`` for this call; ``refresh``
        skips the cache (the call still shares a fetch already under way).
        ``fetch`` raises a typed error on failure; it reaches the caller unless
        a stale snapshot may stand in for it. ``deadline`` is the seconds the
        whole call may take (the client passes its retry deadline, and counts
        the time spent here against it): waiting for another process's fetch
        takes at most half of it, whatever the lease in the backend says.
        """
        if self._closed:
            raise ClientClosedError("this snapshot cache is closed")
        lru = self._lru
        if lru is not None and not refresh:
            pointer = lru.lookup(self._keys.pointer(query))
            # A backend shared with other code may hold anything under our key: not ours, a miss.
            if (
                isinstance(pointer, Pointer)
                and pointer.served is not None
                and self._clock() - pointer.fetched_at
                < (self.policy.ttl if max_age is None else max_age)
            ):
                self._hits += 1
                if self.on_event is not None:
                    self.on_event(query, "hit")
                return pointer.served
        until = None if deadline is None else asyncio.get_running_loop().time() + deadline
        return await self._get(query, fetch, max_age, refresh, until)

    async def _get(
        self,
        query: Query,
        fetch: Callable[[], Awaitable[Page]],
        max_age: float | None,
        refresh: bool,
        until: float | None,
    ) -> Page:
        # Identical concurrent calls share the backend reads as well as the fetch:
        # a burst of 100 gets costs one pointer read, not 100 connections' worth.
        (page, source), joined = await self._flights.run(
            (query, max_age, refresh), lambda: self._load(query, fetch, max_age, refresh, until)
        )
        outcome: CacheOutcome
        if source is _Source.CACHE:
            self._hits += 1
            outcome = "hit"
        else:
            self._misses += 1
            outcome = "miss"
            if joined or source is _Source.PEER:
                self._coalesced += 1
                outcome = "coalesced"
            if source is _Source.STALE:
                self._stale_serves += 1
                outcome = "stale"
        if self.on_event is not None:
            self.on_event(query, outcome)
        return page

    async def _load(
        self,
        query: Query,
        fetch: Callable[[], Awaitable[Page]],
        max_age: float | None,
        refresh: bool,
        until: float | None,
    ) -> tuple[Page, _Source]:
        entries = self._entries
        pointer = None
        if entries is not None:
            pointer = await self._guard(lambda: entries.read_pointer(query), None)
            ttl = self.policy.ttl if max_age is None else max_age
            if pointer is not None and not refresh and self._clock() - pointer.fetched_at < ttl:
                page = await self._read_served(query, pointer)
                if page is not None:
                    return page, _Source.CACHE
        return await self._refresh(query, fetch, pointer, until)

    async def history(self, query: Query) -> list[Page]:
        """Every stored snapshot of ``query``, newest first (no fetch)."""
        entries = self._entries
        if self._closed:
            raise ClientClosedError("this snapshot cache is closed")
        if entries is None:
            return []
        pointer = await self._guard(lambda: entries.read_pointer(query), None)
        if pointer is None:
            return []
        pages: list[Page] = []
        for position, as_of in enumerate(pointer.history):
            page = await self._guard(functools.partial(entries.read_page, query, as_of), None)
            if page is None:
                continue
            if position == 0:
                pages.append(_served(page, pointer.fetched_at))
            else:
                pages.append(page.served(from_cache=True))
        return pages

    async def clear(self) -> int:
        """Remove every entry of this namespace; the number removed (0 if the backend cannot count).

        Redis is scanned for the namespace's keys. memcached cannot list keys,
        so aiocache flushes the whole server there.
        """
        backend = self.backend
        if backend is None:
            return 0
        client = _redis_client(backend)
        if client is not None:
            return await self._clear_redis(client, backend)
        removed = await backend.clear(namespace=backend.build_key(self._keys.prefix))
        return removed if type(removed) is int else 0

    async def _clear_redis(self, client: Any, backend: BaseCache) -> int:
        prefix = cast(str, backend.build_key(self._keys.prefix))
        removed = 0
        batch: list[bytes] = []
        async for key in client.scan_iter(match=_redis_pattern(prefix), count=500):
            batch.append(key)
            if len(batch) >= 500:
                removed += await client.delete(*batch)
                batch = []
        if batch:
            removed += await client.delete(*batch)
        return removed

    async def stored(self) -> tuple[int, int] | None:
        """How many queries and snapshots this namespace holds; None if the backend cannot tell."""
        keys = await self._guard(self._stored_keys, None)
        if keys is None:
            return None
        kinds = [key[len(self._keys.prefix) :].split(":", 1)[0] for key in keys]
        return kinds.count("pointer"), kinds.count("page")

    async def describe(self, *, counters: bool = True) -> str:
        """A few lines on the backend, the policy and (``counters``) this process's counts."""
        policy = self.policy
        stats = self.stats
        lines = [
            f"backend: {self._backend_name()}",
            f"namespace: {self.namespace}",
            f"ttl: {policy.ttl:g} s, stale-if-error: {policy.stale_if_error:g} s, "
            f"history: {policy.history}",
        ]
        if counters:
            lines.append(
                f"this run: {plural(stats.hits, 'hit')}, {plural(stats.misses, 'miss', 'misses')}, "
                f"{plural(stats.fetches, 'fetch', 'fetches')}, {stats.stale_serves} stale, "
                f"{stats.coalesced} coalesced, {plural(stats.backend_errors, 'backend error')}"
            )
        stored = await self.stored()
        if stored is not None:
            queries, snapshots = stored
            lines.append(
                f"stored: {plural(queries, 'query', 'queries')}, {plural(snapshots, 'snapshot')}"
            )
        if self._outage:
            lines.append("backend state: unavailable")
        return "\n".join(lines) + "\n"

    async def _stored_keys(self) -> list[str] | None:
        """This namespace's keys in the backend, or None when the backend cannot list them."""
        backend = self.backend
        if backend is None:
            return []
        prefix = self._keys.prefix
        if isinstance(backend, BoundedMemoryCache):
            return backend.keys_with_prefix(prefix)
        if isinstance(backend, SQLiteCache):
            return await backend.keys_with_prefix(prefix)
        client = _redis_client(backend)
        if client is None:
            return None
        named = cast(str, backend.build_key(prefix))
        return [
            prefix + key.decode()[len(named) :]
            async for key in client.scan_iter(match=_redis_pattern(named), count=500)
        ]

    def _backend_name(self) -> str:
        backend = self.backend
        if backend is None:
            return "none"
        if isinstance(backend, SQLiteCache):
            return f"sqlite {backend.path}"
        if isinstance(backend, BoundedMemoryCache):
            return (
                f"memory ({len(backend)}/{backend.max_entries} entries, "
                f"{backend.accounted_bytes / 1024:.0f} KiB of {backend.max_bytes / 1024:.0f} KiB)"
            )
        endpoint = getattr(backend, "endpoint", None)
        port = getattr(backend, "port", None)
        name = getattr(backend, "NAME", type(backend).__name__)
        return f"{name} {endpoint}:{port}" if endpoint is not None else str(name)

    async def close(self) -> None:
        """Cancel fetches under way and close the backend if this cache opened it. Idempotent."""
        if self._closed:
            return
        self._closed = True
        await self._flights.cancel_all()
        backend = self.backend
        if not self._owns_backend or backend is None:
            return
        client = _redis_client(backend)
        try:
            async with asyncio.timeout(_BACKEND_TIMEOUT):
                if client is not None:
                    # aiocache's close() calls redis-py's deprecated close().
                    await client.aclose()
                else:
                    await backend.close(timeout=None)
        except Exception as error:  # noqa: BLE001  # closing is best effort: the caller moves on
            self._logger.debug("snapshot cache: closing the backend failed: %r", error)

    # The refresh path, run once per query at a time (single-flight).

    async def _refresh(
        self,
        query: Query,
        fetch: Callable[[], Awaitable[Page]],
        pointer: Pointer | None,
        until: float | None,
    ) -> tuple[Page, _Source]:
        leases = self._leases
        if leases is None:
            return await self._fetch(query, fetch, pointer)
        lease_key = self._keys.lease(query)
        lease = await self._guard(
            lambda: leases.acquire(lease_key, self.policy.lease_ttl), _Lease.UNAVAILABLE
        )
        if lease is _Lease.BUSY:
            outcome = await self._wait_for_holder(query, pointer, leases, lease_key, until)
            if isinstance(outcome, Page):
                return outcome, _Source.PEER
            lease = outcome
            pointer = await self._moved_pointer(query, None) or pointer
        elif isinstance(lease, str):
            # Another process may have fetched and let go of the lease between this call's
            # pointer read and now: its page is as fresh as a fetch of our own would be.
            page = await self._moved_page(query, pointer)
            if page is not None:
                await self._release(leases, lease_key, lease)
                return page, _Source.PEER
        if not isinstance(lease, str):
            return await self._fetch(query, fetch, pointer)
        renewal = asyncio.create_task(self._keep_lease(leases, lease_key, lease))
        try:
            return await self._fetch(query, fetch, pointer)
        finally:
            renewal.cancel()
            # wait(), not await: the renewal's cancellation must not pass for this call's.
            await asyncio.wait([renewal])
            await self._release(leases, lease_key, lease)

    async def _keep_lease(self, leases: _RedisLeases, lease_key: str, token: str) -> None:
        """Renew a held lease every third of its lifetime, until cancelled or lost."""
        ttl = self.policy.lease_ttl
        every = max(ttl / 3, _LEASE_POLL)
        while True:
            await asyncio.sleep(every)
            try:
                async with asyncio.timeout(_BACKEND_TIMEOUT):
                    held = await leases.renew(lease_key, token, ttl)
            except Exception as error:  # noqa: BLE001  # tried again next round; it may lapse
                self._logger.debug("snapshot cache: could not renew a lease: %r", error)
                continue
            if not held:
                # It lapsed (Redis was away or restarted) and may be another's by now.
                self._logger.debug("snapshot cache: lost the lease %s; not renewing", lease_key)
                return

    async def _release(self, leases: _RedisLeases, lease_key: str, token: str) -> None:
        # Tried even while the backend counts as down: others wait on this lease.
        try:
            async with asyncio.timeout(_BACKEND_TIMEOUT):
                await leases.release(lease_key, token)
        except Exception as error:  # noqa: BLE001  # an unreleased lease expires by itself
            self._logger.debug("snapshot cache: could not release a lease: %r", error)

    async def _wait_for_holder(
        self,
        query: Query,
        seen: Pointer | None,
        leases: _RedisLeases,
        lease_key: str,
        until: float | None,
    ) -> Page | str | _Lease:
        """What another process's fetch left: its page, or the lease once free, or give up.

        Returns the page when the pointer moved (someone confirmed the query
        after this call began); the lease token when the lease came free
        without that (its holder failed or died); ``_Lease.UNAVAILABLE`` when
        the wait ran out (``lease_wait``, or half of what is left before
        ``until``), the backend went away, or the lease never expires (no
        holder of ours sets one like that: someone wrote it by hand).
        """
        loop = asyncio.get_running_loop()
        wait = self.policy.lease_wait
        if until is not None:
            # Half of what is left: a holder that never delivers must leave this call
            # time to fetch on its own within its deadline.
            wait = min(wait, max(0.0, until - loop.time()) / 2)
        deadline = loop.time() + wait
        expires = await self._guard(lambda: leases.expires(lease_key), True)
        if not expires:
            self._logger.debug("snapshot cache: the lease %s never expires; not waiting", lease_key)
            return _Lease.UNAVAILABLE
        while loop.time() < deadline:
            await asyncio.sleep(min(_LEASE_POLL, max(0.0, deadline - loop.time())))
            page = await self._moved_page(query, seen)
            if page is not None:
                return page
            lease = await self._guard(
                lambda: leases.acquire(lease_key, self.policy.lease_ttl), _Lease.UNAVAILABLE
            )
            if isinstance(lease, str):
                # The holder may have stored its page and left between the two looks.
                page = await self._moved_page(query, seen)
                if page is None:
                    return lease
                await self._release(leases, lease_key, lease)
                return page
            if lease is _Lease.UNAVAILABLE:
                return lease
        self._logger.debug("snapshot cache: gave up waiting for another process to fetch %r", query)
        return _Lease.UNAVAILABLE

    async def _moved_pointer(self, query: Query, seen: Pointer | None) -> Pointer | None:
        """The query's pointer if it differs from ``seen`` (someone confirmed the query since)."""
        entries = self._entries
        if entries is None:
            return None
        current = await self._guard(lambda: entries.read_pointer(query), None)
        return None if current is None or current == seen else current

    async def _moved_page(self, query: Query, seen: Pointer | None) -> Page | None:
        current = await self._moved_pointer(query, seen)
        return None if current is None else await self._read_served(query, current)

    async def _fetch(
        self, query: Query, fetch: Callable[[], Awaitable[Page]], pointer: Pointer | None
    ) -> tuple[Page, _Source]:
        self._fetches += 1
        try:
            page = await fetch()
        except Exception as error:
            stale = await self._stale_instead(query, pointer, error)
            if stale is None:
                raise
            return stale, _Source.STALE
        await self._remember(query, page, pointer)
        return page, _Source.UPSTREAM

    async def _stale_instead(
        self, query: Query, pointer: Pointer | None, error: Exception
    ) -> Page | None:
        if pointer is None or not _masks(error):
            return None
        age = self._clock() - pointer.fetched_at
        if age > self.policy.stale_if_error:
            return None
        page = await self._read_served(query, pointer)
        if page is None:
            return None
        self._logger.warning(
            "serving a stale snapshot of %r (as_of %s, confirmed %.0f s ago): refresh failed: %s",
            query,
            pointer.as_of,
            age,
            error,
        )
        return page.served(from_cache=True, stale=True)

    async def _remember(self, query: Query, page: Page, previous: Pointer | None) -> None:
        entries = self._entries
        if entries is None:
            return
        now = self._clock()
        as_of = as_of_text(page.meta.as_of)
        if previous is not None and previous.as_of == as_of:
            stored = await self._guard(
                functools.partial(entries.keep_page, query, as_of, page), page
            )
            history = previous.history
        else:
            await self._guard(functools.partial(entries.write_page, query, as_of, page), None)
            stored = page
            older = [] if previous is None else [a for a in previous.history if a != as_of]
            keep = self.policy.history - 1
            history = (as_of, *older[:keep])
            for dropped in older[keep:]:
                await self._guard(functools.partial(entries.delete_page, query, dropped), None)
        pointer = Pointer(
            as_of=as_of,
            fetched_at=now,
            history=history,
            served=_served(stored, now) if entries.holds_objects else None,
        )
        await self._guard(functools.partial(entries.write_pointer, query, pointer), None)

    async def _read_served(self, query: Query, pointer: Pointer) -> Page | None:
        if pointer.served is not None:
            return pointer.served
        entries = self._entries
        if entries is None:
            return None
        page = await self._guard(functools.partial(entries.read_page, query, pointer.as_of), None)
        return None if page is None else _served(page, pointer.fetched_at)

    # Backend health: every call goes through here.

    async def _guard(self, operation: Callable[[], Awaitable[_T]], fallback: _F) -> _T | _F:
        """``operation()``'s result, or ``fallback`` if the backend fails, hangs or is down."""
        if self._outage and self._clock() < self._probe_at:
            return fallback
        try:
            if self._lru is not None:
                result = await operation()
            else:
                async with asyncio.timeout(self._backend_timeout) as deadline:
                    token = _BACKEND_DEADLINE.set(deadline)
                    try:
                        result = await operation()
                    finally:
                        _BACKEND_DEADLINE.reset(token)
        except Exception as error:  # noqa: BLE001  # a backend failure means "no cache", not a failed call
            if _cannot_store(error):
                self._entry_refused(error)
            else:
                self._backend_failed(error)
            return fallback
        if self._outage:
            self._outage = False
            self._logger.info("snapshot cache backend %s is back", self._backend_name())
        return result

    def _entry_refused(self, error: Exception) -> None:
        # One entry the backend cannot hold says nothing of the others: no breaker trip.
        self._not_stored += 1
        level = logging.DEBUG if self._not_stored > 1 else logging.INFO
        self._logger.log(
            level,
            "snapshot cache backend %s cannot hold an entry (%s); it is served, not kept",
            self._backend_name(),
            untrusted_text(error),
        )

    def _backend_failed(self, error: Exception) -> None:
        self._backend_errors += 1
        self._probe_at = self._clock() + _PROBE_INTERVAL
        if self._outage:
            return
        self._outage = True
        reason = "timed out" if isinstance(error, TimeoutError) else f"{type(error).__name__}"
        text = str(error)
        self._logger.warning(
            "snapshot cache backend %s failed (%s%s); calls go to the server until it is back",
            self._backend_name(),
            reason,
            f": {text}" if text and not isinstance(error, TimeoutError) else "",
        )


def open_cache(
    spec: str | BaseCache | None,
    *,
    namespace: str,
    policy: CachePolicy = CachePolicy(),  # frozen: one shared default is safe
    clock: Callable[[], float] = time.time,
    logger: logging.Logger | None = None,
) -> SnapshotCache:
    """A :class:`SnapshotCache` over the backend ``spec`` names.

    - ``"memory"``: a bounded LRU in this process (``policy.max_entries``, ``policy.max_bytes``);
    - ``None``: no cache (identical concurrent calls still share one fetch);
    - ``"redis://host:port/db"`` (or ``rediss://``, with ``user:password@``);
    - ``"memcached://host:port"`` (needs the ``aiomcache`` package);
    - ``"sqlite:///path/to/file.db"``, or ``"sqlite://"`` for the CLI's default file;
    - an aiocache ``BaseCache`` instance, used as it is and left open by :meth:`close`.

    Backends built here from a string are closed by :meth:`SnapshotCache.close`.
    """
    if spec is None:
        return SnapshotCache(None, namespace=namespace, policy=policy, clock=clock, logger=logger)
    if isinstance(spec, BaseCache):
        return SnapshotCache(spec, namespace=namespace, policy=policy, clock=clock, logger=logger)
    if not isinstance(spec, str):
        raise ConfigurationError(
            f"cache must be a URL string, an aiocache instance or None, not {type(spec).__name__}"
        )
    backend = _backend_for(spec, policy, clock)
    cache = SnapshotCache(backend, namespace=namespace, policy=policy, clock=clock, logger=logger)
    cache._owns_backend = True
    return cache


def _backend_for(spec: str, policy: CachePolicy, clock: Callable[[], float]) -> BaseCache:
    if spec == "memory":
        return BoundedMemoryCache(
            policy.max_entries, max_bytes=policy.max_bytes, clock=clock, timeout=None
        )
    parts = urlsplit(spec)
    scheme = parts.scheme.lower()
    if scheme in ("redis", "rediss"):
        return _redis_backend(spec, ssl=scheme == "rediss")
    if scheme == "memcached":
        try:
            from aiocache.backends.memcached import MemcachedCache
        except ImportError:
            raise ConfigurationError(
                "a memcached cache needs the aiomcache package: install openrouter-bench[memcached]"
            ) from None
        return MemcachedCache(
            endpoint=parts.hostname or "127.0.0.1",
            port=parts.port or 11211,
            serializer=BytesSerializer(),
            key_builder=_memcached_key,
            timeout=None,
        )
    if scheme == "sqlite":
        if parts.netloc:
            raise ConfigurationError(
                "a sqlite cache URL names a file: sqlite:///absolute/path.db (three slashes)"
            )
        # sqlite:///abs/file and sqlite:////abs/file both name /abs/file.
        path = "/" + unquote(parts.path).lstrip("/") if parts.path else default_cli_cache_path()
        return SQLiteCache(path, clock=clock, timeout=None)
    raise ConfigurationError(
        "cache must be 'memory', a redis://, memcached:// or sqlite:/// URL, "
        f"an aiocache instance or None; got a value starting {spec.split(':', 1)[0]!r}"
    )


def _memcached_key(key: str, namespace: str | None = None) -> bytes:
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


def _redis_backend(spec: str, *, ssl: bool) -> BaseCache:
    try:
        from aiocache.backends.redis import RedisCache
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff
    except ImportError:
        raise ConfigurationError(
            "a Redis cache needs the redis package: install openrouter-bench[redis]"
        ) from None
    parts = urlsplit(spec)
    path = parts.path.strip("/")
    try:
        port = parts.port or 6379
        db = int(path) if path else 0
    except ValueError:
        raise ConfigurationError(
            "a Redis cache URL looks like redis://host:port/db (db a number)"
        ) from None
    pool_options: dict[str, Any] = {
        "socket_timeout": _BACKEND_TIMEOUT,
        # The cache's own guard decides what a failure means; redis-py's default retries
        # with backoff would hold a request up for seconds while Redis is down.
        "retry": Retry(NoBackoff(), 0),
    }
    if parts.username:
        pool_options["username"] = unquote(parts.username)
    return RedisCache(
        endpoint=parts.hostname or "127.0.0.1",
        port=port,
        db=db,
        password=unquote(parts.password) if parts.password else None,
        ssl=ssl,
        create_connection_timeout=_BACKEND_TIMEOUT,
        connection_pool_kwargs=pool_options,
        serializer=BytesSerializer(),
        timeout=None,
    )
