"""/v1/alerts: SLO burn-rate alerts, firing and resolved."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query

from paystead.api.deps import CurrentKey, ServicesDep
from paystead.api.schemas import with_unix_times
from paystead.insights.alerting import recent_alerts

router = APIRouter(prefix="/v1/alerts", tags=["insights"])


@router.get("")
async def list_alerts(
    services: ServicesDep,
    api_key: CurrentKey,
    days: Annotated[int, Query(ge=1, le=365)] = 7,
) -> dict[str, Any]:
    """Alerts fired in the last ``days`` days, and any still firing; newest first."""
    async with services.db.transaction() as conn:
        found = await recent_alerts(conn, services.clock() - timedelta(days=days))
    shown = [with_unix_times(a, "alert") for a in found]
    return {"object": "list", "data": shown, "has_more": False}
