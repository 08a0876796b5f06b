"""Flags in the database: create, change, delete, each audited.

Every write is one transaction that bumps the flag's ``version`` and records a
``flag.created`` / ``flag.updated`` / ``flag.deleted`` event (internal: audited, never
delivered) whose actor is the caller (an API key id, ``cli``, ``system`` or the name a
caller such as a rollout passes) and whose object carries ``change_reason``. After the
commit this process's snapshot is refreshed, so the writer sees its own change at once;
other processes see it at their next poll (:mod:`paystead.optimize.flags.cache`), or at
once through the Redis broadcast when there is one (:mod:`.broadcast`).
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from paystead.errors import Conflict, InvalidInput, NotFound
from paystead.events import catalog, context
from paystead.events.objects import changed, unix
from paystead.events.outbox import record
from paystead.ids import new_id
from paystead.optimize.flags.cache import FlagCache, flag_from_row
from paystead.optimize.flags.model import (
    Definition,
    Flag,
    check_key,
    with_enabled,
    with_weights,
)
from paystead.platform.db import Database
from paystead.platform.schema import events
from paystead.platform.schema import flags as flags_table

_FLAG_EVENTS = (catalog.FLAG_CREATED.name, catalog.FLAG_UPDATED.name, catalog.FLAG_DELETED.name)
_UNSET: Any = object()


def flag_object(flag: Flag, *, deleted: bool = False) -> dict[str, Any]:
    """The flag as the API shows it and its events carry it."""
    return {
        "id": flag.id,
        "object": "flag",
        "key": flag.key,
        "description": flag.description,
        **flag.definition.to_json(),
        "version": flag.version,
        "metadata": dict(flag.metadata),
        "created": unix(flag.created_at),
        "updated": unix(flag.updated_at),
        "updated_by": flag.updated_by,
        "change_reason": flag.change_reason,
        "deleted": deleted,
    }


@dataclass(frozen=True, slots=True)
class FlagChange:
    """One line of a flag's audit trail (from its events)."""

    event_id: str
    type: str
    flag_id: str
    key: str
    version: int
    actor: str
    reason: str | None
    previous: dict[str, Any] | None
    at: datetime


def _row(flag: Flag, *, deleted_at: datetime | None = None) -> dict[str, Any]:
    return {
        "id": flag.id,
        "key": flag.key,
        "description": flag.description,
        "definition": flag.definition.to_json(),
        "version": flag.version,
        "metadata": dict(flag.metadata),
        "created_at": flag.created_at,
        "updated_at": flag.updated_at,
        "updated_by": flag.updated_by,
        "change_reason": flag.change_reason,
        "deleted_at": deleted_at,
    }


def _check_reason(reason: str | None) -> str | None:
    if reason is not None and len(reason) > 500:
        raise InvalidInput("a reason is at most 500 characters", param="reason")
    return reason


@contextmanager
def _acting(actor: str | None) -> Iterator[str]:
    """Record events as ``actor`` (default: whoever the request context says)."""
    current = context.current()
    who = (actor or current.actor)[:64]
    with context.bound(context.RequestContext(request_id=current.request_id, actor=who)):
        yield who


async def _load(conn: AsyncConnection, key: str, *, lock: bool = False) -> Any:
    query = sa.select(flags_table).where(flags_table.c.key == key)
    return (await conn.execute(query.with_for_update() if lock else query)).first()


class FlagStore:
    def __init__(self, db: Database, clock: Callable[[], datetime], cache: FlagCache | None = None):
        self.db = db
        self.clock = clock
        self.cache = cache or FlagCache(db)

    async def refresh(self) -> bool:
        """Bring this process's snapshot up to date now (see :class:`FlagCache`)."""
        return await self.cache.refresh()

    async def _changed(self) -> None:
        """After a committed write: this snapshot now, the other processes' through
        the broadcast when there is one (else at their next poll)."""
        await self.refresh()
        if self.cache.broadcast is not None:
            await self.cache.broadcast.publish()

    async def create(
        self,
        key: str,
        definition: Definition,
        *,
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        actor: str | None = None,
        reason: str | None = None,
        now: datetime | None = None,
    ) -> Flag:
        """A new flag. A deleted flag's key may be used again: its row (and version
        count) continues, its history stays. A live key is a 409 ``flag_exists``."""
        check_key(key)
        reason = _check_reason(reason)
        now = now or self.clock()
        with _acting(actor) as who:
            try:
                async with self.db.transaction() as conn:
                    existing = await _load(conn, key, lock=True)
                    if existing is not None and existing._mapping["deleted_at"] is None:
                        raise Conflict(
                            f"a flag with key {key!r} exists", code="flag_exists", param="key"
                        )
                    flag = Flag(
                        id=existing._mapping["id"] if existing is not None else new_id("flag"),
                        key=key,
                        definition=definition,
                        version=int(existing._mapping["version"]) + 1 if existing else 1,
                        created_at=now,
                        updated_at=now,
                        description=description,
                        updated_by=who,
                        change_reason=reason,
                        metadata=dict(metadata or {}),
                    )
                    if existing is None:
                        await conn.execute(flags_table.insert().values(_row(flag)))
                    else:
                        await conn.execute(
                            flags_table.update()
                            .where(flags_table.c.id == flag.id)
                            .values(_row(flag))
                        )
                    await record(conn, catalog.FLAG_CREATED, flag_object(flag), at=now)
            except IntegrityError:  # a concurrent create of the same key won
                raise Conflict(
                    f"a flag with key {key!r} exists", code="flag_exists", param="key"
                ) from None
        await self._changed()
        return flag

    async def get(self, key: str) -> Flag:
        """The flag as stored now (management reads; evaluation uses the snapshot)."""
        async with self.db.transaction() as conn:
            row = await _load(conn, key)
        if row is None or row._mapping["deleted_at"] is not None:
            raise NotFound("flag", key)
        return flag_from_row(row)

    async def list(
        self, *, limit: int = 100, starting_after: str | None = None
    ) -> tuple[list[Flag], bool]:
        """Live flags in key order."""
        c = flags_table.c
        query = sa.select(flags_table).where(c.deleted_at.is_(None))
        if starting_after is not None:
            query = query.where(c.key > starting_after)
        async with self.db.transaction() as conn:
            rows = (await conn.execute(query.order_by(c.key).limit(limit + 1))).all()
        return [flag_from_row(r) for r in rows[:limit]], len(rows) > limit

    async def update(
        self,
        key: str,
        *,
        definition: Definition | None = None,
        change: Callable[[Definition], Definition] | None = None,
        description: str | None = _UNSET,
        metadata: Mapping[str, Any] | None = None,
        actor: str | None = None,
        reason: str | None = None,
        now: datetime | None = None,
    ) -> Flag:
        """Replace the definition (or apply ``change`` to the current one, under the
        row lock), the description or the metadata. A change that changes nothing
        writes nothing and returns the flag as it is."""
        reason = _check_reason(reason)
        now = now or self.clock()
        with _acting(actor) as who:
            async with self.db.transaction() as conn:
                row = await _load(conn, key, lock=True)
                if row is None or row._mapping["deleted_at"] is not None:
                    raise NotFound("flag", key)
                flag = flag_from_row(row)
                new_definition = definition or flag.definition
                if change is not None:
                    new_definition = change(new_definition)
                updated = replace(
                    flag,
                    definition=new_definition,
                    description=flag.description if description is _UNSET else description,
                    metadata=dict(metadata) if metadata is not None else flag.metadata,
                )
                before, after = flag_object(flag), flag_object(updated)
                previous = changed(before, after)
                previous.pop("version", None)
                if not previous:
                    return flag
                updated = replace(
                    updated,
                    version=flag.version + 1,
                    updated_at=now,
                    updated_by=who,
                    change_reason=reason,
                )
                await conn.execute(
                    flags_table.update().where(flags_table.c.id == flag.id).values(_row(updated))
                )
                await record(
                    conn, catalog.FLAG_UPDATED, flag_object(updated), at=now, previous=previous
                )
        await self._changed()
        return updated

    async def set_weights(
        self,
        key: str,
        weights: Mapping[str, int],
        *,
        actor: str,
        reason: str,
        now: datetime | None = None,
    ) -> Flag:
        """Serve ``weights`` (basis points summing to 10,000) by default; audited."""
        return await self.update(
            key,
            change=lambda d: with_weights(d, weights),
            actor=actor,
            reason=reason,
            now=now,
        )

    async def set_enabled(
        self,
        key: str,
        enabled: bool,
        *,
        actor: str | None = None,
        reason: str | None = None,
        now: datetime | None = None,
    ) -> Flag:
        """The kill switch: a disabled flag serves its ``off_variant`` to everyone."""
        return await self.update(
            key, change=lambda d: with_enabled(d, enabled), actor=actor, reason=reason, now=now
        )

    async def delete(
        self,
        key: str,
        *,
        actor: str | None = None,
        reason: str | None = None,
        now: datetime | None = None,
    ) -> Flag:
        reason = _check_reason(reason)
        now = now or self.clock()
        with _acting(actor) as who:
            async with self.db.transaction() as conn:
                row = await _load(conn, key, lock=True)
                if row is None or row._mapping["deleted_at"] is not None:
                    raise NotFound("flag", key)
                flag = flag_from_row(row)
                deleted = replace(
                    flag,
                    version=flag.version + 1,
                    updated_at=now,
                    updated_by=who,
                    change_reason=reason,
                )
                await conn.execute(
                    flags_table.update()
                    .where(flags_table.c.id == flag.id)
                    .values(_row(deleted, deleted_at=now))
                )
                await record(
                    conn,
                    catalog.FLAG_DELETED,
                    flag_object(deleted, deleted=True),
                    at=now,
                    previous={"deleted": False},
                )
        await self._changed()
        return deleted

    async def history(
        self, key: str | None = None, *, limit: int = 20
    ) -> builtins.list[FlagChange]:
        """The latest changes, newest first: of one flag (by key), or of all flags."""
        c = events.c
        query = sa.select(events).where(c.type.in_(_FLAG_EVENTS))
        async with self.db.transaction() as conn:
            if key is not None:
                row = await _load(conn, key)
                if row is None:
                    raise NotFound("flag", key)
                query = query.where(c.object_id == row._mapping["id"])
            rows = (await conn.execute(query.order_by(c.id.desc()).limit(limit))).all()
        changes = []
        for r in rows:
            m = r._mapping
            data = m["data"]
            changes.append(
                FlagChange(
                    event_id=m["id"],
                    type=m["type"],
                    flag_id=m["object_id"],
                    key=data.get("key", ""),
                    version=int(data.get("version", 0)),
                    actor=m["actor"],
                    reason=data.get("change_reason"),
                    previous=m["previous"],
                    at=m["created_at"],
                )
            )
        return changes
