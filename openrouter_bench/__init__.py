"""openrouter-bench: an asyncio client for OpenRouter's benchmarks endpoint.

It caches by query and the data set's ``meta.as_of``, coalesces identical
calls, retries only what is transient, and never hands back wrong or
silently partial data. See :class:`BenchmarksClient`.
"""

from openrouter_bench._budget import RetryBudget
from openrouter_bench._paths import default_cli_cache_path
from openrouter_bench._version import __version__
from openrouter_bench.answers import (
    Catalog,
    CatalogPart,
    Comparison,
    ComparisonRow,
    ModelReport,
    ModelStanding,
    RankingAnswer,
    RankingAnswers,
)
from openrouter_bench.cache import CachePolicy, CacheStats, SnapshotCache
from openrouter_bench.client import BenchmarksClient, ClientStats
from openrouter_bench.errors import (
    AmbiguousModelError,
    APIError,
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    ConfigurationError,
    InvalidQueryError,
    MissingDependencyError,
    NotFoundError,
    OpenRouterBenchError,
    PaymentRequiredError,
    QuotaExhaustedError,
    RateLimitError,
    RequestTimeoutError,
    ResponseFormatError,
    ServerError,
    TransportError,
    UnknownModelError,
    WrongEventLoopError,
    is_transient,
)
from openrouter_bench.fanout import FanOutResult
from openrouter_bench.frames import to_pandas, to_polars
from openrouter_bench.history import SnapshotHistory, StandingPoint, StandingSeries
from openrouter_bench.hooks import (
    CacheEvent,
    ClientHooks,
    RequestSent,
    ResponseReceived,
    RetryScheduled,
    WaitStarted,
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
from openrouter_bench.quota import QuotaPolicy, QuotaStatus
from openrouter_bench.records import ItemRow, rows_of
from openrouter_bench.retry import RetryPolicy
from openrouter_bench.sync import SyncBenchmarksClient
from openrouter_bench.watch import RankMove, SnapshotChange, Standing, diff_snapshots, standings

__all__ = [
    "ALL",
    "APIError",
    "AmbiguousModelError",
    "Arena",
    "ArtificialAnalysisItem",
    "AuthenticationError",
    "BadRequestError",
    "BenchmarkType",
    "BenchmarksClient",
    "CacheEvent",
    "CachePolicy",
    "CacheStats",
    "Catalog",
    "CatalogPart",
    "ClientClosedError",
    "ClientHooks",
    "ClientStats",
    "Comparison",
    "ComparisonRow",
    "ConfigurationError",
    "DesignArenaItem",
    "FanOutResult",
    "InvalidQueryError",
    "Item",
    "ItemRow",
    "KNOWN_CATEGORIES",
    "Meta",
    "MissingDependencyError",
    "ModelReport",
    "ModelStanding",
    "NotFoundError",
    "OpenRouterBenchError",
    "OpenRouterEvalItem",
    "Page",
    "PaymentRequiredError",
    "Pricing",
    "Query",
    "QuotaExhaustedError",
    "QuotaPolicy",
    "QuotaStatus",
    "RankMove",
    "RankingAnswer",
    "RankingAnswers",
    "RateLimitError",
    "RequestSent",
    "RequestTimeoutError",
    "ResponseFormatError",
    "ResponseReceived",
    "RetryBudget",
    "RetryPolicy",
    "RetryScheduled",
    "RunConfig",
    "SearchEvalItem",
    "SearchSurface",
    "ServerError",
    "SnapshotCache",
    "SnapshotChange",
    "SnapshotHistory",
    "Source",
    "Standing",
    "StandingPoint",
    "StandingSeries",
    "SyncBenchmarksClient",
    "TaskType",
    "TournamentStats",
    "TransportError",
    "UnknownItem",
    "UnknownModelError",
    "WaitStarted",
    "WrongEventLoopError",
    "__version__",
    "default_cli_cache_path",
    "diff_snapshots",
    "is_transient",
    "rows_of",
    "standings",
    "to_pandas",
    "to_polars",
]
