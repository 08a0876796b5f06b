"""Razorpay's documented JSON -> our results, and our requests -> Razorpay's shapes.

The samples are Razorpay's own (API reference: Orders entity, Capture a Payment,
Refunds entity, About Errors), with only ids and amounts varied where a test needs.
"""

from __future__ import annotations

from typing import Any

import pytest

from paystead.errors import GatewayError, GatewayTransient, InvalidInput
from paystead.gateways.base import AuthorizeRequest, GatewayOutcomeUnknown, Outcome
from paystead.gateways.razorpay import transformers as t
from paystead.money import Money

ORDER = {
    "id": "order_DaZlswtdcn9UNV",
    "entity": "order",
    "amount": 50000,
    "amount_paid": 0,
    "amount_due": 50000,
    "currency": "INR",
    "receipt": "Receipt #20",
    "status": "created",
    "attempts": 0,
    "notes": {"key1": "value1", "key2": "value2"},
    "created_at": 1572502745,
}

CAPTURED = {
    "id": "pay_G3P9vcIhRs3NV4",
    "entity": "payment",
    "amount": 1000,
    "currency": "INR",
    "status": "captured",
    "order_id": "order_GjCr5oKh4AVC51",
    "invoice_id": None,
    "international": False,
    "method": "card",
    "amount_refunded": 0,
    "refund_status": None,
    "captured": True,
    "description": "Payment for Adidas shoes",
    "card_id": "card_KOdY30ajbuyOYN",
    "bank": None,
    "wallet": None,
    "vpa": None,
    "email": "gaurav.kumar@example.com",
    "contact": "9000090000",
    "customer_id": "cust_K6fNE0WJZWGqtN",
    "notes": [],
    "fee": 1,
    "tax": 0,
    "error_code": None,
    "error_description": None,
    "error_source": None,
    "error_step": None,
    "error_reason": None,
    "created_at": 1667397881,
}

REFUND = {
    "id": "rfnd_FgRAHdNOM4ZVbO",
    "entity": "refund",
    "amount": 10000,
    "currency": "INR",
    "payment_id": "pay_FgR9UMzgmKDJRi",
    "notes": {"notes_key_1": "Beam me up Scotty.", "notes_key_2": "Engage"},
    "receipt": None,
    "acquirer_data": {"arn": "10000000000000"},
    "created_at": 1600856650,
    "batch_id": None,
    "status": "processed",
    "speed_processed": "normal",
    "speed_requested": "normal",
}

OTP_ERROR = {
    "error": {
        "code": "BAD_REQUEST_ERROR",
        "description": "Authentication failed due to incorrect otp",
        "field": None,
        "source": "customer",
        "step": "payment_authentication",
        "reason": "invalid_otp",
        "metadata": {"payment_id": "pay_EDNBKIP31Y4jl8", "order_id": "order_DBJKIP31Y4jl8"},
    }
}


def with_(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**base, **changes}


def test_order_becomes_a_checkout_action() -> None:
    result = t.order_result(ORDER, key_id="rzp_test_key")
    assert result.outcome is Outcome.REQUIRES_ACTION
    assert result.reference == result.order_reference == "order_DaZlswtdcn9UNV"
    assert result.amount == Money(50_000, "INR")
    assert result.next_action is not None
    assert dict(result.next_action.params) == {
        "key": "rzp_test_key",
        "order_id": "order_DaZlswtdcn9UNV",
        "amount": 50000,
        "currency": "INR",
    }


@pytest.mark.parametrize(
    ("changes", "outcome"),
    [
        ({}, Outcome.CAPTURED),
        ({"status": "authorized", "captured": False, "fee": None}, Outcome.AUTHORIZED),
        ({"status": "created", "captured": False}, Outcome.PENDING),
        ({"status": "refunded", "amount_refunded": 1000}, Outcome.CAPTURED),
        ({"status": "refunded", "captured": False, "amount_refunded": 1000}, Outcome.VOIDED),
    ],
)
def test_payment_statuses(changes: dict[str, Any], outcome: Outcome) -> None:
    result = t.payment_result(with_(CAPTURED, **changes))
    assert result.outcome is outcome
    assert result.reference == "pay_G3P9vcIhRs3NV4"
    assert result.order_reference == "order_GjCr5oKh4AVC51"
    assert result.amount == Money(1000, "INR")
    assert result.gateway_status == changes.get("status", "captured")


def test_a_captured_payment_carries_its_fee() -> None:
    assert t.payment_result(with_(CAPTURED, fee=2360, tax=360)).fee == Money(2360, "INR")
    assert t.payment_result(with_(CAPTURED, fee=None)).fee is None


@pytest.mark.parametrize(
    ("code", "reason", "outcome", "ours", "retryable"),
    [
        ("BAD_REQUEST_ERROR", "insufficient_funds", Outcome.DECLINED, "insufficient_funds", False),
        ("BAD_REQUEST_ERROR", "payment_cancelled", Outcome.DECLINED, "payment_canceled", False),
        ("BAD_REQUEST_ERROR", "invalid_otp", Outcome.DECLINED, "invalid_otp", False),
        ("GATEWAY_ERROR", "gateway_technical_error", Outcome.FAILED, "processing_error", True),
        ("GATEWAY_ERROR", None, Outcome.DECLINED, "card_declined", False),
        ("BAD_REQUEST_ERROR", "NA", Outcome.DECLINED, "invalid_request", False),
    ],
)
def test_failed_payments_map_to_our_codes(
    code: str, reason: str | None, outcome: Outcome, ours: str, retryable: bool
) -> None:
    failed = with_(
        CAPTURED,
        status="failed",
        captured=False,
        fee=None,
        error_code=code,
        error_description="Payment failed",
        error_source="customer",
        error_step="payment_authorization",
        error_reason=reason,
    )
    result = t.payment_result(failed)
    assert (result.outcome, result.failure_code, result.retryable) == (outcome, ours, retryable)
    assert result.failure_message == "Payment failed"


@pytest.mark.parametrize(
    ("status", "outcome"),
    [("processed", Outcome.REFUNDED), ("pending", Outcome.PENDING), ("failed", Outcome.DECLINED)],
)
def test_refund_statuses(status: str, outcome: Outcome) -> None:
    result = t.refund_result(with_(REFUND, status=status))
    assert result.outcome is outcome
    assert result.reference == "rfnd_FgRAHdNOM4ZVbO"
    assert result.amount == Money(10_000, "INR")
    if outcome is Outcome.DECLINED:
        assert result.failure_code == "refund_failed"


@pytest.mark.parametrize(
    "broken",
    [
        with_(CAPTURED, status="mystery"),
        with_(CAPTURED, amount="1000"),
        with_(CAPTURED, amount=10.5),
        with_(CAPTURED, currency="XYZ"),
        {k: v for k, v in CAPTURED.items() if k != "id"},
    ],
)
def test_a_malformed_entity_is_a_gateway_error(broken: dict[str, Any]) -> None:
    with pytest.raises(GatewayError):
        t.payment_result(broken)


def test_the_documented_error_body_parses() -> None:
    error = t.parse_error(OTP_ERROR)
    assert error is not None
    assert (error.code, error.reason, error.source, error.step) == (
        "BAD_REQUEST_ERROR",
        "invalid_otp",
        "customer",
        "payment_authentication",
    )
    assert error.field is None
    assert error.metadata["payment_id"] == "pay_EDNBKIP31Y4jl8"
    declined = t.declined(error, reference="pay_EDNBKIP31Y4jl8")
    assert (declined.outcome, declined.failure_code) == (Outcome.DECLINED, "invalid_otp")
    assert t.parse_error({"message": "not razorpay's shape"}) is None


@pytest.mark.parametrize(
    ("status", "code", "expected", "our_code"),
    [
        (401, "BAD_REQUEST_ERROR", GatewayError, "gateway_authentication_failed"),
        (429, "BAD_REQUEST_ERROR", GatewayTransient, "gateway_rate_limited"),
        (503, "SERVER_ERROR", GatewayTransient, "gateway_unavailable"),
        (500, "SERVER_ERROR", GatewayOutcomeUnknown, "gateway_server_error"),
        (504, "SERVER_ERROR", GatewayOutcomeUnknown, "gateway_server_error"),
        (409, "BAD_REQUEST_ERROR", GatewayOutcomeUnknown, "gateway_request_in_flight"),
        (400, "SERVER_ERROR", GatewayOutcomeUnknown, "gateway_server_error"),
    ],
)
def test_error_classification(
    status: int, code: str, expected: type[GatewayError], our_code: str
) -> None:
    raised = t.error_for_status(status, t.RazorpayError(code=code, description="d"))
    assert type(raised) is expected
    assert raised.code == our_code


@pytest.mark.parametrize("code", ["BAD_REQUEST_ERROR", "GATEWAY_ERROR"])
def test_bad_request_and_gateway_errors_are_declines(code: str) -> None:
    assert t.error_for_status(400, t.RazorpayError(code=code, description="d")) is None


def test_request_bodies() -> None:
    request = AuthorizeRequest(
        Money(50_000, "INR"),
        "upi",
        True,
        "pay_1:authorize",
        metadata={"paystead_payment_id": "pay_1"},
    )
    assert t.order_body(request) == {
        "amount": 50_000,
        "currency": "INR",
        "receipt": "pay_1:authorize",
        "unique_receipt": True,
        "notes": {"paystead_payment_id": "pay_1", "paystead_idempotency_key": "pay_1:authorize"},
    }
    assert t.capture_body(Money(1_000, "INR")) == {"amount": 1_000, "currency": "INR"}
    assert t.refund_body(Money(500, "INR"), speed="optimum", idempotency_key="re_1") == {
        "amount": 500,
        "speed": "optimum",
        "notes": {"paystead_refund_id": "re_1"},
    }
    with pytest.raises(ValueError):
        t.refund_body(Money(500, "INR"), speed="instant", idempotency_key="re_1")


def test_notes_respect_razorpays_limits() -> None:
    with pytest.raises(InvalidInput):
        t.notes_for({f"k{i}": "v" for i in range(15)}, paystead_idempotency_key="x")
    with pytest.raises(InvalidInput):
        t.notes_for({"long": "x" * 257})


@pytest.mark.parametrize(
    ("key", "valid"),
    [
        ("re_01JQ6Z3V8M4N5P6Q7R8S9T0V1W", True),
        ("550e8400-e29b-41d4-a716-446655440000", True),
        ("short", False),
        ("re_1:refund with spaces", False),
    ],
)
def test_refund_idempotency_keys_are_made_valid(key: str, valid: bool) -> None:
    sent = t.refund_idempotency_key(key)
    assert (sent == key) is valid
    assert len(sent) >= 10
    assert sent.replace("-", "").replace("_", "").isalnum()
    assert t.refund_idempotency_key(key) == sent  # stable


def test_best_payment_prefers_the_one_that_moved_money() -> None:
    failed = with_(CAPTURED, id="pay_a", status="failed", created_at=3)
    authorized = with_(CAPTURED, id="pay_b", status="authorized", created_at=2)
    newer_failed = with_(CAPTURED, id="pay_c", status="failed", created_at=5)
    assert t.best_payment([failed, authorized, newer_failed])["id"] == "pay_b"  # type: ignore[index]
    assert t.best_payment([failed, newer_failed])["id"] == "pay_c"  # type: ignore[index]
    assert t.best_payment([]) is None
