"""Idempotency keys for every POST (IETF draft "The Idempotency-Key HTTP Header Field").

A key is claimed by inserting ``(api_key_id, key)`` under a unique constraint, inside
the *first* transaction of the operation it protects; its stored response is written
inside the operation's *last* transaction. So the claim, the work and the recorded
answer commit together, and however many duplicates race, exactly one does the work:

- same key, same request, finished      -> the stored response, byte for byte
- same key, different request           -> :class:`IdempotencyKeyReused` (422)
- same key while the first is in flight -> :class:`IdempotencyKeyInUse` (409)
- an in-flight claim older than the lock timeout (its process died) is taken over,
  and the operation resumes on the resource the claim recorded.

Requests that fail validation or end in a domain error roll the claim back with
everything else, so nothing is remembered for them and a corrected retry can proceed.
An operation that learns of a domain error only after its first transaction committed
(a gateway refusing what it was sent) releases the claim (:meth:`~IdempotencyClaim.release`) in
a transaction of its own, to the same effect.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from paystead.errors import IdempotencyKeyInUse, IdempotencyKeyReused
from paystead.platform.batch import Batch
from paystead.platform.db import insert_ignoring_conflicts
from paystead.platform.schema import idempotency_keys

IN_FLIGHT = "in_flight"
COMPLETED = "completed"

# Built once (per dialect) so SQLAlchemy reuses the compiled statements.
_CLAIM = {
    dialect: insert_ignoring_conflicts(dialect, idempotency_keys, {}).returning(
        idempotency_keys.c.id
    )
    for dialect in ("postgresql", "sqlite")
}
_FIND = (
    sa.select(idempotency_keys)
    .where(
        idempotency_keys.c.api_key_id == sa.bindparam("b_api_key_id"),
        idempotency_keys.c.key == sa.bindparam("b_key"),
    )
    .with_for_update()
)
_UPDATE = idempotency_keys.update().where(idempotency_keys.c.id == sa.bindparam("b_id"))
#: The claim returning a :class:`Lookup`'s value too, one statement per (dialect, query).
_CLAIM_WITH: dict[tuple[str, Any], Any] = {}


def _claim_with(dialect: str, query: Any) -> Any:
    statement = _CLAIM_WITH.get((dialect, query))
    if statement is None:
        statement = _CLAIM_WITH[(dialect, query)] = insert_ignoring_conflicts(
            dialect, idempotency_keys, {}
        ).returning(idempotency_keys.c.id, query.scalar_subquery())
    return statement


class Lookup:
    """A one-value read that rides with the claim: a scalar subquery in the claim's
    ``RETURNING`` (one statement instead of two, on PostgreSQL and SQLite alike).

    ``query`` (built once, at import) selects one column of at most one row, with
    ``params`` (names that are not columns of ``idempotency_keys``). After :meth:`run`,
    or a fresh claim that read it, ``value`` is that column, or ``None`` when there was
    no row. A claim that conflicts reads nothing: the caller runs it if it needs it.
    """

    __slots__ = ("done", "params", "query", "value")

    def __init__(self, query: sa.Select[Any], params: dict[str, Any]):
        self.query = query
        self.params = params
        self.value: Any = None
        self.done = False

    async def run(self, conn: AsyncConnection) -> Any:
        if not self.done:
            self.value = (await conn.execute(self.query, self.params)).scalar()
            self.done = True
        return self.value


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status: int
    body: bytes
    replayed: bool = False


class ReplayStoredResponse(Exception):
    """Raised inside the claiming transaction to roll it back and answer from storage."""

    def __init__(self, response: StoredResponse):
        super().__init__("idempotent replay")
        self.response = response


class Idempotency(Protocol):
    """What a service needs from the idempotency layer: two calls, two transactions."""

    async def begin(
        self, conn: AsyncConnection, resource_id: str, *, also: Lookup | None = None
    ) -> str | None:
        """Claim the key; returns a resource id to resume when taking over a dead claim.
        ``also`` is read with a fresh claim (in the same round trip where it can be)."""

    async def complete(self, conn: AsyncConnection | Batch, result: Any) -> None:
        """Record the response for ``result`` in the operation's final transaction (or
        add the write to a batch the caller executes in it)."""

    async def release(self, conn: AsyncConnection) -> None:
        """Forget an in-flight claim: the operation ended in an error and changed nothing."""


class NoIdempotency:
    """For requests sent without an ``Idempotency-Key``."""

    async def begin(
        self, conn: AsyncConnection, resource_id: str, *, also: Lookup | None = None
    ) -> str | None:
        if also is not None:
            await also.run(conn)
        return None

    async def complete(self, conn: AsyncConnection | Batch, result: Any) -> None:
        return None

    async def release(self, conn: AsyncConnection) -> None:
        return None


def fingerprint(method: str, path: str, params: dict[str, Any]) -> str:
    """A hash of the request's meaning: key order and whitespace do not matter."""
    canonical = orjson.dumps(params, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + canonical).hexdigest()


class IdempotencyClaim:
    def __init__(
        self,
        *,
        api_key_id: str,
        key: str,
        fingerprint: str,
        render: Callable[[Any], StoredResponse],
        lock_timeout: timedelta,
        now: Callable[[], datetime],
    ):
        self.api_key_id = api_key_id
        self.key = key
        self.fingerprint = fingerprint
        self.render = render
        self.lock_timeout = lock_timeout
        self.now = now
        self.response: StoredResponse | None = None
        self._row_id: int | None = None

    async def begin(
        self, conn: AsyncConnection, resource_id: str, *, also: Lookup | None = None
    ) -> str | None:
        at = self.now()
        claim = {
            "api_key_id": self.api_key_id,
            "key": self.key,
            "fingerprint": self.fingerprint,
            "state": IN_FLIGHT,
            "resource_id": resource_id,
            "created_at": at,
            "locked_at": at,
        }
        if also is None:
            row_id = (await conn.execute(_CLAIM[conn.dialect.name], claim)).scalar()
        else:
            statement = _claim_with(conn.dialect.name, also.query)
            row = (await conn.execute(statement, {**claim, **also.params})).first()
            row_id = None
            if row is not None:
                row_id, also.value = row
                also.done = True
        if row_id is not None:
            self._row_id = int(row_id)
            return None
        existing = (
            await conn.execute(_FIND, {"b_api_key_id": self.api_key_id, "b_key": self.key})
        ).one()
        if existing.fingerprint != self.fingerprint:
            raise IdempotencyKeyReused(
                "this Idempotency-Key was already used with a different request",
                param="Idempotency-Key",
            )
        if existing.state == COMPLETED:
            raise ReplayStoredResponse(
                StoredResponse(existing.response_status, bytes(existing.response_body), True)
            )
        if existing.locked_at > at - self.lock_timeout:
            raise IdempotencyKeyInUse(
                "a request with this Idempotency-Key is still in flight; retry later",
                param="Idempotency-Key",
            )
        await conn.execute(_UPDATE, {"b_id": existing.id, "locked_at": at})
        self._row_id = int(existing.id)
        return str(existing.resource_id) if existing.resource_id else None

    async def complete(self, conn: AsyncConnection | Batch, result: Any) -> None:
        if self._row_id is None:
            raise RuntimeError("complete() before begin()")
        self.response = self.render(result)
        values = {
            "state": COMPLETED,
            "response_status": self.response.status,
            "response_body": self.response.body,
        }
        if isinstance(conn, Batch):
            conn.update(idempotency_keys, {"id": self._row_id}, values)
        else:
            await conn.execute(_UPDATE, {"b_id": self._row_id, **values})

    async def release(self, conn: AsyncConnection) -> None:
        if self._row_id is None:
            return
        await conn.execute(
            idempotency_keys.delete().where(
                idempotency_keys.c.id == self._row_id, idempotency_keys.c.state == IN_FLIGHT
            )
        )
        self._row_id = None


async def purge_expired(conn: AsyncConnection, older_than: datetime) -> int:
    """Forget completed keys past their retention (the draft asks for at least 24 h)."""
    result = await conn.execute(
        idempotency_keys.delete().where(
            idempotency_keys.c.state == COMPLETED, idempotency_keys.c.created_at < older_than
        )
    )
    return int(result.rowcount)
