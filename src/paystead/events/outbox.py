"""The transactional outbox: :func:`record` an event inside the transaction that makes
the change, so the event commits with it or not at all.

Recording is one INSERT built once at import (the payment path pays nothing more), or
one more write in a :class:`~paystead.platform.batch.Batch` (the same round trip as the
change on PostgreSQL). The
worker later claims undispatched rows (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; on
SQLite ``BEGIN IMMEDIATE`` already serializes writers), fans them out and delivers them;
see :mod:`paystead.events.dispatch`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from paystead.errors import NotFound
from paystead.events import context
from paystead.events.catalog import EventType
from paystead.ids import new_id
from paystead.platform.batch import Batch
from paystead.platform.schema import events

_INSERT = events.insert()


@dataclass(frozen=True, slots=True)
class Event:
    id: str
    type: str
    object_type: str
    object_id: str
    data: dict[str, Any]
    previous: dict[str, Any] | None
    actor: str
    request_id: str | None
    created_at: datetime

    def body(self) -> dict[str, Any]:
        """The event as the API lists it and webhooks deliver it."""
        payload = {"object": self.data, "previous_attributes": self.previous}
        return {
            "id": self.id,
            "object": "event",
            "type": self.type,
            "created": int(self.created_at.timestamp()),
            "timestamp": self.created_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "data": payload,
            "request": {"id": self.request_id} if self.request_id else None,
        }


async def record(
    conn: AsyncConnection | Batch,
    event_type: EventType,
    data: dict[str, Any],
    *,
    at: datetime,
    previous: dict[str, Any] | None = None,
) -> str:
    """Insert the event for ``data`` (an object with an ``id``) in ``conn``'s transaction
    (or add it to a batch the caller executes in it)."""
    ctx = context.current()
    event_id = new_id("evt")
    row = {
        "id": event_id,
        "type": event_type.name,
        "object_type": event_type.object_type,
        "object_id": data["id"],
        "data": data,
        "previous": previous,
        "actor": ctx.actor,
        "request_id": ctx.request_id,
        "created_at": at,
        "dispatched_at": None,
    }
    if isinstance(conn, Batch):
        conn.insert(events, row)
    else:
        await conn.execute(_INSERT, row)
    return event_id


def event_from_row(row: Any) -> Event:
    m = row._mapping
    return Event(
        id=m["id"],
        type=m["type"],
        object_type=m["object_type"],
        object_id=m["object_id"],
        data=m["data"],
        previous=m["previous"],
        actor=m["actor"],
        request_id=m["request_id"],
        created_at=m["created_at"],
    )


@dataclass(frozen=True, slots=True)
class EventFilter:
    #: An exact type, or a family ending in ``.*`` (``payment.*``).
    type: str | None = None
    object_id: str | None = None
    created_gte: datetime | None = None
    created_before: datetime | None = None  # exclusive


async def get_event(conn: AsyncConnection, event_id: str) -> Event:
    row = (await conn.execute(sa.select(events).where(events.c.id == event_id))).first()
    if row is None:
        raise NotFound("event", event_id)
    return event_from_row(row)


async def list_events(
    conn: AsyncConnection, filters: EventFilter, *, limit: int, starting_after: str | None
) -> tuple[list[Event], bool]:
    """Newest first; ids are time-ordered, so the cursor is the last id seen."""
    query = sa.select(events).order_by(events.c.id.desc()).limit(limit + 1)
    if filters.type is not None:
        if filters.type.endswith(".*"):
            family = filters.type[:-1].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            query = query.where(events.c.type.like(family + "%", escape="\\"))
        else:
            query = query.where(events.c.type == filters.type)
    if filters.object_id is not None:
        query = query.where(events.c.object_id == filters.object_id)
    if filters.created_gte is not None:
        query = query.where(events.c.created_at >= filters.created_gte)
    if filters.created_before is not None:
        query = query.where(events.c.created_at < filters.created_before)
    if starting_after is not None:
        query = query.where(events.c.id < starting_after)
    rows = (await conn.execute(query)).all()
    return [event_from_row(r) for r in rows[:limit]], len(rows) > limit
