"""A faithful, deterministic fake of OpenRouter's ``GET /api/v1/benchmarks``, on loopback.

It serves a realistic data set for every source, arena and category, checks
auth and parameters like the real endpoint (401, 400 with the contract's
error body), enforces the published rate limits (429 with ``Retry-After``),
publishes new snapshots on demand, injects scripted or random faults, and
logs every request. The package's own tests, benchmarks and demo use it, and
so can yours: see :mod:`openrouter_bench.fake.pytest_plugin` for the
``openrouter_fake`` fixture.

- :mod:`~openrouter_bench.fake.server`: :class:`FakeOpenRouter`, :func:`serve`
- :mod:`~openrouter_bench.fake.dataset`: the data and its snapshots
- :mod:`~openrouter_bench.fake.selection`: parameter checks, filtering, ``meta``
- :mod:`~openrouter_bench.fake.faults`: the faults and how they look on the wire
- :mod:`~openrouter_bench.fake.ratelimit`: the sliding-window limits
- :mod:`~openrouter_bench.fake.hostile`: :class:`HostileServer`, raw scripted answers
  from a malicious or misconfigured server
- :mod:`~openrouter_bench.fake.clock`: :class:`FakeTime`, a clock whose ``sleep`` waits
  for nothing, to give the client (``clock=``, ``timer=``, ``sleep=``) and the fake
- :mod:`~openrouter_bench.fake.redis_server`: :class:`RedisServer`, a private
  ``redis-server`` on a free loopback port, and :func:`free_port`
"""

from openrouter_bench.fake.clock import FakeTime
from openrouter_bench.fake.dataset import DEFAULT_AS_OF
from openrouter_bench.fake.faults import FAULT_NAMES, TRANSIENT_FAULTS, Fault
from openrouter_bench.fake.hostile import HostileServer, RawRequest
from openrouter_bench.fake.redis_server import RedisServer, free_port
from openrouter_bench.fake.selection import ParameterError
from openrouter_bench.fake.server import FakeOpenRouter, RecordedRequest, serve

__all__ = [
    "DEFAULT_AS_OF",
    "FAULT_NAMES",
    "FakeOpenRouter",
    "FakeTime",
    "Fault",
    "HostileServer",
    "ParameterError",
    "RawRequest",
    "RecordedRequest",
    "RedisServer",
    "TRANSIENT_FAULTS",
    "free_port",
    "serve",
]
