"""KPI inputs from outside the system: surveys, support tickets, marketing spend,
manual entries and release markers (``insights/inputs.py``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from paystead.api.deps import CurrentKey, IdempotencyKeyHeader, ServicesDep, idempotency, respond
from paystead.api.schemas import with_unix_times
from paystead.insights import inputs
from paystead.platform.idempotency import StoredResponse

router = APIRouter(prefix="/v1", tags=["insights"])


def _render(object_name: str) -> Callable[[dict[str, Any]], StoredResponse]:
    import orjson

    def render(row: dict[str, Any]) -> StoredResponse:
        return StoredResponse(201, orjson.dumps(with_unix_times(row, object_name)))

    return render


async def _record(
    body: inputs._Input,
    object_name: str,
    request: Request,
    services: ServicesDep,
    api_key: CurrentKey,
    idempotency_key: str | None,
) -> Response:
    render = _render(object_name)
    idem = idempotency(request, services, api_key, idempotency_key, body, render)
    async with services.db.transaction() as conn:
        await idem.begin(conn, "")
        row = await inputs.record(conn, body, services.clock())
        await idem.complete(conn, row)
    return respond(idem, lambda: render(row))


@router.post("/survey_responses", status_code=201)
async def record_survey_response(
    body: inputs.SurveyResponseIn,
    request: Request,
    services: ServicesDep,
    api_key: CurrentKey,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    """An NPS (0-10) or CSAT (1-5) answer."""
    return await _record(body, "survey_response", request, services, api_key, idempotency_key)


@router.post("/support_tickets", status_code=201)
async def record_support_ticket(
    body: inputs.SupportTicketIn,
    request: Request,
    services: ServicesDep,
    api_key: CurrentKey,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    """A help-desk ticket by its external id; send it again with `resolved_at` to close it."""
    return await _record(body, "support_ticket", request, services, api_key, idempotency_key)


@router.post("/marketing_spend", status_code=201)
async def record_marketing_spend(
    body: inputs.MarketingSpendIn,
    request: Request,
    services: ServicesDep,
    api_key: CurrentKey,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    """Spend for a period (integer minor units), for customer acquisition cost."""
    return await _record(body, "marketing_spend", request, services, api_key, idempotency_key)


@router.post("/kpi_entries", status_code=201)
async def record_kpi_entry(
    body: inputs.KpiEntryIn,
    request: Request,
    services: ServicesDep,
    api_key: CurrentKey,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    """A manually measured KPI value (manual interventions, staff productivity, audit time)."""
    return await _record(body, "kpi_entry", request, services, api_key, idempotency_key)


@router.post("/releases", status_code=201)
async def record_release(
    body: inputs.ReleaseIn,
    request: Request,
    services: ServicesDep,
    api_key: CurrentKey,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    """A release marker: reports compare the KPIs before and after it."""
    return await _record(body, "release", request, services, api_key, idempotency_key)


@router.get("/releases")
async def list_releases(
    services: ServicesDep,
    api_key: CurrentKey,
    days: Annotated[int, Query(ge=1, le=3660)] = 90,
) -> dict[str, Any]:
    now = services.clock()
    async with services.db.transaction() as conn:
        found = await inputs.releases(conn, now - timedelta(days=days), now)
    return {
        "object": "list",
        "data": [with_unix_times(r, "release") for r in found],
        "has_more": False,
    }
