"""The in-process flag snapshot: evaluation reads a dict, never the database.

:meth:`FlagCache.refresh` asks the database one cheap question, ``(count(*),
sum(version))`` over ``flags``: every committed write adds one to one flag's version
(a delete keeps the row), so the pair changes with every commit, in whatever order
transactions commit. Only when it changed are the flags loaded again and the snapshot
swapped whole (readers see the old dict or the new one, never a mix).
:func:`run_periodically` polls every ``PAYSTEAD_FLAGS_REFRESH_SECONDS`` inside
``paystead serve`` and ``paystead worker``; a write in this process refreshes at once.
With ``PAYSTEAD_REDIS_URL`` the cache also has a :attr:`FlagCache.broadcast`: writes are
published and every process refreshes on the message, the poll staying as the fallback
(:mod:`paystead.optimize.flags.broadcast`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from paystead.optimize.flags.model import Flag, parse_definition
from paystead.platform.db import Database
from paystead.platform.schema import flags as flags_table

if TYPE_CHECKING:
    from paystead.optimize.flags.broadcast import FlagBroadcast

log = logging.getLogger(__name__)

_SIGNATURE = sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(flags_table.c.version), 0))
_LIVE = sa.select(flags_table).where(flags_table.c.deleted_at.is_(None))


def flag_from_row(row: Any) -> Flag:
    m = row._mapping
    return Flag(
        id=m["id"],
        key=m["key"],
        definition=parse_definition(m["definition"]),
        version=int(m["version"]),
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        description=m["description"],
        updated_by=m["updated_by"],
        change_reason=m["change_reason"],
        metadata=m["metadata"] or {},
    )


class FlagCache:
    def __init__(self, db: Database):
        self.db = db
        self._flags: Mapping[str, Flag] = {}
        self._signature: tuple[int, int] | None = None
        self._lock = asyncio.Lock()
        #: Change notices to and from the other processes (None: polling only).
        self.broadcast: FlagBroadcast | None = None

    def get(self, key: str) -> Flag | None:
        return self._flags.get(key)

    def all(self) -> list[Flag]:
        return sorted(self._flags.values(), key=lambda f: f.key)

    @property
    def signature(self) -> tuple[int, int] | None:
        """The ``(count, sum of versions)`` the snapshot was loaded at (None: never)."""
        return self._signature

    async def refresh(self) -> bool:
        """Reload if the flags changed since the last load; True if it reloaded."""
        async with self._lock:
            async with self.db.transaction() as conn:
                count, total = (await conn.execute(_SIGNATURE)).one()
                signature = (int(count), int(total))
                if signature == self._signature:
                    return False
                rows = (await conn.execute(_LIVE)).all()
            self._flags = {f.key: f for f in map(flag_from_row, rows)}
            self._signature = signature
            return True


async def run_periodically(cache: FlagCache, interval: float, stop: asyncio.Event) -> None:
    """Refresh ``cache`` every ``interval`` seconds until ``stop`` is set, and at once
    on every change another process broadcasts (when ``cache.broadcast`` is set)."""
    listening = None
    if cache.broadcast is not None:
        listening = asyncio.create_task(
            cache.broadcast.listen(cache, stop), name="paystead-flags-broadcast"
        )
    try:
        await _poll(cache, interval, stop)
    finally:
        if listening is not None:
            if not stop.is_set():  # cancelled: stop the listener too
                listening.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listening


async def _poll(cache: FlagCache, interval: float, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            await cache.refresh()
        except Exception:  # a database hiccup: keep serving the last snapshot
            log.exception("flag snapshot refresh failed; serving the previous one")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
