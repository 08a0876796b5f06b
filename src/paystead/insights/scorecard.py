"""The scorecard: for a phase of the framework, each target's KPI value, status and trend.

Windows end at ``now``: a target's value is measured over its window (the phase's
length when it names none), its trend against the window before, and a relative
target's baseline over a window of the same length ending at launch (so sums such as
revenue or ticket counts compare like with like).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from paystead.errors import InvalidInput
from paystead.insights.catalog import BY_KEY, Direction
from paystead.insights.framework import Framework, Status, Target, assess
from paystead.insights.measure import NoData, Window, measure
from paystead.platform.db import Database


class Trend(StrEnum):
    IMPROVING = "improving"
    WORSENING = "worsening"
    FLAT = "flat"


@dataclass(frozen=True, slots=True)
class Row:
    kpi: str
    name: str
    unit: str
    target: Target
    window: timedelta
    value: Decimal | None
    compared: Decimal | None
    status: Status
    reason: str | None
    previous: Decimal | None
    trend: Trend | None


@dataclass(frozen=True, slots=True)
class Scorecard:
    phase: str
    phase_name: str
    launch_at: datetime
    now: datetime
    base_currency: str
    rows: list[Row]

    def count(self, status: Status) -> int:
        return sum(1 for row in self.rows if row.status is status)


def _trend(kpi: str, value: Decimal | None, previous: Decimal | None) -> Trend | None:
    if value is None or previous is None:
        return None
    if value == previous:
        return Trend.FLAT
    up = value > previous
    better_up = BY_KEY[kpi].direction is Direction.HIGHER_IS_BETTER
    return Trend.IMPROVING if up == better_up else Trend.WORSENING


async def build_scorecard(
    db: Database,
    framework: Framework,
    *,
    launch_at: datetime,
    now: datetime,
    base_currency: str,
    phase: str | None = None,
) -> Scorecard:
    chosen = framework.phase(phase) if phase else framework.current_phase(launch_at, now)
    if chosen is None:
        raise InvalidInput(
            "no phase is in force yet (before launch); name one with `phase`", param="phase"
        )
    rows = []
    async with db.transaction() as conn:
        for target in chosen.targets:
            length = target.window or chosen.default_window
            current = await measure(conn, target.kpi, Window(now - length, now), base_currency)
            before = await measure(
                conn, target.kpi, Window(now - 2 * length, now - length), base_currency
            )
            baseline = None
            if target.relative:
                base_end = (framework.baseline and framework.baseline.end) or launch_at
                measured = await measure(
                    conn, target.kpi, Window(base_end - length, base_end), base_currency
                )
                baseline = None if isinstance(measured, NoData) else measured
            value = None if isinstance(current, NoData) else current
            previous = None if isinstance(before, NoData) else before
            assessment = assess(target, value, baseline)
            reason = current.reason if isinstance(current, NoData) else assessment.reason
            kpi = BY_KEY[target.kpi]
            rows.append(
                Row(
                    kpi=kpi.key,
                    name=kpi.name,
                    unit=kpi.unit.value,
                    target=target,
                    window=length,
                    value=value,
                    compared=assessment.compared,
                    status=assessment.status,
                    reason=reason,
                    previous=previous,
                    trend=_trend(kpi.key, value, previous),
                )
            )
    return Scorecard(chosen.key, chosen.name, launch_at, now, base_currency, rows)
