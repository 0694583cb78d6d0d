"""Record what the client does with the OpenTelemetry metrics API.

    pip install 'openrouter-bench[otel]' opentelemetry-sdk
    python otel_hooks.py

``OpenTelemetryHooks`` needs only ``opentelemetry-api``: it takes its meter
from the global provider (or the one given), so the service's own SDK setup
decides where the numbers go (OTLP, Prometheus, the console). To have
something to show, this script sets up the SDK with an in-memory reader, runs
a small workload and prints each data point.
"""

from __future__ import annotations

import asyncio
import sys

from opentelemetry import metrics

from openrouter_bench import (
    BenchmarksClient,
    CacheEvent,
    ClientHooks,
    Query,
    RequestSent,
    ResponseReceived,
    RetryScheduled,
)


class OpenTelemetryHooks(ClientHooks):
    """Each client event becomes an instrument update: quick, as hooks run on the event loop."""

    def __init__(self, meter: metrics.Meter | None = None) -> None:
        meter = meter if meter is not None else metrics.get_meter("openrouter_bench")
        self.requests = meter.create_counter(
            "openrouter_bench.requests", unit="{request}", description="Upstream requests sent."
        )
        self.duration = meter.create_histogram(
            "openrouter_bench.request.duration", unit="s", description="Upstream attempt time."
        )
        self.retries = meter.create_counter(
            "openrouter_bench.retries", unit="{retry}", description="Attempts to be retried."
        )
        self.calls = meter.create_counter(
            "openrouter_bench.calls", unit="{call}", description="Calls, by cache outcome."
        )

    def request_sent(self, event: RequestSent) -> None:
        self.requests.add(1, {"openrouter_bench.source": str(event.query.source or "all")})

    def response_received(self, event: ResponseReceived) -> None:
        # The semantic conventions' names; no status means no answer came at all.
        attributes: dict[str, str | int] = {}
        if event.status is not None:
            attributes["http.response.status_code"] = event.status
        if event.error is not None:
            attributes["error.type"] = event.error
        self.duration.record(event.elapsed, attributes)

    def retry_scheduled(self, event: RetryScheduled) -> None:
        self.retries.add(1, {"error.type": event.error})

    def cache_event(self, event: CacheEvent) -> None:
        self.calls.add(1, {"openrouter_bench.outcome": event.outcome})


async def workload(client: BenchmarksClient) -> int:
    """A repeated question, a burst of identical ones; returns how many calls it made."""
    coders = Query(source="artificial-analysis", task_type="coding", max_results=10)
    await client.get(coders)
    await client.get(coders)  # answered from the cache
    await asyncio.gather(*(client.get(source="design-arena", category="svg") for _ in range(5)))
    return 7


async def main() -> int:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader, NumberDataPoint

    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    hooks = OpenTelemetryHooks(provider.get_meter("openrouter_bench"))
    async with BenchmarksClient(hooks=hooks) as client:
        calls = await workload(client)
    data = reader.get_metrics_data()
    assert data is not None
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    # Counters have a value; histograms a count (and a sum).
                    value = point.value if isinstance(point, NumberDataPoint) else point.count
                    print(metric.name, dict(point.attributes or {}), value)
    print(f"# {calls} calls")
    provider.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
