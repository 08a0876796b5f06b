"""Revenue forecast: daily captured revenue per currency, AutoETS with intervals.

The series is the ledger's own: what each day's ``payment.capture`` entries credited
to ``merchant_revenue`` (refunds are not subtracted: this forecasts what gets
captured), in minor units of each currency, one value per UTC day, days without
captures as 0. :func:`forecast` fits statsforecast's ``AutoETS`` (weekly season) and
returns the mean and 80%/95% prediction intervals; :func:`backtest` holds out the last
``horizon`` days, forecasts them from the days before and reports the MAPE beside a
seasonal-naive baseline (the same weekday last week). Forecasts are estimates printed
rounded to minor units; nothing posts them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from paystead.platform.schema import journal_entries, ledger_accounts, postings

SEASON = 7
LEVELS = (80, 95)
#: Fewer days than this and no model is fitted (two weeks of history at least).
MIN_DAYS = 2 * SEASON


class ForecastError(ValueError):
    """Too little history to forecast or backtest."""


@dataclass(frozen=True, slots=True)
class Forecast:
    currency: str
    start: date  # the first forecast day
    mean: list[int]
    #: ``{80: (lo, hi), 95: (lo, hi)}``, each a list per day, minor units.
    intervals: dict[int, tuple[list[int], list[int]]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "currency": self.currency,
            "days": [
                {
                    "date": (self.start + timedelta(days=i)).isoformat(),
                    "mean": self.mean[i],
                    **{f"lo_{level}": lo[i] for level, (lo, _hi) in self.intervals.items()},
                    **{f"hi_{level}": hi[i] for level, (_lo, hi) in self.intervals.items()},
                }
                for i in range(len(self.mean))
            ],
        }


async def daily_captured(
    conn: AsyncConnection, start: datetime, end: datetime
) -> dict[str, tuple[date, list[int]]]:
    """Per currency: the first day and each UTC day's captured revenue in minor units."""
    rows = await conn.execute(
        sa.select(journal_entries.c.created_at, ledger_accounts.c.currency, postings.c.amount)
        .select_from(
            postings.join(journal_entries, journal_entries.c.id == postings.c.entry_id).join(
                ledger_accounts, ledger_accounts.c.id == postings.c.account_id
            )
        )
        .where(
            journal_entries.c.kind == "payment.capture",
            ledger_accounts.c.code == "merchant_revenue",
            journal_entries.c.created_at >= start,
            journal_entries.c.created_at < end,
        )
    )
    by_day: dict[str, dict[date, int]] = defaultdict(lambda: defaultdict(int))
    for created_at, code, amount in rows:
        by_day[code][created_at.date()] -= int(amount)  # revenue is a credit
    first, last = start.date(), (end - timedelta(microseconds=1)).date()
    days = (last - first).days + 1
    return {
        code: (first, [per_day.get(first + timedelta(days=i), 0) for i in range(days)])
        for code, per_day in sorted(by_day.items())
    }


def _ets(y: np.ndarray[Any, Any], horizon: int) -> dict[str, np.ndarray[Any, Any]]:
    from statsforecast.models import AutoETS

    result: dict[str, np.ndarray[Any, Any]] = AutoETS(season_length=SEASON).forecast(
        y=y, h=horizon, level=list(LEVELS)
    )
    return result


def _minor(values: np.ndarray[Any, Any]) -> list[int]:
    return [max(round(float(v)), 0) for v in values]


def forecast(currency: str, first_day: date, series: list[int], horizon: int) -> Forecast:
    """The next ``horizon`` days after ``series`` (which starts on ``first_day``)."""
    if horizon < 1:
        raise ForecastError("horizon must be at least 1 day")
    if len(series) < MIN_DAYS:
        raise ForecastError(f"{currency}: {len(series)} days of history, need {MIN_DAYS}")
    out = _ets(np.asarray(series, dtype=np.float64), horizon)
    return Forecast(
        currency=currency,
        start=first_day + timedelta(days=len(series)),
        mean=_minor(out["mean"]),
        intervals={
            level: (_minor(out[f"lo-{level}"]), _minor(out[f"hi-{level}"])) for level in LEVELS
        },
    )


def mape(actual: list[int] | list[float], predicted: list[int] | list[float]) -> float | None:
    """Mean absolute percentage error over the days with revenue (zero days are skipped:
    a percentage of zero is undefined); ``None`` if every day was zero."""
    pairs = [(a, p) for a, p in zip(actual, predicted, strict=True) if a]
    if not pairs:
        return None
    return 100 * sum(abs(a - p) / abs(a) for a, p in pairs) / len(pairs)


@dataclass(frozen=True, slots=True)
class Backtest:
    currency: str
    horizon: int
    mape: float | None
    #: The same weekday one season earlier, for comparison.
    seasonal_naive_mape: float | None
    coverage_95: float  # share of held-out days inside the 95% interval

    def to_dict(self) -> dict[str, Any]:
        def r(v: float | None) -> float | None:
            return None if v is None else round(v, 2)

        return {
            "currency": self.currency,
            "horizon_days": self.horizon,
            "mape": r(self.mape),
            "seasonal_naive_mape": r(self.seasonal_naive_mape),
            "coverage_95": round(self.coverage_95, 3),
        }


def backtest(currency: str, series: list[int], horizon: int) -> Backtest:
    """Hold out the last ``horizon`` days, forecast them from the rest."""
    if horizon < 1:
        raise ForecastError("horizon must be at least 1 day")
    if len(series) - horizon < MIN_DAYS:
        raise ForecastError(
            f"{currency}: {len(series)} days of history, need {MIN_DAYS + horizon} to backtest "
            f"{horizon} days"
        )
    history, actual = series[:-horizon], series[-horizon:]
    out = _ets(np.asarray(history, dtype=np.float64), horizon)
    naive = [history[len(history) - SEASON + (i % SEASON)] for i in range(horizon)]
    lo, hi = out["lo-95"], out["hi-95"]
    inside = sum(1 for i, a in enumerate(actual) if lo[i] <= a <= hi[i])
    return Backtest(
        currency=currency,
        horizon=horizon,
        mape=mape(actual, [float(v) for v in out["mean"]]),
        seasonal_naive_mape=mape(actual, naive),
        coverage_95=inside / horizon,
    )
