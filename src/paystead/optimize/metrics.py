"""Experiment metrics from paystead's own tables: exposures joined to payments.

A subject (the evaluation's targeting key: a customer id, else a payment id) is in the
arm of its first exposure; every payment of that subject (``payments.customer_id`` or
``payments.id`` equal to the subject) created inside the window counts for that arm.

- success rate: succeeded or authorized / answered (succeeded, authorized, failed);
- conversion: subjects with at least one successful payment / exposed subjects;
- average order value: captured amount of successful payments in the experiment's
  currency (minor units);
- revenue per customer: captured minus refunded, in that currency, per exposed subject
  (zero for a subject who paid nothing); CUPED uses the same sum over the 28 days
  before the window;
- refund rate: successful payments with any refund / successful payments;
- error rate: failed payments whose failure is the system's, not the customer's bank's
  (processing errors, gateway unavailable, circuit open) / answered;
- latency: ``updated_at - created_at`` of answered payments, in milliseconds;
- churn: exposed subscribers whose subscription is ``canceled`` / exposed subscribers,
  from billing's ``subscriptions`` table (:func:`churned_subjects`); without that table
  the metric says "no data".
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from paystead.optimize.analysis import Arm
from paystead.platform.schema import UTCDateTime, experiment_exposures, payments

SUCCESS = frozenset({"succeeded", "requires_capture"})
ANSWERED = SUCCESS | {"failed"}
PRE_PERIOD = timedelta(days=28)
_ERROR_MARKERS = ("processing_error", "gateway", "circuit", "unavailable", "timeout")


def is_error(failure_code: str | None) -> bool:
    """A failure of the system (ours or the gateway's) rather than a decline."""
    return failure_code is not None and any(m in failure_code for m in _ERROR_MARKERS)


@dataclass(frozen=True, slots=True)
class VariantWeight:
    key: str
    weight: int


async def _exposures(conn: AsyncConnection, experiment_key: str) -> dict[str, str]:
    rows = await conn.execute(
        sa.select(experiment_exposures.c.subject, experiment_exposures.c.variant).where(
            experiment_exposures.c.experiment_key == experiment_key
        )
    )
    return {str(subject): str(variant) for subject, variant in rows.all()}


async def _payments_of(
    conn: AsyncConnection, experiment_key: str, start: datetime, end: datetime
) -> list[Any]:
    e, p = experiment_exposures, payments
    columns = (
        e.c.subject,
        p.c.id,
        p.c.status,
        p.c.currency,
        p.c.amount_captured,
        p.c.amount_refunded,
        p.c.failure_code,
        p.c.created_at,
        p.c.updated_at,
    )
    window = (p.c.created_at >= start, p.c.created_at <= end, e.c.experiment_key == experiment_key)
    by_customer = sa.select(*columns).join(p, p.c.customer_id == e.c.subject).where(*window)
    by_payment = (
        sa.select(*columns).join(p, p.c.id == e.c.subject).where(*window, p.c.customer_id.is_(None))
    )
    rows = list(await conn.execute(by_customer)) + list(await conn.execute(by_payment))
    return rows


async def _pre_revenue(
    conn: AsyncConnection, subjects: Sequence[str], start: datetime, currency: str
) -> dict[str, int]:
    if not subjects:
        return {}
    p = payments
    found: dict[str, int] = {}
    chunk = 500
    for i in range(0, len(subjects), chunk):
        rows = await conn.execute(
            sa.select(p.c.customer_id, sa.func.sum(p.c.amount_captured - p.c.amount_refunded))
            .where(
                p.c.customer_id.in_(subjects[i : i + chunk]),
                p.c.created_at >= start - PRE_PERIOD,
                p.c.created_at < start,
                p.c.currency == currency,
            )
            .group_by(p.c.customer_id)
        )
        found.update({c: int(total or 0) for c, total in rows})
    return found


async def churned_subjects(
    conn: AsyncConnection, subjects: Sequence[str], start: datetime, end: datetime
) -> tuple[set[str], set[str]] | None:
    """Among ``subjects``: customers with a subscription, and those of them whose
    subscription is ``canceled`` (canceled inside the window when ``canceled_at`` is
    known). None while billing's ``subscriptions`` table does not exist: churn then
    reads "no data"."""

    def columns_of(sync: Any) -> set[str]:
        inspector = sa.inspect(sync)
        if not inspector.has_table("subscriptions"):
            return set()
        return {c["name"] for c in inspector.get_columns("subscriptions")}

    # Billing owns the table: read only the columns churn needs, checked first.
    columns = await conn.run_sync(columns_of)
    if not {"customer_id", "status"} <= columns:
        return None
    subs = sa.table(
        "subscriptions",
        sa.column("customer_id"),
        sa.column("status"),
        sa.column("canceled_at", UTCDateTime()),
    )
    subscribers: set[str] = set()
    churned: set[str] = set()
    for i in range(0, len(subjects), 500):
        canceled = subs.c.canceled_at if "canceled_at" in columns else sa.null()
        query = sa.select(subs.c.customer_id, subs.c.status, canceled).where(
            subs.c.customer_id.in_(subjects[i : i + 500])
        )
        for row in await conn.execute(query):
            customer, status, canceled_at = str(row[0]), row[1], row[2]
            subscribers.add(customer)
            in_window = canceled_at is None or start <= canceled_at <= end
            if status == "canceled" and in_window:
                churned.add(customer)
    return subscribers, churned


async def collect_arms(
    conn: AsyncConnection,
    experiment_key: str,
    variants: Sequence[VariantWeight],
    *,
    start: datetime,
    end: datetime,
    currency: str,
    with_pre_period: bool = True,
    with_churn: bool = True,
) -> list[Arm]:
    """Each variant's units, in ``variants`` order (control first)."""
    exposed = await _exposures(conn, experiment_key)
    arms = {v.key: Arm(v.key, v.weight) for v in variants}
    subjects_by_arm: dict[str, list[str]] = defaultdict(list)
    for subject, variant in exposed.items():
        if variant in arms:
            subjects_by_arm[variant].append(subject)
    revenue: dict[str, int] = defaultdict(int)
    converted: set[str] = set()
    seen: set[str] = set()
    for row in await _payments_of(conn, experiment_key, start, end):
        subject, payment_id, status = row.subject, row.id, row.status
        arm = arms.get(exposed.get(subject, ""))
        if arm is None or payment_id in seen or status not in ANSWERED:
            continue
        seen.add(payment_id)
        arm.payments += 1
        if is_error(row.failure_code):
            arm.errors += 1
        delta = (row.updated_at - row.created_at).total_seconds() * 1000
        arm.latencies_ms.append(max(delta, 0.0))
        if status in SUCCESS:
            arm.succeeded += 1
            converted.add(subject)
            if row.amount_refunded > 0:
                arm.refunded += 1
            if row.currency == currency:
                arm.order_values.append(float(row.amount_captured))
                revenue[subject] += row.amount_captured - row.amount_refunded
    all_subjects = [s for subjects in subjects_by_arm.values() for s in subjects]
    pre = await _pre_revenue(conn, all_subjects, start, currency) if with_pre_period else {}
    churn = await churned_subjects(conn, all_subjects, start, end) if with_churn else None
    for key, arm in arms.items():
        subjects = subjects_by_arm.get(key, [])
        arm.subjects = len(subjects)
        arm.converted_subjects = sum(1 for s in subjects if s in converted)
        arm.revenue = [float(revenue.get(s, 0)) for s in subjects]
        if pre:
            arm.pre_revenue = [float(pre.get(s, 0)) for s in subjects]
        if churn is not None:
            arm.subscribers = sum(1 for s in subjects if s in churn[0])
            arm.churned = sum(1 for s in subjects if s in churn[1])
    return [arms[v.key] for v in variants]
