"""Reading the audit log: filtered, newest first, cursor-paginated by ``seq``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from paystead.platform.schema import audit_logs


@dataclass(frozen=True, slots=True)
class AuditRecord:
    seq: int
    id: str
    event_id: str | None
    actor: str
    request_id: str | None
    action: str
    object_type: str
    object_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    occurred_at: datetime
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class AuditFilter:
    actor: str | None = None
    #: An exact action, or a family ending in ``.*`` (``payment.*``).
    action: str | None = None
    object_id: str | None = None
    request_id: str | None = None
    occurred_gte: datetime | None = None
    occurred_before: datetime | None = None  # exclusive


def _record(row: Any) -> AuditRecord:
    m = row._mapping
    return AuditRecord(**{key: m[key] for key in AuditRecord.__slots__})


async def list_records(
    conn: AsyncConnection, filters: AuditFilter, *, limit: int, starting_after: str | None
) -> tuple[list[AuditRecord], bool]:
    c = audit_logs.c
    query = sa.select(audit_logs).order_by(c.seq.desc()).limit(limit + 1)
    if filters.actor is not None:
        query = query.where(c.actor == filters.actor)
    if filters.action is not None:
        if filters.action.endswith(".*"):
            family = (
                filters.action[:-1].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            )
            query = query.where(c.action.like(family + "%", escape="\\"))
        else:
            query = query.where(c.action == filters.action)
    if filters.object_id is not None:
        query = query.where(c.object_id == filters.object_id)
    if filters.request_id is not None:
        query = query.where(c.request_id == filters.request_id)
    if filters.occurred_gte is not None:
        query = query.where(c.occurred_at >= filters.occurred_gte)
    if filters.occurred_before is not None:
        query = query.where(c.occurred_at < filters.occurred_before)
    if starting_after is not None:
        cursor = sa.select(c.seq).where(c.id == starting_after).scalar_subquery()
        query = query.where(c.seq < sa.func.coalesce(cursor, -1))
    rows = (await conn.execute(query)).all()
    return [_record(r) for r in rows[:limit]], len(rows) > limit
