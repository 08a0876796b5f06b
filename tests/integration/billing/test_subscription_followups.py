"""The billing follow-ups through a test clock, on SQLite and PostgreSQL: canceling now
with a final invoice (usage, pending prorations, a credit for unused time, late usage
inside the grace window), reactivation by any payment route, a monthly -> yearly change
that resets the anchor, and ``invoice.upcoming`` once per period."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from paystead.billing.catalog import Price, Recurring
from paystead.billing.invoices import Invoice
from paystead.billing.subscription_service import ItemInput
from paystead.config import Settings
from paystead.errors import Conflict
from paystead.platform.schema import events, payments
from paystead.wiring import Services, build_services


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[arg-type, misc]


async def plan(services: Services, amount: int, *, interval: str = "month") -> Price:
    product = await services.catalog.create_product(name=f"Plan {amount}", tax_rate="0")
    return await services.catalog.create_price(
        Price(
            id="",
            product_id=product.id,
            currency="INR",
            created_at=at(2027, 1, 1),
            unit_amount=amount,
            recurring=Recurring(interval=interval),
        )
    )


async def metered(services: Services, *, grace_seconds: int) -> Price:
    product = await services.catalog.create_product(name="API", tax_rate="0")
    await services.usage.create_meter(
        key="calls", display_name="Calls", aggregation="sum", grace_seconds=grace_seconds
    )
    return await services.catalog.create_price(
        Price(
            id="",
            product_id=product.id,
            currency="INR",
            created_at=at(2027, 1, 1),
            unit_amount=5,
            recurring=Recurring(usage_type="metered", meter="calls"),
        )
    )


async def clock_customer(
    services: Services, start: datetime, method: str = "pm_card_visa"
) -> tuple[str, str]:
    clock = await services.test_clocks.create(frozen_time=start, name="followups")
    customer = await services.customers.create(
        email="f@example.com", name="F", payment_method=method, test_clock=clock.id
    )
    return clock.id, customer.id


async def invoices_of(services: Services, sub_id: str) -> list[Invoice]:
    found, _ = await services.invoices.list(subscription=sub_id, limit=100)
    return sorted(found, key=lambda i: i.id)


async def events_of(services: Services, object_id: str) -> list[tuple[str, dict[str, object]]]:
    async with services.db.transaction() as conn:
        rows = await conn.execute(
            sa.select(events.c.type, events.c.data)
            .where(events.c.object_id == object_id)
            .order_by(events.c.created_at, events.c.id)
        )
        return [(r.type, r.data) for r in rows]


# -- 1 and 3: cancel now, with late usage inside the grace window ------------------------


async def test_cancel_now_bills_usage_prorations_credit_and_late_usage(
    services: Services,
) -> None:
    seat, calls = await plan(services, 30000), await metered(services, grace_seconds=3600)
    clock, customer = await clock_customer(services, at(2027, 4, 1))  # a 30-day April
    sub = await services.subscriptions.create(
        customer=customer, items=[ItemInput(seat.id, 1), ItemInput(calls.id, 0)]
    )
    await services.test_clocks.advance(clock, frozen_time=at(2027, 4, 11))
    # 1 -> 2 seats with 20 of 30 days left: -20000 and +40000 wait for the next invoice.
    await services.subscriptions.update(
        sub.id, items=[ItemInput(seat.id, 2), ItemInput(calls.id, 0)]
    )
    await services.usage.record_event(
        customer_id=customer, meter="calls", value=1000, identifier="on-time"
    )
    await services.test_clocks.advance(clock, frozen_time=at(2027, 4, 16))  # half left
    ended = await services.subscriptions.cancel(sub.id, invoice_now=True, prorate=True)
    assert ended.status == "canceled" and ended.ended_at == at(2027, 4, 16)
    assert len(await invoices_of(services, sub.id)) == 1  # the final one waits for grace

    # 30 minutes after the end, an event stamped inside the final period arrives late.
    await services.test_clocks.advance(clock, frozen_time=at(2027, 4, 16, 0, 30))
    await services.usage.record_event(
        customer_id=customer,
        meter="calls",
        value=200,
        identifier="late",
        timestamp=at(2027, 4, 15, 23, 45),
    )
    await services.test_clocks.advance(clock, frozen_time=at(2027, 4, 16, 2))
    final = (await invoices_of(services, sub.id))[-1]
    assert final.source_key == f"subscription:{sub.id}:final"
    assert sorted((li.kind, li.amount) for li in final.lines) == [
        ("proration", -30000),  # unused half of 2 seats (credit)
        ("proration", -20000),  # pending: unused time on 1 seat after Apr 11
        ("proration", 40000),  # pending: 2 seats after Apr 11
        ("usage", 6000),  # 1000 + 200 late calls at 5 paise
    ]
    assert final.total == -4000 and final.status == "paid" and final.amount_due == 0
    assert await services.balances.balance(customer, "INR") == 4000
    assert await services.subscriptions.pending_lines(sub.id) == []
    # Later runs bill nothing more.
    await services.test_clocks.advance(clock, frozen_time=at(2027, 7, 1))
    assert len(await invoices_of(services, sub.id)) == 2
    assert (await services.subscriptions.get(sub.id)).latest_invoice_id == final.id


async def test_cancel_at_period_end_waits_for_late_usage_too(services: Services) -> None:
    seat, calls = await plan(services, 10000), await metered(services, grace_seconds=7200)
    clock, customer = await clock_customer(services, at(2027, 4, 1))
    sub = await services.subscriptions.create(
        customer=customer, items=[ItemInput(seat.id, 1), ItemInput(calls.id, 0)]
    )
    await services.subscriptions.update(sub.id, cancel_at_period_end=True)
    await services.test_clocks.advance(clock, frozen_time=at(2027, 5, 1, 1))
    assert (await services.subscriptions.get(sub.id)).status == "canceled"
    assert len(await invoices_of(services, sub.id)) == 1  # waiting for the window
    await services.usage.record_event(
        customer_id=customer,
        meter="calls",
        value=40,
        identifier="late",
        timestamp=at(2027, 4, 30, 23, 30),
    )
    await services.test_clocks.advance(clock, frozen_time=at(2027, 5, 1, 3))
    final = (await invoices_of(services, sub.id))[-1]
    assert [(li.kind, li.amount) for li in final.lines] == [("usage", 200)]
    assert final.status == "paid"


async def test_cancel_now_options(services: Services) -> None:
    seat = await plan(services, 30000)
    clock, customer = await clock_customer(services, at(2027, 4, 1))
    plain = await services.subscriptions.create(customer=customer, items=[ItemInput(seat.id, 1)])
    trial = await services.subscriptions.create(
        customer=customer, items=[ItemInput(seat.id, 1)], trial_period_days=60
    )
    await services.test_clocks.advance(clock, frozen_time=at(2027, 4, 21))  # 10 of 30 left
    # Neither option: ended, nothing invoiced (as before).
    await services.subscriptions.cancel(plain.id)
    assert len(await invoices_of(services, plain.id)) == 1
    # prorate alone on a trial: the trial was free, nothing to credit, no invoice.
    await services.subscriptions.cancel(trial.id, prorate=True)
    assert await invoices_of(services, trial.id) == []
    with pytest.raises(Conflict):
        await services.subscriptions.cancel(trial.id, invoice_now=True)
    # prorate on an active one, 10 of 30 days unused: a 10000 credit to the balance.
    third = await services.subscriptions.create(customer=customer, items=[ItemInput(seat.id, 1)])
    await services.test_clocks.advance(clock, frozen_time=at(2027, 5, 1))  # 20 of 30 left
    await services.subscriptions.cancel(third.id, prorate=True)
    credit = (await invoices_of(services, third.id))[-1]
    assert [li.amount for li in credit.lines] == [-20000] and credit.total == -20000
    assert await services.balances.balance(customer, "INR") == 20000


async def test_cancel_catches_up_a_renewal_that_was_due(settings: Settings) -> None:
    """A real-time customer canceled after a boundary the run has not reached yet."""
    now = [at(2027, 4, 1)]
    services = build_services(settings, clock=lambda: now[0])
    try:
        seat = await plan(services, 30000)
        customer = await services.customers.create(
            email="r@example.com", name="R", payment_method="pm_card_visa"
        )
        sub = await services.subscriptions.create(
            customer=customer.id, items=[ItemInput(seat.id, 1)]
        )
        now[0] = at(2027, 5, 16)  # no billing run since April
        await services.subscriptions.cancel(sub.id, prorate=True)
        _april, may, final = await invoices_of(services, sub.id)
        assert may.period_start == at(2027, 5, 1) and may.total == 30000  # renewed first
        # 16 of May's 31 days unused: 30000 x 16 / 31 = 15483.87 -> 15484.
        assert [li.amount for li in final.lines] == [-15484]
    finally:
        await services.close()


# -- 2: any payment route reactivates ------------------------------------------------------


async def test_paying_by_hand_reactivates_an_unpaid_subscription(settings: Settings) -> None:
    services = build_services(
        settings.model_copy(update={"dunning_final_action": "unpaid", "dunning_retry_days": [2]})
    )
    try:
        seat = await plan(services, 1000)
        clock, customer = await clock_customer(services, at(2027, 4, 1), "pm_card_declined")
        sub = await services.subscriptions.create(customer=customer, items=[ItemInput(seat.id, 1)])
        await services.test_clocks.advance(clock, frozen_time=at(2027, 4, 3, 1))
        assert (await services.subscriptions.get(sub.id)).status == "unpaid"
        await services.customers.update(customer, {"payment_method": "pm_card_visa"})
        owed = (await invoices_of(services, sub.id))[0]
        paid = await services.invoices.pay(owed.id, now=at(2027, 4, 3, 2))
        assert paid.status == "paid"
        sub = await services.subscriptions.get(sub.id)
        assert sub.status == "active" and sub.next_retry_at is None and sub.dunning_retries == 0
        types = [t for t, _ in await events_of(services, sub.id)]
        assert types[-2:] == ["customer.subscription.unpaid", "customer.subscription.updated"]
        # Active again: renewals resume from the next boundary.
        await services.test_clocks.advance(clock, frozen_time=at(2027, 5, 2))
        assert [i.status for i in await invoices_of(services, sub.id)] == ["paid", "paid"]
    finally:
        await services.close()


async def test_a_credit_note_or_the_balance_reactivates_past_due(services: Services) -> None:
    seat = await plan(services, 50000)
    _, customer = await clock_customer(services, at(2027, 4, 1), "pm_card_declined")
    by_note = await services.subscriptions.create(customer=customer, items=[ItemInput(seat.id, 1)])
    by_balance = await services.subscriptions.create(
        customer=customer, items=[ItemInput(seat.id, 1)]
    )
    assert by_note.status == by_balance.status == "past_due"
    note_invoice = (await invoices_of(services, by_note.id))[0]
    await services.credit_notes.create(
        invoice_id=note_invoice.id, outcome="reduce_amount_due", amount=50000
    )
    assert (await services.invoices.get(note_invoice.id)).status == "paid"
    assert (await services.subscriptions.get(by_note.id)).status == "active"
    # Prepaid credit, then paying: the balance settles it and nothing is charged.
    await services.balances.adjust(customer_id=customer, amount=60000, currency="INR")
    owed = (await invoices_of(services, by_balance.id))[0]
    paid = await services.invoices.pay(owed.id, now=at(2027, 4, 1, 12))
    assert paid.status == "paid" and paid.applied_balance == 50000 and paid.amount_paid == 0
    assert await services.balances.balance(customer, "INR") == 10000
    assert (await services.subscriptions.get(by_balance.id)).status == "active"
    async with services.db.transaction() as conn:
        succeeded = (
            await conn.execute(
                sa.select(sa.func.count())
                .select_from(payments)
                .where(payments.c.customer_id == customer, payments.c.status == "succeeded")
            )
        ).scalar()
    assert succeeded == 0


async def test_one_paid_invoice_of_two_owed_does_not_reactivate(settings: Settings) -> None:
    services = build_services(settings.model_copy(update={"dunning_retry_days": [45]}))
    try:
        seat = await plan(services, 1000)
        clock, customer = await clock_customer(services, at(2027, 4, 1), "pm_card_declined")
        sub = await services.subscriptions.create(customer=customer, items=[ItemInput(seat.id, 1)])
        await services.test_clocks.advance(clock, frozen_time=at(2027, 5, 1, 1))  # fails too
        first, second = await invoices_of(services, sub.id)
        assert first.status == second.status == "open"
        await services.credit_notes.create(
            invoice_id=first.id, outcome="reduce_amount_due", amount=1000
        )
        assert (await services.subscriptions.get(sub.id)).status == "past_due"
        await services.credit_notes.create(
            invoice_id=second.id, outcome="reduce_amount_due", amount=1000
        )
        assert (await services.subscriptions.get(sub.id)).status == "active"
    finally:
        await services.close()


# -- 4: monthly -> yearly ---------------------------------------------------------------------


async def test_monthly_to_yearly_resets_the_anchor_with_a_credit(services: Services) -> None:
    monthly, yearly = await plan(services, 30000), await plan(services, 300000, interval="year")
    clock, customer = await clock_customer(services, at(2027, 4, 1))
    sub = await services.subscriptions.create(customer=customer, items=[ItemInput(monthly.id, 1)])
    await services.test_clocks.advance(clock, frozen_time=at(2027, 4, 16))  # half of April left
    changed = await services.subscriptions.update(sub.id, items=[ItemInput(yearly.id, 1)])
    assert changed.interval == "year" and changed.billing_cycle_anchor == at(2027, 4, 16)
    assert (changed.current_period_start, changed.current_period_end) == (
        at(2027, 4, 16),
        at(2028, 4, 16),
    )
    invoice = (await invoices_of(services, sub.id))[-1]
    assert sorted((li.kind, li.amount) for li in invoice.lines) == [
        ("proration", -15000),
        ("subscription", 300000),
    ]
    assert invoice.total == 285000 and invoice.status == "paid"
    assert invoice.period_start == at(2027, 4, 16) and invoice.period_end == at(2028, 4, 16)
    # No monthly renewal on May 1; the next one is a year after the change.
    await services.test_clocks.advance(clock, frozen_time=at(2028, 4, 17))
    invoices = await invoices_of(services, sub.id)
    assert [i.total for i in invoices] == [30000, 285000, 300000]
    assert invoices[-1].period_start == at(2028, 4, 16)
    # An interval change at the instant a period starts is refused.
    fresh = await services.subscriptions.create(customer=customer, items=[ItemInput(monthly.id, 1)])
    with pytest.raises(Conflict) as err:
        await services.subscriptions.update(fresh.id, items=[ItemInput(yearly.id, 1)])
    assert err.value.code == "interval_change_at_boundary"


# -- 5: invoice.upcoming ----------------------------------------------------------------------


async def test_invoice_upcoming_once_per_period(services: Services) -> None:
    seat = await plan(services, 30000)
    clock, customer = await clock_customer(services, at(2027, 4, 1))
    sub = await services.subscriptions.create(customer=customer, items=[ItemInput(seat.id, 2)])
    preview_id = f"upcoming_{sub.id}"
    await services.test_clocks.advance(clock, frozen_time=at(2027, 4, 27, 23))
    assert await events_of(services, preview_id) == []
    await services.test_clocks.advance(clock, frozen_time=at(2027, 4, 28, 1))  # 3 days before
    await services.billing_run.run_due(at(2027, 4, 28, 2), clock)  # again: sent once
    sent = await events_of(services, preview_id)
    assert [t for t, _ in sent] == ["invoice.upcoming"]
    data = sent[0][1]
    assert data["period_start"] == int(at(2027, 5, 1).timestamp())
    assert data["subtotal"] == 60000 and data["subscription"] == sub.id
    # Two more periods: one notice each (May 29 for June 1, June 28 for July 1).
    await services.test_clocks.advance(clock, frozen_time=at(2027, 6, 30))
    sent = await events_of(services, preview_id)
    assert [d["period_start"] for _, d in sent] == [
        int(at(2027, m, 1).timestamp()) for m in (5, 6, 7)
    ]
    # A subscription set to cancel gets none for its last period.
    await services.subscriptions.update(sub.id, cancel_at_period_end=True)
    await services.test_clocks.advance(clock, frozen_time=at(2027, 8, 5))
    assert len(await events_of(services, preview_id)) == 3


async def test_upcoming_days_zero_sends_nothing(settings: Settings) -> None:
    services = build_services(settings.model_copy(update={"invoice_upcoming_days": 0}))
    try:
        seat = await plan(services, 30000)
        clock, customer = await clock_customer(services, at(2027, 4, 1))
        sub = await services.subscriptions.create(customer=customer, items=[ItemInput(seat.id, 1)])
        await services.test_clocks.advance(clock, frozen_time=at(2027, 6, 2))
        assert await events_of(services, f"upcoming_{sub.id}") == []
        assert len(await invoices_of(services, sub.id)) == 3
    finally:
        await services.close()
