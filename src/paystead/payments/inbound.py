"""Inbound gateway webhooks: each verified event stored once, matched to our payment or
refund, and applied only when it moves that object forward.

The API verifies the signature over the raw body and parses it
(``gateways/<name>/webhooks.py``); :meth:`InboundEvents.receive` then, in one
transaction:

1. inserts the event under the unique ``(gateway, event_id)``: a redelivery finds the
   row, and the answer is ``ignored_duplicate`` with nothing changed;
2. finds our object: the ``paystead_payment_id`` / ``paystead_refund_id`` we sent as
   notes or metadata, else the gateway's order or object reference;
3. applies the event's :class:`~paystead.gateways.events.EventKind` through the
   payment's state machine, forward only (a ``payment.failed`` after
   ``payment.captured`` is ``ignored_stale``), with its outbox event and ledger entry in
   the same transaction (the ledger's unique ``(kind, reference)`` would refuse a
   second capture entry anyway);
4. stores the outcome on the event row.

A ``payment.authorized`` for an automatic-capture payment still waiting for its customer
(Razorpay: Checkout succeeded, the browser never reached ``/confirm``) asks the gateway
to capture after the commit, exactly as ``/confirm`` would; whichever of the two finishes
first settles the payment, the other finds it settled.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from paystead.errors import NotFound
from paystead.events import recorders
from paystead.gateways.base import Outcome
from paystead.gateways.events import EventKind, GatewayEvent
from paystead.ids import new_id
from paystead.ledger.model import JournalEntry
from paystead.payments import repository as repo
from paystead.payments.accounting import capture_entry
from paystead.payments.model import CaptureMethod, Payment, PaymentStatus, RefundStatus
from paystead.payments.service import PaymentService
from paystead.platform.db import insert_ignoring_conflicts
from paystead.platform.schema import gateway_events

log = logging.getLogger(__name__)

APPLIED = "applied"
IGNORED_DUPLICATE = "ignored_duplicate"
IGNORED_STALE = "ignored_stale"
IGNORED_NOT_FINAL = "ignored_not_final"
IGNORED = "ignored"
MISMATCH = "mismatch"
UNMATCHED = "unmatched"

PAYMENT_KINDS = frozenset(
    {
        EventKind.PAYMENT_AUTHORIZED,
        EventKind.PAYMENT_CAPTURED,
        EventKind.PAYMENT_FAILED,
        EventKind.PAYMENT_CANCELED,
    }
)
REFUND_KINDS = frozenset({EventKind.REFUND_SUCCEEDED, EventKind.REFUND_FAILED})
_OPEN = frozenset({PaymentStatus.REQUIRES_ACTION, PaymentStatus.PROCESSING})


@dataclass(frozen=True, slots=True)
class Received:
    """What an inbound event did (the webhook's answer and the stored row)."""

    outcome: str
    payment_id: str | None = None
    refund_id: str | None = None
    detail: str | None = None


@dataclass(slots=True)
class _Verdict:
    outcome: str
    detail: str | None = None
    entry: JournalEntry | None = None
    #: Ask the gateway to capture this authorization after the commit.
    capture: bool = False


def decide(payment: Payment, event: GatewayEvent) -> _Verdict:
    """Move ``payment`` by ``event`` if that is forward (pure; the caller saves it)."""
    status = payment.status
    kind = event.kind
    reference = event.payment_reference
    open_ = status in _OPEN and not payment.capture_in_flight
    if kind is EventKind.PAYMENT_CAPTURED:
        if status in (PaymentStatus.SUCCEEDED, PaymentStatus.FAILED, PaymentStatus.CANCELED):
            note = "" if status is PaymentStatus.SUCCEEDED else ": reconcile (refund it?)"
            return _Verdict(IGNORED_STALE, f"the payment is already {status.value}{note}")
        amount = event.amount.amount if event.amount is not None else payment.amount
        if status is PaymentStatus.REQUIRES_CAPTURE:
            payment.start_capture(amount)
        payment.captured(amount, reference)
        fee = event.result.fee if event.result is not None else None
        return _Verdict(APPLIED, entry=capture_entry(payment, amount, fee))
    if kind is EventKind.PAYMENT_AUTHORIZED:
        if not open_:
            return _Verdict(IGNORED_STALE, f"the payment is already {status.value}")
        if payment.capture_method is CaptureMethod.AUTOMATIC:
            payment.gateway_reference = reference or payment.gateway_reference
            return _Verdict(APPLIED, "authorized: capture requested", capture=True)
        payment.authorized(reference)
        return _Verdict(APPLIED)
    if kind is EventKind.PAYMENT_FAILED:
        if status is PaymentStatus.REQUIRES_ACTION:
            return _Verdict(IGNORED_NOT_FINAL, "an attempt failed; the customer may pay again")
        if not open_:
            return _Verdict(IGNORED_STALE, f"the payment is already {status.value}")
        result = event.result
        code = result.failure_code if result is not None else None
        message = result.failure_message if result is not None else None
        if payment.next_action is not None:  # a customer flow: payable again
            payment.requires_action(None, None, payment.next_action)
            payment.failure_code, payment.failure_message = code, message
        else:
            payment.gateway_reference = reference or payment.gateway_reference
            payment.failed(code, message)
        return _Verdict(APPLIED)
    if kind is EventKind.PAYMENT_CANCELED:
        if status not in (PaymentStatus.REQUIRES_CAPTURE, PaymentStatus.REQUIRES_ACTION):
            return _Verdict(IGNORED_STALE, f"the payment is {status.value}")
        payment.cancel()
        return _Verdict(APPLIED)
    return _Verdict(IGNORED, f"{event.type} is not acted on")


def _mismatch(payment: Payment, event: GatewayEvent) -> str | None:
    if event.order_reference and payment.order_reference not in (None, event.order_reference):
        return f"order {event.order_reference} is not this payment's ({payment.order_reference})"
    if event.amount is not None:
        if event.amount.currency != payment.currency:
            return f"currency {event.amount.currency} is not the payment's {payment.currency}"
        if event.amount.amount > payment.amount:
            return f"amount {event.amount.amount} exceeds the payment's {payment.amount}"
    return None


class InboundEvents:
    def __init__(self, payments: PaymentService, clock: Callable[[], datetime]):
        self.payments = payments
        self.db = payments.db
        self.clock = clock

    async def receive(self, event: GatewayEvent, body: bytes) -> Received:
        """Store, match and apply one verified event; see the module docstring."""
        row_id = new_id("gev")
        now = self.clock()
        values = {
            "id": row_id,
            "gateway": event.gateway,
            "event_id": event.event_id[:128],
            "type": event.type[:64],
            "kind": event.kind.value,
            "outcome": "received",
            "body_sha256": hashlib.sha256(body).hexdigest(),
            "occurred_at": event.occurred_at,
            "received_at": now,
        }
        capture: Payment | None = None
        async with self.db.transaction() as conn:
            stored = await conn.execute(
                insert_ignoring_conflicts(conn.dialect.name, gateway_events, values).returning(
                    gateway_events.c.id
                )
            )
            if stored.scalar() is None:
                return Received(IGNORED_DUPLICATE, detail="this event was received before")
            if event.kind in PAYMENT_KINDS:
                received, capture = await self._payment_event(conn, event)
            elif event.kind in REFUND_KINDS:
                received = await self._refund_event(conn, event)
            elif event.kind is EventKind.REFUND_PENDING:
                received = Received(IGNORED_NOT_FINAL, detail="the refund is still pending")
            else:
                received = Received(IGNORED, detail=f"{event.type} is not acted on")
            await conn.execute(
                gateway_events.update()
                .where(gateway_events.c.id == row_id)
                .values(
                    outcome=received.outcome,
                    detail=(received.detail or "")[:500] or None,
                    payment_id=received.payment_id,
                    refund_id=received.refund_id,
                )
            )
        if capture is not None:
            await self._capture(capture, event)
        return received

    async def _match_payment(self, conn: AsyncConnection, event: GatewayEvent) -> str | None:
        ours = event.metadata.get("paystead_payment_id")
        if ours:
            try:
                payment = await repo.get_payment(conn, ours)
            except NotFound:
                payment = None
            if payment is not None:
                return payment.id
        return await repo.find_payment_id(
            conn,
            event.gateway,
            order_reference=event.order_reference,
            reference=event.payment_reference,
        )

    async def _payment_event(
        self, conn: AsyncConnection, event: GatewayEvent
    ) -> tuple[Received, Payment | None]:
        payment_id = await self._match_payment(conn, event)
        if payment_id is None:
            return Received(UNMATCHED, detail="no payment of ours carries these references"), None
        payment = await repo.get_payment(conn, payment_id, lock=True)
        if payment.gateway != event.gateway:
            detail = f"the payment went to {payment.gateway}, not {event.gateway}"
            return Received(IGNORED_STALE, payment.id, detail=detail), None
        problem = _mismatch(payment, event)
        if problem is not None:
            return Received(MISMATCH, payment.id, detail=problem), None
        before = recorders.snapshot(payment)
        was_open = payment.status in _OPEN
        verdict = decide(payment, event)
        if verdict.outcome != APPLIED:
            return Received(verdict.outcome, payment.id, detail=verdict.detail), None
        if was_open and event.result is not None and not verdict.capture:
            self.payments.learn(payment, event.result.outcome)
        payment.updated_at = self.clock()
        await repo.save_payment(conn, payment)
        await recorders.payment_changed(conn, payment, before)
        if verdict.entry is not None:
            await self.payments.ledger.post(conn, verdict.entry, at=payment.updated_at)
        return (
            Received(APPLIED, payment.id, detail=verdict.detail),
            payment if verdict.capture else None,
        )

    async def _refund_event(self, conn: AsyncConnection, event: GatewayEvent) -> Received:
        refund = None
        ours = event.metadata.get("paystead_refund_id")
        if ours:
            try:
                refund = await repo.get_refund(conn, ours)
            except NotFound:
                refund = None
        if refund is None and event.refund_reference:
            found = await repo.find_refund_id(conn, event.refund_reference)
            refund = await repo.get_refund(conn, found) if found is not None else None
        if refund is None:
            return Received(UNMATCHED, detail="no refund of ours carries these references")
        payment = await repo.get_payment(conn, refund.payment_id)
        if payment.gateway != event.gateway:
            return Received(UNMATCHED, payment.id, refund.id, "the refund is at another gateway")
        if refund.status is not RefundStatus.PENDING:
            detail = f"the refund is already {refund.status.value}"
            return Received(IGNORED_STALE, payment.id, refund.id, detail)
        if event.amount is not None and event.amount != refund.money:
            detail = f"amount {event.amount} is not the refund's {refund.money}"
            return Received(MISMATCH, payment.id, refund.id, detail)
        result = event.result
        if result is None or result.outcome not in (Outcome.REFUNDED, Outcome.DECLINED):
            return Received(IGNORED_NOT_FINAL, payment.id, refund.id, "not a final answer")
        settled = await self.payments.settle_refund(conn, refund, result)
        if settled.status is RefundStatus.PENDING:  # pragma: no cover - CAS lost to a racer
            return Received(IGNORED_STALE, payment.id, refund.id, "settled meanwhile")
        return Received(APPLIED, payment.id, refund.id)

    async def _capture(self, seen: Payment, event: GatewayEvent) -> None:
        """Capture an authorization the customer completed (see the module docstring)."""
        gateway = self.payments.gateways.get(seen.gateway)
        reference = event.payment_reference or seen.gateway_reference
        if gateway is None or reference is None:
            log.warning("cannot capture %s: gateway or reference unknown", seen.id)
            return
        try:
            await self.payments.settle_action(
                seen,
                lambda: gateway.capture(
                    reference, seen.money, idempotency_key=f"{seen.id}:confirm"
                ),
            )
        except Exception:  # the payment stays as it was; /confirm or a later event settles it
            log.exception("capturing %s after %s failed", seen.id, event.type)


async def events_of(conn: AsyncConnection, payment_id: str) -> list[dict[str, object]]:
    """The gateway events matched to a payment, oldest first (support and tests)."""
    rows = await conn.execute(
        sa.select(gateway_events)
        .where(gateway_events.c.payment_id == payment_id)
        .order_by(gateway_events.c.received_at, gateway_events.c.id)
    )
    return [dict(r._mapping) for r in rows]
