"""The snapshot cache, a module per job.

- :mod:`~._policy`: :class:`CachePolicy` (the settings) and :class:`CacheStats` (the counters);
- :mod:`~._keys`: the names of entries, and the namespace of an API;
- :mod:`~._codec`: entries as versioned JSON bytes, read as untrusted;
- :mod:`~._entries`: one adapter per kind of backend (reading, writing, listing,
  clearing, describing); :mod:`~._lru` and :mod:`~._sqlite` are the two backends
  of this package's own;
- :mod:`~._leases`: cross-process leases in Redis;
- :mod:`~._singleflight`: one fetch for identical concurrent calls;
- :mod:`~._snapshots`: :class:`SnapshotCache`, the rules (fresh, stale, history);
- :mod:`~._factory`: :func:`open_cache`, from a URL to a cache.
"""

from openrouter_bench.cache._factory import open_cache as open_cache
from openrouter_bench.cache._keys import namespace_for as namespace_for
from openrouter_bench.cache._policy import CachePolicy, CacheStats
from openrouter_bench.cache._snapshots import SnapshotCache

# namespace_for and open_cache serve the client and the command line; the API is the root's.
__all__ = ["CachePolicy", "CacheStats", "SnapshotCache"]
