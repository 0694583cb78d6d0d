"""Only typed errors escape: any value for every parameter of every public constructor and call.

Each test draws arguments of every kind (None, bools, integers of thousands of
digits, NaN and infinities, text with controls and lone surrogates, bytes,
lists, timedeltas, arbitrary objects) mixed with valid ones, and asserts that
what comes back is a value or an :class:`OpenRouterBenchError`: a
``ConfigurationError`` from a constructor, an ``InvalidQueryError`` from a bad
call, or a typed error from the fake server's answer. Anything else fails the
test with the example that raised it. The calls run against one fake server
per module (thread mode), a fresh client per example, with a zero-wait retry
policy and no quota.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, Final

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openrouter_bench import (
    BenchmarksClient,
    CachePolicy,
    ConfigurationError,
    InvalidQueryError,
    OpenRouterBenchError,
    Page,
    Query,
    QuotaPolicy,
    RetryPolicy,
)
from openrouter_bench._budget import RetryBudget
from openrouter_bench.fake import FakeOpenRouter
from openrouter_bench.hooks import ClientHooks
from openrouter_bench.query import ALL, KNOWN_CATEGORIES, Arena, BenchmarkType, Source, TaskType
from openrouter_bench.watch import SnapshotChange
from tests.conftest import CANARY_KEY

from .conftest import Observe

FUZZ: Final = settings(
    max_examples=250,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
#: For examples that talk to the fake server: fewer of them, so the suite stays quick.
FUZZ_IO: Final = settings(FUZZ, max_examples=200)

NO_WAIT: Final = RetryPolicy.no_wait(attempts=2, deadline=10)

PARAMETER_NAMES: Final = (
    "source",
    "task_type",
    "arena",
    "category",
    "max_results",
    "benchmark_type",
    "include_run_config",
    "search_engine",
    "search_surface",
)

_MEMBERS: Final = [*Source, *TaskType, *Arena, *BenchmarkType]


class _Odd:
    """An object of no expected type, with a repr that would flood a message."""

    def __repr__(self) -> str:
        return "odd" * 1_000


# Every kind of value a caller can pass by mistake (or on purpose).
anything: Final = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    # 10**5000 has more digits than str(int) allows by default: the old escape of max_results.
    st.sampled_from([10**5000, -(10**400), 2**63, 2**1024, -1, 0]),
    st.floats(),
    st.sampled_from([float("nan"), float("inf"), -float("inf"), 1e308, 5e-324]),
    st.text(alphabet=st.characters(exclude_categories=()), max_size=12),
    st.sampled_from(["", " ", "x" * 3_000, "a\r\nb", "\x00", "\ud800", "☃", "memory"]),
    st.binary(max_size=8),
    st.lists(st.integers() | st.text(max_size=4), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
    st.timedeltas(),
    st.sampled_from([timedelta.max, timedelta.min, timedelta(0)]),
    st.sampled_from(_MEMBERS),
    st.builds(_Odd),
    st.just(object()),
)


def mostly(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``valid`` three times out of four, else anything.

    (``valid | anything`` would draw from anything's many branches nearly every
    time: hypothesis flattens nested choices into one uniform list.)
    """
    return st.sampled_from([True, True, True, False]).flatmap(
        lambda good: valid if good else anything
    )


def mostly_valid(
    valid: dict[str, st.SearchStrategy[Any]], *, always: tuple[str, ...] = ()
) -> st.SearchStrategy[dict[str, Any]]:
    """Keyword arguments: valid values (each given or left out), then up to two made anything.

    Wholly random arguments are nearly always refused by the first check; this
    way most examples also reach the code behind the checks.
    """

    @st.composite
    def draw_arguments(draw: st.DrawFn) -> dict[str, Any]:
        arguments = draw(
            st.fixed_dictionaries(
                {name: valid[name] for name in always},
                optional={name: value for name, value in valid.items() if name not in always},
            )
        )
        spoiled = draw(st.sampled_from([0, 0, 1, 1, 2]))
        names = st.sampled_from(sorted(valid))
        for name in draw(st.lists(names, min_size=spoiled, max_size=spoiled, unique=True)):
            arguments[name] = draw(anything)
        return arguments

    return draw_arguments()


durations: Final = (
    st.floats(0.001, 3600) | st.integers(1, 3600) | st.timedeltas(timedelta(0), timedelta(days=1))
)
VALID_QUERY_VALUES: Final[dict[str, st.SearchStrategy[Any]]] = {
    "source": st.sampled_from([None, *Source, "design-arena", "openrouter", "future-source"]),
    "task_type": st.sampled_from([None, *TaskType, "coding"]),
    "arena": st.sampled_from([None, *Arena]),
    "category": st.sampled_from([None, *KNOWN_CATEGORIES]),
    "max_results": st.none() | st.integers(1, 50),
    "benchmark_type": st.sampled_from([None, *BenchmarkType]),
    "include_run_config": st.booleans(),
    "search_engine": st.sampled_from([None, "exa", "native"]),
    "search_surface": st.sampled_from([None, "plugin", "server-tool"]),
}
query_values: Final = mostly(st.one_of(*VALID_QUERY_VALUES.values()))
unknown_params: Final = st.dictionaries(
    st.sampled_from(["sourc", "catgory", "max_result", "zzz", "x" * 1000]), anything, max_size=1
)

VALID_QUERIES: Final = [
    Query(),
    Query(source="openrouter"),
    Query(source="artificial-analysis", task_type="coding", max_results=3),
    Query(source="design-arena", category="svg"),
    Query(source="design-arena", arena="builders", max_results=2),
    Query(task_type="search", include_run_config=True),
    Query(source="future-source"),
]
queries: Final = st.sampled_from(VALID_QUERIES) | st.builds(Query, max_results=st.integers(1, 9))


def _arguments(query: Query) -> dict[str, Any]:
    return {name: getattr(query, name) for name in PARAMETER_NAMES if getattr(query, name)}


#: Keyword parameters of a query: a known good one, or values drawn per parameter.
query_params: Final = st.sampled_from(
    [_arguments(query) for query in VALID_QUERIES]
) | mostly_valid(VALID_QUERY_VALUES)
#: A call's parameters: a query's, with a misspelt name one time in four.
call_params: Final = st.sampled_from([True, True, True, False]).flatmap(
    lambda spelt: (
        query_params
        if spelt
        else st.tuples(query_params, unknown_params).map(lambda pair: pair[0] | pair[1])
    )
)

#: Faults the fake may answer with before a call (statuses, broken bodies, short stalls).
faults: Final = st.lists(
    st.sampled_from(
        [
            400,
            401,
            402,
            404,
            429,
            500,
            503,
            "reset",
            "reset_mid_body",
            "truncate",
            "html502",
            "malformed",
            "wrong_shape",
            "redirect",
            {"fault": "timeout", "delay": 0.3},
            {"fault": "slow_body", "delay": 0.05},
        ]
    ),
    max_size=3,
)


async def _instant_sleep(seconds: float) -> None:
    await asyncio.sleep(0)


class _Hooks(ClientHooks):
    """Hooks that listen and do nothing."""


class Tally:
    """How the examples of one test ended: one count per result kind."""

    def __init__(self) -> None:
        self.kinds: collections.Counter[str] = collections.Counter()

    def add(self, kind: str) -> None:
        self.kinds[kind] += 1

    def error(self, error: OpenRouterBenchError) -> None:
        check_error(error)
        self.add(type(error).__name__)

    def summary(self, noun: str = "examples") -> str:
        total = sum(self.kinds.values())
        parts = ", ".join(f"{count} {kind}" for kind, count in self.kinds.most_common())
        return f"{total} {noun} ({parts}), 0 escapes"


def check_error(error: BaseException) -> None:
    """A typed error: ours, wrapping nothing of aiohttp's, holding no key, with a short message.

    The chain walked is the one a traceback shows (causes, and contexts not
    suppressed); the transport's own hostile rows check suppressed contexts too.
    """
    assert isinstance(error, OpenRouterBenchError), repr(error)
    assert CANARY_KEY not in f"{error!r} {error}"
    assert len(str(error)) < 1000, str(error)[:200]
    assert not [value for value in vars(error).values() if isinstance(value, aiohttp.ClientError)]
    seen: set[int] = set()
    link: BaseException | None = error
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        assert not isinstance(link, aiohttp.ClientError), repr(link)
        link = link.__cause__ or (None if link.__suppress_context__ else link.__context__)


def check_outcome(outcome: object) -> None:
    """A fan-out outcome: a Page, or a typed error."""
    if isinstance(outcome, Page):
        return
    assert isinstance(outcome, BaseException), repr(outcome)
    check_error(outcome)


@pytest.fixture
def runner() -> Iterator[asyncio.Runner]:
    """An event loop for the examples of one test (the fake runs in its own thread)."""
    with asyncio.Runner() as loop:
        yield loop


@pytest.fixture
def server(served: FakeOpenRouter) -> FakeOpenRouter:
    """The module's fake server (one per module, in a thread), fresh."""
    served.reset()
    return served


# --- constructors --------------------------------------------------------------------------


@pytest.mark.hostile(
    case="any value for every parameter of BenchmarksClient(...)",
    expected="a working client (its get answers) or ConfigurationError",
)
def test_any_client_options(
    server: FakeOpenRouter, runner: asyncio.Runner, tmp_path: Path, observe: Observe
) -> None:
    """Every option combination builds a client whose get answers, or is a ConfigurationError."""
    tally = Tally()
    options = mostly_valid(
        {
            # Always given, so that no example sleeps for real or meets a real quota.
            "retry": st.just(NO_WAIT),
            "sleep": st.just(_instant_sleep),
            "quota": st.sampled_from([None, "memory", QuotaPolicy(per_minute=None, per_day=None)]),
            "api_key": st.just(CANARY_KEY),
            "base_url": st.just(server.url),
            "cache": st.sampled_from(["memory", None, f"sqlite:///{tmp_path}/fuzz.db"]),
            "ttl": durations,
            "stale_if_error": durations,
            "cache_policy": st.builds(
                CachePolicy, max_entries=st.integers(1, 10_000), history=st.integers(1, 10)
            ),
            "timeout": durations,
            "connect_timeout": durations,
            "max_response_bytes": st.integers(1024, 2**25),
            "session": st.none(),
            "app_url": st.just("https://bot.example"),
            "app_title": st.text(max_size=20),
            "app_categories": st.lists(st.text(max_size=8), max_size=3),
            "allow_insecure_http": st.booleans(),
            "verify_tls": st.just(True),
            "clock": st.just(time.time),
            "timer": st.just(time.monotonic),
            "rng": st.just(lambda: 0.5),
            "retry_budget": st.booleans() | st.builds(RetryBudget),
            "hooks": st.none() | st.builds(_Hooks),
        },
        always=("retry", "sleep", "quota", "api_key", "base_url"),
    )

    async def example(kwargs: dict[str, Any]) -> None:
        try:
            client = BenchmarksClient(**kwargs)
        except ConfigurationError as error:
            tally.error(error)
            return
        try:
            assert CANARY_KEY not in repr(client)
            if client.base_url == server.url:
                async with asyncio.timeout(30):
                    page = await client.get(source="openrouter")
                assert isinstance(page, Page)
                tally.add("answered")
            else:
                tally.add("built")
        except OpenRouterBenchError as error:
            tally.error(error)
        finally:
            await client.aclose()

    @FUZZ_IO
    @given(options)
    def check(kwargs: dict[str, Any]) -> None:
        runner.run(example(kwargs))

    with pytest.MonkeyPatch.context() as env:
        env.delenv("OPENROUTER_API_KEY", raising=False)
        env.delenv("OPENROUTER_BASE_URL", raising=False)
        check()
    observe(tally.summary())


@pytest.mark.hostile(
    case="any value (and any misspelt name) for every parameter of Query(...)",
    expected="a Query whose key, params and repr work, or InvalidQueryError",
)
def test_any_query(observe: Observe) -> None:
    """Query takes anything and gives a usable Query or an InvalidQueryError."""
    tally = Tally()

    @FUZZ
    @given(query_params, st.sampled_from([{}, {}, {}]) | unknown_params)
    def check(params: dict[str, Any], unknown: dict[str, Any]) -> None:
        try:
            query = Query(**params, **unknown)
        except InvalidQueryError as error:
            tally.error(error)
            return
        assert not unknown
        assert query.key
        assert repr(query).startswith("Query(")
        assert hash(query) == hash(Query.from_params(query.params))
        assert Query.from_params(query.params) == query
        tally.add("Query")

    check()
    observe(tally.summary())


@pytest.mark.hostile(
    case="any value, list of values or ALL for every parameter of Query.grid(...)",
    expected="a list of Query or InvalidQueryError",
)
def test_any_grid(observe: Observe) -> None:
    """Query.grid takes anything per axis and gives valid queries or an InvalidQueryError."""
    tally = Tally()
    axis = query_values | st.lists(query_values, max_size=3) | st.just(ALL)

    @FUZZ
    @given(st.fixed_dictionaries({}, optional=dict.fromkeys(PARAMETER_NAMES, axis)))
    def check(axes: dict[str, Any]) -> None:
        try:
            grid = Query.grid(**axes)
        except InvalidQueryError as error:
            tally.error(error)
            return
        assert all(isinstance(query, Query) and query.key for query in grid)
        tally.add("grid")

    check()
    observe(tally.summary())


@pytest.mark.hostile(
    case="any mapping (or anything else) given to Query.from_params(...)",
    expected="a Query or InvalidQueryError",
)
def test_any_from_params(observe: Observe) -> None:
    """from_params takes anything and gives a Query or an InvalidQueryError."""
    tally = Tally()
    names = st.sampled_from(PARAMETER_NAMES) | st.text(max_size=8) | st.integers()
    values = mostly(st.sampled_from(["openrouter", "design-arena", "svg", "3", "true", "False"]))
    params = mostly(st.dictionaries(names, values, max_size=4))

    @FUZZ
    @given(params)
    def check(raw: Any) -> None:
        try:
            query = Query.from_params(raw)
        except InvalidQueryError as error:
            tally.error(error)
            return
        assert Query.from_params(query.params) == query
        tally.add("Query")

    check()
    observe(tally.summary())


def _policy_row(
    build: Callable[..., object], fields: dict[str, st.SearchStrategy[Any]], tally: Tally
) -> Callable[[], None]:
    @FUZZ
    @given(mostly_valid(fields))
    def check(kwargs: dict[str, Any]) -> None:
        try:
            policy = build(**kwargs)
        except ConfigurationError as error:
            tally.error(error)
            return
        assert repr(policy)
        tally.add(type(policy).__name__)

    return check


@pytest.mark.hostile(
    case="any value for every parameter of RetryPolicy(...), no_wait() and never()",
    expected="a RetryPolicy whose backoff is a finite number, or ConfigurationError",
)
def test_any_retry_policy(observe: Observe) -> None:
    """RetryPolicy takes anything and gives a usable policy or a ConfigurationError."""
    tally = Tally()
    fields = {
        "attempts": st.integers(1, 10),
        "initial_wait": durations,
        "max_wait": durations,
        "deadline": durations,
        "jitter": st.booleans(),
    }
    _policy_row(RetryPolicy, fields, tally)()

    @FUZZ
    @given(
        st.sampled_from([RetryPolicy.no_wait, RetryPolicy.never]),
        mostly(st.integers(1, 10)),
        mostly(durations),
    )
    def shortcuts(make: Callable[..., RetryPolicy], attempts: Any, deadline: Any) -> None:
        options = {"deadline": deadline}
        if make is RetryPolicy.no_wait:
            options["attempts"] = attempts
        try:
            policy = make(**options)
        except ConfigurationError as error:
            tally.error(error)
            return
        for retry in (1, 2, 50, 5000):
            wait = policy.backoff(retry, lambda: 0.5)
            assert 0 <= wait < float("inf")
        tally.add("RetryPolicy")

    shortcuts()
    observe(tally.summary())


@pytest.mark.hostile(
    case="any value for every parameter of QuotaPolicy(...)",
    expected="a QuotaPolicy whose repr works, or ConfigurationError",
)
def test_any_quota_policy(observe: Observe) -> None:
    """QuotaPolicy takes anything and gives a usable policy or a ConfigurationError."""
    tally = Tally()
    fields = {
        "per_minute": st.none() | st.integers(1, 100),
        "per_day": st.none() | st.integers(1, 1000),
        "minute_window": durations,
        "day_window": durations,
        # The last has a port that is no number: refused.
        "store": st.sampled_from([None, "memory", "redis://127.0.0.1:6379/0", "redis://h:x/0"]),
        "scope": st.sampled_from(["default", "bot-1"]),
    }
    _policy_row(QuotaPolicy, fields, tally)()
    observe(tally.summary())


@pytest.mark.hostile(
    case="any value for every parameter of CachePolicy(...)",
    expected="a CachePolicy whose retain is a whole number, or ConfigurationError",
)
def test_any_cache_policy(observe: Observe) -> None:
    """CachePolicy takes anything and gives a usable policy or a ConfigurationError."""
    tally = Tally()
    fields = {
        "ttl": durations | st.just(0),
        "stale_if_error": durations | st.just(0),
        "history": st.integers(1, 10),
        "max_entries": st.integers(1, 10_000),
        "lease_ttl": durations,
        "lease_wait": durations,
    }

    def build(**kwargs: Any) -> CachePolicy:
        policy = CachePolicy(**kwargs)
        assert isinstance(policy.retain, int)
        return policy

    _policy_row(build, fields, tally)()
    observe(tally.summary())


# --- calls against the fake server ---------------------------------------------------------


@contextlib.asynccontextmanager
async def client_for(
    server: FakeOpenRouter, cache: str | None, **options: Any
) -> AsyncIterator[BenchmarksClient]:
    options.setdefault("sleep", _instant_sleep)
    client = BenchmarksClient(
        CANARY_KEY,
        base_url=server.url,
        cache=cache,
        retry=NO_WAIT,
        quota=None,
        timeout=5,
        **options,
    )
    try:
        async with asyncio.timeout(30):
            yield client
    finally:
        await client.aclose()


call_options: Final = mostly_valid(
    {"max_age": st.none() | durations | st.just(0), "refresh": st.booleans()}
)
#: The positional query of a call: mostly none (keywords instead), else a Query or anything.
positional_query: Final = st.sampled_from([0, 0, 0, 1, 2]).flatmap(
    lambda kind: (st.none(), queries, anything)[kind]
)


@pytest.mark.hostile(
    case="client.get(...) with any query, parameters, max_age and refresh; faults scripted",
    expected="a Page or a typed error",
)
def test_any_get(server: FakeOpenRouter, runner: asyncio.Runner, observe: Observe) -> None:
    """get answers any arguments with a Page or an OpenRouterBenchError."""
    tally = Tally()

    async def example(
        cache: str | None, query: Any, params: dict[str, Any], options: dict[str, Any]
    ) -> None:
        async with client_for(server, cache) as client:
            try:
                page = await client.get(query, **params, **options)
            except OpenRouterBenchError as error:
                tally.error(error)
                return
            assert isinstance(page, Page)
            tally.add("Page")

    @FUZZ_IO
    @given(
        st.sampled_from(["memory", None]),
        positional_query,
        call_params,
        call_options,
        faults,
    )
    def check(
        cache: str | None,
        query: Any,
        params: dict[str, Any],
        options: dict[str, Any],
        scripted: list[Any],
    ) -> None:
        server.reset()
        server.script(*scripted)
        runner.run(example(cache, query, params, options))

    check()
    observe(tally.summary())


fan_out_queries: Final = mostly(
    st.lists(queries, max_size=4) | st.lists(mostly(queries), min_size=1, max_size=4)
)
concurrency: Final = mostly(st.integers(1, 8))


@pytest.mark.hostile(
    case="client.fan_out(...) and client.stream(...) with any queries and options; faults scripted",
    expected="every outcome a Page or an OpenRouterBenchError; the call itself only typed errors",
)
def test_any_fan_out_and_stream(
    server: FakeOpenRouter, runner: asyncio.Runner, observe: Observe
) -> None:
    """Every outcome of a fan-out or a stream is a Page or a typed error, never a raw exception."""
    tally = Tally()
    outcomes = Tally()

    async def example(streamed: bool, grid: Any, width: Any, options: dict[str, Any]) -> None:
        async with client_for(server, "memory") as client:
            try:
                if streamed:
                    async with contextlib.aclosing(
                        client.stream(grid, concurrency=width, **options)
                    ) as results:
                        async for query, outcome in results:
                            assert isinstance(query, Query)
                            check_outcome(outcome)
                            outcomes.add(type(outcome).__name__)
                else:
                    result = await client.fan_out(grid, concurrency=width, **options)
                    assert list(result) == list(dict.fromkeys(grid))
                    for outcome in result.values():
                        check_outcome(outcome)
                        outcomes.add(type(outcome).__name__)
            except OpenRouterBenchError as error:
                tally.error(error)
                return
            tally.add("completed")

    @FUZZ_IO
    @given(st.booleans(), fan_out_queries, concurrency, call_options, faults)
    def check(
        streamed: bool, grid: Any, width: Any, options: dict[str, Any], scripted: list[Any]
    ) -> None:
        server.reset()
        server.script(*scripted)
        runner.run(example(streamed, grid, width, options))

    check()
    observe(f"{tally.summary()}; {outcomes.summary('outcomes')}")


@pytest.mark.hostile(
    case="client.watch(...) with any query, parameters and interval",
    expected="a SnapshotChange when the data moves, or a typed error",
)
def test_any_watch(server: FakeOpenRouter, runner: asyncio.Runner, observe: Observe) -> None:
    """watch takes anything and yields a change or raises a typed error."""
    tally = Tally()

    async def publish(seconds: float) -> None:
        server.publish()  # the poll after this "sleep" sees a new as_of

    async def example(query: Any, params: dict[str, Any], every: Any) -> None:
        async with client_for(server, "memory", sleep=publish) as client:
            try:
                changes = client.watch(query, every=every, **params)
            except OpenRouterBenchError as error:
                tally.error(error)
                return
            try:
                change = await anext(changes)
            except OpenRouterBenchError as error:
                tally.error(error)
                return
            finally:
                await changes.aclose()
            assert isinstance(change, SnapshotChange)
            tally.add("SnapshotChange")

    @FUZZ_IO
    @given(positional_query, call_params, mostly(durations))
    def check(query: Any, params: dict[str, Any], every: Any) -> None:
        server.reset()
        runner.run(example(query, params, every))

    check()
    observe(tally.summary())


@pytest.mark.hostile(
    case="client.history(...), client.categories(...) and client.request_for(...) with any value",
    expected="pages, category names, a request, or a typed error",
)
def test_any_history_categories_and_request_for(
    server: FakeOpenRouter, runner: asyncio.Runner, observe: Observe
) -> None:
    """The remaining calls take anything and answer or raise a typed error."""
    tally = Tally()

    async def example(which: str, first: Any, params: dict[str, Any], refresh: Any) -> None:
        async with client_for(server, "memory") as client:
            try:
                if which == "history":
                    pages = await client.history(first, **params)
                    assert all(isinstance(page, Page) for page in pages)
                elif which == "categories":
                    names = await client.categories(first, refresh=refresh)
                    assert all(isinstance(name, str) for name in names)
                else:
                    request = client.request_for(first)
                    assert CANARY_KEY not in repr(request)
            except OpenRouterBenchError as error:
                tally.error(error)
                return
            tally.add(which)

    @FUZZ_IO
    @given(
        st.sampled_from(["history", "categories", "request_for"]),
        positional_query | st.sampled_from(list(Arena)),
        call_params,
        mostly(st.booleans()),
    )
    def check(which: str, first: Any, params: dict[str, Any], refresh: Any) -> None:
        server.reset()
        runner.run(example(which, first, params, refresh))

    check()
    observe(tally.summary())
