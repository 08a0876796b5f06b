"""Fixtures for the outbound tests: services on a frozen clock that starts now, with
loopback webhook URLs allowed, and a way to build them with other settings."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from typing import Any

import pytest

from paystead.config import Settings
from paystead.events.worker import Worker
from paystead.wiring import Services, build_services, build_worker
from tests.conftest import FrozenClock

MakeServices = Callable[..., Awaitable[Services]]


@pytest.fixture
def clock() -> FrozenClock:
    # Starts at the real time, so Standard Webhooks receivers (which allow 5 minutes of
    # skew) accept the first attempts; tests then move it by hand.
    return FrozenClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
async def make_services(database_url: str, clock: FrozenClock) -> AsyncIterator[MakeServices]:
    async with AsyncExitStack() as stack:

        async def make(**overrides: Any) -> Services:
            settings = Settings(
                database_url=database_url,
                **{
                    "webhook_allow_http_loopback": True,
                    "sms_provider": "none",
                    "worker_concurrency": 4,
                    **overrides,
                },
            )
            services = build_services(settings, clock=clock)
            stack.push_async_callback(services.close)
            return services

        yield make


@pytest.fixture
async def outbound(make_services: MakeServices) -> Services:
    return await make_services()


@pytest.fixture
async def worker(outbound: Services, clock: FrozenClock) -> AsyncIterator[Worker]:
    built = build_worker(outbound, clock=clock)
    try:
        yield built
    finally:
        await built.close()
