"""The event catalog, and objects in events exactly as the API shows them."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from paystead.api.schemas import CustomerOut, PaymentOut, RefundOut
from paystead.customers.repository import Customer
from paystead.errors import InvalidInput
from paystead.events import catalog
from paystead.events.objects import changed, customer_object, payment_object, refund_object
from paystead.events.outbox import Event
from paystead.payments.model import CaptureMethod, Payment, PaymentStatus, Refund, RefundStatus

DOCS = Path(__file__).parents[3] / "docs" / "events.md"
AT = datetime(2026, 4, 1, 12, 0, 30, 123456, tzinfo=UTC)


def test_the_docs_list_every_event_type_with_its_description() -> None:
    rows = dict(
        re.findall(
            r"^\| `([a-z_]+(?:\.[a-z_]+)+)` \| `?[a-z_]+`? \| (yes|no) \|", DOCS.read_text(), re.M
        )
    )
    assert rows == {name: "yes" if t.deliverable else "no" for name, t in catalog.CATALOG.items()}


def test_types_are_unique_and_named_after_their_object() -> None:
    for name, event_type in catalog.CATALOG.items():
        # "payment.created"; Stripe's "customer.subscription.created" names its parent too.
        assert name.rsplit(".", 1)[0].split(".")[-1] == event_type.object_type
    with pytest.raises(ValueError, match="twice"):
        catalog.define("payment.created", "payment", "again")


def test_subscriptions_take_deliverable_types_or_the_wildcard() -> None:
    assert catalog.check_subscription(["refund.failed", "refund.failed", "payment.failed"]) == [
        "refund.failed",
        "payment.failed",
    ]
    assert catalog.check_subscription(["payment.failed", "*"]) == ["*"]
    for bad in ([], ["payment.nope"], ["webhook_endpoint.created"]):
        with pytest.raises(InvalidInput) as caught:
            catalog.check_subscription(bad)
        assert caught.value.param == "events"
    assert catalog.subscribed(["*"], "payment.created")
    assert not catalog.subscribed(["*"], "webhook_endpoint.created")
    assert not catalog.subscribed(["refund.failed"], "payment.created")


def _payment() -> Payment:
    return Payment(
        id="pay_1",
        amount=50000,
        currency="INR",
        payment_method="pm_card_visa",
        capture_method=CaptureMethod.MANUAL,
        status=PaymentStatus.REQUIRES_CAPTURE,
        gateway="sandbox",
        created_at=AT,
        updated_at=AT,
        customer_id="cus_1",
        metadata={"order": "42"},
    )


def test_objects_match_what_the_api_returns() -> None:
    payment = _payment()
    assert payment_object(payment) == PaymentOut.of(payment).model_dump(mode="json")
    refund = Refund("re_1", "pay_1", 100, "INR", RefundStatus.PENDING, AT, AT, reason="duplicate")
    assert refund_object(refund) == RefundOut.of(refund).model_dump(mode="json")
    customer = Customer("cus_1", "a@example.com", "A", AT, phone="+919876543210")
    assert customer_object(customer) == CustomerOut.of(customer).model_dump(mode="json")


def test_changed_keeps_the_old_values_of_changed_fields_only() -> None:
    payment = _payment()
    before = payment_object(payment)
    payment.start_capture(None)
    payment.captured(50000, "ref_9")
    payment.updated_at = datetime(2026, 4, 2, tzinfo=UTC)
    assert changed(before, payment_object(payment)) == {
        "status": "requires_capture",
        "amount_captured": 0,
        "gateway_reference": None,
    }


def test_an_event_body_is_the_api_and_webhook_payload() -> None:
    event = Event(
        id="evt_1",
        type="payment.succeeded",
        object_type="payment",
        object_id="pay_1",
        data={"id": "pay_1"},
        previous={"status": "processing"},
        actor="key_1",
        request_id="req_1",
        created_at=AT,
    )
    assert event.body() == {
        "id": "evt_1",
        "object": "event",
        "type": "payment.succeeded",
        "created": 1775044830,
        "timestamp": "2026-04-01T12:00:30.123456Z",
        "data": {"object": {"id": "pay_1"}, "previous_attributes": {"status": "processing"}},
        "request": {"id": "req_1"},
    }
