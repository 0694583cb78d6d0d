"""The whole-data-set view: what it fetches, the names it resolves, and the answers it gives."""

from __future__ import annotations

import contextlib
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import attrs
import pytest

from openrouter_bench import (
    AmbiguousModelError,
    ArtificialAnalysisItem,
    BenchmarksClient,
    Catalog,
    CatalogPart,
    InvalidQueryError,
    Meta,
    ModelStanding,
    Page,
    Pricing,
    Query,
    RetryPolicy,
    TaskType,
    UnknownModelError,
)
from openrouter_bench.answers import PER_MILLION_TOKENS, PER_TASK
from openrouter_bench.fake import FakeOpenRouter, FakeTime
from openrouter_bench.records import blended_price
from tests.conftest import CANARY_KEY

TTL = 600.0
PARTS = (
    "artificial-analysis",
    "openrouter",
    "design-arena models",
    "design-arena builders",
    "design-arena agents",
)


@pytest.fixture
def make_client(fake: FakeOpenRouter, fake_time: FakeTime) -> Callable[..., BenchmarksClient]:
    """BenchmarksClient against the fake, on the fake clock, with zero-wait retries."""

    def make(**options: Any) -> BenchmarksClient:
        options.setdefault("base_url", fake.url)
        options.setdefault("retry", RetryPolicy.no_wait())
        options.setdefault("ttl", TTL)
        options.setdefault("clock", fake_time.time)
        options.setdefault("quota", None)
        return BenchmarksClient(CANARY_KEY, **options)

    return make


@pytest.fixture
async def catalog(
    fake: FakeOpenRouter, make_client: Callable[..., BenchmarksClient]
) -> AsyncIterator[Catalog]:
    """A catalog loaded from the fake."""
    async with make_client() as client:
        yield await Catalog.load(client)


def items(fake: FakeOpenRouter) -> list[dict[str, Any]]:
    """Every item of the fake's current data set, as JSON."""
    data: list[dict[str, Any]] = fake.payload({})["data"]
    return data


async def test_load_sends_one_request_per_source_and_arena(
    fake: FakeOpenRouter, catalog: Catalog
) -> None:
    """Loading asks once for each source and each Design Arena arena, nothing more."""
    sent = sorted(tuple(sorted(r.params.items())) for r in fake.requests)
    assert sent == sorted(
        [
            (("source", "artificial-analysis"),),
            (("source", "openrouter"),),
            (("arena", "models"), ("source", "design-arena")),
            (("arena", "builders"), ("source", "design-arena")),
            (("arena", "agents"), ("source", "design-arena")),
        ]
    )
    assert tuple(part.name for part in catalog.parts) == PARTS
    for part in catalog.parts:
        assert part.complete
        assert not part.failed
        assert part.as_of == fake.as_of
        assert part.citation == fake.payload({"source": part.source})["meta"]["citation"]


async def test_every_model_resolves_by_slug_tail_and_display_names(
    fake: FakeOpenRouter, catalog: Catalog
) -> None:
    """Every model of the data set resolves by its id, the part after '/', and each display name."""
    names: dict[str, set[str]] = {}
    for item in items(fake):
        names.setdefault(item["model_permaslug"], set()).add(item["display_name"])
    assert set(catalog.models) == set(names)
    # No two models of the fake share a name (an AmbiguousModelError would fail the test).
    for slug, shown in names.items():
        assert catalog.resolve(slug) == slug
        assert catalog.resolve(slug.upper()) == slug
        for name in (slug.rsplit("/", 1)[-1], *shown):
            assert catalog.resolve(name) == slug, name


async def test_names_resolve_across_sources_styles(catalog: Catalog) -> None:
    """OpenRouter's 'Vendor: Name' and the others' plain names, in any case and punctuation."""
    for name in (
        "MoonshotAI: Kimi K2 Thinking",
        "Kimi K2 Thinking",
        "kimi-k2-thinking",
        "KIMI k2 thinking",
        "moonshotai kimi k2 thinking",
        "  moonshotai/Kimi-K2-Thinking ",
    ):
        assert catalog.resolve(name) == "moonshotai/kimi-k2-thinking", name


async def test_a_design_arena_own_id_resolves(fake: FakeOpenRouter, catalog: Catalog) -> None:
    """Models Design Arena lists under its own id (no price) resolve by that id and name."""
    own = [item for item in items(fake) if item["source"] == "design-arena" and not item["pricing"]]
    assert own
    for item in own:
        assert catalog.resolve(item["model_permaslug"]) == item["model_permaslug"]
        assert catalog.resolve(item["display_name"]) == item["model_permaslug"]


@pytest.mark.parametrize(
    ("typo", "meant"),
    [
        ("kimi k2 thinkin", "moonshotai/kimi-k2-thinking"),
        ("Claude Sonet 4.5", "anthropic/claude-sonnet-4.5"),
        ("gemini 2.5 prro", "google/gemini-2.5-pro"),
        ("loveable", "lovable"),
    ],
)
async def test_a_near_miss_gets_suggestions(catalog: Catalog, typo: str, meant: str) -> None:
    """A misspelt name raises UnknownModelError suggesting the model meant."""
    with pytest.raises(UnknownModelError) as caught:
        catalog.resolve(typo)
    assert meant in caught.value.suggestions
    assert caught.value.name == typo
    assert caught.value.missing == ()


async def test_a_huge_name_is_cut_before_matching(catalog: Catalog) -> None:
    """A megabyte of name is refused quickly, its message short, not matched in full."""
    started = time.monotonic()
    with pytest.raises(UnknownModelError) as caught:
        catalog.resolve("kimi " * 200_000)
    assert time.monotonic() - started < 5
    assert len(str(caught.value)) < 1000


async def test_a_far_miss_gets_no_suggestions(catalog: Catalog) -> None:
    """A name like nothing in the data raises UnknownModelError with no suggestions."""
    with pytest.raises(UnknownModelError) as caught:
        catalog.resolve("zzzzqqqq")
    assert caught.value.suggestions == ()


async def test_a_shared_name_is_ambiguous(make_client: Callable[..., BenchmarksClient]) -> None:
    """A name two models answer to lists both as candidates instead of picking one."""
    async with make_client() as client:
        loaded = await Catalog.load(client)
    # Two vendors' models that share the part after '/': only a full id tells them apart.
    shared = _ambiguous_catalog(loaded)
    assert shared.resolve("qwen/qwen3-max") == "qwen/qwen3-max"
    with pytest.raises(AmbiguousModelError) as caught:
        shared.resolve("qwen3-max")
    assert caught.value.candidates == ("other-vendor/qwen3-max", "qwen/qwen3-max")


def _ambiguous_catalog(loaded: Catalog) -> Catalog:
    """The catalog's Artificial Analysis part, with a second vendor's qwen3-max added."""
    part = next(p for p in loaded.parts if p.name == "artificial-analysis")
    page = part.pages[0]
    twin = ArtificialAnalysisItem(
        model_permaslug="other-vendor/qwen3-max",
        display_name="Other Qwen3 Max",
        intelligence_index=1.0,
        coding_index=None,
        agentic_index=None,
        pricing=None,
    )
    extended = attrs.evolve(page, items=(*page.items, twin))
    return Catalog([CatalogPart(part.name, part.source, part.queries, (extended,))])


def expected_rankings(fake: FakeOpenRouter) -> dict[str, list[tuple[str, float, dict[str, Any]]]]:
    """Every ranking computed straight from the fake's JSON: (model, score, item), best first."""
    rankings: dict[str, dict[str, tuple[float, int, dict[str, Any]]]] = {}
    for order, item in enumerate(items(fake)):
        source = item["source"]
        entries: list[tuple[str, float | None]]
        if source == "artificial-analysis":
            entries = [
                (f"artificial-analysis {task}", item[f"{task}_index"])
                for task in ("intelligence", "coding", "agentic")
            ]
        elif source == "design-arena":
            entries = [(f"design-arena {item['arena']}/{item['category']}", item["elo"])]
        else:
            score = item.get("primary_score", item.get("accuracy"))
            entries = [(f"openrouter {item['benchmark_type']}", score)]
        for name, score in entries:
            if score is None:
                continue
            held = rankings.setdefault(name, {}).get(item["model_permaslug"])
            if held is None or score > held[0]:
                rankings[name][item["model_permaslug"]] = (score, order, item)
    return {
        name: [
            (model, score, item)
            for model, (score, _, item) in sorted(
                models.items(), key=lambda entry: (-entry[1][0], entry[1][1])
            )
        ]
        for name, models in rankings.items()
    }


def price_of(item: dict[str, Any]) -> Decimal | None:
    """The price an item is judged by, computed from its JSON."""
    if item["source"] == "openrouter":
        cost = item["avg_cost_per_task"]
        return None if cost is None else Decimal(repr(cost))
    pricing = item["pricing"]
    if pricing is None:
        return None
    prompt, completion = Decimal(pricing["prompt"]), Decimal(pricing["completion"])
    return (3 * prompt + completion) / 4 * 1_000_000


async def test_a_model_everywhere(fake: FakeOpenRouter, catalog: Catalog) -> None:
    """One model's rank and score in every ranking it is in, as the data has them."""
    report = catalog.model("Kimi K2 Thinking")
    assert report.model == "moonshotai/kimi-k2-thinking"
    assert "MoonshotAI: Kimi K2 Thinking" in report.display_names
    expected = {
        name: (rank, score)
        for name, rows in expected_rankings(fake).items()
        for rank, (model, score, _) in enumerate(rows, start=1)
        if model == report.model
    }
    assert {s.ranking: (s.rank, s.score) for s in report.standings} == expected
    assert {s.source for s in report.standings} >= {"artificial-analysis", "openrouter"}
    used = {s.source for s in report.standings}
    assert len(report.citations) == len(used)
    assert report.missing == ()
    assert report.incomplete == ()


async def test_every_ranking_matches_the_data(fake: FakeOpenRouter, catalog: Catalog) -> None:
    """Each ranking holds every ranked model once, in score order, with its price."""
    expected = expected_rankings(fake)
    assert set(catalog.rankings) == set(expected)
    for name, rows in expected.items():
        got = catalog.ranking(name)
        assert [(row.model, row.score) for row in got] == [(m, s) for m, s, _ in rows]
        assert [row.price for row in got] == [price_of(item) for _, _, item in rows]
        assert [row.rank for row in got] == list(range(1, len(rows) + 1))


async def test_compare_side_by_side(catalog: Catalog) -> None:
    """Compared models line up ranking by ranking; a model absent from one has None there."""
    comparison = catalog.compare("openai/gpt-5", "Kimi K2 Thinking", "lovable")
    assert comparison.models == ("openai/gpt-5", "moonshotai/kimi-k2-thinking", "lovable")
    for row in comparison.rows:
        assert len(row.standings) == 3
        assert any(standing is not None for standing in row.standings)
        for model, standing in zip(comparison.models, row.standings, strict=True):
            if standing is not None:
                assert standing.model == model
                assert standing.ranking == row.ranking
    rankings = {row.ranking for row in comparison.rows}
    assert any(name.startswith("design-arena builders/") for name in rankings)
    assert len(comparison.citations) == 3


async def test_compare_takes_two_or_more(catalog: Catalog) -> None:
    """Comparing one model is refused."""
    with pytest.raises(InvalidQueryError):
        catalog.compare("openai/gpt-5")


def brute_best(
    rows: list[tuple[str, float, dict[str, Any]]], ceiling: Decimal | None, limit: int
) -> list[str]:
    """The best models under a ceiling, by looking at every row."""
    kept = [
        model
        for model, _, item in rows
        if ceiling is None or ((price := price_of(item)) is not None and price <= ceiling)
    ]
    return kept[:limit]


def brute_frontier(rows: list[tuple[str, float, dict[str, Any]]]) -> set[str]:
    """The models no other beats on both price and score, by comparing every pair."""
    priced = [(m, s, p) for m, s, item in rows if (p := price_of(item)) is not None]
    return {
        m
        for m, s, p in priced
        if not any(p2 <= p and s2 >= s and (p2 < p or s2 > s) for _, s2, p2 in priced)
    }


@pytest.mark.parametrize("task", list(TaskType))
@pytest.mark.parametrize("ceiling", [None, Decimal("0.5"), Decimal(2), Decimal(10)])
async def test_best_under_a_price_matches_brute_force(
    fake: FakeOpenRouter, catalog: Catalog, task: TaskType, ceiling: Decimal | None
) -> None:
    """The best models under a price, per ranking, are what a look at every row finds."""
    cost_ceiling = None if ceiling is None else ceiling / 100
    answers = catalog.best(task, max_price=ceiling, max_cost_per_task=cost_ceiling, limit=7)
    expected = expected_rankings(fake)
    assert answers.rankings
    for answer in answers.rankings:
        unit_ceiling = cost_ceiling if answer.source == "openrouter" else ceiling
        assert answer.ceiling == unit_ceiling
        assert answer.price_unit == (
            PER_TASK if answer.source == "openrouter" else PER_MILLION_TOKENS
        )
        assert [row.model for row in answer.rows] == brute_best(
            expected[answer.ranking], unit_ceiling, 7
        )
        assert {row.source for row in answer.rows} <= {answer.source}
        assert answer.citation in answers.citations
    assert len(answers.citations) == len({a.source for a in answers.rankings})


async def test_best_for_coding_spans_its_rankings(catalog: Catalog) -> None:
    """Coding is answered per ranking: Artificial Analysis's index and each codecategories."""
    answers = catalog.best(TaskType.CODING, max_price=2)
    assert [a.ranking for a in answers.rankings] == [
        "artificial-analysis coding",
        "design-arena models/codecategories",
        "design-arena builders/codecategories",
        "design-arena agents/codecategories",
    ]
    for answer in answers.rankings:
        assert all(row.price is not None and row.price <= 2 for row in answer.rows)


@pytest.mark.parametrize("task", [*TaskType, "design-arena models/gamedev"])
async def test_frontier_matches_brute_force(
    fake: FakeOpenRouter, catalog: Catalog, task: str
) -> None:
    """The Pareto frontier of each ranking is the set no pair comparison can beat."""
    expected = expected_rankings(fake)
    answers = catalog.frontier(task)
    assert answers.rankings
    for answer in answers.rankings:
        assert {row.model for row in answer.rows} == brute_frontier(expected[answer.ranking])
        prices = [row.price for row in answer.rows]
        assert prices == sorted(p for p in prices if p is not None)
        assert answer.citation is not None


async def test_a_frontier_is_cut_at_each_units_ceiling(catalog: Catalog) -> None:
    """frontier(max_price=, max_cost_per_task=) keeps each frontier's points within its unit's."""
    whole = {a.ranking: a for a in catalog.frontier(TaskType.INTELLIGENCE).rankings}
    cut = catalog.frontier(TaskType.INTELLIGENCE, max_price="3", max_cost_per_task="0.01")
    ceilings = {PER_MILLION_TOKENS: Decimal(3), PER_TASK: Decimal("0.01")}
    assert {a.price_unit for a in cut.rankings} == set(ceilings)
    for answer in cut.rankings:
        ceiling = ceilings[answer.price_unit]
        assert answer.ceiling == ceiling
        kept = [r for r in whole[answer.ranking].rows if r.price is not None and r.price <= ceiling]
        assert list(answer.rows) == kept


async def test_part_of_names_the_part_a_ranking_came_from(catalog: Catalog) -> None:
    """part_of gives a ranking's part; a task type or an unknown name is refused, with hints."""
    assert catalog.part_of("design-arena builders/website").name == "design-arena builders"
    assert catalog.part_of("openrouter gpqa_diamond").name == "openrouter"
    assert catalog.part_of("artificial-analysis coding").name == "artificial-analysis"
    with pytest.raises(InvalidQueryError, match="a task type, not one ranking"):
        catalog.part_of("coding")
    with pytest.raises(InvalidQueryError, match="did you mean 'design-arena models/svg'"):
        catalog.part_of("design-arena models/svgg")


async def test_leaders_of_every_category(fake: FakeOpenRouter, catalog: Catalog) -> None:
    """Every Design Arena arena and category has its top-Elo entry as leader, with a citation."""
    expected = {
        name: rows[0][0]
        for name, rows in expected_rankings(fake).items()
        if name.startswith("design-arena ")
    }
    answers = catalog.leaders()
    assert {a.ranking: a.rows[0].model for a in answers.rankings} == expected
    assert all(a.rows[0].rank == 1 for a in answers.rankings)
    assert answers.citations == (fake.payload({"source": "design-arena"})["meta"]["citation"],)


async def test_a_failed_part_is_reported_missing(
    fake: FakeOpenRouter, make_client: Callable[..., BenchmarksClient]
) -> None:
    """A part whose request failed is kept as failed, and every answer names it as missing."""
    fake.script(500)
    async with make_client(retry=RetryPolicy.never()) as client:
        loaded = await Catalog.load(client)
    failed = [part for part in loaded.parts if part.failed]
    assert len(failed) == 1
    assert failed[0].pages == ()
    assert failed[0].as_of is None
    name = failed[0].name
    assert loaded.model(loaded.models[0]).missing == (name,)
    assert loaded.compare(*loaded.models[:2]).missing == (name,)
    leaders = loaded.leaders()
    assert leaders.missing == ((name,) if name.startswith("design-arena") else ())


async def test_an_unknown_model_names_the_missing_parts(
    fake: FakeOpenRouter, make_client: Callable[..., BenchmarksClient]
) -> None:
    """A name not found while a part is missing says that part was not fetched."""
    fake.script(500, 500, 500, 500, 500)
    async with make_client(retry=RetryPolicy.never()) as client:
        loaded = await Catalog.load(client)
    assert all(part.failed for part in loaded.parts)
    with pytest.raises(UnknownModelError) as caught:
        loaded.resolve("openai/gpt-5")
    assert caught.value.missing == PARTS
    assert "not fetched" in str(caught.value)


async def test_a_page_that_may_be_cut_is_split(
    fake: FakeOpenRouter, make_client: Callable[..., BenchmarksClient]
) -> None:
    """With max_results passed, a full page is asked for again per category or benchmark."""
    async with make_client() as client:
        loaded = await Catalog.load(client, max_results=150)
    by_name = {part.name: part for part in loaded.parts}
    # 385 items in the models arena, 191 in agents, 192 OpenRouter evals: each at the cap.
    for name in ("design-arena models", "design-arena agents", "openrouter"):
        part = by_name[name]
        assert not part.complete
        assert len(part.queries) > 1
        assert all(page.query.max_results == 150 for page in part.pages)
    assert by_name["design-arena builders"].complete
    # Artificial Analysis has no narrower split: its 136 items fit under the cap.
    assert by_name["artificial-analysis"].complete
    expected = expected_rankings(fake)
    for name in catalog_rankings(loaded, "design-arena models/"):
        assert [r.model for r in loaded.ranking(name)] == [m for m, _, _ in expected[name]]
    answers = loaded.best(TaskType.CODING)
    assert "design-arena models" in answers.incomplete
    split = {"design-arena models/codecategories", "design-arena agents/codecategories"}
    assert {a.ranking for a in answers.rankings if not a.complete} == split


def catalog_rankings(loaded: Catalog, prefix: str) -> list[str]:
    """The catalog's rankings whose names start with ``prefix``."""
    return [name for name in loaded.rankings if name.startswith(prefix)]


async def test_a_part_that_cannot_be_split_is_flagged(
    make_client: Callable[..., BenchmarksClient],
) -> None:
    """A cut Artificial Analysis page is kept, flagged incomplete, not silently whole."""
    async with make_client() as client:
        loaded = await Catalog.load(client, max_results=20)
    part = loaded.parts[0]
    assert part.name == "artificial-analysis"
    assert not part.complete
    assert len(part.pages[0].items) == 20
    assert "artificial-analysis" in loaded.model(loaded.models[0]).incomplete


def page_of(count: int, max_results: int | None = None) -> Page:
    """A page of ``count`` Artificial Analysis items, as asked for with ``max_results``."""
    item = ArtificialAnalysisItem("a/b", "B", 1.0, None, None, None)
    moment = datetime(2026, 6, 3, tzinfo=UTC)
    meta = Meta(moment, "v1", "artificial-analysis", None, None, 1, None)
    query = Query(source="artificial-analysis", max_results=max_results)
    return Page((item,) * count, meta, query, moment)


def test_a_page_at_a_cap_may_be_cut() -> None:
    """Without max_results, 50 items may be the guide's cap; with it, reaching it is."""
    assert page_of(50).may_be_cut
    assert not page_of(100).may_be_cut  # past the guide's default: no cap was applied
    assert not page_of(49).may_be_cut
    assert page_of(10, max_results=10).may_be_cut
    assert not page_of(9, max_results=10).may_be_cut


def test_blended_price_is_three_to_one() -> None:
    """A price blends three input tokens to one output token, exactly, per million."""
    price = blended_price(Pricing(Decimal("0.0000025"), Decimal("0.00001")))
    assert price == Decimal("4.375")
    assert blended_price(Pricing(Decimal("0.000001"), None)) is None
    assert blended_price(None) is None


async def test_bad_questions_are_refused(catalog: Catalog) -> None:
    """An unknown task, a float price or a bad limit raises InvalidQueryError."""
    with pytest.raises(InvalidQueryError, match="neither a task type"):
        catalog.best("design-arena models/gamedevv")
    with pytest.raises(InvalidQueryError, match="floats are inexact"):
        catalog.best(TaskType.CODING, max_price=2.5)  # type: ignore[arg-type]
    with pytest.raises(InvalidQueryError, match="limit"):
        catalog.best(TaskType.CODING, limit=0)
    with pytest.raises(InvalidQueryError):
        catalog.resolve(3)  # type: ignore[arg-type]


async def test_a_bot_of_a_thousand_questions(
    fake: FakeOpenRouter, fake_time: FakeTime, make_client: Callable[..., BenchmarksClient]
) -> None:
    """1,000 mixed questions cost one request per part per as_of, plus one per part per ttl."""
    rng = random.Random(5)
    async with make_client() as client:
        loaded = await Catalog.load(client)
        models = list(loaded.models)
        current = loaded
        rebuilt = 0
        for question in range(1000):
            if question == 400:
                fake_time.advance(TTL + 1)  # same as_of: each part asked again once
            if question == 700:
                fake.publish()  # a new as_of, unseen until the pointers expire
            if question == 800:
                fake_time.advance(TTL + 1)
            fresh = await Catalog.load(client, reuse=current)
            rebuilt += fresh is not current
            current = fresh
            ask(current, rng, models)
    assert len(fake.requests) == 3 * len(PARTS)
    asked = Counter(tuple(sorted(record.params.items())) for record in fake.requests)
    assert sorted(asked.values()) == [3] * len(PARTS)
    assert rebuilt == 1  # only the new as_of built a new index
    assert {part.as_of for part in current.parts} == {fake.as_of}


def ask(catalog: Catalog, rng: random.Random, models: list[str]) -> None:
    """One question of a chat bot, drawn at random, answered."""
    kind = rng.randrange(5)
    if kind == 0:
        # A model that left the data set after a publish is unknown now: an answer too.
        with contextlib.suppress(UnknownModelError):
            catalog.model(rng.choice(models))
    elif kind == 1:
        with contextlib.suppress(UnknownModelError):
            catalog.compare(*rng.sample(models, 2))
    elif kind == 2:
        catalog.best(rng.choice(list(TaskType)), max_price=Decimal(rng.choice((1, 2, 5))))
    elif kind == 3:
        catalog.frontier(rng.choice(list(TaskType)))
    else:
        catalog.leaders()


async def test_answers_are_frozen_records(catalog: Catalog) -> None:
    """A standing cannot be changed after the catalog handed it out."""
    standing = catalog.model("openai/gpt-5").standings[0]
    assert isinstance(standing, ModelStanding)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        standing.rank = 0  # type: ignore[misc]
