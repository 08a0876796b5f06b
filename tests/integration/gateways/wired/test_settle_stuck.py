"""Settling stuck objects: a timed-out authorization and a pending refund, answered
later by the gateway, settled through the inbound webhook path (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from paystead.config import Settings
from paystead.gateways.base import AuthorizeRequest, GatewayOutcomeUnknown, GatewayResult, Outcome
from paystead.gateways.sandbox import SandboxGateway
from paystead.money import Money
from paystead.payments import repository as repo
from paystead.payments.inbound import events_of
from paystead.payments.model import RefundStatus
from paystead.payments.service import CreatePayment, CreateRefund
from paystead.payments.stuck import settle_stuck
from paystead.platform.schema import journal_entries
from paystead.wiring import Services, build_services


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class Unreliable(SandboxGateway):
    """The sandbox, acting on every call, but losing the answer when told to: an
    authorization times out after the charge; a refund answers ``pending``."""

    def __init__(self) -> None:
        super().__init__(name="sandbox")
        self.time_out = False
        self.refunds_pending = False

    async def authorize(self, request: AuthorizeRequest) -> GatewayResult:
        result = await super().authorize(request)
        if self.time_out:
            raise GatewayOutcomeUnknown("read timeout", code="gateway_timeout")
        return result

    async def refund(self, reference: str, amount: Money, *, idempotency_key: str) -> GatewayResult:
        result = await super().refund(reference, amount, idempotency_key=idempotency_key)
        return replace(result, outcome=Outcome.PENDING) if self.refunds_pending else result


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def gateway() -> Unreliable:
    return Unreliable()


@pytest.fixture
async def services(database_url: str, clock: Clock, gateway: Unreliable) -> AsyncIterator[Services]:
    settings = Settings(database_url=database_url, worker_embedded="off")
    built = build_services(settings, clock=clock, gateways={"sandbox": gateway})
    try:
        yield built
    finally:
        await built.close()


async def entries_for(services: Services, payment_id: str) -> int:
    async with services.db.transaction() as conn:
        count = await conn.execute(
            sa.select(sa.func.count())
            .select_from(journal_entries)
            .where(journal_entries.c.payment_id == payment_id)
        )
    return int(count.scalar_one())


async def test_a_timed_out_payment_is_settled_once(
    services: Services, clock: Clock, gateway: Unreliable
) -> None:
    gateway.time_out = True
    payment = await services.payments.create(
        CreatePayment(amount=Money(50_000, "INR"), payment_method="pm_card_visa")
    )
    assert payment.status.value == "processing"
    gateway.time_out = False  # the gateway charged it; it can say so now

    young = await settle_stuck(services.inbound, older_than=timedelta(minutes=10))
    assert young.checked == 0  # not stuck yet

    clock.now += timedelta(minutes=11)
    summary = await settle_stuck(services.inbound, older_than=timedelta(minutes=10))
    assert (summary.checked, summary.settled, summary.errors) == (1, 1, 0)
    settled = await services.payments.get(payment.id)
    assert settled.status.value == "succeeded"
    assert settled.gateway_reference is not None
    assert await entries_for(services, payment.id) == 1
    async with services.db.transaction() as conn:
        [event] = await events_of(conn, payment.id)
    assert (event["type"], event["outcome"]) == ("paystead.settle.payment", "applied")

    clock.now += timedelta(minutes=11)
    again = await settle_stuck(services.inbound, older_than=timedelta(minutes=10))
    assert (again.checked, again.settled) == (0, 0)
    assert await entries_for(services, payment.id) == 1


async def test_a_pending_refund_is_settled(
    services: Services, clock: Clock, gateway: Unreliable
) -> None:
    payment = await services.payments.create(
        CreatePayment(amount=Money(50_000, "INR"), payment_method="pm_card_visa")
    )
    gateway.refunds_pending = True
    refund = await services.payments.refund(CreateRefund(payment_id=payment.id, amount=20_000))
    assert refund.status is RefundStatus.PENDING

    clock.now += timedelta(minutes=11)
    summary = await settle_stuck(services.inbound, older_than=timedelta(minutes=10))
    assert (summary.checked, summary.settled, summary.errors) == (1, 1, 0)
    async with services.db.transaction() as conn:
        settled = await repo.get_refund(conn, refund.id)
    assert settled.status is RefundStatus.SUCCEEDED
    after = await services.payments.get(payment.id)
    assert after.amount_refunded == 20_000

    again = await settle_stuck(services.inbound, older_than=timedelta(minutes=10))
    assert again.checked == 0
