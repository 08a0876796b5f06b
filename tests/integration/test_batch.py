"""Batched writes and reads that ride with the idempotency claim, on both databases:
the same rows either way, one statement on PostgreSQL, all or nothing."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError

from paystead.config import Settings
from paystead.customers.service import CustomerService
from paystead.errors import NotFound
from paystead.gateways.base import AuthorizeRequest, GatewayResult
from paystead.gateways.sandbox import SandboxGateway
from paystead.money import Money
from paystead.payments.service import CreatePayment
from paystead.platform.batch import Batch
from paystead.platform.db import Database
from paystead.platform.idempotency import (
    IdempotencyClaim,
    Lookup,
    ReplayStoredResponse,
    StoredResponse,
)
from paystead.platform.schema import (
    customers,
    events,
    idempotency_keys,
    journal_entries,
    ledger_accounts,
    postings,
)
from paystead.platform.schema import payments as payments_table
from paystead.wiring import Services, build_services

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    seen: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", before)


def expected(db: Database, writes: int) -> int:
    """Statements for ``writes`` batched writes: one on PostgreSQL, one each on SQLite
    (plus its ``BEGIN IMMEDIATE``)."""
    return 1 if db.is_postgres else writes + 1


async def account(db: Database, code: str) -> int:
    async with db.transaction() as conn:
        await conn.execute(
            sa.insert(ledger_accounts).values(
                code=code, currency="USD", type="asset", created_at=NOW
            )
        )
        return int(
            (
                await conn.execute(
                    sa.select(ledger_accounts.c.id).where(ledger_accounts.c.code == code)
                )
            ).scalar_one()
        )


async def test_a_batch_writes_every_row_in_one_round_trip(services: Services) -> None:
    db = services.db
    aid = await account(db, "batch_test")
    claim = {
        "api_key_id": "key_1",
        "key": "k1",
        "fingerprint": "f",
        "state": "in_flight",
        "resource_id": "pay_1",
        "created_at": NOW,
        "locked_at": NOW,
    }
    async with db.transaction() as conn:
        await conn.execute(idempotency_keys.insert(), claim)
    batch = Batch()
    entry = {
        "id": "je_1",
        "kind": "test",
        "reference": "r1",
        "payment_id": None,
        "description": None,
        "created_at": NOW,
    }
    batch.insert(journal_entries, entry)
    batch.insert_many(
        postings,
        [
            {"entry_id": "je_1", "account_id": aid, "amount": 5, "currency": "USD"},
            {"entry_id": "je_1", "account_id": aid, "amount": -5, "currency": "USD"},
        ],
    )
    batch.update(idempotency_keys, {"key": "k1"}, {"state": "completed", "response_status": 201})
    batch.insert(
        events,
        {
            "id": "evt_1",
            "type": "payment.created",
            "object_type": "payment",
            "object_id": "pay_1",
            "data": {"id": "pay_1", "nested": [1, "two"]},
            "previous": None,
            "actor": "system",
            "request_id": None,
            "created_at": NOW,
            "dispatched_at": None,
        },
    )
    assert len(batch) == 4
    with statements(db) as seen:
        async with db.transaction() as conn:
            await batch.execute(conn)
    assert len(seen) == expected(db, 4)
    assert len(batch) == 0
    async with db.transaction() as conn:
        amounts = (
            await conn.execute(sa.select(postings.c.amount).where(postings.c.entry_id == "je_1"))
        ).scalars()
        assert sorted(amounts) == [-5, 5]
        key = (await conn.execute(sa.select(idempotency_keys))).one()
        assert (key.state, key.response_status, key.fingerprint) == ("completed", 201, "f")
        stored = (await conn.execute(sa.select(events.c.data))).scalar_one()
        assert stored == {"id": "pay_1", "nested": [1, "two"]}


async def test_a_failing_write_leaves_nothing_behind(services: Services) -> None:
    db = services.db
    entry = {
        "id": "je_dup",
        "kind": "test",
        "reference": "same",
        "payment_id": None,
        "description": None,
        "created_at": NOW,
    }
    batch = Batch()
    batch.insert(journal_entries, entry)
    batch.insert(journal_entries, {**entry, "id": "je_dup2"})  # (kind, reference) unique
    with pytest.raises(IntegrityError):
        async with db.transaction() as conn:
            await batch.execute(conn)
    async with db.transaction() as conn:
        assert (
            await conn.execute(sa.select(sa.func.count()).select_from(journal_entries))
        ).scalar() == 0


def claim_for(services: Services, key: str) -> IdempotencyClaim:
    return IdempotencyClaim(
        api_key_id="key_1",
        key=key,
        fingerprint="f",
        render=lambda result: StoredResponse(200, b"{}"),
        lock_timeout=timedelta(seconds=30),
        now=lambda: NOW,
    )


EMAIL = sa.select(customers.c.email).where(customers.c.id == sa.bindparam("b_id"))


async def test_a_lookup_rides_with_the_claim(services: Services) -> None:
    db = services.db
    customer = await CustomerService(db, lambda: NOW).create(email="a@example.com", name="A")
    claim = claim_for(services, "k-lookup")
    found = Lookup(EMAIL, {"b_id": customer.id})
    with statements(db) as seen:
        async with db.transaction() as conn:
            assert await claim.begin(conn, "pay_1", also=found) is None
            assert found.done and found.value == "a@example.com"
            await claim.complete(conn, None)
    # The claim returns the read: claim + complete (+ SQLite's BEGIN IMMEDIATE).
    assert len(seen) == (2 if db.is_postgres else 3)

    missing = Lookup(EMAIL, {"b_id": "cus_missing"})
    async with db.transaction() as conn:
        await claim_for(services, "k-missing").begin(conn, "pay_2", also=missing)
    assert missing.done and missing.value is None

    replayed = Lookup(EMAIL, {"b_id": customer.id})
    with pytest.raises(ReplayStoredResponse):
        async with db.transaction() as conn:
            await claim_for(services, "k-lookup").begin(conn, "pay_3", also=replayed)


async def test_an_unknown_customer_still_rolls_the_claim_back(services: Services) -> None:
    claim = claim_for(services, "k-unknown")
    with pytest.raises(NotFound) as raised:
        await services.payments.create(
            CreatePayment(Money(1_000, "USD"), "pm_card_visa", customer_id="cus_nobody"), claim
        )
    assert raised.value.param == "customer"
    async with services.db.transaction() as conn:
        assert (
            await conn.execute(sa.select(sa.func.count()).select_from(idempotency_keys))
        ).scalar() == 0


async def test_a_guard_decides_whether_the_rest_is_written(services: Services) -> None:
    db = services.db
    claim = {
        "api_key_id": "key_1",
        "key": "k-guard",
        "fingerprint": "f",
        "state": "in_flight",
        "resource_id": None,
        "created_at": NOW,
        "locked_at": NOW,
    }
    async with db.transaction() as conn:
        await conn.execute(idempotency_keys.insert(), [claim, {**claim, "key": "k-other"}])

    def batch(expect: str, entry_id: str) -> Batch:
        guarded = Batch()
        guarded.guard(idempotency_keys, {"key": "k-guard", "state": expect}, {"state": "completed"})
        guarded.insert(
            journal_entries,
            {
                "id": entry_id,
                "kind": "test",
                "reference": entry_id,
                "payment_id": None,
                "description": None,
                "created_at": NOW,
            },
        )
        # (never the guard's own row: one statement cannot update a row twice)
        guarded.update(idempotency_keys, {"key": "k-other"}, {"response_status": 201})
        return guarded

    with statements(db) as seen:
        async with db.transaction() as conn:
            assert await batch("in_flight", "je_won").execute(conn) is True
    assert len(seen) == expected(db, 3)
    with statements(db) as seen:
        async with db.transaction() as conn:
            assert await batch("in_flight", "je_lost").execute(conn) is False
    # SQLite stops after the failed compare-and-set (BEGIN + it).
    assert len(seen) == (1 if db.is_postgres else 2)
    async with db.transaction() as conn:
        ids = (await conn.execute(sa.select(journal_entries.c.id))).scalars().all()
        keys = {
            k.key: (k.state, k.response_status)
            for k in await conn.execute(sa.select(idempotency_keys))
        }
    assert ids == ["je_won"]
    assert keys == {"k-guard": ("completed", None), "k-other": ("in_flight", 201)}
    with pytest.raises(ValueError):
        batch("in_flight", "x").guard(idempotency_keys, {"key": "k"}, {"state": "x"})


class WebhookFirst(SandboxGateway):
    """The sandbox, but the payment is settled by someone else (an inbound webhook)
    while the authorization is on the wire."""

    db: Database | None = None

    async def authorize(self, request: AuthorizeRequest) -> GatewayResult:
        result = await super().authorize(request)
        payment_id = request.idempotency_key.split(":")[0]
        assert self.db is not None
        async with self.db.transaction() as conn:
            await conn.execute(
                sa.update(payments_table)
                .where(payments_table.c.id == payment_id)
                .values(status="failed", failure_code="declined_by_webhook")
            )
        return result


async def test_an_answer_settled_meanwhile_stands_and_nothing_is_posted(
    settings: Settings,
) -> None:
    gateway = WebhookFirst()
    services = build_services(settings, gateways={"sandbox": gateway})
    gateway.db = services.db
    try:
        claim = claim_for(services, "k-meanwhile")
        claim.render = lambda payment: StoredResponse(201, payment.status.value.encode())
        payment = await services.payments.create(
            CreatePayment(Money(1_000, "USD"), "pm_card_visa"), claim
        )
        assert (payment.status.value, payment.failure_code) == ("failed", "declined_by_webhook")
        async with services.db.transaction() as conn:
            kinds = (await conn.execute(sa.select(events.c.type))).scalars().all()
            entries = (
                await conn.execute(sa.select(sa.func.count()).select_from(journal_entries))
            ).scalar()
            stored = (await conn.execute(sa.select(idempotency_keys))).one()
    finally:
        await services.close()
    # Only the first transaction's event: the webhook's own writes are not simulated,
    # and this request added none (no second event, no journal entry).
    assert kinds == ["payment.created"]
    assert entries == 0
    assert (stored.state, bytes(stored.response_body)) == ("completed", b"failed")
