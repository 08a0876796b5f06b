"""Database statement timing and payment outcomes, from SQLAlchemy engine events.

``before_cursor_execute`` / ``after_cursor_execute`` on the sync engine (the async
engine runs its statements through it) time every statement, labelled by its first
keyword (``select``, ``insert``, ``begin``...).

Payment outcomes are read off the transactional outbox rather than the payment code:
when a ``payment.succeeded`` / ``payment.requires_capture`` / ``payment.failed`` event
row is inserted, its payment snapshot is held on the connection, and counted only when
that transaction **commits** (dropped on rollback), so a payment is counted once, as
it was committed. Synthetic probe payments are left out (the probe counts itself).
"""

from __future__ import annotations

import re
import time
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncEngine

from paystead.gateways.routing import payment_method_family
from paystead.platform.batch import MAIN
from paystead.telemetry.recorder import Telemetry

_PENDING = "paystead_telemetry_outcomes"
_STARTED = "_paystead_started"
_OUTBOX_INSERT = "INSERT INTO events "
#: The main statement after a batch's CTEs (a CTE body opens with "(", not ")").
_BATCH_MAIN = re.compile(r"\)\s+((?:INSERT INTO|UPDATE|DELETE FROM) \w+ )")
_OUTCOMES = {
    "payment.succeeded": "succeeded",
    "payment.requires_capture": "authorized",
    "payment.failed": "failed",
}
#: The metadata marker of the synthetic probe's payments (see ``telemetry.probe``).
SYNTHETIC = ("synthetic", "probe")


def _classify(statement: str) -> tuple[str, str | None]:
    """(operation label, the parameter prefix if an outbox insert) for a SQL string. A
    batch of writes (``platform/batch.py``: ``WITH w0 AS (...) INSERT ...``) is labelled
    by its last write, which is the outbox insert when a batch has one (its parameters
    are then prefixed ``batch.MAIN``)."""
    head = statement.lstrip()
    word = head.split(None, 1)[0].lower() if head else "other"
    prefix = ""
    if word == "with":
        last = _BATCH_MAIN.findall(head)
        if last:
            head, prefix = last[-1], MAIN
            word = head.split(None, 1)[0].lower()
    if word not in {"select", "insert", "update", "delete", "begin", "commit", "rollback"}:
        word = "other"
    return word, prefix if head.startswith(_OUTBOX_INSERT) else None


def payment_outcome(data: dict[str, Any], event_type: str) -> dict[str, str] | None:
    """The labels of a payment's first answer, or None when the event is not one."""
    outcome = _OUTCOMES.get(event_type)
    if outcome is None:
        return None
    if outcome == "succeeded" and data.get("capture_method") == "manual":
        return None  # a manual capture: the payment's answer was its authorization
    metadata = data.get("metadata") or {}
    if metadata.get(SYNTHETIC[0]) == SYNTHETIC[1]:
        return None
    channel = metadata.get("channel")
    return {
        "gateway": str(data.get("gateway") or "unknown"),
        "method": payment_method_family(str(data.get("payment_method") or "")),
        "currency": str(data.get("currency") or "XXX")[:3],
        "channel": channel if isinstance(channel, str) else "other",
        "outcome": outcome,
    }


class _Hooks:
    def __init__(self, telemetry: Telemetry):
        self.telemetry = telemetry
        self._kinds: dict[str, tuple[str, str | None]] = {}

    def before(
        self,
        conn: Connection,
        cursor: Any,
        statement: str,
        parameters: Any,
        context: Any,
        executemany: bool,
    ) -> None:
        if context is not None:
            setattr(context, _STARTED, time.perf_counter())

    def after(
        self,
        conn: Connection,
        cursor: Any,
        statement: str,
        parameters: Any,
        context: Any,
        executemany: bool,
    ) -> None:
        started = getattr(context, _STARTED, None) if context is not None else None
        if started is None:
            return
        seconds = time.perf_counter() - started
        kind = self._kinds.get(statement)
        if kind is None:
            kind = self._kinds[statement] = _classify(statement)
            if len(self._kinds) > 10_000:  # literal SQL from somewhere: stop caching
                self._kinds.clear()
        self.telemetry.statement(kind[0], seconds)
        if kind[1] is not None and getattr(cursor, "rowcount", -1) != 0:
            # (0: a batch whose compare-and-set failed inserted no event)
            self._outbox(conn, context, kind[1])

    def _outbox(self, conn: Connection, context: Any, prefix: str) -> None:
        for params in getattr(context, "compiled_parameters", None) or ():
            data = params.get(f"{prefix}data")
            if not isinstance(data, dict) or data.get("object") != "payment":
                continue
            outcome = payment_outcome(data, str(params.get(f"{prefix}type")))
            if outcome is not None:
                conn.info.setdefault(_PENDING, []).append(outcome)

    def commit(self, conn: Connection) -> None:
        pending = conn.info.pop(_PENDING, None)
        if pending:
            for outcome in pending:
                self.telemetry.payment(**outcome)

    def rollback(self, conn: Connection) -> None:
        conn.info.pop(_PENDING, None)


_INSTALLED: WeakKeyDictionary[Engine, _Hooks] = WeakKeyDictionary()


def instrument(engine: AsyncEngine, telemetry: Telemetry) -> None:
    """Time ``engine``'s statements into ``telemetry`` (again: the newest one wins)."""
    sync = engine.sync_engine
    hooks = _INSTALLED.get(sync)
    if hooks is not None:
        hooks.telemetry = telemetry
        return
    hooks = _INSTALLED[sync] = _Hooks(telemetry)
    event.listen(sync, "before_cursor_execute", hooks.before)
    event.listen(sync, "after_cursor_execute", hooks.after)
    event.listen(sync, "commit", hooks.commit)
    event.listen(sync, "rollback", hooks.rollback)


def uninstrument(engine: AsyncEngine) -> None:
    sync = engine.sync_engine
    hooks = _INSTALLED.pop(sync, None)
    if hooks is None:
        return
    event.remove(sync, "before_cursor_execute", hooks.before)
    event.remove(sync, "after_cursor_execute", hooks.after)
    event.remove(sync, "commit", hooks.commit)
    event.remove(sync, "rollback", hooks.rollback)
