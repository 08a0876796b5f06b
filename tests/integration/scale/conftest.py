"""Fixtures for the scale path: the real Redis on 127.0.0.1:6379 (``.ci/run`` starts
it; an unreachable server fails the tests rather than skipping them). Each test gets a
key prefix of its own and deletes only the keys under it."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from paystead.platform.redis import SharedState

REDIS_URL = os.environ.get("PAYSTEAD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    prefix = f"paystead-test:{uuid.uuid4().hex[:12]}:"
    yield prefix
    client = Redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=500)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture
async def shared(redis_prefix: str) -> AsyncIterator[SharedState]:
    state = SharedState(client=Redis.from_url(REDIS_URL), prefix=redis_prefix)
    try:
        yield state
    finally:
        await state.close()
