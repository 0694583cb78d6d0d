"""The contenders for one call: this client and the baselines, each written the plain way.

Each is an async context manager that opens what the contender needs once (a
session, a client) and yields ``call(query)``, one request returning a typed
page. Connections are kept alive between calls for every contender alike.

- **raw aiohttp**: ``session.get`` + ``orjson.loads`` + this package's
  structuring (``structure_page``): the same records, none of the machinery.
- **httpx**: ``httpx.AsyncClient.get``, then the same parse as raw aiohttp,
  so the row differs from it by the HTTP library alone.
- **official SDK**: ``OpenRouter(...).benchmarks.get_benchmarks_async(...)``
  as its README shows (``async with OpenRouter(api_key=...)``), pointed at the
  benchmark server with its ``server_url`` option; its defaults otherwise.
- **this client**: ``BenchmarksClient(...).get(query)`` with the cache off (and
  the quota off where the client has one), so every call is a real request.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp
import httpx
import orjson
from openrouter import OpenRouter

from benchmarks._documents import API_KEY
from openrouter_bench import BenchmarksClient, Page, Query
from openrouter_bench._convert import structure_page

__all__ = [
    "Call",
    "client_options",
    "httpx_client",
    "official_sdk",
    "our_client",
    "raw_aiohttp",
    "sdk_arguments",
]

Call = Callable[[Query], Awaitable[Any]]

_AUTH = {"Authorization": f"Bearer {API_KEY}"}


def client_options(*, cache: object = None) -> dict[str, Any]:
    """Keyword arguments for a :class:`BenchmarksClient` whose every call goes upstream.

    ``quota=None`` is passed only when the client takes a ``quota`` argument
    (it arrived after these benchmarks were written), so the benchmarks run on
    both sides of that change.
    """
    options: dict[str, Any] = {"cache": cache}
    if "quota" in inspect.signature(BenchmarksClient).parameters:
        options["quota"] = None
    return options


def sdk_arguments(query: Query) -> dict[str, Any]:
    """The official SDK's keyword arguments for ``query`` (its parameters share the names)."""
    arguments: dict[str, Any] = {}
    for name, value in query.params.items():
        if name == "max_results":
            arguments[name] = int(value)
        elif name == "include_run_config":
            arguments[name] = value == "true"
        else:
            arguments[name] = value
    return arguments


def _page(body: bytes, query: Query) -> Page:
    return structure_page(orjson.loads(body), query=query, fetched_at=datetime.now(UTC))


@contextlib.asynccontextmanager
async def raw_aiohttp(
    base_url: str, session: aiohttp.ClientSession | None = None
) -> AsyncIterator[Call]:
    """``aiohttp`` GET, ``orjson``, the same structuring: the floor for this client."""
    url = f"{base_url}/benchmarks"
    async with contextlib.AsyncExitStack() as stack:
        if session is None:
            session = await stack.enter_async_context(aiohttp.ClientSession())

        async def call(query: Query) -> Page:
            async with session.get(url, params=query.params, headers=_AUTH) as response:
                response.raise_for_status()
                body = await response.read()
            return _page(body, query)

        yield call


@contextlib.asynccontextmanager
async def httpx_client(base_url: str) -> AsyncIterator[Call]:
    """``httpx.AsyncClient`` GET, then the raw aiohttp contender's parse."""
    url = f"{base_url}/benchmarks"
    async with httpx.AsyncClient() as client:

        async def call(query: Query) -> Page:
            response = await client.get(url, params=query.params, headers=_AUTH)
            response.raise_for_status()
            return _page(response.content, query)

        yield call


@contextlib.asynccontextmanager
async def official_sdk(base_url: str) -> AsyncIterator[Call]:
    """The official ``openrouter`` SDK's ``benchmarks.get_benchmarks_async``."""
    async with OpenRouter(api_key=API_KEY, server_url=base_url) as open_router:
        benchmarks = open_router.benchmarks

        async def call(query: Query) -> Any:
            return await benchmarks.get_benchmarks_async(**sdk_arguments(query))

        yield call


@contextlib.asynccontextmanager
async def our_client(base_url: str, **options: Any) -> AsyncIterator[Call]:
    """This package's client; ``options`` default to :func:`client_options` (no cache)."""
    settings = options or client_options()
    async with BenchmarksClient(API_KEY, base_url=base_url, **settings) as client:
        yield client.get
