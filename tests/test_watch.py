"""watch and diff_snapshots: exactly what the fake changed when it published a new snapshot.

The expected changes are computed here from the fake's own payloads
(``payload_at(old)`` against ``payload_at(new)``), independently of the
package's code. Polls wait on an injected sleep that publishes when the test
wants new data, so nothing waits for real.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import orjson
import pytest

from openrouter_bench import (
    AuthenticationError,
    BenchmarksClient,
    ClientClosedError,
    ConfigurationError,
    InvalidQueryError,
    Query,
    RetryPolicy,
    SnapshotChange,
    diff_snapshots,
)
from openrouter_bench.fake import FakeOpenRouter, FakeTime
from openrouter_bench.models import Page
from openrouter_bench.watch import watch_query
from tests.conftest import CANARY_KEY

QUERIES = [
    pytest.param(Query(source="design-arena", category="gamedev"), id="one-category"),
    pytest.param(Query(source="design-arena", arena="builders"), id="whole-arena"),
    pytest.param(Query(source="artificial-analysis", task_type="coding"), id="aa-coding"),
    pytest.param(Query(source="openrouter"), id="openrouter-evals"),
]

# (ranking, model, variant) -> (rank, score)
Ranks = dict[tuple[str, str, str | None], tuple[int, float | None]]


def ranks_in(payload: dict[str, Any], query: Query) -> Ranks:
    """Every model's rank and score per ranking, read straight from a response body."""
    ranks: Ranks = {}
    counts: dict[str, int] = {}
    for item in payload["data"]:
        variant = None
        if item["source"] == "design-arena":
            ranking = f"design-arena {item['arena']}/{item['category']}"
            score = item["elo"]
        elif item["source"] == "artificial-analysis":
            task = query.task_type
            ranking = "artificial-analysis" + (f" {task}" if task else "")
            score = item[f"{task}_index" if task else "intelligence_index"]
        elif "primary_score" in item:
            ranking = f"openrouter {item['benchmark_type']}"
            variant = f"{item['search_engine']}/{item['search_surface']}"
            score = item["primary_score"]
        else:
            ranking = f"openrouter {item['benchmark_type']}"
            score = item["accuracy"]
        counts[ranking] = counts.get(ranking, 0) + 1
        ranks[(ranking, item["model_permaslug"], variant)] = (counts[ranking], score)
    return ranks


def expected_change(fake: FakeOpenRouter, query: Query, old: datetime, new: datetime) -> Any:
    """Entered, left, moved and new leaders as the fake's two payloads say."""
    before = ranks_in(fake.payload_at(old, query.params), query)
    after = ranks_in(fake.payload_at(new, query.params), query)
    entered = {key: after[key] for key in after.keys() - before.keys()}
    left = {key: before[key] for key in before.keys() - after.keys()}
    moved = {
        key: (before[key], after[key])
        for key in after.keys() & before.keys()
        if before[key] != after[key]
    }
    old_first = {key[0]: key for key, (rank, _) in before.items() if rank == 1}
    leaders = {
        key for key, (rank, _) in after.items() if rank == 1 and old_first.get(key[0]) != key
    }
    return entered, left, moved, leaders


def reported(change: SnapshotChange) -> Any:
    """The same four things, from the change record."""
    entered = {(s.ranking, s.model, s.variant): (s.rank, s.score) for s in change.entered}
    left = {(s.ranking, s.model, s.variant): (s.rank, s.score) for s in change.left}
    moved = {
        (m.ranking, m.model, m.variant): ((m.old_rank, m.old_score), (m.new_rank, m.new_score))
        for m in change.moves
    }
    leaders = {(s.ranking, s.model, s.variant) for s in change.new_leaders}
    return entered, left, moved, leaders


def publishing_sleep(
    fake_time: FakeTime, plan: dict[int, Callable[[], object]]
) -> Callable[[float], Awaitable[None]]:
    """A sleep that moves the clock and, on the n-th sleep, does ``plan[n]`` (publish, a fault)."""

    async def sleep(seconds: float) -> None:
        await fake_time.sleep(seconds)
        action = plan.get(len(fake_time.sleeps))
        if action is not None:
            action()

    return sleep


def watching_client(
    fake: FakeOpenRouter,
    fake_time: FakeTime,
    sleep: Callable[[float], Awaitable[None]],
    **options: Any,
) -> BenchmarksClient:
    options.setdefault("retry", RetryPolicy.never())
    return BenchmarksClient(
        CANARY_KEY,
        base_url=fake.url,
        quota=None,
        clock=fake_time.time,
        timer=fake_time.monotonic,
        sleep=sleep,
        **options,
    )


@pytest.mark.parametrize("query", QUERIES)
async def test_watch_reports_exactly_what_the_fake_changed(
    fake: FakeOpenRouter, fake_time: FakeTime, query: Query
) -> None:
    """Entered, left, moved and new #1s are exactly the differences of the fake's two payloads."""
    sleep = publishing_sleep(fake_time, {1: fake.publish})
    client = watching_client(fake, fake_time, sleep)
    async with client, contextlib.aclosing(client.watch(query, every=900)) as changes:
        change = await anext(changes)
    old, new = fake.published
    assert (change.old_as_of, change.new_as_of) == (old, new)
    expected = expected_change(fake, query, old, new)
    assert reported(change) == expected
    assert change.moves  # the publish did move ranks: the comparison above is not vacuous
    assert change.query == query
    assert change.citation == fake.payload(query.params)["meta"]["citation"]
    assert fake_time.sleeps == [900.0]
    assert len(fake.requests) == 2


async def test_the_first_poll_is_the_baseline_and_quiet_polls_yield_nothing(
    fake: FakeOpenRouter, fake_time: FakeTime
) -> None:
    """Polls that find the same as_of yield nothing; the change spans baseline to new data."""
    sleep = publishing_sleep(fake_time, {3: fake.publish})
    client = watching_client(fake, fake_time, sleep)
    query = Query(source="design-arena", category="svg")
    async with client, contextlib.aclosing(client.watch(query, every=60)) as changes:
        change = await anext(changes)
    assert change.old_as_of == fake.published[0]
    assert fake_time.sleeps == [60.0, 60.0, 60.0]
    assert len(fake.requests) == 4  # the baseline and three polls, each past the cache


async def test_polls_bound_the_watch_and_each_quiet_poll_is_told(
    fake: FakeOpenRouter, fake_time: FakeTime
) -> None:
    """watch_query(polls=3) ends after three polls; on_unchanged hears each one without news."""
    client = watching_client(fake, fake_time, fake_time.sleep)
    query = Query(source="design-arena", category="svg")
    quiet: list[tuple[int, datetime]] = []

    async def fetch(refresh: bool) -> Page:
        return await client.get(query, refresh=refresh)

    async with client:
        changes = watch_query(
            fetch,
            every=60,
            sleep=fake_time.sleep,
            polls=3,
            on_unchanged=lambda poll, page: quiet.append((poll, page.as_of)),
        )
        seen = [change async for change in changes]
    assert seen == []
    assert quiet == [(poll, fake.published[0]) for poll in (1, 2, 3)]
    assert len(fake.requests) == 4  # the baseline and three polls


async def test_consecutive_publishes_give_consecutive_changes(
    fake: FakeOpenRouter, fake_time: FakeTime
) -> None:
    """Each change starts where the previous one ended."""
    sleep = publishing_sleep(fake_time, {1: fake.publish, 2: fake.publish})
    client = watching_client(fake, fake_time, sleep)
    async with client, contextlib.aclosing(client.watch(source="openrouter", every=5)) as changes:
        first = await anext(changes)
        second = await anext(changes)
    one, two, three = fake.published
    assert (first.old_as_of, first.new_as_of) == (one, two)
    assert (second.old_as_of, second.new_as_of) == (two, three)


async def test_a_failed_poll_is_logged_and_the_watch_goes_on(
    fake: FakeOpenRouter, fake_time: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    """A transient failure of one poll is a warning; the next poll reports the change."""
    sleep = publishing_sleep(fake_time, {1: lambda: fake.script(503), 2: fake.publish})
    client = watching_client(fake, fake_time, sleep, cache=None)
    with caplog.at_level(logging.WARNING, logger="openrouter_bench.watch"):
        async with client, contextlib.aclosing(client.watch(source="openrouter")) as changes:
            change = await anext(changes)
    assert change.new_as_of == fake.published[1]
    assert [r.status for r in fake.requests] == [200, 503, 200]
    assert "poll failed (HTTP 503" in caplog.text


async def test_a_stale_poll_is_no_news(fake: FakeOpenRouter, fake_time: FakeTime) -> None:
    """A refresh that fails and is masked by a stale page yields nothing."""
    sleep = publishing_sleep(fake_time, {1: lambda: fake.script(503), 2: fake.publish})
    client = watching_client(fake, fake_time, sleep)
    async with client, contextlib.aclosing(client.watch(source="openrouter")) as changes:
        change = await anext(changes)
        assert client.stats.stale_serves == 1
    assert change.old_as_of == fake.published[0]


async def test_a_lasting_error_ends_the_watch(fake: FakeOpenRouter, fake_time: FakeTime) -> None:
    """An error that no waiting cures (a refused key) is raised from the watch."""
    sleep = publishing_sleep(fake_time, {1: lambda: fake.script(401)})
    client = watching_client(fake, fake_time, sleep, cache=None)
    async with client, contextlib.aclosing(client.watch(source="openrouter")) as changes:
        with pytest.raises(AuthenticationError):
            await anext(changes)


async def test_change_text_and_json_for_a_bot(fake: FakeOpenRouter) -> None:
    """describe() names each new #1 and every move; to_json() is plain JSON."""
    query = Query(source="design-arena", arena="agents")
    async with BenchmarksClient(CANARY_KEY, base_url=fake.url, quota=None) as client:
        before = await client.get(query)
        fake.publish()
        after = await client.get(query, refresh=True)
    change = diff_snapshots(before, after)
    text = change.describe()
    assert text.splitlines()[0].startswith(f"{query!r}: new data as of 2026-06-04 12:00 UTC")
    for leader in change.new_leaders:
        assert f"new #1 in {leader.ranking}: {leader.label}" in text
    rank_moves = [move for move in change.moves if move.places]
    assert text.count(" -> #") == len(rank_moves)
    if len(rank_moves) < len(change.moves):
        assert f"{len(change.moves) - len(rank_moves)} more kept their rank" in text
    assert change.citation is not None
    assert text.rstrip().endswith(change.citation)
    document = orjson.loads(orjson.dumps(change.to_json()))
    assert document["query"] == query.params
    assert len(document["moves"]) == len(change.moves)
    assert document["new_as_of"] == after.as_of.isoformat()
    for move in change.moves:
        assert move.places == move.old_rank - move.new_rank
        if move.old_score is not None and move.new_score is not None:
            assert move.score_change == pytest.approx(move.new_score - move.old_score)


async def test_no_change_between_equal_snapshots(fake: FakeOpenRouter) -> None:
    """Two pages of one snapshot differ in nothing."""
    async with BenchmarksClient(CANARY_KEY, base_url=fake.url, quota=None, cache=None) as client:
        first = await client.get(source="artificial-analysis")
        second = await client.get(source="artificial-analysis")
    change = diff_snapshots(first, second)
    assert (change.entered, change.left, change.moves, change.new_leaders) == ((), (), (), ())


async def test_watch_arguments_are_checked_at_once(fake: FakeOpenRouter) -> None:
    """A bad interval, a Query plus keywords, or a closed client raise before any poll."""
    client = BenchmarksClient(CANARY_KEY, base_url=fake.url, quota=None)
    async with client:
        with pytest.raises(ConfigurationError):
            client.watch(source="openrouter", every=0)
        with pytest.raises(InvalidQueryError):
            client.watch(Query(), source="openrouter")
    with pytest.raises(ClientClosedError):
        client.watch(source="openrouter")
    assert fake.requests == []
