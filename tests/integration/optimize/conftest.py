"""Services on a frozen clock with two sandbox gateways: ``good`` answers every charge,
``bad`` fails every one (a processing error), for experiments and canary rollouts.
Payments name their gateway, so routing never mixes the two."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from paystead.config import Settings
from paystead.gateways.assembly import build_gateway_stack
from paystead.gateways.routing import RoutingTable
from paystead.gateways.sandbox import SandboxGateway
from paystead.wiring import Services, build_services
from tests.conftest import FrozenClock


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
async def services(database_url: str, clock: FrozenClock) -> AsyncIterator[Services]:
    settings = Settings(database_url=database_url, base_currency="USD")
    stack = build_gateway_stack(
        settings,
        connectors={
            "good": SandboxGateway(name="good"),
            "bad": SandboxGateway(name="bad", failure_rate=1.0, seed=1),
        },
        table=RoutingTable(default=("good", "bad")),
    )
    built = build_services(settings, clock=clock, stack=stack)
    try:
        yield built
    finally:
        await built.close()
