"""The payment path on flags, on both backends: the real PaymentService, two sandbox
gateways and OpenFeature's InMemoryProvider on a domain of its own.

Enforce blocks before any gateway call (failure code, event, no ledger entry); shadow
records and lets the payment through; the routing strategy flag changes the gateway;
``single_attempt`` stops the fallback; each attempt records the flags it ran with."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from openfeature import api
from openfeature.client import OpenFeatureClient
from openfeature.provider.in_memory_provider import InMemoryFlag, InMemoryProvider
from openfeature.provider.no_op_provider import NoOpProvider

from paystead.config import Settings
from paystead.gateways.assembly import build_gateway_stack
from paystead.gateways.base import AuthorizeRequest, GatewayResult
from paystead.gateways.routing import RoutingTable
from paystead.gateways.sandbox import SandboxGateway
from paystead.money import Money
from paystead.payments import flags
from paystead.payments.model import Payment
from paystead.payments.service import CreatePayment, PaymentService
from paystead.platform.schema import events, risk_assessments
from paystead.risk.config import RiskConfig
from paystead.risk.screening import Screener
from paystead.wiring import Services, build_services


class RecordingSandbox(SandboxGateway):
    """The real sandbox, remembering which payments it was asked to authorize."""

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.authorized: list[str] = []

    async def authorize(self, request: AuthorizeRequest) -> GatewayResult:
        self.authorized.append(request.idempotency_key)
        return await super().authorize(request)


@pytest.fixture
async def services(database_url: str) -> AsyncIterator[Services]:
    """Gateway ``a`` fails every charge retryably and costs 3 %; ``b`` works and costs
    1 %. The router has seen ``a`` succeed and ``b`` fail, so Thompson picks ``a``."""
    settings = Settings(
        database_url=database_url,
        routing_exploration=0.0,
        routing_seed=7,
        gateway_fee_percent={"a": "3", "b": "1"},
    )
    stack = build_gateway_stack(
        settings,
        connectors={
            "a": RecordingSandbox(name="a", failure_rate=1.0, seed=1),
            "b": RecordingSandbox(name="b"),
        },
        table=RoutingTable(default=("a", "b")),
    )
    for _ in range(200):
        stack.router.record("a", "USD", "card", success=True)
        stack.router.record("b", "USD", "card", success=False)
    built = build_services(settings, stack=stack)
    try:
        yield built
    finally:
        await built.close()


@pytest.fixture
def domain() -> Iterator[str]:
    name = f"test-risk-{uuid.uuid4().hex}"
    yield name
    api.set_provider(NoOpProvider(), domain=name)


def features(domain: str, **values: str) -> OpenFeatureClient:
    keys = {
        "routing_strategy": flags.ROUTING_STRATEGY,
        "retry_policy": flags.RETRY_POLICY,
        "fraud_screening": flags.FRAUD_SCREENING,
    }
    api.set_provider(
        InMemoryProvider({keys[k]: InMemoryFlag("on", {"on": v}) for k, v in values.items()}),
        domain=domain,
    )
    return api.get_client(domain=domain)


BLOCKLIST = RiskConfig.model_validate({"blocklist": {"emails": ["mallory@example.com"]}})


def payments(services: Services, client: OpenFeatureClient | None) -> PaymentService:
    return PaymentService(
        services.db,
        services.gateways.gateways,
        services.ledger,
        router=services.gateways.router,
        clock=services.clock,
        features=client,
        screener=Screener(BLOCKLIST),
    )


def calls(services: Services) -> dict[str, list[str]]:
    return {
        name: list(gw.authorized)  # type: ignore[attr-defined]
        for name, gw in services.gateways.connectors.items()
    }


async def mallory(services: Services) -> str:
    customer = await services.customers.create(email="mallory@example.com", name="Mallory")
    return customer.id


async def assessment(services: Services, payment_id: str) -> dict[str, Any] | None:
    async with services.db.transaction() as conn:
        row = (
            await conn.execute(
                sa.select(risk_assessments).where(risk_assessments.c.payment_id == payment_id)
            )
        ).first()
    return dict(row._mapping) if row is not None else None


async def event_types(services: Services, payment_id: str) -> list[str]:
    async with services.db.transaction() as conn:
        rows = await conn.execute(
            sa.select(events.c.type).where(events.c.object_id == payment_id).order_by(events.c.id)
        )
        return [r.type for r in rows]


async def ledger_of(services: Services, payment: Payment) -> list[dict[str, Any]]:
    async with services.db.transaction() as conn:
        assert await services.ledger.check(conn) == []
        return await services.ledger.entries(conn, payment_id=payment.id)


def usd(amount: int = 5_000) -> Money:
    return Money(amount, "USD")


async def test_enforce_blocks_before_any_gateway_call(services: Services, domain: str) -> None:
    service = payments(
        services, features(domain, fraud_screening="enforce", routing_strategy="lowest_cost")
    )
    customer = await mallory(services)

    blocked = await service.create(CreatePayment(usd(), "pm_card_visa", customer_id=customer))

    assert (blocked.status.value, blocked.failure_code) == ("failed", "fraud_suspected")
    assert blocked.attempts == []
    assert calls(services) == {"a": [], "b": []}
    assert await ledger_of(services, blocked) == []
    stored = await assessment(services, blocked.id)
    assert stored is not None
    assert (stored["decision"], stored["mode"], stored["score"]) == ("block", "enforce", 100)
    assert [r["rule"] for r in stored["rules"]] == ["blocklisted"]
    assert await event_types(services, blocked.id) == ["payment.created", "payment.failed"]
    assert (await service.get(blocked.id)).failure_code == "fraud_suspected"

    # An allowed payment in the same mode goes through, assessed too.
    ok = await service.create(CreatePayment(usd(), "pm_card_visa"))
    assert ok.status.value == "succeeded" and ok.gateway == "b"
    allowed = await assessment(services, ok.id)
    assert allowed is not None and (allowed["decision"], allowed["mode"]) == ("allow", "enforce")
    assert len(await ledger_of(services, ok)) == 1


async def test_enforce_blocks_a_later_confirmation_too(services: Services, domain: str) -> None:
    service = payments(services, features(domain, fraud_screening="enforce"))
    customer = await mallory(services)
    draft = await service.create(
        CreatePayment(usd(), "pm_card_visa", customer_id=customer, confirm=False)
    )
    assert draft.status.value == "requires_confirmation"
    assert await assessment(services, draft.id) is None  # not screened until confirmed

    confirmed = await service.confirm(draft.id)

    assert (confirmed.status.value, confirmed.failure_code) == ("failed", "fraud_suspected")
    assert calls(services) == {"a": [], "b": []}
    assert await ledger_of(services, confirmed) == []
    assert (await event_types(services, draft.id))[-1] == "payment.failed"


async def test_shadow_records_a_block_but_lets_the_payment_through(
    services: Services, domain: str
) -> None:
    service = payments(services, features(domain, routing_strategy="lowest_cost"))  # no mode flag
    customer = await mallory(services)

    paid = await service.create(CreatePayment(usd(), "pm_card_visa", customer_id=customer))

    assert paid.status.value == "succeeded"
    assert calls(services)["b"] == [f"{paid.id}:authorize"]
    stored = await assessment(services, paid.id)
    assert stored is not None and (stored["decision"], stored["mode"]) == ("block", "shadow")
    assert paid.attempts[0]["flags"] == {
        "routing_strategy": "lowest_cost",
        "retry_policy": "fallback",
        "fraud_screening": "shadow",
    }
    assert len(await ledger_of(services, paid)) == 1


async def test_off_and_no_client_screen_nothing(services: Services, domain: str) -> None:
    customer = await mallory(services)
    off = payments(services, features(domain, fraud_screening="off"))
    first = await off.create(CreatePayment(usd(), "pm_card_visa", customer_id=customer))
    assert await assessment(services, first.id) is None
    assert first.attempts[0]["flags"]["fraud_screening"] == "off"

    today = payments(services, None)
    second = await today.create(CreatePayment(usd(), "pm_card_visa", customer_id=customer))
    assert await assessment(services, second.id) is None
    assert all("flags" not in a for a in second.attempts)  # exactly today's record
    # Today's routing: Thompson tries a (it fails retryably), falls back to b.
    assert [a["gateway"] for a in second.attempts] == ["a", "b"]


async def test_the_strategy_flag_changes_the_chosen_gateway(
    services: Services, domain: str
) -> None:
    thompson = payments(services, features(domain, routing_strategy="thompson"))
    one = await thompson.create(CreatePayment(usd(), "pm_card_visa"))
    first = one.attempts[0]
    assert (first["gateway"], first["decision"]["reason"]) == ("a", "thompson_sampling")

    cheapest = payments(services, features(domain, routing_strategy="lowest_cost"))
    two = await cheapest.create(CreatePayment(usd(), "pm_card_visa"))
    assert [(a["gateway"], a["decision"]["reason"]) for a in two.attempts] == [("b", "lowest_cost")]
    assert two.status.value == "succeeded"


async def test_single_attempt_stops_the_fallback(services: Services, domain: str) -> None:
    fallback = payments(services, features(domain, retry_policy="fallback"))
    rescued = await fallback.create(CreatePayment(usd(), "pm_card_visa"))
    assert [a["gateway"] for a in rescued.attempts] == ["a", "b"]
    assert rescued.status.value == "succeeded"

    single = payments(services, features(domain, retry_policy="single_attempt"))
    stopped = await single.create(CreatePayment(usd(), "pm_card_visa"))

    assert [a["gateway"] for a in stopped.attempts] == ["a"]
    assert (stopped.status.value, stopped.failure_code) == ("failed", "processing_error")
    assert f"{stopped.id}:authorize:2" not in calls(services)["b"]
    assert stopped.attempts[0]["flags"]["retry_policy"] == "single_attempt"
    assert await ledger_of(services, stopped) == []


async def test_velocity_and_failures_build_up_across_payments(
    services: Services, domain: str
) -> None:
    """Declines of one customer feed ``recent_failures``; its payments feed velocity."""
    service = payments(services, features(domain, fraud_screening="shadow"))
    customer = (await services.customers.create(email="ann@example.com", name="Ann")).id
    for _ in range(3):
        declined = await service.create(
            CreatePayment(usd(), "pm_card_declined", customer_id=customer, gateway="b")
        )
        assert declined.status.value == "failed"
    later = await service.create(CreatePayment(usd(), "pm_card_visa", customer_id=customer))
    stored = await assessment(services, later.id)
    assert stored is not None
    assert [r["rule"] for r in stored["rules"]] == ["recent_failures"]
