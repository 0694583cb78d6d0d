"""Where the time goes: cProfile over a contender's calls, summed by where the code lives.

A ratio says that the client is slower than its baseline, not why. Each
scenario with a baseline therefore profiles both sides over the same calls
and sums the profiler's own time per origin: a module of this package
(``openrouter_bench.retry``), a third-party distribution (``tenacity``,
``aiohttp``), ``asyncio``, the rest of the standard library, built-in
functions (``orjson.loads``, socket calls), and the event loop waiting for the
network. The difference per origin is what the client adds, and whose it is.

Profiled time is inflated by the profiler (more for code making many small
calls), so the figures are for comparing origins, not for quoting as speeds.
Freeing what a function leaves behind (a decoded JSON document, say) counts
toward its caller, so the same work can show up under different origins in
two contenders. The garbage collector is paused while profiling: a collection lands on
whichever function happens to allocate when it triggers, which would blur the
split (the timed samples, taken with it running, include its cost).
"""

from __future__ import annotations

import cProfile
import gc
import pstats
import re
from collections import defaultdict
from collections.abc import Mapping
from typing import Any, Final

from benchmarks._measure import AsyncCall

__all__ = ["WAITING", "describe_difference", "describe_split", "profile_calls"]

_SITE: Final = re.compile(r"[/\\]site-packages[/\\]([^/\\]+)")
_OURS: Final = re.compile(r"[/\\]openrouter_bench[/\\](.+?)\.py$")
_GENERATED: Final = re.compile(r"^<openrouter_bench\.(\w+) ")
_STDLIB: Final = re.compile(r"[/\\]lib[/\\]python3\.\d+[/\\]([^/\\]+)")
_BUILTIN_METHOD: Final = re.compile(r"of '([\w.]+)' objects")
_BUILTIN_FUNCTION: Final = re.compile(r"^\{(?:built-in method )?([\w.]+?)(?:\.\w+)?\}$")
WAITING: Final = "waiting for the network (epoll)"


def _builtin(function: str) -> str:
    """``{method 'send' of '_socket.socket' objects}`` -> ``built-in _socket.socket``."""
    if "'poll' of 'select.epoll'" in function:
        return WAITING
    method = _BUILTIN_METHOD.search(function)
    if method:
        return f"built-in {method.group(1)}"
    named = _BUILTIN_FUNCTION.match(function)
    if named:
        return f"built-in {named.group(1)}"
    if "__new__" in function:
        return "built-in object creation"
    return "built-ins"


def _origin(filename: str, function: str) -> str:
    if filename == "~":
        return _builtin(function)
    generated = _GENERATED.match(filename)
    if generated:
        return f"openrouter_bench.{generated.group(1)} (generated)"
    ours = _OURS.search(filename)
    if ours:
        return "openrouter_bench." + ours.group(1).replace("/", ".").replace("\\", ".")
    site = _SITE.search(filename)
    if site:
        return site.group(1).removesuffix(".py")
    if "benchmarks" in filename:
        return "benchmark harness"
    stdlib = _STDLIB.search(filename)
    if stdlib:
        module = stdlib.group(1).removesuffix(".py")
        return "asyncio" if module == "asyncio" else f"stdlib {module}"
    return "other"


async def profile_calls(call: AsyncCall, count: int) -> dict[str, float]:
    """Profiled seconds per call, by origin, over ``count`` awaits of ``call()``."""
    profiler = cProfile.Profile()
    gc.collect()
    gc.disable()
    profiler.enable()
    try:
        for _ in range(count):
            await call()
    finally:
        profiler.disable()
        gc.enable()
    table: dict[tuple[str, int, str], tuple[Any, ...]] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    by_origin: dict[str, float] = defaultdict(float)
    for (filename, _, function), (_, _, own_time, _, _) in table.items():
        by_origin[_origin(filename, function)] += own_time / count
    return dict(by_origin)


def describe_difference(
    ours: Mapping[str, float], baseline: Mapping[str, float], *, name: str, top: int = 8
) -> str:
    """A sentence: per call, what ``ours`` spends beyond ``baseline``, largest first."""
    origins = set(ours) | set(baseline)
    extra = sorted(
        ((ours.get(origin, 0.0) - baseline.get(origin, 0.0), origin) for origin in origins),
        reverse=True,
    )
    total = sum(ours.values()) - sum(baseline.values())
    shown = [
        f"{origin} {delta * 1e6:+.0f} µs" for delta, origin in extra[:top] if delta * 1e6 >= 0.5
    ]
    saved = [f"{origin} {delta * 1e6:+.0f} µs" for delta, origin in extra if delta * 1e6 <= -0.5]
    sentence = (
        f"Profile ({name}; cProfile's own time per call, inflated by the profiler; freeing "
        "a call's garbage counts toward its caller): "
        f"{total * 1e6:+.0f} µs in all; " + (", ".join(shown) or "nothing")
    )
    if saved:
        sentence += "; less: " + ", ".join(saved)
    return sentence + "."


def describe_split(profile: Mapping[str, float], *, name: str, top: int = 6) -> str:
    """A sentence: where one contender's profiled time goes, largest share first."""
    total = sum(profile.values())
    parts = sorted(((seconds, origin) for origin, seconds in profile.items()), reverse=True)
    shown = [f"{origin} {seconds / total:.0%}" for seconds, origin in parts[:top] if seconds > 0]
    return f"Profile ({name}; share of cProfile's own time): " + ", ".join(shown) + "."
