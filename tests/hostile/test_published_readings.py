"""Hostile forms of what the published documents allow: an error_type, an as_of in another form."""

from __future__ import annotations

import orjson
import pytest

from openrouter_bench import BenchmarksClient, Page, RateLimitError, RetryPolicy
from openrouter_bench._convert import encode_page
from openrouter_bench.fake.hostile import HostileServer, respond
from tests.conftest import CANARY_KEY

from .conftest import Observe


def _client(server: HostileServer) -> BenchmarksClient:
    return BenchmarksClient(
        CANARY_KEY, base_url=server.url, retry=RetryPolicy.never(), cache=None, quota=None
    )


@pytest.mark.hostile(
    case="a 429 whose error_type is 50 kB echoing the key, with newlines",
    expected="RateLimitError.error_type is one short line without the key",
)
async def test_a_hostile_error_type_is_cleaned(observe: Observe) -> None:
    """error.metadata.error_type of 50 kB (an error body is read up to 64 KiB), echoing the key,
    becomes a short clean line."""
    error_type = f"rate_limit_exceeded\nBearer {CANARY_KEY}\r\n" + "x" * 50_000
    body = orjson.dumps(
        {"error": {"message": "slow", "code": 429, "metadata": {"error_type": error_type}}}
    )
    async with HostileServer(respond(429, body)) as server, _client(server) as client:
        with pytest.raises(RateLimitError) as limited:
            await client.get(source="openrouter")
    shown = limited.value.error_type
    assert shown is not None
    assert shown.startswith("rate_limit_exceeded ")
    assert CANARY_KEY not in shown
    assert "\n" not in shown
    assert "\r" not in shown
    assert len(shown) <= 60
    observe(f"error_type of {len(shown)} characters, one line, key redacted: {shown[:40]!r}...")


@pytest.mark.hostile(
    case="meta.as_of with a fraction of 100,000 digits",
    expected="the page reads; the text is not kept, the standard form is written back",
)
async def test_an_as_of_with_an_endless_fraction_is_not_kept(observe: Observe) -> None:
    """A 100,000-digit fraction reads as a moment, and only its standard form is written back."""
    as_of = "2026-06-03T12:00:00." + "0" * 100_000 + "Z"
    meta = {
        "as_of": as_of,
        "version": "v1",
        "source": None,
        "source_url": None,
        "citation": None,
        "model_count": 0,
        "task_type": None,
    }
    body = orjson.dumps({"data": [], "meta": meta})
    async with HostileServer(respond(200, body)) as server, _client(server) as client:
        page = await client.get(source="openrouter")
    assert isinstance(page, Page)
    assert page.meta.as_of.utcoffset() is not None
    assert page.meta.raw_as_of is None
    written = orjson.loads(encode_page(page))["meta"]["as_of"]
    assert written == "2026-06-03T12:00:00Z"
    observe(f"read as {page.meta.as_of.isoformat()}; written back as {written}")
