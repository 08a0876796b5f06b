"""Labelled outcomes for the model KPIs (``insights/measure.py`` reads these).

Fraud: each screened payment (``risk_assessments``) whose truth is known: the gateway
answered it (succeeded, awaiting capture, failed with any code but screening's own
``fraud_suspected``). Its label is fraudulent when the gateway declined it as
``fraudulent`` or a refund with reason ``fraudulent`` did not fail; the decision is
positive when screening said ``block`` (in ``shadow`` too: what it would have blocked).
Payments blocked in ``enforce`` never reached a gateway, so they carry no label and are
left out (docs/models.md says what that hides).

Churn: each stored prediction whose horizon has ended in the window; the truth is
whether the subscription ended by then.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from paystead.platform.schema import (
    churn_predictions,
    payments,
    refunds,
    risk_assessments,
    subscriptions,
)

FRAUDULENT = "fraudulent"
#: Screening's own failure code (risk/screening.py): no gateway answered those.
_BLOCKED = "fraud_suspected"
_ANSWERED = ("succeeded", "requires_capture", "failed")


@dataclass(frozen=True, slots=True)
class Confusion:
    true_positive: int = 0
    false_positive: int = 0
    true_negative: int = 0
    false_negative: int = 0

    @property
    def labelled(self) -> int:
        return self.true_positive + self.false_positive + self.true_negative + self.false_negative

    @property
    def accuracy(self) -> Decimal | None:
        if not self.labelled:
            return None
        return Decimal(self.true_positive + self.true_negative) * 100 / self.labelled

    @property
    def false_positive_rate(self) -> Decimal | None:
        negatives = self.false_positive + self.true_negative
        return Decimal(self.false_positive) * 100 / negatives if negatives else None


def fraud_label() -> sa.ColumnElement[bool]:
    """A payment's fraud label, over ``payments`` (and its refunds)."""
    refunded_as_fraud = (
        sa.exists()
        .where(
            refunds.c.payment_id == payments.c.id,
            refunds.c.reason == FRAUDULENT,
            refunds.c.status != "failed",
        )
        .correlate(payments)
    )
    return sa.or_(sa.func.coalesce(payments.c.failure_code, "") == FRAUDULENT, refunded_as_fraud)


def fraud_labelled() -> sa.ColumnElement[bool]:
    """Payments whose fraud truth is known (a gateway answered them)."""
    return sa.and_(
        payments.c.status.in_(_ANSWERED),
        sa.func.coalesce(payments.c.failure_code, "") != _BLOCKED,
    )


async def fraud_confusion(conn: AsyncConnection, start: datetime, end: datetime) -> Confusion:
    """Screening decisions made in ``[start, end)`` against their labels."""
    actual = fraud_label()
    predicted = risk_assessments.c.decision == "block"
    row = (
        await conn.execute(
            sa.select(
                sa.func.count().filter(sa.and_(predicted, actual)),
                sa.func.count().filter(sa.and_(predicted, sa.not_(actual))),
                sa.func.count().filter(sa.and_(sa.not_(predicted), sa.not_(actual))),
                sa.func.count().filter(sa.and_(sa.not_(predicted), actual)),
            )
            .select_from(
                risk_assessments.join(payments, payments.c.id == risk_assessments.c.payment_id)
            )
            .where(
                risk_assessments.c.created_at >= start,
                risk_assessments.c.created_at < end,
                fraud_labelled(),
            )
        )
    ).one()
    return Confusion(int(row[0]), int(row[1]), int(row[2]), int(row[3]))


async def churn_confusion(conn: AsyncConnection, start: datetime, end: datetime) -> Confusion:
    """Stored churn predictions whose horizon ended in ``[start, end)``."""
    ended = sa.and_(
        subscriptions.c.ended_at.is_not(None),
        subscriptions.c.ended_at <= churn_predictions.c.horizon_end,
    )
    predicted = churn_predictions.c.predicted_churn.is_(True)
    row = (
        await conn.execute(
            sa.select(
                sa.func.count().filter(sa.and_(predicted, ended)),
                sa.func.count().filter(sa.and_(predicted, sa.not_(ended))),
                sa.func.count().filter(sa.and_(sa.not_(predicted), sa.not_(ended))),
                sa.func.count().filter(sa.and_(sa.not_(predicted), ended)),
            )
            .select_from(
                churn_predictions.join(
                    subscriptions, subscriptions.c.id == churn_predictions.c.subscription_id
                )
            )
            .where(
                churn_predictions.c.horizon_end >= start,
                churn_predictions.c.horizon_end < end,
            )
        )
    ).one()
    return Confusion(int(row[0]), int(row[1]), int(row[2]), int(row[3]))
