"""Exchange rates by day, and conversion for reports (docs/fx.md).

A rate says 1 ``base`` = ``rate`` ``quote`` on a day. :meth:`FxService.rate` answers
with the latest rate on or before the day asked for: the pair as stored, else its
inverse, else a cross rate through a common currency (EUR first, since the ECB file
quotes everything per EUR). On a day with both a manual and an imported rate the
manual one wins. A derived rate (inverse or cross) is computed to
:data:`DERIVED_DIGITS` significant digits; its date is the older of its legs'.

:meth:`FxService.convert` rounds once, through :func:`paystead.money.apply_rate`.
Only reports convert: the ledger never adds amounts of different currencies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation, localcontext
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from paystead.errors import InvalidInput, NotFound, PaysteadError
from paystead.events import catalog, outbox
from paystead.events.context import current as current_context
from paystead.fx import ecb
from paystead.ids import new_id
from paystead.money import Money, apply_rate, currency
from paystead.platform.db import Database, insert_ignoring_conflicts
from paystead.platform.schema import exchange_rates

#: Significant digits of an inverse or cross rate.
DERIVED_DIGITS = 12
#: Tried first as the common currency of a cross rate.
PIVOTS = ("EUR", "USD")
SOURCES = ("manual", "ecb")
#: Bounds of a plausible rate (the widest real pairs are around 1e-6 and 1e6).
MIN_RATE, MAX_RATE = Decimal("1e-12"), Decimal("1e12")


class RateNotFound(NotFound):
    code = "exchange_rate_missing"

    def __init__(self, base: str, quote: str, on: date):
        PaysteadError.__init__(
            self, f"no {base}/{quote} exchange rate on or before {on.isoformat()}", param="date"
        )


@dataclass(frozen=True, slots=True)
class Rate:
    """1 ``base`` = ``rate`` ``quote``, as of ``day``; ``via`` names a cross rate's pivot."""

    base: str
    quote: str
    rate: Decimal
    day: date
    source: str
    via: str | None = None
    #: How it was found: "direct" (stored), "inverse", "cross" or "identity".
    method: str = "direct"

    def inverse(self) -> Rate:
        return Rate(
            self.quote, self.base, _derived(1 / self.rate), self.day, self.source, None, "inverse"
        )


@dataclass(frozen=True, slots=True)
class ImportResult:
    new: int
    existing: int
    #: Columns left out: not current ISO 4217 currencies (withdrawn ones in the history).
    skipped: tuple[str, ...] = ()


def _derived(value: Decimal) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = DERIVED_DIGITS
        return +value


def parse_rate(text: str, *, param: str = "rate") -> Decimal:
    try:
        rate = Decimal(text)
    except (InvalidOperation, TypeError):
        raise InvalidInput(f"{text!r} is not a decimal number", param=param) from None
    if not rate.is_finite() or rate <= 0:
        raise InvalidInput("a rate must be a positive decimal", param=param)
    if len(rate.as_tuple().digits) > 30:
        raise InvalidInput("a rate has at most 30 significant digits", param=param)
    if not MIN_RATE <= rate <= MAX_RATE:
        raise InvalidInput(f"a rate is between {MIN_RATE} and {MAX_RATE}", param=param)
    return rate.normalize() if rate == rate.to_integral() else rate


def _row(row: Any) -> dict[str, Any]:
    return {str(k): v for k, v in row._mapping.items()}


class FxService:
    def __init__(self, db: Database, clock: Callable[[], datetime]):
        self.db = db
        self.clock = clock

    # -- writing ---------------------------------------------------------------------

    async def record(
        self, base: str, quote: str, rate: Decimal, day: date, *, source: str = "manual"
    ) -> dict[str, Any]:
        """Enter (or correct) one rate; returns the stored row."""
        async with self.db.transaction() as conn:
            return await record_rate(conn, base, quote, rate, day, source=source, now=self.clock())

    async def import_ecb(self, text: str) -> ImportResult:
        """Import an ECB reference CSV (all rows or none): how many rates were new.

        Re-importing the same file changes nothing: each (pair, day, "ecb") is unique.
        """
        parsed = ecb.parse(text)
        rates = parsed.rates
        now = self.clock()
        actor = current_context().actor
        rows = [
            {
                "id": new_id("fxr"),
                "base": "EUR",
                "quote": item.quote,
                "rate": str(item.rate),
                "rate_date": item.day,
                "source": "ecb",
                "recorded_by": actor,
                "created_at": now,
                "updated_at": now,
            }
            for item in rates
        ]
        count = sa.select(sa.func.count()).select_from(exchange_rates)
        async with self.db.transaction() as conn:
            before = int((await conn.execute(count)).scalar_one())
            insert = (
                postgresql.insert(exchange_rates)
                if conn.dialect.name == "postgresql"
                else sqlite.insert(exchange_rates)
            ).on_conflict_do_nothing()
            for start in range(0, len(rows), 1000):
                await conn.execute(insert, rows[start : start + 1000])
            new = int((await conn.execute(count)).scalar_one()) - before
            days = sorted({r.day for r in rates})
            summary = {
                "id": new_id("fxi"),
                "source": "ecb",
                "rates": len(rates),
                "new": new,
                "skipped_currencies": list(parsed.skipped),
                "first_date": days[0].isoformat() if days else None,
                "last_date": days[-1].isoformat() if days else None,
            }
            await outbox.record(conn, catalog.EXCHANGE_RATES_IMPORTED, summary, at=now)
        return ImportResult(new, len(rates) - new, parsed.skipped)

    # -- reading ---------------------------------------------------------------------

    async def list_rates(
        self,
        *,
        base: str | None = None,
        quote: str | None = None,
        on: date | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        query = sa.select(exchange_rates)
        if base is not None:
            query = query.where(exchange_rates.c.base == _code(base, "base"))
        if quote is not None:
            query = query.where(exchange_rates.c.quote == _code(quote, "quote"))
        if on is not None:
            query = query.where(exchange_rates.c.rate_date <= on)
        query = query.order_by(
            exchange_rates.c.rate_date.desc(), exchange_rates.c.base, exchange_rates.c.quote
        ).limit(limit)
        async with self.db.transaction() as conn:
            return [_row(r) for r in await conn.execute(query)]

    async def lookup(self, base: str, quote: str, on: date) -> Rate:
        """The rate in force on ``on``, with its date and how it was found."""
        base, quote = _code(base, "base"), _code(quote, "quote")
        if base == quote:
            return Rate(base, quote, Decimal(1), on, "identity", method="identity")
        async with self.db.transaction() as conn:
            return await lookup(conn, base, quote, on)

    async def rate(self, base: str, quote: str, on: date) -> Decimal:
        return (await self.lookup(base, quote, on)).rate

    async def convert(self, money: Money, to: str, on: date) -> Money:
        """``money`` in ``to`` at the rate of ``on``, rounded once (half up)."""
        rate = await self.lookup(money.currency, to, on)
        return convert_at(money, rate)


async def record_rate(
    conn: AsyncConnection,
    base: str,
    quote: str,
    rate: Decimal,
    day: date,
    *,
    source: str = "manual",
    now: datetime,
) -> dict[str, Any]:
    """Insert or correct one rate in ``conn``'s transaction, with its event."""
    base_code, quote_code = _code(base, "base"), _code(quote, "quote")
    if base_code == quote_code:
        raise InvalidInput("base and quote must differ", param="quote")
    if source not in SOURCES:
        raise InvalidInput(f"source is one of {list(SOURCES)}", param="source")
    values = {
        "id": new_id("fxr"),
        "base": base_code,
        "quote": quote_code,
        "rate": str(rate),
        "rate_date": day,
        "source": source,
        "recorded_by": current_context().actor,
        "created_at": now,
        "updated_at": now,
    }
    key = (
        exchange_rates.c.base == base_code,
        exchange_rates.c.quote == quote_code,
        exchange_rates.c.rate_date == day,
        exchange_rates.c.source == source,
    )
    # The unique constraint decides a race; the loser's value then corrects the winner's.
    inserted = await conn.execute(
        insert_ignoring_conflicts(conn.dialect.name, exchange_rates, values).returning(
            exchange_rates.c.id
        )
    )
    if inserted.first() is None:
        await conn.execute(
            exchange_rates.update()
            .where(*key)
            .values(rate=str(rate), recorded_by=values["recorded_by"], updated_at=now)
        )
    stored = _row((await conn.execute(sa.select(exchange_rates).where(*key))).one())
    await outbox.record(conn, catalog.EXCHANGE_RATE_RECORDED, shown(stored), at=now)
    return stored


def convert_at(money: Money, rate: Rate) -> Money:
    """Minor units of ``rate.base`` to minor units of ``rate.quote``: the exponents'
    difference goes into the rate, so :func:`apply_rate` rounds exactly once."""
    if money.currency != rate.base:
        raise InvalidInput(f"a {rate.base} rate cannot convert {money.currency}", param="currency")
    shift = currency(rate.quote).exponent - currency(rate.base).exponent
    converted = apply_rate(money, rate.rate.scaleb(shift))
    return Money(converted.amount, rate.quote)


async def lookup(conn: AsyncConnection, base: str, quote: str, on: date) -> Rate:
    """Direct, inverse, then cross through a pivot; raises :class:`RateNotFound`."""
    if base == quote:
        return Rate(base, quote, Decimal(1), on, "identity", method="identity")
    legs = await _latest_legs(conn, (base, quote), on)
    direct = legs.get((base, quote))
    if direct is not None:
        return direct
    for pivot in _pivots(legs, base, quote):
        first, second = legs[(base, pivot)], legs[(pivot, quote)]
        return Rate(
            base,
            quote,
            _derived(first.rate * second.rate),
            min(first.day, second.day),
            first.source if first.source == second.source else "mixed",
            via=pivot,
            method="cross",
        )
    raise RateNotFound(base, quote, on)


def _pivots(legs: dict[tuple[str, str], Rate], base: str, quote: str) -> Iterable[str]:
    reachable = {b for (a, b) in legs if a == base} & {a for (a, b) in legs if b == quote}
    reachable -= {base, quote}
    ordered = [p for p in PIVOTS if p in reachable] + sorted(reachable - set(PIVOTS))
    return ordered


async def _latest_legs(
    conn: AsyncConnection, codes: tuple[str, ...], on: date
) -> dict[tuple[str, str], Rate]:
    """The latest rate on or before ``on`` of every stored pair touching ``codes``, in
    both directions (a stored pair wins over the inverse of the other direction)."""
    touching = sa.or_(exchange_rates.c.base.in_(codes), exchange_rates.c.quote.in_(codes))
    latest = (
        sa.select(
            exchange_rates.c.base,
            exchange_rates.c.quote,
            sa.func.max(exchange_rates.c.rate_date).label("day"),
        )
        .where(touching, exchange_rates.c.rate_date <= on)
        .group_by(exchange_rates.c.base, exchange_rates.c.quote)
        .subquery()
    )
    # Only each pair's latest day (every source of it) comes back, not its history.
    found = await conn.execute(
        sa.select(exchange_rates).join(
            latest,
            sa.and_(
                exchange_rates.c.base == latest.c.base,
                exchange_rates.c.quote == latest.c.quote,
                exchange_rates.c.rate_date == latest.c.day,
            ),
        )
    )
    stored: dict[tuple[str, str], Rate] = {}
    for row in found:
        pair = (row.base, row.quote)
        current = stored.get(pair)
        candidate = Rate(row.base, row.quote, Decimal(row.rate), row.rate_date, row.source)
        # One day per pair here; on that day a manual rate wins over an import.
        if current is None or (current.day == candidate.day and candidate.source == "manual"):
            stored[pair] = candidate
    legs = dict(stored)
    for (a, b), rate in stored.items():
        reverse = stored.get((b, a))
        if reverse is None or rate.day > reverse.day:
            legs[(b, a)] = rate.inverse()
    return legs


def _code(value: str, param: str) -> str:
    try:
        return currency(value).code
    except InvalidInput:
        raise InvalidInput(f"{value!r} is not an ISO 4217 currency", param=param) from None


def shown(row: dict[str, Any]) -> dict[str, Any]:
    """A stored rate as the API shows it (and as its event carries it)."""
    return {
        "id": row["id"],
        "object": "exchange_rate",
        "base": row["base"],
        "quote": row["quote"],
        "rate": row["rate"],
        "date": row["rate_date"].isoformat(),
        "source": row["source"],
        "recorded_by": row["recorded_by"],
        "created": int(row["created_at"].timestamp()),
        "updated": int(row["updated_at"].timestamp()),
    }
