"""/v1/customers"""

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
from paystead.api.schemas import CustomerCreate, CustomerOut, CustomerUpdate
from paystead.customers.repository import Customer
from paystead.platform.idempotency import StoredResponse

router = APIRouter(prefix="/v1/customers", tags=["customers"])


def _created(customer: Customer) -> StoredResponse:
    return json_response(201, CustomerOut.of(customer))


@router.post("", status_code=201, response_model=CustomerOut)
async def create_customer(
    body: CustomerCreate,
    request: Request,
    services: ServicesDep,
    api_key: CurrentKey,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    idem = idempotency(request, services, api_key, idempotency_key, body, _created)
    customer = await services.customers.create(
        email=str(body.email),
        name=body.name,
        phone=body.phone,
        metadata=body.metadata,
        idem=idem,
        address=body.address.model_dump() if body.address else None,
        tax_id=body.tax_id,
        payment_method=body.payment_method,
        locale=body.locale,
        test_clock=body.test_clock,
    )
    return respond(idem, lambda: _created(customer))


@router.get("/{customer_id}", response_model=CustomerOut)
async def get_customer(customer_id: str, services: ServicesDep, api_key: CurrentKey) -> CustomerOut:
    return CustomerOut.of(await services.customers.get(customer_id))


@router.post("/{customer_id}", response_model=CustomerOut)
async def update_customer(
    customer_id: str, body: CustomerUpdate, services: ServicesDep, api_key: CurrentKey
) -> CustomerOut:
    """Change name, phone, metadata or billing details; fields not sent stay as they are."""
    changes = body.model_dump(exclude_unset=True)
    return CustomerOut.of(await services.customers.update(customer_id, changes))
