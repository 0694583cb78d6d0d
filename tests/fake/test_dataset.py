"""The fake's data set (openrouter_bench.fake.dataset): seeded, shaped like the contract."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Final

import pytest

from openrouter_bench.fake import DEFAULT_AS_OF, FakeOpenRouter
from openrouter_bench.query import KNOWN_CATEGORIES
from tests.fake.conftest import items_of

TIMESTAMP: Final = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
AA_KEYS: Final = {
    "source",
    "model_permaslug",
    "display_name",
    "intelligence_index",
    "coding_index",
    "agentic_index",
    "pricing",
}
DA_KEYS: Final = {
    "source",
    "model_permaslug",
    "display_name",
    "arena",
    "category",
    "elo",
    "win_rate",
    "avg_generation_time_ms",
    "tournament_stats",
    "pricing",
}
EVAL_KEYS: Final = {
    "source",
    "model_permaslug",
    "display_name",
    "benchmark_type",
    "accuracy",
    "accuracy_stddev",
    "avg_cost_per_task",
    "total_tasks",
    "last_run_timestamp",
}
SEARCH_KEYS: Final = {
    "source",
    "model_permaslug",
    "display_name",
    "benchmark_type",
    "primary_metric",
    "primary_score",
    "avg_cost_per_task",
    "avg_latency_per_task_ms",
    "search_engine",
    "search_surface",
    "total_tasks",
    "last_run_timestamp",
}
PODIUM_KEYS: Final = {"first_place", "second_place", "third_place", "fourth_place", "total"}
RUN_CONFIG_KEYS: Final = {"max_agent_turns", "reasoning_effort", "temperature"}


def test_same_seed_gives_the_same_data() -> None:
    """Two fakes with one seed serve identical bodies; another seed serves different ones."""
    first, again, other = FakeOpenRouter(seed=5), FakeOpenRouter(seed=5), FakeOpenRouter(seed=6)
    assert first.payload() == again.payload()
    assert first.payload() != other.payload()
    first.publish()
    again.publish()
    assert first.payload({"source": "design-arena"}) == again.payload({"source": "design-arena"})


def test_catalog_has_many_realistic_models(data: FakeOpenRouter) -> None:
    """At least 150 distinct models; OpenRouter ids look like vendor/model with display names."""
    everything = items_of(data)
    ids = {item["model_permaslug"] for item in everything}
    assert len(ids) >= 150
    listed = {item["model_permaslug"] for item in items_of(data, source="artificial-analysis")}
    assert all(re.fullmatch(r"[a-z0-9.-]+/[a-z0-9.:-]+", permaslug) for permaslug in listed)
    assert all(item["display_name"].strip() for item in everything)
    assert "openai/gpt-4o" in ids or "openai/gpt-5" in ids


def test_model_count_option_scales_the_catalog() -> None:
    """``models`` sets the catalog size; too small a catalog is refused."""
    big = FakeOpenRouter(seed=2, models=320)
    assessed = items_of(big, source="artificial-analysis")
    assert len({item["model_permaslug"] for item in assessed}) > 250
    with pytest.raises(ValueError, match="models"):
        FakeOpenRouter(models=5)


def test_every_item_has_every_key_of_its_shape(data: FakeOpenRouter) -> None:
    """Each source's items carry exactly the contract's keys; nested objects too."""
    for item in items_of(data, include_run_config="true"):
        if item["source"] == "artificial-analysis":
            assert set(item) == AA_KEYS
        elif item["source"] == "design-arena":
            assert set(item) == DA_KEYS
            assert set(item["tournament_stats"]) == PODIUM_KEYS
        elif item["benchmark_type"].startswith("search_"):
            assert set(item) == SEARCH_KEYS | {"run_config"}
            assert set(item["run_config"]) == RUN_CONFIG_KEYS
        else:
            assert set(item) == EVAL_KEYS
        if item.get("pricing") is not None:
            assert set(item["pricing"]) == {"prompt", "completion"}


def test_nulls_appear_where_the_contract_allows(data: FakeOpenRouter) -> None:
    """Every nullable field is null somewhere and set somewhere else."""
    every = items_of(data, include_run_config="true")

    def values(source: str, path: tuple[str, ...]) -> list[Any]:
        found = []
        for item in every:
            if item["source"] != source or path[0] not in item:
                continue
            value = item
            for step in path:
                value = value[step]
            found.append(value)
        return found

    nullable = [
        ("artificial-analysis", ("intelligence_index",)),
        ("artificial-analysis", ("coding_index",)),
        ("artificial-analysis", ("agentic_index",)),
        ("artificial-analysis", ("pricing",)),
        ("design-arena", ("avg_generation_time_ms",)),
        ("design-arena", ("pricing",)),
        ("design-arena", ("tournament_stats", "total")),
        ("design-arena", ("tournament_stats", "fourth_place")),
        ("openrouter", ("accuracy_stddev",)),
        ("openrouter", ("avg_cost_per_task",)),
        ("openrouter", ("avg_latency_per_task_ms",)),
        ("openrouter", ("run_config", "max_agent_turns")),
        ("openrouter", ("run_config", "reasoning_effort")),
        ("openrouter", ("run_config", "temperature")),
    ]
    for source, path in nullable:
        seen = values(source, path)
        assert None in seen, path
        assert any(value is not None for value in seen), path


def test_unmapped_design_arena_models_have_no_pricing(data: FakeOpenRouter) -> None:
    """Design Arena lists its own ids (pricing null) next to OpenRouter ids (priced)."""
    arena_items = items_of(data, source="design-arena", arena="builders") + items_of(
        data, source="design-arena"
    )
    unmapped = [item for item in arena_items if item["pricing"] is None]
    mapped = [item for item in arena_items if item["pricing"] is not None]
    assert unmapped
    assert mapped
    assert all("/" not in item["model_permaslug"] for item in unmapped)
    assert all("/" in item["model_permaslug"] for item in mapped)


def test_prices_are_exact_decimal_strings(data: FakeOpenRouter) -> None:
    """Prices are per-token decimal strings, like "0.0000025", never floats."""
    prices = [
        value
        for item in items_of(data, source="artificial-analysis")
        if item["pricing"] is not None
        for value in item["pricing"].values()
    ]
    assert prices
    assert all(isinstance(price, str) and Decimal(price) >= 0 for price in prices)
    assert all("e" not in price.lower() for price in prices)
    assert any(Decimal(price) < Decimal("0.001") and price != "0" for price in prices)


def test_every_arena_has_the_known_categories(data: FakeOpenRouter) -> None:
    """Each arena ranks models in at least the contract's eight categories."""
    for arena in ("models", "builders", "agents"):
        items = items_of(data, source="design-arena", arena=arena)
        categories = {item["category"] for item in items}
        assert set(KNOWN_CATEGORIES) <= categories, arena
        assert {item["arena"] for item in items} == {arena}


def test_design_arena_rankings_are_consistent(data: FakeOpenRouter) -> None:
    """Sorted by elo, the top of a ranking wins more and takes more first places."""
    items = items_of(data, source="design-arena", category="gamedev")
    elos = [item["elo"] for item in items]
    assert elos == sorted(elos, reverse=True)
    quarter = len(items) // 4
    top, bottom = items[:quarter], items[-quarter:]
    assert sum(i["win_rate"] for i in top) > sum(i["win_rate"] for i in bottom)

    def first_share(group: list[dict[str, Any]]) -> float:
        known = [i["tournament_stats"] for i in group if i["tournament_stats"]["total"]]
        shares: list[float] = [stats["first_place"] / stats["total"] for stats in known]
        return sum(shares) / len(shares)

    assert first_share(top) > first_share(bottom)
    for item in items:
        stats = item["tournament_stats"]
        assert 0 <= item["win_rate"] <= 100
        if stats["total"] is not None and stats["fourth_place"] is not None:
            places = stats["first_place"] + stats["second_place"] + stats["third_place"]
            assert places + stats["fourth_place"] == stats["total"]


def test_openrouter_evals_cover_every_benchmark(data: FakeOpenRouter) -> None:
    """Both classic evals and all four search evals, over several engines and both surfaces."""
    items = items_of(data, source="openrouter")
    assert {item["benchmark_type"] for item in items} == {
        "gpqa_diamond",
        "tau_bench_verified_airline",
        "search_browsecomp",
        "search_hle",
        "search_dsqa",
        "search_widesearch",
    }
    search = [item for item in items if item["benchmark_type"].startswith("search_")]
    assert len({item["search_engine"] for item in search}) >= 2
    assert {item["search_surface"] for item in search} == {"server-tool", "plugin"}
    assert {item["primary_metric"] for item in search} == {"accuracy", "f1_by_item"}
    assert all(0 <= item["accuracy"] <= 1 for item in items if "accuracy" in item)
    assert all("run_config" not in item for item in items)


def test_timestamps_use_the_api_format(data: FakeOpenRouter) -> None:
    """meta.as_of and every last_run_timestamp read YYYY-MM-DDTHH:MM:SSZ."""
    body = data.payload({"source": "openrouter"})
    assert body["meta"]["as_of"] == "2026-06-03T12:00:00Z"
    assert all(TIMESTAMP.fullmatch(item["last_run_timestamp"]) for item in body["data"])


def ranking(
    fake: FakeOpenRouter, params: Mapping[str, str], as_of: datetime | None = None
) -> list[str]:
    """Model ids of one ranking, best first."""
    body = fake.payload(params) if as_of is None else fake.payload_at(as_of, params)
    return [item["model_permaslug"] for item in body["data"]]


def test_publish_moves_ranks_and_keeps_old_snapshots() -> None:
    """publish drifts scores (ranks move), turns models over, and keeps payload_at readable."""
    fake = FakeOpenRouter(seed=3)
    first = fake.as_of
    rankings = [
        {"source": "artificial-analysis"},
        {"source": "design-arena", "category": "svg"},
        {"source": "openrouter", "benchmark_type": "gpqa_diamond"},
    ]
    before = [fake.payload(params) for params in rankings]
    second = fake.publish()
    assert second == first + timedelta(days=1) == fake.as_of
    for params, old in zip(rankings, before, strict=True):
        new_ids, old_ids = ranking(fake, params), ranking(fake, params, first)
        common = [permaslug for permaslug in new_ids if permaslug in old_ids]
        moved = sum(
            [p for p in old_ids if p in common].index(permaslug) != index
            for index, permaslug in enumerate(common)
        )
        assert moved >= 3, params
        assert fake.payload_at(first, params) == old
    assessed_before, assessed_after = (
        set(ranking(fake, {"source": "artificial-analysis"}, first)),
        set(ranking(fake, {"source": "artificial-analysis"})),
    )
    assert assessed_after - assessed_before  # some entered
    assert assessed_before - assessed_after  # some left
    assert fake.payload()["meta"]["as_of"] == "2026-06-04T12:00:00Z"
    assert fake.payload_at(first)["meta"]["as_of"] == "2026-06-03T12:00:00Z"
    assert fake.published == [first, second]


def test_publish_checks_its_as_of() -> None:
    """as_of must be aware and later than the current one; unknown snapshots are not found."""
    fake = FakeOpenRouter()
    with pytest.raises(ValueError, match="later"):
        fake.publish(as_of=DEFAULT_AS_OF)
    with pytest.raises(ValueError, match="timezone"):
        fake.publish(as_of=datetime(2030, 1, 1))
    with pytest.raises(LookupError):
        fake.payload_at(DEFAULT_AS_OF + timedelta(hours=1))
    chosen = fake.publish(as_of=datetime(2026, 9, 1, 8, 30, 15, 999, tzinfo=UTC))
    assert chosen == datetime(2026, 9, 1, 8, 30, 15, tzinfo=UTC)
