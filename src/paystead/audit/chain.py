"""Append to the audit hash chain, and verify it.

Every event (payment, refund, customer and configuration changes alike) becomes one
audit record when the worker dispatches it: who (the API key id, ``cli`` or ``system``),
what (action, object, before/after of the changed fields), when, and the request id.
Records are numbered ``seq`` 1, 2, 3... in one total order; each stores ``prev_hash``,
the hash of the record before it (64 zeros for the first), and ``hash``, the SHA-256 of
its own canonical form (:func:`canonical`), which covers ``seq`` and ``prev_hash``. The
head row in ``audit_chain`` holds the last ``seq`` and hash.

Appending locks the head row, so concurrent workers still build one chain; the payment
path never waits for it (the worker appends, not the request). :func:`verify` walks the
chain and names the first record that does not fit:

- an edited record no longer matches its own hash;
- a deleted record leaves a gap in ``seq`` (or, renumbered, breaks ``prev_hash``);
- re-ordered records break ``seq``/``prev_hash``;
- a removed tail no longer reaches the head row.

What a chain cannot show on its own: someone able to rewrite *every* record after the
one they changed and the head row too. Publishing the head hash elsewhere now and then
(``paystead audit verify`` prints it) closes that gap.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from paystead.events.outbox import Event
from paystead.ids import new_id
from paystead.platform.db import insert_ignoring_conflicts
from paystead.platform.schema import audit_chain, audit_logs

GENESIS = "0" * 64
_HEAD_ID = 1

_SEED_HEAD = {
    dialect: insert_ignoring_conflicts(
        dialect, audit_chain, {"id": _HEAD_ID, "seq": 0, "hash": GENESIS}
    )
    for dialect in ("postgresql", "sqlite")
}
_LOCK_HEAD = (
    sa.select(audit_chain.c.seq, audit_chain.c.hash)
    .where(audit_chain.c.id == _HEAD_ID)
    .with_for_update()
)
_MOVE_HEAD = audit_chain.update().where(audit_chain.c.id == _HEAD_ID)
_INSERT = audit_logs.insert()

_HASHED = (
    "seq",
    "id",
    "event_id",
    "actor",
    "request_id",
    "action",
    "object_type",
    "object_id",
    "before",
    "after",
    "occurred_at",
    "prev_hash",
)


def _micros(moment: datetime) -> int:
    delta = moment.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def canonical(record: dict[str, Any]) -> bytes:
    """The bytes a record's hash covers: its fields as JSON, keys sorted at every level,
    no whitespace, the time as integer microseconds since the epoch (UTC)."""
    fields = {key: record[key] for key in _HASHED}
    fields["occurred_at"] = _micros(record["occurred_at"])
    return orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)


def digest(record: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(record)).hexdigest()


def _changes(event: Event) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """Before/after of the changed fields; a creation has no before and shows it all."""
    if event.previous is None:
        return None, event.data
    return event.previous, {key: event.data.get(key) for key in event.previous}


async def append(conn: AsyncConnection, events: Sequence[Event]) -> int:
    """Append one record per event, in order, inside the caller's transaction. An event
    already in the chain (dispatched twice) is skipped, so re-dispatching is harmless."""
    if not events:
        return 0
    await conn.execute(_SEED_HEAD[conn.dialect.name])
    head = (await conn.execute(_LOCK_HEAD)).one()
    seen = set(
        (
            await conn.execute(
                sa.select(audit_logs.c.event_id).where(
                    audit_logs.c.event_id.in_([e.id for e in events])
                )
            )
        ).scalars()
    )
    events = [e for e in events if e.id not in seen]
    if not events:
        return 0
    seq, prev = int(head.seq), str(head.hash)
    rows = []
    for event in events:
        seq += 1
        before, after = _changes(event)
        record: dict[str, Any] = {
            "seq": seq,
            "id": new_id("aud"),
            "event_id": event.id,
            "actor": event.actor,
            "request_id": event.request_id,
            "action": event.type,
            "object_type": event.object_type,
            "object_id": event.object_id,
            "before": before,
            "after": after,
            "occurred_at": event.created_at,
            "prev_hash": prev,
        }
        record["hash"] = prev = digest(record)
        rows.append(record)
    await conn.execute(_INSERT, rows)
    await conn.execute(_MOVE_HEAD, {"seq": seq, "hash": prev})
    return len(rows)


@dataclass(frozen=True, slots=True)
class Verification:
    ok: bool
    checked: int
    head_seq: int
    head_hash: str
    #: The first record that does not fit (``None`` when ok, or for a truncated tail).
    bad_seq: int | None = None
    bad_id: str | None = None
    reason: str | None = None


def _bad(checked: int, head: tuple[int, str], row: Any, reason: str) -> Verification:
    return Verification(False, checked, head[0], head[1], int(row.seq), str(row.id), reason)


async def verify(conn: AsyncConnection, *, page: int = 1000) -> Verification:
    """Walk the whole chain in ``seq`` order; stop at the first record that does not fit."""
    found = (
        await conn.execute(
            sa.select(audit_chain.c.seq, audit_chain.c.hash).where(audit_chain.c.id == _HEAD_ID)
        )
    ).first()
    head = (int(found.seq), str(found.hash)) if found is not None else (0, GENESIS)
    expected_seq, prev, checked = 1, GENESIS, 0
    while True:
        rows = (
            await conn.execute(
                sa.select(audit_logs)
                .where(audit_logs.c.seq >= expected_seq)
                .order_by(audit_logs.c.seq)
                .limit(page)
            )
        ).all()
        for row in rows:
            record = dict(row._mapping)
            if record["seq"] != expected_seq:
                return _bad(
                    checked,
                    head,
                    row,
                    f"records are missing before it: expected seq {expected_seq}, found {record['seq']}",
                )
            if record["prev_hash"] != prev:
                return _bad(
                    checked,
                    head,
                    row,
                    "its prev_hash does not match the record before it "
                    "(that record was rewritten, or records were deleted or re-ordered)",
                )
            if digest(record) != record["hash"]:
                return _bad(
                    checked, head, row, "its contents do not match its hash (the record was edited)"
                )
            prev = record["hash"]
            expected_seq += 1
            checked += 1
        if len(rows) < page:
            break
    if (checked, prev) != head:
        return Verification(
            False,
            checked,
            head[0],
            head[1],
            reason=(
                f"the chain ends at seq {checked} but its head says seq {head[0]}: "
                "records were removed from the end (or the head row was changed)"
            ),
        )
    return Verification(True, checked, head[0], head[1])
