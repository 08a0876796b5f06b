"""/v1/reconciliation_runs: settlement reports imported with ``paystead reconcile``."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter

from paystead.api.deps import CurrentKey, ServicesDep
from paystead.api.schemas import Output, unix
from paystead.reconcile.service import Item, Run

router = APIRouter(prefix="/v1/reconciliation_runs", tags=["reconciliation"])


class ReconciliationItemOut(Output):
    outcome: str
    object_type: str
    line_id: str | None
    gateway_reference: str | None
    payment: str | None
    refund: str | None
    currency: str | None
    expected_amount: int | None
    reported_amount: int | None
    fee: int | None
    detail: str | None

    @classmethod
    def of(cls, item: Item) -> ReconciliationItemOut:
        return cls(
            outcome=item.outcome,
            object_type=item.object_type,
            line_id=item.line_id,
            gateway_reference=item.gateway_reference,
            payment=item.payment_id,
            refund=item.refund_id,
            currency=item.currency,
            expected_amount=item.expected_amount,
            reported_amount=item.reported_amount,
            fee=item.fee,
            detail=item.detail,
        )


class ReconciliationRunOut(Output):
    id: str
    object: Literal["reconciliation_run"] = "reconciliation_run"
    gateway: str
    source: str
    source_sha256: str
    summary: dict[str, Any]
    created: int
    #: Every line that did not match, and our objects the report lacks.
    discrepancies: list[ReconciliationItemOut]

    @classmethod
    def of(cls, run: Run) -> ReconciliationRunOut:
        return cls(
            id=run.id,
            gateway=run.gateway,
            source=run.source,
            source_sha256=run.source_sha256,
            summary=run.summary,
            created=unix(run.created_at),
            discrepancies=[ReconciliationItemOut.of(i) for i in run.items],
        )


@router.get("/{run_id}", response_model=ReconciliationRunOut)
async def get_run(run_id: str, services: ServicesDep, api_key: CurrentKey) -> ReconciliationRunOut:
    return ReconciliationRunOut.of(await services.reconciliation.get(run_id))
