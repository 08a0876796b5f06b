"""Assessments in ``risk_assessments``, inside the caller's transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from paystead.errors import NotFound
from paystead.platform.batch import Batch
from paystead.platform.idempotency import Lookup
from paystead.platform.schema import customers, risk_assessments
from paystead.risk.rules import Decision, Mode
from paystead.risk.screening import Assessment

_INSERT = risk_assessments.insert()
_SELECT_BY_PAYMENT = sa.select(risk_assessments).where(
    risk_assessments.c.payment_id == sa.bindparam("b_payment_id")
)
_SELECT_EMAIL = sa.select(customers.c.email).where(customers.c.id == sa.bindparam("b_id"))


async def customer_email(conn: AsyncConnection, customer_id: str, *, param: str) -> str:
    """The customer's email; ``NotFound`` naming ``param`` when there is no such customer
    (this replaces the existence check on the payment path: one statement, not two)."""
    email = (await conn.execute(_SELECT_EMAIL, {"b_id": customer_id})).scalar()
    if email is None:
        raise NotFound("customer", customer_id, param=param)
    return str(email)


def email_lookup(customer_id: str) -> Lookup:
    """The customer's email as a :class:`~paystead.platform.idempotency.Lookup` (read
    with the idempotency claim); ``None`` after it ran: no such customer (the email is
    never null, so this doubles as the existence check)."""
    return Lookup(_SELECT_EMAIL, {"b_id": customer_id})


async def insert(conn: AsyncConnection | Batch, assessment: Assessment) -> None:
    """Store ``assessment`` in ``conn``'s transaction (or add it to a batch)."""
    row = {
        "id": assessment.id,
        "payment_id": assessment.payment_id,
        "customer_id": assessment.customer_id,
        "score": assessment.score,
        "decision": assessment.decision.value,
        "mode": assessment.mode.value,
        "rules": [hit.to_dict() for hit in assessment.rules],
        "created_at": assessment.created_at,
    }
    if isinstance(conn, Batch):
        conn.insert(risk_assessments, row)
    else:
        await conn.execute(_INSERT, row)


@dataclass(frozen=True, slots=True)
class StoredAssessment:
    """An assessment as read back (the facts that fed it are not kept)."""

    id: str
    payment_id: str
    score: int
    decision: Decision
    mode: Mode
    rules: list[dict[str, Any]]
    created_at: datetime


async def get_for_payment(conn: AsyncConnection, payment_id: str) -> StoredAssessment | None:
    row = (await conn.execute(_SELECT_BY_PAYMENT, {"b_payment_id": payment_id})).first()
    if row is None:
        return None
    return StoredAssessment(
        id=row.id,
        payment_id=row.payment_id,
        score=row.score,
        decision=Decision(row.decision),
        mode=Mode(row.mode),
        rules=list(row.rules),
        created_at=row.created_at,
    )
