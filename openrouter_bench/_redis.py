"""What the cache and the quota share about a remote store: timeouts, Redis clients, the breaker.

Both keep their state in a store that may go away (the cache in Redis,
memcached or SQLite; the quota in Redis). Neither may let that fail a call or
hold it up: every store call is bounded by :data:`TIMEOUT`, and once one
fails the store counts as down and is tried again at most every
:data:`PROBE_INTERVAL` seconds (:class:`OutageBreaker`). Redis clients are
built here, with redis-py's own retries off: the caller decides what a
failure means, and redis-py's backoff would stall a request for seconds
while Redis is down.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from openrouter_bench.errors import ConfigurationError

__all__ = ["PROBE_INTERVAL", "TIMEOUT", "OutageBreaker", "client_from_url", "connection_options"]

#: No store call may hold up a request longer than this (seconds); past it the store counts as down.
TIMEOUT: Final = 0.5
#: While a store is down, it is tried again at most this often (seconds of the caller's clock).
PROBE_INTERVAL: Final = 1.0


def connection_options(user: str) -> dict[str, Any]:
    """redis-py connection settings: reads bounded by :data:`TIMEOUT`, no retries of its own.

    Raises :class:`ConfigurationError` when the redis package is not installed,
    naming ``user`` (what needs it: "a Redis cache", "a shared quota").
    """
    try:
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff
    except ImportError:
        raise ConfigurationError(
            f"{user} needs the redis package: install openrouter-bench[redis]"
        ) from None
    return {"socket_timeout": TIMEOUT, "retry": Retry(NoBackoff(), 0)}


def client_from_url(url: str, *, user: str, malformed: str) -> Any:
    """A redis-py asyncio client for ``url``, connecting and reading within :data:`TIMEOUT`.

    ``malformed`` is the message of the :class:`ConfigurationError` raised for a
    URL redis-py cannot read (it says what the URL should look like).
    """
    options = connection_options(user)
    from redis.asyncio import Redis

    try:
        return Redis.from_url(url, socket_connect_timeout=TIMEOUT, **options)
    except ValueError:
        raise ConfigurationError(malformed) from None


class OutageBreaker:
    """Whether a store is down, and when to try it again.

    ``clock`` is in seconds (any clock: the caller's). After a failure the store
    is down and :meth:`allows` says no until :data:`PROBE_INTERVAL` has passed;
    then one call goes through as a probe. :meth:`failed` and :meth:`succeeded`
    return True exactly when the state changes, so the caller logs once per
    outage and once per recovery, in its own words.
    """

    __slots__ = ("_clock", "_probe_at", "down")

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._probe_at = 0.0
        #: True from a failure until the next success.
        self.down = False

    def allows(self) -> bool:
        """True when a call may go to the store: it is up, or it is time to probe it."""
        return not self.down or self._clock() >= self._probe_at

    def failed(self) -> bool:
        """Record a failure; True if the store was up until now."""
        self._probe_at = self._clock() + PROBE_INTERVAL
        if self.down:
            return False
        self.down = True
        return True

    def succeeded(self) -> bool:
        """Record a success; True if the store was down until now."""
        if not self.down:
            return False
        self.down = False
        return True
