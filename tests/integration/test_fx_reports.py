"""Reports state revenue per currency converted to the base currency, with the rates."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from paystead.config import Settings
from paystead.fx.service import FxService
from paystead.insights.framework import load_framework
from paystead.insights.reports import ReportKind, build_report, render_html
from paystead.money import Money
from paystead.payments.service import CreatePayment
from paystead.wiring import Services, build_services
from tests.conftest import FrozenClock

LAUNCH = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
async def timed(settings: Settings) -> AsyncIterator[tuple[Services, FrozenClock]]:
    clock = FrozenClock(LAUNCH + timedelta(hours=1))
    built = build_services(settings, clock=clock)
    try:
        yield built, clock
    finally:
        await built.close()


async def test_daily_report_converts_each_currency_at_the_days_rate(
    timed: tuple[Services, FrozenClock],
) -> None:
    services, clock = timed
    fx = FxService(services.db, clock)
    await fx.record("USD", "INR", Decimal("83.5"), date(2026, 10, 30))  # latest before the day
    await fx.record("USD", "INR", Decimal("90"), date(2026, 11, 3))  # after the day: unused
    for amount, code in [(25_000, "INR"), (25_000, "INR"), (1_000, "USD"), (500, "EUR")]:
        await services.payments.create(CreatePayment(Money(amount, code), "pm_card_visa"))
    clock.advance(hours=2)

    report = await build_report(
        services.db,
        load_framework(),
        ReportKind.DAILY,
        launch_at=LAUNCH,
        now=clock.now,
        base_currency="INR",
    )
    fxr = report.revenue_in_base
    assert fxr is not None and fxr.day == date(2026, 11, 1)
    by_code = {line.revenue.currency: line for line in fxr.lines}
    assert by_code["INR"].converted == Money(50_000, "INR")
    usd = by_code["USD"]
    assert usd.rate is not None and usd.rate.rate == Decimal("83.5")
    assert usd.rate.day == date(2026, 10, 30)
    assert usd.converted == Money(83_500, "INR")  # 10.00 USD x 83.5
    assert by_code["EUR"].rate is None and by_code["EUR"].converted is None
    assert fxr.total == Money(133_500, "INR") and not fxr.complete

    html = render_html(report)
    assert "Revenue in base currency" in html
    assert "83.5" in html and "2026-10-30 (manual)" in html
    assert "no rate on or before 2026-11-01" in html
    assert "1335.00 INR" in html and "incomplete" in html
