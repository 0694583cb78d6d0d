"""The ``openrouter-bench`` command: ``get``, ``cache``, ``demo`` and ``fake-server``.

Exit codes: 0 ok; 2 invalid usage or query (caught locally with nothing sent,
or a 400 from the server); 3 authentication; 4 rate limited, out of quota or
out of credit; 5 server or transport failure after retries; 6 malformed
response; 1 anything else. Errors print as one line on stderr; ``--debug``
adds the traceback and debug logs.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import traceback
from collections.abc import Sequence
from typing import Any, Final, TextIO

from openrouter_bench._version import __version__
from openrouter_bench.errors import (
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    InvalidQueryError,
    OpenRouterBenchError,
    PaymentRequiredError,
    QuotaExhaustedError,
    RateLimitError,
    ResponseFormatError,
    ServerError,
    TransportError,
    is_transient,
)
from openrouter_bench.query import Arena, BenchmarkType, Query, SearchSurface, Source, TaskType
from openrouter_bench.render import FORMATS, render_page

__all__ = ["exit_code_for", "main"]

logger: Final = logging.getLogger("openrouter_bench.cli")

EXIT_OK: Final = 0
EXIT_OTHER: Final = 1
EXIT_USAGE: Final = 2
EXIT_AUTH: Final = 3
EXIT_RATE: Final = 4
EXIT_UPSTREAM: Final = 5
EXIT_FORMAT: Final = 6

ENVIRONMENT_HELP: Final = """\
environment:
  OPENROUTER_API_KEY     the API key (never pass it on the command line)
  OPENROUTER_BASE_URL    the API base URL (default https://openrouter.ai/api/v1)
  NO_COLOR               turn colours off
"""


def exit_code_for(error: BaseException) -> int:
    """The process exit code that stands for ``error``."""
    if isinstance(error, InvalidQueryError | ConfigurationError | BadRequestError):
        return EXIT_USAGE
    if isinstance(error, AuthenticationError):
        return EXIT_AUTH
    if isinstance(error, RateLimitError | QuotaExhaustedError | PaymentRequiredError):
        return EXIT_RATE
    if isinstance(error, ServerError | TransportError) or is_transient(error):
        return EXIT_UPSTREAM
    if isinstance(error, ResponseFormatError):
        return EXIT_FORMAT
    return EXIT_OTHER


def _add_query_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("query")
    group.add_argument("--source", help=f"one of {_known(Source)}, or a newer one")
    group.add_argument("--task-type", help=f"one of {_known(TaskType)}, or a newer one")
    group.add_argument("--arena", help=f"Design Arena only: {_known(Arena)}")
    group.add_argument("--category", help="Design Arena only, e.g. gamedev, svg, 3d")
    group.add_argument("--max-results", type=int, metavar="N", help="at most N items")
    group.add_argument("--benchmark-type", help=f"one OpenRouter eval: {_known(BenchmarkType)}")
    group.add_argument(
        "--include-run-config", action="store_true", help="search evals: add each run's config"
    )
    group.add_argument("--search-engine", help="search evals: one search engine")
    group.add_argument("--search-surface", help=f"search evals: {_known(SearchSurface)}")


def _add_client_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("client")
    group.add_argument(
        "--base-url", help="API base URL (default: $OPENROUTER_BASE_URL or OpenRouter)"
    )
    group.add_argument(
        "--cache",
        metavar="URL",
        help="cache: memory, redis://..., memcached://..., sqlite:///file "
        "(default: a persistent store in your user cache directory)",
    )
    group.add_argument("--no-cache", action="store_true", help="do not read or write any cache")
    group.add_argument("--refresh", action="store_true", help="ask the server even if cached")
    group.add_argument("--debug", action="store_true", help="debug logs and tracebacks on stderr")


def _known(enum_type: Any) -> str:
    return ", ".join(member.value for member in enum_type)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every command."""
    parser = argparse.ArgumentParser(
        prog="openrouter-bench",
        description="Query OpenRouter's model benchmarks with a careful, caching client.",
        epilog=ENVIRONMENT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    get = commands.add_parser(
        "get",
        help="fetch one ranking",
        description="Fetch one ranking and print it.",
        epilog="examples:\n"
        "  openrouter-bench get --source artificial-analysis --task-type coding --max-results 10\n"
        "  openrouter-bench get --source design-arena --category gamedev --format csv\n\n"
        + ENVIRONMENT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_query_options(get)
    get.add_argument("--format", choices=FORMATS, default="table", help="output format")
    _add_client_options(get)

    cache = commands.add_parser(
        "cache",
        help="inspect or clear the command's persistent cache",
        description="Inspect or clear the persistent cache the command uses by default.",
    )
    cache.add_argument("action", choices=("stats", "clear", "path"))
    cache.add_argument("--cache", metavar="URL", help="a cache other than the default one")
    cache.add_argument("--debug", action="store_true", help="tracebacks on stderr")

    demo = commands.add_parser(
        "demo",
        help="run the client against the bundled fake server (no key needed)",
        description="Start the bundled fake server on loopback and show the client at work: "
        "rankings, retries over injected faults, cache hits, a coalesced burst, a stale serve.",
    )
    demo.add_argument("--seed", type=int, default=1, help="the fake data set's seed")
    demo.add_argument("--debug", action="store_true", help="debug logs and tracebacks on stderr")

    fake = commands.add_parser(
        "fake-server",
        help="serve the bundled fake API until stopped",
        description="Serve a deterministic fake of the benchmarks endpoint on loopback, "
        "for tests and experiments. Prints its base URL, then serves until Ctrl-C.",
    )
    fake.add_argument("--host", default="127.0.0.1", help="address to listen on")
    fake.add_argument("--port", type=int, default=0, help="port (0: a free one)")
    fake.add_argument("--seed", type=int, default=1, help="the data set's seed")
    fake.add_argument(
        "--key", action="append", default=None, metavar="K", help="accept only these keys"
    )
    fake.add_argument("--per-minute", type=int, default=30, help="requests per minute per key")
    fake.add_argument("--per-day", type=int, default=500, help="requests per day per key")
    fake.add_argument("--debug", action="store_true", help="debug logs on stderr")
    return parser


def _query_from(args: argparse.Namespace) -> Query:
    return Query(
        source=args.source,
        task_type=args.task_type,
        arena=args.arena,
        category=args.category,
        max_results=args.max_results,
        benchmark_type=args.benchmark_type,
        include_run_config=args.include_run_config,
        search_engine=args.search_engine,
        search_surface=args.search_surface,
    )


def _cache_spec(args: argparse.Namespace) -> Any:
    if getattr(args, "no_cache", False):
        return None
    if args.cache:
        return args.cache
    from openrouter_bench.cache import default_cli_cache_path

    return f"sqlite:///{default_cli_cache_path()}"


async def _get(args: argparse.Namespace, out: TextIO) -> int:
    from openrouter_bench.client import BenchmarksClient

    query = _query_from(args)
    async with BenchmarksClient(base_url=args.base_url, cache=_cache_spec(args)) as client:
        page = await client.get(query, refresh=args.refresh)
    out.write(render_page(page, args.format))
    return EXIT_OK


async def _cache_command(args: argparse.Namespace, out: TextIO) -> int:
    from openrouter_bench.cache import CachePolicy, open_cache

    spec = _cache_spec(args)
    if args.action == "path":
        out.write(f"{spec}\n")
        return EXIT_OK
    cache = open_cache(spec, namespace="openrouter-bench", policy=CachePolicy())
    try:
        if args.action == "clear":
            removed = await cache.clear()
            out.write(f"cleared {removed} entries from {spec}\n")
        else:
            out.write(await cache.describe())
    finally:
        await cache.close()
    return EXIT_OK


async def _fake_server(args: argparse.Namespace, out: TextIO) -> int:
    from openrouter_bench.fake import serve

    def ready(url: str) -> None:
        out.write(f"{url}\n")
        out.flush()

    await serve(
        args.host,
        args.port,
        seed=args.seed,
        keys=args.key,
        per_minute=args.per_minute,
        per_day=args.per_day,
        on_ready=ready,
    )
    return EXIT_OK


async def _demo(args: argparse.Namespace, out: TextIO) -> int:
    from openrouter_bench.demo import run_demo

    await run_demo(out, seed=args.seed)
    return EXIT_OK


_COMMANDS: Final = {
    "get": _get,
    "cache": _cache_command,
    "fake-server": _fake_server,
    "demo": _demo,
}


def main(
    argv: Sequence[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    """Run the command line; returns the exit code (the console script exits with it)."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:
        return int(stop.code or 0)
    debug = bool(getattr(args, "debug", False))
    logging.basicConfig(
        stream=err,
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        force=True,
    )
    try:
        return asyncio.run(_COMMANDS[args.command](args, out))
    except KeyboardInterrupt:
        err.write("interrupted\n")
        return 130
    except OpenRouterBenchError as error:
        if debug:
            traceback.print_exc(file=err)
        err.write(f"openrouter-bench: error: {error}\n")
        return exit_code_for(error)
    except Exception as error:  # noqa: BLE001 - the last line of defence prints one line
        if debug:
            traceback.print_exc(file=err)
        err.write(f"openrouter-bench: unexpected {type(error).__name__}: {error}\n")
        return EXIT_OTHER


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    run()
