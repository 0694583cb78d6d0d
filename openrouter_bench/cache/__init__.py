"""The snapshot cache, a module per job.

- :mod:`~.policy`: :class:`CachePolicy` (the settings) and :class:`CacheStats` (the counters);
- :mod:`~.keys`: the names of entries, and the namespace of an API;
- :mod:`~.codec`: entries as versioned JSON bytes, read as untrusted;
- :mod:`~.entries`: one adapter per kind of backend (reading, writing, listing,
  clearing, describing); :mod:`~.lru` and :mod:`~.sqlite` are the two backends
  of this package's own;
- :mod:`~.leases`: cross-process leases in Redis;
- :mod:`~.singleflight`: one fetch for identical concurrent calls;
- :mod:`~.snapshots`: :class:`SnapshotCache`, the rules (fresh, stale, history);
- :mod:`~.factory`: :func:`open_cache`, from a URL to a cache.
"""

from openrouter_bench.cache.factory import open_cache
from openrouter_bench.cache.keys import namespace_for
from openrouter_bench.cache.policy import CachePolicy, CacheStats
from openrouter_bench.cache.snapshots import SnapshotCache

__all__ = ["CachePolicy", "CacheStats", "SnapshotCache", "namespace_for", "open_cache"]
