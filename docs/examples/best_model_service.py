"""A web service that answers "which model is best for X?" from the cache.

    python best_model_service.py --port 8080
    curl 'http://127.0.0.1:8080/best?for=svg'

X is a Design Arena category (``svg``, ``gamedev``, ``3d``...) or an Artificial
Analysis index (``coding``, ``intelligence``, ``agentic``). The service holds one
BenchmarksClient for its whole life. A category is answered from the Design
Arena ranking of every category at once (one request covers them all) and an
index from its own ranking; each stays in the client's cache for ten minutes, so
any number of visitors costs at most a handful of requests per ten minutes, far
inside the 30-a-minute quota. If the API is down when a ranking expires, the
last one is served (``"stale": true``) instead of an error.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from openrouter_bench import (
    ArtificialAnalysisItem,
    BenchmarksClient,
    DesignArenaItem,
    OpenRouterBenchError,
    Page,
)

CLIENT = web.AppKey("client", BenchmarksClient)

#: The Artificial Analysis indexes, by the task they rank.
INDEXES = {
    "coding": "coding_index",
    "intelligence": "intelligence_index",
    "agentic": "agentic_index",
}


def answer(
    wanted: str, page: Page, model: ArtificialAnalysisItem | DesignArenaItem
) -> dict[str, object]:
    """The JSON answer: the model, its score, and where the ranking comes from."""
    score = model.elo if isinstance(model, DesignArenaItem) else getattr(model, INDEXES[wanted])
    return {
        "for": wanted,
        "model_permaslug": model.model_permaslug,
        "display_name": model.display_name,
        "score": score,
        "as_of": page.as_of.isoformat(),
        "citation": page.meta.citation,
        "stale": page.stale,
    }


async def best(request: web.Request) -> web.Response:
    """``GET /best?for=X``: the best model for a category or a task."""
    wanted = request.query.get("for", "").strip().lower()
    if not wanted:
        raise web.HTTPBadRequest(text="ask /best?for=svg (a category) or for=coding (a task)\n")
    client = request.app[CLIENT]
    leader: ArtificialAnalysisItem | DesignArenaItem | None
    try:
        if wanted in INDEXES:
            # The server ranks by the task's index and leaves out models without one.
            page = await client.get(source="artificial-analysis", task_type=wanted, max_results=1)
            leader = next(
                (item for item in page.items if isinstance(item, ArtificialAnalysisItem)), None
            )
        else:
            page = await client.get(source="design-arena")  # every category, one request
            leader = min(
                (
                    item
                    for item in page.items
                    if isinstance(item, DesignArenaItem) and item.category == wanted
                ),
                key=lambda item: (-item.elo, item.model_permaslug),
                default=None,
            )
    except OpenRouterBenchError as error:
        raise web.HTTPServiceUnavailable(text=f"rankings are unavailable: {error}\n") from None
    if leader is None:
        raise web.HTTPNotFound(text=f"no ranking for {wanted!r}\n")
    return web.json_response(answer(wanted, page, leader))


async def benchmarks_client(app: web.Application) -> AsyncIterator[None]:
    """One client, opened with the app and closed with it."""
    async with BenchmarksClient(app_title="best-model-service") as client:
        app[CLIENT] = client
        yield


def build_app() -> web.Application:
    """The aiohttp application: ``GET /best?for=X``."""
    app = web.Application()
    app.cleanup_ctx.append(benchmarks_client)
    app.router.add_get("/best", best)
    return app


async def serve(host: str, port: int) -> None:
    """Serve until cancelled (Ctrl-C); prints the URL once listening."""
    runner = web.AppRunner(build_app())
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        bound_host, bound_port = runner.addresses[0][:2]
        print(f"serving on http://{bound_host}:{bound_port} (try /best?for=svg)", flush=True)
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
