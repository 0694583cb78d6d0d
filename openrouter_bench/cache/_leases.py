"""Cross-process leases in Redis: one process fetches a query while the others wait for it.

The lease is a key ``SET NX PX`` with a random token; its holder renews it
while its fetch runs (:meth:`RedisLeases.hold`) and frees it after
(:meth:`RedisLeases.release`). Both are compare-and-set Lua scripts, so a
holder whose lease lapsed and was taken over can neither extend nor free the
new holder's.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import secrets
from typing import Any, Final, cast

from aiocache.base import BaseCache

from openrouter_bench import _redis

__all__ = ["LEASE_POLL", "Lease", "RedisLeases"]

#: How often a process waiting for another's lease looks at the pointer (real seconds).
LEASE_POLL: Final = 0.05

_RELEASE_LEASE: Final = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""

_RENEW_LEASE: Final = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""


class Lease(enum.Enum):
    """Why no lease was taken."""

    BUSY = "another process holds it"
    UNAVAILABLE = "leases cannot be taken now"


class RedisLeases:
    """Cross-process leases: ``SET key token NX PX ttl``, renewed and released by their holder.

    aiocache's ``RedLock`` keeps its state in the process, so it cannot stop
    another process; a Redis key with a random token can. Renewal and release
    are compare-and-set scripts, so a holder whose lease expired and was taken
    over can neither extend nor free the new holder's lease.
    """

    def __init__(self, client: Any, backend: BaseCache, logger: logging.Logger) -> None:
        self._client = client
        self._backend = backend
        self._logger = logger
        self._release_script = client.register_script(_RELEASE_LEASE)
        self._renew_script = client.register_script(_RENEW_LEASE)

    def _key(self, key: str) -> str:
        # Honour a namespace configured on the aiocache instance, as its own calls do.
        return cast(str, self._backend.build_key(key))

    async def acquire(self, key: str, ttl: float) -> str | Lease:
        token = secrets.token_hex(16)
        taken = await self._client.set(self._key(key), token, nx=True, px=_lease_ms(ttl))
        return token if taken else Lease.BUSY

    async def expires(self, key: str) -> bool:
        """False if ``key`` exists and never expires: not a lease any holder of ours took."""
        return int(await self._client.pttl(self._key(key))) != -1

    async def release(self, key: str, token: str) -> None:
        await self._release_script(keys=[self._key(key)], args=[token])

    async def renew(self, key: str, token: str, ttl: float) -> bool:
        """Extend the lease to ``ttl`` from now; False if ``token`` no longer holds it."""
        return bool(await self._renew_script(keys=[self._key(key)], args=[token, _lease_ms(ttl)]))

    async def hold(self, key: str, token: str, ttl: float) -> None:
        """Renew a held lease every third of ``ttl``, until cancelled or lost."""
        every = max(ttl / 3, LEASE_POLL)
        while True:
            await asyncio.sleep(every)
            try:
                async with asyncio.timeout(_redis.TIMEOUT):
                    held = await self.renew(key, token, ttl)
            except Exception as error:  # noqa: BLE001  # tried again next round; it may lapse
                self._logger.debug("snapshot cache: could not renew a lease: %r", error)
                continue
            if not held:
                # It lapsed (Redis was away or restarted) and may be another's by now.
                self._logger.debug("snapshot cache: lost the lease %s; not renewing", key)
                return

    async def let_go(self, key: str, token: str) -> None:
        """Release the lease if Redis answers in time; an unreleased lease expires by itself."""
        # Tried even while the backend counts as down: others wait on this lease.
        try:
            async with asyncio.timeout(_redis.TIMEOUT):
                await self.release(key, token)
        except Exception as error:  # noqa: BLE001  # an unreleased lease expires by itself
            self._logger.debug("snapshot cache: could not release a lease: %r", error)


def _lease_ms(ttl: float) -> int:
    return max(1, int(ttl * 1000))
