"""The security sweep: a canary key, looked for everywhere it must never be.

A run with every fault of the matrix and the client's whole public surface
(pages of every shape, stale serves, fan-out, snapshot diffs, every error
class) is searched for the key: every repr and str of every object of this
package reachable from what the run returned, and every log record at every
level, formatted with its traceback. Then: every Redis key and value after a
run over Redis (shared quota included), every file and row of the CLI's
persistent store and the output of every command, with ``--debug`` and
failures. Transport: the key is never sent in clear text off the machine,
nor to a host a redirect names, nor to a server whose certificate does not
verify; and no option of the client turns verification off.
"""

from __future__ import annotations

import asyncio
import enum
import inspect
import io
import logging
import os
import shutil
import sqlite3
import ssl
import subprocess
import sys
import traceback
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator
from pathlib import Path
from typing import Any, Final

import aiohttp
import attrs
import pytest
import redis.asyncio as aioredis
from aiohttp import web

import openrouter_bench
from benchmarks.fault_matrix import FAULT_MATRIX, UNLIMITED, run_case
from benchmarks.soak import redis_sweep
from openrouter_bench import (
    AmbiguousModelError,
    BenchmarksClient,
    Catalog,
    ClientClosedError,
    ConfigurationError,
    InvalidQueryError,
    MissingDependencyError,
    Page,
    Query,
    QuotaExhaustedError,
    QuotaPolicy,
    ResponseFormatError,
    RetryBudget,
    RetryPolicy,
    ServerError,
    SnapshotHistory,
    SyncBenchmarksClient,
    TaskType,
    TransportError,
    UnknownModelError,
    WrongEventLoopError,
    diff_snapshots,
    rows_of,
)
from openrouter_bench._convert import decode_page
from openrouter_bench.cli import main
from openrouter_bench.fake import FakeOpenRouter, FakeTime, free_port
from tests.conftest import CANARY_KEY, Recorder, redis_url_or_skip

# The distinctive tail too: a leak may cut a key short.
SECRETS: Final = (CANARY_KEY, CANARY_KEY[-20:])
NO_WAIT: Final = RetryPolicy.no_wait(attempts=3)
ROOT: Final = Path(__file__).resolve().parent.parent


def _leaks(texts: Iterable[str]) -> list[str]:
    return [text for text in texts if any(secret in text for secret in SECRETS)]


# --- every object and every log record of a run with faults -----------------------------------


def _ours(value: object) -> bool:
    """True for instances of this package's classes, and of subclasses of them (hooks)."""
    return any(cls.__module__.startswith("openrouter_bench") for cls in type(value).__mro__)


def _inside(value: object) -> Iterator[object]:
    """What an object holds: attrs fields, instance attributes, slots, container members."""
    if isinstance(value, dict):
        yield from value.keys()
        yield from value.values()
        return
    if isinstance(value, list | tuple | set | frozenset):
        yield from value
        return
    if not _ours(value) and not isinstance(value, BaseException):
        return
    if attrs.has(type(value)):
        for field in attrs.fields(type(value)):  # type: ignore[arg-type]  # has() checked it
            yield getattr(value, field.name, None)
    yield from getattr(value, "__dict__", {}).values()
    for cls in type(value).__mro__:
        slots = getattr(cls, "__slots__", ())
        for name in (slots,) if isinstance(slots, str) else slots:
            if hasattr(value, name):
                yield getattr(value, name)
    if isinstance(value, BaseException):
        yield from value.args
        yield value.__cause__
        yield value.__context__


def _reachable(roots: Iterable[object]) -> list[object]:
    """Every object of this package reachable from ``roots``, each once."""
    seen: set[int] = set()
    found: list[object] = []
    todo = list(roots)
    while todo:
        value = todo.pop()
        if value is None or id(value) in seen or isinstance(value, str | bytes | int | float):
            continue
        seen.add(id(value))
        if _ours(value) or isinstance(value, BaseException):
            found.append(value)
        todo.extend(_inside(value))
    return found


def _texts_of(value: object) -> list[str]:
    texts = [repr(value), str(value)]
    if isinstance(value, BaseException):
        texts.append(repr(vars(value)))
        texts.append("".join(traceback.format_exception(value)))
    for method in ("describe", "to_json"):
        produce = getattr(value, method, None)
        if callable(produce) and not inspect.iscoroutinefunction(produce):
            try:
                texts.append(str(produce()))
            except TypeError:
                continue  # a method of that name that needs arguments: not a report
    return texts


class _Records(logging.Handler):
    """Every log record, at every level, of every logger."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@attrs.frozen
class _Sweep:
    objects: list[object]
    records: list[logging.LogRecord]


async def _surface(fake: FakeOpenRouter, clock: FakeTime) -> list[object]:
    """Use every public feature once, with the canary key; return what came back."""
    heard = Recorder()
    got: list[object] = [heard]
    client = BenchmarksClient(
        CANARY_KEY,
        base_url=fake.url,
        cache="memory",
        ttl=60,
        retry=NO_WAIT,
        clock=clock.time,
        hooks=heard,
        **UNLIMITED,
    )
    got += [client, client.request_for(Query())]
    async with client:
        for params in (
            {"source": "artificial-analysis", "max_results": 3},
            {"source": "design-arena", "category": "svg", "max_results": 3},
            {"source": "openrouter", "benchmark_type": "gpqa_diamond", "max_results": 3},
            {"task_type": "search", "include_run_config": True, "max_results": 3},
            {"max_results": 8},
        ):
            got.append(await client.get(**params))
        old = await client.get(source="artificial-analysis", max_results=3)
        fake.publish()
        new = await client.get(source="artificial-analysis", max_results=3, refresh=True)
        got.append(diff_snapshots(old, new))
        clock.advance(61)
        fake.script(*[503] * NO_WAIT.attempts)
        stale = await client.get(source="artificial-analysis", max_results=3)
        assert stale.stale
        got += [stale, await client.history(source="artificial-analysis", max_results=3)]
        history = await SnapshotHistory.load(client, source="artificial-analysis", max_results=3)
        series = history.standing(str(new.items[0].model_permaslug))
        got += [history, *series, *series[0].points]
        fake.script(401)
        got.append(await client.fan_out([Query(source="openrouter"), Query(max_results=2)]))
        catalog = await Catalog.load(client)
        first, second = catalog.models[:2]
        got += [catalog, *catalog.parts, catalog.model(first), catalog.compare(first, second)]
        got += [catalog.best(TaskType.CODING, max_price=2), catalog.frontier(TaskType.SEARCH)]
        got += [*catalog.rows()[:20], *rows_of(stale)]
        # Raised only where pandas is missing (tests/test_frames.py); built as to_pandas does.
        got.append(MissingDependencyError("needs pandas", name="pandas", extra="pandas"))
        try:
            catalog.resolve(first + " typo")
        except UnknownModelError as error:
            got.append(error)
        # The fake's names are all distinct; this one is built as resolve builds it.
        got.append(AmbiguousModelError("two", name="b", candidates=(first, second)))
        got += [client.stats, client.cache.stats, client.cache]
    try:
        await client.get()
    except ClientClosedError as error:
        got.append(error)
    try:
        Query(max_results=0)
    except InvalidQueryError as error:
        got.append(error)
    for key, base_url in ((CANARY_KEY, "http://example.com/api/v1"), (CANARY_KEY + "\n", None)):
        try:
            BenchmarksClient(key, base_url=base_url)
        except ConfigurationError as error:
            got.append(error)
    async with BenchmarksClient(
        CANARY_KEY, base_url=fake.url, cache=None, quota=QuotaPolicy(per_day=1, per_minute=None)
    ) as limited:
        await limited.get()
        try:
            await limited.get(source="openrouter")
        except QuotaExhaustedError as error:
            got += [error, limited.quota]
        got.append(await limited.quota_status())
    async with BenchmarksClient(
        CANARY_KEY,
        base_url=fake.url,
        cache=None,
        quota=QuotaPolicy(per_minute=1, per_day=None),
        hooks=heard,
        timer=clock.monotonic,
        sleep=clock.sleep,
    ) as paced:
        await paced.get(source="openrouter")
        await paced.get(source="design-arena")  # waits for the next slot: a WaitStarted
    async with BenchmarksClient(CANARY_KEY, base_url=fake.url, **UNLIMITED) as home:
        await home.get(source="openrouter", max_results=2)
        # Synchronous code runs in a thread; the fake keeps serving on this loop meanwhile.
        got += await asyncio.to_thread(_from_sync_code, fake.url, home)
    try:
        decode_page(b'{"data": [{"source": "next-source", "x": 1}], "meta": null}', **_page_args())
    except ResponseFormatError as error:
        got.append(error)
    unknown = decode_page(
        b'{"data": [{"source": "next-source", "model_permaslug": "a/b"}], "meta": '
        b'{"as_of": "2026-06-03T12:00:00Z", "version": "v1", "source": null, "source_url": null,'
        b' "citation": null, "model_count": 1, "task_type": null}}',
        **_page_args(),
    )
    budget = RetryBudget()
    account = budget.account()
    account.can_retry(ServerError("x", status=503))
    got += [unknown, budget, account, fake, *fake.requests, NO_WAIT]
    return got


def _from_sync_code(url: str, home: BenchmarksClient) -> list[object]:
    """The synchronous facade, and the async client used from another loop, off this loop."""
    got: list[object] = []
    with SyncBenchmarksClient(CANARY_KEY, base_url=url, **UNLIMITED) as client:
        got += [client, client.get(source="design-arena", max_results=2), client.quota_status()]
    try:
        asyncio.run(home.get(source="openrouter", max_results=2))
    except WrongEventLoopError as error:
        got.append(error)
    return got


def _page_args() -> dict[str, Any]:
    from datetime import UTC, datetime

    return {"query": Query(), "fetched_at": datetime(2026, 6, 3, tzinfo=UTC)}


@pytest.fixture(scope="module")
def sweep() -> _Sweep:
    """A run through every fault of the matrix and every public feature, logged at DEBUG."""
    handler = _Records()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)

    async def run() -> list[object]:
        got: list[object] = [(await run_case(case, key=CANARY_KEY)).got for case in FAULT_MATRIX]
        clock = FakeTime()
        async with FakeOpenRouter(seed=3, per_minute=None, per_day=None) as fake:
            got += await _surface(fake, clock)
        return got

    try:
        roots = asyncio.run(run())
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    return _Sweep(objects=_reachable(roots), records=handler.records)


def test_no_repr_or_str_of_any_object_or_error_shows_the_key(sweep: _Sweep) -> None:
    """Every object of this package reachable from the run, and every error, hides the key."""
    texts = [text for value in sweep.objects for text in _texts_of(value)]
    assert len(texts) > 1000
    assert _leaks(texts) == []


def test_the_sweep_met_every_public_class(sweep: _Sweep) -> None:
    """Each class the package exports had at least one instance in the sweep."""
    missing = []
    for name in openrouter_bench.__all__:
        exported = getattr(openrouter_bench, name)
        if not isinstance(exported, type) or issubclass(exported, enum.Enum):
            continue
        if not any(isinstance(value, exported) for value in sweep.objects):
            missing.append(name)
    assert missing == [], "add a use of these to _surface() in tests/test_security.py"


def test_no_log_record_at_any_level_shows_the_key(sweep: _Sweep) -> None:
    """Every record of every logger, DEBUG up, formatted with its traceback, hides the key."""
    formatter = logging.Formatter("%(levelname)s %(name)s %(message)s")
    texts = []
    for record in sweep.records:
        texts += [formatter.format(record), repr(record.args), repr(vars(record))]
        if record.exc_info:
            texts.append(formatter.formatException(record.exc_info))
    levels = {record.levelname for record in sweep.records}
    assert {"DEBUG", "WARNING"} <= levels
    assert len(sweep.records) > 50
    assert _leaks(texts) == []


# --- Redis ----------------------------------------------------------------------------------------


@pytest.mark.redis
async def test_no_redis_key_or_value_holds_the_key(fake: FakeOpenRouter) -> None:
    """After gets, leases, a stale serve and a quota shared on Redis: no key or value has it."""
    url = redis_url_or_skip()
    clock = FakeTime()
    scope = f"security-sweep-{uuid.uuid4().hex[:8]}"
    control = aioredis.Redis.from_url(url)
    try:
        async with BenchmarksClient(
            CANARY_KEY,
            base_url=fake.url,
            cache=url,
            ttl=60,
            retry=NO_WAIT,
            clock=clock.time,
            quota=QuotaPolicy(per_minute=None, scope=scope),
        ) as client:
            assert client.quota.shared
            queries = [Query(source="artificial-analysis"), Query(source="design-arena"), Query()]
            for query in queries:
                await client.get(query)
            clock.advance(61)
            fake.script(*[503] * NO_WAIT.attempts)
            assert (await client.get(queries[0])).stale
            keys, entries, hits = await redis_sweep(url, CANARY_KEY)
            tail_hits = (await redis_sweep(url, CANARY_KEY[-20:]))[2]
            quota_keys = [key async for key in control.scan_iter(match=f"*|{scope}}}*")]
            await client.cache.clear()
    finally:
        leftovers = [key async for key in control.scan_iter(match=f"*|{scope}}}*")]
        if leftovers:
            await control.delete(*leftovers)
        await control.aclose()
    assert quota_keys
    assert keys >= 4
    assert entries >= keys
    assert (hits, tail_hits) == (0, 0)


# --- the command line ----------------------------------------------------------------------------


@attrs.frozen
class _Run:
    code: int
    out: str
    err: str


@pytest.fixture
def command(
    openrouter_fake: FakeOpenRouter, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[Any]:
    """Runs the command line in-process with the canary key; every stream is checked."""
    monkeypatch.setenv("OPENROUTER_API_KEY", CANARY_KEY)
    monkeypatch.setenv("OPENROUTER_BASE_URL", openrouter_fake.url)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level

    def run(*argv: str) -> _Run:
        out, err = io.StringIO(), io.StringIO()
        code = main(list(argv), stdout=out, stderr=err)
        result = _Run(code, out.getvalue(), err.getvalue())
        assert _leaks([result.out, result.err]) == [], argv
        return result

    yield run
    root.handlers[:] = handlers
    root.setLevel(level)


def test_no_file_or_row_of_the_cli_store_holds_the_key(
    command: Any, openrouter_fake: FakeOpenRouter, tmp_path: Path
) -> None:
    """After gets, a stale serve and failures, with --debug: no byte of the store has the key."""
    for fmt in ("table", "json", "csv", "ndjson"):
        assert command("get", "--source", "design-arena", "--format", fmt, "--debug").code == 0
    assert command("get", "--source", "openrouter", "--max-results", "3").code == 0
    openrouter_fake.script(503, 503)
    stale = command(
        "get",
        "--source",
        "openrouter",
        "--max-results",
        "3",
        "--refresh",
        "--retries",
        "1",
        "--debug",
    )
    assert stale.code == 0
    assert "stale" in stale.err
    openrouter_fake.script(401)
    assert command("get", "--task-type", "search", "--debug").code == 3
    assert command("cache", "stats", "--debug").code == 0
    files = [path for path in (tmp_path / "xdg").rglob("*") if path.is_file()]
    assert any(path.suffix == ".sqlite3" for path in files)
    assert [path for path in files if any(s.encode() in path.read_bytes() for s in SECRETS)] == []
    # The quota ledger beside it holds random tokens and times only; the bytes check covers it.
    store = next(path for path in files if path.name == "snapshots.sqlite3")
    with sqlite3.connect(store) as db:
        rows = db.execute("SELECT key, value FROM entries").fetchall()
    db.close()
    assert len(rows) >= 4
    assert _leaks(f"{key} {bytes(value)!r}" for key, value in rows) == []
    assert command("cache", "clear", "--debug").code == 0
    assert command("cache", "path").code == 0


def test_no_other_command_shows_the_key(command: Any) -> None:
    """demo, usage errors, a refused base URL and --help show nothing of the key."""
    assert command("demo", "--debug").code == 0
    assert command("get", "--max-results", "0", "--debug").code == 2
    refused = command("get", "--base-url", "http://example.com/api/v1", "--debug")
    assert refused.code == 2
    assert "plain http" in refused.err
    assert command("get", "--frobnicate").code == 2
    assert command("--help").code == 0


def test_the_fake_server_command_never_logs_the_key(tmp_path: Path) -> None:
    """fake-server --debug logs each request it serves, and never the bearer key it was sent."""
    process = subprocess.Popen(  # a fixed argv, no shell
        [sys.executable, "-m", "openrouter_bench", "fake-server", "--debug"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "XDG_CACHE_HOME": str(tmp_path)},
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        request = urllib.request.Request(  # noqa: S310  # the loopback URL the fake printed
            url + "/benchmarks?max_results=1", headers={"Authorization": f"Bearer {CANARY_KEY}"}
        )
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310  # loopback
            assert answer.status == 200
    finally:
        process.terminate()
        out, err = process.communicate(timeout=30)
    assert "max_results=1" in err  # the request was logged, so the log was looked at
    assert _leaks([out, err]) == []


# --- transport: clear text, redirects, TLS ----------------------------------------------------


@pytest.mark.parametrize(
    "base_url",
    [
        "http://example.com/api/v1",
        "HTTP://Example.COM/api/v1",
        "http://10.0.0.1/api/v1",
        "http://127.0.0.1.example.com/api/v1",
        "http://localhost.example.com/api/v1",
        "http://[2001:db8::1]/api/v1",
    ],
)
def test_plain_http_off_the_machine_is_refused_before_anything_is_sent(
    base_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Clear text to a host that is not loopback is refused, by argument or by environment."""
    with pytest.raises(ConfigurationError, match="plain http") as by_argument:
        BenchmarksClient(CANARY_KEY, base_url=base_url)
    monkeypatch.setenv("OPENROUTER_BASE_URL", base_url)
    with pytest.raises(ConfigurationError, match="plain http") as by_environment:
        BenchmarksClient(CANARY_KEY)
    assert _leaks([str(by_argument.value), str(by_environment.value)]) == []


@pytest.fixture
async def redirect_target() -> AsyncIterator[tuple[int, list[bytes]]]:
    """A listener on 127.0.0.2 (a loopback address the client is not pointed at), recording."""
    received: list[bytes] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.append(await reader.read(65536))
        writer.close()

    port = free_port()
    try:
        server = await asyncio.start_server(accept, "127.0.0.2", port)
    except OSError:
        pytest.skip("127.0.0.2 cannot be bound here")
    yield port, received
    server.close()
    await server.wait_closed()


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("own_session", [False, True])
async def test_a_redirect_never_takes_the_key_anywhere(
    redirect_target: tuple[int, list[bytes]], status: int, own_session: bool
) -> None:
    """Any redirect is an error and its target gets no connection, whoever owns the session."""
    port, received = redirect_target

    async def redirect(request: web.Request) -> web.Response:
        return web.Response(
            status=status, headers={"Location": f"http://127.0.0.2:{port}{request.path_qs}"}
        )

    app = web.Application()
    app.router.add_get("/api/v1/benchmarks", redirect)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, server_port = runner.addresses[0][:2]
    session = aiohttp.ClientSession() if own_session else None
    try:
        async with BenchmarksClient(
            CANARY_KEY,
            base_url=f"http://{host}:{server_port}/api/v1",
            cache=None,
            session=session,
            **UNLIMITED,
        ) as client:
            with pytest.raises(ResponseFormatError, match="redirect") as caught:
                await client.get()
    finally:
        if session is not None:
            await session.close()
        await runner.cleanup()
    assert caught.value.attempts == 1
    assert received == []


def _self_signed(directory: Path) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed to make a certificate")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(  # noqa: S603  # a fixed argv, no shell
        [
            openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    return cert, key


async def test_a_server_whose_certificate_does_not_verify_gets_no_request(tmp_path: Path) -> None:
    """An untrusted certificate fails the TLS handshake: the server never sees a request."""
    cert, key = _self_signed(tmp_path)
    served: list[str | None] = []
    document = FakeOpenRouter(seed=2).payload({"max_results": "2"})

    async def benchmarks(request: web.Request) -> web.Response:
        served.append(request.headers.get("Authorization"))
        return web.json_response(document)

    app = web.Application()
    app.router.add_get("/api/v1/benchmarks", benchmarks)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    host, port = runner.addresses[0][:2]
    base_url = f"https://{host}:{port}/api/v1"
    try:
        async with BenchmarksClient(
            CANARY_KEY, base_url=base_url, cache=None, retry=NO_WAIT, **UNLIMITED
        ) as client:
            with pytest.raises(TransportError, match=r"(?i)certificate") as caught:
                await client.get(max_results=2)
        assert served == []
        assert _leaks([repr(caught.value), str(caught.value)]) == []
        # The control: with the certificate trusted, the same server answers.
        trusting = aiohttp.TCPConnector(ssl=ssl.create_default_context(cafile=str(cert)))
        async with (
            aiohttp.ClientSession(connector=trusting) as session,
            BenchmarksClient(
                CANARY_KEY, base_url=base_url, cache=None, session=session, **UNLIMITED
            ) as client,
        ):
            page = await client.get(max_results=2)
    finally:
        await runner.cleanup()
    assert isinstance(page, Page)
    assert served == [f"Bearer {CANARY_KEY}"]


def test_verification_goes_off_only_by_an_explicit_warned_option(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Verification is on by default; the one option that turns it off must be named and warns."""
    parameters = inspect.signature(BenchmarksClient).parameters
    about_tls = {
        name
        for name in parameters
        if any(part in name.lower() for part in ("ssl", "tls", "verify", "cert", "ca_"))
    }
    assert about_tls <= {"verify_tls"}
    caplog.set_level(logging.WARNING)
    BenchmarksClient(CANARY_KEY, base_url="https://api.example.com/api/v1", cache=None)
    assert caplog.records == []
    if about_tls:
        assert parameters["verify_tls"].default is True
        assert parameters["verify_tls"].kind is inspect.Parameter.KEYWORD_ONLY
        BenchmarksClient(
            CANARY_KEY, base_url="https://api.example.com/api/v1", cache=None, verify_tls=False
        )
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1
        assert "verification" in warnings[0]
        assert "api.example.com" in warnings[0]
        assert _leaks(warnings) == []


def test_the_key_is_never_put_in_the_url() -> None:
    """The key travels in the Authorization header only: not in the URL, params or the repr."""
    client = BenchmarksClient(CANARY_KEY, base_url="https://api.example.com/api/v1", cache=None)
    request = client.request_for(Query(source="design-arena", category="svg"))
    assert request.headers["Authorization"] == f"Bearer {CANARY_KEY}"
    assert _leaks([request.url, repr(request.params), repr(request), repr(client)]) == []
    assert request.url.startswith("https://")
