"""Leader leases for the periodic jobs: of two runners only one runs the job; a leader
that stops hands over; one killed outright (SIGKILL: no release) is replaced once its
Redis lease expires; PostgreSQL advisory locks do the same without Redis."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa
from redis.asyncio import Redis

from paystead.config import Settings
from paystead.platform.db import Database
from paystead.platform.leader import AdvisoryLease, Leadership, RedisLease, lead
from paystead.platform.redis import SharedState

from .conftest import REDIS_URL


def recording_job(
    runs: list[str], name: str
) -> Callable[[asyncio.Event], Coroutine[Any, Any, None]]:
    """A periodic loop that notes each time it starts, then waits for its stop."""

    async def loop(stop: asyncio.Event) -> None:
        runs.append(name)
        await stop.wait()

    return loop


async def _until(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


async def test_a_redis_lease_is_held_by_one_token_at_a_time(shared: SharedState) -> None:
    a, b = RedisLease(shared, "billing-run", 5.0), RedisLease(shared, "billing-run", 5.0)
    assert await a.acquire()
    assert not await b.acquire()
    assert not await b.renew()  # b never held it: it cannot extend a's
    await b.release()  # nor delete it
    assert await shared.client.get(a.key) == a.token.encode()
    assert await a.renew()
    await a.release()
    assert await shared.client.get(a.key) is None
    assert await b.acquire()
    await a.release()  # a's late release leaves b's lease alone
    assert await shared.client.get(b.key) == b.token.encode()


async def test_only_one_of_two_runners_leads_and_a_stopping_leader_hands_over(
    shared: SharedState,
) -> None:
    runs: list[str] = []
    stop_a, stop_b = asyncio.Event(), asyncio.Event()
    ttl = 1.0
    a = asyncio.create_task(
        lead(RedisLease(shared, "rollouts", ttl), recording_job(runs, "a"), stop_a, every=ttl / 3)
    )
    b = asyncio.create_task(
        lead(RedisLease(shared, "rollouts", ttl), recording_job(runs, "b"), stop_b, every=ttl / 3)
    )
    try:
        assert await _until(lambda: len(runs) == 1, 5)
        await asyncio.sleep(2 * ttl)  # two TTLs: the leader kept renewing, nobody else ran
        assert len(runs) == 1
        first = runs[0]
        (stop_a if first == "a" else stop_b).set()  # the leader shuts down: releases
        assert await _until(lambda: len(runs) == 2, 5)
        assert runs[1] != first
    finally:
        stop_a.set()
        stop_b.set()
        await asyncio.gather(a, b)


_LEADER_SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    from redis.asyncio import Redis
    from paystead.platform.leader import RedisLease, lead
    from paystead.platform.redis import SharedState

    async def main() -> None:
        shared = SharedState(client=Redis.from_url(sys.argv[1]), prefix=sys.argv[2])
        async def job(stop: asyncio.Event) -> None:
            print("leading", flush=True)
            await stop.wait()
        await lead(RedisLease(shared, "settle", float(sys.argv[3])), job, asyncio.Event(),
                   every=float(sys.argv[3]) / 3)

    asyncio.run(main())
    """
)


async def test_a_killed_leader_is_replaced_after_the_ttl(
    shared: SharedState, tmp_path: Path
) -> None:
    ttl = 2.0
    script = tmp_path / "leader.py"
    script.write_text(_LEADER_SCRIPT)
    other = subprocess.Popen(
        [sys.executable, str(script), REDIS_URL, shared.prefix, str(ttl)],
        stdout=subprocess.PIPE,
        text=True,
    )
    runs: list[str] = []
    stop = asyncio.Event()
    here: asyncio.Task[None] | None = None
    try:
        assert other.stdout is not None
        line = await asyncio.to_thread(other.stdout.readline)
        assert line.strip() == "leading"
        here = asyncio.create_task(
            lead(RedisLease(shared, "settle", ttl), recording_job(runs, "here"), stop, every=0.1)
        )
        await asyncio.sleep(1.5 * ttl)  # the other process is alive and renewing
        assert runs == []
        key = shared.key("leader", "settle")
        other.send_signal(signal.SIGKILL)  # no release: only the TTL frees the lease
        await asyncio.to_thread(other.wait)
        left = await shared.client.pttl(key)
        assert 0 < left <= ttl * 1000
        killed_at = time.monotonic()
        assert await _until(lambda: runs == ["here"], ttl + 5)
        assert time.monotonic() - killed_at >= left / 1000 - 0.2  # not before it expired
    finally:
        if other.poll() is None:
            other.kill()
            other.wait()
        if other.stdout is not None:
            other.stdout.close()
        stop.set()
        if here is not None:
            await here


async def test_postgres_advisory_locks_without_redis(postgres_url: str) -> None:
    one = Database.from_settings(Settings(database_url=postgres_url))
    two = Database.from_settings(Settings(database_url=postgres_url))
    a, b = AdvisoryLease(one, "alerts"), AdvisoryLease(two, "alerts")
    try:
        assert Leadership(one, None, ttl=30).kind == "postgresql"
        assert await a.acquire()
        assert not await b.acquire()
        assert await a.renew()
        await a.release()
        assert await b.acquire()
        # The leader's server dies: its session ends and the lock with it.
        assert b._conn is not None
        pid = (await b._conn.execute(sa.select(sa.func.pg_backend_pid()))).scalar()
        await b._conn.commit()
        dbname = postgres_url.rsplit("/", 1)[1]
        with psycopg.connect(
            f"host=127.0.0.1 port=5432 user=postgres dbname={dbname}", autocommit=True
        ) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        assert not await b.renew()
        assert await a.acquire()
        await a.release()
    finally:
        with contextlib.suppress(Exception):
            await b.release()
        await one.dispose()
        await two.dispose()


async def test_sqlite_without_redis_runs_the_loop_as_it_is(tmp_path: Path) -> None:
    db = Database.from_settings(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'one.db'}"))
    try:
        leadership = Leadership(db, None, ttl=30)
        assert leadership.kind == "none" and leadership.lease("billing-run") is None
        runs: list[str] = []
        stop = asyncio.Event()
        stop.set()
        await leadership.guard("billing-run", recording_job(runs, "only"), stop)
        assert runs == ["only"]
    finally:
        await db.dispose()


async def test_serve_runs_its_jobs_under_redis_leases(database_url: str, redis_prefix: str) -> None:
    from paystead.api.app import create_app

    settings = Settings(
        database_url=database_url,
        redis_url=REDIS_URL,
        redis_prefix=redis_prefix,
        telemetry_enabled=False,
        probe_enabled=False,
        settle_interval_seconds=300,
        billing_run_interval_seconds=60,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        shared = app.state.services.shared
        assert shared is not None and app.state.services.leadership.kind == "redis"
        names = ("billing-run", "rollouts", "alerts", "settle")
        keys = [shared.key("leader", name) for name in names]
        assert await _until_async(lambda: _all_exist(shared, keys), 5)
    # Shut down: every lease was given back at once, not left to expire.
    check = Redis.from_url(REDIS_URL)
    try:
        assert await check.exists(*keys) == 0
    finally:
        await check.aclose()


async def _all_exist(shared: SharedState, keys: list[str]) -> bool:
    return bool(await shared.client.exists(*keys) == len(keys))


async def _until_async(predicate: Callable[[], Coroutine[Any, Any, bool]], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not await predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


async def test_serve_on_postgres_without_redis_holds_advisory_locks(postgres_url: str) -> None:
    from paystead.api.app import create_app

    settings = Settings(
        database_url=postgres_url,
        telemetry_enabled=False,
        probe_enabled=False,
        settle_interval_seconds=300,
        billing_run_interval_seconds=60,
    )
    held = sa.text(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
        " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        services = app.state.services
        assert services.shared is None and services.leadership.kind == "postgresql"

        async def four() -> bool:
            async with services.db.transaction() as conn:
                return bool((await conn.execute(held)).scalar() == 4)

        assert await _until_async(four, 5)
    check = Database.from_settings(Settings(database_url=postgres_url))
    try:
        async with check.transaction() as conn:
            assert (await conn.execute(held)).scalar() == 0  # released on shutdown
    finally:
        await check.dispose()
