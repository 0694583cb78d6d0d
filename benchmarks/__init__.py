"""Benchmarks: this client side by side with raw aiohttp, httpx, the official SDK and msgspec.

Run every scenario and rewrite ``docs/performance.md`` and its chart (a few minutes)::

    python -m benchmarks

or a smoke run that finishes in seconds (what CI runs; no timing asserted)::

    python -m benchmarks --quick

The endpoint is served from a separate process that answers with bytes built
before any timing starts (:mod:`benchmarks._server`), so the server is never
what is measured. One module per scenario; each measures every contender in
the same run against the same server and payloads and states its goal:

1. :mod:`benchmarks.cold_call`: one uncached call, 50-item and 1,000-item pages
2. :mod:`benchmarks.parse`: bytes to a typed page, 10,000 mixed items
3. :mod:`benchmarks.memory_hit`: a cache hit in memory
4. :mod:`benchmarks.redis_hit`: a cache hit from Redis in a fresh process
5. :mod:`benchmarks.fan_out`: 1,000 distinct queries, concurrency 64
6. :mod:`benchmarks.burst`: 1,000 concurrent identical calls, cold
7. :mod:`benchmarks.memory_growth`: resident memory after 100,000 distinct cached queries
8. :mod:`benchmarks.loop_stall`: the longest event-loop stall while a body at the size cap
   becomes a page, with large bodies parsed off the loop and on it

``python -m benchmarks.loop_stall --bomb`` measures a 10 GiB gzip bomb on its own.
The other modules here (``parse_speed`` and any added since) are separate
tools with their own command lines; ``python -m benchmarks`` does not run them.
"""
