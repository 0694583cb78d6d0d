"""The chaos soak: many calls through faults and a Redis restart, and every figure that matters.

    python -m benchmarks.soak                      # 10,000 calls; prints the figures
    python -m benchmarks.soak --calls 2000 --json  # what CI runs (tests/e2e/test_soak.py)
    python -m benchmarks.soak --write-docs         # also the fault matrix: docs/reliability.md

Run from the repository root; everything stays on loopback. A fake server
(in the same event loop) fails a ``--chaos`` share of requests with a random transient
fault; a private ``redis-server`` holds the client's cache and is killed
halfway through, then started again. ``--concurrency`` calls run at once,
each a random query of :data:`GRID`. A virtual wall clock moves a third of the
cache ttl every ``--concurrency`` calls, so pointers keep expiring; the fake
publishes a new snapshot at each quarter of the run.

Every call is bounded (``deadline`` + a grace) so a hang is counted, not
waited on. Every page is compared with the fake's data for the page's own
``as_of``. Every log record (all levels), every page and error repr, and
every Redis key and value is searched for the client's canary key. The
command exits 1 if any invariant breaks: a hang, wrong data, an untyped
error, a canary, a call past its deadline, or a task or connection left
behind.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import inspect
import json
import logging
import random
import resource
import shutil
import sys
import time
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

import attrs
import psutil  # type: ignore[import-untyped]  # ships no type hints
import redis.asyncio as aioredis

from benchmarks.hostile import section_in, with_section
from openrouter_bench import (
    ALL,
    KNOWN_CATEGORIES,
    BenchmarksClient,
    OpenRouterBenchError,
    Page,
    Query,
    RetryPolicy,
    TaskType,
)
from openrouter_bench._budget import RetryBudget
from openrouter_bench._convert import unstructure_page
from openrouter_bench.fake import TRANSIENT_FAULTS, FakeOpenRouter, RedisServer
from openrouter_bench.fake.faults import FaultSpec

ROOT: Final = Path(__file__).resolve().parent.parent
DOCS: Final = ROOT / "docs" / "reliability.md"

#: The soak's API key; finding it anywhere it should not be fails the run.
CANARY: Final = "sk-or-v1-soak-canary-7e41b9d2c05f83a6"

#: What the fake draws from: the default transient faults, a cut chunked body, two stalls
#: past the client's timeout, and a 429 without Retry-After (one with it would pause the
#: whole client for real seconds; the fault matrix covers that).
SOAK_FAULTS: Final[tuple[FaultSpec, ...]] = (
    *TRANSIENT_FAULTS,
    "reset_mid_body",
    {"fault": "timeout", "delay": 1.0},
    {"fault": "slow_body", "delay": 1.0},
    429,
)

GRID: Final[tuple[Query, ...]] = (
    Query(max_results=40),
    *Query.grid(source=["artificial-analysis", "openrouter"], task_type=[None, *TaskType]),
    *Query.grid(source="design-arena", arena=ALL, category=[None, *KNOWN_CATEGORIES]),
    *Query.grid(source="openrouter", benchmark_type=ALL),
)

TTL: Final = 600.0
HANG_GRACE: Final = 5.0


@attrs.frozen
class SoakConfig:
    """How big and how hostile a soak is."""

    calls: int = 10_000
    concurrency: int = 32
    chaos: float = 0.2
    seed: int = 1
    attempts: int = 3
    timeout: float = 0.5
    deadline: float = 10.0


@attrs.frozen
class SoakReport:
    """The figures of one soak; :meth:`problems` lists the invariants it broke."""

    calls: int
    seconds: float
    pages: int
    from_a_fetch: int
    coalesced: int
    cache_hits: int
    stale_serves: int
    errors_by_kind: dict[str, int]
    untyped_errors: dict[str, int]
    hangs: int
    wrong_data: int
    max_call_seconds: float
    deadline: float
    requests_seen: int
    faults_injected: int
    snapshots_published: int
    client_retries: int
    cache_backend_errors: int
    redis_killed_after_call: int
    redis_down_calls: int
    redis_keys_at_end: int
    retry_budget_denied: int | None
    tasks_left: int
    connections_left: int
    peak_rss_mib: float
    log_records: dict[str, int]
    reprs_checked: int
    redis_entries_checked: int
    canary_hits: int

    def problems(self) -> list[str]:
        """Every invariant this run broke; empty when all held."""
        found = []
        if self.hangs:
            found.append(f"{self.hangs} calls hung past deadline + {HANG_GRACE:g} s")
        if self.wrong_data:
            found.append(f"{self.wrong_data} pages differ from the server's data for their as_of")
        if self.untyped_errors:
            found.append(f"untyped errors reached callers: {self.untyped_errors}")
        if self.canary_hits:
            found.append(f"the API key showed up {self.canary_hits} times")
        if self.max_call_seconds > self.deadline:
            found.append(f"a call took {self.max_call_seconds:.2f} s, past the deadline")
        if self.tasks_left:
            found.append(f"{self.tasks_left} tasks left running after close")
        if self.connections_left:
            found.append(f"{self.connections_left} connections left open after close")
        if self.redis_keys_at_end == 0:
            found.append("the cache never came back after the Redis restart")
        if (
            self.pages
            + sum(self.errors_by_kind.values())
            + self.hangs
            + sum(self.untyped_errors.values())
            != self.calls
        ):
            found.append("some calls are not accounted for")
        return found

    def to_json(self) -> dict[str, Any]:
        """The figures as a JSON object."""
        return {**attrs.asdict(self), "problems": self.problems()}


class _CanaryWatch(logging.Handler):
    """Counts every log record by level and every one whose text holds the canary."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.levels: Counter[str] = Counter()
        self.hits = 0
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.levels[record.levelname] += 1
        if CANARY in self.format(record):
            self.hits += 1


class _Tally:
    """What the calls did, counted as they finish."""

    def __init__(self) -> None:
        self.pages = 0
        self.fresh = 0
        self.hits = 0
        self.stale = 0
        self.errors: Counter[str] = Counter()
        self.untyped: Counter[str] = Counter()
        self.hangs = 0
        self.wrong = 0
        self.max_seconds = 0.0
        self.reprs = 0
        self.canary_hits = 0

    def seen(self, text: str) -> None:
        self.reprs += 1
        if CANARY in text:
            self.canary_hits += 1


class _Soak:
    """One soak run: the fake, the private Redis, the client, and the call loop."""

    def __init__(
        self,
        config: SoakConfig,
        fake: FakeOpenRouter,
        redis_server: RedisServer,
        budget: RetryBudget,
    ) -> None:
        self.config = config
        self.fake = fake
        self.rng = random.Random(config.seed)
        self.now = 1_780_000_000.0
        self.tally = _Tally()
        self.expected: dict[tuple[datetime, str], dict[str, Any]] = {}
        self.done = 0
        self.publish_every = max(1, config.calls // 4)
        self.published = 0
        self.client = BenchmarksClient(
            CANARY,
            base_url=fake.url,
            cache=redis_server.url,
            ttl=TTL,
            retry=RetryPolicy(
                attempts=config.attempts,
                initial_wait=0.01,
                max_wait=0.1,
                deadline=config.deadline,
            ),
            timeout=config.timeout,
            clock=self.clock,
            **_optional(quota=None, retry_budget=budget),
        )

    def clock(self) -> float:
        return self.now

    async def run_calls(self, count: int) -> None:
        """``count`` calls, ``concurrency`` at a time."""
        next_call = iter(range(count))

        async def worker() -> None:
            for _ in next_call:
                await self.one_call()
                self.done += 1
                if self.done % self.config.concurrency == 0:
                    self.now += TTL / 3
                if self.done % self.publish_every == 0 and self.published < 3:
                    self.published += 1
                    self.fake.publish()

        await asyncio.gather(*(worker() for _ in range(self.config.concurrency)))

    async def one_call(self) -> None:
        tally = self.tally
        query = GRID[self.rng.randrange(len(GRID))]
        started = time.perf_counter()
        try:
            page = await asyncio.wait_for(
                self.client.get(query), timeout=self.config.deadline + HANG_GRACE
            )
        except OpenRouterBenchError as error:
            tally.errors[type(error).__name__] += 1
            tally.seen(f"{error!r} {error}")
        except TimeoutError:
            tally.hangs += 1
        except Exception as error:  # noqa: BLE001  # counted: no other kind may reach a caller
            tally.untyped[type(error).__name__] += 1
        else:
            self.check(query, page)
        tally.max_seconds = max(tally.max_seconds, time.perf_counter() - started)

    def check(self, query: Query, page: Page) -> None:
        tally = self.tally
        tally.pages += 1
        if page.stale:
            tally.stale += 1
        elif page.from_cache:
            tally.hits += 1
        else:
            tally.fresh += 1
        key = (page.as_of, query.key)
        expected = self.expected.get(key)
        if expected is None:
            expected = self.expected[key] = self.fake.payload_at(page.as_of, query.params)
        if page.query != query or unstructure_page(page) != expected:
            tally.wrong += 1
        tally.seen(repr(page))


_ACCEPTED: Final = frozenset(inspect.signature(BenchmarksClient).parameters)
#: True once the client takes a retry budget (``retry_budget=``).
BUDGET_WIRED: Final = "retry_budget" in _ACCEPTED


def _optional(**options: Any) -> dict[str, Any]:
    """The options this version of the client accepts (quota, retry budget)."""
    return {name: value for name, value in options.items() if name in _ACCEPTED}


async def redis_sweep(url: str, secret: str) -> tuple[int, int, int]:
    """Every key and value in a Redis database, searched: (keys, entries, entries with ``secret``).

    Strings, hashes, lists, sets and sorted sets are read whole; an entry is a
    key, a value, a field or a member.
    """
    # decode_responses: every key, field and member comes back as text (bytes as latin-1).
    client = aioredis.Redis.from_url(url, decode_responses=True, encoding="latin-1")
    keys = entries = hits = 0
    try:
        async for key in client.scan_iter(count=1000):
            keys += 1
            kind = await client.type(key)
            values: list[Any] = [key]  # all str (decode_responses); the stubs say bytes | str
            if kind == "string":
                values.append(await client.get(key) or "")
            elif kind == "hash":
                for field, value in (await client.hgetall(key)).items():
                    values += [field, value]
            elif kind == "zset":
                values += await client.zrange(key, 0, -1)
            elif kind == "list":
                values += await client.lrange(key, 0, -1)
            elif kind == "set":
                values += list(await client.smembers(key))
            entries += len(values)
            hits += sum(1 for value in values if secret in value)
    finally:
        await client.aclose()
    return keys, entries, hits


def _connections_to(ports: set[int]) -> int:
    """Sockets of this process still connected to one of ``ports``."""
    return sum(
        1
        for connection in psutil.Process().net_connections(kind="tcp")
        if connection.raddr and connection.raddr.port in ports
    )


async def soak(config: SoakConfig) -> SoakReport:
    """Run one soak and measure it."""
    executable = shutil.which("redis-server")
    if executable is None:
        raise SystemExit("the soak needs redis-server on PATH (apt-get install redis-server)")
    watch = _CanaryWatch()
    root = logging.getLogger()
    level = root.level
    root.addHandler(watch)
    root.setLevel(logging.DEBUG)
    redis_server = RedisServer(executable)
    redis_server.start()
    budget = RetryBudget()
    started = time.perf_counter()
    try:
        async with FakeOpenRouter(seed=config.seed, per_minute=None, per_day=None) as fake:
            fake.chaos(config.chaos, SOAK_FAULTS, seed=config.seed)
            run = _Soak(config, fake, redis_server, budget)
            half = config.calls // 2
            down = config.calls // 10
            async with run.client:
                await run.run_calls(half)
                await asyncio.to_thread(redis_server.stop)
                await run.run_calls(down)
                await asyncio.to_thread(redis_server.start)
                await run.run_calls(config.calls - half - down)
                stats = run.client.stats
            seconds = time.perf_counter() - started
            requests = fake.requests
            fake_port = urlsplit(fake.url).port or 0
        for _ in range(10):
            # Let closed transports and cancelled tasks run their last callbacks.
            await asyncio.sleep(0.01)
        tasks_left = len(asyncio.all_tasks()) - 1
        connections_left = _connections_to({fake_port, redis_server.port})
        keys, entries, redis_hits = await redis_sweep(redis_server.url, CANARY)
    finally:
        root.removeHandler(watch)
        root.setLevel(level)
        redis_server.cleanup()
    tally = run.tally
    return SoakReport(
        calls=config.calls,
        seconds=round(seconds, 2),
        pages=tally.pages,
        from_a_fetch=tally.fresh,
        coalesced=stats.coalesced,
        cache_hits=tally.hits,
        stale_serves=tally.stale,
        errors_by_kind=dict(sorted(tally.errors.items())),
        untyped_errors=dict(tally.untyped),
        hangs=tally.hangs,
        wrong_data=tally.wrong,
        max_call_seconds=round(tally.max_seconds, 3),
        deadline=config.deadline,
        requests_seen=len(requests),
        faults_injected=sum(1 for record in requests if record.fault is not None),
        snapshots_published=run.published,
        client_retries=stats.retries,
        cache_backend_errors=stats.cache_errors,
        redis_killed_after_call=half,
        redis_down_calls=down,
        redis_keys_at_end=keys,
        retry_budget_denied=budget.denied if BUDGET_WIRED else None,
        tasks_left=tasks_left,
        connections_left=connections_left,
        peak_rss_mib=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        log_records=dict(sorted(watch.levels.items())),
        reprs_checked=tally.reprs,
        redis_entries_checked=entries,
        canary_hits=tally.canary_hits + watch.hits + redis_hits,
    )


# --- the document ------------------------------------------------------------------------------


def _figures(report: SoakReport, command: str) -> str:
    errors = ", ".join(f"{kind} {count}" for kind, count in report.errors_by_kind.items())
    logs = ", ".join(f"{level} {count}" for level, count in report.log_records.items())
    budget = (
        "not wired into the client yet"
        if report.retry_budget_denied is None
        else f"{report.retry_budget_denied} retries refused"
    )
    rows = [
        ("calls", f"{report.calls:,} in {report.seconds:.1f} s"),
        (
            "pages",
            f"{report.pages:,}: {report.from_a_fetch:,} from a fetch ({report.coalesced:,} "
            f"of them sharing another call's), {report.cache_hits:,} cache hits, "
            f"{report.stale_serves:,} stale serves",
        ),
        ("typed errors by kind", errors or "none"),
        ("untyped errors", str(sum(report.untyped_errors.values()))),
        ("hangs", str(report.hangs)),
        ("wrong data", f"{report.wrong_data} (every page checked against its `as_of`)"),
        (
            "slowest call",
            f"{report.max_call_seconds:.2f} s (deadline {report.deadline:g} s)",
        ),
        (
            "requests the server saw",
            f"{report.requests_seen:,}, {report.faults_injected:,} of them faulted; "
            f"{report.client_retries:,} retries",
        ),
        ("snapshots published during the run", str(report.snapshots_published)),
        (
            "Redis",
            f"killed after call {report.redis_killed_after_call:,}, "
            f"started again {report.redis_down_calls:,} calls later; "
            f"{report.cache_backend_errors} backend errors, "
            f"{report.redis_keys_at_end} keys at the end",
        ),
        ("retry budget", budget),
        ("tasks left after close", str(report.tasks_left)),
        ("connections left after close", str(report.connections_left)),
        ("peak RSS", f"{report.peak_rss_mib:.0f} MiB"),
        ("log records", logs),
        (
            "canary found",
            f"{report.canary_hits} times in {sum(report.log_records.values()):,} log records, "
            f"{report.reprs_checked:,} reprs and {report.redis_entries_checked:,} Redis entries",
        ),
    ]
    lines = [f"Measured with `{command}`:", "", "| | |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in rows]
    return "\n".join(lines) + "\n"


def _test_docstrings(path: Path) -> list[tuple[str, str]]:
    """(test name, first docstring line) of every test function in a test module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith(
            "test_"
        ):
            doc = (ast.get_docstring(node) or "").strip().splitlines()
            found.append((node.name, doc[0] if doc else ""))
    return found


async def _matrix_rows() -> list[tuple[Any, Any]]:
    from benchmarks.fault_matrix import FAULT_MATRIX, observed_matches, run_case

    rows = []
    for case in FAULT_MATRIX:
        observed = await run_case(case)
        problems = observed_matches(case, observed)
        if problems:
            raise SystemExit(f"fault matrix row {case.name} broke: {'; '.join(problems)}")
        rows.append((case, observed))
    return rows


def _listed(module: str) -> str:
    """A bullet per test of ``tests/<module>.py``: its one-line docstring and its name."""
    return "\n".join(
        f"- {doc} (`{name}`)" for name, doc in _test_docstrings(ROOT / "tests" / f"{module}.py")
    )


def _fault_names() -> str:
    names = [str(fault["fault"] if isinstance(fault, dict) else fault) for fault in SOAK_FAULTS]
    return ", ".join(f"`{name}`" for name in names)


TLS_OPTION: Final = (
    "certificate verification goes off only with `verify_tls=False`, which logs a "
    "warning naming the host."
    if "verify_tls" in _ACCEPTED
    else "the client has no option to switch certificate verification off."
)

NOT_WIRED: Final = """

`BenchmarksClient` does not use the budget yet: the module is tested on its
own below, and the test against the client runs as soon as the client takes a
`retry_budget=`."""


def render_document(report: SoakReport, matrix: Sequence[tuple[Any, Any]], command: str) -> str:
    """docs/reliability.md from a soak report and a run of the fault matrix."""
    from benchmarks.fault_matrix import POLICY, SHORT_TIMEOUT, render_matrix

    config = SoakConfig()
    budget = RetryBudget()
    return f"""# Reliability and security

<!-- Generated by `{command}` (benchmarks/soak.py, benchmarks/fault_matrix.py,
     and the docstrings of tests/test_budget.py, properties/test_fuzz.py, test_security.py).
     Do not edit by hand: change those and run the command again. -->

What the client does on a bad day, measured. Everything here runs on loopback
against the bundled fake server (or a stub server, for what the fake cannot
send) and a private `redis-server`.

## Fault matrix

One row per fault, each run against a real server by a client with no cache,
{POLICY.attempts} attempts, no backoff waits (the retry decisions are the
library's; only the waiting is skipped), a {POLICY.deadline:g} s deadline and an
injected clock, so a `Retry-After` of 7 s is obeyed without taking 7 s. Rows
whose fault is a stall use a {SHORT_TIMEOUT:g} s per-attempt timeout.
*Attempts* are the requests the client made; *Requests seen* those the server
received: aiohttp quietly re-sends a GET once after a reset that comes before
the headers (RFC 9112, 9.3.1), so a single reset costs no attempt. *Time* is
the real time plus the waits the server asked for. `tests/e2e/test_fault_matrix.py`
asserts every row on every CI run.

{render_matrix(matrix)}
Never retried: 400, 401, 402, 403, 404, any redirect, and any 200 that is not
a benchmarks document. Retried: connection failures, timeouts, 408, 429, 500,
502, 503 and 504, obeying `Retry-After` in seconds or as an HTTP date; a wait
that would pass the deadline fails at once instead. A 408 that persists
reaches the caller as a plain `APIError` (status 408).

## Chaos soak

{_figures(report, command)}
The set-up: {config.concurrency} calls at a time, each for one of {len(GRID)}
queries drawn at random; {config.chaos:.0%} of requests fail with a fault drawn
from {_fault_names()} (the two stalls outlast the {config.timeout:g} s
per-attempt timeout); {config.attempts} attempts per call with a short jittered
backoff and a {config.deadline:g} s deadline. The cache is Redis; the virtual
clock moves a third of the {TTL:g} s ttl every {config.concurrency} calls, so
pointers keep expiring; the fake publishes a new snapshot at each quarter of the
run; Redis is killed halfway through and started again (empty) a tenth of the
run later. Each call is cut off at its deadline plus {HANG_GRACE:g} s and
counted as a hang if it gets there. CI runs the same command with 2,000 calls
(`tests/e2e/test_soak.py`) and checks each figure.

## Retry budget

Retries carry a call through a blip, but during an outage they multiply the
load. `openrouter_bench.RetryBudget` is a bucket shared by every call of
a client (botocore's standard retry mode works the same way): a retry
withdraws {budget.retry_cost} tokens ({budget.timeout_cost} after a timeout) from
{budget.capacity}; a call that succeeds at once puts {budget.success_refill} back,
one that succeeds after retries repays what it took. A retry the bucket cannot
pay for is not made: the call ends with its error at once. So `n` callers
during an outage send at most `n + {budget.capacity // budget.retry_cost}` requests
instead of `n` times the attempt limit, while random faults that calls get
through cost nothing.{"" if BUDGET_WIRED else NOT_WIRED}

{_listed("test_budget")}

## Fuzzing

With hypothesis (examples drawn deterministically in CI):

{_listed("properties/test_fuzz")}

## Security sweep

The soak above searched every log record at every level, every page and
error repr and every Redis key and value for its canary key (*canary found*).
These run on every CI run:

{_listed("test_security")}

Findings: {TLS_OPTION} A caller who passes their own `aiohttp.ClientSession`
chooses its TLS settings, and the client neither checks nor warns if that
session verifies nothing. `allow_insecure_http=True` (plain `http://` to a host
that is not loopback) is explicit but not warned about. Hosts under
`.localhost` count as loopback for plain `http://`; the resolver decides where
they really are.
"""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the soak (and, with --write-docs, the fault matrix) and report."""
    defaults = SoakConfig()
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.soak",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--calls", type=int, default=defaults.calls)
    parser.add_argument("--concurrency", type=int, default=defaults.concurrency)
    parser.add_argument("--chaos", type=float, default=defaults.chaos)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--write-docs", action="store_true", help=f"also run the fault matrix; write {DOCS}"
    )
    args = parser.parse_args(argv)
    # The retries' warnings are expected here; without a handler, logging would print them all.
    logging.getLogger().addHandler(logging.NullHandler())
    if not 1 <= args.calls <= 100_000 or not 1 <= args.concurrency <= 256:
        parser.error("--calls must be 1..100000 and --concurrency 1..256")
    config = SoakConfig(
        calls=args.calls, concurrency=args.concurrency, chaos=args.chaos, seed=args.seed
    )
    report = asyncio.run(soak(config))
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        command = "python -m benchmarks.soak" + (
            f" --calls {args.calls}" if args.calls != defaults.calls else ""
        )
        print(_figures(report, command))
    if args.write_docs:
        matrix = asyncio.run(_matrix_rows())
        command = "python -m benchmarks.soak --write-docs"
        DOCS.parent.mkdir(exist_ok=True)
        page = render_document(report, matrix, command)
        # The hostile-input section is another command's (benchmarks/hostile.py): keep it.
        kept = section_in(DOCS.read_text(encoding="utf-8")) if DOCS.exists() else None
        DOCS.write_text(page if kept is None else with_section(page, kept), encoding="utf-8")
        print(f"wrote {DOCS.relative_to(ROOT)}", file=sys.stderr)
    for problem in report.problems():
        print(f"soak: {problem}", file=sys.stderr)
    return 1 if report.problems() else 0


if __name__ == "__main__":
    sys.exit(main())
