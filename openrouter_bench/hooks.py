"""Hooks: what the client does, as events a service can count or trace.

Subclass :class:`ClientHooks`, override the methods you care about, and pass
an instance as ``BenchmarksClient(hooks=...)``. Each method receives one
frozen event. Hooks run inline on the event loop, so keep them quick (bump a
counter, add a span event); a hook that raises is logged once and never fails
the call it observes.

Events never carry the API key or request headers: only the query, the
attempt number, the status, timings and the error's class name.
"""

from __future__ import annotations

import logging
from typing import Final, Literal

import attrs

from openrouter_bench.query import Query

__all__ = [
    "CacheEvent",
    "ClientHooks",
    "RequestSent",
    "ResponseReceived",
    "RetryScheduled",
    "WaitStarted",
]

_LOGGER: Final = logging.getLogger("openrouter_bench.hooks")

CacheOutcome = Literal["hit", "miss", "stale", "coalesced"]
WaitReason = Literal["quota", "rate_limit"]


@attrs.frozen
class RequestSent:
    """An upstream request is about to go out (``attempt`` counts from 1 within one call)."""

    query: Query
    attempt: int


@attrs.frozen
class ResponseReceived:
    """An upstream attempt ended: ``status`` is the HTTP status, or None when no answer came.

    ``error`` names the typed error the attempt ended with (``"ServerError"``),
    or is None for a page.
    """

    query: Query
    attempt: int
    status: int | None
    elapsed: float
    error: str | None


@attrs.frozen
class RetryScheduled:
    """A failed attempt will be retried after ``wait`` seconds."""

    query: Query
    attempt: int
    wait: float
    error: str


@attrs.frozen
class WaitStarted:
    """A request waits ``seconds`` before it may go out.

    ``reason`` is ``"quota"`` (the local per-minute budget has no slot yet)
    or ``"rate_limit"`` (the server asked every call to hold back). A retry's
    own wait is a :class:`RetryScheduled`.
    """

    query: Query
    reason: WaitReason
    seconds: float


@attrs.frozen
class CacheEvent:
    """How the cache answered one call: a hit, a miss, a stale serve, or a coalesced wait."""

    query: Query
    outcome: CacheOutcome


class ClientHooks:
    """No-op hooks; override any method to observe the client."""

    def request_sent(self, event: RequestSent) -> None:
        """Called before each upstream request."""

    def response_received(self, event: ResponseReceived) -> None:
        """Called after each upstream attempt, successful or not."""

    def retry_scheduled(self, event: RetryScheduled) -> None:
        """Called when a failed attempt will be retried."""

    def cache_event(self, event: CacheEvent) -> None:
        """Called once per call the cache answered or passed upstream."""

    def wait_started(self, event: WaitStarted) -> None:
        """Called before a request waits for the quota or a server's pause."""


class HookRunner:
    """Calls a :class:`ClientHooks` safely: a failing hook is logged once per method."""

    __slots__ = ("_failed", "_hooks")

    def __init__(self, hooks: ClientHooks | None) -> None:
        self._hooks = hooks
        self._failed: set[str] = set()

    @property
    def active(self) -> bool:
        """False when there are no hooks, so callers can skip building events."""
        return self._hooks is not None

    def emit(
        self, event: RequestSent | ResponseReceived | RetryScheduled | CacheEvent | WaitStarted
    ) -> None:
        """Deliver ``event`` to the matching hook method."""
        if self._hooks is None:
            return
        method = _METHODS[type(event)]
        try:
            getattr(self._hooks, method)(event)
        except Exception:  # a broken hook must never fail the call it watches
            if method not in self._failed:
                self._failed.add(method)
                _LOGGER.exception("hook %s raised; the call goes on (logged once)", method)


_METHODS: Final[dict[type, str]] = {
    RequestSent: "request_sent",
    ResponseReceived: "response_received",
    RetryScheduled: "retry_scheduled",
    CacheEvent: "cache_event",
    WaitStarted: "wait_started",
}
