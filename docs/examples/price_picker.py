"""A price-aware picker: for each task, the best model within a budget, and what more money buys.

    python price_picker.py --budget 2                      # USD per million tokens
    python price_picker.py --budget 2 --per-task 0.01      # and USD per task for evals

For every task (coding, intelligence, agentic, search) and every ranking that
answers it, it prints the best model priced within the budget, then that
ranking's Pareto frontier up to the budget: the models no other beats on both
score and price, cheapest first, so each step shows what the next dollar buys.

Prices come in two units that never mix: Artificial Analysis and Design Arena
price tokens (blended per million tokens, three input tokens to one output
token, as Artificial Analysis blends them), OpenRouter's evals price a task.
``--budget`` limits the first and ``--per-task`` the second; a ranking whose unit
has no limit is shown unlimited, and says so. Scores of different rankings do
not compare either, so each ranking is its own list.

The data set is loaded once, in five requests (none while the on-disk cache of
the openrouter-bench command holds it), and the citations to show are printed
with each part's ``as_of``.
"""

from __future__ import annotations

import argparse
import asyncio
from decimal import Decimal

from openrouter_bench import (
    BenchmarksClient,
    Catalog,
    RankingAnswer,
    TaskType,
    default_cli_cache_path,
)


def price(amount: Decimal | None) -> str:
    """A price exactly as computed; its unit is the ranking's."""
    return "unknown" if amount is None else f"${amount.normalize():f}"


def limit(answer: RankingAnswer) -> str:
    """The ranking's unit and the budget applied in it."""
    within = "no limit" if answer.ceiling is None else f"within {price(answer.ceiling)}"
    return f"prices in {answer.price_unit}, {within}"


def pick(catalog: Catalog, task: TaskType, budget: Decimal, per_task: Decimal | None) -> None:
    """Print the task's picks, ranking by ranking."""
    best = catalog.best(task, max_price=budget, max_cost_per_task=per_task, limit=1)
    frontiers = catalog.frontier(task, max_price=budget, max_cost_per_task=per_task)
    steps = {answer.ranking: answer.rows for answer in frontiers.rankings}
    print(f"== {task.value}")
    for answer in best.rankings:
        print(f"{answer.ranking} ({limit(answer)}):")
        if not answer.rows:
            print("  no model is priced within it")
            continue
        top = answer.rows[0]
        print(
            f"  pick: {top.display_name}, #{top.rank} of {top.entries}, "
            f"score {top.score:g}, {price(top.price)}"
        )
        print("  what each step up in price buys (the Pareto frontier):")
        previous = None
        for row in steps.get(answer.ranking, ()):
            gain = "" if previous is None else f" (+{row.score - previous.score:.3g})"
            print(f"    {price(row.price)}: {row.display_name}, score {row.score:g}{gain}")
            previous = row
    for name in best.missing:
        print(f"  (not fetched, so not looked at: {name})")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--budget",
        type=Decimal,
        required=True,
        help="USD per million tokens, blended 3:1 input:output",
    )
    parser.add_argument("--per-task", type=Decimal, help="USD per task, for OpenRouter's evals")
    args = parser.parse_args()
    cache = f"sqlite:///{default_cli_cache_path()}"  # shared with the openrouter-bench command
    async with BenchmarksClient(cache=cache, app_title="price-picker") as client:
        catalog = await Catalog.load(client)
        sent = client.stats.requests
    for task in TaskType:
        pick(catalog, task, args.budget, args.per_task)
        print()
    print("sources:")
    for part in catalog.parts:
        when = "not fetched" if part.as_of is None else f"as of {part.as_of:%Y-%m-%d %H:%M} UTC"
        print(f"  {part.name}, {when}: {part.citation or '-'}")
    print(f"{sent} requests sent")


if __name__ == "__main__":
    asyncio.run(main())
