"""Settling stuck objects: payments and refunds whose answer never came.

A gateway call that timed out leaves its payment ``processing`` (or a refund
``pending``) until a webhook says how it ended; a lost webhook would leave it there for
good. :func:`settle_stuck` finds what has been open longer than ``older_than``, asks the
gateway, and applies the answer exactly as an inbound webhook would: the answer becomes
a :class:`~paystead.gateways.events.GatewayEvent` handed to
:meth:`~paystead.payments.inbound.InboundEvents.receive`, so it is stored on
``gateway_events`` (type ``paystead.settle.payment`` / ``paystead.settle.refund``),
applied forward only, with its outbox event, and its ledger entry posted once.

How the gateway is asked:

* an object with a gateway reference: ``fetch_payment`` / ``fetch_refund``;
* a payment whose authorization timed out before any reference came back: the same
  authorization is sent again with the **same idempotency key** (``{id}:authorize``),
  which every connector makes a lookup of the first one (Stripe's ``Idempotency-Key``,
  Razorpay's ``receipt``, the sandbox's derived reference); likewise a refund with the
  same key (its id).

An answer that is not final (``PENDING``, ``REQUIRES_ACTION``) or no answer at all
leaves the object as it was, for the next run.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass, field
from datetime import timedelta

import sqlalchemy as sa

from paystead.errors import GatewayError
from paystead.gateways.base import AuthorizeRequest, GatewayResult, Outcome
from paystead.gateways.events import EventKind, GatewayEvent
from paystead.ids import new_id
from paystead.payments import repository as repo
from paystead.payments.inbound import APPLIED, InboundEvents
from paystead.payments.model import CaptureMethod, Payment, PaymentStatus, Refund, RefundStatus
from paystead.platform.schema import payments as payments_table
from paystead.platform.schema import refunds as refunds_table

log = logging.getLogger(__name__)

#: Payment statuses waiting for a gateway's answer.
STUCK_PAYMENT_STATUSES = (PaymentStatus.PROCESSING, PaymentStatus.REQUIRES_ACTION)

_PAYMENT_KINDS = {
    Outcome.CAPTURED: EventKind.PAYMENT_CAPTURED,
    Outcome.AUTHORIZED: EventKind.PAYMENT_AUTHORIZED,
    Outcome.DECLINED: EventKind.PAYMENT_FAILED,
    Outcome.VOIDED: EventKind.PAYMENT_CANCELED,
}
_REFUND_KINDS = {
    Outcome.REFUNDED: EventKind.REFUND_SUCCEEDED,
    Outcome.DECLINED: EventKind.REFUND_FAILED,
}


@dataclass
class SettleSummary:
    """What one run did: counts, and one line per object looked at."""

    checked: int = 0
    settled: int = 0
    unchanged: int = 0
    errors: int = 0
    lines: list[str] = field(default_factory=list)

    def note(self, what: str, object_id: str, detail: str) -> None:
        self.lines.append(f"{object_id}: {what} ({detail})")


def _payment_kind(result: GatewayResult) -> EventKind | None:
    if result.outcome is Outcome.FAILED and not result.retryable:
        return EventKind.PAYMENT_FAILED
    return _PAYMENT_KINDS.get(result.outcome)


async def _ask_payment(inbound: InboundEvents, payment: Payment) -> GatewayResult:
    gateway = inbound.payments.gateways.get(payment.gateway)
    if gateway is None:
        raise GatewayError(f"gateway {payment.gateway!r} is not enabled")
    reference = payment.gateway_reference or payment.order_reference
    if reference is not None:
        return await gateway.fetch_payment(reference)
    return await gateway.authorize(
        AuthorizeRequest(
            amount=payment.money,
            payment_method=payment.payment_method,
            capture=payment.capture_method is CaptureMethod.AUTOMATIC,
            idempotency_key=f"{payment.id}:authorize",
            description=payment.description,
            metadata={"paystead_payment_id": payment.id},
        )
    )


async def _ask_refund(inbound: InboundEvents, refund: Refund, payment: Payment) -> GatewayResult:
    gateway = inbound.payments.gateways.get(payment.gateway)
    if gateway is None:
        raise GatewayError(f"gateway {payment.gateway!r} is not enabled")
    if refund.gateway_reference is not None:
        return await gateway.fetch_refund(refund.gateway_reference)
    return await gateway.refund(
        payment.gateway_reference or payment.id, refund.money, idempotency_key=refund.id
    )


async def settle_stuck(
    inbound: InboundEvents, *, older_than: timedelta, limit: int = 500
) -> SettleSummary:
    """Ask the gateway about every payment and refund open longer than ``older_than``
    and apply the final answers (see the module docstring). Safe to run concurrently
    with webhooks and with itself: applying is forward-only under a row lock."""
    summary = SettleSummary()
    now = inbound.clock()
    cutoff = now - older_than
    async with inbound.db.transaction() as conn:
        payment_ids = list(
            (
                await conn.execute(
                    sa.select(payments_table.c.id)
                    .where(
                        payments_table.c.status.in_([s.value for s in STUCK_PAYMENT_STATUSES]),
                        payments_table.c.updated_at < cutoff,
                    )
                    .order_by(payments_table.c.updated_at, payments_table.c.id)
                    .limit(limit)
                )
            ).scalars()
        )
        refund_ids = list(
            (
                await conn.execute(
                    sa.select(refunds_table.c.id)
                    .where(
                        refunds_table.c.status == RefundStatus.PENDING.value,
                        refunds_table.c.updated_at < cutoff,
                    )
                    .order_by(refunds_table.c.updated_at, refunds_table.c.id)
                    .limit(limit)
                )
            ).scalars()
        )
    for payment_id in payment_ids:
        summary.checked += 1
        async with inbound.db.transaction() as conn:
            payment = await repo.get_payment(conn, payment_id)
        try:
            result = await _ask_payment(inbound, payment)
        except (GatewayError, NotImplementedError) as exc:
            summary.errors += 1
            summary.note("error", payment.id, str(exc))
            log.warning("settling payment %s: the gateway did not answer: %s", payment.id, exc)
            continue
        kind = _payment_kind(result)
        if kind is None:
            summary.unchanged += 1
            summary.note("unchanged", payment.id, f"the gateway says {result.outcome}")
            continue
        event = GatewayEvent(
            gateway=payment.gateway,
            event_id=new_id("settle"),
            type="paystead.settle.payment",
            kind=kind,
            occurred_at=now,
            payment_reference=result.reference,
            order_reference=result.order_reference,
            result=result,
            amount=result.amount,
            metadata={"paystead_payment_id": payment.id},
        )
        received = await inbound.receive(event, _body(event))
        _count(summary, payment.id, received.outcome, received.detail or str(result.outcome))
    for refund_id in refund_ids:
        summary.checked += 1
        async with inbound.db.transaction() as conn:
            refund = await repo.get_refund(conn, refund_id)
            payment = await repo.get_payment(conn, refund.payment_id)
        try:
            result = await _ask_refund(inbound, refund, payment)
        except (GatewayError, NotImplementedError) as exc:
            summary.errors += 1
            summary.note("error", refund.id, str(exc))
            log.warning("settling refund %s: the gateway did not answer: %s", refund.id, exc)
            continue
        refund_kind = _REFUND_KINDS.get(result.outcome)
        if refund_kind is None:
            summary.unchanged += 1
            summary.note("unchanged", refund.id, f"the gateway says {result.outcome}")
            continue
        event = GatewayEvent(
            gateway=payment.gateway,
            event_id=new_id("settle"),
            type="paystead.settle.refund",
            kind=refund_kind,
            occurred_at=now,
            payment_reference=payment.gateway_reference,
            refund_reference=result.reference or refund.gateway_reference,
            result=result,
            amount=result.amount,
            metadata={"paystead_refund_id": refund.id},
        )
        received = await inbound.receive(event, _body(event))
        _count(summary, refund.id, received.outcome, received.detail or str(result.outcome))
    return summary


def _count(summary: SettleSummary, object_id: str, outcome: str, detail: str) -> None:
    if outcome == APPLIED:
        summary.settled += 1
        summary.note("settled", object_id, detail)
    else:
        summary.unchanged += 1
        summary.note(outcome, object_id, detail)


def _body(event: GatewayEvent) -> bytes:
    """What is hashed onto the stored event row (there is no provider body)."""
    result = event.result
    return json.dumps(
        {
            "type": event.type,
            "kind": str(event.kind),
            "outcome": str(result.outcome) if result is not None else None,
            "reference": result.reference if result is not None else None,
            "metadata": dict(event.metadata),
        },
        sort_keys=True,
    ).encode()


async def run_periodically(
    inbound: InboundEvents, *, older_than: timedelta, interval: float, stop: asyncio.Event
) -> None:
    """``paystead serve``'s settle loop: one run every ``interval`` seconds until ``stop``
    (the first after one interval, so a restart does not hit the gateways at once)."""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
        if stop.is_set():
            break
        try:
            summary = await settle_stuck(inbound, older_than=older_than)
        except Exception:  # a failed run is retried next interval; the loop never dies
            log.exception("settling stuck payments and refunds failed")
            continue
        if summary.checked:
            log.info(
                "settle: %d checked, %d settled, %d unchanged, %d errors",
                summary.checked,
                summary.settled,
                summary.unchanged,
                summary.errors,
            )
