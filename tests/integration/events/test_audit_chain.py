"""The audit hash chain on SQLite and PostgreSQL: it verifies, the database refuses edits,
and a record edited, deleted or moved behind the database's back is named by verify."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from paystead.audit.chain import Verification, digest, verify
from paystead.audit.store import AuditFilter
from paystead.events.context import RequestContext, bound
from paystead.events.worker import Worker
from paystead.money import Money
from paystead.payments.service import CreatePayment, CreateRefund
from paystead.platform.schema import audit_logs
from paystead.wiring import Services


async def history(services: Services, worker: Worker) -> None:
    """Five audited changes by two actors: a customer, a payment, a refund."""
    with bound(RequestContext(request_id="req_1", actor="key_alice")):
        customer = await services.customers.create(email="c@example.com", name="C")
        payment = await services.payments.create(
            CreatePayment(Money(5000, "INR"), "pm_card_visa", customer_id=customer.id)
        )
    with bound(RequestContext(request_id="req_2", actor="key_bob")):
        await services.payments.refund(CreateRefund(payment.id, 500))
    await worker.run_until_idle()


async def check(services: Services) -> Verification:
    async with services.db.transaction() as conn:
        return await verify(conn)


@asynccontextmanager
async def behind_the_databases_back(services: Services) -> AsyncIterator[AsyncConnection]:
    """A connection that may change the audit log: what someone with the database's
    owner rights could do (they can switch the append-only triggers off)."""
    async with services.db.transaction() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(
                sa.text("ALTER TABLE audit_logs DISABLE TRIGGER audit_logs_append_only")
            )
            yield conn
            await conn.execute(
                sa.text("ALTER TABLE audit_logs ENABLE TRIGGER audit_logs_append_only")
            )
        else:
            for action in ("update", "delete"):
                await conn.execute(sa.text(f"DROP TRIGGER audit_logs_no_{action}"))
            yield conn


async def test_the_chain_records_who_what_when_and_verifies(
    outbound: Services, worker: Worker
) -> None:
    await history(outbound, worker)
    result = await check(outbound)
    assert (result.ok, result.checked, result.head_seq) == (True, 5, 5)

    records, _ = await outbound.audit.list(AuditFilter(), limit=100, starting_after=None)
    assert [r.seq for r in records] == [5, 4, 3, 2, 1]
    # One record per event, in dispatch order (events of the same millisecond may swap).
    assert sorted(r.action for r in records) == [
        "customer.created",
        "payment.created",
        "payment.succeeded",
        "refund.created",
        "refund.succeeded",
    ]
    oldest = records[-1]
    assert oldest.prev_hash == "0" * 64
    created = next(r for r in records if r.action == "customer.created")
    assert (created.actor, created.request_id, created.before) == ("key_alice", "req_1", None)
    assert created.after is not None and created.after["email"] == "c@example.com"
    succeeded = next(r for r in records if r.action == "payment.succeeded")
    assert succeeded.before is not None and succeeded.after is not None
    assert succeeded.before["status"] == "processing"
    assert succeeded.after["status"] == "succeeded"
    assert set(succeeded.before) == set(succeeded.after)  # only the changed fields
    for newer, older in itertools.pairwise(records):
        assert newer.prev_hash == older.hash

    by_bob, _ = await outbound.audit.list(
        AuditFilter(actor="key_bob"), limit=10, starting_after=None
    )
    assert {r.action for r in by_bob} == {"refund.created", "refund.succeeded"}
    refunds, _ = await outbound.audit.list(
        AuditFilter(action="refund.*"), limit=10, starting_after=None
    )
    assert refunds == by_bob
    page, more = await outbound.audit.list(AuditFilter(), limit=2, starting_after=records[1].id)
    assert [r.seq for r in page] == [3, 2] and more


@pytest.mark.parametrize(
    "statement", ["UPDATE audit_logs SET actor = 'x'", "DELETE FROM audit_logs"]
)
async def test_the_database_refuses_to_change_the_audit_log(
    outbound: Services, worker: Worker, statement: str
) -> None:
    await history(outbound, worker)
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        async with outbound.db.transaction() as conn:
            await conn.execute(sa.text(statement))
    assert (await check(outbound)).ok


async def test_an_edited_record_is_named(outbound: Services, worker: Worker) -> None:
    await history(outbound, worker)
    async with behind_the_databases_back(outbound) as conn:
        await conn.execute(
            audit_logs.update().where(audit_logs.c.seq == 3).values(actor="key_mallory")
        )
    result = await check(outbound)
    assert (result.ok, result.bad_seq, result.checked) == (False, 3, 2)
    assert result.reason is not None and "edited" in result.reason
    assert result.bad_id is not None and result.bad_id.startswith("aud_")


async def test_an_edit_that_recomputes_its_own_hash_is_caught_at_the_next_record(
    outbound: Services, worker: Worker
) -> None:
    await history(outbound, worker)
    async with behind_the_databases_back(outbound) as conn:
        row = (await conn.execute(sa.select(audit_logs).where(audit_logs.c.seq == 2))).one()
        forged = {**row._mapping, "after": {"amount": 1}}
        await conn.execute(
            audit_logs.update()
            .where(audit_logs.c.seq == 2)
            .values(after=forged["after"], hash=digest(forged))
        )
    result = await check(outbound)
    assert (result.ok, result.bad_seq) == (False, 3)
    assert result.reason is not None and "prev_hash" in result.reason


async def test_a_deleted_record_is_named(outbound: Services, worker: Worker) -> None:
    await history(outbound, worker)
    async with behind_the_databases_back(outbound) as conn:
        await conn.execute(audit_logs.delete().where(audit_logs.c.seq == 4))
    result = await check(outbound)
    assert (result.ok, result.bad_seq, result.checked) == (False, 5, 3)
    assert result.reason is not None and "missing" in result.reason


async def test_reordered_records_are_named(outbound: Services, worker: Worker) -> None:
    await history(outbound, worker)
    async with behind_the_databases_back(outbound) as conn:
        for seq, to in ((2, -2), (3, 2), (-2, 3)):  # swap records 2 and 3
            await conn.execute(audit_logs.update().where(audit_logs.c.seq == seq).values(seq=to))
    result = await check(outbound)
    assert (result.ok, result.bad_seq) == (False, 2)


async def test_a_removed_tail_is_caught_by_the_head(outbound: Services, worker: Worker) -> None:
    await history(outbound, worker)
    async with behind_the_databases_back(outbound) as conn:
        await conn.execute(audit_logs.delete().where(audit_logs.c.seq >= 4))
    result = await check(outbound)
    assert (result.ok, result.bad_seq, result.checked, result.head_seq) == (False, None, 3, 5)
    assert result.reason is not None and "removed from the end" in result.reason


async def test_an_empty_chain_verifies(outbound: Services) -> None:
    result = await check(outbound)
    assert (result.ok, result.checked, result.head_seq) == (True, 0, 0)
