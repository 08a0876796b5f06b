"""Webhook endpoints: the use cases behind ``/v1/webhook_endpoints`` and the CLI.

Every change is recorded as an (internal) event in the same transaction, so it reaches
the audit trail like a payment does; the signing secret itself never appears in an
event, a listing or a log: it is returned only by create and rotate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from paystead.errors import InvalidInput, NotFound
from paystead.events import catalog
from paystead.events.delivery import (
    AttemptView,
    Channel,
    DeliveryStatus,
    DeliveryView,
    PlannedDelivery,
    enqueue,
    list_attempts,
    list_deliveries,
)
from paystead.events.objects import changed, unix
from paystead.events.outbox import record
from paystead.ids import new_id
from paystead.platform.db import Database
from paystead.platform.idempotency import Idempotency, NoIdempotency
from paystead.platform.schema import deliveries, events, webhook_endpoints
from paystead.webhooks.signing import new_secret
from paystead.webhooks.urls import validate_url

ENABLED, FAILING, DISABLED = "enabled", "failing", "disabled"
#: The most events one replay may queue again; narrow the range for more.
MAX_REPLAY = 10_000
#: The longest grace period a rotation may give the old secret.
MAX_GRACE = timedelta(days=7)


@dataclass
class WebhookEndpoint:
    id: str
    url: str
    enabled_events: list[str]
    status: str
    secret: str
    created_at: datetime
    updated_at: datetime
    description: str | None = None
    previous_secret: str | None = None
    previous_secret_expires_at: datetime | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    deleted_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Replay:
    id: str
    endpoint_id: str
    start: datetime
    end: datetime
    only_failed: bool
    count: int
    created_at: datetime


def endpoint_object(e: WebhookEndpoint) -> dict[str, Any]:
    """The endpoint as events and audit records show it: never the secret."""
    return {
        "id": e.id,
        "object": "webhook_endpoint",
        "url": e.url,
        "description": e.description,
        "enabled_events": list(e.enabled_events),
        "status": e.status,
        "metadata": dict(e.metadata),
        "created": unix(e.created_at),
        "updated": unix(e.updated_at),
        "previous_secret_expires": (
            unix(e.previous_secret_expires_at) if e.previous_secret_expires_at else None
        ),
        "deleted": e.deleted_at is not None,
    }


def replay_object(r: Replay) -> dict[str, Any]:
    return {
        "id": r.id,
        "object": "webhook_replay",
        "endpoint": r.endpoint_id,
        "from": unix(r.start),
        "to": unix(r.end),
        "only_failed": r.only_failed,
        "count": r.count,
        "created": unix(r.created_at),
    }


def _endpoint(row: Any) -> WebhookEndpoint:
    m = row._mapping
    return WebhookEndpoint(
        id=m["id"],
        url=m["url"],
        description=m["description"],
        enabled_events=list(m["enabled_events"]),
        status=m["status"],
        secret=m["secret"],
        previous_secret=m["previous_secret"],
        previous_secret_expires_at=m["previous_secret_expires_at"],
        metadata=m["metadata"] or {},
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        deleted_at=m["deleted_at"],
    )


def _row(e: WebhookEndpoint) -> dict[str, Any]:
    return {
        "id": e.id,
        "url": e.url,
        "description": e.description,
        "enabled_events": e.enabled_events,
        "status": e.status,
        "secret": e.secret,
        "previous_secret": e.previous_secret,
        "previous_secret_expires_at": e.previous_secret_expires_at,
        "metadata": e.metadata,
        "created_at": e.created_at,
        "updated_at": e.updated_at,
        "deleted_at": e.deleted_at,
    }


async def load(conn: AsyncConnection, endpoint_id: str, *, lock: bool = False) -> WebhookEndpoint:
    query = sa.select(webhook_endpoints).where(
        webhook_endpoints.c.id == endpoint_id, webhook_endpoints.c.deleted_at.is_(None)
    )
    row = (await conn.execute(query.with_for_update() if lock else query)).first()
    if row is None:
        raise NotFound("webhook_endpoint", endpoint_id)
    return _endpoint(row)


async def _save(conn: AsyncConnection, e: WebhookEndpoint) -> None:
    await conn.execute(
        webhook_endpoints.update().where(webhook_endpoints.c.id == e.id).values(_row(e))
    )


async def set_status(conn: AsyncConnection, endpoint_id: str, to: str) -> None:
    """The worker marks an endpoint failing after a dead letter, and enabled again after
    a success; a disabled endpoint stays disabled. Writes only when the status changes."""
    await conn.execute(
        webhook_endpoints.update()
        .where(
            webhook_endpoints.c.id == endpoint_id,
            webhook_endpoints.c.status.not_in([to, DISABLED]),
        )
        .values(status=to)
    )


_UNSET: Any = object()
_NO_IDEMPOTENCY = NoIdempotency()


class WebhookEndpointService:
    def __init__(
        self,
        db: Database,
        clock: Callable[[], datetime],
        *,
        allow_http_loopback: bool = False,
        secret_grace: timedelta = timedelta(hours=24),
    ):
        self.db = db
        self.clock = clock
        self.allow_http_loopback = allow_http_loopback
        self.secret_grace = secret_grace

    def _url(self, url: str) -> str:
        return validate_url(url, allow_http_loopback=self.allow_http_loopback)

    async def create(
        self,
        *,
        url: str,
        enabled_events: list[str],
        description: str | None = None,
        metadata: dict[str, Any] | None = None,
        idem: Idempotency = _NO_IDEMPOTENCY,
    ) -> WebhookEndpoint:
        now = self.clock()
        endpoint = WebhookEndpoint(
            id=new_id("we"),
            url=self._url(url),
            enabled_events=catalog.check_subscription(enabled_events),
            status=ENABLED,
            secret=new_secret(),
            description=description,
            metadata=metadata or {},
            created_at=now,
            updated_at=now,
        )
        async with self.db.transaction() as conn:
            resumed = await idem.begin(conn, endpoint.id)
            if resumed is not None:
                endpoint = await load(conn, resumed)
            else:
                await conn.execute(webhook_endpoints.insert().values(_row(endpoint)))
                await record(
                    conn, catalog.WEBHOOK_ENDPOINT_CREATED, endpoint_object(endpoint), at=now
                )
            await idem.complete(conn, endpoint)
        return endpoint

    async def get(self, endpoint_id: str) -> WebhookEndpoint:
        async with self.db.transaction() as conn:
            return await load(conn, endpoint_id)

    async def update(
        self,
        endpoint_id: str,
        *,
        url: str = _UNSET,
        enabled_events: list[str] | None = None,
        description: str | None = _UNSET,
        disabled: bool | None = None,
        metadata: dict[str, Any] | None = None,
        idem: Idempotency = _NO_IDEMPOTENCY,
    ) -> WebhookEndpoint:
        new_url = self._url(url) if url is not _UNSET else _UNSET
        events_ = catalog.check_subscription(enabled_events) if enabled_events is not None else None
        async with self.db.transaction() as conn:
            await idem.begin(conn, endpoint_id)
            endpoint = await load(conn, endpoint_id, lock=True)
            before = endpoint_object(endpoint)
            if new_url is not _UNSET:
                endpoint.url = new_url
            if events_ is not None:
                endpoint.enabled_events = events_
            if description is not _UNSET:
                endpoint.description = description
            if metadata is not None:
                endpoint.metadata = metadata
            if disabled is not None:
                if disabled:
                    endpoint.status = DISABLED
                elif endpoint.status == DISABLED:
                    endpoint.status = ENABLED
            endpoint.updated_at = self.clock()
            after = endpoint_object(endpoint)
            previous = changed(before, after)
            if previous:
                await _save(conn, endpoint)
                await record(
                    conn,
                    catalog.WEBHOOK_ENDPOINT_UPDATED,
                    after,
                    at=endpoint.updated_at,
                    previous=previous,
                )
            await idem.complete(conn, endpoint)
        return endpoint

    async def delete(self, endpoint_id: str) -> WebhookEndpoint:
        """Soft delete: the row stays for its deliveries' history; pending ones are canceled
        when their turn comes."""
        async with self.db.transaction() as conn:
            endpoint = await load(conn, endpoint_id, lock=True)
            endpoint.deleted_at = endpoint.updated_at = self.clock()
            endpoint.status = DISABLED
            await _save(conn, endpoint)
            await record(
                conn,
                catalog.WEBHOOK_ENDPOINT_DELETED,
                endpoint_object(endpoint),
                at=endpoint.updated_at,
                previous={"deleted": False},
            )
        return endpoint

    async def rotate_secret(
        self,
        endpoint_id: str,
        *,
        grace: timedelta | None = None,
        idem: Idempotency = _NO_IDEMPOTENCY,
    ) -> WebhookEndpoint:
        """A new secret from now on; the old one keeps signing (a second signature) until
        the grace period ends, so receivers can switch without dropping a delivery."""
        grace = self.secret_grace if grace is None else grace
        if not timedelta(0) <= grace <= MAX_GRACE:
            raise InvalidInput(
                f"the grace period must be 0 to {MAX_GRACE.days} days", param="expires_in"
            )
        async with self.db.transaction() as conn:
            await idem.begin(conn, endpoint_id)
            endpoint = await load(conn, endpoint_id, lock=True)
            before = endpoint_object(endpoint)
            now = self.clock()
            endpoint.previous_secret = endpoint.secret if grace else None
            endpoint.previous_secret_expires_at = now + grace if grace else None
            endpoint.secret = new_secret()
            endpoint.updated_at = now
            await _save(conn, endpoint)
            after = endpoint_object(endpoint)
            previous = changed(before, after)
            previous["secret"] = "(rotated)"
            await record(
                conn, catalog.WEBHOOK_ENDPOINT_SECRET_ROTATED, after, at=now, previous=previous
            )
            await idem.complete(conn, endpoint)
        return endpoint

    async def replay(
        self,
        endpoint_id: str,
        *,
        start: datetime,
        end: datetime,
        only_failed: bool = False,
        idem: Idempotency = _NO_IDEMPOTENCY,
    ) -> Replay:
        """Queue again every event in ``[start, end]`` the endpoint subscribes to (only the
        dead-lettered ones with ``only_failed``), due now, with a fresh retry schedule.
        Each keeps its event id, so its ``webhook-id`` is the one already sent."""
        if end < start:
            raise InvalidInput("'to' is before 'from'", param="to")
        now = self.clock()
        replay_id = new_id("wrp")
        async with self.db.transaction() as conn:
            # The claim commits with the work, so there is never a half-done replay to resume.
            await idem.begin(conn, replay_id)
            endpoint = await load(conn, endpoint_id)
            count = await _requeue(conn, endpoint, start, end, only_failed, now)
            replay = Replay(replay_id, endpoint.id, start, end, only_failed, count, now)
            await record(conn, catalog.WEBHOOK_REPLAY_CREATED, replay_object(replay), at=now)
            await idem.complete(conn, replay)
        return replay

    async def deliveries(
        self,
        endpoint_id: str,
        *,
        status: DeliveryStatus | None,
        event_id: str | None,
        limit: int,
        starting_after: str | None,
    ) -> tuple[list[DeliveryView], bool]:
        async with self.db.transaction() as conn:
            await load(conn, endpoint_id)
            return await list_deliveries(
                conn,
                endpoint_id=endpoint_id,
                event_id=event_id,
                status=status,
                limit=limit,
                starting_after=starting_after,
            )

    async def attempts(
        self,
        endpoint_id: str,
        *,
        delivery_id: str | None,
        limit: int,
        starting_after: int | None,
    ) -> tuple[list[AttemptView], bool]:
        async with self.db.transaction() as conn:
            await load(conn, endpoint_id)
            return await list_attempts(
                conn,
                endpoint_id=endpoint_id,
                delivery_id=delivery_id,
                limit=limit,
                starting_after=starting_after,
            )

    async def list(
        self, *, limit: int, starting_after: str | None
    ) -> tuple[list[WebhookEndpoint], bool]:
        c = webhook_endpoints.c
        query = sa.select(webhook_endpoints).where(c.deleted_at.is_(None))
        if starting_after is not None:
            query = query.where(c.id < starting_after)
        async with self.db.transaction() as conn:
            rows = (await conn.execute(query.order_by(c.id.desc()).limit(limit + 1))).all()
        return [_endpoint(r) for r in rows[:limit]], len(rows) > limit


async def _requeue(
    conn: AsyncConnection,
    endpoint: WebhookEndpoint,
    start: datetime,
    end: datetime,
    only_failed: bool,
    now: datetime,
) -> int:
    e, d = events.c, deliveries.c
    query = (
        sa.select(e.id, e.type, d.id.label("delivery_id"), d.status)
        .select_from(
            events.outerjoin(deliveries, sa.and_(d.event_id == e.id, d.endpoint_id == endpoint.id))
        )
        .where(e.created_at >= start, e.created_at <= end, e.type.in_(_types(endpoint)))
        .order_by(e.id)
        .limit(MAX_REPLAY + 1)
    )
    if only_failed:
        query = query.where(d.status == DeliveryStatus.DEAD.value)
    rows = (await conn.execute(query)).all()
    if len(rows) > MAX_REPLAY:
        raise InvalidInput(
            f"more than {MAX_REPLAY} events in that range; replay a narrower one", param="from"
        )
    existing = [r.delivery_id for r in rows if r.delivery_id is not None]
    for chunk in range(0, len(existing), 500):
        await conn.execute(
            deliveries.update()
            .where(d.id.in_(existing[chunk : chunk + 500]))
            .values(
                status=DeliveryStatus.PENDING.value,
                attempts=0,
                next_attempt_at=now,
                locked_by=None,
                locked_until=None,
                completed_at=None,
                updated_at=now,
            )
        )
    missing = [
        (r.id, PlannedDelivery(Channel.WEBHOOK, webhook_dedupe_key(r.id, endpoint.id), endpoint.id))
        for r in rows
        if r.delivery_id is None
    ]
    await enqueue(conn, missing, now=now)
    return len(rows)


def _types(endpoint: WebhookEndpoint) -> list[str]:
    return [
        t.name for t in catalog.deliverable() if catalog.subscribed(endpoint.enabled_events, t.name)
    ]


def webhook_dedupe_key(event_id: str, endpoint_id: str) -> str:
    return f"webhook:{event_id}:{endpoint_id}"
