"""Server text is untrusted: no echo of the key, no flood, no forged log line gets through.

A hostile server echoes the request's ``Authorization`` header (whole, or the
bare key) into every text an error keeps: the JSON message and metadata, the
``user_id``, an HTML ``<title>`` and body, a header's value; it sends a
megabyte of message, and messages with newlines and terminal escapes that
would forge log lines. Each row checks every exception attribute, ``str``
and ``repr`` along the exception chain, and every log record the package
writes (all levels).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Final

import orjson
import pytest

from openrouter_bench import BenchmarksClient, OpenRouterBenchError, RetryPolicy
from openrouter_bench.fake import FakeTime
from openrouter_bench.fake.hostile import Answer, HostileServer, RawRequest, respond
from tests.conftest import CANARY_KEY

from .conftest import PAGE, Observe

#: The longest a log record's message may be: one cleaned server text plus our own words.
RECORD_LIMIT: Final = 1_000
#: The longest any text an error keeps may be.
TEXT_LIMIT: Final = 700

# C0 and C1 controls, DEL, the Unicode line separators, and the bidi overrides.
_FORBIDDEN: Final = frozenset(
    chr(code) for code in [*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029, 0x202E]
)

FORGED: Final = "oops\n2026-01-01 00:00:00 CRITICAL forged {auth}\r\n\x1b[2J\x1b[31mred\x1b[0m"

MESSAGES: Final = {
    "the key": "{key}",
    "Bearer <key>": "{auth}",
    "1 MB of text": "A" * 1_000_000 + " {key}",
    "forged log lines and ANSI escapes": FORGED,
}


class Records(logging.Handler):
    """Every record the package logs, at every level."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def records() -> Iterator[Records]:
    """A handler on the ``openrouter_bench`` logger, at DEBUG, for the test's length."""
    handler = Records()
    package = logging.getLogger("openrouter_bench")
    level = package.level
    package.addHandler(handler)
    package.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        package.removeHandler(handler)
        package.setLevel(level)


def _echo(
    status: int, body: str, *, html: bool = False, headers: dict[str, str] | None = None
) -> Answer:
    """An answer that puts the request's Authorization header and bare key into its text."""

    async def answer(request: RawRequest, writer: asyncio.StreamWriter) -> None:
        auth = request.header("authorization") or ""
        key = auth.removeprefix("Bearer ")
        text = body.replace("{auth}", auth).replace("{key}", key)
        if html:
            payload = text.encode()
        else:
            payload = orjson.dumps(
                {
                    "error": {
                        "code": status,
                        "message": text,
                        "metadata": {"echo": text, "auth": auth, "nested": [{"key": key}]},
                    },
                    "openrouter_metadata": {"auth": auth},
                    "user_id": key,
                }
            )
        sent = {
            name: value.replace("{auth}", auth).replace("{key}", key)
            for name, value in (headers or {}).items()
        }
        writer.write(
            respond(
                status,
                payload,
                headers=sent,
                content_type="text/html" if html else "application/json",
            )
        )
        await writer.drain()

    return answer


def _texts(error: BaseException) -> Iterator[str]:
    """Every text an error and its chain show: str, repr, and each attribute's str and repr."""
    seen: BaseException | None = error
    while seen is not None:
        yield str(seen)
        yield repr(seen)
        for value in vars(seen).values():
            yield str(value)
            yield repr(value)
        seen = seen.__cause__ or seen.__context__


def _check_error(error: BaseException) -> int:
    """Assert the error shows no key, no control character, nothing long; the longest text."""
    longest = 0
    for text in _texts(error):
        assert CANARY_KEY not in text
        # repr() escapes controls; str() must hold none.
        assert not _FORBIDDEN & set(text), repr(text[:200])
        assert len(text) <= TEXT_LIMIT * 2, len(text)
        longest = max(longest, len(text))
    message = getattr(error, "message", "")
    assert len(message) <= TEXT_LIMIT
    return longest


def _check_records(records: Records) -> int:
    """Assert every record is clean and bounded; the longest message."""
    formatter = logging.Formatter("%(levelname)s %(name)s %(message)s")
    longest = 0
    for record in records.records:
        text = record.getMessage()
        assert CANARY_KEY not in formatter.format(record)
        assert not _FORBIDDEN & set(text), repr(text[:200])
        assert len(text) <= RECORD_LIMIT, len(text)
        longest = max(longest, len(text))
    return longest


def _client(server: HostileServer, fake_time: FakeTime, **options: object) -> BenchmarksClient:
    settings: dict[str, object] = {
        "base_url": server.url,
        "cache": None,
        "quota": None,
        "retry": RetryPolicy.no_wait(attempts=2),
        "retry_budget": False,
        "clock": fake_time.time,
        "timer": fake_time.monotonic,
        "sleep": fake_time.sleep,
    }
    settings.update(options)
    return BenchmarksClient(CANARY_KEY, **settings)  # type: ignore[arg-type]


@pytest.mark.parametrize("status", [400, 500, 429])
@pytest.mark.parametrize("kind", list(MESSAGES))
@pytest.mark.hostile(
    case="a JSON error (400, 500, 429) whose message, metadata and user_id echo the key, "
    "or are 1 MB long, or forge log lines with newlines and ANSI escapes",
    expected="the error and every log record show no key, no control character, "
    "and a few hundred characters at most",
)
async def test_a_json_error_echoing_the_key_is_clean_everywhere(
    status: int, kind: str, fake_time: FakeTime, records: Records, observe: Observe
) -> None:
    """The error and every log record of the call are free of the key, controls and floods."""
    async with HostileServer(_echo(status, MESSAGES[kind])) as server:
        async with _client(server, fake_time) as client:
            with pytest.raises(OpenRouterBenchError) as caught:
                await client.get(source="openrouter")
        sent = len(server.requests)
    assert server.requests[0].header("authorization") == f"Bearer {CANARY_KEY}"
    longest = _check_error(caught.value)
    logged = _check_records(records)
    observe(
        f"HTTP {status}, {kind}: {type(caught.value).__name__} after {sent} request(s); "
        f"longest error text {longest} chars, {len(records.records)} log records, "
        f"longest {logged} chars; no key, no control character"
    )


@pytest.mark.hostile(
    case="an HTML 502 whose <title> and body echo the key and forge a log line",
    expected="the message is the title with the key redacted; nothing shows the key",
)
async def test_an_html_page_echoing_the_key_is_clean(
    fake_time: FakeTime, records: Records, observe: Observe
) -> None:
    """A proxy page echoing the header in its title and body yields a clean ServerError."""
    page = (
        "<html><head><title>Denied: {auth}\n2026-01-01 CRITICAL forged</title></head>"
        "<body><pre>{auth}\n{key}\x1b[31m</pre>" + "<p>filler</p>" * 5_000 + "</body></html>"
    )
    async with (
        HostileServer(_echo(502, page, html=True)) as server,
        _client(server, fake_time) as client,
    ):
        with pytest.raises(OpenRouterBenchError) as caught:
            await client.get(source="openrouter")
    error = caught.value
    _check_error(error)
    _check_records(records)
    assert getattr(error, "message", "").startswith("Denied: <redacted>")
    observe(
        f"{type(error).__name__}: {str(error)[:80]!r}; "
        f"excerpt {len(getattr(error, 'body_excerpt', ''))} chars"
    )


@pytest.mark.hostile(
    case="kept response headers (Server, X-Request-Id, Retry-After) echo the key",
    expected="the kept values are redacted and cut; no record or attribute shows the key",
)
async def test_header_values_echoing_the_key_are_clean(
    fake_time: FakeTime, records: Records, observe: Observe
) -> None:
    """A header echoing the key is kept redacted, and cut to a bounded length."""
    headers = {
        "Server": "{key}",
        "X-Request-Id": "{auth}",
        "Retry-After": "{auth}",
        "CF-Ray": "x" * 5_000 + "{key}",
    }
    async with (
        HostileServer(_echo(503, "unavailable", headers=headers)) as server,
        _client(server, fake_time) as client,
    ):
        with pytest.raises(OpenRouterBenchError) as caught:
            await client.get(source="openrouter")
    error = caught.value
    _check_error(error)
    _check_records(records)
    kept = getattr(error, "headers", {})
    assert kept["server"] == "<redacted>"
    assert kept["x-request-id"] == "<redacted>"
    assert getattr(error, "retry_after", "missing") is None
    observe(f"kept headers {sorted(kept)}; longest value {max(map(len, kept.values()))} chars")


@pytest.mark.hostile(
    case="a stale page is served because the refresh failed with a 500 echoing the key",
    expected="the stale-serve warning names the error without the key",
)
async def test_the_stale_serve_log_is_clean(
    fake_time: FakeTime, records: Records, observe: Observe
) -> None:
    """The cache's warning about a stale serve quotes an error that is already clean."""
    failing = _echo(500, FORGED.replace("{auth}", "{key}"))
    async with (
        HostileServer(respond(200, PAGE), failing) as server,
        _client(server, fake_time, cache="memory", ttl=60) as client,
    ):
        await client.get(source="openrouter")
        fake_time.advance(120)
        page = await client.get(source="openrouter")
    assert page.stale
    _check_records(records)
    stale = [r.getMessage() for r in records.records if "stale" in r.getMessage()]
    assert stale
    assert "<redacted>" in stale[0]
    observe(f"stale page served; warning {len(stale[0])} chars: {stale[0][-70:]!r}")
