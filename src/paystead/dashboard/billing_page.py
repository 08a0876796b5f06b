"""``GET /billing``: the billing view of the dashboard.

MRR now (per currency, with the exchange rate each was converted at) and its trend over
the last twelve months, MRR growth and customer retention over the last 30 days (the
KPIs of ``insights/measure_billing.py``), subscriptions by status, invoices open, paid
and past due, dunning in progress and the latest invoices. Read-only; one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from fastapi import APIRouter, Request
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.responses import HTMLResponse

from paystead.dashboard.routes import _ENV
from paystead.dashboard.views import _svg
from paystead.insights.measure import NoData, Window, measure
from paystead.insights.measure_billing import MrrReport, mrr_at
from paystead.money import currency
from paystead.platform.db import Database
from paystead.platform.schema import invoices, subscriptions
from paystead.wiring import Services

router = APIRouter(include_in_schema=False)

#: MRR trend: one point every 30 days, twelve points.
TREND_STEP, TREND_POINTS = timedelta(days=30), 12
RECENT_INVOICES = 10
SUBSCRIPTION_STATUSES = ("trialing", "active", "past_due", "paused", "unpaid", "canceled")


def money(minor: int, code: str) -> str:
    """Minor units as a person reads them: ``123,456.70 INR``."""
    exponent = currency(code).exponent
    return f"{Decimal(minor).scaleb(-exponent):,.{exponent}f} {code}"


@dataclass(frozen=True, slots=True)
class Figure:
    name: str
    value: str
    note: str


@dataclass(frozen=True, slots=True)
class InvoiceGroup:
    kind: str  # open | past_due | paid
    currency: str
    count: int
    total: str
    due: str


@dataclass(frozen=True, slots=True)
class BillingModel:
    now: datetime
    base: str
    mrr: MrrReport
    figures: list[Figure]
    trend_svg: str
    trend_summary: str
    trend_points: int
    statuses: list[tuple[str, int]]
    invoice_groups: list[InvoiceGroup]
    dunning: list[dict[str, object]]
    recent: list[dict[str, object]]


async def _figure(conn: AsyncConnection, kpi: str, name: str, now: datetime, base: str) -> Figure:
    value = await measure(conn, kpi, Window(now - timedelta(days=30), now), base)
    if isinstance(value, NoData):
        return Figure(name, "—", value.reason)
    return Figure(name, f"{value:.2f} %", "last 30 days")


async def _trend(
    conn: AsyncConnection, now: datetime, base: str
) -> tuple[str, str, int, MrrReport]:
    """The MRR chart, its text alternative, its points, and MRR now (the last point)."""
    xs: list[datetime] = []
    ys: list[float] = []
    gaps = 0
    instants = [now - i * TREND_STEP for i in range(TREND_POINTS - 1, -1, -1)]
    series = [await mrr_at(conn, at, base) for at in instants]
    for at, report in zip(instants, series, strict=True):
        if not report.known:
            continue
        if not report.complete:
            gaps += 1
            continue
        xs.append(at)
        ys.append(float(Decimal(report.total).scaleb(-currency(base).exponent)))
    span = (now - (TREND_POINTS - 1) * TREND_STEP, now)
    svg = _svg("MRR", xs, ys, None, span, date_format="%b %y")
    summary = f"MRR in {base}, every 30 days over the last year: {len(ys)} points with data"
    if ys:
        summary += f", from {ys[0]:,.2f} to {ys[-1]:,.2f}"
    if gaps:
        summary += f"; {gaps} left out for a missing exchange rate"
    return svg, summary, len(ys), series[-1]


async def _invoice_groups(conn: AsyncConnection, now: datetime) -> list[InvoiceGroup]:
    past_due = sa.and_(
        invoices.c.status == "open",
        sa.or_(invoices.c.due_date < now, invoices.c.last_payment_error.is_not(None)),
    )
    kind = sa.case(
        (past_due, "past_due"), (invoices.c.status == "open", "open"), else_=invoices.c.status
    ).label("kind")
    rows = await conn.execute(
        sa.select(
            kind,
            invoices.c.currency,
            sa.func.count(),
            sa.func.sum(invoices.c.total),
            sa.func.sum(invoices.c.amount_due),
        )
        .where(invoices.c.status.in_(("open", "paid")))
        .group_by(kind, invoices.c.currency)
    )
    order = {"open": 0, "past_due": 1, "paid": 2}
    groups = [
        InvoiceGroup(str(k), str(code), int(n), money(int(total), code), money(int(due), code))
        for k, code, n, total, due in rows
    ]
    return sorted(groups, key=lambda g: (order[g.kind], g.currency))


async def build_billing(db: Database, *, now: datetime, base: str) -> BillingModel:
    async with db.transaction() as conn:
        svg, summary, points, report = await _trend(conn, now, base)
        figures = [
            await _figure(conn, "mrr_growth", "MRR growth", now, base),
            await _figure(conn, "customer_retention", "Customer retention", now, base),
        ]
        counted: dict[str, int] = {
            str(status): int(n)
            for status, n in await conn.execute(
                sa.select(subscriptions.c.status, sa.func.count()).group_by(subscriptions.c.status)
            )
        }
        statuses = [(s, counted.get(s, 0)) for s in SUBSCRIPTION_STATUSES]
        groups = await _invoice_groups(conn, now)
        dunning = [
            dict(row._mapping)
            for row in await conn.execute(
                sa.select(
                    subscriptions.c.id,
                    subscriptions.c.customer_id,
                    subscriptions.c.dunning_invoice_id,
                    subscriptions.c.dunning_started_at,
                    subscriptions.c.dunning_retries,
                    subscriptions.c.next_retry_at,
                )
                .where(subscriptions.c.status == "past_due")
                .order_by(subscriptions.c.next_retry_at, subscriptions.c.id)
                .limit(20)
            )
        ]
        recent = [
            {**row._mapping, "total_shown": money(int(row.total), row.currency)}
            for row in await conn.execute(
                sa.select(
                    invoices.c.id,
                    invoices.c.number,
                    invoices.c.status,
                    invoices.c.total,
                    invoices.c.currency,
                    invoices.c.customer_id,
                    invoices.c.finalized_at,
                )
                .where(invoices.c.number.is_not(None))
                .order_by(invoices.c.finalized_at.desc(), invoices.c.id.desc())
                .limit(RECENT_INVOICES)
            )
        ]
    return BillingModel(
        now, base, report, figures, svg, summary, points, statuses, groups, dunning, recent
    )


@router.get("/billing", response_class=HTMLResponse)
async def billing_page(request: Request) -> HTMLResponse:
    services: Services = request.app.state.services
    base = services.settings.base_currency
    model = await build_billing(services.db, now=services.clock(), base=base)
    html = _ENV.get_template("billing.html").render(model=model, money=money, now=model.now)
    return HTMLResponse(html)
