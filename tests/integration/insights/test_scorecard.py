"""The scorecard measured from real payments and ledger entries (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from paystead.config import Settings
from paystead.insights.framework import Status, load_framework
from paystead.insights.measure import NoData, Window, measure
from paystead.insights.scorecard import Trend, build_scorecard
from paystead.money import Money
from paystead.payments.model import CaptureMethod
from paystead.payments.service import CreatePayment, CreateRefund
from paystead.wiring import Services, build_services
from tests.conftest import FrozenClock

LAUNCH = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(LAUNCH + timedelta(hours=7))


@pytest.fixture
async def timed(settings: Settings, clock: FrozenClock) -> AsyncIterator[Services]:
    built = build_services(settings, clock=clock)
    try:
        yield built
    finally:
        await built.close()


async def pay(services: Services, token: str, amount: int = 10000, **kwargs: object) -> str:
    payment = await services.payments.create(
        CreatePayment(Money(amount, "INR"), token, **kwargs)  # type: ignore[arg-type]
    )
    return payment.id


async def test_success_rate_counts_final_answers_only(timed: Services, clock: FrozenClock) -> None:
    for _ in range(7):
        await pay(timed, "pm_card_visa")
    await pay(timed, "pm_card_visa", capture_method=CaptureMethod.MANUAL)  # authorized: a success
    await pay(timed, "pm_card_declined")
    await pay(timed, "pm_card_insufficient_funds")
    canceled = await pay(timed, "pm_card_visa", capture_method=CaptureMethod.MANUAL)
    await timed.payments.cancel(canceled)  # not an answer about the payment method
    await pay(timed, "pm_card_visa", confirm=False)  # never attempted

    window = Window(clock.now - timedelta(hours=1), clock.now + timedelta(seconds=1))
    async with timed.db.transaction() as conn:
        rate = await measure(conn, "payment_success_rate", window, "INR")
        conversion = await measure(conn, "payment_conversion_rate", window, "INR")
        outside = await measure(
            conn,
            "payment_success_rate",
            Window(window.start - timedelta(hours=2), window.start),
            "INR",
        )
    # answered: 7 succeeded + 1 requires_capture + 2 failed (+1 canceled, excluded) -> 8 / 10
    # (the canceled payment was authorized, so it is no longer requires_capture)
    assert rate == Decimal(80)
    assert conversion == Decimal(7) * 100 / Decimal(12)
    assert isinstance(outside, NoData)


async def test_money_kpis_come_from_the_ledger(timed: Services, clock: FrozenClock) -> None:
    first = await pay(timed, "pm_card_visa", amount=10000)
    await pay(timed, "pm_card_visa", amount=30000)
    await timed.payments.refund(CreateRefund(first, 4000))
    window = Window(clock.now - timedelta(hours=1), clock.now + timedelta(seconds=1))
    async with timed.db.transaction() as conn:
        revenue = await measure(conn, "revenue", window, "INR")
        aov = await measure(conn, "average_order_value", window, "INR")
        cost = await measure(conn, "processing_cost_per_transaction", window, "INR")
        usd = await measure(conn, "revenue", window, "USD")
    assert revenue == Decimal("360.00")  # (10000 + 30000 - 4000) paise
    assert aov == Decimal("200.00")  # 40000 paise over two captures
    assert cost == Decimal("4.00")  # 2 % fees: (200 + 600) paise over two captures
    assert isinstance(usd, NoData)


async def test_scorecard_for_the_current_phase(timed: Services, clock: FrozenClock) -> None:
    framework = load_framework()
    for _ in range(9):
        await pay(timed, "pm_card_visa")
    await pay(timed, "pm_card_declined")
    clock.advance(minutes=5)

    card = await build_scorecard(
        timed.db, framework, launch_at=LAUNCH, now=clock.now, base_currency="INR"
    )

    assert card.phase == "hour_6_24"
    rows = {row.kpi: row for row in card.rows}
    success = rows["payment_success_rate"]
    assert (success.value, success.status) == (Decimal(90), Status.BREACHED)  # target > 99.2
    latency = rows["api_response_time_avg"]
    assert latency.status is Status.NO_DATA
    assert latency.reason == "no API requests in the window"  # no rollups written
    assert card.count(Status.BREACHED) == 1


async def test_trend_compares_with_the_window_before(timed: Services, clock: FrozenClock) -> None:
    framework = load_framework()
    await pay(timed, "pm_card_declined")
    await pay(timed, "pm_card_visa")
    clock.advance(days=1)  # hour_24_72 -> ... measured per standing 24 h window
    for _ in range(3):
        await pay(timed, "pm_card_visa")
    clock.advance(minutes=1)
    card = await build_scorecard(
        timed.db, framework, launch_at=LAUNCH, now=clock.now, base_currency="INR", phase="standing"
    )
    success = next(r for r in card.rows if r.kpi == "payment_success_rate")
    assert (success.previous, success.value, success.trend) == (
        Decimal(50),
        Decimal(100),
        Trend.IMPROVING,
    )
