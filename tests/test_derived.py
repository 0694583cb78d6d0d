"""_derived: which category queries one arena page answers, and the pages cut from it (pure)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from openrouter_bench import Page, Query
from openrouter_bench._convert import structure_page, unstructure_page
from openrouter_bench._derived import ArenaPage, arena_query_of, plan
from openrouter_bench.fake import FakeOpenRouter

FETCHED = datetime(2026, 6, 3, 12, 30, tzinfo=UTC)
MODELS = Query(source="design-arena", arena="models")
DATA = FakeOpenRouter(seed=7)


def svg(**params: Any) -> Query:
    """A models-arena svg query with ``params``."""
    return Query(source="design-arena", category="svg", **params)


def page_of(document: dict[str, Any], query: Query = MODELS, **flags: Any) -> Page:
    """``document`` as the page of ``query``."""
    page = structure_page(document, query=query, fetched_at=FETCHED)
    return page.served(**flags) if flags else page


def arena_document(**changes: Any) -> dict[str, Any]:
    """The fake's models arena page, its data list changed by ``changes["data"]`` if given."""
    document = DATA.payload(MODELS.params)
    return {**document, **changes}


def test_the_arena_query_is_the_category_query_without_category_or_max_results() -> None:
    """A category query's arena page keeps its other parameters; others have none."""
    assert arena_query_of(svg(max_results=3, task_type="intelligence")) == Query(
        source="design-arena", arena="models", task_type="intelligence"
    )
    assert arena_query_of(MODELS) is None
    assert arena_query_of(Query(source="artificial-analysis")) is None


def test_a_plan_groups_only_where_it_saves_requests() -> None:
    """Two categories of one arena share a page; a lone one, or one per arena, does not."""
    gamedev = Query(source="design-arena", category="gamedev", max_results=5)
    other_arena = Query(source="design-arena", arena="agents", category="svg")
    other_task = svg(task_type="intelligence")
    assert plan([svg(), gamedev, other_arena, other_task, Query()]) == {
        svg(): MODELS,
        gamedev: MODELS,
    }
    assert plan([svg(), other_arena]) == {}
    assert plan([svg(), MODELS]) == {svg(): MODELS, MODELS: MODELS}
    assert plan([Query(source="openrouter"), MODELS]) == {}


@pytest.mark.parametrize("limit", [None, 1, 7, 200])
def test_a_whole_page_gives_the_servers_category_answer(limit: int | None) -> None:
    """Cut from a whole arena page: the fake's own answer, with the arena page's flags."""
    arena = ArenaPage.of(page_of(arena_document(), from_cache=True, stale=True))
    query = svg(max_results=limit)
    view = arena.view(query)
    assert view is not None
    assert unstructure_page(view) == DATA.payload(query.params)
    assert (view.query, view.derived_from, view.fetched_at) == (query, MODELS, FETCHED)
    assert view.from_cache
    assert view.stale
    assert view.meta.raw_as_of == arena.page.meta.raw_as_of


def test_ties_keep_the_servers_order() -> None:
    """Equal scores stay in the order the server listed them: nothing is sorted again."""
    data = [item for item in arena_document()["data"] if item["category"] == "svg"][:4]
    tied = [{**item, "elo": 1000.0} for item in reversed(data)]
    view = ArenaPage.of(page_of(arena_document(data=tied))).view(svg(max_results=3))
    assert view is not None
    assert [item.model_permaslug for item in view.items] == [i["model_permaslug"] for i in tied][:3]


def test_a_page_that_may_be_cut_proves_only_a_short_prefix() -> None:
    """50 items without max_results: a category's first N if it holds N, else nothing."""
    cut = arena_document(data=arena_document()["data"][:50])
    arena = ArenaPage.of(page_of(cut))
    assert arena.page.may_be_cut
    held = sum(item["category"] == "codecategories" for item in cut["data"])
    first = Query(source="design-arena", category="codecategories", max_results=held)
    view = arena.view(first)
    assert view is not None
    assert view.may_be_cut  # as many as asked: the category may hold more
    assert unstructure_page(view) == DATA.payload(first.params)
    assert arena.view(first.evolve(max_results=held + 1)) is None
    assert arena.view(first.evolve(max_results=None)) is None


def test_over_a_hundred_needs_a_page_that_proves_no_cap() -> None:
    """max_results over the guide's 100: cut only when the page shows the server sent all."""
    svgs = [i for i in arena_document()["data"] if i["category"] == "svg"]
    short = arena_document(data=svgs[:20])
    assert ArenaPage.of(page_of(short)).view(svg(max_results=101)) is None
    assert ArenaPage.of(page_of(short)).view(svg(max_results=100)) is not None
    assert ArenaPage.of(page_of(arena_document())).view(svg(max_results=101)) is not None


@pytest.mark.parametrize(
    "stranger",
    [{"arena": "agents"}, {"source": "artificial-analysis"}],
    ids=["another-arena", "another-source"],
)
def test_an_item_it_cannot_place_stops_every_cut(stranger: dict[str, Any]) -> None:
    """An item of another arena or source on the page: the server's answer is unknown."""
    data = arena_document()["data"]
    odd = {**data[0], **stranger}
    if "source" in stranger:
        odd = {
            "source": "artificial-analysis",
            "model_permaslug": "x/y",
            "display_name": "Y",
            "intelligence_index": None,
            "coding_index": None,
            "agentic_index": None,
            "pricing": None,
        }
    arena = ArenaPage.of(page_of(arena_document(data=[*data, odd])))
    assert arena.by_category is None
    assert arena.view(svg()) is None


def test_a_cut_page_is_whole_without_max_results() -> None:
    """A derived page of exactly 50 items and no max_results was cut from a whole page."""
    data = [i for i in arena_document()["data"] if i["category"] == "svg"]
    many = [*(data * 2)[:50], {**data[0], "category": "3d"}]
    view = ArenaPage.of(page_of(arena_document(data=many))).view(svg())
    assert view is not None
    assert len(view) == 50
    assert not view.may_be_cut
    assert view.meta.model_count == len({item["model_permaslug"] for item in many[:50]})
    assert page_of(arena_document(data=many[:50]), svg()).may_be_cut  # as sent, it may be
