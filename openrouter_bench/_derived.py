"""Design Arena category pages cut from one arena-wide page: which queries can be, and how.

A Design Arena arena page (``source=design-arena``, ``arena=X``, no
``category``) lists every category's items. The server's answer for one
category is that list's items of the category, in the same order, cut to the
query's ``max_results``; the meta is the arena page's, counting only the models
left. So a sweep of N categories of one arena needs one request, not N, when
that arena page is provably complete.

Provably, because the published documents disagree about an answer without
``max_results`` (every item, or at most 50: see
:attr:`~openrouter_bench.models.Page.may_be_cut`). A category's answer is
derived only when it is certain to be the server's:

- the arena page is whole: the category's items are all its items of that
  category, under either reading (a whole page without ``max_results`` that is
  shorter than 50 holds fewer than 50 of any category, and one longer than 50
  shows the server applied no cap);
- the arena page may be cut, but the query asks for ``max_results=N`` and the
  page holds at least N items of the category: a cut keeps a prefix of the
  server's order, so its first N items of the category are the category's
  first N;
- never for ``max_results`` over the guide's 100 unless the arena page proves
  the reference's reading (more than 50 items without ``max_results``): under
  the guide's reading the server refuses such a query with a 400, and the
  derived page must not answer what the server would refuse;
- never from a page with an item this module cannot place (an item of another
  source, or of another arena): what the server would answer for the category
  is then unknown.

Everything else is left to a request of its own. This module is pure: the
fan-out (:mod:`openrouter_bench.fanout`) fetches the arena pages and asks it.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping, Sequence
from typing import Final

import attrs

from openrouter_bench.models import GUIDE_DEFAULT_RESULTS, DesignArenaItem, Page
from openrouter_bench.query import Query, Source

__all__ = ["ArenaPage", "GUIDE_MAX_RESULTS", "arena_query_of", "plan"]

#: The largest ``max_results`` the Data API guide accepts ("1 to 100").
GUIDE_MAX_RESULTS: Final = 100

#: Every parameter but the two a category page narrows its arena page by: queries equal in
#: these read one arena page. Cheaper than building that page's query for each (a Query
#: checks itself as it is made), and it follows the Query's fields wherever they go.
_ARENA_PARAMS: Final = operator.attrgetter(
    *(field.name for field in attrs.fields(Query) if field.name not in ("category", "max_results"))
)


def arena_query_of(query: Query) -> Query | None:
    """The arena-wide query whose page holds ``query``'s answer, or None.

    Only a Design Arena query with a category has one: the same query without
    ``category`` and ``max_results``.
    """
    if query.category is None or query.source != Source.DESIGN_ARENA:
        return None
    return _arena_query(query)


def _arena_query(query: Query) -> Query:
    return query.evolve(category=None, max_results=None)


def plan(queries: Sequence[Query]) -> dict[Query, Query]:
    """Each query that one arena page can answer, mapped to that page's query.

    Only where it saves requests: two or more category queries of one arena
    page, or one beside the arena page's own query (which then maps to
    itself). An empty plan leaves every query to a request of its own.
    """
    by_params: dict[tuple[object, ...], list[Query]] = {}
    for query in queries:
        if query.category is not None and query.source == Source.DESIGN_ARENA:
            by_params.setdefault(_ARENA_PARAMS(query), []).append(query)
    if not by_params:
        return {}
    groups = {_arena_query(members[0]): members for members in by_params.values()}
    asked = set(queries)
    planned: dict[Query, Query] = {}
    for arena, members in groups.items():
        if len(members) >= 2 or arena in asked:
            planned.update(dict.fromkeys(members, arena))
            if arena in asked:
                planned[arena] = arena
    return planned


@attrs.frozen
class ArenaPage:
    """An arena page, split by category once, to cut category pages from.

    ``by_category`` is None when the page holds an item it cannot place (of
    another source or arena): then no category page is cut from it.
    """

    page: Page
    by_category: Mapping[str, tuple[DesignArenaItem, ...]] | None

    @classmethod
    def of(cls, page: Page) -> ArenaPage:
        """``page`` (an arena query's page) split by category, in the server's order."""
        arena = page.query.arena
        split: dict[str, list[DesignArenaItem]] = {}
        for item in page.items:
            if not isinstance(item, DesignArenaItem) or item.arena != arena:
                return cls(page, None)
            split.setdefault(item.category, []).append(item)
        return cls(page, {category: tuple(items) for category, items in split.items()})

    def view(self, query: Query) -> Page | None:
        """``query``'s page cut from this one, or None when it cannot be proved the server's.

        ``query`` must be a category query of this page (``arena_query_of(query)``
        is this page's query).
        """
        page = self.page
        category = query.category
        if (
            self.by_category is None
            or category is None
            or query.source != Source.DESIGN_ARENA
            or _ARENA_PARAMS(query) != _ARENA_PARAMS(page.query)
            or page.query.category is not None
            or page.query.max_results is not None
        ):
            return None
        found = self.by_category.get(category, ())
        limit = query.max_results
        if limit is None:
            if page.may_be_cut:
                return None
            items = found
        else:
            if page.may_be_cut and len(found) < limit:
                return None
            if limit > GUIDE_MAX_RESULTS and len(page) <= GUIDE_DEFAULT_RESULTS:
                return None  # the guide's server would refuse this query: not ours to answer
            items = found[:limit]
        models = len({item.model_permaslug for item in items})
        return Page(
            items=items,
            meta=attrs.evolve(page.meta, model_count=models),
            query=query,
            fetched_at=page.fetched_at,
            from_cache=page.from_cache,
            stale=page.stale,
            derived_from=page.query,
        )
