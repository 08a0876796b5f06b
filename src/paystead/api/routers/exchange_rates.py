"""/v1/exchange_rates: enter a rate by hand, list stored rates, the rate in force."""

from __future__ import annotations

from datetime import date
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
from paystead.api.schemas_fx import (
    ExchangeRateCreate,
    ExchangeRateList,
    ExchangeRateOut,
    RateInForce,
)
from paystead.fx.service import parse_rate, record_rate, shown
from paystead.platform.idempotency import StoredResponse

router = APIRouter(prefix="/v1/exchange_rates", tags=["exchange rates"])

Code = Annotated[str, Query(min_length=3, max_length=3)]


def _created(row: dict[str, Any]) -> StoredResponse:
    return json_response(201, ExchangeRateOut.model_validate(shown(row)))


@router.post("", status_code=201, response_model=ExchangeRateOut)
async def create_exchange_rate(
    body: ExchangeRateCreate,
    request: Request,
    services: ServicesDep,
    api_key: CurrentKey,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    """1 `base` = `rate` `quote` on `date` (source `manual`). Sending the same pair and
    day again corrects the manual rate; a manual rate wins over an imported one."""
    idem = idempotency(request, services, api_key, idempotency_key, body, _created)
    async with services.db.transaction() as conn:
        await idem.begin(conn, "")
        row = await record_rate(
            conn, body.base, body.quote, parse_rate(body.rate), body.date, now=services.clock()
        )
        await idem.complete(conn, row)
    return respond(idem, lambda: _created(row))


@router.get("", response_model=ExchangeRateList)
async def list_exchange_rates(
    services: ServicesDep,
    api_key: CurrentKey,
    base: Code | None = None,
    quote: Code | None = None,
    on: Annotated[date | None, Query(alias="date")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> ExchangeRateList:
    """Stored rates, newest day first, filtered by pair and by `date` (rates of that day
    or before: with a pair, the first row is the stored rate in force; `/rate` also
    derives inverse and cross rates)."""
    rows = await services.fx.list_rates(base=base, quote=quote, on=on, limit=limit + 1)
    return ExchangeRateList(
        data=[ExchangeRateOut.model_validate(shown(r)) for r in rows[:limit]],
        has_more=len(rows) > limit,
    )


@router.get("/rate", response_model=RateInForce)
async def rate_in_force(
    services: ServicesDep,
    api_key: CurrentKey,
    base: Code,
    quote: Code,
    on: Annotated[date | None, Query(alias="date")] = None,
) -> RateInForce:
    """The rate that applies on `date` (default today): the latest on or before it,
    stored, inverse, or cross through a common currency. 404 when there is none."""
    day = on or services.clock().date()
    return RateInForce.of(await services.fx.lookup(base, quote, day), day)
