"""A chat bot answering questions about models from one cached data set, with few requests.

    python chat_bot.py                          # type questions; Ctrl-D ends
    printf 'how good is kimi k2 thinking?\\nbest coding model under $2\\n' | python chat_bot.py

It understands, roughly: "how good is X?", "compare X and Y" (or "X vs Y"),
"best coding model under $2", "top 3 for gamedev", "best builder for website",
"smartest model", "who leads each category?".

A ``Catalog`` holds the whole data set: one page per source and per Design Arena
arena. Before each question the bot loads it again with ``reuse=``: while the
client's cache holds those pages (ten minutes by default), that sends nothing
and hands back the same catalog, so the thousandth question costs what the
first did. Every answer says where its data comes from. At the end the bot says
how many requests all of it took.
"""

from __future__ import annotations

import asyncio
import re
import sys
from decimal import Decimal

import attrs

from openrouter_bench import (
    AmbiguousModelError,
    BenchmarksClient,
    Catalog,
    InvalidQueryError,
    ModelStanding,
    OpenRouterBenchError,
    RankingAnswers,
    TaskType,
    UnknownModelError,
)

HOW_GOOD = re.compile(r"^(?:how good is|how is|tell me about)\s+(?P<name>.+?)\s*\??$", re.I)
COMPARE = re.compile(r"^compare\s+(?P<a>.+?)\s+(?:and|with|to)\s+(?P<b>.+?)\s*\??$", re.I)
VERSUS = re.compile(r"^(?P<a>.+?)\s+(?:vs\.?|versus)\s+(?P<b>.+?)\s*\??$", re.I)
UNDER = re.compile(r"\bunder\s+\$?(?P<price>\d+(?:\.\d+)?)")
TOP = re.compile(r"\btop\s+(?P<count>\d+)")
#: Word prefixes that name a task ("coder", "coding", "smartest"...).
TASK_PREFIXES = {
    "cod": TaskType.CODING,
    "smart": TaskType.INTELLIGENCE,
    "intelligen": TaskType.INTELLIGENCE,
    "agentic": TaskType.AGENTIC,
}
ARENA_WORDS = {"builder": "builders", "builders": "builders", "agent": "agents", "agents": "agents"}
#: An answer's text and the citations it must show.
Reply = tuple[str, tuple[str, ...]]
HELP = (
    "I don't know that one. Ask me e.g. 'how good is GPT-5?', 'compare GPT-5 and Kimi K2 "
    "Thinking', 'best coding model under $2', 'top 3 for gamedev' or 'who leads each category?'."
)


def shown(row: ModelStanding, *, priced: bool = False) -> str:
    """A model's place in one ranking, in a few words (and its price, if ``priced``)."""
    price = "" if row.price is None or not priced else f", ${row.price.normalize():f}"
    return f"{row.display_name} (#{row.rank}, {row.score:.4g}{price})"


def how_good(catalog: Catalog, name: str) -> Reply:
    """'How good is X?': its best place in each source, and how many rankings it is in."""
    report = catalog.model(name)
    if not report.standings:
        return f"{report.model} is listed, but ranked nowhere yet", report.citations
    best: dict[str, ModelStanding] = {}
    for row in report.standings:
        held = best.get(row.source)
        if held is None or row.rank / row.entries < held.rank / held.entries:
            best[row.source] = row
    places = "; ".join(f"#{row.rank} of {row.entries} in {row.ranking}" for row in best.values())
    text = f"{report.display_names[0]} is in {len(report.standings)} rankings; best: {places}"
    return text, report.citations


def compare(catalog: Catalog, first: str, second: str) -> Reply:
    """'Compare X and Y': who is ahead in the rankings both are in."""
    comparison = catalog.compare(first, second)
    a, b = (catalog.display_names(model)[0] for model in comparison.models)
    if len(comparison.models) < 2:
        return f"{a} and {b} are the same model", comparison.citations
    both = [(x, y) for row in comparison.rows for x, y in [row.standings] if x and y]
    if not both:
        return f"{a} and {b} share no ranking", comparison.citations
    ahead = sum(x.rank < y.rank for x, y in both)
    text = f"{a} is ahead of {b} in {ahead} of the {len(both)} rankings both are in"
    return text, comparison.citations


def listed(answers: RankingAnswers, price: Decimal | None) -> Reply:
    """Each ranking's first models, ranking by ranking (never one list across sources)."""
    parts = [
        f"{answer.ranking}: "
        + (", ".join(shown(row, priced=price is not None) for row in answer.rows) or "none")
        for answer in answers.rankings
    ]
    text = "; ".join(parts) or "no ranking answers that"
    units = sorted({answer.price_unit for answer in answers.rankings})
    if price is not None:
        text += f" (at most ${price}; prices in {' or '.join(units)})"
    return text, answers.citations


def leaders(catalog: Catalog) -> Reply:
    """'Who leads each category?': how many categories, and who leads most of them."""
    answers = catalog.leaders()
    firsts = [answer.rows[0].display_name for answer in answers.rankings if answer.rows]
    top = max(sorted(set(firsts)), key=firsts.count)
    text = f"{len(firsts)} Design Arena categories; {top} leads {firsts.count(top)} of them"
    return text, answers.citations


def answer(catalog: Catalog, question: str) -> Reply:
    """One answer, and the citations it must show."""
    text = question.strip()
    if match := HOW_GOOD.match(text):
        return how_good(catalog, match["name"])
    if match := COMPARE.match(text) or VERSUS.match(text):
        return compare(catalog, match["a"], match["b"])
    lowered = text.lower()
    words = re.findall(r"[a-z0-9]+", lowered)
    if "leads" in words and "each" in words:
        return leaders(catalog)
    count = max(1, min(int(found["count"]), 10)) if (found := TOP.search(lowered)) else 1
    price = Decimal(found["price"]) if (found := UNDER.search(lowered)) else None
    arena = next((ARENA_WORDS[word] for word in words if word in ARENA_WORDS), "models")
    names = (f"design-arena {arena}/{word}" for word in words)
    category = next((name for name in names if name in catalog.rankings), None)
    tasks = (
        task for word in words for start, task in TASK_PREFIXES.items() if word.startswith(start)
    )
    task = next(tasks, None)
    if category is not None:
        return listed(catalog.best(category, max_price=price, limit=count), price)
    if task is None:
        return HELP, ()
    best = catalog.best(task, max_price=price, limit=count)
    # A task has a ranking in several sources and arenas; the first of each source keeps a
    # chat answer short.
    firsts = {answer.source: answer for answer in reversed(best.rankings)}
    kept = tuple(answer for answer in best.rankings if answer in firsts.values())
    return listed(attrs.evolve(best, rankings=kept), price)


async def read_line(prompt: str) -> str | None:
    """The next question, read off the event loop's thread; None at the end of input."""
    if prompt:
        print(prompt, end="", flush=True)
    line = await asyncio.to_thread(sys.stdin.readline)
    return line if line else None


async def chat() -> None:
    prompt = "you> " if sys.stdin.isatty() else ""
    asked = indexed = 0
    catalog: Catalog | None = None
    async with BenchmarksClient(app_title="model-question-bot") as client:
        while (line := await read_line(prompt)) is not None:
            question = line.strip()
            if not question:
                continue
            asked += 1
            try:
                loaded = await Catalog.load(client, reuse=catalog)  # no request while cached
                indexed += loaded is not catalog
                catalog = loaded
                reply, citations = answer(catalog, question)
            except (UnknownModelError, AmbiguousModelError, InvalidQueryError) as error:
                reply, citations = f"hmm: {error}", ()
            except OpenRouterBenchError as error:
                reply, citations = f"sorry, the rankings are unavailable right now ({error})", ()
            print(f"bot> {reply}", flush=True)
            if citations:
                print(f"     source: {' / '.join(citations)}", flush=True)
        print(
            f"{asked} questions answered with {client.stats.requests} requests "
            f"(the data set was indexed {indexed} time{'' if indexed == 1 else 's'})"
        )


if __name__ == "__main__":
    asyncio.run(chat())
