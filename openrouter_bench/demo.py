"""``openrouter-bench demo``: the client at work against the bundled fake server.

It needs no key and no network: the fake listens on a free loopback port in
this process. Each step prints what the client did, counted from the fake's
own request log, so the figures are the server's view, not the client's.

Then it sweeps every Design Arena arena and category: first with each
arena's categories cut from the arena's one page (the requests that found the
categories are the whole cost), then, for comparison, with a request per
category under the quota, the real limit of 30 requests scaled from a minute
to a few seconds (the fake enforces the same); a progress bar shows when the
output is a terminal. Last, questions about models are answered from one
:class:`~openrouter_bench.answers.Catalog`, which reuses the arena pages the
sweep left in the cache.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from decimal import Decimal
from typing import Final, TextIO

from openrouter_bench._text import plural
from openrouter_bench.answers import PER_TASK, Catalog, ModelStanding
from openrouter_bench.client import BenchmarksClient
from openrouter_bench.errors import InvalidQueryError, OpenRouterBenchError
from openrouter_bench.fake import FakeOpenRouter
from openrouter_bench.fanout import Outcome
from openrouter_bench.models import DesignArenaItem, Page
from openrouter_bench.progress import GridProgress
from openrouter_bench.query import KNOWN_CATEGORIES, Arena, Query, Source, TaskType
from openrouter_bench.quota import QuotaPolicy
from openrouter_bench.ranking import format_score, ranking_score
from openrouter_bench.render import ItemView, render_page
from openrouter_bench.retry import RetryPolicy

# The demo command: nothing here is library API.
__all__: list[str] = []

_DEMO_KEY: Final = "demo-key-for-the-fake-server"

# Short waits so the demo shows retries without making anyone wait for them.
_DEMO_RETRY: Final = RetryPolicy(attempts=5, initial_wait=0.05, max_wait=0.2, deadline=20.0)

# The published 30 requests a minute, on a 3 s window: the sweep meets the limit in seconds.
_DEMO_MINUTE: Final = 3.0
_DEMO_QUOTA: Final = QuotaPolicy(minute_window=_DEMO_MINUTE)


class _Narrator:
    def __init__(self, out: TextIO, fake: FakeOpenRouter) -> None:
        self.out = out
        self.fake = fake
        self.seen = 0
        self.step = 0

    def say(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def heading(self, text: str) -> None:
        self.step += 1
        self.say(f"\n{self.step}. {text}")

    def sent(self) -> str:
        """Requests the fake received since the last call, with their statuses."""
        log = self.fake.requests
        new = log[self.seen :]
        self.seen = len(log)
        if not new:
            return "0 requests sent"
        statuses = ", ".join(str(record.status) for record in new)
        return f"{plural(len(new), 'request')} sent ({statuses})"


#: The demo names models as people do, in its tables as in its sentences.
_BY_NAME: Final = ItemView(
    columns=("display_name", "coding_index", "intelligence_index", "agentic_index")
)


def _leader(page: Page) -> str:
    if not page.items:
        return "no items"
    top = page.items[0]
    name = getattr(top, "display_name", None) or getattr(top, "model_permaslug", "?")
    return f"{name} ({format_score(ranking_score(top, page.query))})"


class _LogToStory(logging.Handler):
    """Shows the client's own warnings (retries, stale serves) inside the story."""

    def __init__(self, out: TextIO) -> None:
        super().__init__(logging.INFO)
        self.out = out

    def emit(self, record: logging.LogRecord) -> None:
        self.out.write(f"   log [{record.name.rsplit('.', 1)[-1]}] {record.getMessage()}\n")


async def run_demo(out: TextIO, *, seed: int = 1) -> None:
    """Run every step of the demo, writing to ``out``."""
    package_logger = logging.getLogger("openrouter_bench")
    handler = _LogToStory(out)
    propagate, level = package_logger.propagate, package_logger.level
    package_logger.addHandler(handler)
    package_logger.propagate = False
    package_logger.setLevel(logging.INFO)
    try:
        await _story(out, seed)
    finally:
        package_logger.removeHandler(handler)
        package_logger.propagate = propagate
        package_logger.setLevel(level)


async def _story(out: TextIO, seed: int) -> None:
    async with (
        FakeOpenRouter(seed=seed, minute_window=_DEMO_MINUTE) as fake,
        BenchmarksClient(
            _DEMO_KEY, base_url=fake.url, cache="memory", retry=_DEMO_RETRY, quota=_DEMO_QUOTA
        ) as client,
    ):
        show = _Narrator(out, fake)
        show.say(f"openrouter-bench demo against the bundled fake server at {fake.url}")

        show.heading("Top 5 models at coding (Artificial Analysis)")
        coding = Query(source=Source.ARTIFICIAL_ANALYSIS, task_type=TaskType.CODING, max_results=5)
        page = await client.get(coding)
        show.say(render_page(page, "table", _BY_NAME).rstrip())
        show.say(f"   -> {show.sent()}")

        show.heading("Design Arena leaders, three categories fetched at once")
        grid = Query.grid(source="design-arena", category=["gamedev", "svg", "3d"], max_results=3)
        pages = await asyncio.gather(*(client.get(query) for query in grid))
        for query, arena_page in zip(grid, pages, strict=True):
            show.say(f"   {query.category:<8} #1 {_leader(arena_page)}")
        first_gamedev = _leader(pages[0])
        show.say(f"   -> {show.sent()}")

        show.heading(
            "Faults: the server answers 503, resets the connection, then sends a proxy's HTML 502"
        )
        fake.script(503, "reset", "html502")
        search = Query(source="openrouter", task_type="search", max_results=3)
        page = await client.get(search)
        show.say(f"   search evals #1: {_leader(page)}")
        show.say(f"   -> {show.sent()}: retried, and the caller saw only the page")

        show.heading("A query that is certainly wrong is refused before anything is sent")
        try:
            await client.get(source="artificial-analysis", category="gamedev")
        except InvalidQueryError as error:
            show.say(f"   InvalidQueryError: {error}")
        show.say(f"   -> {show.sent()}")

        show.heading("The same coding question again: answered from the cache")
        page = await client.get(coding)
        show.say(f"   from_cache={page.from_cache}, #1 {_leader(page)}")
        show.say(f"   -> {show.sent()}")

        show.heading("A burst of 100 identical calls on a cold cache")
        burst = Query(source="design-arena", arena="builders", category="dataviz")
        results = await asyncio.gather(*(client.get(burst) for _ in range(100)))
        same = all(result.items == results[0].items for result in results)
        show.say(f"   100 callers, all got the same {len(results[0])} items: {same}")
        show.say(f"   -> {show.sent()}: coalesced into one request")

        show.heading("New data is published, then the server goes down during the refresh")
        published_at_step = show.step
        fake.publish()
        fake.script(*([503] * _DEMO_RETRY.attempts))
        try:
            page = await client.get(coding, max_age=0)
        except OpenRouterBenchError as error:  # only if the stale window were closed
            show.say(f"   failed: {error}")
        else:
            show.say(
                f"   stale={page.stale}: served the snapshot of {page.as_of:%Y-%m-%d} "
                f"instead of failing (#1 {_leader(page)})"
            )
        show.say(f"   -> {show.sent()}")

        show.heading("The server is back: the refresh brings the new snapshot")
        page = await client.get(coding, max_age=0)
        show.say(f"   stale={page.stale}, as_of {page.as_of:%Y-%m-%d}, #1 {_leader(page)}")
        history = await client.history(coding)
        show.say(
            f"   history keeps {len(history)} snapshots: "
            + ", ".join(f"{p.as_of:%Y-%m-%d}" for p in history)
        )
        show.say(f"   -> {show.sent()}")

        stats = client.stats
        arena_items = sum(isinstance(item, DesignArenaItem) for p in pages for item in p.items)
        show.say(
            f"\nIn all: {plural(len(fake.requests), 'request')} reached the server "
            # Coalesced calls are misses too: hits + misses counts every call once.
            f"({stats.retries} of them retries) for {plural(stats.hits + stats.misses, 'call')}; "
            f"{plural(stats.hits, 'cache hit')}, {stats.coalesced} coalesced, "
            f"{plural(stats.stale_serves, 'stale serve')}; "
            f"{plural(arena_items, 'Design Arena item')} read."
        )

        await _sweep(show, client, first_gamedev=first_gamedev, published_at=published_at_step)
        await _questions(show, client)


async def _streamed(
    show: _Narrator, client: BenchmarksClient, sweep: list[Query], *, derive: bool
) -> tuple[dict[Query, Page], float]:
    """The sweep's pages, with a progress bar on a terminal, and its wall time."""
    started = time.monotonic()
    outcomes: dict[Query, Outcome] = {}
    with GridProgress(show.out, len(sweep), label="   sweep") as progress:
        stream = client.stream(sweep, concurrency=8, derive=derive)
        async with contextlib.aclosing(stream) as results:
            async for query, outcome in results:
                outcomes[query] = outcome
                progress.advance(outcome)
    pages = {query: page for query, page in outcomes.items() if isinstance(page, Page)}
    return pages, time.monotonic() - started


async def _sweep(
    show: _Narrator, client: BenchmarksClient, *, first_gamedev: str, published_at: int
) -> None:
    fake = show.fake
    show.heading(
        "A full Design Arena sweep: every arena, every category the data has, "
        "each arena's categories cut from the arena's one page"
    )
    sent_before = len(fake.requests)
    categories = {arena: await client.categories(arena) for arena in Arena}
    to_discover = len(fake.requests) - sent_before
    for arena, names in categories.items():
        unknown = [name for name in names if name not in KNOWN_CATEGORIES]
        found = (
            f", among them {', '.join(unknown)}: the server has "
            f"{'it' if len(unknown) == 1 else 'them'}, this package's list does not"
            if unknown
            else ""
        )
        show.say(f"   {arena.value:<8} {plural(len(names), 'category', 'categories')}{found}")
    sweep = [
        query
        for arena, names in categories.items()
        for query in Query.grid(source="design-arena", arena=arena, category=list(names))
    ]
    pages, elapsed = await _streamed(show, client, sweep, derive=True)
    log = fake.requests[sent_before + to_discover :]
    show.seen = len(fake.requests)
    derived = {page.derived_from for page in pages.values() if page.derived_from is not None}
    cut = sum(page.derived_from is not None for page in pages.values())
    show.say(
        f"   {plural(len(sweep), 'query', 'queries')} in {elapsed:.1f} s, "
        f"{plural(len(pages), 'page')}: {cut} cut from {plural(len(derived), 'arena page')}, "
        f"{len(pages) - cut} asked for on their own. The server saw "
        f"{to_discover + len(log)} requests: {to_discover} to find the categories, "
        f"{len(log)} for the sweep (it read the same arena pages from the cache)"
    )
    leaders = [
        f"{query.arena} {_leader(page)}"
        for query, page in pages.items()
        if query.category == "gamedev"
    ]
    show.say(
        f"   #1 in gamedev: {'; '.join(leaders)} (new data was published in step "
        f"{published_at}; in step 2, before it, models' #1 was {first_gamedev})"
    )

    show.heading("The same sweep again")
    again = await client.fan_out(sweep, concurrency=8)
    cached = sum(isinstance(page, Page) and page.from_cache for page in again.values())
    show.say(f"   {cached} of {len(again)} pages from the cache -> {show.sent()}")

    show.heading(
        "For comparison, the sweep with a request per category (derive=False), "
        f"paced by the quota ({_DEMO_QUOTA.per_minute} requests per {_DEMO_MINUTE:g} s, "
        "the real per-minute limit sped up)"
    )
    sent_before = len(fake.requests)
    pages, elapsed = await _streamed(show, client, sweep, derive=False)
    log = fake.requests[sent_before:]
    show.seen = len(fake.requests)
    cached = sum(page.from_cache for page in pages.values())
    refused = sum(record.status == 429 for record in log)
    resent = f" ({refused} of them refused with a 429 and sent again)" if refused else ""
    show.say(
        f"   {plural(len(sweep), 'query', 'queries')} in {elapsed:.1f} s, "
        f"{plural(len(pages), 'page')}: {cached} answered from the cache, "
        f"{len(sweep) - cached} sent. The server saw {len(log)} requests{resent}"
    )


def _place(standing: ModelStanding) -> str:
    unit = "per task" if standing.price_unit == PER_TASK else "per M tokens"
    price = "" if standing.price is None else f", ${standing.price.normalize():f} {unit}"
    return (
        f"#{standing.rank} of {standing.entries} in {standing.ranking} "
        f"({format_score(standing.score)}{price})"
    )


async def _questions(show: _Narrator, client: BenchmarksClient) -> None:
    fake = show.fake
    show.heading("Questions about models, answered from the whole data set")
    catalog = await Catalog.load(client)
    show.say(
        f"   {catalog!r}: {plural(len(catalog.parts), 'part')} loaded; the 3 Design Arena "
        f"arena pages came from the sweep's cache -> {show.sent()}"
    )
    coding = catalog.best(TaskType.CODING, limit=2)
    top = [answer for answer in coding.rankings if answer.source == Source.ARTIFICIAL_ANALYSIS]
    first, second = top[0].rows[0], top[0].rows[1]
    # Asked for the way a person types it: the display name, not the id.
    report = catalog.model(first.display_name)
    show.say(f'   "how good is {first.display_name}?" ({report.model}):')
    for standing in report.standings[:4]:
        show.say(f"      {_place(standing)}")
    if len(report.standings) > 4:
        show.say(f"      ... and {len(report.standings) - 4} more rankings")
    comparison = catalog.compare(first.model, second.model)
    both = [row for row in comparison.rows if all(row.standings)]
    show.say(
        f'   "compare it with {second.display_name}": {plural(len(comparison.rows), "ranking")} '
        f"hold one of them, {len(both)} hold both"
    )
    ceiling = Decimal(2)
    cheap = catalog.best(TaskType.CODING, max_price=ceiling, limit=1)
    show.say(f'   "best at coding under ${ceiling} per million tokens?" one answer per ranking:')
    for answer in cheap.rankings[:3]:
        if answer.rows:
            show.say(f"      {answer.rows[0].display_name}: {_place(answer.rows[0])}")
        else:
            show.say(f"      nothing within the price in {answer.ranking}")
    leaders = catalog.leaders()
    show.say(f'   "who leads each Design Arena category?" {len(leaders.rankings)} leaders, e.g.:')
    for answer in leaders.rankings[:3]:
        show.say(f"      {answer.rows[0].display_name}: {_place(answer.rows[0])}")
    sent_before = len(fake.requests)
    started = time.monotonic()
    names = catalog.models
    for turn in range(1_000):
        name = names[turn % len(names)]
        match turn % 4:
            case 0:
                catalog.model(name)
            case 1:
                catalog.compare(name, names[(turn + 1) % len(names)])
            case 2:
                catalog.best(TaskType.CODING, max_price=ceiling)
            case _:
                catalog.leaders()
    elapsed = time.monotonic() - started
    show.seen = len(fake.requests)
    show.say(
        f"   1,000 more questions like these in {elapsed:.2f} s: "
        f"{plural(len(fake.requests) - sent_before, 'request')} sent"
    )
    for citation in cheap.citations:
        show.say(f"   cited: {citation}")
