"""Revenue per currency, converted to the base currency for reports only.

The ledger keeps every currency apart; a report adds them up in the base currency
(``PAYSTEAD_BASE_CURRENCY``) at the rate of the report's day, and states each rate with
its date, or "no rate" when there is none on or before that day (that currency then
stays out of the total, and the total says it is incomplete).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from paystead.fx.service import Rate, RateNotFound, convert_at, lookup
from paystead.money import Money
from paystead.platform.schema import journal_entries, ledger_accounts, postings


@dataclass(frozen=True, slots=True)
class CurrencyRevenue:
    #: Revenue net of refunds in its own currency.
    revenue: Money
    #: The rate used, or None: no rate on or before the report day.
    rate: Rate | None
    converted: Money | None


@dataclass(frozen=True, slots=True)
class BaseRevenue:
    base: str
    day: date
    lines: list[CurrencyRevenue]

    @property
    def total(self) -> Money:
        total = Money.zero(self.base)
        for line in self.lines:
            if line.converted is not None:
                total += line.converted
        return total

    @property
    def complete(self) -> bool:
        return all(line.converted is not None for line in self.lines)


async def revenue_by_currency(
    conn: AsyncConnection, start: datetime, end: datetime
) -> dict[str, int]:
    """Merchant revenue minus refunds posted in [start, end), per currency (minor units)."""
    # Revenue is credited (negative), refunds debited (positive): minus their sum is
    # revenue net of refunds, the same as the revenue KPI (insights/measure.py).
    found = await conn.execute(
        sa.select(ledger_accounts.c.currency, -sa.func.sum(postings.c.amount))
        .select_from(postings)
        .join(ledger_accounts, ledger_accounts.c.id == postings.c.account_id)
        .join(journal_entries, journal_entries.c.id == postings.c.entry_id)
        .where(
            ledger_accounts.c.code.in_(("merchant_revenue", "refunds")),
            journal_entries.c.created_at >= start,
            journal_entries.c.created_at < end,
        )
        .group_by(ledger_accounts.c.currency)
        .order_by(ledger_accounts.c.currency)
    )
    return {str(code): int(total) for code, total in found if total}


async def revenue_in_base(
    conn: AsyncConnection, start: datetime, end: datetime, base: str, day: date
) -> BaseRevenue:
    lines = []
    for code, amount in (await revenue_by_currency(conn, start, end)).items():
        revenue = Money(amount, code)
        try:
            rate = await lookup(conn, code, base, day)
        except RateNotFound:
            lines.append(CurrencyRevenue(revenue, None, None))
            continue
        lines.append(CurrencyRevenue(revenue, rate, convert_at(revenue, rate)))
    return BaseRevenue(base, day, lines)
