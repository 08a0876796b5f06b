"""Customer lifetime value: a documented formula, per currency segment and per customer.

    LTV = monthly ARPU x gross margin / monthly churn rate

over a trailing window (90 days by default), each term from our own tables, per
currency (revenue is never converted here):

- **ARPU** (per month): net captured revenue (``amount_captured - amount_refunded`` of
  the window's succeeded payments) / paying customers (distinct customers with such a
  payment) / months in the window (days / 30). A customer's own LTV uses their own
  net revenue per month in place of the segment's ARPU.
- **gross margin**: 1 - gateway fees (``processing_fees`` postings) / captured revenue
  (``merchant_revenue`` credits) in the window.
- **monthly churn**: subscriptions in the currency active at the window's start that
  ended within it / those active at its start / months. With no subscriptions (or no
  churn seen) there is no honest denominator, and LTV is not given (``None`` with the
  reason), never an infinite or made-up value.

Amounts are Decimals until the one rounding (half up, to minor units). The formula is
the simple geometric-lifetime one (expected lifetime = 1 / churn): it assumes a constant
churn rate and ARPU; BG/NBD would need per-customer transaction histories we could
fit honestly only with more data than a young merchant has.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from paystead.platform.schema import (
    journal_entries,
    ledger_accounts,
    payments,
    postings,
    subscriptions,
)


def lifetime_value(arpu_per_month: Decimal, margin: Decimal, monthly_churn: Decimal) -> int:
    """The formula, rounded once to minor units; ``ValueError`` without churn."""
    if monthly_churn <= 0:
        raise ValueError("monthly churn must be positive")
    return int((arpu_per_month * margin / monthly_churn).quantize(Decimal(1), ROUND_HALF_UP))


@dataclass(frozen=True, slots=True)
class Segment:
    currency: str
    paying_customers: int
    arpu_per_month: Decimal  # minor units
    gross_margin: Decimal | None
    monthly_churn: Decimal | None
    ltv: int | None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "currency": self.currency,
            "paying_customers": self.paying_customers,
            "arpu_per_month": str(self.arpu_per_month.quantize(Decimal("0.01"))),
            "gross_margin": None if self.gross_margin is None else str(round(self.gross_margin, 4)),
            "monthly_churn": None
            if self.monthly_churn is None
            else str(round(self.monthly_churn, 4)),
            "ltv": self.ltv,
            "reason": self.reason,
        }


def _months(start: datetime, end: datetime) -> Decimal:
    return Decimal((end - start).total_seconds()) / Decimal(30 * 86400)


def _net() -> sa.ColumnElement[int]:
    return payments.c.amount_captured - payments.c.amount_refunded


def _paid(start: datetime, end: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(
        payments.c.status == "succeeded",
        payments.c.customer_id.is_not(None),
        payments.c.created_at >= start,
        payments.c.created_at < end,
    )


async def _posted(
    conn: AsyncConnection, code: str, currency: str, start: datetime, end: datetime
) -> int:
    total = (
        await conn.execute(
            sa.select(sa.func.coalesce(sa.func.sum(postings.c.amount), 0))
            .join(ledger_accounts, ledger_accounts.c.id == postings.c.account_id)
            .join(journal_entries, journal_entries.c.id == postings.c.entry_id)
            .where(
                ledger_accounts.c.code == code,
                ledger_accounts.c.currency == currency,
                journal_entries.c.created_at >= start,
                journal_entries.c.created_at < end,
            )
        )
    ).scalar_one()
    return int(total)


async def monthly_churn(
    conn: AsyncConnection, currency: str, start: datetime, end: datetime
) -> Decimal | None:
    active_at_start = sa.and_(
        subscriptions.c.currency == currency,
        subscriptions.c.created_at < start,
        sa.or_(subscriptions.c.ended_at.is_(None), subscriptions.c.ended_at >= start),
    )
    row = (
        await conn.execute(
            sa.select(
                sa.func.count(),
                sa.func.count().filter(subscriptions.c.ended_at < end),
            ).where(active_at_start)
        )
    ).one()
    active, ended = int(row[0]), int(row[1])
    if not active or not ended:
        return None
    return Decimal(ended) / active / _months(start, end)


async def segments(conn: AsyncConnection, start: datetime, end: datetime) -> list[Segment]:
    """LTV per currency over ``[start, end)``."""
    rows = await conn.execute(
        sa.select(
            payments.c.currency,
            sa.func.count(sa.distinct(payments.c.customer_id)),
            sa.func.sum(_net()),
        )
        .where(_paid(start, end))
        .group_by(payments.c.currency)
        .order_by(payments.c.currency)
    )
    months = _months(start, end)
    out = []
    for code, customers_n, net in rows.all():
        arpu = Decimal(int(net or 0)) / int(customers_n) / months
        captured = -await _posted(conn, "merchant_revenue", code, start, end)
        fees = await _posted(conn, "processing_fees", code, start, end)
        margin = 1 - Decimal(fees) / captured if captured > 0 else None
        churn = await monthly_churn(conn, code, start, end)
        reason = None
        ltv = None
        if margin is None:
            reason = f"no {code} revenue posted in the window"
        elif churn is None:
            reason = f"no {code} subscription churn observed in the window: no lifetime to use"
        else:
            ltv = lifetime_value(arpu, margin, churn)
        out.append(Segment(code, int(customers_n), arpu, margin, churn, ltv, reason))
    return out


async def for_customer(
    conn: AsyncConnection, customer_id: str, start: datetime, end: datetime
) -> list[Segment]:
    """The customer's own LTV per currency they paid in: their net revenue per month
    in place of ARPU, the segment's margin and churn."""
    by_code = {s.currency: s for s in await segments(conn, start, end)}
    rows = await conn.execute(
        sa.select(payments.c.currency, sa.func.sum(_net()))
        .where(_paid(start, end), payments.c.customer_id == customer_id)
        .group_by(payments.c.currency)
        .order_by(payments.c.currency)
    )
    months = _months(start, end)
    out = []
    for code, net in rows.all():
        segment = by_code[code]
        own = Decimal(int(net or 0)) / months
        ltv = None
        if segment.gross_margin is not None and segment.monthly_churn is not None:
            ltv = lifetime_value(own, segment.gross_margin, segment.monthly_churn)
        out.append(
            Segment(code, 1, own, segment.gross_margin, segment.monthly_churn, ltv, segment.reason)
        )
    return out
