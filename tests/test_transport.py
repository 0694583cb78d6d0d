"""The HTTP exchange: content decoding within the cap, error excerpts, aiohttp errors made ours."""

from __future__ import annotations

import asyncio
import gzip
import threading
import zlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp
import orjson
import pytest

from openrouter_bench import (
    BenchmarksClient,
    Page,
    Query,
    RequestTimeoutError,
    ResponseFormatError,
    RetryPolicy,
    ServerError,
    TransportError,
    transport,
)
from openrouter_bench.fake import FakeOpenRouter
from openrouter_bench.fake.hostile import HostileServer, RawRequest, chunked, respond
from openrouter_bench.wire import build_request, read_response
from tests.conftest import CANARY_KEY

CAP = 64 * 1024
NOW = datetime(2026, 6, 3, 12, 5, tzinfo=UTC)


@pytest.fixture(scope="module")
def page_body() -> bytes:
    """A real 200 body from the fake's data: the unfiltered list cut at 20 items."""
    return orjson.dumps(FakeOpenRouter(seed=5).payload({"max_results": "20"}))


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain aiohttp session, closed after the test."""
    async with aiohttp.ClientSession() as opened:
        yield opened


async def _exchange(
    session: aiohttp.ClientSession, server: HostileServer, *, cap: int = CAP
) -> transport._RawResponse:
    request = build_request(Query(), base_url=server.url, api_key=CANARY_KEY)
    return await transport.exchange(
        session, request, total_seconds=10.0, connect_seconds=5.0, max_bytes=cap
    )


def _coded(coding: str, body: bytes) -> bytes:
    if coding == "gzip":
        return gzip.compress(body)
    if coding == "deflate":
        return zlib.compress(body)
    if coding == "raw-deflate":
        squeeze = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        return squeeze.compress(body) + squeeze.flush()
    raise AssertionError(coding)


@pytest.mark.parametrize("coding", ["gzip", "deflate", "raw-deflate"])
@pytest.mark.parametrize("framing", ["length", "chunked", "close"])
async def test_a_compressed_page_is_decoded(
    session: aiohttp.ClientSession, page_body: bytes, coding: str, framing: str
) -> None:
    """gzip and deflate (zlib-wrapped or bare) bodies decode to the page, however framed."""
    wire = _coded(coding, page_body)
    name = "deflate" if coding == "raw-deflate" else coding
    headers = [("Content-Encoding", name)]
    if framing == "chunked":
        headers.append(("Transfer-Encoding", "chunked"))
        wire = chunked(wire[:100], wire[100:])
    answer = respond(200, wire, headers=headers, content_length=framing == "length")
    async with HostileServer(answer) as server:
        response = await _exchange(session, server)
    assert response.status == 200
    assert response.body == page_body


async def test_gzip_members_one_after_another_are_one_body(
    session: aiohttp.ClientSession, page_body: bytes
) -> None:
    """Concatenated gzip members decode to their concatenation, as RFC 1952 allows."""
    half = len(page_body) // 2
    wire = gzip.compress(page_body[:half]) + gzip.compress(page_body[half:])
    answer = respond(200, wire, headers={"Content-Encoding": "gzip"})
    async with HostileServer(answer) as server:
        response = await _exchange(session, server)
    assert response.body == page_body


@pytest.mark.parametrize("framing", ["length", "chunked"])
async def test_a_body_that_inflates_past_the_cap_is_refused(
    session: aiohttp.ClientSession, framing: str
) -> None:
    """A small gzip body over the cap once decoded raises ResponseFormatError naming the cap."""
    wire = gzip.compress(bytes(CAP * 8))
    headers = [("Content-Encoding", "gzip")]
    if framing == "chunked":
        headers.append(("Transfer-Encoding", "chunked"))
        wire = chunked(wire)
    assert len(wire) < CAP
    async with HostileServer(respond(200, wire, headers=headers)) as server:
        with pytest.raises(ResponseFormatError, match=f"inflates past the {CAP}-byte cap"):
            await _exchange(session, server)


async def test_the_cap_is_exact_for_decoded_bytes(session: aiohttp.ClientSession) -> None:
    """A body that decodes to exactly the cap is read; one byte more is refused."""
    async with HostileServer(
        respond(200, gzip.compress(bytes(CAP)), headers={"Content-Encoding": "gzip"}),
        respond(200, gzip.compress(bytes(CAP + 1)), headers={"Content-Encoding": "gzip"}),
    ) as server:
        assert len((await _exchange(session, server)).body) == CAP
        with pytest.raises(ResponseFormatError, match="cap"):
            await _exchange(session, server)


async def test_compressed_bytes_on_the_wire_are_capped_too(session: aiohttp.ClientSession) -> None:
    """An endless deflate stream that decodes to nothing stops once the wire bytes pass the cap."""
    empty_blocks = b"\x00\x00\x00\xff\xff" * (2 * CAP // 5)
    headers = {"Content-Encoding": "deflate", "Transfer-Encoding": "chunked"}
    async with HostileServer(respond(200, chunked(empty_blocks), headers=headers)) as server:
        with pytest.raises(ResponseFormatError, match="stopped after 0 decoded bytes"):
            await _exchange(session, server)


async def test_gzip_members_are_counted(session: aiohttp.ClientSession) -> None:
    """Thousands of empty gzip members are refused, not decoded one by one."""
    wire = gzip.compress(b"") * 1000
    async with HostileServer(respond(200, wire, headers={"Content-Encoding": "gzip"})) as server:
        with pytest.raises(ResponseFormatError, match="more than 64 members"):
            await _exchange(session, server)


@pytest.mark.parametrize(
    ("coding", "wire", "match"),
    [
        ("compress", b"\x1f\x9d\x90", "cannot decode: 'compress'"),
        ("gzip, gzip", b"", "cannot decode: 'gzip, gzip'"),
        ("gzip", b"this is not gzip", "gzip body does not decode"),
        ("gzip", gzip.compress(b'{"data": []}')[:-6], "ends before its stream does"),
        ("deflate", zlib.compress(b"{}") + b"trailing", "goes on after its stream ends"),
    ],
)
async def test_a_body_that_cannot_be_decoded_is_a_format_error(
    session: aiohttp.ClientSession, coding: str, wire: bytes, match: str
) -> None:
    """An unknown coding, a corrupt or truncated stream, or junk after it: ResponseFormatError."""
    async with HostileServer(respond(200, wire, headers={"Content-Encoding": coding})) as server:
        with pytest.raises(ResponseFormatError, match=match):
            await _exchange(session, server)


async def test_an_identity_body_over_the_cap_is_refused_from_its_length(
    session: aiohttp.ClientSession,
) -> None:
    """An identity body whose Content-Length passes the cap is refused before it is read."""
    async with HostileServer(respond(200, bytes(CAP + 1))) as server:
        with pytest.raises(ResponseFormatError, match=f"{CAP + 1} bytes, over the {CAP}-byte"):
            await _exchange(session, server)


async def test_the_client_says_which_codings_it_decodes(
    session: aiohttp.ClientSession, page_body: bytes
) -> None:
    """Accept-Encoding names exactly the codings this module can decode within the cap."""
    async with HostileServer(respond(200, page_body)) as server:
        await _exchange(session, server)
    sent = server.requests[0].header("accept-encoding") or ""
    assert {part.strip() for part in sent.split(",")} >= {"gzip", "deflate"}
    assert sent == transport._ACCEPT_ENCODING


async def test_a_session_that_decompresses_cannot_undo_the_cap(page_body: bytes) -> None:
    """A caller's session with auto_decompress on still gets the bounded decoder."""
    bomb = gzip.compress(bytes(CAP * 16))
    answers = (respond(200, bomb, headers={"Content-Encoding": "gzip"}),)
    async with (
        HostileServer(*answers) as server,
        aiohttp.ClientSession(auto_decompress=True) as caller_session,
    ):
        with pytest.raises(ResponseFormatError, match="inflates past"):
            await _exchange(caller_session, server)


@pytest.mark.parametrize(("module", "coding"), [("brotli", "br"), ("backports.zstd", "zstd")])
async def test_optional_codings_decode_and_keep_the_cap(
    session: aiohttp.ClientSession, page_body: bytes, module: str, coding: str
) -> None:
    """br and zstd, when their decoders are installed, decode a page and stop a bomb at the cap."""
    if coding not in transport._ACCEPT_ENCODING.split(", "):
        pytest.skip(f"no bounded {coding} decoder installed")
    codec: Any = pytest.importorskip(module)
    compress: Callable[[bytes], bytes] = codec.compress
    async with HostileServer(
        respond(200, compress(page_body), headers={"Content-Encoding": coding}),
        respond(200, compress(bytes(CAP * 64)), headers={"Content-Encoding": coding}),
    ) as server:
        assert (await _exchange(session, server)).body == page_body
        with pytest.raises(ResponseFormatError, match="inflates past"):
            await _exchange(session, server)


async def test_an_error_status_reads_only_an_excerpt(session: aiohttp.ClientSession) -> None:
    """A 502 with a body far over the cap comes back as a 502 with its first 64 KiB."""
    body = b"<title>Bad gateway</title>" + b"x" * (CAP * 4)
    async with HostileServer(respond(502, body, content_type="text/html")) as server:
        response = await _exchange(session, server)
    assert response.status == 502
    assert response.body == body[: transport._ERROR_EXCERPT_BYTES]


async def test_an_error_status_in_an_unknown_coding_is_still_its_status(
    session: aiohttp.ClientSession,
) -> None:
    """A 503 whose body cannot be decoded reads as an empty body, not a format error."""
    answer = respond(503, b"\x00\x01", headers={"Content-Encoding": "snappy"})
    async with HostileServer(answer) as server:
        response = await _exchange(session, server)
    assert (response.status, response.body) == (503, b"")


async def test_the_key_echoed_back_is_replaced_in_body_and_headers(
    session: aiohttp.ClientSession,
) -> None:
    """Every copy of the credential in an answer's body or headers becomes <redacted>."""

    async def echo(request: RawRequest, writer: asyncio.StreamWriter) -> None:
        sent = request.header("authorization") or ""
        body = f'{{"error": {{"message": "{sent} / {CANARY_KEY}"}}}}'.encode()
        writer.write(respond(400, body, headers={"X-Request-Id": sent}))
        await writer.drain()

    async with HostileServer(echo) as server:
        response = await _exchange(session, server)
    assert response.body == b'{"error": {"message": "<redacted> / <redacted>"}}'
    assert response.headers["x-request-id"] == "<redacted>"


async def test_repeated_headers_read_as_one_joined_value(session: aiohttp.ClientSession) -> None:
    """Two headers of one name become one value, joined with a comma, under a lower-case name."""
    answer = respond(500, b"", headers=[("X-Odd", "a"), ("x-odd", "b")])
    async with HostileServer(answer) as server:
        response = await _exchange(session, server)
    assert response.headers["x-odd"] == "a, b"


async def test_a_bad_status_line_is_a_transport_error_without_the_key(
    session: aiohttp.ClientSession,
) -> None:
    """aiohttp's parse error becomes TransportError; its quote of the server's bytes is cleaned."""
    async with HostileServer(b"HTTP/1.1 abc " + CANARY_KEY.encode() + b"\r\n\r\n") as server:
        with pytest.raises(TransportError, match="Bad status line") as caught:
            await _exchange(session, server)
    error = caught.value
    assert CANARY_KEY not in str(error)
    assert error.__context__ is None
    assert error.__cause__ is None


async def test_a_body_cut_short_is_a_transport_error(session: aiohttp.ClientSession) -> None:
    """A body shorter than its Content-Length raises TransportError (a retryable failure)."""
    answer = respond(200, b"{}", headers={"Content-Length": "50"})
    async with HostileServer(answer) as server:
        with pytest.raises(TransportError, match="cut short"):
            await _exchange(session, server)


async def test_no_answer_in_time_is_a_timeout(session: aiohttp.ClientSession) -> None:
    """A server that says nothing within the time limit raises RequestTimeoutError."""

    async def silent(request: RawRequest, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)

    async with HostileServer(silent) as server:
        request = build_request(Query(), base_url=server.url, api_key=CANARY_KEY)
        with pytest.raises(RequestTimeoutError, match=r"within 0\.2 s"):
            await transport.exchange(
                session, request, total_seconds=0.2, connect_seconds=5.0, max_bytes=CAP
            )


def _threaded_reader(threads: list[threading.Thread]) -> transport._Reader:
    def reader(*arguments: Any, **options: Any) -> Page:
        threads.append(threading.current_thread())
        return read_response(*arguments, **options)

    return reader


async def test_a_large_body_is_parsed_off_the_event_loop(page_body: bytes) -> None:
    """Above the threshold the page is read in a worker thread; at or below it, on the loop."""
    threads: list[threading.Thread] = []
    response = transport._RawResponse(status=200, headers={}, body=page_body)
    for threshold in (len(page_body) - 1, len(page_body)):
        page = await transport.read_page(
            response,
            query=Query(max_results=20),
            fetched_at=NOW,
            off_loop_bytes=threshold,
            reader=_threaded_reader(threads),
        )
        assert len(page) == 20
    assert threads[0] is not threading.main_thread()
    assert threads[1] is threading.main_thread()


async def test_the_default_threshold_keeps_the_catalogue_on_the_loop_and_more_off_it() -> None:
    """The fake's unfiltered page is parsed on the loop; a body past the threshold is not."""
    whole = orjson.dumps(FakeOpenRouter(seed=5).payload({}))
    # Trailing white space is valid JSON: the same page, grown past the threshold.
    grown = whole + b" " * transport._OFF_LOOP_BYTES
    assert len(whole) <= transport._OFF_LOOP_BYTES < len(grown)
    assert len(grown) < transport.DEFAULT_MAX_RESPONSE_BYTES
    threads: list[threading.Thread] = []
    for body in (whole, grown):
        response = transport._RawResponse(status=200, headers={}, body=body)
        await transport.read_page(
            response, query=Query(), fetched_at=NOW, reader=_threaded_reader(threads)
        )
    assert threads[0] is threading.main_thread()
    assert threads[1] is not threading.main_thread()


async def test_a_parse_error_carries_no_chain_and_no_parser_frames() -> None:
    """The error read_page raises has no __context__ (the decoder's, holding the body)."""
    body = b"not json " + CANARY_KEY.encode() + b" " * transport._OFF_LOOP_BYTES
    for size in (10, len(body)):
        response = transport._RawResponse(status=200, headers={}, body=body[:size])
        with pytest.raises(ResponseFormatError) as caught:
            await transport.read_page(response, query=Query(), fetched_at=NOW)
        assert caught.value.__context__ is None
        assert caught.value.__cause__ is None
        frames = [entry.name for entry in caught.traceback]
        assert "decode_page" not in frames


async def test_an_error_status_becomes_its_typed_error_through_the_client() -> None:
    """Through the client, a 502 with a body over the cap is a ServerError, not a format error."""
    body = b"<html><title>Bad gateway</title>" + b"x" * (4 * 1024 * 1024)
    async with (
        HostileServer(respond(502, body, content_type="text/html")) as server,
        BenchmarksClient(
            CANARY_KEY,
            base_url=server.url,
            cache=None,
            quota=None,
            retry=RetryPolicy.no_wait(attempts=1),
            max_response_bytes=1024 * 1024,
        ) as client,
    ):
        with pytest.raises(ServerError, match="Bad gateway") as caught:
            await client.get()
    assert caught.value.status == 502


async def test_read_page_hands_the_secrets_to_the_reader(page_body: bytes) -> None:
    """The secrets given to read_page reach the reader, which redacts what it keeps."""
    seen: list[dict[str, Any]] = []

    def reader(*arguments: Any, **options: Any) -> Page:
        seen.append(options)
        return read_response(*arguments, **options)

    response = transport._RawResponse(status=200, headers={}, body=page_body)
    await transport.read_page(
        response, query=Query(max_results=20), fetched_at=NOW, reader=reader, secrets=["x"]
    )
    assert seen[0]["secrets"] == ("x",)
