"""Leader leases: a periodic job runs on one server of N, and moves when that one dies.

``paystead serve`` runs four periodic loops (the billing run, rollout ticks, SLO alert
evaluation, settling stuck payments). Each is safe to run twice, but N servers running
each N times repeat gateway look-ups and rollout decisions and race on alert
notifications, so each loop runs under a lease named after it:

- **Redis** (``PAYSTEAD_REDIS_URL``): ``SET <prefix>leader:<job> <token> NX PX ttl``
  takes the lease; the holder renews it every third of the TTL with a compare-and-
  ``PEXPIRE`` script and gives it back with a compare-and-``DEL`` script (the random
  token makes sure nobody renews or deletes a lease another process took meanwhile).
  A leader that dies is replaced at most ``PAYSTEAD_LEADER_LEASE_SECONDS`` later.
- **PostgreSQL without Redis**: a session-level ``pg_try_advisory_lock`` held on a
  connection of its own for as long as the process leads; a dead leader's connection
  closes and the lock goes with it, so another server takes over at its next try.
- **SQLite without Redis**: one process, no lease (:meth:`Leadership.guard` runs the
  loop as it is).

:func:`lead` wraps an unchanged loop (``loop(stop)``): it starts the loop when the
lease is taken and stops it (at the loop's next wait) when the lease is lost or the
server stops. A loop stopped mid-run finishes that run, and every job is idempotent
on its own (per-period claims, guarded updates), so a lease lost mid-run at worst runs
one pass twice. A lease store that cannot be reached means no leader (the job pauses,
and the failure is logged), never two.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import secrets
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from paystead.platform.db import Database
from paystead.platform.redis import SharedState

log = logging.getLogger(__name__)

#: A periodic loop: runs until the event is set.
Loop = Callable[[asyncio.Event], Coroutine[Any, Any, None]]

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class Lease(Protocol):
    name: str

    async def acquire(self) -> bool:
        """Take the lease if nobody holds it; True if this process now holds it."""

    async def renew(self) -> bool:
        """Keep holding it; False if it was lost (expired and taken, connection gone)."""

    async def release(self) -> None:
        """Give it back (only if still held by this process)."""


class RedisLease:
    def __init__(self, shared: SharedState, name: str, ttl: float):
        self.name = name
        self.key = shared.key("leader", name)
        self.ttl_ms = max(1, round(ttl * 1000))
        self.token = secrets.token_hex(16)
        self._client = shared.client
        self._renew = shared.client.register_script(_RENEW)
        self._release = shared.client.register_script(_RELEASE)

    async def acquire(self) -> bool:
        return bool(await self._client.set(self.key, self.token, nx=True, px=self.ttl_ms))

    async def renew(self) -> bool:
        return bool(await self._renew(keys=[self.key], args=[self.token, self.ttl_ms]))

    async def release(self) -> None:
        await self._release(keys=[self.key], args=[self.token])


class AdvisoryLease:
    """A PostgreSQL session-level advisory lock on a connection held while leading."""

    def __init__(self, db: Database, name: str):
        self.name = name
        self.db = db
        digest = hashlib.sha256(f"paystead:leader:{name}".encode()).digest()
        self.lock_id = int.from_bytes(digest[:8], "big", signed=True)
        self._conn: AsyncConnection | None = None

    async def acquire(self) -> bool:
        if self._conn is not None:
            return await self.renew()
        conn = await self.db.engine.connect()
        try:
            got = (
                await conn.execute(sa.select(sa.func.pg_try_advisory_lock(self.lock_id)))
            ).scalar()
            await conn.commit()
        except BaseException:
            await conn.invalidate()
            await conn.close()
            raise
        if not got:
            await conn.close()
            return False
        self._conn = conn
        return True

    async def renew(self) -> bool:
        """The lock lives as long as its session: check the session is alive."""
        conn = self._conn
        if conn is None:
            return False
        try:
            await conn.execute(sa.select(1))
            await conn.commit()
        except Exception:
            self._conn = None
            await _discard(conn)
            return False
        return True

    async def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            await conn.execute(sa.select(sa.func.pg_advisory_unlock(self.lock_id)))
            await conn.commit()
        except Exception:
            await _discard(conn)  # closing the session frees the lock
            raise
        await conn.close()


async def _discard(conn: AsyncConnection) -> None:
    """Close ``conn`` for good (not back to the pool, where its session would live on)."""
    with contextlib.suppress(Exception):
        await conn.invalidate()
    with contextlib.suppress(Exception):
        await conn.close()


async def lead(lease: Lease, loop: Loop, stop: asyncio.Event, *, every: float) -> None:
    """Run ``loop`` whenever this process holds ``lease``, until ``stop`` is set.

    Not leading, it tries to take the lease every ``every`` seconds; leading, it renews
    the lease that often and stops ``loop`` as soon as a renewal fails.
    """
    while not stop.is_set():
        try:
            held = await lease.acquire()
        except Exception:
            log.warning("leader lease %s: could not be taken", lease.name, exc_info=True)
            held = False
        if held:
            log.info("leader lease %s: taken; running the job here", lease.name)
            await _run_while_held(lease, loop, stop, every)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every)


async def _run_while_held(lease: Lease, loop: Loop, stop: asyncio.Event, every: float) -> None:
    inner = asyncio.Event()
    job = asyncio.create_task(loop(inner), name=f"paystead-{lease.name}")
    stopping = asyncio.create_task(stop.wait())
    try:
        while True:
            await asyncio.wait({job, stopping}, timeout=every, return_when="FIRST_COMPLETED")
            if stop.is_set() or job.done():
                break
            try:
                renewed = await lease.renew()
            except Exception:
                log.warning("leader lease %s: renewal failed", lease.name, exc_info=True)
                renewed = False
            if not renewed:
                log.warning("leader lease %s: lost; stopping the job here", lease.name)
                break
    finally:
        stopping.cancel()
        inner.set()
        try:
            await job
        except Exception:
            log.exception("leader lease %s: the job failed", lease.name)
        try:
            await lease.release()
        except Exception:
            log.warning("leader lease %s: release failed (it expires)", lease.name, exc_info=True)


class Leadership:
    """Leases for named jobs: Redis when there is one, else PostgreSQL advisory locks,
    else none (SQLite is one process)."""

    def __init__(self, db: Database, shared: SharedState | None, *, ttl: float):
        self.db = db
        self.shared = shared
        self.ttl = ttl

    @property
    def kind(self) -> str:
        """``redis``, ``postgresql`` or ``none``: how the jobs are guarded."""
        if self.shared is not None:
            return "redis"
        return "postgresql" if self.db.is_postgres else "none"

    def lease(self, name: str) -> Lease | None:
        if self.shared is not None:
            return RedisLease(self.shared, name, self.ttl)
        if self.db.is_postgres:
            return AdvisoryLease(self.db, name)
        return None

    def guard(self, name: str, loop: Loop, stop: asyncio.Event) -> Coroutine[Any, Any, None]:
        """``loop(stop)`` under the lease ``name`` (as it is when no lease is needed)."""
        lease = self.lease(name)
        if lease is None:
            return loop(stop)
        return lead(lease, loop, stop, every=self.ttl / 3)
