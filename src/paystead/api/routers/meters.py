"""/v1/meters and /v1/meter_events (billing/usage.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from paystead.api.deps import (
    CurrentKey,
    IdempotencyKeyHeader,
    ServicesDep,
    idempotency,
    json_response,
    respond,
)
from paystead.api.schemas import LAST_SECOND, at
from paystead.api.schemas_usage import (
    MeterCreate,
    MeterEventCreate,
    MeterEventOut,
    MeterList,
    MeterOut,
    MeterSummaryOut,
)
from paystead.billing.usage import Meter
from paystead.errors import InvalidInput
from paystead.platform.idempotency import StoredResponse

router = APIRouter(prefix="/v1/meters", tags=["meters"])
events_router = APIRouter(prefix="/v1/meter_events", tags=["meters"])


def _created(meter: Meter) -> StoredResponse:
    return json_response(201, MeterOut.of(meter))


@router.post("", status_code=201, response_model=MeterOut)
async def create_meter(
    body: MeterCreate,
    request: Request,
    services: ServicesDep,
    api_key: CurrentKey,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    """A new meter (201); the same meter again under its key answers 200 with it, a
    different one under a taken key 422 ``meter_key_taken``."""
    idem = idempotency(request, services, api_key, idempotency_key, body, _created)
    meter, created = await services.usage.create_meter(
        key=body.key,
        display_name=body.display_name,
        aggregation=body.aggregation,
        grace_seconds=body.grace_seconds,
        idem=idem,
    )
    status = 201 if created else 200
    return respond(idem, lambda: json_response(status, MeterOut.of(meter)))


@router.get("", response_model=MeterList)
async def list_meters(services: ServicesDep, api_key: CurrentKey) -> MeterList:
    return MeterList(data=[MeterOut.of(m) for m in await services.usage.list_meters()])


@router.get("/{key}", response_model=MeterOut)
async def get_meter(key: str, services: ServicesDep, api_key: CurrentKey) -> MeterOut:
    return MeterOut.of(await services.usage.meter(key, param="key"))


@router.get("/{key}/summary", response_model=MeterSummaryOut)
async def meter_summary(
    key: str,
    services: ServicesDep,
    api_key: CurrentKey,
    customer: Annotated[str, Query(min_length=1, max_length=40)],
    start: Annotated[int, Query(ge=0, le=LAST_SECOND)],
    end: Annotated[int, Query(ge=0, le=LAST_SECOND)],
) -> MeterSummaryOut:
    """The customer's usage on the meter for events timestamped in ``[start, end)``."""
    if end < start:
        raise InvalidInput("end is before start", param="end")
    start_at, end_at = at(start), at(end)
    assert start_at is not None and end_at is not None
    meter, value = await services.usage.summary(
        customer_id=customer, meter=key, period_start=start_at, period_end=end_at
    )
    return MeterSummaryOut(
        meter=meter.key,
        customer=customer,
        aggregation=meter.aggregation.value,
        start=start,
        end=end,
        value=value,
    )


@events_router.post("", status_code=201, response_model=MeterEventOut)
async def create_meter_event(
    body: MeterEventCreate, services: ServicesDep, api_key: CurrentKey
) -> Any:
    """Report usage: 201 with the event, or 200 with the stored event when this
    ``identifier`` was reported before for the customer and meter (counted once).
    The identifier is the idempotency key; an ``Idempotency-Key`` header is not needed."""
    event, created = await services.usage.record_event(
        customer_id=body.customer,
        meter=body.meter,
        value=body.value,
        identifier=body.identifier,
        timestamp=at(body.timestamp),
        unique_key=body.unique_key,
    )
    return Response(
        MeterEventOut.of(event).model_dump_json().encode(),
        status_code=201 if created else 200,
        media_type="application/json",
    )
