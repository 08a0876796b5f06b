"""The Stripe connector against the fake Stripe API, over real HTTP on loopback."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest

from paystead.errors import GatewayError, GatewayTransient, InvalidInput
from paystead.gateways.base import AuthorizeRequest, GatewayOutcomeUnknown, Outcome
from paystead.gateways.stripe import StripeGateway
from paystead.money import Money
from tests.fakes.stripe import FakeStripe
from tests.integration.gateways.conftest import SLOW

USD_100 = Money(10_000, "USD")


def request(
    key: str,
    payment_method: str = "pm_card_visa",
    *,
    capture: bool = True,
    amount: Money = USD_100,
) -> AuthorizeRequest:
    return AuthorizeRequest(
        amount=amount,
        payment_method=payment_method,
        capture=capture,
        idempotency_key=key,
        description="Order 42",
        metadata={"paystead_payment_id": key.split(":")[0]},
    )


def form(body: bytes) -> dict[str, str]:
    return dict(parse_qsl(body.decode(), keep_blank_values=True))


async def test_authorize_confirms_a_payment_intent_with_a_form_body(
    stripe: StripeGateway, stripe_fake: FakeStripe
) -> None:
    result = await stripe.authorize(request("pay_s1:authorize"))

    assert result.outcome is Outcome.CAPTURED
    assert result.reference is not None and result.reference.startswith("pi_")
    assert result.amount == USD_100
    assert result.fee == Money(290 + 30, "USD")  # the fake's 2.9 % + 30 cents
    assert result.gateway_status == "succeeded"
    [sent] = stripe_fake.requests_to("POST", "/v1/payment_intents")
    assert sent.headers["authorization"] == f"Bearer {stripe_fake.secret_key}"
    assert sent.headers["idempotency-key"] == "pay_s1:authorize"
    assert sent.headers["content-type"] == "application/x-www-form-urlencoded"
    assert form(sent.body) == {
        "amount": "10000",
        "currency": "usd",
        "payment_method": "pm_card_visa",
        "confirm": "true",
        "capture_method": "automatic",
        "automatic_payment_methods[enabled]": "true",
        "automatic_payment_methods[allow_redirects]": "never",
        "description": "Order 42",
        "metadata[paystead_payment_id]": "pay_s1",
        "metadata[paystead_idempotency_key]": "pay_s1:authorize",
        "expand[0]": "latest_charge.balance_transaction",
    }


async def test_manual_capture_then_a_partial_capture(
    stripe: StripeGateway, stripe_fake: FakeStripe
) -> None:
    held = await stripe.authorize(request("pay_s2:authorize", capture=False))
    assert held.outcome is Outcome.AUTHORIZED
    assert held.amount == USD_100
    assert held.fee is None
    assert held.reference is not None

    taken = await stripe.capture(
        held.reference, Money(6_000, "USD"), idempotency_key="pay_s2:capture"
    )
    assert taken.outcome is Outcome.CAPTURED
    assert taken.amount == Money(6_000, "USD")
    assert taken.fee == Money(174 + 30, "USD")
    [sent] = stripe_fake.requests_to("POST", f"/v1/payment_intents/{held.reference}/capture")
    assert form(sent.body) == {
        "amount_to_capture": "6000",
        "expand[0]": "latest_charge.balance_transaction",
    }
    assert sent.headers["idempotency-key"] == "pay_s2:capture"

    again = await stripe.capture(
        held.reference, Money(6_000, "USD"), idempotency_key="pay_s2:other"
    )
    assert again.outcome is Outcome.DECLINED
    assert again.failure_code == "payment_intent_unexpected_state"
    assert again.reference == held.reference


@pytest.mark.parametrize(
    ("method", "outcome", "code", "retryable"),
    [
        ("pm_card_chargeDeclined", Outcome.DECLINED, "card_declined", False),
        ("pm_card_chargeDeclinedInsufficientFunds", Outcome.DECLINED, "insufficient_funds", False),
        ("pm_card_chargeDeclinedExpiredCard", Outcome.DECLINED, "expired_card", False),
        ("pm_card_chargeDeclinedFraudulent", Outcome.DECLINED, "fraudulent", False),
        ("pm_card_chargeDeclinedProcessingError", Outcome.FAILED, "processing_error", True),
    ],
)
async def test_declines_are_answers_with_our_codes(
    stripe: StripeGateway, method: str, outcome: Outcome, code: str, retryable: bool
) -> None:
    result = await stripe.authorize(request(f"pay_{method}:authorize", method))
    assert (result.outcome, result.failure_code, result.retryable) == (outcome, code, retryable)
    assert result.failure_message
    assert result.reference is not None and result.reference.startswith("pi_")
    assert result.gateway_status == "requires_payment_method"
    fetched = await stripe.fetch_payment(result.reference)
    assert (fetched.outcome, fetched.failure_code) == (outcome, code)


async def test_three_d_secure_requires_action_then_completes(
    stripe: StripeGateway, stripe_fake: FakeStripe
) -> None:
    result = await stripe.authorize(request("pay_3ds:authorize", "pm_card_authenticationRequired"))
    assert result.outcome is Outcome.REQUIRES_ACTION
    assert result.next_action is not None
    assert result.next_action.type == "use_stripe_sdk"
    assert result.reference is not None
    intent = stripe_fake.intents[result.reference]
    assert result.next_action.params["client_secret"] == intent["client_secret"]
    # The customer passes 3-D Secure in the browser; Stripe moves the intent on.
    intent.update(status="succeeded", amount_received=intent["amount"], next_action=None)
    done = await stripe.complete_action(
        result.reference, USD_100, {}, capture=True, idempotency_key="pay_3ds:confirm"
    )
    assert done.outcome is Outcome.CAPTURED


async def test_a_create_retried_after_a_timeout_charges_once(
    stripe: StripeGateway, stripe_fake: FakeStripe
) -> None:
    stripe_fake.script(method="POST", path_prefix="/v1/payment_intents", delay=SLOW)
    with pytest.raises(GatewayOutcomeUnknown):
        await stripe.authorize(request("pay_sto:authorize"))
    again = await stripe.authorize(request("pay_sto:authorize"))
    assert again.outcome is Outcome.CAPTURED
    intents = [
        i
        for i in stripe_fake.intents.values()
        if i["metadata"].get("paystead_payment_id") == "pay_sto"
    ]
    assert [i["id"] for i in intents] == [again.reference]
    charges = [c for c in stripe_fake.charges.values() if c["payment_intent"] == again.reference]
    assert len(charges) == 1


async def test_a_key_reused_with_other_parameters_is_our_bug(stripe: StripeGateway) -> None:
    await stripe.authorize(request("pay_dup:authorize"))
    with pytest.raises(GatewayError) as excinfo:
        await stripe.authorize(request("pay_dup:authorize", amount=Money(5_000, "USD")))
    assert excinfo.value.code == "gateway_idempotency_conflict"
    assert not isinstance(excinfo.value, GatewayTransient)


async def test_void_cancels_an_authorization(
    stripe: StripeGateway, stripe_fake: FakeStripe
) -> None:
    held = await stripe.authorize(request("pay_void:authorize", capture=False))
    assert held.reference is not None
    voided = await stripe.void(held.reference, idempotency_key="pay_void:void")
    assert voided.outcome is Outcome.VOIDED
    [sent] = stripe_fake.requests_to("POST", f"/v1/payment_intents/{held.reference}/cancel")
    assert form(sent.body) == {"cancellation_reason": "requested_by_customer"}
    taken = await stripe.authorize(request("pay_void2:authorize"))
    assert taken.reference is not None
    refused = await stripe.void(taken.reference, idempotency_key="pay_void2:void")
    assert refused.outcome is Outcome.DECLINED
    assert refused.failure_code == "payment_intent_unexpected_state"


async def test_partial_and_full_refunds(stripe: StripeGateway, stripe_fake: FakeStripe) -> None:
    paid = await stripe.authorize(request("pay_ref:authorize"))
    assert paid.reference is not None
    part = await stripe.refund(paid.reference, Money(2_500, "USD"), idempotency_key="re_s1")
    rest = await stripe.refund(paid.reference, Money(7_500, "USD"), idempotency_key="re_s2")
    assert part.outcome is rest.outcome is Outcome.REFUNDED
    assert part.reference is not None and part.reference.startswith("re_")
    assert (part.amount, rest.amount) == (Money(2_500, "USD"), Money(7_500, "USD"))
    sent = stripe_fake.requests_to("POST", "/v1/refunds")
    assert form(sent[0].body) == {
        "payment_intent": paid.reference,
        "amount": "2500",
        "metadata[paystead_refund_id]": "re_s1",
    }
    assert [r.headers["idempotency-key"] for r in sent] == ["re_s1", "re_s2"]
    over = await stripe.refund(paid.reference, Money(1, "USD"), idempotency_key="re_s3")
    assert (over.outcome, over.failure_code) == (Outcome.DECLINED, "charge_already_refunded")
    fetched = await stripe.fetch_refund(part.reference)
    assert fetched.outcome is Outcome.REFUNDED


async def test_a_refund_larger_than_the_rest_is_declined(stripe: StripeGateway) -> None:
    paid = await stripe.authorize(request("pay_big:authorize"))
    assert paid.reference is not None
    result = await stripe.refund(paid.reference, Money(10_001, "USD"), idempotency_key="re_big")
    assert (result.outcome, result.failure_code) == (Outcome.DECLINED, "amount_too_large")


async def test_a_refund_retried_after_a_timeout_is_made_once(
    stripe: StripeGateway, stripe_fake: FakeStripe
) -> None:
    paid = await stripe.authorize(request("pay_rto2:authorize"))
    assert paid.reference is not None
    stripe_fake.script(method="POST", path_prefix="/v1/refunds", delay=SLOW)
    with pytest.raises(GatewayOutcomeUnknown):
        await stripe.refund(paid.reference, Money(1_000, "USD"), idempotency_key="re_rto2")
    again = await stripe.refund(paid.reference, Money(1_000, "USD"), idempotency_key="re_rto2")
    assert again.outcome is Outcome.REFUNDED
    refunds = [r for r in stripe_fake.refunds.values() if r["payment_intent"] == paid.reference]
    assert [r["id"] for r in refunds] == [again.reference]
    replayed = stripe_fake.requests_to("POST", "/v1/refunds")
    assert len(replayed) == 2


async def test_fetching_an_unknown_object_is_a_final_error(stripe: StripeGateway) -> None:
    with pytest.raises(GatewayError) as excinfo:
        await stripe.fetch_payment("pi_doesnotexist")
    assert excinfo.value.code == "gateway_resource_missing"
    assert not isinstance(excinfo.value, GatewayTransient)


API_ERROR = {"error": {"type": "api_error", "message": "An unknown error occurred"}}


@pytest.mark.parametrize(
    ("status", "body", "headers", "error", "code"),
    [
        (500, API_ERROR, {}, GatewayOutcomeUnknown, "gateway_server_error"),
        (503, API_ERROR, {}, GatewayTransient, "gateway_unavailable"),
        (
            429,
            {
                "error": {
                    "type": "invalid_request_error",
                    "code": "rate_limit",
                    "message": "Too many requests hit the API too quickly.",
                }
            },
            {"Stripe-Should-Retry": "true"},
            GatewayTransient,
            "gateway_rate_limited",
        ),
        (500, API_ERROR, {"Stripe-Should-Retry": "false"}, GatewayError, "gateway_error"),
    ],
)
async def test_transient_answers_raise_retryable_errors(
    stripe: StripeGateway,
    stripe_fake: FakeStripe,
    status: int,
    body: object,
    headers: dict[str, str],
    error: type[GatewayError],
    code: str,
) -> None:
    stripe_fake.script(
        method="POST", path_prefix="/v1/payment_intents", status=status, body=body, headers=headers
    )
    with pytest.raises(error) as excinfo:
        await stripe.authorize(request(f"pay_st{status}{len(headers)}:authorize"))
    assert excinfo.value.code == code
    if error is GatewayTransient:
        assert not isinstance(excinfo.value, GatewayOutcomeUnknown)
    if error is GatewayError:
        assert not isinstance(excinfo.value, GatewayTransient)


async def test_a_wrong_secret_key_is_a_final_error(
    stripe_fake: FakeStripe, stripe: StripeGateway
) -> None:
    wrong = StripeGateway(
        secret_key="sk_test_wrong0000000000", api_url=str(stripe.client._http.base_url)
    )
    try:
        with pytest.raises(GatewayError) as excinfo:
            await wrong.authorize(request("pay_s401:authorize"))
    finally:
        await wrong.aclose()
    assert excinfo.value.code == "gateway_authentication_failed"
    assert "Invalid API Key provided" in excinfo.value.detail


@pytest.mark.parametrize("method", ["tok_visa", "card_123", "pm_", "pm_card visa"])
def test_only_payment_method_ids_are_accepted(stripe: StripeGateway, method: str) -> None:
    with pytest.raises(InvalidInput):
        stripe.check_payment_method(method)
