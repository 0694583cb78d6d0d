"""Scenario 6: 1,000 concurrent identical calls, cold.

Goal: the client sends exactly one upstream request per burst, and a burst
takes at most 1.5x the floor: one raw aiohttp call awaited by every task
(medians of one run). The baseline is that floor; the official SDK issuing
the same 1,000 calls (it has no coalescing: 1,000 requests) is measured too.

The client runs with the cache and quota off, so every burst starts cold;
the burst's calls share one fetch through the client's single-flight map.
The reference cold call is measured in the same run on the same client.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import time
from typing import Any, Final

from benchmarks._contenders import Call, official_sdk, our_client, raw_aiohttp
from benchmarks._context import RunContext
from benchmarks._documents import PAGE_50
from benchmarks._measure import stats_of, time_calls
from benchmarks._profile import describe_difference, profile_calls
from benchmarks._report import Plan, ScenarioResult, Verdict, plural, timed_row
from benchmarks._server import BenchServer
from openrouter_bench import Query

__all__ = ["PLAN", "run"]

SDK: Final = "official SDK, concurrent calls"
ONE: Final = "client.get, one cold call"
FLOOR: Final = "raw aiohttp once, every task awaiting it"
OURS: Final = "client.get, concurrent identical calls"

#: Most a coalesced burst may take over the floor.
MAX_RATIO: Final = 1.5
GOAL: Final = f"1 request; wall <= {MAX_RATIO:g}x raw aiohttp awaited by every task"
PLAN: Final = Plan(6, "concurrent identical calls, cold", (f"1,000 calls: client {GOAL}",))


#: Why a coalesced caller cannot cost what the floor's does, from instruction counts
#: (callgrind over bursts of 200 against this server, only the bursts counted).
_FLOOR_NOTE: Final = (
    "The floor of a coalesced caller: counted in instructions (callgrind, bursts of 200 "
    "calls), a floor burst costs 12.9 M and the client's 19.6 M (20.9 M before the join "
    "lost its coroutine and `get` its frame): some 56 K per caller for the task `gather` "
    "makes and its wake-up, which both pay, and some 33 K more per client caller for what "
    "keeps a caller a call of its own: the query and argument checks, the call registry "
    "that lets `aclose` end it and tells its cancellation from the client's, a future "
    "of its own on the flight (a caller that awaited the shared work directly would "
    "cancel it for everyone when cancelled), and the cache's counters. Each is a few "
    "hundred instructions of Python; none can go without losing what it keeps."
)


async def _gather(call: Call, size: int) -> list[Any]:
    return await asyncio.gather(*(call(PAGE_50) for _ in range(size)), return_exceptions=True)


async def _burst(call: Call, size: int, server: BenchServer) -> tuple[float, int, int]:
    """Wall seconds, upstream requests and failed calls of one burst."""
    gc.collect()
    before = await server.requests_served()
    started = time.perf_counter()
    outcomes = await _gather(call, size)
    wall = time.perf_counter() - started
    sent = await server.requests_served() - before
    return wall, sent, sum(isinstance(outcome, BaseException) for outcome in outcomes)


def _shared(call: Call) -> Call:
    """Coalescing by hand: the first caller starts one call, the others await the same task."""
    running: dict[Query, asyncio.Future[Any]] = {}

    async def coalesced(query: Query) -> Any:
        task = running.get(query)
        if task is None:
            task = running[query] = asyncio.ensure_future(call(query))
            task.add_done_callback(lambda _: running.pop(query, None))
        return await task

    return coalesced


async def run(context: RunContext) -> list[ScenarioResult]:
    """Bursts of the SDK, the client and the floor, interleaved; the client's single call."""
    size, rounds, per_round, singles = (50, 1, 1, 5) if context.quick else (1000, 3, 5, 300)
    server = context.server
    walls: dict[str, list[float]] = {SDK: [], FLOOR: [], OURS: []}
    sent: dict[str, list[int]] = {SDK: [], FLOOR: [], OURS: []}
    failed: dict[str, int] = {SDK: 0, FLOOR: 0, OURS: 0}
    async with contextlib.AsyncExitStack() as stack:
        calls = {
            SDK: await stack.enter_async_context(official_sdk(server.url)),
            FLOOR: _shared(await stack.enter_async_context(raw_aiohttp(server.url))),
            OURS: await stack.enter_async_context(our_client(server.url)),
        }
        for call in calls.values():
            await call(PAGE_50)  # connections open, code warm
        for _ in range(rounds):
            for name, call in calls.items():
                # The SDK's bursts take seconds each: one per round is plenty.
                for _ in range(1 if name == SDK else per_round):
                    wall, requests, failures = await _burst(call, size, server)
                    walls[name].append(wall)
                    sent[name].append(requests)
                    failed[name] += failures
        # One burst each, reported per caller.
        profiles = {
            name: {
                origin: seconds / size
                for origin, seconds in (
                    await profile_calls(functools.partial(_gather, calls[name], size), 1)
                ).items()
            }
            for name in (FLOOR, OURS)
        }
        gc.collect()
        ours = calls[OURS]
        single = await time_calls(lambda: ours(PAGE_50), singles)
    one = stats_of(single).median
    ratio = stats_of(walls[OURS]).median / stats_of(walls[FLOOR]).median
    floor = stats_of(walls[FLOOR]).median / one
    coalesced = all(requests == 1 for requests in sent[OURS]) and not failed[OURS]
    sdk_detail = f"{max(sent[SDK])} requests per burst"
    if failed[SDK]:
        sdk_detail += f"; {failed[SDK]} of {size * len(walls[SDK])} calls failed"
    rows = (
        timed_row(
            FLOOR,
            walls[FLOOR],
            baseline=walls[FLOOR],
            verdict=Verdict.BASELINE,
            detail=f"{max(sent[FLOOR])} request(s) per burst; {floor:.2f}x one cold call",
        ),
        timed_row(SDK, walls[SDK], baseline=walls[FLOOR], detail=sdk_detail),
        timed_row(ONE, single, baseline=walls[FLOOR], detail="one call, for scale"),
        timed_row(
            OURS,
            walls[OURS],
            baseline=walls[FLOOR],
            goal=GOAL,
            verdict=Verdict.of(coalesced and ratio <= MAX_RATIO),
            detail=f"{max(sent[OURS])} request(s) per burst, {failed[OURS]} failed calls",
            measured=f"{ratio:.2f}x, {max(sent[OURS])} request(s)",
            limit=MAX_RATIO,
        ),
    )
    notes: tuple[str, ...] = (
        f"Each burst is {size:,} concurrent calls for the 50-item page "
        "(`asyncio.gather`), its wall time one sample; the benchmark server counts the "
        f"requests each burst sends. {plural(rounds, 'round')}, each one SDK burst and "
        f"{per_round} of each other contender, after one untimed call each; then "
        f"{plural(singles, 'single call')} of the client for the reference.",
        "The SDK runs with its defaults (httpx's pool of 100 connections, its timeouts and "
        "retries); failed calls, if any, are counted in its row.",
        "The floor coalesces by hand: the first caller starts one raw aiohttp call as a task "
        "and every caller awaits it. It is what any coalescing pays in asyncio alone: "
        f"scheduling {size:,} tasks and waking each once, on top of one call.",
        describe_difference(
            profiles[OURS], profiles[FLOOR], name="one burst each, per caller, against the floor"
        ),
    )
    per_caller = (stats_of(walls[OURS]).median - stats_of(walls[FLOOR]).median) / size
    if not coalesced:
        notes += ("Why the goal is missed: the bursts did not share one request each.",)
    elif ratio > MAX_RATIO:
        notes += (
            f"Why the goal is missed: above the floor the client spends "
            f"{per_caller * 1e6:.1f} µs per coalesced caller, {ratio:.2f}x the floor's burst, "
            "as the profile shows.",
            _FLOOR_NOTE,
        )
    raw: dict[str, Any] = {
        "burst": size,
        "walls": walls,
        "requests": sent,
        "single": single,
        "profiles": profiles,
    }
    return [
        ScenarioResult(
            number=6,
            title=f"{size:,} concurrent identical calls, cold",
            rows=rows,
            notes=notes,
            raw=raw,
        )
    ]
