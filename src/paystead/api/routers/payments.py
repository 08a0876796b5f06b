"""/v1/payments"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from paystead.api.deps import (
    CurrentKey,
    IdempotencyKeyHeader,
    PageLimit,
    ServicesDep,
    idempotency,
    json_response,
    respond,
)
from paystead.api.schemas import (
    LAST_SECOND,
    CaptureRequest,
    ConfirmRequest,
    EmptyRequest,
    PaymentCreate,
    PaymentList,
    PaymentOut,
    at,
)
from paystead.money import Money
from paystead.payments.model import CaptureMethod, Payment, PaymentStatus
from paystead.payments.repository import PaymentFilter
from paystead.payments.service import CreatePayment
from paystead.platform.idempotency import StoredResponse

router = APIRouter(prefix="/v1/payments", tags=["payments"])


def _rendered(status: int) -> Callable[[Payment], StoredResponse]:
    def render(payment: Payment) -> StoredResponse:
        return json_response(status, PaymentOut.of(payment))

    return render


@router.post("", status_code=201, response_model=PaymentOut)
async def create_payment(
    body: PaymentCreate,
    request: Request,
    services: ServicesDep,
    api_key: CurrentKey,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    render = _rendered(201)
    idem = idempotency(request, services, api_key, idempotency_key, body, render)
    payment = await services.payments.create(
        CreatePayment(
            amount=Money(body.amount, body.currency),
            payment_method=body.payment_method,
            capture_method=CaptureMethod(body.capture_method),
            confirm=body.confirm,
            customer_id=body.customer,
            gateway=body.gateway,
            description=body.description,
            metadata=body.metadata,
        ),
        idem,
    )
    return respond(idem, lambda: render(payment))


@router.get("", response_model=PaymentList)
async def list_payments(
    services: ServicesDep,
    api_key: CurrentKey,
    limit: PageLimit = 10,
    starting_after: Annotated[str | None, Query(max_length=40)] = None,
    status: PaymentStatus | None = None,
    customer: Annotated[str | None, Query(max_length=40)] = None,
    created_gte: Annotated[int | None, Query(alias="created[gte]", ge=0, le=LAST_SECOND)] = None,
    created_lte: Annotated[int | None, Query(alias="created[lte]", ge=0, le=LAST_SECOND)] = None,
) -> PaymentList:
    found, has_more = await services.payments.list(
        PaymentFilter(
            status=status,
            customer_id=customer,
            created_gte=at(created_gte),
            # ``created`` is shown in whole seconds: "lte T" means "before T + 1".
            created_before=at(
                None if created_lte is None or created_lte >= LAST_SECOND else created_lte + 1
            ),
        ),
        limit=limit,
        starting_after=starting_after,
    )
    return PaymentList(data=[PaymentOut.of(p) for p in found], has_more=has_more)


@router.get("/{payment_id}", response_model=PaymentOut)
async def get_payment(payment_id: str, services: ServicesDep, api_key: CurrentKey) -> PaymentOut:
    return PaymentOut.of(await services.payments.get(payment_id))


@router.post("/{payment_id}/confirm", response_model=PaymentOut)
async def confirm_payment(
    payment_id: str,
    request: Request,
    services: ServicesDep,
    api_key: CurrentKey,
    body: ConfirmRequest | None = None,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    """Confirm a ``requires_confirmation`` payment, or complete a ``requires_action``
    Razorpay payment with what Checkout's handler returned (``razorpay_payment_id``,
    ``razorpay_signature``, optionally ``razorpay_order_id``): the signature is checked
    against the order we stored (400 ``signature_invalid``, nothing changed), then the
    payment is captured (automatic) or authorized (manual)."""
    render = _rendered(200)
    idem = idempotency(request, services, api_key, idempotency_key, body, render)
    params = body.action_params() if body is not None else {}
    payment = await services.payments.confirm(payment_id, idem, params)
    return respond(idem, lambda: render(payment))


@router.post("/{payment_id}/capture", response_model=PaymentOut)
async def capture_payment(
    payment_id: str,
    request: Request,
    services: ServicesDep,
    api_key: CurrentKey,
    body: CaptureRequest | None = None,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    render = _rendered(200)
    idem = idempotency(request, services, api_key, idempotency_key, body, render)
    amount = body.amount if body is not None else None
    payment = await services.payments.capture(payment_id, amount, idem)
    return respond(idem, lambda: render(payment))


@router.post("/{payment_id}/cancel", response_model=PaymentOut)
async def cancel_payment(
    payment_id: str,
    request: Request,
    services: ServicesDep,
    api_key: CurrentKey,
    body: EmptyRequest | None = None,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    render = _rendered(200)
    idem = idempotency(request, services, api_key, idempotency_key, body, render)
    payment = await services.payments.cancel(payment_id, idem)
    return respond(idem, lambda: render(payment))
