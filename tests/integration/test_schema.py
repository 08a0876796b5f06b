"""Migrations and the database's own guarantees, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from paystead.money import Money
from paystead.payments.service import CreatePayment
from paystead.platform.migrate import upgrade_engine
from paystead.platform.schema import metadata
from paystead.wiring import Services


async def test_migrations_match_the_schema_and_rerun_as_no_ops(services: Services) -> None:
    await upgrade_engine(services.db.engine)  # the fixture migrated already: a no-op

    def diff(connection: sa.Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    async with services.db.engine.connect() as conn:
        assert await conn.run_sync(diff) == []


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE postings SET amount = amount + 1",
        "DELETE FROM postings",
        "UPDATE journal_entries SET description = 'edited'",
        "DELETE FROM journal_entries",
    ],
)
async def test_the_ledger_refuses_updates_and_deletes(services: Services, statement: str) -> None:
    await services.payments.create(CreatePayment(Money(1000, "INR"), "pm_card_visa"))
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        async with services.db.transaction() as conn:
            await conn.execute(sa.text(statement))
    async with services.db.transaction() as conn:
        assert await services.ledger.check(conn) == []
        count = (await conn.execute(sa.text("SELECT count(*) FROM postings"))).scalar()
    assert count == 4  # revenue, clearing x2, fees: nothing was changed


async def test_a_tampered_balance_is_caught_by_the_check(services: Services) -> None:
    await services.payments.create(CreatePayment(Money(1000, "INR"), "pm_card_visa"))
    async with services.db.transaction() as conn:
        await conn.execute(
            sa.text(
                "UPDATE ledger_balances SET balance = balance + 1 WHERE slot = 3 AND account_id = "
                "(SELECT id FROM ledger_accounts WHERE code = 'merchant_revenue')"
            )
        )
    async with services.db.transaction() as conn:
        mismatches = await services.ledger.check(conn)
    assert [(m.kind, m.subject, m.expected, m.actual) for m in mismatches] == [
        ("balance", "merchant_revenue:INR", -1000, -999)
    ]
