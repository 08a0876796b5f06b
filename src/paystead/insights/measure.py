"""Computing KPI values from paystead's own data, over a time window.

Each measurable KPI has a query over the system's tables (payments, the ledger). A KPI
whose data source has not landed yet returns :class:`NoData` with the reason, so the
scorecard can say why it is empty instead of inventing a value.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from paystead.insights.catalog import BY_KEY, Source
from paystead.money import currency
from paystead.platform.schema import journal_entries, ledger_accounts, payments, postings

SUCCESS = ("succeeded", "requires_capture")
ANSWERED = ("succeeded", "requires_capture", "failed")
MOBILE = ("android", "ios")


@dataclass(frozen=True, slots=True)
class Window:
    start: datetime
    end: datetime

    @property
    def seconds(self) -> Decimal:
        return Decimal((self.end - self.start).total_seconds())


@dataclass(frozen=True, slots=True)
class NoData:
    reason: str


Measurement = Decimal | NoData
Query = Callable[[AsyncConnection, Window, str], Awaitable[Measurement]]

_PENDING_SOURCES = {
    Source.TELEMETRY: "telemetry rollups have not landed yet",
    Source.BILLING: "billing (subscriptions, invoices) has not landed yet",
    Source.SURVEYS: "no survey responses recorded yet",
    Source.SUPPORT: "no support tickets recorded yet",
    Source.MARKETING: "no marketing spend recorded yet",
    Source.MANUAL: "no manual entries recorded yet",
    Source.RELEASES: "no release markers recorded yet",
    Source.ML_FRAUD: "the fraud model has not landed yet",
    Source.ML_CHURN: "the churn model has not landed yet",
}


def _in(window: Window) -> sa.ColumnElement[bool]:
    return sa.and_(payments.c.created_at >= window.start, payments.c.created_at < window.end)


def _percent(part: int, whole: int) -> Measurement:
    if whole == 0:
        return NoData("no payments in the window")
    return Decimal(part) * 100 / Decimal(whole)


async def _success_rate(
    conn: AsyncConnection, window: Window, *extra: sa.ColumnElement[bool]
) -> Measurement:
    row = (
        await conn.execute(
            sa.select(
                sa.func.count().filter(payments.c.status.in_(SUCCESS)),
                sa.func.count(),
            ).where(_in(window), payments.c.status.in_(ANSWERED), *extra)
        )
    ).one()
    return _percent(int(row[0]), int(row[1]))


async def payment_success_rate(conn: AsyncConnection, window: Window, _base: str) -> Measurement:
    return await _success_rate(conn, window)


async def mobile_payment_success_rate(
    conn: AsyncConnection, window: Window, _base: str
) -> Measurement:
    channel = payments.c.metadata["channel"].as_string()
    return await _success_rate(conn, window, channel.in_(MOBILE))


async def payment_conversion_rate(conn: AsyncConnection, window: Window, _base: str) -> Measurement:
    row = (
        await conn.execute(
            sa.select(
                sa.func.count().filter(payments.c.status == "succeeded"), sa.func.count()
            ).where(_in(window))
        )
    ).one()
    return _percent(int(row[0]), int(row[1]))


async def throughput_tps(conn: AsyncConnection, window: Window, _base: str) -> Measurement:
    count = (await conn.execute(sa.select(sa.func.count()).where(_in(window)))).scalar_one()
    if not count:
        return NoData("no payments in the window")
    return Decimal(int(count)) / window.seconds


def _seconds_between(
    dialect: str, start: sa.ColumnElement[datetime], end: sa.ColumnElement[datetime]
) -> sa.ColumnElement[float]:
    if dialect == "postgresql":
        return sa.cast(sa.func.extract("epoch", end - start), sa.Float)
    return (sa.func.julianday(end) - sa.func.julianday(start)) * 86400.0


async def payment_processing_time(conn: AsyncConnection, window: Window, _base: str) -> Measurement:
    elapsed = _seconds_between(conn.dialect.name, payments.c.created_at, payments.c.updated_at)
    value = (
        await conn.execute(
            sa.select(sa.func.avg(elapsed)).where(
                _in(window), payments.c.status.in_((*ANSWERED, "canceled"))
            )
        )
    ).scalar()
    if value is None:
        return NoData("no payment reached a final status in the window")
    return Decimal(str(round(float(value), 6)))


async def _posted(conn: AsyncConnection, window: Window, code: str, currency: str) -> int:
    total = (
        await conn.execute(
            sa.select(sa.func.coalesce(sa.func.sum(postings.c.amount), 0))
            .join(ledger_accounts, ledger_accounts.c.id == postings.c.account_id)
            .join(journal_entries, journal_entries.c.id == postings.c.entry_id)
            .where(
                ledger_accounts.c.code == code,
                ledger_accounts.c.currency == currency,
                journal_entries.c.created_at >= window.start,
                journal_entries.c.created_at < window.end,
            )
        )
    ).scalar_one()
    return int(total)


async def _captures(conn: AsyncConnection, window: Window, currency: str) -> int:
    count = (
        await conn.execute(
            sa.select(sa.func.count())
            .select_from(journal_entries)
            .join(payments, payments.c.id == journal_entries.c.payment_id)
            .where(
                journal_entries.c.kind == "payment.capture",
                payments.c.currency == currency,
                journal_entries.c.created_at >= window.start,
                journal_entries.c.created_at < window.end,
            )
        )
    ).scalar_one()
    return int(count)


def _major(minor: int | Decimal, code: str) -> Decimal:
    """Money KPIs are reported in major units of the base currency, as exact Decimals."""
    return Decimal(minor).scaleb(-currency(code).exponent)


async def revenue(conn: AsyncConnection, window: Window, base: str) -> Measurement:
    """Revenue net of refunds, in the base currency's major units."""
    earned = -await _posted(conn, window, "merchant_revenue", base)
    refunded = await _posted(conn, window, "refunds", base)
    if earned == 0 and refunded == 0:
        return NoData(f"no {base} revenue posted in the window")
    return _major(earned - refunded, base)


async def average_order_value(conn: AsyncConnection, window: Window, base: str) -> Measurement:
    captures = await _captures(conn, window, base)
    if captures == 0:
        return NoData(f"no {base} captures in the window")
    return _major(Decimal(-await _posted(conn, window, "merchant_revenue", base)) / captures, base)


async def processing_cost_per_transaction(
    conn: AsyncConnection, window: Window, base: str
) -> Measurement:
    captures = await _captures(conn, window, base)
    if captures == 0:
        return NoData(f"no {base} captures in the window")
    fees = await _posted(conn, window, "processing_fees", base)
    return _major(Decimal(fees) / captures, base)


QUERIES: dict[str, Query] = {
    "payment_success_rate": payment_success_rate,
    "mobile_payment_success_rate": mobile_payment_success_rate,
    "payment_conversion_rate": payment_conversion_rate,
    "throughput_tps": throughput_tps,
    "payment_processing_time": payment_processing_time,
    "revenue": revenue,
    "average_order_value": average_order_value,
    "processing_cost_per_transaction": processing_cost_per_transaction,
}


async def measure(
    conn: AsyncConnection, kpi: str, window: Window, base_currency: str
) -> Measurement:
    query = QUERIES.get(kpi)
    if query is None:
        return NoData(_PENDING_SOURCES.get(BY_KEY[kpi].source, "not measured yet"))
    return await query(conn, window, base_currency)
