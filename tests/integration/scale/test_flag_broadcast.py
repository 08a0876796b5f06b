"""Flag changes through Redis pub/sub: a write in one process reaches another at once,
with that process's poll set to five minutes; a process without Redis still waits for
its poll (the fallback)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from paystead.config import Settings
from paystead.optimize.flags.cache import run_periodically
from paystead.optimize.flags.model import parse_definition
from paystead.wiring import build_services

from .conftest import REDIS_URL

POLL = 300.0  # seconds: far beyond the test's patience, so only a broadcast can deliver


async def _until(predicate: Callable[[], bool], timeout: float) -> bool:
    async def wait() -> None:
        while not predicate():
            await asyncio.sleep(0.02)

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(wait(), timeout=timeout)
        return True
    return False


async def test_a_flag_write_reaches_the_other_process_without_the_poll(
    database_url: str, redis_prefix: str
) -> None:
    shared = Settings(
        database_url=database_url,
        redis_url=REDIS_URL,
        redis_prefix=redis_prefix,
        flags_refresh_seconds=POLL,
    )
    writer, reader = build_services(shared), build_services(shared)
    polling_only = build_services(Settings(database_url=database_url, flags_refresh_seconds=POLL))
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(run_periodically(s.flags.cache, POLL, stop))
        for s in (writer, reader, polling_only)
    ]
    try:
        broadcast = reader.flags.cache.broadcast
        assert broadcast is not None
        assert polling_only.flags.cache.broadcast is None
        assert await _until(broadcast.subscribed.is_set, 5)
        assert await _until(lambda: polling_only.flags.cache.signature is not None, 5)
        assert reader.flags.cache.get("new-checkout") is None

        await writer.flags.create(
            "new-checkout",
            parse_definition({"default": {"variant": "on"}}),
            actor="test",
            reason="broadcast",
        )
        assert await _until(lambda: reader.flags.cache.get("new-checkout") is not None, 5)
        # The same write, without Redis, is still waiting for the five-minute poll.
        assert polling_only.flags.cache.get("new-checkout") is None

        await writer.flags.delete("new-checkout", actor="test", reason="broadcast")
        assert await _until(lambda: reader.flags.cache.get("new-checkout") is None, 5)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        for s in (writer, reader, polling_only):
            await s.close()


async def test_a_lost_subscription_comes_back(database_url: str, redis_prefix: str) -> None:
    settings = Settings(
        database_url=database_url,
        redis_url=REDIS_URL,
        redis_prefix=redis_prefix,
        flags_refresh_seconds=POLL,
    )
    writer, reader = build_services(settings), build_services(settings)
    broadcast = reader.flags.cache.broadcast
    assert broadcast is not None
    broadcast.retry_seconds = 0.1
    stop = asyncio.Event()
    task = asyncio.create_task(run_periodically(reader.flags.cache, POLL, stop))
    try:
        assert await _until(broadcast.subscribed.is_set, 5)
        # Redis drops the subscriber's connection (a restart, a failover).
        assert writer.shared is not None
        client = writer.shared.client
        name = redis_prefix.rstrip(":")
        ours = [c for c in await client.client_list("pubsub") if c["name"] == name]
        assert len(ours) == 1
        await client.client_kill_filter(_id=ours[0]["id"])
        assert await _until(lambda: not broadcast.subscribed.is_set(), 5)
        assert await _until(broadcast.subscribed.is_set, 5)
        await writer.flags.create("after-reconnect", parse_definition({}), actor="t", reason="r")
        assert await _until(lambda: reader.flags.cache.get("after-reconnect") is not None, 5)
    finally:
        stop.set()
        await task
        await writer.close()
        await reader.close()
