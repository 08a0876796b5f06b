"""/v1/scorecard: where the system stands against the launch framework's targets."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from paystead.api.deps import CurrentKey, ServicesDep
from paystead.dashboard.views import launch_time
from paystead.insights.framework import load_framework
from paystead.insights.scorecard import build_scorecard

router = APIRouter(prefix="/v1/scorecard", tags=["insights"])


class TargetOut(BaseModel):
    op: str
    value: Decimal
    stretch: Decimal | None
    relative: bool


class ScorecardRowOut(BaseModel):
    kpi: str
    name: str
    unit: str
    target: TargetOut
    window_seconds: int
    value: Decimal | None
    compared: Decimal | None
    previous: Decimal | None
    trend: str | None
    status: Literal["met", "at_risk", "breached", "no_data"]
    reason: str | None


class ScorecardOut(BaseModel):
    object: Literal["scorecard"] = "scorecard"
    phase: str
    phase_name: str
    launch_at: int
    now: int
    base_currency: str
    rows: list[ScorecardRowOut]


@router.get("", response_model=ScorecardOut)
async def get_scorecard(
    services: ServicesDep,
    api_key: CurrentKey,
    phase: Annotated[str | None, Query(max_length=40)] = None,
) -> ScorecardOut:
    settings = services.settings
    framework = load_framework(settings.framework_file)
    now = services.clock()
    launch = await launch_time(services.db, settings.launch_at, now)
    card = await build_scorecard(
        services.db,
        framework,
        launch_at=launch,
        now=now,
        base_currency=settings.base_currency,
        phase=phase,
    )
    return ScorecardOut(
        phase=card.phase,
        phase_name=card.phase_name,
        launch_at=int(launch.timestamp()),
        now=int(now.timestamp()),
        base_currency=card.base_currency,
        rows=[
            ScorecardRowOut(
                kpi=r.kpi,
                name=r.name,
                unit=r.unit,
                target=TargetOut(
                    op=r.target.op,
                    value=r.target.value,
                    stretch=r.target.stretch,
                    relative=r.target.relative,
                ),
                window_seconds=int(r.window.total_seconds()),
                value=r.value,
                compared=r.compared,
                previous=r.previous,
                trend=r.trend.value if r.trend else None,
                status=r.status.value,
                reason=r.reason,
            )
            for r in card.rows
        ],
    )
