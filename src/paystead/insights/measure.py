"""Computing KPI values from paystead's own data, over a time window.

Each measurable KPI has a query over the system's tables (payments, the ledger; the
billing KPIs in :mod:`paystead.insights.measure_billing`). A KPI
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
from paystead.models.outcomes import churn_confusion, fraud_confusion
from paystead.money import currency
from paystead.platform.schema import (
    customers,
    journal_entries,
    kpi_entries,
    ledger_accounts,
    marketing_spend,
    payments,
    postings,
    release_markers,
    support_tickets,
    survey_responses,
)
from paystead.telemetry import rollups
from paystead.telemetry.histogram import quantile

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
    Source.TELEMETRY: "no telemetry query for this KPI yet",
    Source.SURVEYS: "no survey responses recorded yet",
    Source.SUPPORT: "no support tickets recorded yet",
    Source.MARKETING: "no marketing spend recorded yet",
    Source.MANUAL: "no manual entries recorded yet",
    Source.RELEASES: "no release markers recorded yet",
    Source.ML_FRAUD: "no labelled fraud decisions yet",
    Source.ML_CHURN: "no churn predictions whose horizon has passed yet",
}


def _in(window: Window) -> sa.ColumnElement[bool]:
    return sa.and_(
        payments.c.created_at >= window.start,
        payments.c.created_at < window.end,
        # The telemetry probe's synthetic payments are not business (telemetry/runtime.py).
        sa.func.coalesce(payments.c.metadata["synthetic"].as_string(), "") != "probe",
    )


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


# -- KPIs from outside the system (insights/inputs.py) -------------------------------


async def _any(conn: AsyncConnection, table: sa.Table) -> bool:
    return (
        await conn.execute(sa.select(sa.literal(1)).select_from(table).limit(1))
    ).first() is not None


async def _scores(conn: AsyncConnection, window: Window, kind: str) -> list[int]:
    rows = await conn.execute(
        sa.select(survey_responses.c.score).where(
            survey_responses.c.kind == kind,
            survey_responses.c.responded_at >= window.start,
            survey_responses.c.responded_at < window.end,
        )
    )
    return [int(score) for (score,) in rows]


async def nps(conn: AsyncConnection, window: Window, _base: str) -> Measurement:
    scores = await _scores(conn, window, "nps")
    if not scores:
        return NoData("no NPS responses in the window")
    promoters = sum(1 for s in scores if s >= 9)
    detractors = sum(1 for s in scores if s <= 6)
    return Decimal(promoters - detractors) * 100 / len(scores)


async def csat(conn: AsyncConnection, window: Window, _base: str) -> Measurement:
    scores = await _scores(conn, window, "csat")
    if not scores:
        return NoData("no CSAT responses in the window")
    return Decimal(sum(1 for s in scores if s >= 4)) * 100 / len(scores)


async def support_ticket_volume(conn: AsyncConnection, window: Window, _base: str) -> Measurement:
    if not await _any(conn, support_tickets):
        return NoData("no support tickets recorded yet")
    count = (
        await conn.execute(
            sa.select(sa.func.count()).where(
                support_tickets.c.opened_at >= window.start,
                support_tickets.c.opened_at < window.end,
            )
        )
    ).scalar_one()
    return Decimal(int(count))


async def time_to_resolution(conn: AsyncConnection, window: Window, _base: str) -> Measurement:
    elapsed = _seconds_between(
        conn.dialect.name, support_tickets.c.opened_at, support_tickets.c.resolved_at
    )
    value = (
        await conn.execute(
            sa.select(sa.func.avg(elapsed)).where(
                support_tickets.c.resolved_at >= window.start,
                support_tickets.c.resolved_at < window.end,
            )
        )
    ).scalar()
    if value is None:
        return NoData("no tickets resolved in the window")
    return (Decimal(str(round(float(value), 3))) / 3600).quantize(Decimal("0.001"))


async def customer_acquisition_cost(
    conn: AsyncConnection, window: Window, base: str
) -> Measurement:
    spent = (
        await conn.execute(
            sa.select(sa.func.coalesce(sa.func.sum(marketing_spend.c.amount), 0)).where(
                marketing_spend.c.currency == base,
                marketing_spend.c.period_end > window.start,
                marketing_spend.c.period_end <= window.end,
            )
        )
    ).scalar_one()
    if not spent:
        return NoData(f"no {base} marketing spend recorded for the window")
    acquired = (
        await conn.execute(
            sa.select(sa.func.count()).where(
                customers.c.created_at >= window.start, customers.c.created_at < window.end
            )
        )
    ).scalar_one()
    if not acquired:
        return NoData("no customers acquired in the window")
    return _major(Decimal(int(spent)) / int(acquired), base)


async def _entries(conn: AsyncConnection, kpi: str, window: Window) -> list[Decimal]:
    rows = await conn.execute(
        sa.select(kpi_entries.c.value)
        .where(
            kpi_entries.c.kpi == kpi,
            kpi_entries.c.period_end > window.start,
            kpi_entries.c.period_end <= window.end,
        )
        .order_by(kpi_entries.c.period_end, kpi_entries.c.created_at)
    )
    return [Decimal(value) for (value,) in rows]


def _manual(kpi: str, *, summed: bool) -> Query:
    async def query(conn: AsyncConnection, window: Window, _base: str) -> Measurement:
        values = await _entries(conn, kpi, window)
        if not values:
            return NoData("no manual entries for the window")
        return sum(values, Decimal(0)) if summed else values[-1]

    return query


async def feature_releases(conn: AsyncConnection, window: Window, _base: str) -> Measurement:
    if not await _any(conn, release_markers):
        return NoData("no release markers recorded yet")
    count = (
        await conn.execute(
            sa.select(sa.func.count()).where(
                release_markers.c.kind == "feature",
                release_markers.c.released_at >= window.start,
                release_markers.c.released_at < window.end,
            )
        )
    ).scalar_one()
    return Decimal(int(count))


# -- telemetry: the per-minute rollups (telemetry/rollups.py) ------------------------


def _ms(seconds: float) -> Decimal:
    return Decimal(str(round(seconds * 1000, 3)))


_API_5XX = rollups.labels(**{"class": "5xx"})
_PROBE_OK = rollups.labels(result="ok")
_PROBE_FAILED = rollups.labels(result="failed")
_NO_API = "no API requests in the window"


async def _api_by_class(conn: AsyncConnection, window: Window) -> dict[str, int]:
    return await rollups.counts_by_label(
        conn, rollups.API_REQUEST_DURATION, window.start, window.end
    )


async def api_response_time_avg(conn: AsyncConnection, window: Window, _base: str) -> Measurement:
    api = await rollups.totals(conn, rollups.API_REQUEST_DURATION, window.start, window.end)
    if not api.count:
        return NoData(_NO_API)
    return _ms(api.sum / api.count)


def _api_percentile(q: float) -> Query:
    """From the merged bucket counts, interpolated within the bucket (histogram.py)."""

    async def query(conn: AsyncConnection, window: Window, _base: str) -> Measurement:
        api = await rollups.totals(conn, rollups.API_REQUEST_DURATION, window.start, window.end)
        value = quantile(q, api.buckets)
        return NoData(_NO_API) if value is None else _ms(value)

    return query


async def error_rate(conn: AsyncConnection, window: Window, _base: str) -> Measurement:
    by_class = await _api_by_class(conn, window)
    total = sum(by_class.values())
    if not total:
        return NoData(_NO_API)
    return Decimal(by_class.get(_API_5XX, 0)) * 100 / Decimal(total)


async def critical_errors(conn: AsyncConnection, window: Window, _base: str) -> Measurement:
    by_class = await _api_by_class(conn, window)
    probes = await rollups.counts_by_label(conn, rollups.PROBE_DURATION, window.start, window.end)
    if not by_class and not probes:
        return NoData("no API requests or probes in the window")
    return Decimal(by_class.get(_API_5XX, 0) + probes.get(_PROBE_FAILED, 0))


async def availability(conn: AsyncConnection, window: Window, _base: str) -> Measurement:
    probes = await rollups.counts_by_label(conn, rollups.PROBE_DURATION, window.start, window.end)
    total = sum(probes.values())
    if not total:
        return NoData("no synthetic probes in the window")
    return Decimal(probes.get(_PROBE_OK, 0)) * 100 / Decimal(total)


async def db_query_time(conn: AsyncConnection, window: Window, _base: str) -> Measurement:
    statements = await rollups.totals(conn, rollups.DB_STATEMENT_DURATION, window.start, window.end)
    if not statements.count:
        return NoData("no database statements timed in the window")
    return _ms(statements.sum / statements.count)


async def cold_start_share(conn: AsyncConnection, window: Window, _base: str) -> Measurement:
    total = sum((await _api_by_class(conn, window)).values())
    if not total:
        return NoData(_NO_API)
    cold = await rollups.totals(conn, rollups.API_COLD_REQUESTS, window.start, window.end)
    return Decimal(cold.count) * 100 / Decimal(total)


async def cache_hit_rate(conn: AsyncConnection, window: Window, _base: str) -> Measurement:
    lookups = await rollups.counts_by_label(conn, rollups.CACHE_LOOKUPS, window.start, window.end)
    total = sum(lookups.values())
    if not total:
        return NoData("no cache lookups in the window")
    hits = sum(n for label, n in lookups.items() if '"result":"hit"' in label)
    return Decimal(hits) * 100 / Decimal(total)


async def cdn_latency(_conn: AsyncConnection, _window: Window, _base: str) -> Measurement:
    return NoData("paystead serves no static assets: the dashboard inlines its charts")


# -- the models' labelled outcomes (models/outcomes.py, docs/models.md) ---------------


async def fraud_detection_accuracy(
    conn: AsyncConnection, window: Window, _base: str
) -> Measurement:
    value = (await fraud_confusion(conn, window.start, window.end)).accuracy
    return (
        NoData("no screened payment with a known outcome in the window") if value is None else value
    )


async def fraud_false_positive_rate(
    conn: AsyncConnection, window: Window, _base: str
) -> Measurement:
    value = (await fraud_confusion(conn, window.start, window.end)).false_positive_rate
    return NoData("no legitimate screened payment in the window") if value is None else value


async def churn_prediction_accuracy(
    conn: AsyncConnection, window: Window, _base: str
) -> Measurement:
    value = (await churn_confusion(conn, window.start, window.end)).accuracy
    return (
        NoData("no churn prediction whose horizon ended in the window") if value is None else value
    )


QUERIES: dict[str, Query] = {
    "fraud_detection_accuracy": fraud_detection_accuracy,
    "fraud_false_positive_rate": fraud_false_positive_rate,
    "churn_prediction_accuracy": churn_prediction_accuracy,
    "api_response_time_avg": api_response_time_avg,
    "api_response_time_p95": _api_percentile(0.95),
    "api_response_time_p99": _api_percentile(0.99),
    "error_rate": error_rate,
    "critical_errors": critical_errors,
    "availability": availability,
    "db_query_time": db_query_time,
    "cold_start_share": cold_start_share,
    "cache_hit_rate": cache_hit_rate,
    "cdn_latency": cdn_latency,
    "nps": nps,
    "csat": csat,
    "support_ticket_volume": support_ticket_volume,
    "time_to_resolution": time_to_resolution,
    "customer_acquisition_cost": customer_acquisition_cost,
    # Counts add up over a window; levels (productivity, audit hours) take the latest.
    "manual_interventions": _manual("manual_interventions", summed=True),
    "staff_productivity": _manual("staff_productivity", summed=False),
    "compliance_audit_time": _manual("compliance_audit_time", summed=False),
    "feature_releases": feature_releases,
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
    if query is None and BY_KEY[kpi].source is Source.BILLING:
        # Imported here: measure_billing builds on this module's Window and NoData.
        from paystead.insights.measure_billing import QUERIES as BILLING

        query = BILLING.get(kpi)
    if query is None:
        return NoData(_PENDING_SOURCES.get(BY_KEY[kpi].source, "not measured yet"))
    return await query(conn, window, base_currency)
