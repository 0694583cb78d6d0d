"""SnapshotHistory: a model's standing over time and the changes, as the fake published them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import attrs
import pytest

from openrouter_bench import (
    AmbiguousModelError,
    BenchmarksClient,
    CachePolicy,
    DesignArenaItem,
    InvalidQueryError,
    Page,
    Query,
    RetryPolicy,
    SnapshotHistory,
    UnknownModelError,
    diff_snapshots,
)
from openrouter_bench.fake import FakeOpenRouter, FakeTime
from tests.conftest import CANARY_KEY

GAMEDEV: Final = Query(source="design-arena", arena="models", category="gamedev")
#: Each snapshot is fetched this long after the last: past the ttl and the retain of 600 s.
STEP: Final = 3600.0
KEPT: Final = CachePolicy(ttl=60, stale_if_error=0, history=1000, history_bytes=2**30)


@pytest.fixture(params=["memory", "sqlite"])
async def client(
    request: pytest.FixtureRequest, fake: FakeOpenRouter, fake_time: FakeTime, tmp_path: Path
) -> AsyncIterator[BenchmarksClient]:
    """A client on the fake keeping every snapshot, on memory and on a SQLite file."""
    spec = "memory" if request.param == "memory" else f"sqlite:///{tmp_path / 'kept.sqlite3'}"
    async with BenchmarksClient(
        CANARY_KEY,
        base_url=fake.url,
        cache=spec,
        cache_policy=KEPT,
        quota=None,
        retry=RetryPolicy.never(),
        clock=fake_time.time,
        timer=fake_time.monotonic,
        sleep=fake_time.sleep,
    ) as made:
        yield made


async def seen_snapshots(
    client: BenchmarksClient, fake: FakeOpenRouter, fake_time: FakeTime, count: int
) -> list[datetime]:
    """Fetch GAMEDEV ``count`` times, the fake publishing between; the as_of seen, oldest first."""
    for n in range(count):
        if n:
            fake.publish()
        await client.get(GAMEDEV)
        fake_time.now += STEP
    return fake.published


def oracle(fake: FakeOpenRouter, as_of: datetime, model: str) -> tuple[int, float] | None:
    """The model's rank (server order) and Elo in the fake's own body at ``as_of``."""
    data: list[dict[str, Any]] = fake.payload_at(as_of, GAMEDEV.params)["data"]
    for position, item in enumerate(data, start=1):
        if item["model_permaslug"] == model:
            return position, item["elo"]
    return None


async def test_a_dozen_snapshots_are_kept_past_retain(
    client: BenchmarksClient, fake: FakeOpenRouter, fake_time: FakeTime
) -> None:
    """Twelve published snapshots, fetched an hour apart (retain 600 s), are all in the history."""
    published = await seen_snapshots(client, fake, fake_time, 12)
    fake_time.now += 7 * 86400
    history = await SnapshotHistory.load(client, GAMEDEV)
    assert [page.as_of for page in history.snapshots] == published
    assert len(fake.requests) == 12


async def test_the_series_holds_the_pages_own_ranks_and_scores(
    client: BenchmarksClient, fake: FakeOpenRouter, fake_time: FakeTime
) -> None:
    """For every model, each point's rank and score are the fake's, snapshot by snapshot."""
    published = await seen_snapshots(client, fake, fake_time, 10)
    history = await SnapshotHistory.load(client, GAMEDEV)
    models = {item.model_permaslug for page in history.snapshots for item in page.items}
    absent = 0
    for model in sorted(str(m) for m in models):
        (series,) = history.standing(model)
        assert series.model == model
        assert series.ranking == "design-arena models/gamedev"
        assert [point.as_of for point in series.points] == published
        assert [point.snapshot for point in series.points] == list(range(1, 11))
        for point in series.points:
            expected = oracle(fake, point.as_of, model)
            assert (point.rank, point.score) == (expected or (None, None))
            absent += expected is None
            count = len(fake.payload_at(point.as_of, GAMEDEV.params)["data"])
            assert point.entries == count
    assert absent  # some models entered or left: the None points are exercised


async def test_names_resolve_as_the_catalog_resolves_them(
    client: BenchmarksClient, fake: FakeOpenRouter, fake_time: FakeTime
) -> None:
    """The slug, the part after '/', and the display name in any case all name one model."""
    await seen_snapshots(client, fake, fake_time, 2)
    history = await SnapshotHistory.load(client, GAMEDEV)
    item = history.snapshots[-1].items[0]
    slug = str(item.model_permaslug)
    display = str(item.display_name)
    for typed in (slug, slug.split("/", 1)[1], display, display.upper(), f"Vendor: {display}"):
        assert history.resolve(typed) == slug
        assert history.standing(typed)[0].model == slug
    with pytest.raises(UnknownModelError) as unknown:
        history.standing(display[:-1] + "x")
    assert slug in unknown.value.suggestions


async def test_an_ambiguous_name_lists_its_candidates(fake: FakeOpenRouter) -> None:
    """Two models sharing a display name are both offered."""
    page = await _page_with_twins(fake)
    history = SnapshotHistory(GAMEDEV, [page])
    with pytest.raises(AmbiguousModelError) as ambiguous:
        history.standing("Twin")
    assert len(ambiguous.value.candidates) == 2


async def _page_with_twins(fake: FakeOpenRouter) -> Page:
    async with BenchmarksClient(CANARY_KEY, base_url=fake.url, cache=None, quota=None) as plain:
        page = await plain.get(GAMEDEV)
    arena = [item for item in page.items if isinstance(item, DesignArenaItem)]
    twins = tuple(attrs.evolve(item, display_name="Twin") for item in arena[:2])
    return attrs.evolve(page, items=twins + page.items[2:])


async def test_changes_between_snapshot_1_and_5_are_diff_snapshots(
    client: BenchmarksClient, fake: FakeOpenRouter, fake_time: FakeTime
) -> None:
    """changes(1, 5) is what diff_snapshots says of the first and fifth pages, named either way."""
    published = await seen_snapshots(client, fake, fake_time, 6)
    history = await SnapshotHistory.load(client, GAMEDEV)
    change = history.changes(1, 5)
    assert (change.old_as_of, change.new_as_of) == (published[0], published[4])
    assert change == diff_snapshots(history.snapshots[0], history.snapshots[4])
    assert change.moves
    assert history.changes(published[0].isoformat(), "2026-06-07T12:00:00Z") == change
    assert history.changes(published[0], -2) == change
    for wrong in (0, 7, -7, "yesterday", "2020-01-01T00:00:00Z", True):
        with pytest.raises(InvalidQueryError, match="no snapshot"):
            history.changes(wrong, 5)


async def test_an_empty_history_says_nothing_is_stored(fake: FakeOpenRouter) -> None:
    """With no cache there is no history, and asking for a model says why."""
    async with BenchmarksClient(CANARY_KEY, base_url=fake.url, cache=None, quota=None) as plain:
        await plain.get(GAMEDEV)
        history = await SnapshotHistory.load(plain, GAMEDEV)
    assert len(history) == 0
    with pytest.raises(UnknownModelError, match="no snapshot"):
        history.standing("anything")


def test_pages_of_another_query_are_refused() -> None:
    """A history is of one query: a page of another is an error naming both."""
    from tests._cache_fixtures import make_page

    other = make_page(Query(source="artificial-analysis"))
    with pytest.raises(InvalidQueryError, match="not a snapshot of"):
        SnapshotHistory(GAMEDEV, [other])
