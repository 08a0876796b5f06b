"""Razorpay webhook and Checkout signatures, checked against values computed here with
the standard library, and again with Razorpay's own SDK (``razorpay.Utility``)."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

import pytest
import razorpay

from paystead.gateways.base import Outcome
from paystead.gateways.events import (
    MAX_WEBHOOK_BYTES,
    EventKind,
    InvalidSignature,
    InvalidWebhookPayload,
)
from paystead.gateways.razorpay.checkout import checkout_signature, verify_checkout_signature
from paystead.gateways.razorpay.webhooks import parse_event, verify_and_parse, verify_signature
from paystead.money import Money

SECRET = "whsec_razorpay_webhook_secret"
OLD_SECRET = "whsec_the_previous_secret"

PAYMENT = {
    "id": "pay_FPoJKWQQ8lK13n",
    "entity": "payment",
    "amount": 500000,
    "currency": "INR",
    "base_amount": 500000,
    "status": "captured",
    "order_id": "order_FPoIeimWki9j8A",
    "invoice_id": None,
    "international": False,
    "method": "card",
    "amount_refunded": 0,
    "refund_status": None,
    "captured": True,
    "description": None,
    "notes": {"paystead_payment_id": "pay_01JQ6Z3V8M4N5P6Q7R8S9T0V1W"},
    "fee": 11800,
    "tax": 1800,
    "error_code": None,
    "error_description": None,
    "error_source": None,
    "error_step": None,
    "error_reason": None,
    "created_at": 1597733960,
}
REFUND = {
    "id": "rfnd_FS8TWyPrCsa0OB",
    "entity": "refund",
    "amount": 50000,
    "currency": "INR",
    "payment_id": "pay_FPoJKWQQ8lK13n",
    "notes": {"paystead_refund_id": "re_01JQ6Z3V8M4N5P6Q7R8S9T0V1X"},
    "receipt": None,
    "acquirer_data": {"arn": None},
    "created_at": 1597734071,
    "batch_id": None,
    "status": "processed",
    "speed_processed": "normal",
    "speed_requested": "optimum",
}


def envelope(event: str, **payload: dict[str, Any]) -> bytes:
    return json.dumps(
        {
            "entity": "event",
            "account_id": "acc_E7OQJcEANmBHTC",
            "event": event,
            "contains": list(payload),
            "payload": {name: {"entity": entity} for name, entity in payload.items()},
            "created_at": 1597734071,
        },
        separators=(",", ":"),
    ).encode()


def signed(body: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_a_signature_computed_independently_verifies() -> None:
    body = envelope("payment.captured", payment=PAYMENT)
    verify_signature(body, signed(body), [SECRET])
    # Razorpay's SDK agrees on the same three values.
    client = razorpay.Client(auth=("rzp_test_x", "key_secret"))
    assert client.utility.verify_webhook_signature(body.decode(), signed(body), SECRET) is True


def test_rotation_accepts_the_old_secret_too() -> None:
    body = envelope("payment.captured", payment=PAYMENT)
    verify_signature(body, signed(body, OLD_SECRET), [SECRET, OLD_SECRET])
    with pytest.raises(InvalidSignature):
        verify_signature(body, signed(body, OLD_SECRET), [SECRET])


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "",
        "0" * 64,
        signed(b"another body"),
        signed(envelope("payment.captured", payment=PAYMENT), "wrong"),
        "é" * 64,  # non-ASCII must not crash the comparison
    ],
)
def test_wrong_or_missing_signatures_are_refused(signature: str | None) -> None:
    body = envelope("payment.captured", payment=PAYMENT)
    with pytest.raises(InvalidSignature):
        verify_signature(body, signature, [SECRET])


def test_a_re_serialized_body_no_longer_matches() -> None:
    body = envelope("payment.captured", payment=PAYMENT)
    pretty = json.dumps(json.loads(body), indent=2).encode()
    with pytest.raises(InvalidSignature):
        verify_signature(pretty, signed(body), [SECRET])


def test_no_secret_configured_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        verify_signature(b"{}", signed(b"{}"), [""])


def test_a_huge_body_is_refused_before_hashing() -> None:
    body = b" " * (MAX_WEBHOOK_BYTES + 1)
    with pytest.raises(InvalidWebhookPayload):
        verify_signature(body, signed(body), [SECRET])


def test_payment_captured_event() -> None:
    body = envelope("payment.captured", payment=PAYMENT)
    event = verify_and_parse(
        body,
        {"X-Razorpay-Signature": signed(body), "x-razorpay-event-id": "KhpbYUu0bCZ7dh"},
        [SECRET],
    )
    assert event.gateway == "razorpay"
    assert event.event_id == "KhpbYUu0bCZ7dh"
    assert (event.type, event.kind) == ("payment.captured", EventKind.PAYMENT_CAPTURED)
    assert event.payment_reference == "pay_FPoJKWQQ8lK13n"
    assert event.order_reference == "order_FPoIeimWki9j8A"
    assert event.amount == Money(500_000, "INR")
    assert event.result is not None and event.result.outcome is Outcome.CAPTURED
    assert event.result.fee == Money(11_800, "INR")
    assert event.metadata == {"paystead_payment_id": "pay_01JQ6Z3V8M4N5P6Q7R8S9T0V1W"}
    assert event.occurred_at == datetime(2020, 8, 18, 7, 1, 11, tzinfo=UTC)


def test_header_names_are_case_insensitive() -> None:
    body = envelope(
        "payment.authorized", payment={**PAYMENT, "status": "authorized", "captured": False}
    )
    event = verify_and_parse(
        body, {"x-razorpay-signature": signed(body), "X-Razorpay-Event-Id": "e1"}, [SECRET]
    )
    assert (event.kind, event.event_id) == (EventKind.PAYMENT_AUTHORIZED, "e1")
    assert event.result is not None and event.result.outcome is Outcome.AUTHORIZED


def test_payment_failed_event() -> None:
    failed = {
        **PAYMENT,
        "status": "failed",
        "captured": False,
        "fee": None,
        "error_code": "BAD_REQUEST_ERROR",
        "error_description": "Payment failed",
        "error_source": "customer",
        "error_step": "payment_authorization",
        "error_reason": "insufficient_funds",
    }
    event = parse_event(envelope("payment.failed", payment=failed), "e2")
    assert event.kind is EventKind.PAYMENT_FAILED
    assert event.result is not None
    assert (event.result.outcome, event.result.failure_code) == (
        Outcome.DECLINED,
        "insufficient_funds",
    )


@pytest.mark.parametrize(
    ("name", "status", "kind", "outcome"),
    [
        ("refund.processed", "processed", EventKind.REFUND_SUCCEEDED, Outcome.REFUNDED),
        ("refund.failed", "failed", EventKind.REFUND_FAILED, Outcome.DECLINED),
    ],
)
def test_refund_events(name: str, status: str, kind: EventKind, outcome: Outcome) -> None:
    event = parse_event(envelope(name, refund={**REFUND, "status": status}, payment=PAYMENT), "e3")
    assert event.kind is kind
    assert event.refund_reference == "rfnd_FS8TWyPrCsa0OB"
    assert event.payment_reference == "pay_FPoJKWQQ8lK13n"
    assert event.order_reference == "order_FPoIeimWki9j8A"
    assert event.amount == Money(50_000, "INR")
    assert event.result is not None and event.result.outcome is outcome
    assert event.metadata == {"paystead_refund_id": "re_01JQ6Z3V8M4N5P6Q7R8S9T0V1X"}


def test_other_events_are_verified_but_not_acted_on() -> None:
    event = parse_event(envelope("order.paid", payment=PAYMENT, order={"id": "order_x"}), "e4")
    assert event.kind is EventKind.OTHER
    assert event.payment_reference == "pay_FPoJKWQQ8lK13n"
    assert event.result is None


def test_a_missing_event_id_falls_back_to_the_body_digest() -> None:
    body = envelope("payment.captured", payment=PAYMENT)
    event = parse_event(body, None)
    assert event.event_id == "sha256:" + hashlib.sha256(body).hexdigest()


def _broken(mutate: Any) -> bytes:
    data = json.loads(envelope("payment.captured", payment=PAYMENT))
    mutate(data)
    return json.dumps(data).encode()


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"\xff\xfe",
        b"[1, 2]",
        b'"a string"',
        _broken(lambda d: d.update(entity="order")),
        _broken(lambda d: d.update(event=7)),
        _broken(lambda d: d.update(created_at="yesterday")),
        _broken(lambda d: d.update(payload=[])),
        _broken(lambda d: d["payload"].update(payment={"entity": "pay_x"})),
        _broken(lambda d: d["payload"].pop("payment")),
        _broken(lambda d: d["payload"]["payment"]["entity"].update(amount="500000")),
        _broken(lambda d: d["payload"]["payment"]["entity"].update(amount=5000.5)),
        _broken(lambda d: d["payload"]["payment"]["entity"].update(currency="ZZZ")),
        _broken(lambda d: d["payload"]["payment"]["entity"].update(status="teleported")),
    ],
)
def test_malformed_bodies_are_payload_errors(body: bytes) -> None:
    with pytest.raises(InvalidWebhookPayload):
        verify_and_parse(body, {"X-Razorpay-Signature": signed(body)}, [SECRET])


def test_checkout_signature_matches_razorpays_formula_and_sdk() -> None:
    order_id, payment_id, key_secret = (
        "order_DLXae45SLMwqTZ",
        "pay_DLXbWV0fmyNBvt",
        "uEd4IHo8TrQMNwMP8qxLk7Gl",
    )
    expected = hmac.new(
        key_secret.encode(), f"{order_id}|{payment_id}".encode(), hashlib.sha256
    ).hexdigest()
    assert checkout_signature(order_id, payment_id, key_secret) == expected
    verify_checkout_signature(order_id, payment_id, expected, key_secret)
    client = razorpay.Client(auth=("rzp_test_uvBhuJZjsXdyn3", key_secret))
    assert client.utility.verify_payment_signature(
        {
            "razorpay_order_id": order_id,
            "razorpay_payment_id": payment_id,
            "razorpay_signature": expected,
        }
    )


@pytest.mark.parametrize(
    ("order_id", "payment_id", "secret"),
    [
        ("order_OTHER", "pay_DLXbWV0fmyNBvt", "uEd4IHo8TrQMNwMP8qxLk7Gl"),
        ("order_DLXae45SLMwqTZ", "pay_OTHER", "uEd4IHo8TrQMNwMP8qxLk7Gl"),
        ("order_DLXae45SLMwqTZ", "pay_DLXbWV0fmyNBvt", "another secret"),
    ],
)
def test_a_checkout_signature_for_anything_else_is_refused(
    order_id: str, payment_id: str, secret: str
) -> None:
    good = checkout_signature(
        "order_DLXae45SLMwqTZ", "pay_DLXbWV0fmyNBvt", "uEd4IHo8TrQMNwMP8qxLk7Gl"
    )
    with pytest.raises(InvalidSignature) as excinfo:
        verify_checkout_signature(order_id, payment_id, good, secret)
    assert excinfo.value.param == "razorpay_signature"
    with pytest.raises(InvalidSignature):
        verify_checkout_signature(
            "order_DLXae45SLMwqTZ", "pay_DLXbWV0fmyNBvt", "", "uEd4IHo8TrQMNwMP8qxLk7Gl"
        )


def test_events_are_independent_snapshots() -> None:
    data = copy.deepcopy(PAYMENT)
    event = parse_event(envelope("payment.captured", payment=data), "e5")
    data["status"] = "refunded"
    assert event.result is not None and event.result.gateway_status == "captured"
