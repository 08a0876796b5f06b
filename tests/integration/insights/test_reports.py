"""Reports render the KPI table to HTML and PDF (the PDF's text is read back)."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from pypdf import PdfReader

from paystead.config import Settings
from paystead.insights.framework import load_framework
from paystead.insights.reports import ReportKind, build_report, render_html, render_pdf
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


async def test_weekly_report_pdf_carries_the_kpi_table(
    timed: tuple[Services, FrozenClock],
) -> None:
    services, clock = timed
    for day in range(5):
        for token in ["pm_card_visa"] * 9 + ["pm_card_declined" if day % 2 else "pm_card_visa"]:
            await services.payments.create(CreatePayment(Money(25000, "INR"), token))
        clock.advance(days=1)

    report = await build_report(
        services.db,
        load_framework(),
        ReportKind.WEEKLY,
        launch_at=LAUNCH,
        now=clock.now,
        base_currency="INR",
    )
    success = next(p for p in report.series if p.kpi == "payment_success_rate")
    assert len(success.points) == 7
    assert sum(1 for _, v in success.points if v is not None) == 5

    html = render_html(report)
    assert html.count("data:image/png;base64,") == 3
    pdf = render_pdf(report)
    assert pdf.startswith(b"%PDF")
    pages = PdfReader(io.BytesIO(pdf)).pages
    text = " ".join(" ".join(page.extract_text().split()) for page in pages)  # unwrap cells
    assert "Weekly review" in text
    assert report.scorecard.phase_name in text
    for row in report.scorecard.rows:
        assert row.name in text, row.name
    # the week's success rate: 48 of 50 payments (two declines on days 1 and 3)
    assert "Payment success rate" in text
    assert "breached" in text
    assert "No alerts recorded in the period." in text


async def test_a_release_is_shown_with_its_before_and_after(
    timed: tuple[Services, FrozenClock],
) -> None:
    from paystead.insights.inputs import ReleaseIn, record

    services, clock = timed
    for token in ["pm_card_visa"] * 8 + ["pm_card_declined"] * 2:  # 80 % before
        await services.payments.create(CreatePayment(Money(25000, "INR"), token))
    clock.advance(hours=1)
    async with services.db.transaction() as conn:
        await record(conn, ReleaseIn(name="Smarter retries", kind="feature"), clock.now)
    clock.advance(seconds=1)
    for token in ["pm_card_visa"] * 9 + ["pm_card_declined"]:  # 90 % after
        await services.payments.create(CreatePayment(Money(25000, "INR"), token))
    clock.advance(hours=2)

    report = await build_report(
        services.db,
        load_framework(),
        ReportKind.DAILY,
        launch_at=LAUNCH,
        now=clock.now,
        base_currency="INR",
    )
    [release] = report.releases
    assert release["name"] == "Smarter retries (feature)"
    assert release["comparison"] == "payment success rate: 80 → 90"
    pdf = render_pdf(report)
    text = " ".join(" ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "Smarter retries (feature)" in text
    assert "payment success rate: 80 → 90" in text
