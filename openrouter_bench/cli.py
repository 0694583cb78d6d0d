"""The ``openrouter-bench`` command: get, grid, watch, model, compare, best, leaders, history,
cache, quota, demo, fake-server and fake.

Exit codes: 0 ok; 2 invalid usage or query (caught locally with nothing sent,
or a 400 from the server), or a model name that no model or several models go
by (the closest names or the candidates are on stderr); 3 authentication (a missing key too); 4 rate
limited, out of quota or out of credit; 5 server or transport failure after
retries; 6 malformed response; 1 anything else.

Data goes to stdout, in the ``--format`` asked for; everything else goes to
stderr. An error is one line on stderr (``openrouter-bench: error: ...``).
Logs stay quiet unless asked for: ``-v`` shows retries, waits, stale serves
and cache outages (INFO and up); ``--debug`` shows everything, and a traceback
with an error. ``watch`` also shows its failed polls by default, since it
carries on after them. On a terminal, a wait of over 2 s (the quota, a rate
limit, a retry) is announced in one line unless ``-q``. Colours appear only
on a terminal, never in csv, json or ndjson, and never when ``NO_COLOR`` is set.

A value of ``--source``, ``--task-type``, ``--arena``, ``--benchmark-type`` or
``--search-surface`` that this package does not know is refused before it
costs a request, unless ``--allow-unknown`` is given; categories are open.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import difflib
import itertools
import logging
import os
import signal
import sys
import time
import traceback
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final, TextIO
from urllib.parse import urlsplit

import attrs
import orjson

from openrouter_bench._paths import cli_cache_spec, default_cli_cache_path
from openrouter_bench._text import plural, printable
from openrouter_bench._version import __version__
from openrouter_bench.answers import Catalog
from openrouter_bench.cache import namespace_for
from openrouter_bench.errors import (
    AmbiguousModelError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    InvalidQueryError,
    NotFoundError,
    OpenRouterBenchError,
    PaymentRequiredError,
    QuotaExhaustedError,
    RateLimitError,
    ResponseFormatError,
    ServerError,
    TransportError,
    UnknownModelError,
    is_transient,
)
from openrouter_bench.fanout import DEFAULT_CONCURRENCY, FanOutResult
from openrouter_bench.hooks import ClientHooks, RetryScheduled, WaitStarted
from openrouter_bench.models import Page
from openrouter_bench.progress import GridProgress, is_terminal
from openrouter_bench.query import (
    ALL,
    KNOWN_CATEGORIES,
    Arena,
    BenchmarkType,
    Query,
    SearchSurface,
    Source,
    TaskType,
)
from openrouter_bench.render import (
    CHANGE_FORMATS,
    FORMATS,
    ItemView,
    Palette,
    align_rows,
    render_change,
    render_grid,
    render_page,
    render_quota,
    render_standing,
    terminal_columns,
)
from openrouter_bench.report import (
    AnswerStyle,
    answer_warnings,
    render_comparison,
    render_leaders,
    render_model,
    render_rankings,
)
from openrouter_bench.retry import RetryPolicy
from openrouter_bench.wire import DEFAULT_BASE_URL, BaseURL, parse_base_url

if TYPE_CHECKING:
    from openrouter_bench.client import BenchmarksClient

# The command line: its names are not library API (see the package root for that).
__all__: list[str] = []

_EXIT_OK: Final = 0
_EXIT_OTHER: Final = 1
_EXIT_USAGE: Final = 2
_EXIT_AUTH: Final = 3
_EXIT_RATE: Final = 4
_EXIT_UPSTREAM: Final = 5
_EXIT_FORMAT: Final = 6

#: What the command line's cache keeps of each query: every snapshot it has seen, past
#: the ttl and the stale window, up to 1,000 of them and this many bytes (oldest go first).
CLI_HISTORY_BYTES: Final = 64 * 1024 * 1024
#: What the kept snapshots of every query may take together in a SQLite store, as stored
#: (oldest go first, a query's newest never): what bounds the command line's file.
CLI_HISTORY_STORE_BYTES: Final = 256 * 1024 * 1024

_ERROR_PREFIX: Final = "openrouter-bench: error:"

_ENVIRONMENT_HELP: Final = """\
environment:
  OPENROUTER_API_KEY     the API key (never pass it on the command line)
  OPENROUTER_BASE_URL    the API base URL (default https://openrouter.ai/api/v1)
  XDG_CACHE_HOME         where the persistent cache lives on Linux (default ~/.cache)
  NO_COLOR               set to anything to turn colours off (so does TERM=dumb)
"""

#: Formats whose rows are items, so that --columns can pick them.
_COLUMN_FORMATS: Final = {"get": ("table", "csv"), "grid": ("csv",)}


class _MissingKeyError(ConfigurationError):
    """No API key in the environment: an authentication failure found before sending."""


def _exit_code_for(error: BaseException) -> int:
    """The process exit code that stands for ``error``."""
    if isinstance(error, _MissingKeyError):
        return _EXIT_AUTH
    if isinstance(error, InvalidQueryError | ConfigurationError | BadRequestError):
        return _EXIT_USAGE
    if isinstance(error, UnknownModelError | AmbiguousModelError):
        return _EXIT_USAGE  # a name that no model, or several, go by: the input to fix
    if isinstance(error, AuthenticationError):
        return _EXIT_AUTH
    if isinstance(error, RateLimitError | QuotaExhaustedError | PaymentRequiredError):
        return _EXIT_RATE
    if isinstance(error, ServerError | TransportError) or is_transient(error):
        return _EXIT_UPSTREAM
    if isinstance(error, ResponseFormatError):
        return _EXIT_FORMAT
    return _EXIT_OTHER


# --- the parser -------------------------------------------------------------------------------


def _epilog(*examples: str) -> str:
    lines = ["examples:", *(f"  {example}" for example in examples)]
    return "\n".join(lines) + "\n\n" + _ENVIRONMENT_HELP


def _command(
    commands: Any, name: str, *, summary: str, description: str, examples: Sequence[str]
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(
        name,
        help=summary,
        description=description,
        epilog=_epilog(*examples),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    # Kept on the parsed arguments, so that a check after parsing can report like argparse.
    parser.set_defaults(command_parser=parser)
    return parser


def _add_query_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("query")
    group.add_argument("--source", help=f"one of {_known(Source)}")
    group.add_argument("--task-type", help=f"one of {_known(TaskType)}")
    group.add_argument("--arena", help=f"Design Arena only: {_known(Arena)}")
    group.add_argument(
        "--category",
        help="Design Arena only, e.g. gamedev, svg, 3d (any name: the server may have "
        "more than this package lists)",
    )
    group.add_argument(
        "--max-results",
        type=int,
        metavar="N",
        help="ask the server for at most N items (a query of its own, cached apart; see --top)",
    )
    group.add_argument("--benchmark-type", help=f"one OpenRouter eval: {_known(BenchmarkType)}")
    group.add_argument(
        "--include-run-config", action="store_true", help="search evals: add each run's config"
    )
    group.add_argument("--search-engine", help="search evals: one search engine")
    group.add_argument("--search-surface", help=f"search evals: {_known(SearchSurface)}")
    _add_allow_unknown(group)


def _add_allow_unknown(group: Any) -> None:
    group.add_argument(
        "--allow-unknown",
        action="store_true",
        help="send a source, task type, arena, benchmark type or search surface this "
        "package does not know (the API may have grown); without it such a value is "
        "refused before any request is spent",
    )


def _add_output_options(
    parser: argparse.ArgumentParser, *, format_help: str, columns_help: str
) -> None:
    group = parser.add_argument_group("output")
    group.add_argument(
        "--format", choices=FORMATS, default="table", help=f"{format_help} (default table)"
    )
    group.add_argument(
        "--sort",
        metavar="FIELD",
        help="order the items by any item field, largest first: elo, win_rate, "
        "coding_index, accuracy, pricing.prompt...; -FIELD for smallest first "
        "(items without a value go last). Only what is shown changes: the same "
        "page is fetched and cached",
    )
    group.add_argument(
        "--top",
        type=_positive_int,
        metavar="N",
        help="show only the first N items (after --sort); unlike --max-results, the "
        "query and its cache entry stay the same",
    )
    group.add_argument(
        "--columns",
        type=_names,
        metavar="A,B,...",
        help=f"{columns_help}: item field names, e.g. display_name,elo,win_rate "
        "(a wrong name lists the valid ones)",
    )


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
    group.add_argument(
        "--retries",
        type=_retries,
        metavar="N",
        help=f"retry transient failures up to N times (0: one attempt; "
        f"default {RetryPolicy().attempts - 1})",
    )
    group.add_argument(
        "--quota",
        type=_quota_spec,
        metavar="SPEC",
        help="the request budget (30 a minute, 500 a day): memory (this process), "
        "sqlite:///file or redis://... (shared by every process using it), or off for a "
        "local test server (default: shared on the cache's Redis if it is one, else kept "
        "in a file beside the persistent cache, so that separate runs share the day's "
        "budget; 'openrouter-bench quota' shows it)",
    )
    group.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="on a terminal, do not announce waits for the quota, a rate limit or a "
        "retry (shown when one lasts over 2 s), nor watch's polls without news",
    )
    _add_logging_options(group)


def _add_logging_options(group: Any, *, verbose: bool = True) -> None:
    if verbose:
        group.add_argument(
            "-v",
            "--verbose",
            action="store_true",
            help="log retries, waits, stale serves and cache outages on stderr",
        )

    group.add_argument(
        "--debug", action="store_true", help="log everything, and a traceback with an error"
    )


def _whole_number(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number of at least ``minimum``."""

    def parse(text: str) -> int:
        try:
            number = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if number < minimum:
            raise argparse.ArgumentTypeError(f"must be {minimum} or more, got {number}")
        return number

    return parse


_retries = _whole_number(0)
_positive_int = _whole_number(1)


def _quota_spec(text: str) -> str:
    """--quota: memory, off, or a redis:// URL."""
    if text in ("memory", "off") or urlsplit(text).scheme in ("redis", "rediss"):
        return text
    raise argparse.ArgumentTypeError(f"expected memory, off or a redis://... URL, got {text!r}")


def _interval(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < seconds < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return seconds


def _names(text: str) -> tuple[str, ...]:
    """A comma-separated list of field names."""
    names = tuple(part.strip() for part in text.split(","))
    if not all(names):
        raise argparse.ArgumentTypeError(f"an empty name in {text!r}")
    return names


def _axis(text: str) -> Any:
    """A grid option: ``all``, or one value or a comma-separated list of values."""
    if text.strip().lower() == "all":
        return ALL
    values = [part.strip() for part in text.split(",")]
    if not all(values):
        raise argparse.ArgumentTypeError(f"an empty value in {text!r}")
    return values


def _known(enum_type: Any) -> str:
    return ", ".join(member.value for member in enum_type)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every command."""
    parser = argparse.ArgumentParser(
        prog="openrouter-bench",
        description="Query OpenRouter's model benchmarks with a careful, caching client.\n"
        "Run 'openrouter-bench COMMAND --help' for a command's options and examples.",
        epilog=_epilog(
            "openrouter-bench demo",
            "openrouter-bench get --source design-arena --category svg --top 5",
            "openrouter-bench grid --source design-arena --category gamedev,svg --format csv",
            "openrouter-bench history 'Kimi K2 Thinking' --source design-arena --category gamedev",
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    get = _command(
        commands,
        "get",
        summary="fetch one ranking",
        description="Fetch one ranking and print it. The answer is cached in your user cache\n"
        "directory, so asking again within ten minutes sends nothing. --sort, --top and\n"
        "--columns only change what is shown.",
        examples=(
            "openrouter-bench get --source artificial-analysis --task-type coding --top 10",
            "openrouter-bench get --source design-arena --category gamedev --sort win_rate",
            "openrouter-bench get --source design-arena --category svg "
            "--columns display_name,elo,win_rate",
            "openrouter-bench get --source openrouter --task-type search "
            "--sort -avg_cost_per_task --format csv",
            "openrouter-bench get --source design-arena --arena builders --format json",
        ),
    )
    _add_query_options(get)
    _add_output_options(
        get,
        format_help="table for people; json: the server's document; csv, ndjson: an item "
        "per row, nested fields dotted",
        columns_help="the columns of a table or csv",
    )
    _add_client_options(get)

    _add_fanout_commands(commands)
    _add_answer_commands(commands)
    _add_history_command(commands)

    cache = _command(
        commands,
        "cache",
        summary="inspect or clear the command's persistent cache",
        description="Inspect or clear the cache the command uses by default (or the one\n"
        "--cache names). 'stats' counts the stored queries and snapshots of one API,\n"
        "'clear' removes them, 'path' prints where the default cache lives.",
        examples=(
            "openrouter-bench cache stats",
            "openrouter-bench cache path",
            "openrouter-bench cache clear --cache redis://127.0.0.1:6379/0",
        ),
    )
    cache.add_argument("action", choices=("stats", "clear", "path"))
    options = cache.add_argument_group("cache")
    options.add_argument("--cache", metavar="URL", help="a cache other than the default one")
    options.add_argument(
        "--base-url",
        help="the API whose entries to show or clear (default: $OPENROUTER_BASE_URL or OpenRouter)",
    )
    _add_logging_options(options)

    _add_quota_command(commands)

    demo = _command(
        commands,
        "demo",
        summary="run the client against the bundled fake server (no key needed)",
        description="Start the bundled fake server on loopback and show the client at work:\n"
        "rankings, retries over injected faults, cache hits, a coalesced burst, a stale\n"
        "serve. It needs no key and no network, and the client's own logs are part of the\n"
        "story.",
        examples=("openrouter-bench demo", "openrouter-bench demo --seed 2"),
    )
    demo.add_argument("--seed", type=int, default=1, help="the fake data set's seed")
    _add_logging_options(demo, verbose=False)

    fake = _command(
        commands,
        "fake-server",
        summary="serve the bundled fake API until stopped",
        description="Serve a deterministic fake of the benchmarks endpoint on loopback, for\n"
        "tests and experiments. Prints its base URL, then serves until Ctrl-C or SIGTERM.\n"
        "Point any client at it with OPENROUTER_BASE_URL and any key.\n"
        "\n"
        "Control endpoints, at the server's root (no key needed; 'openrouter-bench fake'\n"
        "drives them):\n"
        '  POST   /_fake/publish    publish a new snapshot (body: optional {"as_of": "..."})\n'
        '  POST   /_fake/faults     fail the next requests in order ({"script": [503, "reset"]})\n'
        "  DELETE /_fake/faults     drop the faults not used yet\n"
        '  POST   /_fake/chaos      fail a share of requests ({"rate": 0.2, "seed": 1})\n'
        "  GET    /_fake/requests   the API requests received (never their keys)\n"
        "  DELETE /_fake/requests   forget them\n"
        "  POST   /_fake/reset      back to the first snapshot, no faults, no requests\n"
        "  GET    /_fake/state      the current as_of, request and fault counts\n"
        "\n"
        "Where the published documents disagree, the fake follows the API reference unless\n"
        "told otherwise: --max-results-reading guide caps an unfiltered answer at 50 items\n"
        "and refuses max_results over 100 (the Data API guide's reading), and\n"
        "--as-of-milliseconds writes meta.as_of as 2026-06-03T12:00:00.000Z.",
        examples=(
            "openrouter-bench fake-server --port 8080",
            "OPENROUTER_BASE_URL=http://127.0.0.1:8080/api/v1 OPENROUTER_API_KEY=any-key "
            "openrouter-bench get --source design-arena",
            "openrouter-bench fake-server --per-minute 5 --key test-key --seed 2",
            "openrouter-bench fake-server --max-results-reading guide --as-of-milliseconds",
        ),
    )
    server = fake.add_argument_group("server")
    server.add_argument("--host", default="127.0.0.1", help="address to listen on")
    server.add_argument("--port", type=int, default=0, help="port (0: a free one)")
    server.add_argument("--seed", type=int, default=1, help="the data set's seed")
    server.add_argument(
        "--key", action="append", default=None, metavar="K", help="accept only these keys"
    )
    server.add_argument("--per-minute", type=int, default=30, help="requests per minute per key")
    server.add_argument("--per-day", type=int, default=500, help="requests per day per key")
    server.add_argument(
        "--max-results-reading",
        choices=("reference", "guide"),
        default="reference",
        help="reference: omitted max_results means every item; guide: 1 to 100, "
        "omitted means at most 50 (default: reference)",
    )
    server.add_argument(
        "--as-of-milliseconds",
        action="store_true",
        help="write meta.as_of with milliseconds (...T12:00:00.000Z), as the Data API guide does",
    )
    _add_logging_options(server, verbose=False)

    _add_fake_commands(commands)
    return parser


def _add_fake_commands(commands: Any) -> None:
    control = _command(
        commands,
        "fake",
        summary="drive a running fake server: publish data, script faults, list requests",
        description="Drive a fake server started with 'openrouter-bench fake-server', through\n"
        "its control endpoints: the one at --base-url, else at $OPENROUTER_BASE_URL.",
        examples=(
            "openrouter-bench fake publish",
            "openrouter-bench fake fault 503 reset html502",
            "openrouter-bench fake requests --base-url http://127.0.0.1:8080/api/v1",
        ),
    )
    actions = control.add_subparsers(dest="fake_action", metavar="ACTION", required=True)
    publish = _command(
        actions,
        "publish",
        summary="publish a new snapshot: a new as_of, with scores moved",
        description="Publish a new snapshot of the fake's data (POST /_fake/publish): scores\n"
        "drift, ranks move, and the as_of moves on, so caches refresh and watch reports it.",
        examples=(
            "openrouter-bench fake publish",
            "openrouter-bench fake publish --as-of 2027-01-01T00:00:00Z",
        ),
    )
    publish.add_argument(
        "--as-of", metavar="TIME", help="its ISO-8601 time (default: a day after the current one)"
    )
    fault = _command(
        actions,
        "fault",
        summary="make the next requests fail, one fault each, in order",
        description="Script faults (POST /_fake/faults): each of the next API requests meets\n"
        "the next fault, after any already scripted.",
        examples=("openrouter-bench fake fault 503 reset", "openrouter-bench fake fault 429"),
    )
    fault.add_argument(
        "faults",
        nargs="+",
        type=_fault,
        metavar="NAME",
        help="an HTTP status from 400 to 599, or a fault's name: reset, timeout, truncate, "
        "html502, malformed... (a wrong name lists them all)",
    )
    listing = _command(
        actions,
        "requests",
        summary="list the API requests the fake received",
        description="List the API requests the fake received, oldest first (GET /_fake/requests):\n"
        "each one's status (or fault) and parameters. Keys are never recorded.",
        examples=("openrouter-bench fake requests", "openrouter-bench fake requests --format json"),
    )
    listing.add_argument(
        "--format", choices=("table", "json"), default="table", help="table (default) or json"
    )
    for action in (publish, fault, listing):
        options = action.add_argument_group("fake server")
        options.add_argument(
            "--base-url",
            help="the fake's base URL, as fake-server printed it (default: $OPENROUTER_BASE_URL)",
        )
        _add_logging_options(options, verbose=False)


def _fault(text: str) -> int | str:
    """A fault for ``fake fault``: a 4xx/5xx status or a fault's name."""
    from openrouter_bench.fake.faults import FAULT_NAMES

    if text.isdigit() and 400 <= int(text) <= 599:
        return int(text)
    if text in FAULT_NAMES:
        return text
    close = difflib.get_close_matches(text, FAULT_NAMES, n=1)
    hint = f"did you mean {close[0]}? " if close else ""
    raise argparse.ArgumentTypeError(
        f"unknown fault {text!r}; {hint}expected a status from 400 to 599 or one of "
        f"{', '.join(FAULT_NAMES)}"
    )


def _add_quota_command(commands: Any) -> None:
    quota = _command(
        commands,
        "quota",
        summary="show what the request budget has spent and has left",
        description="Show the request budget the other commands use: how many requests were\n"
        "sent in the last minute and the last day (by every process sharing the budget),\n"
        "what is left of each, and any pause a 429 asked for. Sends nothing.",
        examples=(
            "openrouter-bench quota",
            "openrouter-bench quota --format json",
            "openrouter-bench quota --quota redis://127.0.0.1:6379/0",
        ),
    )
    group = quota.add_argument_group("quota")
    group.add_argument(
        "--format", choices=FORMATS, default="table", help="output format (default table)"
    )
    group.add_argument(
        "--base-url",
        help="the API whose budget to show (default: $OPENROUTER_BASE_URL or OpenRouter)",
    )
    group.add_argument(
        "--cache", metavar="URL", help="the cache the commands use, if not the default one"
    )
    group.add_argument(
        "--quota",
        metavar="SPEC",
        help="the budget to show, as the commands' --quota takes it (default: theirs)",
    )
    _add_logging_options(group)


def _add_fanout_commands(commands: Any) -> None:
    grid = _command(
        commands,
        "grid",
        summary="fetch every combination of the given values, paced by the quota",
        description="Fetch every valid combination of the values given, at most N at a time,\n"
        "paced by the quota. Each grid option takes a value, a comma-separated list, or\n"
        "'all'; '--category all' means every category the data has (one request per arena\n"
        "finds them). Design Arena categories of one arena are cut from that arena's one\n"
        "page (the one that named them) when it is provably complete, else asked for one\n"
        "by one: a sweep of every arena and category costs 3 requests (6 with --no-cache,\n"
        "which reads each arena page twice). A progress bar shows on a terminal; a summary\n"
        "of pages, errors, requests and cache hits ends on stderr. The exit code is the\n"
        "worst failure's.",
        examples=(
            "openrouter-bench grid --source design-arena --arena all --category all",
            "openrouter-bench grid --source design-arena --category gamedev,svg "
            "--sort win_rate --top 3 --format csv",
            "openrouter-bench grid --source artificial-analysis,openrouter --task-type all "
            "--format json",
        ),
    )
    axes = grid.add_argument_group("grid (a value, a comma-separated list, or 'all')")
    axes.add_argument("--source", type=_axis, metavar="S", help=f"{_known(Source)}")
    axes.add_argument("--task-type", type=_axis, metavar="T", help=f"{_known(TaskType)}")
    axes.add_argument("--arena", type=_axis, metavar="A", help=f"Design Arena: {_known(Arena)}")
    axes.add_argument(
        "--category", type=_axis, metavar="C", help="Design Arena; all: every one the data has"
    )
    axes.add_argument(
        "--benchmark-type", type=_axis, metavar="B", help=f"OpenRouter: {_known(BenchmarkType)}"
    )
    axes.add_argument("--max-results", type=int, metavar="N", help="at most N items per query")
    _add_allow_unknown(axes)
    _add_output_options(
        grid,
        format_help="table: a row per query, with its leader; json, ndjson: each query's "
        "page or error; csv: every item, with its query. --sort and --top apply to each "
        "page",
        columns_help="the columns of csv, after the query",
    )
    grid.add_argument(
        "--concurrency",
        type=_positive_int,
        default=DEFAULT_CONCURRENCY,
        metavar="N",
        help=f"queries in flight at once (default {DEFAULT_CONCURRENCY})",
    )
    _add_client_options(grid)

    watch = _command(
        commands,
        "watch",
        summary="print what changed each time new data is published",
        description="Poll one query within the quota and print what changed each time the\n"
        "data's as_of moves: new leaders, models that entered and left, rank and score\n"
        "moves, and the citation to show. The first poll is the baseline. A failed poll\n"
        "is logged and the watch goes on. On a terminal (or with -v) each poll that\n"
        "brings no new data says so. --count stops after N changes, --polls after N polls.",
        examples=(
            "openrouter-bench watch --source design-arena --category gamedev --every 900",
            "openrouter-bench watch --source artificial-analysis --task-type coding --format table",
            "openrouter-bench watch --source openrouter --format ndjson --count 1",
            "openrouter-bench watch --source design-arena --every 5 --count 1 --polls 12",
        ),
    )
    _add_query_options(watch)
    polling = watch.add_argument_group("watch")
    polling.add_argument(
        "--every",
        type=_interval,
        default=900.0,
        metavar="SECONDS",
        help="seconds between polls (default 900)",
    )
    polling.add_argument(
        "--count",
        type=_positive_int,
        metavar="N",
        help="stop after N changes, that is N new snapshots, however many polls that "
        "takes (default: never)",
    )
    polling.add_argument(
        "--polls",
        type=_positive_int,
        metavar="N",
        help="stop after N polls past the baseline, changed or not (default: never)",
    )
    polling.add_argument(
        "--format",
        choices=CHANGE_FORMATS,
        default="text",
        help="text: each change in sentences (default); table: a table per change; "
        "json, ndjson: one JSON object per change and line; csv: a row per new leader, "
        "entry, exit and move",
    )
    _add_client_options(watch)


def _add_history_command(commands: Any) -> None:
    history = _command(
        commands,
        "history",
        summary="one model's rank and score over time, or what changed between two snapshots",
        description="Show a model's rank and score in every snapshot of one query that the\n"
        "cache has kept, oldest first: one table per ranking the model stands in (an arena\n"
        "without --category holds one per category), under a sparkline of the score on a\n"
        "terminal. The current snapshot is fetched first through the cache (nothing is\n"
        "sent while it is fresh). NAME is an OpenRouter id, the part after the '/', a\n"
        "Design Arena id or any source's display name; an unknown or ambiguous name exits\n"
        "with 2 and the closest names.\n"
        "\n"
        "--changes OLD NEW shows what changed between two kept snapshots instead: each a\n"
        "number (1 the oldest kept, -1 the newest) or an as_of.\n"
        "\n"
        "The default cache keeps every snapshot it has seen of each query, past the ttl,\n"
        f"up to 1,000 snapshots and {CLI_HISTORY_BYTES // 2**20} MiB per query (the oldest "
        "go first,\nthe newest never); a snapshot weighs about twice its response body. "
        f"A SQLite store\nholds the kept snapshots of all queries to "
        f"{CLI_HISTORY_STORE_BYTES // 2**20} MiB as stored (about their\nresponse "
        "bodies): past it the oldest go first, whatever their query.",
        examples=(
            "openrouter-bench history 'Kimi K2 Thinking' --source design-arena --category gamedev",
            "openrouter-bench history moonshotai/kimi-k2-thinking --source artificial-analysis "
            "--task-type coding --format csv",
            "openrouter-bench history --changes 1 -1 --source design-arena --category svg",
            "openrouter-bench history --changes 2026-06-03T12:00:00Z -1 --source openrouter "
            "--format json",
        ),
    )
    history.add_argument("name", nargs="?", metavar="NAME", help="the model, as a person names it")
    _add_query_options(history)
    shown = history.add_argument_group("output")
    shown.add_argument(
        "--changes",
        nargs=2,
        metavar=("OLD", "NEW"),
        help="what changed from snapshot OLD to NEW (numbers from 1, the oldest kept; -1 the "
        "newest; or an as_of) instead of a model's standing",
    )
    shown.add_argument(
        "--format",
        choices=FORMATS,
        default="table",
        help="table for people (with a sparkline of the score on a terminal); json: one "
        "document; csv, ndjson: a row per ranking and snapshot (with --changes: a row per "
        "new leader, entry, exit and move) (default table)",
    )
    _add_client_options(history)


def _sort_values_joined(argv: Sequence[str]) -> list[str]:
    """``--sort -elo`` as ``--sort=-elo``.

    argparse reads a word starting with a dash as an option, so the value of
    ``--sort`` for smallest-first would be refused without this.
    """
    joined: list[str] = []
    words = iter(argv)
    for word in words:
        if word == "--":
            joined += [word, *words]
            break
        if word == "--sort":
            value = next(words, None)
            if value is not None and value.startswith("-") and value[1:2].isidentifier():
                joined.append(f"--sort={value}")
                continue
            joined.append(word)
            if value is not None:
                joined.append(value)
            continue
        joined.append(word)
    return joined


def _check_output_options(args: argparse.Namespace) -> None:
    """Refuse option combinations that cannot mean anything, before any I/O."""
    if args.command == "history" and (args.name is None) == (args.changes is None):
        args.command_parser.error("give a model NAME, or --changes OLD NEW (not both)")
    if getattr(args, "columns", None) is None:
        return
    allowed = _COLUMN_FORMATS[args.command]
    if args.format not in allowed:
        args.command_parser.error(
            f"--columns picks the columns of {' or '.join(allowed)} output, "
            f"not of --format {args.format}"
        )


#: The options whose values this package knows all of; --allow-unknown sends others anyway.
_KNOWN_VALUES: Final = {
    "source": Source,
    "task_type": TaskType,
    "arena": Arena,
    "benchmark_type": BenchmarkType,
    "search_surface": SearchSurface,
}


def _check_known_values(args: argparse.Namespace) -> None:
    """Refuse a value the API does not know (so far as this package knows), before any I/O.

    The server would answer it with a 400, and that answer costs a request of the quota.
    """
    if getattr(args, "allow_unknown", True):
        return
    for name, enum_type in _KNOWN_VALUES.items():
        given = getattr(args, name, None)
        if given is None or given is ALL:
            continue
        known = [member.value for member in enum_type]
        for value in given if isinstance(given, list) else [given]:
            if value in known or value != value.strip():
                continue  # white space around it: the query's own check says what is wrong
            close = difflib.get_close_matches(value, known, n=1)
            hint = f"did you mean {close[0]}? " if close else ""
            args.command_parser.error(
                f"unknown --{name.replace('_', '-')} {value!r}; {hint}known: {', '.join(known)} "
                "(--allow-unknown sends it anyway)"
            )


# --- shared pieces --------------------------------------------------------------------------


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


def _view_from(args: argparse.Namespace) -> ItemView:
    return ItemView(sort=args.sort, top=args.top, columns=args.columns)


def _cache_spec(args: argparse.Namespace) -> Any:
    if getattr(args, "no_cache", False):
        return None
    if args.cache:
        # A bare sqlite:// names the command's own file (the library wants a path).
        return cli_cache_spec(args.cache)
    return f"sqlite:///{default_cli_cache_path()}"


def _api(args: argparse.Namespace) -> BaseURL:
    """The API the command's client talks to, as the client reads it."""
    return parse_base_url(
        args.base_url or os.environ.get("OPENROUTER_BASE_URL") or DEFAULT_BASE_URL
    )


def _namespace(args: argparse.Namespace) -> str:
    # The name BenchmarksClient gives its cache entries for this API, so that the
    # cache command sees exactly what the get command stored.
    return namespace_for(_api(args).url)


def _quota_from(args: argparse.Namespace) -> Any:
    from openrouter_bench.client import DEFAULT_QUOTA

    spec = args.quota
    if spec is None:
        if _redis_cache(args) is not None:
            return DEFAULT_QUOTA  # shared on the cache's Redis
        from openrouter_bench._sqlite_quota import default_cli_quota_path
        from openrouter_bench.quota import QuotaPolicy

        # Beside the persistent cache: each run is a new process, and the day's 500 is one.
        return QuotaPolicy(store=f"sqlite:///{default_cli_quota_path()}")
    return None if spec == "off" else spec


#: A wait shorter than this passes unannounced: it looks like an ordinary slow answer.
_ANNOUNCED_WAIT: Final = 2.0


class _WaitNotices(ClientHooks):
    """One line on stderr for each long wait, so that a terminal does not look hung."""

    def __init__(self, err: TextIO) -> None:
        self._err = err

    def wait_started(self, event: WaitStarted) -> None:
        if event.seconds <= _ANNOUNCED_WAIT:
            return
        why = (
            "the request quota has no free slot yet"
            if event.reason == "quota"
            else "the server rate-limited this key"
        )
        self._say(f"waiting {event.seconds:.0f} s before sending {event.query!r}: {why}")

    def retry_scheduled(self, event: RetryScheduled) -> None:
        if event.wait <= _ANNOUNCED_WAIT:
            return
        self._say(
            f"attempt {event.attempt} for {event.query!r} failed ({event.error}); "
            f"retrying in {event.wait:.0f} s"
        )

    def _say(self, text: str) -> None:
        self._err.write(f"openrouter-bench: {text}\n")
        self._err.flush()


def _no_key() -> bool:
    return not os.environ.get("OPENROUTER_API_KEY", "").strip()


def _redis_cache(args: argparse.Namespace) -> str | None:
    spec = _cache_spec(args)
    if isinstance(spec, str) and urlsplit(spec).scheme.lower() in ("redis", "rediss"):
        return spec
    return None


def _cli_cache_policy() -> Any:
    from openrouter_bench.cache import CachePolicy

    # Keep what was seen: the history command reads it, and it costs no quota to keep.
    return CachePolicy(
        history=1000,
        history_bytes=CLI_HISTORY_BYTES,
        history_store_bytes=CLI_HISTORY_STORE_BYTES,
    )


def _client_for(args: argparse.Namespace) -> BenchmarksClient:
    from openrouter_bench.client import BenchmarksClient

    if _no_key():
        raise _MissingKeyError(
            "no API key: set OPENROUTER_API_KEY (for the bundled fake server, any "
            "non-empty key will do)"
        )
    err: TextIO = args.err
    announce = is_terminal(err) and not getattr(args, "quiet", False)
    retries = args.retries
    return BenchmarksClient(
        base_url=args.base_url,
        cache=_cache_spec(args),
        cache_policy=_cli_cache_policy(),
        retry=None if retries is None else RetryPolicy(attempts=retries + 1),
        quota=_quota_from(args),
        hooks=_WaitNotices(err) if announce else None,
    )


@contextlib.asynccontextmanager
async def _open_client(args: argparse.Namespace) -> AsyncIterator[BenchmarksClient]:
    """The command's client; afterwards, a word on stderr if its cache could not be used."""
    async with _client_for(args) as client:
        try:
            yield client
        finally:
            if client.stats.cache_errors and not (args.verbose or args.debug):
                # The client carries on without its cache, as it should, but a person who
                # named one should know every answer now costs a request.
                args.err.write(
                    f"openrouter-bench: warning: the cache {_shown_spec(args)} could not be "
                    "used; this run went without it (-v shows why)\n"
                )


def _shown_spec(args: argparse.Namespace) -> str:
    """The cache's URL without a password it may hold."""
    spec = str(_cache_spec(args))
    parts = urlsplit(spec)
    if parts.password is None:
        return spec
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}{parts.path}"


# --- get, cache, fake-server, demo ------------------------------------------------------------


async def _category_hint(client: BenchmarksClient, page: Page) -> str | None:
    """Why a Design Arena page is empty, when its category is neither known nor in the data.

    The categories in the data come from the arena's page: none is sent while that
    page is cached, one request otherwise, and only after an empty answer.
    """
    query = page.query
    category = query.category
    if page.items or category is None or category in KNOWN_CATEGORIES:
        return None
    if query.source != Source.DESIGN_ARENA or query.arena is None:
        return None
    found = await client.categories(query.arena)
    if category in found:
        return None
    names = list(dict.fromkeys([*KNOWN_CATEGORIES, *found]))
    close = difflib.get_close_matches(category, names, n=1)
    guess = f"did you mean {close[0]}? " if close else ""
    return (
        f"no category {category!r} in Design Arena's {query.arena} arena; {guess}"
        f"its categories: {', '.join(names)}"
    )


def _hint(err: TextIO, text: str) -> None:
    # A hint may name the server's categories: nothing in it may drive the terminal.
    err.write(f"openrouter-bench: hint: {printable(text)}\n")


async def _get(args: argparse.Namespace, out: TextIO) -> int:
    query = _query_from(args)
    async with _open_client(args) as client:
        page = await client.get(query, refresh=args.refresh)
        hint = await _category_hint(client, page)
    out.write(render_page(page, args.format, _view_from(args), Palette.for_stream(out)))
    if hint is not None:
        _hint(args.err, hint)
    return _EXIT_OK


async def _cache_command(args: argparse.Namespace, out: TextIO) -> int:
    from openrouter_bench.cache import open_cache

    spec = _cache_spec(args)
    if args.action == "path":
        # The default store is a file; a cache named with --cache is where it is.
        out.write(f"{spec if args.cache else default_cli_cache_path()}\n")
        return _EXIT_OK
    cache = open_cache(spec, namespace=_namespace(args), policy=_cli_cache_policy())
    try:
        if args.action == "clear":
            stored = await cache.stored()
            removed = await cache.clear()
            if stored is None:
                what = plural(removed, "entry", "entries")
            else:
                queries, snapshots = stored
                what = f"{plural(queries, 'query', 'queries')} and {plural(snapshots, 'snapshot')}"
            out.write(f"cleared {what} from {_shown_spec(args)}\n")
        else:
            # A new process has served nothing yet: its counters would always read 0.
            out.write(await cache.describe(counters=False))
    finally:
        await cache.close()
    return _EXIT_OK


async def _quota_command(args: argparse.Namespace, out: TextIO) -> int:
    from openrouter_bench.quota import QuotaPolicy, open_quota

    policy = _quota_from(args)
    if isinstance(policy, str):
        policy = QuotaPolicy(store=policy)
    redis_cache = _redis_cache(args)
    if policy is not None and policy.store is None and redis_cache is not None:
        policy = attrs.evolve(policy, store=redis_cache)
    # The name BenchmarksClient gives the budget of this API, so both count the same one.
    limiter = open_quota(policy, api=_api(args).identity)
    try:
        status = await limiter.status()
    finally:
        await limiter.aclose()
    out.write(render_quota(status, args.format))
    return _EXIT_OK


async def _fake_server(args: argparse.Namespace, out: TextIO) -> int:
    from openrouter_bench.fake import serve

    def ready(url: str) -> None:
        out.write(f"{url}\n")
        out.flush()

    serving = asyncio.ensure_future(
        serve(
            args.host,
            args.port,
            seed=args.seed,
            keys=args.key,
            per_minute=args.per_minute,
            per_day=args.per_day,
            as_of_milliseconds=args.as_of_milliseconds,
            max_results_reading=args.max_results_reading,
            on_ready=ready,
        )
    )
    # SIGTERM is how service managers and test harnesses stop a server: shut down cleanly.
    with contextlib.suppress(NotImplementedError):  # no signal handlers on this platform
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, serving.cancel)
    try:
        await serving
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise  # Ctrl-C, or whoever runs this command, cancelled it
    return _EXIT_OK


def _fake_root(args: argparse.Namespace) -> str:
    """Where a running fake's control endpoints are: the root of its base URL."""
    base_url = args.base_url or os.environ.get("OPENROUTER_BASE_URL")
    if not base_url:
        raise ConfigurationError(
            "which fake server? pass --base-url with the URL fake-server printed, "
            "or set OPENROUTER_BASE_URL"
        )
    return parse_base_url(base_url).root


async def _fake_call(root: str, method: str, path: str, body: object = None) -> Any:
    """One control request to a running fake; its JSON answer (None for an empty one)."""
    import aiohttp

    url = f"{root}{path}"
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
            session.request(method, url, json=body) as response,
        ):
            raw = await response.read()
            status = response.status
    except (aiohttp.ClientError, TimeoutError) as error:
        reason = type(error).__name__ if isinstance(error, TimeoutError) else str(error)
        raise TransportError(f"no fake server answered at {root}: {reason}") from None
    document = orjson.loads(raw) if raw.strip() else None
    if status == 404:
        raise ConfigurationError(
            f"{root} has no {path}: is it a fake started with 'openrouter-bench fake-server'?"
        )
    if status >= 400:
        message = (document or {}).get("error", {}).get("message", f"HTTP {status}")
        raise BadRequestError(f"the fake refused {method} {path}: {message}", status=status)
    return document


async def _fake(args: argparse.Namespace, out: TextIO) -> int:
    root = _fake_root(args)
    if args.fake_action == "publish":
        body = {} if args.as_of is None else {"as_of": args.as_of}
        published = await _fake_call(root, "POST", "/_fake/publish", body)
        out.write(f"published a new snapshot, as of {published['as_of']}\n")
    elif args.fake_action == "fault":
        state = await _fake_call(root, "POST", "/_fake/faults", {"script": args.faults})
        faults = ", ".join(str(fault) for fault in args.faults)
        out.write(
            f"the next API requests fail with {faults} "
            f"({plural(state['pending_faults'], 'fault')} waiting in all)\n"
        )
    else:
        records = await _fake_call(root, "GET", "/_fake/requests")
        if args.format == "json":
            out.write(orjson.dumps(records, option=orjson.OPT_INDENT_2).decode() + "\n")
        else:
            rows = [["#", "status", "fault", "query"]]
            rows += [
                [
                    str(number),
                    str(record["status"]),
                    record["fault"] or "-",
                    "&".join(f"{k}={v}" for k, v in record["params"].items()) or "(all)",
                ]
                for number, record in enumerate(records, start=1)
            ]
            out.write("\n".join(align_rows(rows)) + f"\n\n{plural(len(records), 'request')}\n")
    return _EXIT_OK


async def _demo(args: argparse.Namespace, out: TextIO) -> int:
    from openrouter_bench.demo import run_demo

    await run_demo(out, seed=args.seed)
    return _EXIT_OK


# --- grid and watch -----------------------------------------------------------------------

#: A grid's exit code stands for its worst failure, worst first: a refused key or a wrong
#: query fails every query alike and needs a person; a malformed answer is the server's
#: fault; rate limits and upstream failures pass by themselves.
_WORST_FIRST: Final = (
    _EXIT_AUTH,
    _EXIT_USAGE,
    _EXIT_FORMAT,
    _EXIT_OTHER,
    _EXIT_RATE,
    _EXIT_UPSTREAM,
)


async def _grid_queries(client: BenchmarksClient, args: argparse.Namespace) -> list[Query]:
    source = args.source
    if source is None and (args.arena is not None or args.category is not None):
        source = [Source.DESIGN_ARENA]
    axes: dict[str, Any] = {
        "source": source,
        "task_type": args.task_type,
        "benchmark_type": args.benchmark_type,
        "max_results": args.max_results,
    }
    design_arena = source is ALL or Source.DESIGN_ARENA in source
    if args.category is not ALL or not design_arena:
        grid = Query.grid(**axes, arena=args.arena, category=args.category)
        if not grid:
            raise _empty_grid({**axes, "arena": args.arena, "category": args.category})
        return grid
    # Every category the data has, arena by arena: the package's list may be behind.
    arenas = list(Arena) if args.arena is ALL else args.arena or [Arena.MODELS]
    queries: dict[Query, None] = {}
    for arena in arenas:
        categories = await client.categories(arena)
        if categories:
            queries.update(
                dict.fromkeys(Query.grid(**axes, arena=arena, category=list(categories)))
            )
    if not queries:
        raise _empty_grid({**axes, "arena": arenas, "category": None})
    return list(queries)


def _empty_grid(axes: dict[str, Any]) -> InvalidQueryError:
    """Why no combination of the grid's values is a valid query, in the words ``get`` uses."""
    choices = [
        [None]
        if values is None or values is ALL
        else values
        if isinstance(values, list)
        else [values]
        for values in axes.values()
    ]
    reason = "no valid combination of these values"
    for combination in itertools.product(*choices):
        try:
            Query(**dict(zip(axes, combination, strict=True)))
        except InvalidQueryError as error:
            reason = str(error)
            break
    return InvalidQueryError(f"the grid is empty: {reason}")


def _worst_exit_code(errors: Iterable[BaseException]) -> int:
    codes = {_exit_code_for(error) for error in errors}
    return next((code for code in _WORST_FIRST if code in codes), _EXIT_OK)


async def _grid(args: argparse.Namespace, out: TextIO) -> int:
    err: TextIO = args.err
    started = time.monotonic()
    async with _open_client(args) as client:
        queries = await _grid_queries(client, args)
        outcomes: dict[Query, Page | OpenRouterBenchError] = {}
        with GridProgress(err, len(queries), label="grid") as progress:
            stream = client.stream(queries, concurrency=args.concurrency, refresh=args.refresh)
            async with contextlib.aclosing(stream) as results:
                async for query, outcome in results:
                    outcomes[query] = outcome
                    progress.advance(outcome)
        result = FanOutResult({query: outcomes[query] for query in queries})
        hints = [await _category_hint(client, page) for page in result.pages.values()]
        stats = client.stats
    out.write(render_grid(result, args.format, _view_from(args), Palette.for_stream(out)))
    prefix = Palette.for_stream(err).red(_ERROR_PREFIX)
    for query, error in result.errors.items():
        err.write(f"{prefix} {query!r}: {_described(error)}\n")
    for hint in dict.fromkeys(hint for hint in hints if hint is not None):
        _hint(err, hint)
    stale = sum(page.stale for page in result.pages.values())
    arenas = {page.derived_from for page in result.pages.values() if page.derived_from}
    cut = sum(page.derived_from is not None for page in result.pages.values())
    err.write(
        f"{plural(len(result), 'query', 'queries')}: {plural(len(result.pages), 'page')}"
        + (f" ({cut} cut from {plural(len(arenas), 'arena page')})" if cut else "")
        + f", {plural(len(result.errors), 'error')}; {plural(stats.requests, 'request')} sent, "
        f"{plural(stats.hits, 'cache hit')}"
        + (f", {stale} stale" if stale else "")
        + f"; {time.monotonic() - started:.1f} s\n"
    )
    return _worst_exit_code(result.errors.values())


@contextlib.contextmanager
def _failed_polls_shown(args: argparse.Namespace) -> Iterator[None]:
    """A watch goes on after a failed poll, so that warning is its own news: show it."""
    watch_logger = logging.getLogger("openrouter_bench.watch")
    level = watch_logger.level
    if not (args.verbose or args.debug):
        watch_logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        watch_logger.setLevel(level)


async def _watch(args: argparse.Namespace, out: TextIO) -> int:
    from openrouter_bench.watch import watch_query

    err: TextIO = args.err
    query = _query_from(args)
    palette = Palette.for_stream(out)
    # Polls that bring nothing are the usual case; on a terminal silence looks like a hang.
    tell_polls = args.verbose or args.debug or (is_terminal(err) and not args.quiet)

    def unchanged(poll: int, page: Page) -> None:
        if tell_polls:
            state = "the refresh failed, " if page.stale else ""
            err.write(
                f"poll {poll}: no new data ({state}still as of {page.as_of:%Y-%m-%d %H:%M} UTC)\n"
            )
            err.flush()

    with _failed_polls_shown(args):
        async with _open_client(args) as client:

            async def fetch(refresh: bool) -> Page:
                return await client.get(query, refresh=refresh)

            changes = watch_query(
                fetch,
                every=args.every,
                sleep=asyncio.sleep,
                polls=args.polls,
                on_unchanged=unchanged,
            )
            bound = [
                *([f"for {plural(args.count, 'change')}"] if args.count else []),
                *([f"at most {plural(args.polls, 'poll')}"] if args.polls else []),
            ]
            err.write(
                f"watching {query!r} every {args.every:g} s"
                + (f" ({', '.join(bound)})" if bound else "")
                + "\n"
            )
            err.flush()
            seen = 0
            async with contextlib.aclosing(changes) as watching:
                async for change in watching:
                    out.write(render_change(change, args.format, header=not seen, palette=palette))
                    out.flush()
                    seen += 1
                    if args.count is not None and seen >= args.count:
                        break
            if args.polls is not None and (args.count is None or seen < args.count):
                err.write(
                    f"stopped after {plural(args.polls, 'poll')}: {plural(seen, 'change')} seen\n"
                )
    return _EXIT_OK


# --- answers: model, compare, best, leaders -------------------------------------------------

#: The most models ``compare`` takes at once (the Catalog's own limit).
_MOST_COMPARED: Final = 20


def _amount(text: str) -> Decimal:
    """--max-price, --max-cost-per-task: an exact amount of USD, 0 or more."""
    try:
        amount = Decimal(text.strip().removeprefix("$"))
    except ArithmeticError:
        raise argparse.ArgumentTypeError(f"not an amount of USD: {text!r}") from None
    if not amount.is_finite() or amount < 0:
        raise argparse.ArgumentTypeError(f"must be a finite amount of 0 or more, got {text!r}")
    return amount


def _add_answer_commands(commands: Any) -> None:
    answered = (
        "It loads the whole data set (one request per source and Design Arena arena, none\n"
        "while the persistent cache holds them) and answers locally. Each answer shows the\n"
        "citations of the parts it used, with their as_of, and names the parts that could\n"
        "not be fetched or may lack items. Prices are USD per million tokens, blended three\n"
        "input tokens to one output token (Artificial Analysis, Design Arena), or USD per\n"
        "task (OpenRouter's evals)."
    )
    bars = (
        "\n\nOn a terminal, a table row gets a bar of its score, from its ranking's lowest\n"
        "score to its highest."
    )
    names = (
        "\n\nA name that no model goes by exits 2 with the closest names on stderr; one that\n"
        "several models go by exits 2 with their ids."
    )
    model = _command(
        commands,
        "model",
        summary="one model's standing in every source, arena, category and benchmark",
        description="Show one model's rank and score in every ranking it stands in.\n\n"
        + answered
        + bars
        + names,
        examples=(
            "openrouter-bench model kimi-k2-thinking",
            "openrouter-bench model MoonshotAI: Kimi K2 Thinking",
            "openrouter-bench model openai/gpt-5 --format json",
        ),
    )
    model.add_argument(
        "name",
        nargs="+",
        help="an OpenRouter id, the part after its '/', a Design Arena id or a display "
        "name; several words are one name",
    )
    compare = _command(
        commands,
        "compare",
        summary="two or more models side by side, ranking by ranking",
        description="Show two or more models side by side in every ranking where one of\n"
        "them stands.\n\n" + answered + bars + names,
        examples=(
            "openrouter-bench compare kimi-k2-thinking openai/gpt-5",
            "openrouter-bench compare 'Kimi K2 Thinking' gpt-5 claude-sonnet-4.5 --format csv",
        ),
    )
    compare.add_argument(
        "names",
        nargs="+",
        metavar="NAME",
        help=f"2 to {_MOST_COMPARED} model names (quote a name of several words)",
    )
    best = _command(
        commands,
        "best",
        summary="the best models for a task under a price, or the Pareto frontier",
        description="Show the best models for a task, ranking by ranking (scores of different\n"
        "sources are never ranked together), under a price if given; --frontier shows\n"
        "each ranking's Pareto frontier of score against price instead, cheapest first.\n\n"
        + answered
        + bars,
        examples=(
            "openrouter-bench best --task coding --max-price 2",
            "openrouter-bench best --task intelligence --max-cost-per-task 0.05 --top 3",
            "openrouter-bench best --task coding --frontier",
            "openrouter-bench best --task 'design-arena models/svg' --format json",
        ),
    )
    asked = best.add_argument_group("question")
    asked.add_argument(
        "--task",
        required=True,
        metavar="T",
        help=f"a task type ({_known(TaskType)}) or one ranking's name, e.g. "
        "'design-arena models/svg' or 'openrouter gpqa_diamond'",
    )
    asked.add_argument(
        "--max-price",
        type=_amount,
        metavar="USD",
        help="at most this many USD per million tokens (blended 3:1 input:output); "
        "applies to Artificial Analysis and Design Arena, whose prices are per token",
    )
    asked.add_argument(
        "--max-cost-per-task",
        type=_amount,
        metavar="USD",
        help="at most this many USD per task; applies to OpenRouter's evals",
    )
    asked.add_argument(
        "--top", type=_positive_int, metavar="N", help="the first N of each ranking (default 5)"
    )
    asked.add_argument(
        "--frontier",
        action="store_true",
        help="each ranking's Pareto frontier (no model both cheaper and better), cheapest first",
    )
    leaders = _command(
        commands,
        "leaders",
        summary="the leader of every Design Arena arena and category",
        description="Show the #1 of every Design Arena arena and category (ties all shown).\n\n"
        + answered,
        examples=("openrouter-bench leaders", "openrouter-bench leaders --format csv"),
    )
    for command in (model, compare, best, leaders):
        output = command.add_argument_group("output")
        output.add_argument(
            "--format",
            choices=FORMATS,
            default="table",
            help="table for people; json: the answer with its citations and gaps; csv, "
            "ndjson: a row per standing, each with its as_of and citation (default table)",
        )
        _add_client_options(command)


def _task_checked(task: str) -> str:
    """--task, refused before any request when it can be neither a task type nor a ranking."""
    if task in {member.value for member in TaskType}:
        return task
    if task.partition(" ")[0] in {member.value for member in Source} and task.partition(" ")[2]:
        return task  # a ranking's name; the catalog says whether it has one
    close = difflib.get_close_matches(task, [member.value for member in TaskType], n=1)
    hint = f"did you mean {close[0]}? " if close else ""
    raise InvalidQueryError(
        f"--task {task!r} is neither a task type nor a ranking; {hint}task types: "
        f"{_known(TaskType)}; a ranking is named 'SOURCE NAME', e.g. 'design-arena models/svg'",
        parameter="task",
    )


async def _catalog(args: argparse.Namespace) -> Catalog:
    """The whole data set, through the command's cache and quota; one line on what it cost."""
    async with _open_client(args) as client:
        catalog = await Catalog.load(client, refresh=args.refresh)
        stats = client.stats
    failed = [part for part in catalog.parts if part.failed]
    if failed and len(failed) == len(catalog.parts) and failed[0].error is not None:
        raise failed[0].error  # nothing to answer from: the failure is the answer
    args.err.write(
        f"data set: {len(catalog.parts) - len(failed)} of {plural(len(catalog.parts), 'part')}; "
        f"{plural(stats.requests, 'request')} sent, {plural(stats.hits, 'cache hit')}\n"
    )
    return catalog


def _answer_style(args: argparse.Namespace, out: TextIO) -> AnswerStyle:
    columns = terminal_columns(out) if args.format == "table" else None
    return AnswerStyle(args.format, Palette.for_stream(out), columns)


def _answered(args: argparse.Namespace, out: TextIO, text: str, answer: Any) -> int:
    out.write(text)
    if args.format != "table":  # a table says it in its footer
        for line in answer_warnings(answer):
            args.err.write(f"openrouter-bench: warning: {line}\n")
    return _EXIT_OK


async def _model(args: argparse.Namespace, out: TextIO) -> int:
    catalog = await _catalog(args)
    report = catalog.model(" ".join(args.name))
    return _answered(args, out, render_model(report, catalog, _answer_style(args, out)), report)


async def _compare(args: argparse.Namespace, out: TextIO) -> int:
    if not 2 <= len(args.names) <= _MOST_COMPARED:
        raise InvalidQueryError(
            f"compare takes 2 to {_MOST_COMPARED} model names, got {len(args.names)}",
            parameter="names",
        )
    catalog = await _catalog(args)
    comparison = catalog.compare(*args.names)
    text = render_comparison(comparison, catalog, _answer_style(args, out))
    return _answered(args, out, text, comparison)


async def _best(args: argparse.Namespace, out: TextIO) -> int:
    task = _task_checked(args.task)
    if args.frontier and args.top is not None:
        raise InvalidQueryError(
            "--top shortens a list of the best; a frontier is shown whole (cut it with "
            "--max-price or --max-cost-per-task)",
            parameter="top",
        )
    ceilings = {"max_price": args.max_price, "max_cost_per_task": args.max_cost_per_task}
    catalog = await _catalog(args)
    top = args.top or 5
    if args.frontier:
        answers = catalog.frontier(task, **ceilings)
        title = "Pareto frontier of score and price, cheapest first"
    else:
        answers = catalog.best(task, **ceilings, limit=top)
        title = f"top {top}"
    question = {
        "task": task,
        **{name: None if value is None else f"{value:f}" for name, value in ceilings.items()},
        "top": None if args.frontier else top,
        "frontier": args.frontier,
    }
    text = render_rankings(
        answers, catalog, _answer_style(args, out), title=title, question=question
    )
    return _answered(args, out, text, answers)


async def _leaders(args: argparse.Namespace, out: TextIO) -> int:
    catalog = await _catalog(args)
    answers = catalog.leaders()
    return _answered(args, out, render_leaders(answers, catalog, _answer_style(args, out)), answers)


async def _history(args: argparse.Namespace, out: TextIO) -> int:
    from openrouter_bench.history import SnapshotHistory

    query = _query_from(args)
    async with _open_client(args) as client:
        # The current snapshot joins the history (nothing is sent while it is fresh).
        page = await client.get(query, refresh=args.refresh)
        history = await SnapshotHistory.load(client, query)
    if not len(history):
        history = SnapshotHistory(query, [page])  # --no-cache: the snapshot just fetched
    first, last = history.snapshots[0].as_of, history.snapshots[-1].as_of
    args.err.write(
        f"{plural(len(history), 'snapshot')} of {query!r} kept, "
        f"as of {first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} UTC\n"
    )
    palette = Palette.for_stream(out)
    if args.changes is not None:
        old, new = (_snapshot_named(text) for text in args.changes)
        out.write(render_change(history.changes(old, new), args.format, palette=palette))
        return _EXIT_OK
    series = history.standing(args.name)
    if not series:
        raise UnknownModelError(
            f"{history.resolve(args.name)} has no rank in any kept snapshot of {query!r}",
            name=args.name,
        )
    chart = args.format == "table" and is_terminal(out)
    out.write(render_standing(series, args.format, query=query, chart=chart, palette=palette))
    return _EXIT_OK


def _snapshot_named(text: str) -> int | str:
    """A --changes value: a snapshot's number, or an as_of left as text."""
    try:
        return int(text)
    except ValueError:
        return text


_COMMANDS: Final = {
    "get": _get,
    "grid": _grid,
    "watch": _watch,
    "history": _history,
    "cache": _cache_command,
    "quota": _quota_command,
    "fake-server": _fake_server,
    "fake": _fake,
    "demo": _demo,
    "model": _model,
    "compare": _compare,
    "best": _best,
    "leaders": _leaders,
}


# --- logging and main -------------------------------------------------------------------------


def _described(error: OpenRouterBenchError) -> str:
    """An error for a person: with the URL asked for on a 404, and what to fix."""
    if not isinstance(error, NotFoundError) or error.url is None:
        return str(error)
    text = f"{error} (GET {error.url})"
    parts = urlsplit(error.url)
    base = parts.path.removesuffix("/benchmarks")
    if not base.endswith("/api/v1"):
        text += (
            f"; the base URL is usually {parts.scheme}://{parts.netloc}/api/v1, "
            f"not {parts.scheme}://{parts.netloc}{base or '/'}"
        )
    return text


class _LogFormatter(logging.Formatter):
    """``LEVEL logger: message``, warnings yellow and errors red on a terminal."""

    def __init__(self, palette: Palette) -> None:
        super().__init__("%(levelname)s %(name)s: %(message)s")
        self._palette = palette

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        if record.levelno >= logging.ERROR:
            return self._palette.red(text)
        if record.levelno >= logging.WARNING:
            return self._palette.yellow(text)
        return text


def _log_level(args: argparse.Namespace) -> int:
    if getattr(args, "debug", False):
        return logging.DEBUG
    if getattr(args, "verbose", False):
        return logging.INFO
    # Retries and stale serves are the client doing its job; the outcome is what matters.
    return logging.ERROR


def _configure_logging(args: argparse.Namespace, err: TextIO) -> None:
    handler = logging.StreamHandler(err)
    handler.setFormatter(_LogFormatter(Palette.for_stream(err)))
    logging.basicConfig(handlers=[handler], level=_log_level(args), force=True)


def main(
    argv: Sequence[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    """Run the command line; returns the exit code (the console script exits with it)."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    parser = build_parser()
    words = _sort_values_joined(sys.argv[1:] if argv is None else argv)
    try:
        # argparse prints help, --version and usage errors itself: to the streams given.
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            args = parser.parse_args(words)
            _check_output_options(args)
            _check_known_values(args)
    except SystemExit as stop:
        return int(stop.code or 0)
    debug = bool(getattr(args, "debug", False))
    _configure_logging(args, err)
    args.err = err  # for the commands that report progress on stderr
    prefix = Palette.for_stream(err).red(_ERROR_PREFIX)
    try:
        return asyncio.run(_COMMANDS[args.command](args, out))
    except KeyboardInterrupt:
        err.write("interrupted\n")
        return 130
    except OpenRouterBenchError as error:
        if debug:
            traceback.print_exc(file=err)
        err.write(f"{prefix} {_described(error)}\n")
        return _exit_code_for(error)
    except Exception as error:  # noqa: BLE001 - the last line of defence prints one line
        if debug:
            traceback.print_exc(file=err)
        err.write(f"openrouter-bench: unexpected {type(error).__name__}: {error}\n")
        return _EXIT_OTHER


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    run()
