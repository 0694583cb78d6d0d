"""The request budget: the one place that answers "may I send now?".

OpenRouter allows 30 requests a minute per key and 500 a day per account.
Every upstream attempt of a client, retries included, waits for its turn at
the client's :class:`QuotaLimiter`; cache hits and coalesced calls never
reach it.

- **Turns in order.** Calls of one process wait in one line (FIFO). A retry
  of a call already under way goes to the front: its deadline is running, and
  it should not spend it behind calls that have not started.
- **Exact sliding windows.** A request holds its slot from the moment it is
  let through until its answer is in, and the slot is dated by the moment it
  was given back. The server saw the request somewhere between the two, so
  no window of the server's clock ever holds more than the limit, whatever
  the latency. Failed, refused and timed-out requests count too.
- **The daily budget never sleeps.** When a day's worth is spent, a call fails
  at once with :class:`~openrouter_bench.errors.QuotaExhaustedError`, whose
  ``available_at`` says when the budget returns; the snapshot cache then
  serves a stale page if it has one.
- **A 429 pauses everyone.** :meth:`QuotaLimiter.pause` holds back every call
  until the server's ``Retry-After`` has passed; a call whose own deadline is
  shorter than the pause fails at once with
  :class:`~openrouter_bench.errors.RateLimitError`. Time spent waiting in
  line does not count against a call's deadline; a pause does.

Two ledgers keep the windows. The in-process one reads the client's injectable
clock. The shared one lives in Redis: one Lua script per decision, reading the
Redis server's ``TIME``, so the processes sharing it never disagree about
clocks and no two of them can take the last slot. If Redis fails, the
limiter counts in-process, logs once, and goes back to Redis when it answers.

Why not a library: ``limits`` (moving window, async Redis storage) decides on
the calling process's ``time.time()`` (neither injectable nor shared between
hosts), has no notion of a request still in flight, and does not wait: a
caller would poll it, so turns would not be in order. ``pyrate-limiter``
waits by retrying after a delay, which does not keep turns in order either,
and dates each request when it is let through, not when its answer is in.
Neither knows a pause that every process must honour. What is needed here is
small: a sorted log per window, and one script.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import logging
import math
import secrets
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Final
from urllib.parse import urlsplit

import attrs

from openrouter_bench import _redis
from openrouter_bench._checks import count, seconds
from openrouter_bench._ledger import (
    GRANTED,
    Ledger,
    LocalFallback,
    LocalLedger,
    Turn,
    Usage,
    Verdict,
    Window,
)
from openrouter_bench.errors import ConfigurationError, QuotaExhaustedError
from openrouter_bench.hooks import WaitReason
from openrouter_bench.retry import PauseCeiling, paused_past_deadline
from openrouter_bench.wire import DEFAULT_MAX_RETRY_AFTER

__all__ = ["QuotaPolicy", "QuotaStatus"]

logger: Final = logging.getLogger("openrouter_bench.quota")

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

#: Hears of a timed wait before it starts: why (``"quota"`` or ``"rate_limit"``) and how long.
WaitObserver = Callable[[WaitReason, float], None]

#: How often a process waiting for a slot another process holds looks again, at most.
_MAX_POLL: Final = 0.25

_MICROS: Final = 1_000_000


# A limit past this is no limit (pass None); it would not fit the shared ledger's numbers either.
_MAX_LIMIT: Final = 1_000_000_000


def _per_minute(value: int | None) -> int | None:
    return None if value is None else count("per_minute", value, maximum=_MAX_LIMIT)


def _per_day(value: int | None) -> int | None:
    return None if value is None else count("per_day", value, maximum=_MAX_LIMIT)


def _minute_window(value: float | timedelta) -> float:
    return seconds("minute_window", value)


def _day_window(value: float | timedelta) -> float:
    return seconds("day_window", value)


def _store(instance: object, attribute: attrs.Attribute[str | None], value: str | None) -> None:
    if value is None or value == "memory":
        return
    if isinstance(value, str) and _sqlite_path(value) is not None:
        return
    wrong = ConfigurationError(
        "the quota store is None (follow the cache), 'memory', a redis://host:port/db URL or a "
        f"sqlite:///path file, not {value.split(':', 1)[0][:20]!r}"
        if isinstance(value, str)
        else "the quota store is None, 'memory', a redis:// URL or a sqlite:///path file, "
        f"not {type(value).__name__}"
    )
    if not isinstance(value, str):
        raise wrong
    try:
        # The URL is not echoed past its scheme: it may hold a password.
        parts = urlsplit(value)
        usable = parts.scheme.lower() in ("redis", "rediss") and bool(parts.hostname)
        parts.port  # noqa: B018  # raises ValueError for a port that is not a number
    except ValueError:
        raise ConfigurationError("the quota store URL has a malformed host or port") from None
    if not usable:
        raise wrong


def _sqlite_path(store: str) -> str | None:
    """The file of a ``sqlite:///path`` store (``sqlite:////abs`` on POSIX), else None."""
    prefix = "sqlite:///"
    if store[: len(prefix)].lower() != prefix or len(store) == len(prefix):
        return None
    return store[len(prefix) :]


def _scope(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if (
        not isinstance(value, str)
        or not 0 < len(value) <= 200
        or not value.isprintable()
        or any(ch.isspace() or ch in "{}" for ch in value)
    ):
        shown = repr(value)[:60] if isinstance(value, str) else type(value).__name__
        raise ConfigurationError(
            f"the quota scope must be a word of 1 to 200 characters without spaces or braces, "
            f"got {shown}"
        )


@attrs.frozen
class QuotaPolicy:
    """How many requests a client may send, and who shares the count.

    - ``per_minute`` requests in any ``minute_window`` seconds (None: no limit);
    - ``per_day`` requests in any ``day_window`` seconds (None: no limit);
    - ``store``: None follows the cache (a Redis cache means a budget shared on
      that Redis server), ``"memory"`` keeps it in this process, a
      ``redis://`` URL shares it there, a ``sqlite:///path`` file shares it
      with the processes of this machine that use the file (the command line's
      default, so that separate runs share the day's budget);
    - ``scope``: processes with the same store and scope share one budget. The
      key's own budget is per key: give each key its own scope. (The scope is
      a name you choose: nothing derived from the key is ever stored.)

    The windows are parameters so tests and demos can run the real limits
    scaled down (30 per 2 s instead of 30 per minute).
    """

    per_minute: int | None = attrs.field(default=30, converter=_per_minute)
    per_day: int | None = attrs.field(default=500, converter=_per_day)
    minute_window: float = attrs.field(default=60.0, converter=_minute_window)
    day_window: float = attrs.field(default=86_400.0, converter=_day_window)
    store: str | None = attrs.field(default=None, validator=_store)
    scope: str = attrs.field(default="default", validator=_scope)

    @property
    def windows(self) -> tuple[Window, ...]:
        """The limits in force, the daily one first (it is checked first)."""
        windows = []
        if self.per_day is not None:
            windows.append(Window(self.per_day, self.day_window, daily=True))
        if self.per_minute is not None:
            windows.append(Window(self.per_minute, self.minute_window, daily=False))
        return tuple(windows)

    def __repr__(self) -> str:
        # A redis URL may carry a password: show the scheme and host only.
        store = self.store
        if store is not None and store != "memory" and _sqlite_path(store) is None:
            parts = urlsplit(store)
            store = f"{parts.scheme}://{parts.hostname}:{parts.port or 6379}"
        return (
            f"QuotaPolicy(per_minute={self.per_minute}, per_day={self.per_day}, "
            f"minute_window={self.minute_window:g}, day_window={self.day_window:g}, "
            f"store={store!r}, scope={self.scope!r})"
        )


# The shared ledger's scripts. Times are whole microseconds of the Redis server's clock,
# formatted with %.0f: Lua's default number formatting keeps only 14 digits.

_TAKE: Final = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local lease = tonumber(ARGV[2])
local retain = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%.0f', now - retain))
local function check(limit, length)
    local floor = string.format('(%.0f', now - length)
    local used = redis.call('ZCOUNT', KEYS[1], floor, '+inf')
    if used < limit then
        return nil
    end
    local pivot = redis.call('ZRANGEBYSCORE', KEYS[1], floor, '+inf', 'WITHSCORES',
                             'LIMIT', used - limit, 1)
    local score = tonumber(pivot[2])
    -- A score in the future is a request in flight: its lease end, not its release time.
    if score > now then
        return {2, math.ceil(score + length - now)}
    end
    return {1, math.ceil(score + length - now)}
end
local count = tonumber(ARGV[4])
for i = 0, count - 1 do
    local limit = tonumber(ARGV[5 + 3 * i])
    local length = tonumber(ARGV[6 + 3 * i])
    if ARGV[7 + 3 * i] == '1' then
        local verdict = check(limit, length)
        if verdict then
            return {4, verdict[2]}
        end
    end
end
-- A pause that is not a number is dropped; one past the ceiling (a poisoned key, or a
-- client with a longer ceiling) is cut to it once, so it ends instead of lasting years.
local max_pause = tonumber(ARGV[5 + 3 * count])
local paused = tonumber(redis.call('GET', KEYS[2]) or '0')
if not paused then
    redis.call('DEL', KEYS[2])
    paused = 0
elseif paused > now + max_pause then
    paused = now + max_pause
    redis.call('SET', KEYS[2], string.format('%.0f', paused), 'PX', math.ceil(max_pause / 1000))
end
if paused > now then
    return {3, math.ceil(paused - now)}
end
for i = 0, count - 1 do
    local limit = tonumber(ARGV[5 + 3 * i])
    local length = tonumber(ARGV[6 + 3 * i])
    if ARGV[7 + 3 * i] ~= '1' then
        local verdict = check(limit, length)
        if verdict then
            return verdict
        end
    end
end
redis.call('ZADD', KEYS[1], string.format('%.0f', now + lease), ARGV[1])
redis.call('PEXPIRE', KEYS[1], math.ceil((retain + lease) / 1000))
return {0, 0}
"""

_FINISH: Final = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
redis.call('ZADD', KEYS[1], 'XX', string.format('%.0f', now), ARGV[1])
return 1
"""

_PAUSE: Final = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local max_pause = tonumber(ARGV[2])
local resume = now + math.min(tonumber(ARGV[1]), max_pause)
local current = tonumber(redis.call('GET', KEYS[2]) or '0') or math.huge
-- The key lives exactly as long as the pause, so its TTL is never past the ceiling.
if resume > current or current > now + max_pause then
    redis.call('SET', KEYS[2], string.format('%.0f', resume),
               'PX', math.ceil((resume - now) / 1000))
end
return 1
"""

_USAGE: Final = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local counts = {}
for i = 1, #ARGV do
    local floor = string.format('(%.0f', now - tonumber(ARGV[i]))
    counts[i] = redis.call('ZCOUNT', KEYS[1], floor, '+inf')
end
local paused = tonumber(redis.call('GET', KEYS[2]) or '0')
counts[#ARGV + 1] = math.max(0, math.ceil(paused - now))
return counts
"""

_TURNS: Final = {
    0: Turn.GRANTED,
    1: Turn.WINDOW,
    2: Turn.HELD,
    3: Turn.PAUSED,
    4: Turn.EXHAUSTED,
}


class _RedisLedger:
    """The windows shared through Redis; the in-process ledger stands in while Redis is down."""

    def __init__(
        self,
        client: Any,
        *,
        prefix: str,
        windows: tuple[Window, ...],
        owns_client: bool,
        clock: Clock,
        max_pause: float,
    ) -> None:
        self._client = client
        self._owns_client = owns_client
        self._keys = [f"{prefix}:log", f"{prefix}:pause"]
        self._take = client.register_script(_TAKE)
        self._finish = client.register_script(_FINISH)
        self._pause = client.register_script(_PAUSE)
        self._usage = client.register_script(_USAGE)
        self._lengths = [str(math.ceil(window.length * _MICROS)) for window in windows]
        longest = max((window.length for window in windows), default=0.0)
        self._retain = math.ceil(longest * _MICROS)
        self._limits: list[str] = [str(len(windows))]
        for window in windows:
            self._limits += [
                str(window.limit),
                str(math.ceil(window.length * _MICROS)),
                "1" if window.daily else "0",
            ]
        self._max_pause = str(math.ceil(max_pause * _MICROS))
        self._limits.append(self._max_pause)
        self._clock = clock
        self._fallback = LocalFallback(windows, clock)
        self._breaker = _redis.OutageBreaker(clock)

    async def take(self, token: str, lease: float) -> Verdict:
        if not self._usable():
            return await self._fallback.take(token, lease)
        args = [token, str(math.ceil(lease * _MICROS)), str(self._retain), *self._limits]
        try:
            async with asyncio.timeout(_redis.TIMEOUT):
                code, wait = await self._take(keys=self._keys, args=args)
        except Exception as error:  # noqa: BLE001  # Redis trouble means "count here", not a failed call
            self._failed(error)
            return await self._fallback.take(token, lease)
        self._recovered()
        turn = _TURNS[int(code)]
        return GRANTED if turn is Turn.GRANTED else Verdict(turn, int(wait) / _MICROS)

    async def finish(self, token: str) -> None:
        if await self._fallback.finish(token):
            return
        try:
            async with asyncio.timeout(_redis.TIMEOUT):
                await self._finish(keys=self._keys, args=[token])
        except Exception as error:  # noqa: BLE001  # the slot's lease runs out by itself
            self._failed(error)

    async def pause(self, seconds: float) -> None:
        await self._fallback.pause(seconds)
        if not self._usable():
            return
        try:
            async with asyncio.timeout(_redis.TIMEOUT):
                await self._pause(
                    keys=self._keys, args=[str(math.ceil(seconds * _MICROS)), self._max_pause]
                )
        except Exception as error:  # noqa: BLE001  # the local pause still holds this process back
            self._failed(error)

    async def usage(self) -> Usage:
        if not self._usable():
            return await self._fallback.usage()
        try:
            async with asyncio.timeout(_redis.TIMEOUT):
                *counts, paused = await self._usage(keys=self._keys, args=self._lengths)
        except Exception as error:  # noqa: BLE001  # Redis trouble: report what this process counts
            self._failed(error)
            return await self._fallback.usage()
        self._recovered()
        return Usage(tuple(int(count) for count in counts), int(paused) / _MICROS)

    async def aclose(self) -> None:
        if not self._owns_client:
            return
        try:
            async with asyncio.timeout(_redis.TIMEOUT):
                await self._client.aclose()
        except Exception as error:  # noqa: BLE001  # closing is best effort
            logger.debug("quota: closing the Redis client failed: %r", error)

    def _usable(self) -> bool:
        return self._breaker.allows()

    def _failed(self, error: Exception) -> None:
        if not self._breaker.failed():
            return
        reason = "timed out" if isinstance(error, TimeoutError) else type(error).__name__
        logger.warning(
            "quota: the shared budget in Redis is unavailable (%s); "
            "counting in this process until Redis is back",
            reason,
        )

    def _recovered(self) -> None:
        if self._breaker.succeeded():
            logger.info("quota: Redis is back; the budget is shared again")


@attrs.frozen
class QuotaStatus:
    """What a request budget has spent and has left, read at ``at``.

    ``minute_used`` and ``day_used`` count the requests in the last minute
    window and the last day window (requests in flight included); the limits
    and what is left are None where the policy sets no limit (or no policy at
    all: ``store == "off"``). ``paused_until`` is when a server's 429 pause
    ends, or None. ``store`` says where the ledger is kept (``"memory"``,
    ``"sqlite:///path"``, ``"redis://host:port"``, ``"off"``) and ``shared``
    whether other processes count in it too.
    """

    at: datetime
    store: str
    shared: bool
    minute_used: int
    minute_limit: int | None
    day_used: int
    day_limit: int | None
    paused_until: datetime | None
    minute_window: float = 60.0
    day_window: float = 86_400.0

    @property
    def minute_left(self) -> int | None:
        """Requests still allowed in the current minute window (None: no limit)."""
        return None if self.minute_limit is None else max(0, self.minute_limit - self.minute_used)

    @property
    def day_left(self) -> int | None:
        """Requests still allowed in the current day window (None: no limit)."""
        return None if self.day_limit is None else max(0, self.day_limit - self.day_used)


class _Ticket:
    __slots__ = ("token",)

    def __init__(self, token: str) -> None:
        self.token = token


class QuotaLimiter:
    """One client's gate: turns in order, the policy's windows, and the server's pauses.

    Use :meth:`admit` around every request::

        async with limiter.admit(budget=deadline_left) as queued:
            ...  # send; ``queued`` is the time spent waiting in line

    A server's pause (:meth:`pause`) lasts at most ``max_pause`` seconds, here
    and on the shared key in Redis; the first longer ask is logged as a
    warning (once per limiter, so once per client).

    Build one with :func:`open_quota`.
    """

    def __init__(
        self,
        ledger: Ledger,
        *,
        policy: QuotaPolicy | None,
        lease: float,
        poll: float | None,
        timer: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        wall_clock: Clock = time.time,
        max_pause: float = DEFAULT_MAX_RETRY_AFTER,
    ) -> None:
        self.policy = policy
        self._ceiling = PauseCeiling(max_pause)
        self._ledger = ledger
        self._lease = lease
        self._poll = poll
        self._timer = timer
        self._sleep = sleep
        self._wall_clock = wall_clock
        self._line: collections.deque[_Ticket] = collections.deque()
        # The in-process ledger answers without waiting: a call with nobody ahead of it
        # takes its turn without joining the line (see turn_at_once).
        self._local = ledger if isinstance(ledger, LocalLedger) else None
        self._serial = itertools.count()
        self._changed = asyncio.Event()
        self._listening = 0
        self._admitted = 0
        self._queued = 0.0

    def __repr__(self) -> str:
        shared = "shared" if isinstance(self._ledger, _RedisLedger) else "in-process"
        return f"<QuotaLimiter {self.policy!r} {shared}, {len(self._line)} waiting>"

    @property
    def shared(self) -> bool:
        """True when the budget is kept in Redis or a SQLite file, shared with other processes."""
        from openrouter_bench._sqlite_quota import SQLiteLedger

        return isinstance(self._ledger, _RedisLedger | SQLiteLedger)

    @property
    def waiting(self) -> int:
        """Calls waiting in line right now."""
        return len(self._line)

    @property
    def admitted(self) -> int:
        """Requests let through so far."""
        return self._admitted

    @property
    def queued(self) -> float:
        """Seconds calls have spent waiting in line for a slot (pauses not included)."""
        return self._queued

    def admit(
        self, *, budget: float, retry: bool = False, on_wait: WaitObserver | None = None
    ) -> AbstractAsyncContextManager[float]:
        """Wait for a turn to send one request; the slot is held until the block ends.

        Yields the seconds spent waiting in line (not counting a pause), which
        the caller does not charge to its deadline. ``budget`` is what is left
        of the call's deadline: a pause longer than that raises
        :class:`RateLimitError` at once. A spent daily budget raises
        :class:`QuotaExhaustedError` at once. ``retry`` puts the request at the
        front of the line. ``on_wait(reason, seconds)`` hears of each timed
        wait before it starts: ``"quota"`` for a slot in a window,
        ``"rate_limit"`` for a pause the server asked for.
        """
        return _Admission(self, budget, retry, on_wait)

    def give_back(self, token: str) -> None:
        """End a turn :meth:`turn_at_once` gave (always one of this process's ledger)."""
        self._released_at_once(token)

    def _released_at_once(self, token: str) -> bool:
        """Give the slot back at once if the ledger is this process's; False if it is not."""
        local = self._local
        if local is None:
            return False
        try:
            local.finish_now(token)
        finally:
            self._notify()
        return True

    async def _release(self, token: str) -> None:
        try:
            await self._ledger.finish(token)
        finally:
            self._notify()

    async def pause(self, seconds: float) -> None:
        """Hold every call back for ``seconds`` from now (a 429's Retry-After), at most the ceiling.

        Anything but a positive number (NaN, a negative) is no pause.
        """
        wait = self._ceiling.cut(seconds)
        if wait > 0:
            logger.info("rate limited by the server: every call waits %.2f s", wait)
            await self._ledger.pause(wait)

    async def aclose(self) -> None:
        """Release the Redis connection or the SQLite file the limiter opened. Idempotent."""
        await self._ledger.aclose()

    async def status(self) -> QuotaStatus:
        """What the budget has spent this minute and today, what is left, and any pause."""
        policy = self.policy
        usage = await self._ledger.usage()
        windows = policy.windows if policy is not None else ()
        by_kind = {w.daily: (w, count) for w, count in zip(windows, usage.used, strict=True)}
        now = self._wall_clock()
        day = by_kind.get(True)
        minute = by_kind.get(False)
        return QuotaStatus(
            at=datetime.fromtimestamp(now, UTC),
            store=self._store_name(),
            shared=self.shared,
            minute_used=0 if minute is None else minute[1],
            minute_limit=None if minute is None else minute[0].limit,
            day_used=0 if day is None else day[1],
            day_limit=None if day is None else day[0].limit,
            paused_until=(
                datetime.fromtimestamp(now + usage.paused_for, UTC) if usage.paused_for else None
            ),
            minute_window=60.0 if policy is None else policy.minute_window,
            day_window=86_400.0 if policy is None else policy.day_window,
        )

    def _store_name(self) -> str:
        policy = self.policy
        if policy is None:
            return "off"
        if self.shared and policy.store is None:
            return "redis (the cache's)"
        store = policy.store
        if store is None:
            return "memory"
        if store == "memory" or _sqlite_path(store) is not None:
            return store
        parts = urlsplit(store)  # never the credentials a Redis URL may carry
        return f"{parts.scheme}://{parts.hostname}:{parts.port or 6379}"

    def _token(self) -> str:
        # A shared ledger tells requests of every process apart: a random token. In this
        # process a serial number is as unique and costs no system call.
        if self._local is not None:
            return str(next(self._serial))
        return secrets.token_hex(12)

    def turn_at_once(self) -> str | None:
        """A turn's token when it needs no wait and no line; None when :meth:`_turn` must run.

        The :class:`~openrouter_bench.retry.SendGate` side: the token goes back
        through :meth:`give_back`.

        With the ledger in this process and nobody in line (whoever waits is in
        it), there is no order to keep: what the ledger says now is what the head
        of an empty line would hear. Most requests go this way, without a coroutine.
        """
        local = self._local
        if local is None or self._line:
            return None
        token = self._token()
        if local.take_now(token, self._lease).turn is not Turn.GRANTED:
            return None
        self._admitted += 1
        return token

    async def _turn(
        self, budget: float, *, retry: bool, on_wait: WaitObserver | None
    ) -> tuple[str, float]:
        ticket = _Ticket(self._token())
        line = self._line
        if retry:
            line.appendleft(ticket)
        else:
            line.append(ticket)
        began = self._timer()
        paused = 0.0
        try:
            while True:
                if line[0] is not ticket:
                    await self._next_change()
                    continue
                verdict = await self._ledger.take(ticket.token, self._lease)
                turn = verdict.turn
                if turn is Turn.GRANTED:
                    break
                if turn is Turn.EXHAUSTED:
                    raise self._exhausted(verdict.wait)
                if turn is Turn.PAUSED:
                    left = budget - paused
                    if verdict.wait > left:
                        raise paused_past_deadline(verdict.wait, left)
                    logger.info("rate limited: waiting %.2f s before sending", verdict.wait)
                    if on_wait is not None:
                        on_wait("rate_limit", verdict.wait)
                    await self._sleep(verdict.wait)
                    paused += verdict.wait
                elif turn is Turn.WINDOW:
                    logger.debug("quota: next slot in %.3f s", verdict.wait)
                    if on_wait is not None:
                        on_wait("quota", verdict.wait)
                    await self._sleep(verdict.wait)
                else:
                    await self._slot_given_back()
        finally:
            line.remove(ticket)
            self._notify()
        self._admitted += 1
        queued = max(0.0, self._timer() - began - paused)
        self._queued += queued
        return ticket.token, queued

    async def _slot_given_back(self) -> None:
        """Wait until a request in flight ends (this process's, or another's: then poll)."""
        await self._next_change(self._poll)

    async def _next_change(self, poll: float | None = None) -> None:
        """Wait until a turn is taken or a slot is given back, or ``poll`` seconds pass."""
        # Counted before the event is looked up: a change from here on sets this one.
        self._listening += 1
        try:
            if poll is None:
                await self._changed.wait()
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), poll)
        finally:
            self._listening -= 1

    def _notify(self) -> None:
        # With nobody listening there is nobody to wake: the event is left as it is, so
        # a lone call does not build two events per request.
        if self._listening:
            changed, self._changed = self._changed, asyncio.Event()
            changed.set()

    def _exhausted(self, wait: float) -> QuotaExhaustedError:
        policy = self.policy
        returns = datetime.fromtimestamp(self._wall_clock() + wait, UTC)
        limit = "" if policy is None else f" ({policy.per_day} per {_span(policy.day_window)})"
        return QuotaExhaustedError(
            f"the daily request budget{limit} is spent; it returns at "
            f"{returns:%Y-%m-%d %H:%M:%S} UTC",
            available_at=returns,
        )


class _Admission(AbstractAsyncContextManager[float]):
    """One request's turn at a :class:`QuotaLimiter`, as ``async with limiter.admit(...)``.

    A class rather than a generator under ``contextlib.asynccontextmanager``: every
    request goes through one, and the generator costs several times as much.
    """

    __slots__ = ("_budget", "_limiter", "_on_wait", "_retry", "_token")

    def __init__(
        self, limiter: QuotaLimiter, budget: float, retry: bool, on_wait: WaitObserver | None
    ) -> None:
        self._limiter = limiter
        self._budget = budget
        self._retry = retry
        self._on_wait = on_wait
        self._token: str | None = None

    async def __aenter__(self) -> float:
        if self._token is not None:
            raise RuntimeError("a quota turn is entered once")
        limiter = self._limiter
        token = limiter.turn_at_once()
        if token is not None:
            self._token = token
            return 0.0
        token, queued = await limiter._turn(self._budget, retry=self._retry, on_wait=self._on_wait)
        self._token = token
        return queued

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        token = self._token
        if token is not None and not self._limiter._released_at_once(token):
            await self._limiter._release(token)


def _span(seconds: float) -> str:
    if seconds == 86_400:
        return "day"
    if seconds == 60:
        return "minute"
    return f"{seconds:g} s"


def open_quota(
    policy: QuotaPolicy | None,
    *,
    api: str,
    redis_client: Any = None,
    lease: float = 60.0,
    timer: Clock = time.monotonic,
    sleep: Sleep = asyncio.sleep,
    wall_clock: Clock = time.time,
    max_pause: float = DEFAULT_MAX_RETRY_AFTER,
) -> QuotaLimiter:
    """The limiter a client uses under ``policy``.

    ``policy=None`` sets no limit but still honours the server's pauses.
    ``api`` names the API the budget is for (the client's host and path).
    ``redis_client`` is the Redis client of the client's cache, if it has
    one: a policy with ``store=None`` shares the budget there. ``lease`` is the
    longest a request can take; a process that dies mid-request holds its
    slot for that long. ``max_pause`` is the longest a server's pause may
    hold calls back (the client's ``RetryPolicy.max_retry_after``), in this
    process and on the shared pause key.
    """
    if policy is None:
        return QuotaLimiter(
            LocalLedger((), timer),
            policy=None,
            lease=lease,
            poll=None,
            timer=timer,
            sleep=sleep,
            wall_clock=wall_clock,
            max_pause=max_pause,
        )
    windows = policy.windows
    sqlite_path = None if policy.store is None else _sqlite_path(policy.store)
    if sqlite_path is not None:
        from openrouter_bench._sqlite_quota import SQLiteLedger

        shortest = min((window.length for window in windows), default=1.0)
        return QuotaLimiter(
            SQLiteLedger(
                sqlite_path, scope=f"{api}|{policy.scope}", windows=windows, clock=wall_clock
            ),
            policy=policy,
            lease=lease,
            poll=min(_MAX_POLL, shortest / 40),
            timer=timer,
            sleep=sleep,
            wall_clock=wall_clock,
        )
    client, owns = None, False
    if policy.store is not None and policy.store != "memory":
        client, owns = _redis_from_url(policy.store), True
    elif policy.store is None:
        client = redis_client
    if client is None:
        return QuotaLimiter(
            LocalLedger(windows, timer),
            policy=policy,
            lease=lease,
            poll=None,
            timer=timer,
            sleep=sleep,
            wall_clock=wall_clock,
            max_pause=max_pause,
        )
    ledger = _RedisLedger(
        client,
        prefix=f"openrouter-bench:quota:{{{api}|{policy.scope}}}",
        windows=windows,
        owns_client=owns,
        clock=timer,
        max_pause=max_pause,
    )
    shortest = min((window.length for window in windows), default=1.0)
    return QuotaLimiter(
        ledger,
        policy=policy,
        lease=lease,
        poll=min(_MAX_POLL, shortest / 40),
        timer=timer,
        sleep=sleep,
        wall_clock=wall_clock,
        max_pause=max_pause,
    )


def _redis_from_url(url: str) -> Any:
    return _redis.client_from_url(
        url,
        user="a shared quota",
        malformed="the quota store URL looks like redis://host:port/db (db a number)",
    )
