"""The cache's settings (:class:`CachePolicy`) and its counters (:class:`CacheStats`)."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import timedelta
from typing import Final

import attrs

from openrouter_bench import _checks
from openrouter_bench.cache._lru import DEFAULT_MAX_BYTES

__all__ = ["CachePolicy", "CacheStats"]

#: The near cache's default budget: hundreds of ordinary decoded pages.
DEFAULT_NEAR_BYTES: Final = 16 * 1024 * 1024
#: Entries live at least this long in the backend, whatever the policy.
_MIN_RETAIN: Final = 60.0


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


def _bytes_or_zero(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    _checks.count(attribute.name, value, minimum=0, maximum=2**40)


@attrs.frozen
class CachePolicy:
    """How long snapshots count as fresh, how long they may stand in, and how many to keep.

    - ``ttl``: seconds a confirmed snapshot is served without asking the server.
    - ``stale_if_error``: seconds after its last confirmation that a snapshot may
      stand in for a refresh that failed transiently (flagged ``stale``).
    - ``history``: snapshots (distinct ``as_of``) kept per query, newest included.
    - ``history_bytes``: 0 (the default): older snapshots expire like the newest, ``retain``
      seconds after their last write. Above 0: every snapshot is **kept past** ``retain``
      (stored without an expiry), at most ``history`` of them weighing at most
      ``history_bytes`` together per query, the oldest dropped first and the newest never.
      A snapshot weighs what the memory backend weighs it at (about twice its body).
      The memory backend may still evict kept snapshots to stay within ``max_bytes``, and
      memcached evicts what it needs room for: there history is kept as far as they can.
    - ``history_store_bytes``: 0 (the default): no bound but the per-query ones. Above 0,
      with ``history_bytes`` set, on a backend that can count its own size (SQLite): the
      **store as a whole** (the file's pages in use: every query's snapshots, pointers and
      indexes, and SQLite's own layout) is held to this many bytes. Past it, kept snapshots
      go, the oldest ``as_of`` first whatever their query and a query's newest never, until
      the file holds seven eighths of it. Checked in the same write as each new snapshot,
      from the file's header (no row is read while under it); hits are untouched. The
      file's write-ahead log (a few MiB between checkpoints) comes on top. Other backends
      have their own bound and ignore it (memory: ``max_bytes``; memcached: its memory;
      Redis: its ``maxmemory`` with an ``allkeys-*`` policy, as kept pages have no TTL).
    - ``max_entries``: bound of the in-memory backend (pages and pointers).
    - ``max_bytes``: what the in-memory backend's entries may weigh together
      (64 MiB by default: a page weighs about twice its body, see
      :mod:`~openrouter_bench.cache._lru`); a page over an eighth of it is served, not kept.
    - ``near_bytes``: what the near cache's decoded pages may weigh together (16 MiB
      by default, weighed as the memory backend weighs them; 0 turns it off). With a
      shared backend (Redis, memcached, SQLite) a hit then reads only the query's
      pointer and decodes nothing; the memory backend has no near cache (it already
      holds decoded pages).
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
    history_bytes: int = attrs.field(default=0, validator=_bytes_or_zero)
    history_store_bytes: int = attrs.field(default=0, validator=_bytes_or_zero)
    max_entries: int = attrs.field(default=10_000, validator=_count_to(100_000_000))
    max_bytes: int = attrs.field(default=DEFAULT_MAX_BYTES, validator=_count_to(2**40))
    near_bytes: int = attrs.field(default=DEFAULT_NEAR_BYTES, validator=_bytes_or_zero)
    lease_ttl: float = attrs.field(default=10.0, converter=_seconds, validator=_non_negative)
    lease_wait: float = attrs.field(default=15.0, converter=_seconds, validator=_non_negative)

    @property
    def keeps_history(self) -> bool:
        """True when older snapshots outlive ``retain`` (``history_bytes`` is set)."""
        return self.history_bytes > 0

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
    ``near_hits`` counts pages the near cache handed out (no page read, no
    decoding) and ``near_misses`` the pages it did not hold, read from the
    shared backend instead.
    """

    hits: int = 0
    misses: int = 0
    stale_serves: int = 0
    coalesced: int = 0
    fetches: int = 0
    backend_errors: int = 0
    not_stored: int = 0
    near_hits: int = 0
    near_misses: int = 0
