"""Stripe webhook signatures, checked against values computed here with the standard
library, and again with Stripe's own SDK (``stripe.WebhookSignature``)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import pytest
import stripe

from paystead.gateways.base import Outcome
from paystead.gateways.events import EventKind, InvalidSignature, InvalidWebhookPayload
from paystead.gateways.stripe.webhooks import parse_event, verify_and_parse, verify_signature
from paystead.money import Money

SECRET = "whsec_test_secret_for_paystead"
ROLLED = "whsec_the_secret_being_rolled"
T = 1_700_000_000

INTENT = {
    "id": "pi_3MtwBwLkdIwHu7ix28a3tqPa",
    "object": "payment_intent",
    "amount": 2000,
    "amount_capturable": 0,
    "amount_received": 2000,
    "currency": "usd",
    "last_payment_error": None,
    "latest_charge": "ch_3MtwBwLkdIwHu7ix28a3tqPb",
    "metadata": {"paystead_payment_id": "pay_01JQ"},
    "status": "succeeded",
}


def event(kind: str, obj: dict[str, Any], event_id: str = "evt_1NG8Du2eZvKYlo2CUI79vXWy") -> bytes:
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "api_version": "2024-06-20",
            "created": T,
            "data": {"object": obj},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": kind,
        }
    ).encode()


def v1(body: bytes, timestamp: int, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def clock(now: float) -> Any:
    return lambda: now


def test_a_signature_computed_independently_verifies() -> None:
    body = event("payment_intent.succeeded", INTENT)
    header = f"t={T},v1={v1(body, T)}"
    assert verify_signature(body, header, [SECRET], clock=clock(T + 10)) == T


def test_stripes_sdk_agrees() -> None:
    body = event("payment_intent.succeeded", INTENT)
    now = int(time.time())
    header = stripe.WebhookSignature.generate_signature_header(body.decode(), SECRET, timestamp=now)
    assert header == f"t={now},v1={v1(body, now)}"
    verify_signature(body, header, [SECRET])  # the real clock: the SDK signed "now"
    assert stripe.WebhookSignature.verify_header(body.decode(), header, SECRET, tolerance=300)


def test_any_v1_under_any_secret_is_enough() -> None:
    body = event("payment_intent.succeeded", INTENT)
    header = f"t={T},v1={v1(body, T, ROLLED)},v0=ignored,v1={v1(body, T)}"
    verify_signature(body, header, [SECRET], clock=clock(T))
    verify_signature(body, f"t={T},v1={v1(body, T, ROLLED)}", [SECRET, ROLLED], clock=clock(T))


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "garbage",
        f"v1={'0' * 64}",  # no timestamp
        f"t={T}",  # no signature
        f"t=soon,v1={'0' * 64}",
        f"t={T},t={T},v1={'0' * 64}",
        f"t={T},v0={'0' * 64}",
        f"t={T},v1={'0' * 64}",
        f"t={T + 1},v1=SIGNED_AT_T",  # the timestamp is part of what is signed
    ],
)
def test_bad_headers_are_refused(header: str | None) -> None:
    body = event("payment_intent.succeeded", INTENT)
    if header is not None:
        header = header.replace("SIGNED_AT_T", v1(body, T))
    with pytest.raises(InvalidSignature):
        verify_signature(body, header, [SECRET], clock=clock(T))


@pytest.mark.parametrize("offset", [301, -301, 10_000])
def test_timestamps_outside_the_tolerance_are_refused(offset: int) -> None:
    body = event("payment_intent.succeeded", INTENT)
    header = f"t={T},v1={v1(body, T)}"
    with pytest.raises(InvalidSignature, match="tolerance"):
        verify_signature(body, header, [SECRET], clock=clock(T + offset))
    verify_signature(body, header, [SECRET], clock=clock(T + offset), tolerance=abs(offset))


def test_a_tampered_body_is_refused() -> None:
    body = event("payment_intent.succeeded", INTENT)
    header = f"t={T},v1={v1(body, T)}"
    with pytest.raises(InvalidSignature):
        verify_signature(body.replace(b"2000", b"9000"), header, [SECRET], clock=clock(T))


@pytest.mark.parametrize(
    ("name", "changes", "kind", "outcome"),
    [
        ("payment_intent.succeeded", {}, EventKind.PAYMENT_CAPTURED, Outcome.CAPTURED),
        (
            "payment_intent.amount_capturable_updated",
            {"status": "requires_capture", "amount_capturable": 2000, "amount_received": 0},
            EventKind.PAYMENT_AUTHORIZED,
            Outcome.AUTHORIZED,
        ),
        (
            "payment_intent.payment_failed",
            {
                "status": "requires_payment_method",
                "amount_received": 0,
                "last_payment_error": {
                    "type": "card_error",
                    "code": "card_declined",
                    "decline_code": "insufficient_funds",
                    "message": "Your card has insufficient funds.",
                },
            },
            EventKind.PAYMENT_FAILED,
            Outcome.DECLINED,
        ),
        (
            "payment_intent.canceled",
            {"status": "canceled", "amount_received": 0},
            EventKind.PAYMENT_CANCELED,
            Outcome.VOIDED,
        ),
    ],
)
def test_payment_intent_events(
    name: str, changes: dict[str, Any], kind: EventKind, outcome: Outcome
) -> None:
    body = event(name, {**INTENT, **changes})
    parsed = verify_and_parse(
        body, {"stripe-signature": f"t={T},v1={v1(body, T)}"}, [SECRET], clock=clock(T)
    )
    assert (parsed.gateway, parsed.type, parsed.kind) == ("stripe", name, kind)
    assert parsed.event_id == "evt_1NG8Du2eZvKYlo2CUI79vXWy"
    assert parsed.payment_reference == INTENT["id"]
    assert parsed.result is not None and parsed.result.outcome is outcome
    assert parsed.metadata == {"paystead_payment_id": "pay_01JQ"}
    if kind is EventKind.PAYMENT_FAILED:
        assert parsed.result.failure_code == "insufficient_funds"


def test_charge_refunded_reports_the_total_refunded() -> None:
    charge = {
        "id": "ch_3MtwBwLkdIwHu7ix28a3tqPb",
        "object": "charge",
        "amount": 2000,
        "amount_refunded": 1500,
        "currency": "usd",
        "payment_intent": INTENT["id"],
        "refunded": False,
        "metadata": {},
    }
    parsed = parse_event(event("charge.refunded", charge))
    assert parsed.kind is EventKind.PAYMENT_REFUNDED
    assert parsed.payment_reference == INTENT["id"]
    assert parsed.amount == Money(1500, "USD")


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        ("succeeded", EventKind.REFUND_SUCCEEDED),
        ("pending", EventKind.REFUND_PENDING),
        ("failed", EventKind.REFUND_FAILED),
        ("canceled", EventKind.REFUND_FAILED),
    ],
)
def test_refund_updated(status: str, kind: EventKind) -> None:
    refund = {
        "id": "re_3MtwBwLkdIwHu7ix0fQ5Rs2E",
        "object": "refund",
        "amount": 500,
        "currency": "usd",
        "payment_intent": INTENT["id"],
        "status": status,
        "failure_reason": "expired_or_canceled_card" if status == "failed" else None,
        "metadata": {"paystead_refund_id": "re_01JQ"},
    }
    parsed = parse_event(event("refund.updated", refund))
    assert parsed.kind is kind
    assert parsed.refund_reference == "re_3MtwBwLkdIwHu7ix0fQ5Rs2E"
    assert parsed.payment_reference == INTENT["id"]
    assert parsed.amount == Money(500, "USD")
    assert parsed.metadata == {"paystead_refund_id": "re_01JQ"}
    if status == "failed":
        assert (
            parsed.result is not None and parsed.result.failure_code == "expired_or_canceled_card"
        )


def test_other_events_are_verified_but_not_acted_on() -> None:
    parsed = parse_event(event("customer.created", {"id": "cus_1", "object": "customer"}))
    assert parsed.kind is EventKind.OTHER
    assert parsed.result is None


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        json.dumps({"object": "list"}).encode(),
        event("payment_intent.succeeded", INTENT).replace(b'"evt_1NG8Du2eZvKYlo2CUI79vXWy"', b"42"),
        event("payment_intent.succeeded", INTENT).replace(
            f'"created": {T}'.encode(), b'"created": "now"'
        ),
        json.dumps(
            {
                "id": "evt_1",
                "object": "event",
                "type": "payment_intent.succeeded",
                "created": T,
                "data": {},
            }
        ).encode(),
        event("payment_intent.succeeded", {**INTENT, "amount_received": "2000"}),
        event("payment_intent.succeeded", {**INTENT, "currency": "zzz"}),
        event("payment_intent.succeeded", {**INTENT, "status": 3}),
        event("charge.refunded", {"id": "ch_1", "object": "charge", "currency": "usd"}),
    ],
)
def test_malformed_bodies_are_payload_errors(body: bytes) -> None:
    with pytest.raises(InvalidWebhookPayload):
        verify_and_parse(
            body, {"Stripe-Signature": f"t={T},v1={v1(body, T)}"}, [SECRET], clock=clock(T)
        )
