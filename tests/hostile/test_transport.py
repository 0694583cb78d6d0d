"""Hostile answers to the HTTP exchange: decompression bombs and error pages over the cap."""

from __future__ import annotations

import contextlib
import time
import tracemalloc
from collections.abc import Iterator

import attrs
import orjson
import pytest

from benchmarks.loop_stall import inflating, streamed
from openrouter_bench import (
    BenchmarksClient,
    Query,
    ResponseFormatError,
    RetryPolicy,
    ServerError,
    transport,
)
from openrouter_bench.fake import FakeOpenRouter, FakeTime
from openrouter_bench.fake.hostile import HostileServer, respond
from tests.conftest import CANARY_KEY

from .conftest import Observe

CAP = transport.DEFAULT_MAX_RESPONSE_BYTES
MiB = 1024 * 1024
QUERY = Query(source="artificial-analysis", task_type="coding")


@attrs.define
class _Cost:
    """What one call cost: Python memory at its peak (decoded bytes included) and seconds.

    The process's peak RSS is not used: earlier tests have set it higher already.
    ``python -m benchmarks.loop_stall --bomb`` measures that in a fresh process.
    """

    traced_peak: int = 0
    seconds: float = 0.0

    def __str__(self) -> str:
        return f"peak Python memory {self.traced_peak / MiB:.1f} MiB, {self.seconds:.2f} s"


@contextlib.contextmanager
def _measured() -> Iterator[_Cost]:
    cost = _Cost()
    tracemalloc.start()
    started = time.perf_counter()
    try:
        yield cost
    finally:
        cost.seconds = time.perf_counter() - started
        cost.traced_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()


def _client(url: str, **options: object) -> BenchmarksClient:
    return BenchmarksClient(
        CANARY_KEY,
        base_url=url,
        quota=None,
        retry=RetryPolicy.no_wait(attempts=1),
        **({"cache": None} | options),  # type: ignore[arg-type]  # the client's own options
    )


async def _bomb(coding: str, inflated: int, **framing: bool) -> tuple[str, _Cost]:
    async with (
        HostileServer(inflating(coding, inflated, **framing)) as server,
        _client(server.url) as client,
    ):
        with _measured() as cost, pytest.raises(ResponseFormatError) as caught:
            await client.get(QUERY)
    return str(caught.value), cost


@pytest.mark.hostile(
    case="a 10 GiB gzip bomb (10 MiB on the wire, chunked, no Content-Length)",
    expected="ResponseFormatError once 2 MiB are decoded; memory stays near the cap",
)
async def test_a_gzip_bomb_stops_at_the_cap(observe: Observe) -> None:
    """A 10 GiB gzip bomb raises ResponseFormatError at the cap, holding a few times the cap."""
    message, cost = await _bomb("gzip", 10 * 1024**3, chunked=True)
    assert f"inflates past the {CAP}-byte cap" in message
    assert cost.traced_peak < 4 * CAP
    observe(f"ResponseFormatError after {CAP / MiB:.1f} MiB decoded of a 10 GiB bomb; {cost}")


@pytest.mark.hostile(
    case="a 300 KiB gzip body with a true Content-Length that inflates to 300 MiB",
    expected="ResponseFormatError at the cap: the Content-Length check does not wave it through",
)
async def test_a_small_declared_gzip_body_is_still_capped_decoded(observe: Observe) -> None:
    """A gzip body whose Content-Length is under the cap is capped by what it inflates to."""
    message, cost = await _bomb("gzip", 300 * MiB, content_length=True)
    assert "inflates past" in message
    assert cost.traced_peak < 4 * CAP
    observe(f"ResponseFormatError after {CAP / MiB:.1f} MiB decoded of 300 MiB; {cost}")


@pytest.mark.hostile(
    case="a 1 GiB deflate bomb ending at the close (no Content-Length, not chunked)",
    expected="ResponseFormatError once 2 MiB are decoded",
)
async def test_a_deflate_bomb_without_framing_stops_at_the_cap(observe: Observe) -> None:
    """A deflate bomb read to the connection's close is stopped at the cap too."""
    message, cost = await _bomb("deflate", 1024**3, content_length=False)
    assert "deflate answer inflates past" in message
    assert cost.traced_peak < 4 * CAP
    observe(f"ResponseFormatError after {CAP / MiB:.1f} MiB decoded of 1 GiB; {cost}")


@pytest.fixture(scope="module")
def page_body() -> bytes:
    """The fake's answer to QUERY: the page a cache would hold."""
    return orjson.dumps(FakeOpenRouter(seed=9).payload(QUERY.params))


@pytest.mark.hostile(
    case="a 502 with a 20 MiB HTML body, a stale page in the cache",
    expected="the stale page is served: a 502 is a 502 whatever its body",
)
async def test_a_huge_502_still_lets_the_cache_serve_stale(
    observe: Observe, page_body: bytes
) -> None:
    """A refresh answered by a 502 with a body ten times the cap serves the stale page."""
    clock = FakeTime()
    size = 20 * MiB
    async with (
        HostileServer(respond(200, page_body), streamed(502, size)) as server,
        _client(
            server.url, cache="memory", ttl=60, clock=clock.time, timer=clock.monotonic
        ) as client,
    ):
        fresh = await client.get(QUERY)
        clock.advance(61)
        with _measured() as cost:
            stale = await client.get(QUERY)
    assert not fresh.stale
    assert stale.stale
    assert stale.meta.as_of == fresh.meta.as_of
    assert len(server.requests) == 2
    assert cost.traced_peak < size // 8
    observe(
        f"stale page served ({len(stale)} items) after a 502 read for its first "
        f"{transport._ERROR_EXCERPT_BYTES // 1024} KiB of {size // MiB} MiB; {cost}"
    )


@pytest.mark.hostile(
    case="a 502 with a 20 MiB HTML body, nothing cached",
    expected="ServerError 502 with the page's title, not ResponseFormatError",
)
async def test_a_huge_502_is_a_server_error(observe: Observe) -> None:
    """Without a stale page the caller gets ServerError(502) titled from the HTML."""
    async with HostileServer(streamed(502, 20 * MiB)) as server, _client(server.url) as client:
        with _measured() as cost, pytest.raises(ServerError) as caught:
            await client.get(QUERY)
    assert caught.value.status == 502
    assert cost.traced_peak < 20 * MiB // 8
    assert "502 Bad Gateway" in caught.value.message
    observe(f"ServerError: {caught.value}; {cost}")
