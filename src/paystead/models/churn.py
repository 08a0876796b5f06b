"""The churn model: will an active subscription end within the horizon (30 days)?

**Rows** are (subscription, moment) pairs: at each snapshot moment, every subscription
active then (created before it, not ended by it) with its
:class:`~paystead.models.features.SubscriptionHistory` as of that moment, built by
:func:`histories` from time-stamped rows only (payments, meter events). **Label**: the
subscription's ``ended_at`` falls within the horizon after the moment (canceled,
dunning's final action, a scheduled cancel taking effect). **Holdout** is by time: the
latest quarter of the snapshots. The baseline is the dunning heuristic, "the share of
failed payments in the last 90 days" as a score.

Scoring (:func:`score`) runs the latest model over the subscriptions active now;
``paystead models score churn`` stores the predictions (``churn_predictions``), which
the ``churn_prediction_accuracy`` KPI compares with the outcome once each horizon has
passed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from paystead.errors import UnknownCurrency
from paystead.models.artifacts import Artifact
from paystead.models.features import CHURN_FEATURES, SubscriptionHistory, churn_features
from paystead.models.fraud import PARAMS, TrainingError, binary_metrics
from paystead.money import currency as iso_currency
from paystead.platform.schema import (
    churn_predictions,
    meter_events,
    payments,
    prices,
    subscription_items,
    subscriptions,
)

KIND = "churn"
HORIZON = timedelta(days=30)
ROUNDS = 150
#: A probability at or above this is recorded as a predicted churn.
THRESHOLD = 0.5

_MONTHS = {"day": 1 / 30, "week": 7 / 30, "month": 1.0, "year": 12.0}


def interval_months(interval: str, count: int) -> float:
    return _MONTHS.get(interval, 1.0) * max(count, 1)


def _active_at(moment: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(
        subscriptions.c.created_at <= moment,
        sa.or_(subscriptions.c.ended_at.is_(None), subscriptions.c.ended_at > moment),
    )


async def histories(
    conn: AsyncConnection, as_of: datetime, *, customer_id: str | None = None
) -> list[tuple[SubscriptionHistory, datetime | None]]:
    """Each subscription active at ``as_of`` with its history then, and its ``ended_at``
    (the label source; ``None`` while it runs)."""
    where = [_active_at(as_of)]
    if customer_id is not None:
        where.append(subscriptions.c.customer_id == customer_id)
    subs = (
        await conn.execute(
            sa.select(
                subscriptions.c.id,
                subscriptions.c.customer_id,
                subscriptions.c.currency,
                subscriptions.c.interval,
                subscriptions.c.interval_count,
                subscriptions.c.created_at,
                subscriptions.c.trial_start,
                subscriptions.c.trial_end,
                subscriptions.c.ended_at,
            )
            .where(*where)
            .order_by(subscriptions.c.id)
        )
    ).all()
    if not subs:
        return []
    ids = [s.id for s in subs]
    customers = sorted({s.customer_id for s in subs})
    licensed: dict[str, int] = defaultdict(int)
    for sub_id, unit_amount, quantity in await conn.execute(
        sa.select(
            subscription_items.c.subscription_id,
            prices.c.unit_amount,
            subscription_items.c.quantity,
        )
        .join(prices, prices.c.id == subscription_items.c.price_id)
        .where(subscription_items.c.subscription_id.in_(ids), prices.c.unit_amount.is_not(None))
    ):
        licensed[sub_id] += int(unit_amount) * int(quantity)
    paid: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for customer, status, n in await conn.execute(
        sa.select(payments.c.customer_id, payments.c.status, sa.func.count())
        .where(
            payments.c.customer_id.in_(customers),
            payments.c.created_at >= as_of - timedelta(days=90),
            payments.c.created_at < as_of,
            payments.c.status.in_(("succeeded", "requires_capture", "failed")),
        )
        .group_by(payments.c.customer_id, payments.c.status)
    ):
        paid[customer][1 if status == "failed" else 0] += int(n)
    middle = as_of - timedelta(days=30)
    usage: dict[str, tuple[int, int]] = {}
    for customer, last, prev in await conn.execute(
        sa.select(
            meter_events.c.customer_id,
            sa.func.coalesce(
                sa.func.sum(meter_events.c.value).filter(meter_events.c.occurred_at >= middle), 0
            ),
            sa.func.coalesce(
                sa.func.sum(meter_events.c.value).filter(meter_events.c.occurred_at < middle), 0
            ),
        )
        .where(
            meter_events.c.customer_id.in_(customers),
            meter_events.c.occurred_at >= as_of - timedelta(days=60),
            meter_events.c.occurred_at < as_of,
        )
        .group_by(meter_events.c.customer_id)
    ):
        usage[customer] = (int(last), int(prev))
    out = []
    for s in subs:
        months = interval_months(s.interval, s.interval_count)
        try:
            exponent = iso_currency(s.currency).exponent
        except UnknownCurrency:
            exponent = 2
        last, prev = usage.get(s.customer_id, (0, 0))
        ok, failed = paid[s.customer_id]
        history = SubscriptionHistory(
            subscription_id=s.id,
            customer_id=s.customer_id,
            as_of=as_of,
            created_at=s.created_at,
            interval_months=months,
            monthly_amount_major=licensed.get(s.id, 0) / 10**exponent / months,
            in_trial=s.trial_start is not None
            and s.trial_end is not None
            and s.trial_start <= as_of < s.trial_end,
            payments_succeeded_90d=ok,
            payments_failed_90d=failed,
            usage_last_30d=last,
            usage_prev_30d=prev,
        )
        out.append((history, s.ended_at))
    return out


@dataclass(frozen=True, slots=True)
class Row:
    history: SubscriptionHistory
    churned: bool


async def training_rows(
    conn: AsyncConnection,
    now: datetime,
    *,
    snapshots: int = 6,
    step: timedelta = timedelta(days=15),
) -> list[Row]:
    """Snapshots every ``step`` back from ``now - horizon`` (so every label is known)."""
    rows: list[Row] = []
    latest = now - HORIZON
    for k in reversed(range(snapshots)):
        moment = latest - k * step
        for history, ended_at in await histories(conn, moment):
            churned = ended_at is not None and moment < ended_at <= moment + HORIZON
            rows.append(Row(history, churned))
    return rows


@dataclass(frozen=True, slots=True)
class Trained:
    booster: Any  # lightgbm.Booster
    metadata: dict[str, Any]


def train(rows: Sequence[Row], *, holdout_share: float = 0.25) -> Trained:
    """Fit on the earlier snapshots, measure on the latest ``holdout_share`` of them."""
    import lightgbm

    if not rows:
        raise TrainingError("no subscription was active at any snapshot moment")
    moments = sorted({r.history.as_of for r in rows})
    if len(moments) < 2:
        raise TrainingError("churn training needs at least two snapshot moments")
    cut_at = moments[min(len(moments) - 1, max(1, round(len(moments) * (1 - holdout_share))))]
    ordered = sorted(rows, key=lambda r: r.history.as_of)
    fit = [r for r in ordered if r.history.as_of < cut_at]
    hold = [r for r in ordered if r.history.as_of >= cut_at]
    for part, where in ((fit, "training"), (hold, "holdout")):
        positives = sum(r.churned for r in part)
        if positives < 5 or len(part) - positives < 5:
            raise TrainingError(
                f"the {where} rows need at least 5 churned and 5 retained subscriptions "
                f"({positives} churned of {len(part)})"
            )
    x_fit = np.asarray([churn_features(r.history) for r in fit], dtype=np.float64)
    x_hold = np.asarray([churn_features(r.history) for r in hold], dtype=np.float64)
    y_hold = [int(r.churned) for r in hold]
    booster = lightgbm.train(
        PARAMS,
        lightgbm.Dataset(
            x_fit, label=[int(r.churned) for r in fit], feature_name=list(CHURN_FEATURES)
        ),
        num_boost_round=ROUNDS,
    )
    scores = [float(p) for p in booster.predict(x_hold)]
    failed_share = CHURN_FEATURES.index("failed_share_90d")
    baseline = [float(row[failed_share]) for row in x_hold]
    metadata = {
        "features": list(CHURN_FEATURES),
        "params": PARAMS,
        "rounds": ROUNDS,
        "label": f"subscription ended within {HORIZON.days} days of the snapshot",
        "horizon_days": HORIZON.days,
        "threshold": THRESHOLD,
        "window": {
            "start": moments[0].isoformat(),
            "end": moments[-1].isoformat(),
            "holdout_start": cut_at.isoformat(),
        },
        "rows": {"train": len(fit), "holdout": len(hold), "churned": sum(r.churned for r in rows)},
        "metrics": {
            "model": binary_metrics(y_hold, scores, THRESHOLD),
            "failed_payments_baseline": binary_metrics(y_hold, baseline, 0.5),
        },
    }
    return Trained(booster, metadata)


@dataclass(frozen=True, slots=True)
class Prediction:
    subscription_id: str
    customer_id: str
    probability: float
    predicted_churn: bool
    model_version: str
    predicted_at: datetime
    horizon_end: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "subscription": self.subscription_id,
            "customer": self.customer_id,
            "probability": round(self.probability, 4),
            "predicted_churn": self.predicted_churn,
            "model_version": self.model_version,
            "predicted_at": self.predicted_at,
            "horizon_end": self.horizon_end,
        }


async def score(
    conn: AsyncConnection, artifact: Artifact, now: datetime, *, customer_id: str | None = None
) -> list[Prediction]:
    """The probability that each subscription active ``now`` ends within the horizon."""
    found = await histories(conn, now, customer_id=customer_id)
    if not found:
        return []
    x = np.asarray([churn_features(h) for h, _ in found], dtype=np.float64)
    threshold = float(artifact.metadata.get("threshold", THRESHOLD))
    return [
        Prediction(
            subscription_id=h.subscription_id,
            customer_id=h.customer_id,
            probability=float(p),
            predicted_churn=float(p) >= threshold,
            model_version=artifact.version,
            predicted_at=now,
            horizon_end=now + HORIZON,
        )
        for (h, _), p in zip(found, artifact.booster.predict(x), strict=True)
    ]


async def record(conn: AsyncConnection, predictions: Sequence[Prediction]) -> None:
    """Store predictions; a subscription already scored at that instant is skipped
    (insert-ignore on the unique ``(subscription_id, predicted_at)``)."""
    if not predictions:
        return
    values = [
        {
            "subscription_id": p.subscription_id,
            "customer_id": p.customer_id,
            "model_version": p.model_version,
            "probability": p.probability,
            "predicted_churn": p.predicted_churn,
            "predicted_at": p.predicted_at,
            "horizon_end": p.horizon_end,
        }
        for p in predictions
    ]
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt: Any = pg_insert(churn_predictions).on_conflict_do_nothing()
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt = sqlite_insert(churn_predictions).on_conflict_do_nothing()
    await conn.execute(stmt, values)
