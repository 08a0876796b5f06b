"""The churn model on generated subscriptions, the revenue forecast on a generated
series, and the lifetime-value formula: each against a known answer or a baseline.

Bars: churn AUC above 0.75 on the latest snapshot and above the failed-payments
baseline; forecast backtest MAPE below 10% and below seasonal naive's on a trending
weekly series with noise.
"""

from __future__ import annotations

import math
import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest

from paystead.models import forecast as revenue
from paystead.models.churn import Row, interval_months, train
from paystead.models.features import CHURN_FEATURES, SubscriptionHistory, churn_features
from paystead.models.fraud import TrainingError
from paystead.models.ltv import lifetime_value

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _rows(seed: int = 5) -> list[Row]:
    """Churn depends on failed payments, a falling usage trend, short tenure and being
    in a trial, through a logistic link; the rest is noise."""
    rnd = random.Random(seed)
    rows = []
    for snap in range(6):
        as_of = T0 + timedelta(days=15 * snap)
        for i in range(400):
            tenure = rnd.uniform(1, 700)
            failed = rnd.choice((0, 0, 0, 1, 2, 3))
            ok = rnd.randint(0, 4)
            prev = rnd.randint(0, 200)
            last = max(0, int(prev * rnd.choice((0.0, 0.3, 1.0, 1.0, 1.2))))
            trial = rnd.random() < 0.1
            h = SubscriptionHistory(
                subscription_id=f"sub_{snap}_{i}",
                customer_id=f"cus_{i}",
                as_of=as_of,
                created_at=as_of - timedelta(days=tenure),
                interval_months=rnd.choice((1.0, 12.0)),
                monthly_amount_major=rnd.uniform(5, 200),
                in_trial=trial,
                payments_succeeded_90d=ok,
                payments_failed_90d=failed,
                usage_last_30d=last,
                usage_prev_30d=prev,
            )
            x = dict(zip(CHURN_FEATURES, churn_features(h), strict=True))
            logit = (
                -2.5
                + 2.5 * x["failed_share_90d"]
                - 2.0 * x["usage_trend"]
                + 1.0 * trial
                - 0.002 * tenure
            )
            rows.append(Row(h, rnd.random() < 1 / (1 + math.exp(-logit))))
    return rows


def test_churn_model_beats_the_failed_payments_baseline() -> None:
    metrics = train(_rows()).metadata["metrics"]
    model, baseline = metrics["model"], metrics["failed_payments_baseline"]
    assert model["auc"] > 0.75
    assert model["auc"] > baseline["auc"] + 0.03
    assert model["rows"] == 800  # the latest quarter of 6 snapshots, rounded: 2 of them


def test_churn_needs_both_classes() -> None:
    rows = [Row(r.history, False) for r in _rows()]
    with pytest.raises(TrainingError, match="at least 5 churned"):
        train(rows)


def test_churn_features_by_hand() -> None:
    h = SubscriptionHistory(
        subscription_id="sub_1",
        customer_id="cus_1",
        as_of=T0,
        created_at=T0 - timedelta(days=10),
        interval_months=interval_months("year", 1),
        monthly_amount_major=0.0,
        in_trial=True,
        payments_succeeded_90d=3,
        payments_failed_90d=1,
        usage_last_30d=10,
        usage_prev_30d=30,
    )
    assert churn_features(h) == [10.0, 12.0, 0.0, 1.0, 3.0, 1.0, 0.25, math.log1p(10), -0.5]


def _series(days: int = 120, seed: int = 2) -> list[int]:
    rng = np.random.default_rng(seed)
    t = np.arange(days)
    weekly = np.array([0.7, 1.0, 1.1, 1.1, 1.2, 1.3, 0.6])[t % 7]
    values = (100_000 + 400 * t) * weekly * rng.normal(1, 0.03, days)
    return [int(v) for v in values]


def test_forecast_backtest_beats_seasonal_naive() -> None:
    result = revenue.backtest("INR", _series(), 14)
    assert result.mape is not None and result.seasonal_naive_mape is not None
    assert result.mape < 10
    assert result.mape < result.seasonal_naive_mape
    assert result.coverage_95 >= 0.7


def test_forecast_has_ordered_intervals_and_dates() -> None:
    series = _series()
    out = revenue.forecast("INR", date(2026, 1, 1), series, 7)
    assert out.start == date(2026, 1, 1) + timedelta(days=len(series))
    assert len(out.mean) == 7
    lo80, hi80 = out.intervals[80]
    lo95, hi95 = out.intervals[95]
    for i in range(7):
        assert lo95[i] <= lo80[i] <= out.mean[i] <= hi80[i] <= hi95[i]
    assert out.to_dict()["days"][0]["date"] == out.start.isoformat()


def test_forecast_refuses_short_history() -> None:
    with pytest.raises(revenue.ForecastError, match="need 14"):
        revenue.forecast("INR", date(2026, 1, 1), [1] * 13, 7)
    with pytest.raises(revenue.ForecastError, match="to backtest"):
        revenue.backtest("INR", [1] * 20, 7)


def test_mape_skips_zero_days() -> None:
    assert revenue.mape([100, 0, 200], [110, 5, 180]) == pytest.approx(10.0)
    assert revenue.mape([0, 0], [1, 2]) is None


def test_lifetime_value_formula() -> None:
    # ARPU 1,000.00 a month, 80% margin, 5% monthly churn: 1000 x 0.8 / 0.05 = 16,000.00
    assert lifetime_value(Decimal(100_000), Decimal("0.8"), Decimal("0.05")) == 1_600_000
    assert lifetime_value(Decimal(1), Decimal("0.5"), Decimal(1)) == 1  # 0.5 rounds half up
    with pytest.raises(ValueError, match="positive"):
        lifetime_value(Decimal(1), Decimal(1), Decimal(0))
