"""/v1/refunds"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from paystead.api.deps import (
    CurrentKey,
    IdempotencyKeyHeader,
    ServicesDep,
    idempotency,
    json_response,
    respond,
)
from paystead.api.schemas import RefundCreate, RefundOut
from paystead.payments.model import Refund
from paystead.payments.service import CreateRefund
from paystead.platform.idempotency import StoredResponse

router = APIRouter(prefix="/v1/refunds", tags=["refunds"])


def _render(refund: Refund) -> StoredResponse:
    return json_response(201, RefundOut.of(refund))


@router.post("", status_code=201, response_model=RefundOut)
async def create_refund(
    body: RefundCreate,
    request: Request,
    services: ServicesDep,
    api_key: CurrentKey,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    idem = idempotency(request, services, api_key, idempotency_key, body, _render)
    refund = await services.payments.refund(
        CreateRefund(
            payment_id=body.payment, amount=body.amount, reason=body.reason, metadata=body.metadata
        ),
        idem,
    )
    return respond(idem, lambda: _render(refund))


@router.get("/{refund_id}", response_model=RefundOut)
async def get_refund(refund_id: str, services: ServicesDep, api_key: CurrentKey) -> RefundOut:
    return RefundOut.of(await services.payments.get_refund(refund_id))
