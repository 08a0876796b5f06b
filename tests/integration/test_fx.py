"""Exchange rates on both backends: manual entry, ECB import, lookups, conversion."""

from __future__ import annotations

import asyncio
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from paystead.errors import InvalidInput
from paystead.fx.service import FxService, ImportResult, RateNotFound
from paystead.money import Money
from paystead.platform.schema import events, exchange_rates
from paystead.wiring import Services

DAILY = (
    "Date, USD, JPY, BGN, INR, ZAR, \n03 June 2021, 1.2187, 133.81, 1.9558, 88.7145, 16.5612, \n"
)
HIST = (
    "Date,USD,JPY,INR,HRK,\n"
    "2021-06-03,1.2187,133.81,88.7145,N/A,\n"
    "2021-06-02,1.2212,133.88,89.0515,7.5015,\n"
    "2021-06-01,1.2225,134.11,89.0390,7.5063,\n"
)


@pytest.fixture
def fx(services: Services) -> FxService:
    return FxService(services.db, services.clock)


async def _count(services: Services) -> int:
    async with services.db.transaction() as conn:
        return int(
            (
                await conn.execute(sa.select(sa.func.count()).select_from(exchange_rates))
            ).scalar_one()
        )


async def test_ecb_import_is_idempotent_and_rates_resolve(
    services: Services, fx: FxService
) -> None:
    # HRK left the euro's list (and ISO 4217): its column is skipped and reported.
    assert await fx.import_ecb(HIST) == ImportResult(9, 0, ("HRK",))
    assert await fx.import_ecb(HIST) == ImportResult(0, 9, ("HRK",))
    # ZAR new; USD, JPY, INR already there; BGN (now the euro) not in ISO 4217 any more.
    assert await fx.import_ecb(DAILY) == ImportResult(1, 3, ("BGN",))
    assert await _count(services) == 10

    # Direct, and latest on or before: a Saturday uses Thursday's rate.
    assert await fx.rate("EUR", "USD", date(2021, 6, 2)) == Decimal("1.2212")
    found = await fx.lookup("EUR", "INR", date(2021, 6, 5))
    assert (found.rate, found.day, found.source) == (Decimal("88.7145"), date(2021, 6, 3), "ecb")
    # Inverse: 1 / 1.2187 to 12 significant digits.
    assert await fx.rate("USD", "EUR", date(2021, 6, 3)) == Decimal("0.820546483958")
    # Cross through EUR: USD -> INR = (1 / 1.2187) * 88.7145.
    cross = await fx.lookup("USD", "INR", date(2021, 6, 3))
    assert cross.via == "EUR"
    assert abs(cross.rate - Decimal("88.7145") / Decimal("1.2187")) < Decimal("1e-9")
    with pytest.raises(RateNotFound) as missing:
        await fx.rate("EUR", "USD", date(2021, 5, 31))
    assert missing.value.param == "date"
    with pytest.raises(RateNotFound):
        await fx.rate("INR", "BRL", date(2021, 6, 3))


async def test_convert_rounds_once_across_exponents(fx: FxService) -> None:
    await fx.import_ecb(DAILY)
    # 100.00 USD -> JPY: 10000 cents * (133.81 / 1.2187) / 100 = 10979.732... -> 10980 yen.
    assert await fx.convert(Money(10_000, "USD"), "JPY", date(2021, 6, 3)) == Money(10_980, "JPY")
    # 12.35 EUR -> INR at 88.7145: 1235 * 88.7145 = 109562.4075 -> 109562 paise.
    assert await fx.convert(Money(1_235, "EUR"), "INR", date(2021, 6, 3)) == Money(109_562, "INR")
    assert await fx.convert(Money(1_235, "INR"), "INR", date(2021, 6, 3)) == Money(1_235, "INR")


async def test_manual_rate_wins_the_day_and_corrections_replace_it(
    services: Services, fx: FxService
) -> None:
    await fx.import_ecb(DAILY)
    first = await fx.record("EUR", "INR", Decimal("90.5"), date(2021, 6, 3))
    assert await fx.rate("EUR", "INR", date(2021, 6, 3)) == Decimal("90.5")
    fixed = await fx.record("eur", "inr", Decimal("90.25"), date(2021, 6, 3))
    assert fixed["id"] == first["id"] and fixed["rate"] == "90.25"
    assert await fx.rate("EUR", "INR", date(2021, 6, 4)) == Decimal("90.25")
    async with services.db.transaction() as conn:
        types = [r.type for r in await conn.execute(sa.select(events.c.type))]
    assert types.count("exchange_rate.recorded") == 2
    assert types.count("exchange_rate_import.completed") == 1


async def test_concurrent_manual_entries_leave_one_row(services: Services, fx: FxService) -> None:
    await asyncio.gather(
        *(fx.record("USD", "INR", Decimal(f"83.{i}"), date(2026, 1, 5)) for i in range(1, 6))
    )
    assert await _count(services) == 1


@pytest.mark.parametrize(
    ("text", "param"),
    # One good row before the bad one: nothing of the file is kept.
    [
        ("Date, USD,\n02 June 2021, 1.2,\n03 June 2021, abc,\n", "USD"),
        ("Date, USD,\n03 June 2021, -1.5,\n", "USD"),
        ("Date, US D,\n03 June 2021, 1.5,\n", "US D"),
        ("Date, USD,\n3rd of June, 1.5,\n", "Date"),
    ],
)
async def test_a_bad_file_imports_nothing_and_names_the_column(
    services: Services, fx: FxService, text: str, param: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        await fx.import_ecb(text)
    assert caught.value.param == param
    assert await _count(services) == 0
