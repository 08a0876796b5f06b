"""Daily standup, weekly review and monthly executive reports, as HTML and PDF.

One Jinja2 template renders both: the HTML is the report, and WeasyPrint prints the
same HTML to PDF. Charts are matplotlib images embedded in the page. A report holds
the KPI table against the targets in force, what moved since the previous period
(top improvements and regressions), the trend charts, and the alerts and releases of
the period when those sources are recorded.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from importlib import resources
from typing import Any

import jinja2
from sqlalchemy.ext.asyncio import AsyncConnection

from paystead.fx.reporting import BaseRevenue, revenue_in_base
from paystead.insights import inputs
from paystead.insights.alerting import recent_alerts
from paystead.insights.framework import Framework, Status
from paystead.insights.measure import NoData, Window, measure
from paystead.insights.scorecard import Row, Scorecard, Trend, build_scorecard
from paystead.platform.db import Database


class ReportKind(StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"


PERIODS = {
    ReportKind.DAILY: (timedelta(days=1), timedelta(hours=1), "Daily standup"),
    ReportKind.WEEKLY: (timedelta(days=7), timedelta(days=1), "Weekly review"),
    ReportKind.MONTHLY: (timedelta(days=30), timedelta(days=1), "Monthly executive report"),
}

CHARTED = ("payment_success_rate", "throughput_tps", "revenue")


@dataclass(frozen=True, slots=True)
class Series:
    kpi: str
    points: list[tuple[datetime, Decimal | None]]


@dataclass
class Report:
    kind: ReportKind
    title: str
    start: datetime
    end: datetime
    scorecard: Scorecard
    series: list[Series]
    #: Alerts and release markers of the period, when those sources are recorded.
    alerts: list[dict[str, Any]] = field(default_factory=list)
    releases: list[dict[str, Any]] = field(default_factory=list)
    #: Revenue per currency converted to the base currency at the report day's rates.
    revenue_in_base: BaseRevenue | None = None

    @property
    def moved(self) -> list[Row]:
        return [r for r in self.scorecard.rows if r.trend in (Trend.IMPROVING, Trend.WORSENING)]

    def top(self, trend: Trend, limit: int = 5) -> list[Row]:
        def size(row: Row) -> Decimal:
            assert row.value is not None and row.previous is not None
            base = abs(row.previous) or Decimal(1)
            return abs(row.value - row.previous) / base

        rows = [r for r in self.moved if r.trend is trend]
        return sorted(rows, key=size, reverse=True)[:limit]


async def build_report(
    db: Database,
    framework: Framework,
    kind: ReportKind,
    *,
    launch_at: datetime,
    now: datetime,
    base_currency: str,
    alerts: list[dict[str, Any]] | None = None,
    releases: list[dict[str, Any]] | None = None,
) -> Report:
    length, step, title = PERIODS[kind]
    # The phase in force, completed by the standing targets it does not cover.
    phase = framework.current_phase(launch_at, now)
    common = {"launch_at": launch_at, "now": now, "base_currency": base_currency}
    standing = await build_scorecard(db, framework, phase="standing", **common)  # type: ignore[arg-type]
    scorecard = standing
    if phase is not None and phase.key != "standing":
        current = await build_scorecard(db, framework, phase=phase.key, **common)  # type: ignore[arg-type]
        covered = {row.kpi for row in current.rows}
        current.rows.extend(row for row in standing.rows if row.kpi not in covered)
        scorecard = current
    series = []
    async with db.transaction() as conn:
        if alerts is None:
            alerts = [
                {
                    "at": a["fired_at"].strftime("%Y-%m-%d %H:%M"),
                    "name": f"{a['slo']} {a['rule']} ({a['severity']})",
                    "state": a["state"]
                    + (f", resolved {a['resolved_at']:%Y-%m-%d %H:%M}" if a["resolved_at"] else ""),
                }
                for a in await recent_alerts(conn, now - length)
            ]
        if releases is None:
            releases = [
                await _before_after(conn, release, now, base_currency)
                for release in await inputs.releases(conn, now - length, now)
            ]
        in_base = await revenue_in_base(conn, now - length, now, base_currency, now.date())
        for kpi in CHARTED:
            points: list[tuple[datetime, Decimal | None]] = []
            at = now - length
            while at < now:
                measured = await measure(conn, kpi, Window(at, at + step), base_currency)
                points.append((at, None if isinstance(measured, NoData) else measured))
                at += step
            series.append(Series(kpi, points))
    return Report(
        kind, title, now - length, now, scorecard, series, alerts or [], releases or [], in_base
    )


async def _before_after(
    conn: AsyncConnection, release: dict[str, Any], now: datetime, base_currency: str
) -> dict[str, Any]:
    """A release with its target KPIs measured over equal windows before and after it."""
    at: datetime = release["released_at"]
    span = min(timedelta(hours=24), now - at)
    parts = []
    for kpi in ("payment_success_rate", "api_response_time_p95"):
        if span <= timedelta(0):
            break
        before = await measure(conn, kpi, Window(at - span, at), base_currency)
        after = await measure(conn, kpi, Window(at, at + span), base_currency)
        if isinstance(before, NoData) or isinstance(after, NoData):
            continue
        parts.append(f"{kpi.replace('_', ' ')}: {format_number(before)} → {format_number(after)}")
    return {
        "at": at.strftime("%Y-%m-%d %H:%M"),
        "name": f"{release['name']} ({release['kind']})",
        "comparison": "; ".join(parts) or "not enough data on both sides yet",
    }


def _chart(series: Series, label: str) -> str:
    """A line chart as a base64 PNG data URI (matplotlib, no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    xs = [at for at, value in series.points if value is not None]
    ys = [float(value) for _, value in series.points if value is not None]
    fig, ax = plt.subplots(figsize=(6.4, 2.2), dpi=110)
    try:
        if xs:
            ax.plot(xs, ys, marker="o", markersize=3, linewidth=1.5, color="#1f5fa8")  # type: ignore[arg-type]
        else:
            ax.text(0.5, 0.5, "no data in the period", ha="center", va="center")
        ax.set_title(label, fontsize=10)
        ax.grid(alpha=0.3)
        fig.autofmt_xdate()
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
    finally:
        plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def format_number(value: Decimal | None) -> str:
    """KPI values for people: small rates keep 3 significant digits, others 2 decimals."""
    if value is None:
        return "—"
    if value and abs(value) < 1:
        return f"{value:.3g}"  # small rates keep their significant digits
    return f"{value:,.2f}" if value % 1 else f"{value:,.0f}"


_ENV = jinja2.Environment(
    loader=jinja2.FunctionLoader(
        lambda name: resources.files("paystead.insights").joinpath("templates", name).read_text()
    ),
    autoescape=True,
)
_ENV.filters["number"] = format_number


def render_html(report: Report) -> str:
    names = {row.kpi: row.name for row in report.scorecard.rows}
    charts = [_chart(s, names.get(s.kpi, s.kpi.replace("_", " "))) for s in report.series]
    return _ENV.get_template("report.html").render(
        report=report, charts=charts, Status=Status, Trend=Trend
    )


def render_pdf(report: Report) -> bytes:
    from weasyprint import HTML

    pdf = HTML(string=render_html(report)).write_pdf()
    assert pdf is not None
    return bytes(pdf)
