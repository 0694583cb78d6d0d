"""Fan-out: many queries at once, each one's page or its error, nothing lost or leaked.

:func:`stream_outcomes` runs a set of queries with bounded concurrency and
yields ``(query, page_or_error)`` as each completes; :func:`fan_out` collects
them into a :class:`FanOutResult` in input order. Identical queries run once.
A query that fails with an :class:`~openrouter_bench.errors.OpenRouterBenchError`
keeps its error as its outcome and the others carry on; anything else (a
bug, a cancellation, the client closing under the run) stops the whole run.

Stopping early is clean: cancelling :func:`fan_out`, or closing the stream
(leaving an ``async with contextlib.aclosing(...)`` block, or ``aclose()``),
cancels the queries in flight and waits until each has finished, so no task
outlives the call. (A stream abandoned by a bare ``break`` is closed by
asyncio when it is garbage-collected, a moment later.)

Several Design Arena category queries of one arena are answered from that
arena's one page (:func:`deriving`, with :mod:`openrouter_bench._derived`
deciding what a page can prove), so a sweep of every category costs a request
per arena.

The BenchmarksClient methods ``fan_out`` and ``stream`` are the usual way in.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Iterator, Mapping
from typing import Final, TypeAlias

import attrs

from openrouter_bench import _checks, _derived
from openrouter_bench.errors import (
    ClientClosedError,
    InvalidQueryError,
    OpenRouterBenchError,
)
from openrouter_bench.models import Page
from openrouter_bench.query import Query

__all__ = ["FanOutResult"]

#: Queries in flight at once by default: well under the 30-a-minute quota, which
#: paces the requests anyway; more would only hold more connections open.
DEFAULT_CONCURRENCY: Final = 4

#: The most queries in flight at once: far more than the quota could ever feed.
_MAX_CONCURRENCY: Final = 1000

#: What a query ended with: its page, or the typed error it failed with.
Outcome: TypeAlias = Page | OpenRouterBenchError


def unique_queries(queries: Iterable[Query]) -> list[Query]:
    """The queries in first-seen order, each once; anything but a Query is refused."""
    if isinstance(queries, Query):
        raise InvalidQueryError("expected an iterable of queries, got one Query; wrap it in a list")
    try:
        each = iter(queries)
    except TypeError:
        raise InvalidQueryError(
            f"expected an iterable of queries, got {type(queries).__name__}"
        ) from None
    unique: dict[Query, None] = {}
    for query in each:
        if not isinstance(query, Query):
            raise InvalidQueryError(f"expected a Query, got {type(query).__name__}")
        unique.setdefault(query, None)
    return list(unique)


def check_concurrency(concurrency: int) -> int:
    """``concurrency`` if it is a whole number from 1 to :data:`_MAX_CONCURRENCY`."""
    return _checks.count("concurrency", concurrency, maximum=_MAX_CONCURRENCY)


@attrs.frozen(eq=False)
class FanOutResult(Mapping[Query, Outcome]):
    """Every query of a fan-out mapped to its page or its error, in input order.

    A read-only mapping: ``result[query]``, ``result.items()``, ``len(result)``.
    ``pages`` and ``errors`` split it; ``raise_first()`` raises the first
    error (in input order), if there is one.
    """

    _outcomes: Mapping[Query, Outcome] = attrs.field(alias="outcomes")

    def __getitem__(self, query: Query) -> Outcome:
        return self._outcomes[query]

    def __iter__(self) -> Iterator[Query]:
        return iter(self._outcomes)

    def __len__(self) -> int:
        return len(self._outcomes)

    def __repr__(self) -> str:
        return f"<FanOutResult {len(self.pages)} pages, {len(self.errors)} errors>"

    @property
    def pages(self) -> dict[Query, Page]:
        """The queries that succeeded, with their pages, in input order."""
        return {query: out for query, out in self._outcomes.items() if isinstance(out, Page)}

    @property
    def errors(self) -> dict[Query, OpenRouterBenchError]:
        """The queries that failed, with their errors, in input order."""
        return {
            query: out
            for query, out in self._outcomes.items()
            if isinstance(out, OpenRouterBenchError)
        }

    @property
    def ok(self) -> bool:
        """True when every query has a page."""
        return not self.errors

    def raise_first(self) -> None:
        """Raise the first query's error, in input order; do nothing if all succeeded."""
        for outcome in self._outcomes.values():
            if isinstance(outcome, OpenRouterBenchError):
                raise outcome


class _Shared:
    """One arena page's fetch, shared by the queries of a fan-out cut from it."""

    __slots__ = ("done", "outcome")

    def __init__(self) -> None:
        self.done = asyncio.Event()
        # None until the fetch ends, and again if it was cancelled (the next asker fetches).
        self.outcome: _derived.ArenaPage | OpenRouterBenchError | None = None


def deriving(
    get: Callable[[Query], Awaitable[Page]], queries: list[Query]
) -> Callable[[Query], Awaitable[Page]]:
    """``get``, answering the Design Arena category queries of ``queries`` from arena pages.

    Each arena page the plan names is fetched once (by whichever of its
    queries asks first; the others wait for it) through ``get``, so the cache
    and the quota see it like any query. A category page the arena page cannot
    prove to be the server's is fetched on its own; an error fetching the
    arena page is the outcome of every query cut from it. Without a plan
    (no two category queries of one arena), ``get`` itself is returned.
    """
    plan = _derived.plan(queries)
    if not plan:
        return get
    shared: dict[Query, _Shared] = {}

    async def arena_page(query: Query) -> _derived.ArenaPage:
        while True:
            entry = shared.get(query)
            if entry is None:
                entry = shared[query] = _Shared()
                try:
                    entry.outcome = _derived.ArenaPage.of(await get(query))
                except OpenRouterBenchError as error:
                    entry.outcome = error
                finally:
                    if entry.outcome is None:
                        del shared[query]
                    entry.done.set()
            else:
                await entry.done.wait()
            outcome = entry.outcome
            if isinstance(outcome, OpenRouterBenchError):
                raise outcome
            if outcome is not None:
                return outcome

    async def planned(query: Query) -> Page:
        arena = plan.get(query)
        if arena is None:
            return await get(query)
        source = await arena_page(arena)
        if query == arena:
            return source.page
        view = source.view(query)
        return await get(query) if view is None else view

    return planned


async def _outcome_of(get: Callable[[Query], Awaitable[Page]], query: Query) -> Outcome:
    try:
        return await get(query)
    except ClientClosedError:
        raise  # not this query's outcome: nothing more can run
    except OpenRouterBenchError as error:
        return error
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling() == 0:
            # Nobody cancelled this task: the work under it was, by the client closing.
            raise ClientClosedError("the client was closed while the fan-out ran") from None
        raise


async def stream_outcomes(
    get: Callable[[Query], Awaitable[Page]],
    queries: list[Query],
    concurrency: int,
) -> AsyncGenerator[tuple[Query, Outcome], None]:
    """``(query, page_or_error)`` for each of ``queries`` (distinct) as each completes.

    At most ``concurrency`` calls of ``get`` run at once; a finished one is
    replaced before its outcome is handed out, so a slow consumer does not
    slow the queries down. Closing the generator cancels what is running and
    waits for it.
    """
    waiting = iter(queries)
    running: dict[asyncio.Task[Outcome], Query] = {}
    # Each task reports itself here when done: O(1) per query, however many run at once.
    finished: asyncio.Queue[asyncio.Task[Outcome]] = asyncio.Queue()

    def start_next() -> None:
        for query in waiting:
            task = asyncio.ensure_future(_outcome_of(get, query))
            running[task] = query
            task.add_done_callback(finished.put_nowait)
            return

    try:
        for _ in range(concurrency):
            start_next()
        while running:
            task = await finished.get()
            query = running.pop(task)
            start_next()
            yield query, task.result()
    finally:
        for task in running:
            task.cancel()
        if running:
            # Waited for here, so no task outlives the stream; their outcomes are dropped.
            await asyncio.wait(running)
            for task in running:
                if not task.cancelled():
                    task.exception()


async def fan_out(
    get: Callable[[Query], Awaitable[Page]],
    queries: list[Query],
    concurrency: int,
) -> FanOutResult:
    """Run every query (distinct) and map each to its outcome, in input order.

    ``concurrency`` workers take the queries in turn, each awaiting one at a
    time: no task, queue or generator step per query, which with many queries
    in flight is what the event loop would spend its time on. The first failure
    that is not a query's outcome cancels the other workers, is waited out with
    them and raised; so is cancelling the call.
    """
    outcomes: dict[Query, Outcome] = {}
    waiting = iter(queries)

    async def work() -> None:
        for query in waiting:
            outcomes[query] = await _outcome_of(get, query)

    workers = [asyncio.ensure_future(work()) for _ in range(min(concurrency, len(queries)))]
    try:
        if workers:
            done, _ = await asyncio.wait(workers, return_when=asyncio.FIRST_EXCEPTION)
            for worker in workers:
                if worker in done:
                    worker.result()  # the first failure, if one ended the run
    finally:
        for worker in workers:
            worker.cancel()
        running = [worker for worker in workers if not worker.done()]
        if running:
            # Waited for here, so no task outlives the call; their failures are dropped.
            await asyncio.wait(running)
        for worker in workers:
            if not worker.cancelled():
                worker.exception()
    return FanOutResult({query: outcomes[query] for query in queries})
