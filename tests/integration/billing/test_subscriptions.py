"""Subscriptions through a test clock, on SQLite and PostgreSQL: month-end anchoring,
a year of renewals, trials, proration, dunning, and the billing run's idempotency."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from paystead.billing.catalog import Price, Recurring
from paystead.billing.invoices import Invoice
from paystead.billing.run import run_periodically
from paystead.billing.subscription_service import ItemInput
from paystead.config import Settings
from paystead.errors import InvalidInput, NotFound
from paystead.platform.schema import events, payments, subscription_renewals
from paystead.wiring import Services, build_services


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[arg-type, misc]


async def monthly_price(
    services: Services, amount: int, *, currency: str = "INR", interval: str = "month"
) -> Price:
    product = await services.catalog.create_product(name=f"Plan {amount}", tax_rate="0")
    return await services.catalog.create_price(
        Price(
            id="",
            product_id=product.id,
            currency=currency,
            created_at=at(2027, 1, 1),
            unit_amount=amount,
            recurring=Recurring(interval=interval),
        )
    )


async def clock_customer(
    services: Services, start: datetime, method: str = "pm_card_visa"
) -> tuple[str, str]:
    clock = await services.test_clocks.create(frozen_time=start, name="test")
    customer = await services.customers.create(
        email="a@example.com", name="A", payment_method=method, test_clock=clock.id
    )
    return clock.id, customer.id


async def invoices_of(services: Services, sub_id: str) -> list[Invoice]:
    found, _ = await services.invoices.list(subscription=sub_id, limit=100)
    return sorted(found, key=lambda i: i.id)


async def event_types(services: Services, sub_id: str) -> list[str]:
    async with services.db.transaction() as conn:
        rows = await conn.execute(
            sa.select(events.c.type)
            .where(events.c.object_id == sub_id)
            .order_by(events.c.created_at, events.c.id)
        )
        return [r.type for r in rows]


async def test_month_end_anchor_through_a_year_of_renewals(services: Services) -> None:
    price = await monthly_price(services, 99900)
    clock, customer = await clock_customer(services, at(2027, 1, 31, 10))
    sub = await services.subscriptions.create(customer=customer, items=[ItemInput(price.id, 1)])
    assert (sub.current_period_start, sub.current_period_end) == (
        at(2027, 1, 31, 10),
        at(2027, 2, 28, 10),
    )

    await services.test_clocks.advance(clock, frozen_time=at(2028, 1, 30))
    invoices = await invoices_of(services, sub.id)
    assert len(invoices) == 12
    starts = [(i.period_start.month, i.period_start.day) for i in invoices if i.period_start]
    assert starts == [
        (1, 31),
        (2, 28),
        (3, 31),
        (4, 30),
        (5, 31),
        (6, 30),
        (7, 31),
        (8, 31),
        (9, 30),
        (10, 31),
        (11, 30),
        (12, 31),
    ]
    assert all(i.status == "paid" and i.total == 99900 and i.amount_paid == 99900 for i in invoices)
    assert [i.period_end for i in invoices[:-1]] == [i.period_start for i in invoices[1:]]
    sub = await services.subscriptions.get(sub.id)
    assert sub.status == "active" and sub.current_period_end == at(2028, 1, 31, 10)
    assert sub.period_index == 11
    async with services.db.transaction() as conn:
        assert await services.ledger.check(conn) == []  # twelve captures, balanced


async def test_running_twice_at_one_instant_bills_nothing_twice(services: Services) -> None:
    price = await monthly_price(services, 50000)
    clock, customer = await clock_customer(services, at(2027, 3, 1))
    sub = await services.subscriptions.create(customer=customer, items=[ItemInput(price.id, 2)])
    first = await services.billing_run.run_due(at(2027, 5, 2), clock)
    again = await services.billing_run.run_due(at(2027, 5, 2), clock)
    assert first.renewals == 2 and again.renewals == 0 and again.invoices == []
    invoices = await invoices_of(services, sub.id)
    assert [i.total for i in invoices] == [100000, 100000, 100000]
    # Concurrent runs for the same instant: one claim per boundary, whoever wins.
    results = await asyncio.gather(
        *(services.billing_run.run_due(at(2027, 7, 2), clock) for _ in range(3))
    )
    assert sum(r.renewals for r in results) == 2
    assert len(await invoices_of(services, sub.id)) == 5
    async with services.db.transaction() as conn:
        rows = (
            await conn.execute(sa.select(sa.func.count()).select_from(subscription_renewals))
        ).scalar()
    assert rows == 5  # initial + four renewals, each boundary once


async def test_concurrent_runs_on_separate_connections(settings: Settings) -> None:
    """Two processes' worth of services (separate pools) renewing at the same instant."""
    one, two = build_services(settings), build_services(settings)
    try:
        price = await monthly_price(one, 70000)
        clock, customer = await clock_customer(one, at(2027, 3, 1))
        sub = await one.subscriptions.create(customer=customer, items=[ItemInput(price.id, 1)])
        a, b = await asyncio.gather(
            one.billing_run.run_due(at(2027, 9, 2), clock),
            two.billing_run.run_due(at(2027, 9, 2), clock),
        )
        assert a.renewals + b.renewals == 6
        invoices = await invoices_of(one, sub.id)
        assert len(invoices) == 7 and len({i.period_start for i in invoices}) == 7
        assert all(i.status == "paid" for i in invoices)
        async with one.db.transaction() as conn:
            assert await one.ledger.check(conn) == []
    finally:
        await one.close()
        await two.close()


async def test_trial_then_active(services: Services) -> None:
    price = await monthly_price(services, 99900)
    clock, customer = await clock_customer(services, at(2027, 4, 1))
    sub = await services.subscriptions.create(
        customer=customer, items=[ItemInput(price.id, 1)], trial_period_days=14
    )
    assert sub.status == "trialing" and sub.trial_end == at(2027, 4, 15)
    assert await invoices_of(services, sub.id) == []
    await services.test_clocks.advance(clock, frozen_time=at(2027, 4, 12, 1))
    assert "customer.subscription.trial_will_end" in await event_types(services, sub.id)
    assert (await services.subscriptions.get(sub.id)).status == "trialing"
    await services.test_clocks.advance(clock, frozen_time=at(2027, 4, 15))
    sub = await services.subscriptions.get(sub.id)
    assert sub.status == "active"
    assert (sub.current_period_start, sub.current_period_end) == (at(2027, 4, 15), at(2027, 5, 15))
    [invoice] = await invoices_of(services, sub.id)
    assert invoice.status == "paid" and invoice.total == 99900
    assert invoice.period_start == at(2027, 4, 15)


async def test_upgrade_mid_period_prorates_on_the_next_invoice(services: Services) -> None:
    basic, pro = await monthly_price(services, 99900), await monthly_price(services, 249900)
    clock, customer = await clock_customer(services, at(2027, 4, 1))
    sub = await services.subscriptions.create(customer=customer, items=[ItemInput(basic.id, 1)])
    await services.test_clocks.advance(clock, frozen_time=at(2027, 4, 11))
    await services.subscriptions.update(sub.id, items=[ItemInput(pro.id, 1)])
    # Day 10 of a 30-day period (Apr 1 - May 1): 20 days of 30 remain = 2/3.
    # Credit 99900 x 2/3 = -66600; charge 249900 x 2/3 = 166600 (both exact).
    assert [p["amount"] for p in await services.subscriptions.pending_lines(sub.id)] == [
        -66600,
        166600,
    ]
    await services.test_clocks.advance(clock, frozen_time=at(2027, 5, 1))
    renewal = (await invoices_of(services, sub.id))[-1]
    assert sorted((li.kind, li.amount) for li in renewal.lines) == [
        ("proration", -66600),
        ("proration", 166600),
        ("subscription", 249900),
    ]
    assert renewal.total == 249900 + 100000 and renewal.status == "paid"
    assert await services.subscriptions.pending_lines(sub.id) == []


async def test_quantity_change_always_invoice(services: Services) -> None:
    seat = await monthly_price(services, 50000)
    clock, customer = await clock_customer(services, at(2027, 4, 1))
    sub = await services.subscriptions.create(customer=customer, items=[ItemInput(seat.id, 3)])
    await services.test_clocks.advance(clock, frozen_time=at(2027, 4, 16))
    sub = await services.subscriptions.update(
        sub.id, items=[ItemInput(seat.id, 5)], proration_behavior="always_invoice"
    )
    # Half of the period left: credit 150000 x 1/2, charge 250000 x 1/2: +50000 now.
    invoice = (await invoices_of(services, sub.id))[-1]
    assert sub.latest_invoice_id == invoice.id
    assert [li.amount for li in invoice.lines] == [-75000, 125000]
    assert invoice.total == 50000 and invoice.status == "paid"
    assert [i.quantity for i in sub.items] == [5]


async def test_dunning_through_to_cancellation(services: Services) -> None:
    price = await monthly_price(services, 99900)
    clock, customer = await clock_customer(services, at(2027, 4, 1))
    sub = await services.subscriptions.create(customer=customer, items=[ItemInput(price.id, 1)])
    await services.customers.update(customer, {"payment_method": "pm_card_declined"})
    await services.test_clocks.advance(clock, frozen_time=at(2027, 5, 1))
    sub = await services.subscriptions.get(sub.id)
    assert sub.status == "past_due" and sub.next_retry_at == at(2027, 5, 2)
    failed = (await invoices_of(services, sub.id))[-1]
    assert failed.status == "open" and failed.attempt_count == 1
    await services.test_clocks.advance(clock, frozen_time=at(2027, 5, 7))
    sub = await services.subscriptions.get(sub.id)
    assert (
        sub.status == "past_due"
        and sub.dunning_retries == 3
        and sub.next_retry_at == at(2027, 5, 8)
    )
    await services.test_clocks.advance(clock, frozen_time=at(2027, 5, 20))
    sub = await services.subscriptions.get(sub.id)
    assert sub.status == "canceled" and sub.ended_at == at(2027, 5, 8)
    failed = await services.invoices.get(failed.id)
    assert failed.status == "open" and failed.attempt_count == 5  # first try + 4 retries
    types = await event_types(services, sub.id)
    assert types.count("customer.subscription.past_due") == 4  # the failure + 3 failed retries
    assert types[-1] == "customer.subscription.deleted"
    await services.test_clocks.advance(clock, frozen_time=at(2027, 8, 1))
    assert len(await invoices_of(services, sub.id)) == 2  # nothing renews after the end


async def test_dunning_retry_success_restores_active_and_never_charges_twice(
    services: Services,
) -> None:
    price = await monthly_price(services, 99900)
    clock, customer = await clock_customer(services, at(2027, 4, 1))
    sub = await services.subscriptions.create(customer=customer, items=[ItemInput(price.id, 1)])
    await services.customers.update(customer, {"payment_method": "pm_card_insufficient_funds"})
    await services.test_clocks.advance(clock, frozen_time=at(2027, 5, 2, 12))  # failure + 1 retry
    assert (await services.subscriptions.get(sub.id)).status == "past_due"
    await services.customers.update(customer, {"payment_method": "pm_card_visa"})
    await services.test_clocks.advance(clock, frozen_time=at(2027, 5, 4))  # the day-3 retry
    sub = await services.subscriptions.get(sub.id)
    assert sub.status == "active" and sub.next_retry_at is None
    renewal = (await invoices_of(services, sub.id))[-1]
    assert renewal.status == "paid" and renewal.attempt_count == 3 and renewal.amount_paid == 99900
    # The schedule is over: later instants charge nothing more, paying again is a no-op.
    await services.billing_run.run_due(at(2027, 5, 9), clock)
    again = await services.invoices.pay(renewal.id, now=at(2027, 5, 9))
    assert again.attempt_count == 3 and again.amount_paid == 99900
    async with services.db.transaction() as conn:
        charges = (
            await conn.execute(
                sa.select(payments.c.status, sa.func.count())
                .where(payments.c.customer_id == customer)
                .group_by(payments.c.status)
                .order_by(payments.c.status)
            )
        ).all()
        assert await services.ledger.check(conn) == []
    # The first invoice and the renewal captured once each; the two declines are failed.
    assert [tuple(r) for r in charges] == [("failed", 2), ("succeeded", 2)]
    assert "customer.subscription.updated" in (await event_types(services, sub.id))[-1:]


async def test_unpaid_final_action(settings: Settings) -> None:
    services = build_services(
        settings.model_copy(update={"dunning_final_action": "unpaid", "dunning_retry_days": [2]})
    )
    try:
        price = await monthly_price(services, 1000)
        clock, customer = await clock_customer(services, at(2027, 4, 1), method="pm_card_declined")
        sub = await services.subscriptions.create(customer=customer, items=[ItemInput(price.id, 1)])
        assert sub.status == "past_due"  # the first charge failed
        await services.test_clocks.advance(clock, frozen_time=at(2027, 4, 3, 1))
        sub = await services.subscriptions.get(sub.id)
        assert sub.status == "unpaid"
        assert (await event_types(services, sub.id))[-1] == "customer.subscription.unpaid"
        await services.test_clocks.advance(clock, frozen_time=at(2027, 6, 3))
        assert len(await invoices_of(services, sub.id)) == 1  # unpaid: renewals stop
    finally:
        await services.close()


async def test_pause_resume_and_cancel_at_period_end(services: Services) -> None:
    price = await monthly_price(services, 10000, interval="week")
    clock, customer = await clock_customer(services, at(2027, 4, 1))
    sub = await services.subscriptions.create(customer=customer, items=[ItemInput(price.id, 1)])
    await services.subscriptions.pause(sub.id)
    await services.test_clocks.advance(clock, frozen_time=at(2027, 4, 20))
    paused = await services.subscriptions.get(sub.id)
    assert paused.status == "paused" and paused.current_period_start == at(2027, 4, 15)
    assert len(await invoices_of(services, sub.id)) == 1  # paused weeks are not billed
    await services.subscriptions.resume(sub.id)
    await services.subscriptions.update(sub.id, cancel_at_period_end=True)
    await services.test_clocks.advance(clock, frozen_time=at(2027, 5, 20))
    ended = await services.subscriptions.get(sub.id)
    assert ended.status == "canceled" and ended.ended_at == at(2027, 4, 22)
    assert len(await invoices_of(services, sub.id)) == 1  # nothing metered: no final invoice


async def test_bad_inputs_name_the_field(services: Services) -> None:
    inr, usd = (
        await monthly_price(services, 1000),
        await monthly_price(services, 1000, currency="USD"),
    )
    clock, customer = await clock_customer(services, at(2027, 4, 1))
    with pytest.raises(InvalidInput) as err:
        await services.subscriptions.create(customer=customer, items=[ItemInput(inr.id, -1)])
    assert err.value.param == "items[0].quantity"
    with pytest.raises(NotFound) as missing:
        await services.subscriptions.create(customer=customer, items=[ItemInput("price_nope", 1)])
    assert missing.value.param == "items[0].price"
    with pytest.raises(InvalidInput) as mixed:
        await services.subscriptions.create(
            customer=customer, items=[ItemInput(inr.id, 1), ItemInput(usd.id, 1)]
        )
    assert mixed.value.param == "items[1].price" and mixed.value.code == "currency_mismatch"
    with pytest.raises(NotFound) as nobody:
        await services.subscriptions.create(customer="cus_nope", items=[ItemInput(inr.id, 1)])
    assert nobody.value.param == "customer"
    with pytest.raises(InvalidInput) as backwards:
        await services.test_clocks.advance(clock, frozen_time=at(2027, 3, 1))
    assert backwards.value.param == "frozen_time"
    with pytest.raises(NotFound) as no_clock:
        await services.customers.create(email="b@example.com", name="B", test_clock="clock_nope")
    assert no_clock.value.param == "test_clock"


async def test_metered_usage_in_arrears_and_a_coupon(services: Services) -> None:
    seat = await monthly_price(services, 100000)
    product = await services.catalog.create_product(name="API", tax_rate="0")
    await services.usage.create_meter(key="api_calls", display_name="API calls", aggregation="sum")
    metered = await services.catalog.create_price(
        Price(
            id="",
            product_id=product.id,
            currency="INR",
            created_at=at(2027, 1, 1),
            unit_amount=5,
            recurring=Recurring(usage_type="metered", meter="api_calls"),
        )
    )
    coupon = await services.coupons.create_coupon(
        duration="repeating", duration_in_periods=2, percent_off="10"
    )
    clock, customer = await clock_customer(services, at(2027, 4, 1))
    sub = await services.subscriptions.create(
        customer=customer, items=[ItemInput(seat.id, 1), ItemInput(metered.id, 0)], coupon=coupon.id
    )
    first = (await invoices_of(services, sub.id))[0]
    # Period 0: the seat in advance, 10 % off (100000 -> 90000); no usage billed yet.
    assert [(li.kind, li.amount, li.discount_amount) for li in first.lines] == [
        ("subscription", 100000, 10000)
    ]
    await services.test_clocks.advance(clock, frozen_time=at(2027, 4, 10))
    for i, value in enumerate((300, 700)):  # timestamped on the clock: inside April
        await services.usage.record_event(
            customer_id=customer, meter="api_calls", value=value, identifier=f"e{i}"
        )
    await services.usage.record_event(
        customer_id=customer, meter="api_calls", value=700, identifier="e1"
    )
    await services.test_clocks.advance(clock, frozen_time=at(2027, 6, 2))
    april, may = (await invoices_of(services, sub.id))[1:]
    # At May 1: May's seat in advance and April's 1000 calls x 5 paise in arrears, both
    # still 10 % off (period 1 of 2); at June 1 the coupon is over and May had no usage.
    assert sorted((li.kind, li.amount, li.discount_amount) for li in april.lines) == [
        ("subscription", 100000, 10000),
        ("usage", 5000, 500),
    ]
    assert april.total == 94500
    assert [(li.kind, li.amount, li.discount_amount) for li in may.lines] == [
        ("subscription", 100000, 0)
    ]


async def test_a_future_anchor_prorates_the_first_period(services: Services) -> None:
    price = await monthly_price(services, 310000)
    clock, customer = await clock_customer(services, at(2027, 3, 10))
    sub = await services.subscriptions.create(
        customer=customer, items=[ItemInput(price.id, 1)], billing_cycle_anchor=at(2027, 4, 1)
    )
    assert (sub.current_period_start, sub.current_period_end) == (at(2027, 3, 10), at(2027, 4, 1))
    # The full period would be 1 March - 1 April (31 days); 22 days remain from 10 March:
    # 310000 x 22 / 31 = 220000 exactly.
    [first] = await invoices_of(services, sub.id)
    assert first.total == 220000
    await services.test_clocks.advance(clock, frozen_time=at(2027, 4, 2))
    second = (await invoices_of(services, sub.id))[-1]
    assert second.total == 310000 and second.period_start == at(2027, 4, 1)
    with pytest.raises(InvalidInput) as err:
        await services.subscriptions.create(
            customer=customer, items=[ItemInput(price.id, 1)], billing_cycle_anchor=at(2027, 7, 1)
        )
    assert err.value.param == "billing_cycle_anchor"


async def test_the_serve_loop_renews_real_time_customers_only(services: Services) -> None:
    price = await monthly_price(services, 99900)
    real = await services.customers.create(
        email="r@example.com", name="R", payment_method="pm_card_visa"
    )
    _, on_clock = await clock_customer(services, services.clock())
    live = await services.subscriptions.create(customer=real.id, items=[ItemInput(price.id, 1)])
    frozen = await services.subscriptions.create(customer=on_clock, items=[ItemInput(price.id, 1)])
    later = live.current_period_end + timedelta(hours=1)
    stop = asyncio.Event()
    loop = asyncio.create_task(
        run_periodically(services.billing_run, lambda: later, interval=0.01, stop=stop)
    )
    for _ in range(500):
        if len(await invoices_of(services, live.id)) == 2:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await loop
    assert len(await invoices_of(services, live.id)) == 2
    assert len(await invoices_of(services, frozen.id)) == 1  # its clock did not move
