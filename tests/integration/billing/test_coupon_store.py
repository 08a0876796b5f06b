"""Coupons, promotion codes and redemptions on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import sqlalchemy as sa

from paystead.billing.coupons import Redemption
from paystead.config import Settings
from paystead.errors import Conflict, InvalidInput, NotFound
from paystead.money import Money
from paystead.payments.service import CreatePayment
from paystead.platform.schema import coupon_redemptions, events
from paystead.wiring import Services, build_services
from tests.conftest import FrozenClock


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
async def svc(settings: Settings, clock: FrozenClock) -> AsyncIterator[Services]:
    built = build_services(settings, clock=clock)
    try:
        yield built
    finally:
        await built.close()


async def customer(svc: Services, n: int = 0) -> str:
    return (await svc.customers.create(email=f"u{n}@example.com", name="U")).id


async def redemption_count(svc: Services) -> int:
    async with svc.db.transaction() as conn:
        query = sa.select(sa.func.count()).select_from(coupon_redemptions)
        return int((await conn.execute(query)).scalar_one())


async def test_max_redemptions_holds_under_concurrent_redemptions(svc: Services) -> None:
    coupon = await svc.coupons.create_coupon(percent_off="10", duration="once", max_redemptions=5)
    cus = await customer(svc)

    async def attempt(i: int) -> Redemption | Conflict:
        try:
            return await svc.coupons.redeem(
                subscription_id=f"sub_{i}", customer_id=cus, currency="INR", coupon=coupon.id
            )
        except Conflict as refused:
            return refused

    results = await asyncio.gather(*(attempt(i) for i in range(20)))
    won = [r for r in results if isinstance(r, Redemption)]
    lost = [r for r in results if isinstance(r, Conflict)]
    assert (len(won), len(lost)) == (5, 15)
    assert {r.code for r in lost} == {"coupon_max_redemptions"}
    assert {r.param for r in lost} == {"coupon"}
    assert (await svc.coupons.get_coupon(coupon.id)).times_redeemed == 5
    assert await redemption_count(svc) == 5  # the losers' inserts rolled back


async def test_a_repeated_redemption_returns_the_first_and_counts_once(svc: Services) -> None:
    coupon = await svc.coupons.create_coupon(amount_off=500, currency="INR", duration="forever")
    cus = await customer(svc)
    results = await asyncio.gather(
        *(
            svc.coupons.redeem(
                subscription_id="sub_1", customer_id=cus, currency="INR", coupon=coupon.id
            )
            for _ in range(10)
        )
    )
    assert len({r.id for r in results}) == 1
    assert (await svc.coupons.get_coupon(coupon.id)).times_redeemed == 1
    async with svc.db.transaction() as conn:
        types = (await conn.execute(sa.select(events.c.type))).scalars().all()
    assert types.count("coupon_redemption.created") == 1


async def test_promotion_codes_are_case_insensitive_and_limited(svc: Services) -> None:
    coupon = await svc.coupons.create_coupon(
        percent_off="25", duration="repeating", duration_in_periods=2
    )
    promo = await svc.coupons.create_promotion_code(
        code="Summer25", coupon_id=coupon.id, max_redemptions=1
    )
    with pytest.raises(Conflict) as taken:
        await svc.coupons.create_promotion_code(code="SUMMER25", coupon_id=coupon.id)
    assert taken.value.param == "code"
    cus = await customer(svc)
    redeemed = await svc.coupons.redeem(
        subscription_id="sub_1", customer_id=cus, currency="USD", promotion_code="summer25"
    )
    assert (redeemed.coupon_id, redeemed.promotion_code_id) == (coupon.id, promo.id)
    with pytest.raises(Conflict) as used_up:
        await svc.coupons.redeem(
            subscription_id="sub_2", customer_id=cus, currency="USD", promotion_code="SUMMER25"
        )
    assert (used_up.value.code, used_up.value.param) == (
        "promotion_code_max_redemptions",
        "promotion_code",
    )
    # The coupon's own counter rolled back with the refused redemption.
    assert (await svc.coupons.get_coupon(coupon.id)).times_redeemed == 1


async def test_expiry_inactivity_currency_and_first_time_are_refused(
    svc: Services, clock: FrozenClock
) -> None:
    cus = await customer(svc)
    expiring = await svc.coupons.create_coupon(
        percent_off="5", duration="once", redeem_by=clock.now + timedelta(days=1)
    )
    inr = await svc.coupons.create_coupon(amount_off=1000, currency="INR", duration="once")
    await svc.coupons.create_promotion_code(
        code="LATE", coupon_id=inr.id, expires_at=clock.now + timedelta(hours=1)
    )
    await svc.coupons.create_promotion_code(code="OFF", coupon_id=inr.id, active=False)
    await svc.coupons.create_promotion_code(
        code="NEW", coupon_id=inr.id, first_time_transaction=True
    )

    async def refused(**kw: str) -> tuple[str, str | None]:
        with pytest.raises((InvalidInput, NotFound)) as caught:
            await svc.coupons.redeem(subscription_id="sub_x", customer_id=cus, **kw)  # type: ignore[arg-type]
        return caught.value.code, caught.value.param

    assert await refused(currency="USD", coupon=inr.id) == ("currency_mismatch", "coupon")
    assert await refused(currency="INR", promotion_code="OFF") == (
        "promotion_code_inactive",
        "promotion_code",
    )
    assert await refused(currency="INR", coupon="coupon_nope") == ("resource_missing", "coupon")
    assert await refused(currency="INR", promotion_code="NOPE") == (
        "resource_missing",
        "promotion_code",
    )
    clock.advance(days=2)
    assert await refused(currency="INR", coupon=expiring.id) == ("coupon_expired", "coupon")
    assert await refused(currency="INR", promotion_code="late") == (
        "promotion_code_expired",
        "promotion_code",
    )
    assert await redemption_count(svc) == 0

    # First-time only: fine for a new customer, refused once they have paid.
    await svc.coupons.redeem(
        subscription_id="sub_new", customer_id=cus, currency="INR", promotion_code="new"
    )
    payer = await customer(svc, 1)
    await svc.payments.create(CreatePayment(Money(1000, "INR"), "pm_card_visa", customer_id=payer))
    with pytest.raises(InvalidInput) as returning:
        await svc.coupons.redeem(
            subscription_id="sub_p", customer_id=payer, currency="INR", promotion_code="NEW"
        )
    assert returning.value.code == "promotion_code_first_time_only"


async def test_discounts_for_follows_durations_and_stacks_in_order(
    svc: Services, clock: FrozenClock
) -> None:
    cus = await customer(svc)
    half_twice = await svc.coupons.create_coupon(
        percent_off="50", duration="repeating", duration_in_periods=2
    )
    hundred_off = await svc.coupons.create_coupon(
        amount_off=100, currency="INR", duration="forever"
    )
    await svc.coupons.redeem(
        subscription_id="sub_1", customer_id=cus, currency="INR", coupon=half_twice.id
    )
    clock.advance(seconds=1)
    await svc.coupons.redeem(
        subscription_id="sub_1", customer_id=cus, currency="INR", coupon=hundred_off.id
    )

    async def period(i: int) -> list[int]:
        return await svc.coupons.discounts_for(
            subscription_id="sub_1",
            period_index=i,
            amounts=[1000, 333],
            currency="INR",
            now=clock.now,
        )

    # Periods 0 and 1: 50 % of 1333 = 666.5 -> 667, shares 500.375 and 166.625 -> 500, 166,
    # the leftover paisa to the larger remainder -> 500, 167. Then 100 off what is left
    # (500, 166): shares 75.08 and 24.92 -> 75, 24 + 1 -> 75, 25.
    assert await period(0) == [500 + 75, 167 + 25]
    assert await period(1) == [575, 192]
    # From period 2 only the forever 100 off 1333: shares 75.02, 24.98 -> 75, 24 + 1 -> 75, 25.
    assert await period(2) == [75, 25]
    assert await svc.coupons.discounts_for(
        subscription_id="sub_none", period_index=0, amounts=[1000], currency="INR", now=clock.now
    ) == [0]
    assert sum(await period(0)) == 667 + 100
    assert await period(5) == [75, 25]  # forever means forever


async def test_redeem_and_discounts_inside_the_caller_s_transaction(svc: Services) -> None:
    coupon = await svc.coupons.create_coupon(percent_off="10", duration="forever")
    cus = await customer(svc)
    async with svc.db.transaction() as conn:
        await svc.coupons.redeem(
            subscription_id="sub_1", customer_id=cus, currency="INR", coupon=coupon.id, conn=conn
        )
        got = await asyncio.wait_for(
            svc.coupons.discounts_for(
                subscription_id="sub_1",
                period_index=3,
                amounts=[999],
                currency="INR",
                now=svc.clock(),
                conn=conn,
            ),
            timeout=10,
        )
    assert got == [100]  # 99.9 -> 100
    # A redemption in a transaction that rolls back leaves nothing behind.
    with pytest.raises(RuntimeError):
        async with svc.db.transaction() as conn:
            await svc.coupons.redeem(
                subscription_id="sub_2",
                customer_id=cus,
                currency="INR",
                coupon=coupon.id,
                conn=conn,
            )
            raise RuntimeError("the subscription failed")
    assert (await svc.coupons.get_coupon(coupon.id)).times_redeemed == 1
    assert await redemption_count(svc) == 1
