"""Persisting journal entries and keeping account balances, inside the caller's transaction.

:meth:`LedgerStore.post` inserts the entry and its postings and moves each touched
account's balance in the same transaction. A balance is spread over
``BALANCE_SLOTS`` rows (see ``schema.ledger_balances``); one entry adds to one randomly
chosen slot of each account, in account-id order, so concurrent entries rarely wait for
each other and can never deadlock. Call ``post`` last in a transaction: the slot rows
stay locked until commit. A caller with more writes for the same transaction can
:meth:`~LedgerStore.stage` the entry and its postings into its
:class:`~paystead.platform.batch.Batch` (one round trip with its own writes on
PostgreSQL), execute it, then :meth:`~LedgerStore.apply` the balance moves last. Nothing here updates or deletes an entry; the database
triggers refuse it anyway.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from paystead.ids import new_id
from paystead.ledger.model import AccountRef, AccountType, JournalEntry
from paystead.platform.batch import Batch
from paystead.platform.db import Database, insert_ignoring_conflicts
from paystead.platform.schema import journal_entries, ledger_accounts, ledger_balances, postings

BALANCE_SLOTS = 16

# Built once so SQLAlchemy reuses the compiled statements on the hot path.
_ADD_TO_SLOT = (
    ledger_balances.update()
    .where(
        ledger_balances.c.account_id == sa.bindparam("aid"),
        ledger_balances.c.slot == sa.bindparam("the_slot"),
    )
    .values(balance=ledger_balances.c.balance + sa.bindparam("delta"))
)


@dataclass(frozen=True, slots=True)
class Mismatch:
    """One disagreement found by :meth:`LedgerStore.check`."""

    kind: str  # "balance" or "entry"
    subject: str
    expected: int
    actual: int


@dataclass(frozen=True, slots=True)
class Staged:
    """An entry added to a batch; its balance moves wait for :meth:`LedgerStore.apply`."""

    entry_id: str
    moves: list[dict[str, Any]]


class LedgerStore:
    def __init__(self) -> None:
        # (code, currency) -> account id. Only ids of committed accounts are cached.
        self._account_ids: dict[tuple[str, str], int] = {}

    async def warm(self, db: Database, refs: list[AccountRef]) -> None:
        """Create missing accounts in their own transaction and cache their ids.

        Called before a business transaction so that the hot path finds every id in
        memory; ``post`` still works without it (it then resolves inside the caller's
        transaction, uncached).
        """
        missing = [r for r in refs if (r.code, r.currency) not in self._account_ids]
        if not missing:
            return
        async with db.transaction() as conn:
            ids = {r: await self._resolve(conn, r) for r in missing}
        for ref, account_id in ids.items():
            self._account_ids[(ref.code, ref.currency)] = account_id

    async def _resolve(self, conn: AsyncConnection, ref: AccountRef) -> int:
        key = (ref.code, ref.currency)
        cached = self._account_ids.get(key)
        if cached is not None:
            return cached
        find = sa.select(ledger_accounts.c.id).where(
            ledger_accounts.c.code == ref.code, ledger_accounts.c.currency == ref.currency
        )
        account_id = (await conn.execute(find)).scalar()
        if account_id is not None:
            return int(account_id)
        values = {
            "code": ref.code,
            "currency": ref.currency,
            "type": ref.type.value,
            "created_at": datetime.now(UTC),
        }
        await conn.execute(insert_ignoring_conflicts(conn.dialect.name, ledger_accounts, values))
        account_id = int((await conn.execute(find)).scalar_one())
        for slot in range(BALANCE_SLOTS):
            await conn.execute(
                insert_ignoring_conflicts(
                    conn.dialect.name,
                    ledger_balances,
                    {"account_id": account_id, "slot": slot, "balance": 0},
                )
            )
        return account_id

    async def post(self, conn: AsyncConnection, entry: JournalEntry, *, at: datetime) -> str:
        """Record ``entry`` and move the balances; returns the entry id."""
        batch = Batch()
        staged = await self.stage(conn, entry, batch, at=at)
        await batch.execute(conn)
        await self.apply(conn, staged)
        return staged.entry_id

    async def stage(
        self, conn: AsyncConnection, entry: JournalEntry, batch: Batch, *, at: datetime
    ) -> Staged:
        """Add ``entry`` and its postings to ``batch`` (account ids are resolved in
        ``conn``, normally from memory); execute the batch, then :meth:`apply`."""
        entry_id = new_id("je")
        batch.insert(
            journal_entries,
            {
                "id": entry_id,
                "kind": entry.kind,
                "reference": entry.reference,
                "payment_id": entry.payment_id,
                "description": entry.description,
                "created_at": at,
            },
        )
        deltas: dict[int, int] = defaultdict(int)
        rows = []
        for posting in entry.postings:
            account_id = await self._resolve(conn, posting.account)
            deltas[account_id] += posting.amount
            rows.append(
                {
                    "entry_id": entry_id,
                    "account_id": account_id,
                    "amount": posting.amount,
                    "currency": posting.currency,
                }
            )
        batch.insert_many(postings, rows)
        slot = random.randrange(BALANCE_SLOTS)
        moves = [
            {"aid": aid, "the_slot": slot, "delta": d} for aid, d in sorted(deltas.items()) if d
        ]
        return Staged(entry_id, moves)

    async def apply(self, conn: AsyncConnection, staged: Staged) -> None:
        """Move the balances of a staged entry (after its batch ran; last: hot rows).
        The slot rows are updated in account-id order, one statement (``executemany``),
        never joined into a batch: one statement would lock them in no set order."""
        if staged.moves:
            await conn.execute(_ADD_TO_SLOT, staged.moves)

    @staticmethod
    def _balances() -> sa.Subquery:
        return (
            sa.select(
                ledger_balances.c.account_id,
                sa.func.sum(ledger_balances.c.balance).label("balance"),
            )
            .group_by(ledger_balances.c.account_id)
            .subquery()
        )

    async def check(self, conn: AsyncConnection) -> list[Mismatch]:
        """Recompute every balance from the postings and re-check every entry."""
        mismatches: list[Mismatch] = []
        sums = (
            sa.select(postings.c.account_id, sa.func.sum(postings.c.amount).label("total"))
            .group_by(postings.c.account_id)
            .subquery()
        )
        stored = self._balances()
        balances = await conn.execute(
            sa.select(
                ledger_accounts.c.id,
                ledger_accounts.c.code,
                ledger_accounts.c.currency,
                sa.func.coalesce(stored.c.balance, 0),
                sa.func.coalesce(sums.c.total, 0),
            )
            .outerjoin(stored, stored.c.account_id == ledger_accounts.c.id)
            .outerjoin(sums, sums.c.account_id == ledger_accounts.c.id)
        )
        for _aid, code, cur, kept, recomputed in balances:
            if int(kept) != int(recomputed):
                mismatches.append(Mismatch("balance", f"{code}:{cur}", int(recomputed), int(kept)))
        unbalanced = await conn.execute(
            sa.select(postings.c.entry_id, postings.c.currency, sa.func.sum(postings.c.amount))
            .group_by(postings.c.entry_id, postings.c.currency)
            .having(sa.func.sum(postings.c.amount) != 0)
        )
        for entry_id, cur, total in unbalanced:
            mismatches.append(Mismatch("entry", f"{entry_id}:{cur}", 0, int(total)))
        thin = await conn.execute(
            sa.select(journal_entries.c.id, sa.func.count(postings.c.id))
            .outerjoin(postings, postings.c.entry_id == journal_entries.c.id)
            .group_by(journal_entries.c.id)
            .having(sa.func.count(postings.c.id) < 2)
        )
        for entry_id, count in thin:
            mismatches.append(Mismatch("entry", f"{entry_id}:postings", 2, int(count)))
        return mismatches

    async def accounts(self, conn: AsyncConnection) -> list[dict[str, Any]]:
        stored = self._balances()
        rows = await conn.execute(
            sa.select(ledger_accounts, sa.func.coalesce(stored.c.balance, 0).label("balance"))
            .outerjoin(stored, stored.c.account_id == ledger_accounts.c.id)
            .order_by(ledger_accounts.c.id)
        )
        return [{**r._mapping, "balance": int(r.balance)} for r in rows]

    async def entries(
        self, conn: AsyncConnection, *, payment_id: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        query = sa.select(journal_entries).order_by(journal_entries.c.id).limit(limit)
        if payment_id is not None:
            query = query.where(journal_entries.c.payment_id == payment_id)
        entries = [dict(r._mapping) for r in await conn.execute(query)]
        if not entries:
            return []
        lines = await conn.execute(
            sa.select(
                postings.c.entry_id,
                postings.c.amount,
                postings.c.currency,
                ledger_accounts.c.code,
                ledger_accounts.c.type,
            )
            .join(ledger_accounts, ledger_accounts.c.id == postings.c.account_id)
            .where(postings.c.entry_id.in_([e["id"] for e in entries]))
            .order_by(postings.c.id)
        )
        by_entry: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for entry_id, amount, cur, code, acct_type in lines:
            by_entry[entry_id].append(
                {
                    "account": code,
                    "account_type": AccountType(acct_type).value,
                    "amount": int(amount),
                    "direction": "debit" if amount > 0 else "credit",
                    "currency": cur,
                }
            )
        for entry in entries:
            entry["postings"] = by_entry[entry["id"]]
        return entries
