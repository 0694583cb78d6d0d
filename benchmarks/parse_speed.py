"""How fast a benchmarks document becomes records: this package's converter against the obvious
alternatives, per item and per 10,000 mixed items.

    python benchmarks/parse_speed.py [--items 10000] [--repeat 7]

Rows:
  orjson.loads              bytes -> dicts only; the floor every typed reader pays
  msgspec.json.decode       the same floor with msgspec, when it is installed (untyped)
  decode_page               bytes -> Page with this package's converter (validated)
  structure_page            decoded dicts -> Page (the converter alone)
  encode_page               Page -> bytes, the way back (what a cache write costs)
  cattrs, generated hooks   decoded dicts -> the same records with a fresh cattrs.Converter
                            (make_dict_structure_fn hooks, detailed validation on and off),
                            dispatched by source like ours; no extras kept, types unchecked

The document is synthetic and deterministic: the four known item shapes in equal
parts, with prices, nulls, run_config on half the search items and a few extra keys.
"""

from __future__ import annotations

import argparse
import importlib
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import cattrs
import orjson

from openrouter_bench._convert import decode_page, encode_page, structure_page
from openrouter_bench.models import (
    ArtificialAnalysisItem,
    DesignArenaItem,
    OpenRouterEvalItem,
    SearchEvalItem,
)
from openrouter_bench.query import Query

_CATEGORIES = ("codecategories", "uicomponent", "gamedev", "3d", "dataviz", "image", "svg")
_TIMESTAMPS = tuple(f"2026-0{month}-1{day}T0{day}:30:00Z" for month in (4, 5) for day in range(6))


def _pricing(rng: random.Random) -> dict[str, str] | None:
    if rng.random() < 0.2:
        return None
    prompt = Decimal(rng.randint(1, 150)) / Decimal(10_000_000)
    return {"prompt": format(prompt, "f"), "completion": format(prompt * 4, "f")}


def _item(rng: random.Random, index: int) -> dict[str, Any]:
    slug = f"vendor-{index % 37}/model-{index % 211}"
    common = {"model_permaslug": slug, "display_name": f"Model {index % 211}"}
    shape = index % 4
    if shape == 0:
        return {
            "source": "artificial-analysis",
            **common,
            "intelligence_index": round(rng.uniform(20, 75), 1),
            "coding_index": rng.choice([None, round(rng.uniform(10, 70), 1)]),
            "agentic_index": rng.randint(5, 60),
            "pricing": _pricing(rng),
        }
    if shape == 1:
        stats = [rng.randint(0, 400) for _ in range(4)]
        return {
            "source": "design-arena",
            **common,
            "arena": "models",
            "category": rng.choice(_CATEGORIES),
            "elo": round(rng.uniform(900, 1400), 2),
            "win_rate": round(rng.uniform(5, 95), 2),
            "avg_generation_time_ms": rng.choice([None, rng.randint(2_000, 90_000)]),
            "tournament_stats": {
                "first_place": stats[0],
                "second_place": stats[1],
                "third_place": stats[2],
                "fourth_place": None if index % 9 == 0 else stats[3],
                "total": sum(stats),
            },
            "pricing": _pricing(rng),
        }
    if shape == 2:
        return {
            "source": "openrouter",
            **common,
            "benchmark_type": rng.choice(["gpqa_diamond", "tau_bench_verified_airline"]),
            "accuracy": round(rng.random(), 4),
            "accuracy_stddev": rng.choice([None, round(rng.random() / 10, 4)]),
            "avg_cost_per_task": round(rng.random() / 50, 6),
            "total_tasks": rng.choice([198, 200, 448]),
            "last_run_timestamp": rng.choice(_TIMESTAMPS),
        }
    search: dict[str, Any] = {
        "source": "openrouter",
        **common,
        "benchmark_type": rng.choice(["search_browsecomp", "search_hle", "search_dsqa"]),
        "primary_metric": "accuracy",
        "primary_score": round(rng.random(), 4),
        "avg_cost_per_task": round(rng.random() / 20, 6),
        "avg_latency_per_task_ms": rng.randint(3_000, 120_000),
        "search_engine": rng.choice(["exa", "native"]),
        "search_surface": rng.choice(["server-tool", "plugin"]),
        "total_tasks": 300,
        "last_run_timestamp": rng.choice(_TIMESTAMPS),
    }
    if index % 8 == 3:
        search["run_config"] = {
            "max_agent_turns": 20,
            "reasoning_effort": "medium",
            "temperature": None,
        }
    if index % 50 == 7:
        search["notes"] = "rerun after index refresh"
    return search


def make_document(count: int, seed: int = 7) -> dict[str, Any]:
    """A synthetic, valid benchmarks document with ``count`` mixed items."""
    rng = random.Random(seed)
    items = [_item(rng, index) for index in range(count)]
    meta = {
        "as_of": "2026-06-03T12:00:00Z",
        "version": "v1",
        "source": None,
        "source_url": None,
        "citation": None,
        "model_count": 211,
        "task_type": None,
    }
    return {"data": items, "meta": meta}


def _naive_cattrs(detailed_validation: bool) -> Callable[[list[dict[str, Any]]], list[Any]]:
    converter = cattrs.Converter(detailed_validation=detailed_validation)
    converter.register_structure_hook(Decimal, lambda value, _: Decimal(value))
    converter.register_structure_hook(datetime, lambda value, _: datetime.fromisoformat(value))
    by_source: dict[str, type] = {
        "artificial-analysis": ArtificialAnalysisItem,
        "design-arena": DesignArenaItem,
    }
    structure = converter.structure

    def run(items: list[dict[str, Any]]) -> list[Any]:
        out: list[Any] = []
        for item in items:
            cls = by_source.get(item["source"])
            if cls is None:
                search = item["benchmark_type"].startswith("search_")
                cls = SearchEvalItem if search else OpenRouterEvalItem
            out.append(structure(item, cls))
        return out

    return run


def _best_seconds(run: Callable[[], object], repeat: int) -> float:
    run()  # warm caches and generated code before timing
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def _msgspec_rows(body: bytes) -> list[tuple[str, Callable[[], object]]]:
    try:
        msgspec = importlib.import_module("msgspec")
    except ImportError:
        return []
    decoder = msgspec.json.Decoder()
    return [("msgspec.json.decode (untyped)", lambda: decoder.decode(body))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--items", type=int, default=10_000, help="items in the document")
    parser.add_argument("--repeat", type=int, default=7, help="timed runs; the best one counts")
    args = parser.parse_args()

    document = make_document(args.items)
    items = document["data"]
    body = orjson.dumps(document)
    query = Query()
    fetched_at = datetime(2026, 6, 3, 12, 5, tzinfo=UTC)
    naive_detailed = _naive_cattrs(detailed_validation=True)
    naive_plain = _naive_cattrs(detailed_validation=False)
    msgspec_rows = _msgspec_rows(body)
    page = structure_page(document, query=query, fetched_at=fetched_at)

    rows: list[tuple[str, Callable[[], object]]] = [
        ("orjson.loads", lambda: orjson.loads(body)),
        *msgspec_rows,
        (
            "decode_page (bytes -> Page)",
            lambda: decode_page(body, query=query, fetched_at=fetched_at),
        ),
        (
            "structure_page (dicts -> Page)",
            lambda: structure_page(document, query=query, fetched_at=fetched_at),
        ),
        ("encode_page (Page -> bytes)", lambda: encode_page(page)),
        ("cattrs generated hooks, detailed", lambda: naive_detailed(items)),
        ("cattrs generated hooks, plain", lambda: naive_plain(items)),
    ]

    print(f"{args.items} mixed items, {len(body) / 1024:.0f} KiB, best of {args.repeat} runs")
    print(f"{'':36} {'us/item':>9} {'ms/10k items':>13}")
    for name, run in rows:
        seconds = _best_seconds(run, args.repeat)
        per_item_us = seconds / args.items * 1e6
        print(f"{name:36} {per_item_us:9.2f} {per_item_us * 10:13.1f}")
    if not msgspec_rows:
        print("(msgspec is not installed: its row is skipped)")


if __name__ == "__main__":
    main()
