"""``GET /backlog``: the optimization backlog page (the impact/effort matrix, the
ranked table, and the before/after of shipped items)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from starlette.responses import HTMLResponse

from paystead.dashboard.routes import _ENV
from paystead.optimize.backlog import HIGH, Impact, Item, Quadrant
from paystead.wiring import Services

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True, slots=True)
class Row:
    item: Item
    impact: Impact | None


@router.get("/backlog", response_class=HTMLResponse)
async def backlog_page(
    request: Request,
    rank: Annotated[Literal["ice", "rice"], Query()] = "ice",
) -> HTMLResponse:
    services: Services = request.app.state.services
    items = await services.backlog.list_items(rank=rank)
    rows = [Row(item, await services.backlog.impact(item)) for item in items]
    open_items = [i for i in items if i.status.value not in ("shipped", "dropped")]
    quadrants = {q: [i for i in open_items if i.quadrant is q] for q in Quadrant}
    html = _ENV.get_template("backlog.html").render(
        rows=rows,
        rank=rank,
        quadrants=quadrants,
        Quadrant=Quadrant,
        high=HIGH,
        now=services.clock(),
    )
    return HTMLResponse(html)
