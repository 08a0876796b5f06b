"""Deliveries: one job per (event, destination), whatever the channel.

The worker plans jobs when it dispatches an event (:func:`enqueue`, de-duplicated by
``dedupe_key``), then repeatedly :func:`claim` s the due ones, attempts them outside any
transaction and :func:`finish` es each attempt: the attempt row is always written (the
integration-health KPIs read them), and the job either succeeds, waits for its next
retry, is dead-lettered, or is canceled.

A claim is a lease (``locked_by``/``locked_until``): while it lasts other workers leave
the job alone, and a worker that dies mid-batch simply lets it expire, after which the
job is claimed again and delivered with the same event (so the same ``webhook-id``).
On PostgreSQL the claiming SELECT uses ``FOR UPDATE SKIP LOCKED``, so workers claiming
at the same moment take disjoint jobs without waiting on each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from paystead.events.outbox import Event, event_from_row
from paystead.ids import new_id
from paystead.platform.schema import deliveries, delivery_attempts, events, webhook_endpoints


class Channel(StrEnum):
    WEBHOOK = "webhook"
    EMAIL = "email"
    SMS = "sms"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    #: Retries exhausted (or a permanent failure): the dead-letter list.
    DEAD = "dead"
    #: Not attempted any more: its endpoint was disabled or deleted.
    CANCELED = "canceled"


@dataclass(frozen=True, slots=True)
class PlannedDelivery:
    channel: Channel
    dedupe_key: str
    endpoint_id: str | None = None
    recipient: str | None = None
    template: str | None = None
    context: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Job:
    """A claimed delivery, with everything needed to attempt it without the database."""

    id: str
    channel: Channel
    attempts: int
    event: Event
    recipient: str | None
    template: str | None
    context: dict[str, Any] | None
    #: The endpoint's row (webhooks only), as it was when the job was claimed.
    endpoint: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class AttemptResult:
    succeeded: bool
    #: The endpoint id for a webhook, the provider's name otherwise.
    destination: str
    latency_ms: int = 0
    status_code: int | None = None
    response_snippet: str | None = None
    error: str | None = None
    #: A failure worth trying again (timeouts, 5xx, 429, SMTP 4xx...).
    retryable: bool = True
    #: Nothing was attempted and nothing should be: the job is canceled.
    cancel: bool = False


_ENQUEUE = {
    "postgresql": postgresql.insert(deliveries).on_conflict_do_nothing(),
    "sqlite": sqlite.insert(deliveries).on_conflict_do_nothing(),
}


def _new_row(event_id: str, plan: PlannedDelivery, now: datetime) -> dict[str, Any]:
    return {
        "id": new_id("dlv"),
        "channel": plan.channel.value,
        "event_id": event_id,
        "endpoint_id": plan.endpoint_id,
        "recipient": plan.recipient,
        "template": plan.template,
        "context": plan.context,
        "dedupe_key": plan.dedupe_key,
        "status": DeliveryStatus.PENDING.value,
        "attempts": 0,
        "next_attempt_at": now,
        "locked_by": None,
        "locked_until": None,
        "last_error": None,
        "created_at": now,
        "updated_at": now,
        "completed_at": None,
    }


async def enqueue(
    conn: AsyncConnection, planned: Sequence[tuple[str, PlannedDelivery]], *, now: datetime
) -> None:
    """Insert ``(event_id, plan)`` jobs, due now; a ``dedupe_key`` already queued is skipped."""
    if planned:
        rows = [_new_row(event_id, plan, now) for event_id, plan in planned]
        await conn.execute(_ENQUEUE[conn.dialect.name], rows)


# -- claiming ---------------------------------------------------------------------------

_DUE = (
    sa.select(deliveries.c.id)
    .where(
        deliveries.c.status == DeliveryStatus.PENDING.value,
        deliveries.c.next_attempt_at <= sa.bindparam("b_now"),
        sa.or_(
            deliveries.c.locked_until.is_(None),
            deliveries.c.locked_until <= sa.bindparam("b_now"),
        ),
    )
    .order_by(deliveries.c.next_attempt_at)
    .limit(sa.bindparam("b_limit"))
    .with_for_update(skip_locked=True)
)
_ENDPOINT_COLUMNS = [
    webhook_endpoints.c.url.label("ep_url"),
    webhook_endpoints.c.status.label("ep_status"),
    webhook_endpoints.c.secret.label("ep_secret"),
    webhook_endpoints.c.previous_secret.label("ep_previous_secret"),
    webhook_endpoints.c.previous_secret_expires_at.label("ep_previous_secret_expires_at"),
    webhook_endpoints.c.deleted_at.label("ep_deleted_at"),
]
_CLAIMED = (
    sa.select(
        deliveries.c.id.label("job_id"),
        deliveries.c.channel,
        deliveries.c.attempts,
        deliveries.c.endpoint_id,
        deliveries.c.recipient,
        deliveries.c.template,
        deliveries.c.context,
        *events.c,
        *_ENDPOINT_COLUMNS,
    )
    .select_from(
        deliveries.join(events, events.c.id == deliveries.c.event_id).outerjoin(
            webhook_endpoints, webhook_endpoints.c.id == deliveries.c.endpoint_id
        )
    )
    .where(deliveries.c.locked_by == sa.bindparam("b_token"))
)


def _job(row: Any) -> Job:
    m = row._mapping
    endpoint = None
    if m["endpoint_id"] is not None:
        endpoint = {
            "id": m["endpoint_id"],
            "url": m["ep_url"],
            "status": m["ep_status"],
            "secret": m["ep_secret"],
            "previous_secret": m["ep_previous_secret"],
            "previous_secret_expires_at": m["ep_previous_secret_expires_at"],
            "deleted_at": m["ep_deleted_at"],
        }
    return Job(
        id=m["job_id"],
        channel=Channel(m["channel"]),
        attempts=int(m["attempts"]),
        event=event_from_row(row),
        recipient=m["recipient"],
        template=m["template"],
        context=m["context"],
        endpoint=endpoint,
    )


async def claim(
    conn: AsyncConnection, *, now: datetime, token: str, limit: int, lease: timedelta
) -> list[Job]:
    """Lease up to ``limit`` due jobs to ``token`` until ``now + lease``."""
    ids = list((await conn.execute(_DUE, {"b_now": now, "b_limit": limit})).scalars())
    if not ids:
        return []
    await conn.execute(
        deliveries.update()
        .where(deliveries.c.id.in_(ids))
        .values(locked_by=token, locked_until=now + lease)
    )
    rows = await conn.execute(_CLAIMED, {"b_token": token})
    return [_job(r) for r in rows]


# -- finishing an attempt ---------------------------------------------------------------

_INSERT_ATTEMPT = delivery_attempts.insert()
_UPDATE_HELD = deliveries.update().where(
    deliveries.c.id == sa.bindparam("b_id"), deliveries.c.locked_by == sa.bindparam("b_token")
)


async def finish(
    conn: AsyncConnection,
    job: Job,
    result: AttemptResult,
    *,
    attempted_at: datetime,
    now: datetime,
    token: str,
    retry_at: datetime | None,
) -> DeliveryStatus:
    """Record the attempt and move the job; ``retry_at`` is when to try again (``None``:
    the failure is final). Returns the job's new status."""
    values: dict[str, Any] = {"locked_by": None, "locked_until": None, "updated_at": now}
    if result.cancel:
        status = DeliveryStatus.CANCELED
        values.update(next_attempt_at=None, completed_at=now, last_error=result.error)
    else:
        await conn.execute(
            _INSERT_ATTEMPT,
            {
                "delivery_id": job.id,
                "channel": job.channel.value,
                "destination": result.destination[:64],
                "attempt": job.attempts + 1,
                "succeeded": result.succeeded,
                "status_code": result.status_code,
                "latency_ms": result.latency_ms,
                "response_snippet": (result.response_snippet or None)
                and result.response_snippet[:1000],
                "error": result.error and result.error[:500],
                "attempted_at": attempted_at,
            },
        )
        values["attempts"] = job.attempts + 1
        if result.succeeded:
            status = DeliveryStatus.SUCCEEDED
            values.update(next_attempt_at=None, completed_at=now, last_error=None)
        elif retry_at is not None:
            status = DeliveryStatus.PENDING
            values.update(next_attempt_at=retry_at, last_error=result.error and result.error[:500])
        else:
            status = DeliveryStatus.DEAD
            values.update(
                next_attempt_at=None,
                completed_at=now,
                last_error=result.error and result.error[:500],
            )
    values["status"] = status.value
    await conn.execute(_UPDATE_HELD, {"b_id": job.id, "b_token": token, **values})
    return status


# -- reading ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeliveryView:
    id: str
    channel: str
    event_id: str
    event_type: str
    endpoint_id: str | None
    recipient: str | None
    template: str | None
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime
    completed_at: datetime | None


@dataclass(frozen=True, slots=True)
class AttemptView:
    id: int
    delivery_id: str
    event_id: str
    channel: str
    destination: str
    attempt: int
    succeeded: bool
    status_code: int | None
    latency_ms: int
    response_snippet: str | None
    error: str | None
    attempted_at: datetime


async def list_deliveries(
    conn: AsyncConnection,
    *,
    endpoint_id: str | None = None,
    event_id: str | None = None,
    status: DeliveryStatus | None = None,
    limit: int,
    starting_after: str | None = None,
) -> tuple[list[DeliveryView], bool]:
    d = deliveries.c
    query = (
        sa.select(
            d.id,
            d.channel,
            d.event_id,
            events.c.type.label("event_type"),
            d.endpoint_id,
            d.recipient,
            d.template,
            d.status,
            d.attempts,
            d.next_attempt_at,
            d.last_error,
            d.created_at,
            d.completed_at,
        )
        .select_from(deliveries.join(events, events.c.id == d.event_id))
        .order_by(d.id.desc())
        .limit(limit + 1)
    )
    if endpoint_id is not None:
        query = query.where(d.endpoint_id == endpoint_id)
    if event_id is not None:
        query = query.where(d.event_id == event_id)
    if status is not None:
        query = query.where(d.status == status.value)
    if starting_after is not None:
        query = query.where(d.id < starting_after)
    rows = (await conn.execute(query)).all()
    found = [DeliveryView(**dict(r._mapping)) for r in rows[:limit]]
    return found, len(rows) > limit


async def list_attempts(
    conn: AsyncConnection,
    *,
    endpoint_id: str | None = None,
    delivery_id: str | None = None,
    channel: Channel | None = None,
    limit: int,
    starting_after: int | None = None,
) -> tuple[list[AttemptView], bool]:
    a, d = delivery_attempts.c, deliveries.c
    query = (
        sa.select(
            a.id,
            a.delivery_id,
            d.event_id,
            a.channel,
            a.destination,
            a.attempt,
            a.succeeded,
            a.status_code,
            a.latency_ms,
            a.response_snippet,
            a.error,
            a.attempted_at,
        )
        .select_from(delivery_attempts.join(deliveries, d.id == a.delivery_id))
        .order_by(a.id.desc())
        .limit(limit + 1)
    )
    if endpoint_id is not None:
        query = query.where(d.endpoint_id == endpoint_id)
    if delivery_id is not None:
        query = query.where(a.delivery_id == delivery_id)
    if channel is not None:
        query = query.where(a.channel == channel.value)
    if starting_after is not None:
        query = query.where(a.id < starting_after)
    rows = (await conn.execute(query)).all()
    found = [AttemptView(**dict(r._mapping)) for r in rows[:limit]]
    return found, len(rows) > limit


@dataclass(frozen=True, slots=True)
class ChannelHealth:
    channel: str
    attempts: int
    succeeded: int
    mean_latency_ms: float | None

    @property
    def success_rate(self) -> float | None:
        return self.succeeded / self.attempts if self.attempts else None


async def health_by_channel(
    conn: AsyncConnection, *, since: datetime, until: datetime
) -> list[ChannelHealth]:
    """Delivery success and mean latency per channel in ``[since, until)``: the
    integration-health inputs (webhook endpoints, email, SMS)."""
    a = delivery_attempts.c
    rows = await conn.execute(
        sa.select(
            a.channel,
            sa.func.count().label("attempts"),
            sa.func.sum(sa.case((a.succeeded, 1), else_=0)).label("succeeded"),
            sa.func.avg(a.latency_ms).label("mean_latency_ms"),
        )
        .where(a.attempted_at >= since, a.attempted_at < until)
        .group_by(a.channel)
        .order_by(a.channel)
    )
    return [
        ChannelHealth(
            channel=r.channel,
            attempts=int(r.attempts),
            succeeded=int(r.succeeded or 0),
            mean_latency_ms=None if r.mean_latency_ms is None else float(r.mean_latency_ms),
        )
        for r in rows
    ]
