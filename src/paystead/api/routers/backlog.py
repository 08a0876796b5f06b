"""/v1/backlog: the optimization backlog (``optimize/backlog.py``, docs/backlog.md)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

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
from paystead.api.schemas_backlog import (
    BacklogItemCreate,
    BacklogItemOut,
    BacklogItemUpdate,
    BacklogList,
    BacklogShip,
    ImpactOut,
)
from paystead.optimize.backlog import Item, create_item
from paystead.platform.idempotency import StoredResponse

router = APIRouter(prefix="/v1/backlog", tags=["optimization backlog"])


def _out(item: Item) -> BacklogItemOut:
    return BacklogItemOut.model_validate(item.shown())


def _created(item: Item) -> StoredResponse:
    return json_response(201, _out(item))


@router.post("", status_code=201, response_model=BacklogItemOut)
async def create_backlog_item(
    body: BacklogItemCreate,
    request: Request,
    services: ServicesDep,
    api_key: CurrentKey,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    """An idea with its hypothesis, target KPI and 1-10 scores; ICE, RICE and the
    matrix quadrant come back computed."""
    idem = idempotency(request, services, api_key, idempotency_key, body, _created)
    async with services.db.transaction() as conn:
        await idem.begin(conn, "")
        item = await create_item(conn, body.model_dump(exclude_unset=True), services.clock())
        await idem.complete(conn, item)
    return respond(idem, lambda: _created(item))


@router.get("", response_model=BacklogList)
async def list_backlog(
    services: ServicesDep,
    api_key: CurrentKey,
    status: Annotated[str | None, Query(max_length=16)] = None,
    rank: Literal["ice", "rice"] = "ice",
) -> BacklogList:
    """Every item, ranked by ICE (default) or RICE, highest first."""
    items = await services.backlog.list_items(status=status, rank=rank)
    return BacklogList(rank=rank, data=[_out(i) for i in items])


@router.get("/{item_id}", response_model=BacklogItemOut)
async def get_backlog_item(
    item_id: str,
    services: ServicesDep,
    api_key: CurrentKey,
    window_days: Annotated[int, Query(ge=1, le=365)] = 7,
) -> BacklogItemOut:
    """One item; when shipped with a release marker, ``measured`` holds its target KPI
    over equal windows (``window_days``, or up to now) before and after the release."""
    item = await services.backlog.get(item_id)
    out = _out(item)
    impact = await services.backlog.impact(item, timedelta(days=window_days))
    if impact is not None:
        out.measured = ImpactOut.model_validate(impact.shown())
    return out


@router.post("/{item_id}", response_model=BacklogItemOut)
async def update_backlog_item(
    item_id: str, body: BacklogItemUpdate, services: ServicesDep, api_key: CurrentKey
) -> BacklogItemOut:
    """Change scores, links or status (idea, planned, testing, dropped)."""
    return _out(await services.backlog.update(item_id, body.model_dump(exclude_unset=True)))


@router.post("/{item_id}/ship", response_model=BacklogItemOut)
async def ship_backlog_item(
    item_id: str, body: BacklogShip, services: ServicesDep, api_key: CurrentKey
) -> BacklogItemOut:
    """Mark shipped with a release marker (an existing one, or one recorded now)."""
    item = await services.backlog.ship(
        item_id, release_id=body.release, release_name=body.release_name
    )
    return _out(item)


@router.delete("/{item_id}", response_model=BacklogItemOut)
async def delete_backlog_item(
    item_id: str, services: ServicesDep, api_key: CurrentKey
) -> BacklogItemOut:
    """Delete an item that never shipped."""
    out = _out(await services.backlog.delete(item_id))
    out.deleted = True
    return out
