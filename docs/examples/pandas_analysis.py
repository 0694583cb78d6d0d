"""A notebook-style analysis with pandas: the whole data set as one DataFrame.

    pip install 'openrouter-bench[pandas]'
    python pandas_analysis.py                  # no key set: the bundled fake server
    python pandas_analysis.py --min-coding 50

With ``OPENROUTER_API_KEY`` set it asks the API (five requests for the whole
data set, none while the cache is fresh); without one it starts the bundled
fake server and asks that, so it runs anywhere. Each ``# %%`` cell can be run
on its own in Jupyter, VS Code or any editor that reads the percent format.

Prices in the frame are exact ``Decimal`` values; they are turned into floats
only where pandas computes with them (a correlation, a ratio), never in the
table itself. Scores of different sources do not compare: each question
below stays within one source.
"""

# %% Imports and loading: one row per item of every source, arena, category and benchmark.
from __future__ import annotations

import argparse
import asyncio
import os

import pandas as pd

from openrouter_bench import BenchmarksClient, Catalog, to_pandas
from openrouter_bench.fake import FakeOpenRouter


async def load_frame() -> pd.DataFrame:
    """Every item of the data set as a DataFrame: from the API with a key, else from the fake."""
    if os.environ.get("OPENROUTER_API_KEY"):
        # The key and the base URL come from the environment, as for every recipe.
        async with BenchmarksClient(app_title="pandas-analysis") as client:
            return to_pandas(await Catalog.load(client))
    async with (
        FakeOpenRouter() as fake,
        BenchmarksClient("no-key-needed", base_url=fake.url) as client,
    ):
        return to_pandas(await Catalog.load(client))


# %% Design Arena: Elo by category, the models arena's ten best on average.
def elo_by_category(frame: pd.DataFrame, arena: str = "models") -> pd.DataFrame:
    """Models as rows, an arena's categories as columns, Elo in the cells.

    Only models ranked in at least five categories, so that an average means something
    (image and video models compete in their own category only).
    """
    rows = frame[(frame["source"] == "design-arena") & (frame["arena"] == arena)]
    pivot = rows.pivot_table(
        index="display_name", columns="category", values="elo", aggfunc="max", observed=True
    ).dropna(thresh=5)
    best = pivot.mean(axis="columns").sort_values(ascending=False).index[:10]
    return pivot.loc[best].dropna(axis="columns", how="all").round(0).astype("Int64")


# %% Artificial Analysis: intelligence index against the blended price.
def index_against_price(frame: pd.DataFrame) -> tuple[float, pd.DataFrame]:
    """The rank correlation of index and price, and the mean index per price band."""
    rows = frame[frame["source"] == "artificial-analysis"].dropna(
        subset=["intelligence_index", "blended_price_per_million"]
    )
    price = rows["blended_price_per_million"].astype(float)
    index = rows["intelligence_index"].astype(float)
    # Spearman's rho: the correlation of the ranks (pandas' own method would need scipy).
    correlation = float(index.rank().corr(price.rank()))
    bands = pd.cut(
        price,
        bins=[0, 0.5, 2, 10, float("inf")],
        labels=["under $0.50", "$0.50-2", "$2-10", "over $10"],
        include_lowest=True,
    )
    summary = index.groupby(bands, observed=True).agg(["count", "mean", "max"]).round(1)
    return correlation, summary


# %% The cheapest model above a score: price is exact, so ties are real ties.
def cheapest_above(frame: pd.DataFrame, min_coding: float) -> pd.DataFrame:
    """Artificial Analysis models with a coding index of at least ``min_coding``, cheapest first."""
    rows = frame[frame["source"] == "artificial-analysis"]
    good = rows[(rows["coding_index"] >= min_coding) & rows["blended_price_per_million"].notna()]
    columns = ["display_name", "coding_index", "blended_price_per_million"]
    return good.sort_values(["blended_price_per_million", "coding_index"], ascending=[True, False])[
        columns
    ]


# %% Run every cell and print what a notebook would show.
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min-coding", type=float, default=45.0, help="coding index floor")
    args = parser.parse_args()
    frame = asyncio.run(load_frame())
    counts = frame.groupby("source", observed=True).size()
    print(f"{len(frame)} rows:", ", ".join(f"{n} {source}" for source, n in counts.items()))

    print("\nDesign Arena Elo by category (models arena, ten best on average):")
    print(elo_by_category(frame).to_string())

    correlation, bands = index_against_price(frame)
    print(f"\nArtificial Analysis: index vs blended price, Spearman rho = {correlation:.2f}")
    print(bands.to_string())

    shortlist = cheapest_above(frame, args.min_coding)
    if shortlist.empty:
        print(f"\nno model has a coding index of {args.min_coding:g} or more")
    else:
        best = shortlist.iloc[0]
        print(
            f"\ncheapest with a coding index of {args.min_coding:g} or more: "
            f"{best['display_name']} ({best['coding_index']:.1f}) at "
            f"${best['blended_price_per_million']} per million tokens (3:1 input:output)"
        )
        print(shortlist.head(5).to_string(index=False))

    print("\ncite:")
    for citation in frame["citation"].dropna().unique():
        print(f"  {citation}")


if __name__ == "__main__":
    main()
