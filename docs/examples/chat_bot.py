"""A chat-bot loop that answers many questions about model rankings with few requests.

    python chat_bot.py                          # type questions; Ctrl-D ends
    printf 'best at svg?\\ntop 3 coding\\n' | python chat_bot.py

The trick is to ask the API broad questions and answer narrow ones locally: one
request per Design Arena arena returns every category of it, and one request
returns every Artificial Analysis model with all three indexes. The client's
cache keeps those pages, so the hundredth question costs nothing. At the end the
bot says how many requests all of it took.
"""

from __future__ import annotations

import asyncio
import re
import sys

from openrouter_bench import (
    ArtificialAnalysisItem,
    BenchmarksClient,
    DesignArenaItem,
    OpenRouterBenchError,
)

#: Word prefixes that name an Artificial Analysis task ("coder", "coding", "smartest"...).
TASK_PREFIXES = {
    "cod": "coding",
    "smart": "intelligence",
    "intelligen": "intelligence",
    "agentic": "agentic",
}
ARENA_WORDS = {"builder": "builders", "builders": "builders", "agent": "agents", "agents": "agents"}
HELP = (
    "I don't know that one. Ask me e.g. 'best at svg', 'top 3 for gamedev', "
    "'best builder for website', 'top 5 coding' or 'smartest model'."
)


def how_many(question: str) -> int:
    """``top N`` asks for N models; anything else for one."""
    match = re.search(r"\btop\s+(\d+)", question)
    return max(1, min(int(match.group(1)), 20)) if match else 1


async def answer(client: BenchmarksClient, question: str) -> str:
    """One answer, from the cached rankings (each fetched on first use)."""
    words = re.findall(r"[a-z0-9]+", question.lower())
    count = how_many(question.lower())
    arena = next((ARENA_WORDS[word] for word in words if word in ARENA_WORDS), "models")
    arena_page = await client.get(source="design-arena", arena=arena)  # all its categories
    entries = [item for item in arena_page.items if isinstance(item, DesignArenaItem)]
    categories = {item.category for item in entries}
    category = next((word for word in words if word in categories), None)
    if category is not None:
        return best_in_category(entries, arena, category, count)
    task = next(
        (
            name
            for word in words
            for prefix, name in TASK_PREFIXES.items()
            if word.startswith(prefix)
        ),
        None,
    )
    if task is None:
        return HELP
    page = await client.get(source="artificial-analysis")  # every model with all its indexes
    models = [item for item in page.items if isinstance(item, ArtificialAnalysisItem)]
    return best_at_task(models, task, count, cheapest="cheapest" in words)


def best_in_category(entries: list[DesignArenaItem], arena: str, category: str, count: int) -> str:
    ranked = sorted(
        (item for item in entries if item.category == category),
        key=lambda item: (-item.elo, item.model_permaslug),
    )[:count]
    shown = ", ".join(f"{item.display_name} (Elo {item.elo:.0f})" for item in ranked)
    return f"top {count} at {category} in the {arena} arena: {shown}"


def best_at_task(
    models: list[ArtificialAnalysisItem], task: str, count: int, *, cheapest: bool
) -> str:
    index = f"{task}_index"
    scored: list[tuple[float, ArtificialAnalysisItem]] = [
        (score, item) for item in models if (score := getattr(item, index)) is not None
    ]
    scored.sort(key=lambda pair: (-pair[0], pair[1].model_permaslug))
    top = scored[:count]
    if cheapest:
        prices = [
            (item.pricing.prompt, item)
            for _, item in top
            if item.pricing is not None and item.pricing.prompt is not None
        ]
        if not prices:
            return f"none of the top {count} at {task} has a known price"
        price, model = min(prices, key=lambda pair: pair[0])
        return (
            f"cheapest of the top {count} at {task}: {model.display_name} "
            f"(${price * 1_000_000:.2f} per million prompt tokens)"
        )
    shown = ", ".join(f"{item.display_name} ({score:.1f})" for score, item in top)
    return f"top {count} at {task} (Artificial Analysis {index}): {shown}"


async def read_line(prompt: str) -> str | None:
    """The next question, read off the event loop's thread; None at the end of input."""
    if prompt:
        print(prompt, end="", flush=True)
    line = await asyncio.to_thread(sys.stdin.readline)
    return line if line else None


async def chat() -> None:
    prompt = "you> " if sys.stdin.isatty() else ""
    asked = 0
    async with BenchmarksClient(app_title="ranking-chat-bot") as client:
        while (line := await read_line(prompt)) is not None:
            question = line.strip()
            if not question:
                continue
            asked += 1
            try:
                reply = await answer(client, question)
            except OpenRouterBenchError as error:
                reply = f"sorry, the rankings are unavailable right now ({error})"
            print(f"bot> {reply}", flush=True)
        print(f"{asked} questions answered with {client.stats.requests} requests")


if __name__ == "__main__":
    asyncio.run(chat())
