"""Reading fraud screening's results (``GET /v1/payments/{id}/risk``)."""

from __future__ import annotations

from paystead.errors import NotFound
from paystead.payments import repository as payments
from paystead.platform.db import Database
from paystead.risk import store
from paystead.risk.screening import Screener
from paystead.risk.store import StoredAssessment


class RiskService:
    def __init__(self, db: Database, screener: Screener):
        self.db = db
        #: The payment path's screener (its windows and config).
        self.screener = screener

    async def for_payment(self, payment_id: str) -> StoredAssessment:
        """The payment's assessment; ``NotFound`` for an unknown payment, or one never
        screened (screening ``off``, not confirmed yet, or made before screening)."""
        async with self.db.transaction() as conn:
            found = await store.get_for_payment(conn, payment_id)
            if found is None:
                await payments.get_payment(conn, payment_id)  # unknown payment: its 404
                raise NotFound("risk assessment for payment", payment_id)
            return found
