"""Count what the client does with ``prometheus_client``: requests, answers, retries, cache.

    pip install 'openrouter-bench[prometheus]'
    python prometheus_hooks.py

A service keeps one ``PrometheusHooks`` for its whole life, on the registry its
``/metrics`` endpoint serves (``prometheus_client.start_http_server``, or
``make_asgi_app`` / ``make_wsgi_app`` in a web framework). This script runs a
small workload (a repeated question, a burst of identical ones, a fan-out) on a
registry of its own and prints it in Prometheus' text format.
"""

from __future__ import annotations

import asyncio
import sys

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest

from openrouter_bench import (
    BenchmarksClient,
    CacheEvent,
    ClientHooks,
    Query,
    RequestSent,
    ResponseReceived,
    RetryScheduled,
)


class PrometheusHooks(ClientHooks):
    """Each client event becomes a metric update: quick, as hooks run on the event loop."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.requests = Counter(
            "openrouter_bench_requests",
            "Upstream requests sent, retries included.",
            ["source"],
            registry=registry,
        )
        self.responses = Counter(
            "openrouter_bench_responses",
            "Upstream attempts ended, by status and error class ('none': a page).",
            ["status", "error"],
            registry=registry,
        )
        self.seconds = Histogram(
            "openrouter_bench_request_seconds",
            "Seconds spent on upstream attempts.",
            registry=registry,
        )
        self.retries = Counter(
            "openrouter_bench_retries",
            "Failed attempts that will be retried, by error class.",
            ["error"],
            registry=registry,
        )
        self.calls = Counter(
            "openrouter_bench_calls",
            "Calls, by how the cache answered them.",
            ["outcome"],
            registry=registry,
        )

    def request_sent(self, event: RequestSent) -> None:
        self.requests.labels(source=str(event.query.source or "all")).inc()

    def response_received(self, event: ResponseReceived) -> None:
        # No status means no answer came (a reset, a timeout): the error class says which.
        status = "none" if event.status is None else str(event.status)
        self.responses.labels(status=status, error=event.error or "none").inc()
        self.seconds.observe(event.elapsed)

    def retry_scheduled(self, event: RetryScheduled) -> None:
        self.retries.labels(error=event.error).inc()

    def cache_event(self, event: CacheEvent) -> None:
        self.calls.labels(outcome=event.outcome).inc()


async def workload(client: BenchmarksClient) -> int:
    """A few calls of the kinds a service makes; returns how many calls it made."""
    coders = Query(source="artificial-analysis", task_type="coding", max_results=10)
    await client.get(coders)
    await client.get(coders)  # answered from the cache
    burst = [client.get(source="design-arena", category="gamedev") for _ in range(10)]
    await asyncio.gather(*burst)  # one request for all ten
    grid = Query.grid(source="design-arena", arena=["models", "builders"], category="svg")
    results = await client.fan_out(grid)
    results.raise_first()
    return 2 + len(burst) + len(grid)


async def main() -> int:
    registry = CollectorRegistry()
    async with BenchmarksClient(hooks=PrometheusHooks(registry)) as client:
        calls = await workload(client)
        stats = client.stats
    sys.stdout.write(generate_latest(registry).decode())
    print(f"# {calls} calls, {stats.requests} requests ({stats.retries} of them retries)")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
