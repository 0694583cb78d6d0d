"""From a cache spec (``"memory"``, a URL, an aiocache instance or None) to a cache."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from urllib.parse import unquote, urlsplit

from aiocache.base import BaseCache

from openrouter_bench import _redis
from openrouter_bench.cache._codec import BytesSerializer
from openrouter_bench.cache._keys import memcached_key
from openrouter_bench.cache._lru import BoundedMemoryCache
from openrouter_bench.cache._policy import CachePolicy
from openrouter_bench.cache._snapshots import SnapshotCache
from openrouter_bench.cache._sqlite import SQLiteCache
from openrouter_bench.errors import ConfigurationError
from openrouter_bench.hooks import CacheOutcome
from openrouter_bench.query import Query

__all__ = ["open_cache"]


def open_cache(
    spec: str | BaseCache | None,
    *,
    namespace: str,
    policy: CachePolicy = CachePolicy(),  # frozen: one shared default is safe
    clock: Callable[[], float] = time.time,
    logger: logging.Logger | None = None,
    on_event: Callable[[Query, CacheOutcome], None] | None = None,
) -> SnapshotCache:
    """A :class:`SnapshotCache` over the backend ``spec`` names.

    - ``"memory"``: a bounded LRU in this process (``policy.max_entries``, ``policy.max_bytes``);
    - ``None``: no cache (identical concurrent calls still share one fetch);
    - ``"redis://host:port/db"`` (or ``rediss://``, with ``user:password@``);
    - ``"memcached://host:port"`` (needs the ``aiomcache`` package);
    - ``"sqlite:///path/to/file.db"`` (a file: the command line names its own);
    - an aiocache ``BaseCache`` instance, used as it is and left open by :meth:`close`.

    Backends built here from a string are closed by :meth:`SnapshotCache.close`.
    ``on_event`` is told how each call was answered (the client's hooks).
    """
    if spec is None or isinstance(spec, BaseCache):
        return SnapshotCache(
            spec, namespace=namespace, policy=policy, clock=clock, logger=logger, on_event=on_event
        )
    if not isinstance(spec, str):
        raise ConfigurationError(
            f"cache must be a URL string, an aiocache instance or None, not {type(spec).__name__}"
        )
    return SnapshotCache(
        _backend_for(spec, policy, clock),
        namespace=namespace,
        policy=policy,
        clock=clock,
        logger=logger,
        on_event=on_event,
        owns_backend=True,
    )


def _backend_for(spec: str, policy: CachePolicy, clock: Callable[[], float]) -> BaseCache:
    if spec == "memory":
        return BoundedMemoryCache(
            policy.max_entries, max_bytes=policy.max_bytes, clock=clock, timeout=None
        )
    parts = urlsplit(spec)
    scheme = parts.scheme.lower()
    if scheme in ("redis", "rediss"):
        return _redis_backend(spec, ssl=scheme == "rediss")
    if scheme == "memcached":
        try:
            from aiocache.backends.memcached import MemcachedCache
        except ImportError:
            raise ConfigurationError(
                "a memcached cache needs the aiomcache package: install openrouter-bench[memcached]"
            ) from None
        return MemcachedCache(
            endpoint=parts.hostname or "127.0.0.1",
            port=parts.port or 11211,
            serializer=BytesSerializer(),
            key_builder=memcached_key,
            timeout=None,
        )
    if scheme == "sqlite":
        if parts.netloc or not parts.path:
            raise ConfigurationError(
                "a sqlite cache URL names a file: sqlite:///absolute/path.db (three slashes)"
            )
        # sqlite:///abs/file and sqlite:////abs/file both name /abs/file.
        return SQLiteCache("/" + unquote(parts.path).lstrip("/"), clock=clock, timeout=None)
    raise ConfigurationError(
        "cache must be 'memory', a redis://, memcached:// or sqlite:/// URL, "
        f"an aiocache instance or None; got a value starting {spec.split(':', 1)[0]!r}"
    )


def _redis_backend(spec: str, *, ssl: bool) -> BaseCache:
    pool_options = _redis.connection_options("a Redis cache")
    from aiocache.backends.redis import RedisCache

    parts = urlsplit(spec)
    path = parts.path.strip("/")
    try:
        port = parts.port or 6379
        db = int(path) if path else 0
    except ValueError:
        raise ConfigurationError(
            "a Redis cache URL looks like redis://host:port/db (db a number)"
        ) from None
    if parts.username:
        pool_options["username"] = unquote(parts.username)
    return RedisCache(
        endpoint=parts.hostname or "127.0.0.1",
        port=port,
        db=db,
        password=unquote(parts.password) if parts.password else None,
        ssl=ssl,
        create_connection_timeout=_redis.TIMEOUT,
        connection_pool_kwargs=pool_options,
        serializer=BytesSerializer(),
        timeout=None,
    )
