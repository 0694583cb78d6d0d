"""The client for synchronous code: scripts, notebooks, sync web frameworks.

:class:`SyncBenchmarksClient` is a facade, not a second client: it runs one
:class:`~openrouter_bench.client.BenchmarksClient` on an event loop of its own,
in a private thread, and each method hands the async method's coroutine to
that loop (``asyncio.run_coroutine_threadsafe``) and waits for its result. So
the cache, the single-flight, the retries, the quota and the typed errors are
exactly the async client's, and one facade may be called from several threads
at once (their calls share the cache and coalesce like concurrent tasks).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterable
from datetime import timedelta
from types import TracebackType
from typing import Any, Self, TypeVar

from openrouter_bench import fanout
from openrouter_bench.client import BenchmarksClient, ClientStats
from openrouter_bench.errors import ClientClosedError, WrongEventLoopError
from openrouter_bench.fanout import FanOutResult
from openrouter_bench.models import Page
from openrouter_bench.query import Arena, Query
from openrouter_bench.quota import QuotaStatus

__all__ = ["SyncBenchmarksClient"]

_T = TypeVar("_T")


class SyncBenchmarksClient:
    """:class:`~openrouter_bench.client.BenchmarksClient` for code without an event loop.

    It takes the same arguments (``api_key`` first, the rest by keyword) and
    offers the same calls, blocking until each is done::

        with SyncBenchmarksClient() as client:
            page = client.get(source="design-arena", category="svg")
            for item in page.items_of(DesignArenaItem):
                print(item.display_name, item.elo)

    Errors are the async client's own typed errors. Close it (``close()``, or
    leave the ``with`` block) to release its connections and its thread; a
    closed client raises :class:`~openrouter_bench.errors.ClientClosedError`.
    Do not call it from inside its own hooks: they run on its loop thread.
    """

    def __init__(self, api_key: str | None = None, **options: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="openrouter-bench-sync", daemon=True
        )
        self._closed = False
        self._thread.start()
        try:
            # Built on its own loop, so everything it makes belongs to that loop.
            self._client = self._submit(_opened(api_key, options))
        except BaseException:
            self._closed = True
            self._stop()
            raise

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        base_url = getattr(self, "_client", None)
        shown = "" if base_url is None else f" {base_url.base_url}"
        return f"<SyncBenchmarksClient{shown} state={state}>"

    def __enter__(self) -> Self:
        if self._closed:
            raise ClientClosedError("this client is closed; make a new one")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        """True once the client was closed."""
        return self._closed

    def get(
        self,
        query: Query | None = None,
        /,
        *,
        max_age: float | timedelta | None = None,
        refresh: bool = False,
        **params: Any,
    ) -> Page:
        """The page for a query, as :meth:`BenchmarksClient.get` answers it; blocks until then."""
        return self._run(self._client.get(query, max_age=max_age, refresh=refresh, **params))

    def fan_out(
        self,
        queries: Iterable[Query],
        *,
        concurrency: int = fanout.DEFAULT_CONCURRENCY,
        max_age: float | timedelta | None = None,
        refresh: bool = False,
        derive: bool = True,
    ) -> FanOutResult:
        """Every query's page or error, as :meth:`BenchmarksClient.fan_out` gives them."""
        return self._run(
            self._client.fan_out(
                queries, concurrency=concurrency, max_age=max_age, refresh=refresh, derive=derive
            )
        )

    def categories(
        self, arena: Arena | str = Arena.MODELS, *, refresh: bool = False
    ) -> tuple[str, ...]:
        """The Design Arena categories of an arena (:meth:`BenchmarksClient.categories`)."""
        return self._run(self._client.categories(arena, refresh=refresh))

    def history(self, query: Query | None = None, /, **params: Any) -> list[Page]:
        """The stored snapshots of a query, newest first (:meth:`BenchmarksClient.history`)."""
        return self._run(self._client.history(query, **params))

    def quota_status(self) -> QuotaStatus:
        """What the quota spent and has left (:meth:`BenchmarksClient.quota_status`)."""
        return self._run(self._client.quota_status())

    @property
    def stats(self) -> ClientStats:
        """Blocking :attr:`BenchmarksClient.stats`: the client's counters, read on its loop."""
        return self._run(_stats_of(self._client))

    def close(self) -> None:
        """Close the client, its connections and its thread. Idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            self._submit(self._client.aclose())
        finally:
            self._stop()

    def _run(self, call: Coroutine[Any, Any, _T]) -> _T:
        if self._closed:
            call.close()
            raise ClientClosedError("this client is closed; make a new one")
        if threading.current_thread() is self._thread:
            call.close()
            # Waiting here for the loop this thread runs would wait forever.
            raise WrongEventLoopError(
                "a SyncBenchmarksClient was called from its own event loop (from a hook?); "
                "hooks must not call the client"
            )
        return self._submit(call)

    def _submit(self, call: Coroutine[Any, Any, _T]) -> _T:
        future = asyncio.run_coroutine_threadsafe(call, self._loop)
        try:
            return future.result()
        except BaseException:
            # Ctrl-C while waiting: stop the call on the loop too, not only the wait here.
            future.cancel()
            raise

    def _stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        # The loop has stopped: finish what it owns here, then close it.
        self._loop.run_until_complete(self._loop.shutdown_asyncgens())
        self._loop.run_until_complete(self._loop.shutdown_default_executor())
        self._loop.close()


async def _opened(api_key: str | None, options: dict[str, Any]) -> BenchmarksClient:
    client = BenchmarksClient(api_key, **options)
    return await client.__aenter__()


async def _stats_of(client: BenchmarksClient) -> ClientStats:
    # Read on the loop thread, between two steps of the calls it counts.
    return client.stats
