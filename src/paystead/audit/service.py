"""The audit trail's use cases: list records, verify the chain."""

from __future__ import annotations

from paystead.audit.chain import Verification, verify
from paystead.audit.store import AuditFilter, AuditRecord, list_records
from paystead.platform.db import Database


class AuditTrail:
    def __init__(self, db: Database):
        self.db = db

    async def list(
        self, filters: AuditFilter, *, limit: int, starting_after: str | None
    ) -> tuple[list[AuditRecord], bool]:
        async with self.db.transaction() as conn:
            return await list_records(conn, filters, limit=limit, starting_after=starting_after)

    async def verify(self) -> Verification:
        """Walk the whole chain. On SQLite this holds the write lock while it reads (every
        transaction there is ``BEGIN IMMEDIATE``); run it off-peak on a large log."""
        async with self.db.transaction() as conn:
            return await verify(conn)
