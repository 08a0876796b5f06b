"""Stripe's documented JSON -> our results, and our requests -> Stripe's form encoding."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from stripe._encode import _api_encode  # the SDK's own encoder, as an independent check

from paystead.errors import GatewayError, GatewayTransient
from paystead.gateways.base import AuthorizeRequest, GatewayOutcomeUnknown, Outcome
from paystead.gateways.stripe import transformers as t
from paystead.money import Money

INTENT: dict[str, Any] = {
    "id": "pi_3MtwBwLkdIwHu7ix28a3tqPa",
    "object": "payment_intent",
    "amount": 2000,
    "amount_capturable": 0,
    "amount_received": 2000,
    "capture_method": "automatic",
    "client_secret": "pi_3MtwBwLkdIwHu7ix28a3tqPa_secret_YrKJUKribcBjcG8HVhfZluoGH",
    "confirmation_method": "automatic",
    "created": 1680800504,
    "currency": "usd",
    "last_payment_error": None,
    "latest_charge": "ch_3MtwBwLkdIwHu7ix28a3tqPb",
    "livemode": False,
    "metadata": {},
    "next_action": None,
    "payment_method": "pm_1MtwBwLkdIwHu7ixvSrDYlZ8",
    "status": "succeeded",
}

CARD_DECLINED = {
    "error": {
        "code": "card_declined",
        "decline_code": "insufficient_funds",
        "doc_url": "https://stripe.com/docs/error-codes/card-declined",
        "message": "Your card has insufficient funds.",
        "type": "card_error",
        "payment_intent": {**INTENT, "status": "requires_payment_method", "amount_received": 0},
    }
}


def with_(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**base, **changes}


def test_form_encoding_matches_the_sdk() -> None:
    params = {
        "amount": 2000,
        "currency": "usd",
        "confirm": True,
        "description": None,
        "metadata": {"order_id": "6735", "note": "a&b=c"},
        "automatic_payment_methods": {"enabled": True, "allow_redirects": "never"},
        "expand": ["latest_charge.balance_transaction", "customer"],
        "items": [{"price": "p_1", "quantity": 2}],
    }
    ours = list(t.encode_form(params))
    sdk = [(k, str(v).lower() if isinstance(v, bool) else str(v)) for k, v in _api_encode(params)]
    assert ours == sdk
    assert urlencode(ours) == urlencode(sdk)
    assert ("metadata[order_id]", "6735") in ours
    assert ("expand[1]", "customer") in ours
    assert ("items[0][quantity]", "2") in ours
    assert all(k != "description" for k, _ in ours)


def test_payment_intent_body() -> None:
    request = AuthorizeRequest(
        Money(2000, "USD"),
        "pm_card_visa",
        False,
        "pay_1:authorize",
        "Order 6735",
        {"paystead_payment_id": "pay_1"},
    )
    body = t.payment_intent_body(request)
    assert body["currency"] == "usd"
    assert body["capture_method"] == "manual"
    assert body["confirm"] is True
    assert body["metadata"] == {
        "paystead_payment_id": "pay_1",
        "paystead_idempotency_key": "pay_1:authorize",
    }
    assert t.capture_body(Money(1500, "USD"))["amount_to_capture"] == 1500
    assert t.refund_body("pi_1", Money(500, "JPY"), idempotency_key="re_1") == {
        "payment_intent": "pi_1",
        "amount": 500,
        "metadata": {"paystead_refund_id": "re_1"},
    }


@pytest.mark.parametrize(
    ("changes", "outcome", "amount"),
    [
        ({}, Outcome.CAPTURED, 2000),
        (
            {"status": "requires_capture", "amount_capturable": 2000, "amount_received": 0},
            Outcome.AUTHORIZED,
            2000,
        ),
        ({"status": "processing", "amount_received": 0}, Outcome.PENDING, 2000),
        ({"status": "canceled", "amount_received": 0}, Outcome.VOIDED, 2000),
        ({"status": "requires_confirmation", "amount_received": 0}, Outcome.REQUIRES_ACTION, 2000),
        (
            {"status": "requires_payment_method", "amount_received": 0},
            Outcome.REQUIRES_ACTION,
            2000,
        ),
    ],
)
def test_payment_intent_statuses(changes: dict[str, Any], outcome: Outcome, amount: int) -> None:
    result = t.payment_intent_result(with_(INTENT, **changes))
    assert result.outcome is outcome
    assert result.amount == Money(amount, "USD")
    assert result.reference == INTENT["id"]


def test_requires_action_carries_the_next_action() -> None:
    intent = with_(
        INTENT,
        status="requires_action",
        amount_received=0,
        next_action={
            "type": "redirect_to_url",
            "redirect_to_url": {"url": "https://hooks.stripe.com/3d", "return_url": "x"},
        },
    )
    result = t.payment_intent_result(intent)
    assert result.next_action is not None
    assert result.next_action.type == "redirect_to_url"
    assert result.next_action.params == {
        "payment_intent": INTENT["id"],
        "client_secret": INTENT["client_secret"],
        "url": "https://hooks.stripe.com/3d",
    }


def test_fee_comes_from_the_expanded_balance_transaction() -> None:
    charge = {
        "id": "ch_1",
        "object": "charge",
        "balance_transaction": {"id": "txn_1", "fee": 88, "currency": "usd"},
    }
    assert t.payment_intent_result(with_(INTENT, latest_charge=charge)).fee == Money(88, "USD")
    settled_in_eur = {
        **charge,
        "balance_transaction": {"id": "txn_1", "fee": 80, "currency": "eur"},
    }
    assert t.payment_intent_result(with_(INTENT, latest_charge=settled_in_eur)).fee is None
    assert t.payment_intent_result(INTENT).fee is None  # not expanded


def test_a_failed_intent_is_declined_with_its_last_error() -> None:
    failed = with_(
        INTENT,
        status="requires_payment_method",
        amount_received=0,
        last_payment_error={
            "type": "card_error",
            "code": "card_declined",
            "decline_code": "lost_card",
            "message": "Your card was declined.",
        },
    )
    result = t.payment_intent_result(failed)
    assert (result.outcome, result.failure_code, result.retryable) == (
        Outcome.DECLINED,
        "lost_card",
        False,
    )


def test_the_decline_body_becomes_a_declined_result() -> None:
    error = t.parse_error(CARD_DECLINED)
    assert error is not None
    assert t.error_for_status(402, error) is None
    result = t.declined(error)
    assert result.outcome is Outcome.DECLINED
    assert result.failure_code == "insufficient_funds"
    assert result.failure_message == "Your card has insufficient funds."
    assert result.reference == INTENT["id"]
    assert result.gateway_status == "requires_payment_method"


@pytest.mark.parametrize(
    ("error", "code", "outcome", "retryable"),
    [
        (
            {"type": "card_error", "code": "card_declined", "decline_code": "generic_decline"},
            "card_declined",
            Outcome.DECLINED,
            False,
        ),
        (
            {"type": "card_error", "code": "card_declined", "decline_code": "do_not_honor"},
            "card_declined",
            Outcome.DECLINED,
            False,
        ),
        (
            {"type": "card_error", "code": "card_declined", "decline_code": "fraudulent"},
            "fraudulent",
            Outcome.DECLINED,
            False,
        ),
        (
            {"type": "card_error", "code": "card_declined", "decline_code": "pickup_card"},
            "pickup_card",
            Outcome.DECLINED,
            False,
        ),
        ({"type": "card_error", "code": "expired_card"}, "expired_card", Outcome.DECLINED, False),
        ({"type": "card_error", "code": "incorrect_cvc"}, "incorrect_cvc", Outcome.DECLINED, False),
        (
            {"type": "card_error", "code": "processing_error"},
            "processing_error",
            Outcome.FAILED,
            True,
        ),
        ({"type": "card_error"}, "card_declined", Outcome.DECLINED, False),
        ({"type": "invalid_request_error"}, "invalid_request", Outcome.DECLINED, False),
    ],
)
def test_decline_codes(error: dict[str, str], code: str, outcome: Outcome, retryable: bool) -> None:
    parsed = t.parse_error({"error": {"message": "m", **error}})
    assert parsed is not None
    result = t.declined(parsed)
    assert (result.outcome, result.failure_code, result.retryable) == (outcome, code, retryable)


@pytest.mark.parametrize(
    ("status", "error", "should_retry", "expected", "code"),
    [
        (
            401,
            {"type": "invalid_request_error"},
            None,
            GatewayError,
            "gateway_authentication_failed",
        ),
        (403, {"type": "invalid_request_error"}, None, GatewayError, "gateway_permission_denied"),
        (
            404,
            {"type": "invalid_request_error", "code": "resource_missing"},
            None,
            GatewayError,
            "gateway_resource_missing",
        ),
        (400, {"type": "idempotency_error"}, None, GatewayError, "gateway_idempotency_conflict"),
        (
            429,
            {"type": "invalid_request_error", "code": "rate_limit"},
            None,
            GatewayTransient,
            "gateway_rate_limited",
        ),
        (
            400,
            {"type": "invalid_request_error", "code": "rate_limit"},
            None,
            GatewayTransient,
            "gateway_rate_limited",
        ),
        (503, {"type": "api_error"}, None, GatewayTransient, "gateway_unavailable"),
        (500, {"type": "api_error"}, None, GatewayOutcomeUnknown, "gateway_server_error"),
        (
            409,
            {"type": "idempotency_error_in_flight"},
            None,
            GatewayOutcomeUnknown,
            "gateway_server_error",
        ),
        (500, {"type": "api_error"}, "false", GatewayError, "gateway_error"),
    ],
)
def test_error_classification(
    status: int,
    error: dict[str, str],
    should_retry: str | None,
    expected: type[GatewayError],
    code: str,
) -> None:
    parsed = t.parse_error({"error": {"message": "m", **error}})
    raised = t.error_for_status(status, parsed, should_retry=should_retry)
    assert type(raised) is expected
    assert raised.code == code


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        ("succeeded", Outcome.REFUNDED),
        ("pending", Outcome.PENDING),
        ("requires_action", Outcome.PENDING),
        ("failed", Outcome.DECLINED),
        ("canceled", Outcome.DECLINED),
    ],
)
def test_refund_statuses(status: str, outcome: Outcome) -> None:
    refund = {
        "id": "re_1",
        "object": "refund",
        "amount": 100,
        "currency": "usd",
        "status": status,
        "failure_reason": None,
    }
    result = t.refund_result(refund)
    assert result.outcome is outcome
    assert result.amount == Money(100, "USD")
    if outcome is Outcome.DECLINED:
        assert result.failure_code == f"refund_{status}"


def test_a_malformed_intent_is_a_gateway_error() -> None:
    for broken in (
        with_(INTENT, status="mystery"),
        with_(INTENT, amount_received="2000"),
        with_(INTENT, currency="zzz"),
    ):
        with pytest.raises(GatewayError):
            t.payment_intent_result(broken)
