"""openrouter-bench: an asyncio client for OpenRouter's benchmarks endpoint.

It caches by query and the data set's ``meta.as_of``, coalesces identical
calls, retries only what is transient, and never hands back wrong or
silently partial data. See :class:`BenchmarksClient`.
"""

from openrouter_bench._version import __version__
from openrouter_bench.cache import CachePolicy, CacheStats
from openrouter_bench.client import BenchmarksClient, ClientStats
from openrouter_bench.errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    ConfigurationError,
    InvalidQueryError,
    NotFoundError,
    OpenRouterBenchError,
    PaymentRequiredError,
    QuotaExhaustedError,
    RateLimitError,
    RequestTimeoutError,
    ResponseFormatError,
    ServerError,
    TransportError,
)
from openrouter_bench.models import (
    ArtificialAnalysisItem,
    DesignArenaItem,
    Item,
    Meta,
    OpenRouterEvalItem,
    Page,
    Pricing,
    RunConfig,
    SearchEvalItem,
    TournamentStats,
    UnknownItem,
)
from openrouter_bench.query import (
    ALL,
    KNOWN_CATEGORIES,
    Arena,
    BenchmarkType,
    Query,
    SearchSurface,
    Source,
    TaskType,
)
from openrouter_bench.retry import RetryPolicy

__all__ = [
    "ALL",
    "APIError",
    "Arena",
    "ArtificialAnalysisItem",
    "AuthenticationError",
    "BadRequestError",
    "BenchmarkType",
    "BenchmarksClient",
    "CachePolicy",
    "CacheStats",
    "ClientClosedError",
    "ClientStats",
    "ConfigurationError",
    "DesignArenaItem",
    "InvalidQueryError",
    "Item",
    "KNOWN_CATEGORIES",
    "Meta",
    "NotFoundError",
    "OpenRouterBenchError",
    "OpenRouterEvalItem",
    "Page",
    "PaymentRequiredError",
    "Pricing",
    "Query",
    "QuotaExhaustedError",
    "RateLimitError",
    "RequestTimeoutError",
    "ResponseFormatError",
    "RetryPolicy",
    "RunConfig",
    "SearchEvalItem",
    "SearchSurface",
    "ServerError",
    "Source",
    "TaskType",
    "TournamentStats",
    "TransportError",
    "UnknownItem",
    "__version__",
]
