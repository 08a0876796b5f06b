"""Every state change records its typed event in the same transaction (SQLite, PostgreSQL)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from paystead.errors import AmountExceedsRemaining
from paystead.events import catalog
from paystead.events.context import RequestContext, bound
from paystead.events.outbox import Event, EventFilter, record
from paystead.gateways.base import GatewayResult, Outcome
from paystead.money import Money
from paystead.payments.model import CaptureMethod
from paystead.payments.service import CreatePayment, CreateRefund
from paystead.platform.schema import events
from paystead.wiring import Services
from tests.conftest import FrozenClock


async def all_events(services: Services, object_id: str | None = None) -> list[Event]:
    found, _ = await services.events.list(
        EventFilter(object_id=object_id), limit=100, starting_after=None
    )
    return list(reversed(found))  # oldest first


def types(found: list[Event]) -> list[str]:
    return [e.type for e in found]


async def test_an_automatic_payment_records_created_then_succeeded(services: Services) -> None:
    payment = await services.payments.create(CreatePayment(Money(50000, "INR"), "pm_card_visa"))

    found = await all_events(services, payment.id)
    assert types(found) == ["payment.created", "payment.succeeded"]
    created, succeeded = found
    assert created.data["status"] == "processing" and created.previous is None
    assert succeeded.data["status"] == "succeeded"
    assert succeeded.data["amount_captured"] == 50000
    assert succeeded.previous is not None
    assert succeeded.previous["status"] == "processing"
    assert succeeded.previous["amount_captured"] == 0
    assert all(e.object_type == "payment" and e.actor == "system" for e in found)


async def test_a_decline_records_failed(services: Services) -> None:
    payment = await services.payments.create(CreatePayment(Money(700, "INR"), "pm_card_declined"))
    found = await all_events(services, payment.id)
    assert types(found) == ["payment.created", "payment.failed"]
    assert found[1].data["failure_code"] == "card_declined"
    assert found[1].previous is not None
    assert found[1].previous.keys() == {
        "status",
        "failure_code",
        "failure_message",
        "gateway_reference",
    }
    assert found[1].previous["status"] == "processing"


async def test_manual_capture_confirm_and_cancel_each_record_their_change(
    services: Services,
) -> None:
    manual = await services.payments.create(
        CreatePayment(Money(9000, "INR"), "pm_card_visa", capture_method=CaptureMethod.MANUAL)
    )
    await services.payments.capture(manual.id, 4000)
    assert types(await all_events(services, manual.id)) == [
        "payment.created",
        "payment.requires_capture",
        "payment.processing",
        "payment.succeeded",
    ]

    later = await services.payments.create(
        CreatePayment(Money(100, "INR"), "pm_card_visa", confirm=False)
    )
    await services.payments.confirm(later.id)
    assert types(await all_events(services, later.id)) == [
        "payment.created",
        "payment.processing",
        "payment.succeeded",
    ]

    held = await services.payments.create(
        CreatePayment(Money(500, "INR"), "pm_card_visa", capture_method=CaptureMethod.MANUAL)
    )
    await services.payments.cancel(held.id)
    found = await all_events(services, held.id)
    assert types(found)[-1] == "payment.canceled"
    assert found[-1].previous == {"status": "requires_capture"}


async def test_a_refused_capture_records_capture_failed(services: Services) -> None:
    payment = await services.payments.create(
        CreatePayment(Money(9000, "INR"), "pm_card_visa", capture_method=CaptureMethod.MANUAL)
    )
    gateway = services.payments.gateways["sandbox"]

    async def refuse(*_args: Any, **_kwargs: Any) -> GatewayResult:
        return GatewayResult(Outcome.DECLINED, failure_code="capture_refused", failure_message="no")

    original = gateway.capture
    gateway.capture = refuse  # type: ignore[method-assign]
    try:
        await services.payments.capture(payment.id)
    finally:
        gateway.capture = original  # type: ignore[method-assign]
    found = await all_events(services, payment.id)
    assert types(found)[-2:] == ["payment.processing", "payment.capture_failed"]
    assert found[-1].data["status"] == "requires_capture"


async def test_refunds_record_created_then_their_outcome(services: Services) -> None:
    payment = await services.payments.create(CreatePayment(Money(50000, "INR"), "pm_card_visa"))
    refund = await services.payments.refund(CreateRefund(payment.id, 1500))

    found = await all_events(services, refund.id)
    assert types(found) == ["refund.created", "refund.succeeded"]
    assert found[0].data["status"] == "pending"
    assert found[1].data == {**found[1].data, "status": "succeeded", "payment": payment.id}
    assert found[1].previous is not None and found[1].previous["status"] == "pending"


async def test_a_customer_records_created(services: Services) -> None:
    with bound(RequestContext(request_id="req_test", actor="key_test")):
        customer = await services.customers.create(email="asha@example.com", name="Asha")
    [created] = await all_events(services, customer.id)
    assert created.type == "customer.created"
    assert created.data["email"] == "asha@example.com"
    assert (created.actor, created.request_id) == ("key_test", "req_test")


async def test_a_rejected_change_records_nothing(services: Services) -> None:
    payment = await services.payments.create(CreatePayment(Money(1000, "INR"), "pm_card_visa"))
    before = len(await all_events(services))
    with pytest.raises(AmountExceedsRemaining):
        await services.payments.refund(CreateRefund(payment.id, 5000))
    assert len(await all_events(services)) == before


async def test_a_rolled_back_transaction_drops_its_event(
    services: Services, clock: FrozenClock
) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with services.db.transaction() as conn:
            await record(conn, catalog.CUSTOMER_CREATED, {"id": "cus_rolled_back"}, at=clock())
            raise Boom
    async with services.db.transaction() as conn:
        count = (await conn.execute(sa.select(sa.func.count()).select_from(events))).scalar()
    assert count == 0


async def test_listing_filters_by_type_family_object_and_time(
    services: Services, clock: FrozenClock
) -> None:
    first = await services.payments.create(CreatePayment(Money(1000, "INR"), "pm_card_visa"))
    clock.advance(hours=1)
    second = await services.payments.create(CreatePayment(Money(2000, "INR"), "pm_card_declined"))
    await services.customers.create(email="b@example.com", name="B")

    async def listed(**filters: Any) -> list[str]:
        found, _ = await services.events.list(
            EventFilter(**filters), limit=100, starting_after=None
        )
        return [f"{e.type}:{e.object_id}" for e in found]

    assert await listed(type="payment.failed") == [f"payment.failed:{second.id}"]
    assert len(await listed(type="payment.*")) == 4
    assert await listed(type="customer.*") == [
        e for e in await listed() if e.startswith("customer.")
    ]
    assert await listed(object_id=first.id) == [
        f"payment.succeeded:{first.id}",
        f"payment.created:{first.id}",
    ]
    assert await listed(created_before=clock.now, type="payment.*") == await listed(
        object_id=first.id
    )
    assert len(await listed(created_gte=clock.now)) == 3
    assert await listed(type="pay%.*") == []  # LIKE wildcards in a family are literal


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
async def services(settings: Any, clock: FrozenClock) -> Any:
    from paystead.wiring import build_services

    built = build_services(settings, clock=clock)
    try:
        yield built
    finally:
        await built.close()
