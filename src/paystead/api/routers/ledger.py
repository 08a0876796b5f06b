"""/v1/ledger: accounts, entries and the balance check."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from paystead.api.deps import CurrentKey, PageLimit, ServicesDep
from paystead.api.schemas import (
    JournalEntryOut,
    LedgerAccountOut,
    LedgerCheckOut,
    LedgerList,
    MismatchOut,
    PostingOut,
    unix,
)
from paystead.ledger.model import AccountType, normal_balance

router = APIRouter(prefix="/v1/ledger", tags=["ledger"])


@router.get("/accounts", response_model=LedgerList)
async def list_accounts(services: ServicesDep, api_key: CurrentKey) -> LedgerList:
    async with services.db.transaction() as conn:
        rows = await services.ledger.accounts(conn)
    return LedgerList(
        data=[
            LedgerAccountOut(
                id=r["id"],
                code=r["code"],
                currency=r["currency"],
                type=r["type"],
                balance=r["balance"],
                normal_balance=normal_balance(AccountType(r["type"]), r["balance"]),
            )
            for r in rows
        ]
    )


@router.get("/entries", response_model=LedgerList)
async def list_entries(
    services: ServicesDep,
    api_key: CurrentKey,
    payment: Annotated[str | None, Query(max_length=40)] = None,
    limit: PageLimit = 100,
) -> LedgerList:
    async with services.db.transaction() as conn:
        entries = await services.ledger.entries(conn, payment_id=payment, limit=limit)
    return LedgerList(
        data=[
            JournalEntryOut(
                id=e["id"],
                kind=e["kind"],
                reference=e["reference"],
                payment=e["payment_id"],
                description=e["description"],
                created=unix(e["created_at"]),
                postings=[PostingOut(**p) for p in e["postings"]],
            )
            for e in entries
        ]
    )


@router.get("/check", response_model=LedgerCheckOut)
async def check_ledger(services: ServicesDep, api_key: CurrentKey) -> LedgerCheckOut:
    """Recompute every balance from the postings and verify every entry balances."""
    async with services.db.transaction() as conn:
        mismatches = await services.ledger.check(conn)
    return LedgerCheckOut(
        ok=not mismatches,
        mismatches=[
            MismatchOut(kind=m.kind, subject=m.subject, expected=m.expected, actual=m.actual)
            for m in mismatches
        ],
    )
