"""What the dashboard shows, computed from the system's data (no HTTP in here).

The page model: the scorecard of the chosen phase, time-series charts of the main
KPIs with their target lines, per-gateway health, and the executive headline numbers.
Charts are server-rendered SVG (matplotlib), so the page needs no build step and no
JavaScript, and each chart carries a text alternative.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa

from paystead.insights.alerting import recent_alerts
from paystead.insights.catalog import BY_KEY
from paystead.insights.framework import Framework, Status
from paystead.insights.measure import ANSWERED, SUCCESS, NoData, Window, measure
from paystead.insights.scorecard import Scorecard, build_scorecard
from paystead.platform.db import Database
from paystead.platform.schema import api_keys, payments

CHARTS = (
    "payment_success_rate",
    "throughput_tps",
    "revenue",
    "api_response_time_p95",
    "error_rate",
)
HEADLINES = ("revenue", "payment_success_rate", "average_order_value", "mrr")


@dataclass(frozen=True, slots=True)
class Chart:
    kpi: str
    title: str
    svg: str
    points: int  # buckets that had data
    summary: str  # the text alternative


@dataclass(frozen=True, slots=True)
class GatewayHealth:
    gateway: str
    payments: int
    success_rate: Decimal | None


@dataclass(frozen=True, slots=True)
class Headline:
    kpi: str
    name: str
    value: Decimal | None
    reason: str | None
    unit: str


@dataclass(frozen=True, slots=True)
class DashboardModel:
    scorecard: Scorecard
    phases: list[tuple[str, str]]
    charts: list[Chart]
    gateways: list[GatewayHealth]
    headlines: list[Headline]
    launch_at: datetime
    alerts: list[dict[str, object]]


async def launch_time(db: Database, configured: datetime | None, now: datetime) -> datetime:
    """The configured launch, else when the first API key was made (the system's setup)."""
    if configured is not None:
        return configured
    async with db.transaction() as conn:
        first = (await conn.execute(sa.select(sa.func.min(api_keys.c.created_at)))).scalar()
    if not isinstance(first, datetime):
        return now
    return first if first.tzinfo else first.replace(tzinfo=now.tzinfo)


def _target_line(framework: Framework, kpi: str) -> Decimal | None:
    for phase in framework.phases:
        if phase.key == "standing":
            for target in phase.targets:
                if target.kpi == kpi and not target.relative:
                    return target.value
    return None


def _svg(
    title: str,
    xs: list[datetime],
    ys: list[float],
    target: Decimal | None,
    span: tuple[datetime, datetime],
    date_format: str = "%H:%M",
) -> str:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import dates as mdates
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(5.2, 2.0), dpi=96)
    try:
        if xs:
            ax.plot(xs, ys, linewidth=1.8, color="#0b57d0", marker="o", markersize=2.5, label=title)  # type: ignore[arg-type]
        else:
            ax.text(
                0.5,
                0.5,
                "no data yet",
                ha="center",
                va="center",
                color="#4d5156",
                transform=ax.transAxes,
            )
        if target is not None:
            ax.axhline(float(target), color="#b3261e", linestyle="--", linewidth=1, label="target")
        ax.set_xlim(span[0], span[1])  # type: ignore[arg-type]
        ax.xaxis.set_major_formatter(mdates.DateFormatter(date_format))  # type: ignore[no-untyped-call]
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=7)
        fig.tight_layout()
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg")
    finally:
        plt.close(fig)
    svg = buffer.getvalue()
    return svg[svg.index("<svg") :]  # drop the XML prologue: the SVG goes inline


async def build_dashboard(
    db: Database,
    framework: Framework,
    *,
    now: datetime,
    launch_at: datetime,
    base_currency: str,
    phase: str | None,
) -> DashboardModel:
    current = framework.current_phase(launch_at, now)
    chosen = phase or (current.key if current else "standing")
    scorecard = await build_scorecard(
        db, framework, launch_at=launch_at, now=now, base_currency=base_currency, phase=chosen
    )
    charts = []
    step, buckets = timedelta(hours=1), 24
    async with db.transaction() as conn:
        for kpi in CHARTS:
            xs, ys = [], []
            for i in range(buckets, 0, -1):
                start = now - i * step
                value = await measure(conn, kpi, Window(start, start + step), base_currency)
                if not isinstance(value, NoData):
                    xs.append(start + step)
                    ys.append(float(value))
            name = BY_KEY[kpi].name
            target = _target_line(framework, kpi)
            summary = (
                f"{name}, hourly over the last 24 hours: {len(ys)} hours with data"
                + (f", latest {ys[-1]:.4g}" if ys else "")
                + (f"; target {target}" if target is not None else "")
            )
            svg = _svg(name, xs, ys, target, (now - buckets * step, now))
            charts.append(Chart(kpi, name, svg, len(ys), summary))

        rows = await conn.execute(
            sa.select(
                payments.c.gateway,
                sa.func.count(),
                sa.func.count().filter(payments.c.status.in_(SUCCESS)),
                sa.func.count().filter(payments.c.status.in_(ANSWERED)),
            )
            .where(
                payments.c.created_at >= now - timedelta(hours=1),
                # not the telemetry probe's synthetic payments (telemetry/runtime.py)
                sa.func.coalesce(payments.c.metadata["synthetic"].as_string(), "") != "probe",
            )
            .group_by(payments.c.gateway)
            .order_by(payments.c.gateway)
        )
        gateways = [
            GatewayHealth(
                gateway, int(total), Decimal(int(good)) * 100 / int(answered) if answered else None
            )
            for gateway, total, good, answered in rows
        ]

        headlines = []
        month = Window(now - timedelta(days=30), now)
        for kpi in HEADLINES:
            value = await measure(conn, kpi, month, base_currency)
            headlines.append(
                Headline(
                    kpi,
                    BY_KEY[kpi].name,
                    None if isinstance(value, NoData) else value,
                    value.reason if isinstance(value, NoData) else None,
                    base_currency if BY_KEY[kpi].unit.value == "money" else BY_KEY[kpi].unit.value,
                )
            )
        alerts = await recent_alerts(conn, now - timedelta(days=7))
    return DashboardModel(
        alerts=alerts,
        scorecard=scorecard,
        phases=[(p.key, p.name) for p in framework.phases],
        charts=charts,
        gateways=gateways,
        headlines=headlines,
        launch_at=launch_at,
    )


STATUS_LABELS = {
    Status.MET: "Met",
    Status.AT_RISK: "At risk",
    Status.BREACHED: "Breached",
    Status.NO_DATA: "No data",
}
