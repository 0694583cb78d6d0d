"""Count what the client does: requests, answers, retries and cache outcomes, via hooks.

    python metrics_hooks.py

A service would keep one ``MetricsHooks`` for its whole life and expose the
registry on ``/metrics``; this script runs a small workload (a repeated
question, a burst of identical ones, a fan-out) and prints the registry in
Prometheus' text format. ``Registry`` is a plain dict of counters, enough to
show the wiring without a dependency: with ``prometheus_client`` installed,
make each ``inc`` a ``Counter(...).labels(...).inc()`` and keep the hooks as
they are; OpenTelemetry's counters and histograms fit the same places.
"""

from __future__ import annotations

import asyncio
import sys
from collections import defaultdict

from openrouter_bench import (
    BenchmarksClient,
    CacheEvent,
    ClientHooks,
    Query,
    RequestSent,
    ResponseReceived,
    RetryScheduled,
)

Labels = tuple[tuple[str, str], ...]

#: Each metric family: its type and help text, as Prometheus shows them.
METRICS = {
    "openrouter_bench_requests_total": ("counter", "Upstream requests sent, retries included."),
    "openrouter_bench_responses_total": (
        "counter",
        "Upstream attempts ended, by status and error.",
    ),
    "openrouter_bench_request_seconds": ("summary", "Seconds spent on upstream attempts."),
    "openrouter_bench_retries_total": (
        "counter",
        "Failed attempts that will be retried, by error.",
    ),
    "openrouter_bench_calls_total": ("counter", "Calls, by how the cache answered them."),
}


class Registry:
    """Counters and summaries by name and label set, printed in Prometheus' text format."""

    def __init__(self) -> None:
        self.values: defaultdict[tuple[str, Labels], float] = defaultdict(float)

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        self.values[name, tuple(sorted(labels.items()))] += amount

    def observe(self, name: str, value: float, **labels: str) -> None:
        self.inc(f"{name}_sum", value, **labels)
        self.inc(f"{name}_count", 1, **labels)

    def total(self, name: str) -> float:
        return sum(value for (metric, _), value in self.values.items() if metric == name)

    def exposition(self) -> str:
        lines = []
        for family, (kind, help_text) in METRICS.items():
            names = {family} if kind == "counter" else {f"{family}_sum", f"{family}_count"}
            samples = sorted(
                (metric, labels, value)
                for (metric, labels), value in self.values.items()
                if metric in names
            )
            if not samples:
                continue
            lines += [f"# HELP {family} {help_text}", f"# TYPE {family} {kind}"]
            for metric, labels, value in samples:
                shown = ",".join(f'{key}="{_escape(text)}"' for key, text in labels)
                lines.append(f"{metric}{{{shown}}} {value:g}" if shown else f"{metric} {value:g}")
        return "\n".join(lines) + "\n"


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class MetricsHooks(ClientHooks):
    """Each client event becomes a counter bump: quick, as hooks run on the event loop."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def request_sent(self, event: RequestSent) -> None:
        source = str(event.query.source or "all")
        self.registry.inc("openrouter_bench_requests_total", source=source)

    def response_received(self, event: ResponseReceived) -> None:
        labels = {"status": "none" if event.status is None else str(event.status)}
        if event.error is not None:
            labels["error"] = event.error
        self.registry.inc("openrouter_bench_responses_total", 1, **labels)
        self.registry.observe("openrouter_bench_request_seconds", event.elapsed)

    def retry_scheduled(self, event: RetryScheduled) -> None:
        self.registry.inc("openrouter_bench_retries_total", error=event.error)

    def cache_event(self, event: CacheEvent) -> None:
        self.registry.inc("openrouter_bench_calls_total", outcome=event.outcome)


async def workload(client: BenchmarksClient) -> int:
    """A few calls of the kinds a service makes; returns how many calls it made."""
    coders = Query(source="artificial-analysis", task_type="coding", max_results=10)
    await client.get(coders)
    await client.get(coders)  # answered from the cache
    burst = [client.get(source="design-arena", category="gamedev") for _ in range(10)]
    await asyncio.gather(*burst)  # one request for all ten
    grid = Query.grid(source="design-arena", category=["svg", "3d"])
    results = await client.fan_out(grid)
    results.raise_first()
    return 2 + len(burst) + len(grid)


async def main() -> int:
    registry = Registry()
    async with BenchmarksClient(hooks=MetricsHooks(registry)) as client:
        calls = await workload(client)
        stats = client.stats
    sys.stdout.write(registry.exposition())
    requests = registry.total("openrouter_bench_requests_total")
    print(f"# {calls} calls, {requests:g} requests ({stats.retries} of them retries)")
    # The hooks saw what the client's own counters saw.
    assert requests == stats.requests
    assert registry.total("openrouter_bench_calls_total") == calls
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
