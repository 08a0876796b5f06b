"""The Razorpay connector against the fake Razorpay API, over real HTTP on loopback."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket

import httpx
import pytest

from paystead.errors import GatewayError, GatewayTransient, InvalidAmount, InvalidInput
from paystead.gateways.base import (
    AuthorizeRequest,
    CompletesActions,
    GatewayOutcomeUnknown,
    Outcome,
)
from paystead.gateways.events import InvalidSignature
from paystead.gateways.razorpay import RazorpayGateway
from paystead.money import Money
from tests.fakes.razorpay import FakeRazorpay
from tests.integration.gateways.conftest import SLOW, timeouts

INR_500 = Money(50_000, "INR")


def request(key: str, amount: Money = INR_500, **kwargs: object) -> AuthorizeRequest:
    return AuthorizeRequest(
        amount=amount,
        payment_method=str(kwargs.pop("payment_method", "razorpay_checkout")),
        capture=bool(kwargs.pop("capture", True)),
        idempotency_key=key,
        metadata={"paystead_payment_id": key.split(":")[0]},
    )


async def checkout(
    razorpay: RazorpayGateway, order_id: str, outcome: str = "success"
) -> dict[str, str]:
    """What the browser would get back from Razorpay Checkout."""
    async with httpx.AsyncClient(base_url=razorpay.client._http.base_url) as browser:
        response = await browser.post(
            "/_test/checkout", json={"order_id": order_id, "outcome": outcome}
        )
    return dict(response.json())


async def paid_order(
    razorpay: RazorpayGateway, key: str, outcome: str = "success", amount: Money = INR_500
) -> tuple[str, dict[str, str]]:
    created = await razorpay.authorize(request(key, amount))
    assert created.reference is not None
    return created.reference, await checkout(razorpay, created.reference, outcome)


# -- authorize: an order for Checkout ----------------------------------------------------


async def test_authorize_creates_an_order_for_checkout(
    razorpay: RazorpayGateway, razorpay_fake: FakeRazorpay
) -> None:
    result = await razorpay.authorize(request("pay_auth1:authorize"))

    assert result.outcome is Outcome.REQUIRES_ACTION
    assert result.reference is not None and result.reference.startswith("order_")
    assert result.order_reference == result.reference
    assert result.amount == INR_500
    assert result.gateway_status == "created"
    assert result.next_action is not None
    assert result.next_action.type == "razorpay_checkout"
    assert dict(result.next_action.params) == {
        "key": razorpay_fake.key_id,
        "order_id": result.reference,
        "amount": 50_000,
        "currency": "INR",
    }
    [sent] = razorpay_fake.requests_to("POST", "/v1/orders")
    basic = base64.b64encode(f"{razorpay_fake.key_id}:{razorpay_fake.key_secret}".encode())
    assert sent.headers["authorization"] == f"Basic {basic.decode()}"
    assert sent.headers["content-type"] == "application/json"
    assert json.loads(sent.body) == {
        "amount": 50_000,
        "currency": "INR",
        "receipt": "pay_auth1:authorize",
        "unique_receipt": True,
        "notes": {
            "paystead_payment_id": "pay_auth1",
            "paystead_idempotency_key": "pay_auth1:authorize",
        },
    }


async def test_a_method_hint_is_passed_to_checkout(razorpay: RazorpayGateway) -> None:
    result = await razorpay.authorize(request("pay_upi:authorize", payment_method="upi"))
    assert result.next_action is not None
    assert result.next_action.params["method"] == "upi"


async def test_a_retried_authorize_gets_the_same_order(
    razorpay: RazorpayGateway, razorpay_fake: FakeRazorpay
) -> None:
    first = await razorpay.authorize(request("pay_retry1:authorize"))
    again = await razorpay.authorize(request("pay_retry1:authorize"))
    assert again.reference == first.reference
    orders = [o for o in razorpay_fake.orders.values() if o["receipt"] == "pay_retry1:authorize"]
    assert len(orders) == 1


async def test_a_long_idempotency_key_becomes_a_40_character_receipt(
    razorpay: RazorpayGateway, razorpay_fake: FakeRazorpay
) -> None:
    key = "pay_01JQ6Z3V8M4N5P6Q7R8S9T0V1W:authorize:attempt-2"
    await razorpay.authorize(request(key))
    [sent] = razorpay_fake.requests_to("POST", "/v1/orders")
    receipt = json.loads(sent.body)["receipt"]
    assert len(receipt) <= 40
    assert receipt == "rcpt_" + hashlib.sha256(key.encode()).hexdigest()[:35]


async def test_amounts_use_the_currency_exponent(
    razorpay: RazorpayGateway, razorpay_fake: FakeRazorpay
) -> None:
    await razorpay.authorize(request("pay_jpy:authorize", Money(1_500, "JPY")))
    await razorpay.authorize(request("pay_kwd:authorize", Money(12_340, "KWD")))
    bodies = [json.loads(r.body) for r in razorpay_fake.requests_to("POST", "/v1/orders")]
    assert [(b["amount"], b["currency"]) for b in bodies] == [(1_500, "JPY"), (12_340, "KWD")]


async def test_three_decimal_amounts_must_end_in_zero(
    razorpay: RazorpayGateway, razorpay_fake: FakeRazorpay
) -> None:
    with pytest.raises(InvalidAmount):
        await razorpay.authorize(request("pay_kwd2:authorize", Money(12_345, "KWD")))
    assert razorpay_fake.requests == []


async def test_an_amount_below_the_minimum_is_declined(razorpay: RazorpayGateway) -> None:
    result = await razorpay.authorize(request("pay_min:authorize", Money(99, "INR")))
    assert result.outcome is Outcome.DECLINED
    assert result.failure_code == "invalid_request"
    assert result.failure_message == "The amount must be at least INR 1.00"
    assert result.retryable is False


@pytest.mark.parametrize("method", ["pm_card_visa", "", "cash"])
async def test_unknown_payment_methods_are_rejected(razorpay: RazorpayGateway, method: str) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        razorpay.check_payment_method(method)
    assert excinfo.value.param == "payment_method"


# -- confirm: Checkout's answer, verified, then captured --------------------------------


async def test_confirm_verifies_and_captures(
    razorpay: RazorpayGateway, razorpay_fake: FakeRazorpay
) -> None:
    order_id, handler = await paid_order(razorpay, "pay_conf1:authorize")
    result = await razorpay.confirm(
        order_id, handler["razorpay_payment_id"], handler["razorpay_signature"], INR_500
    )
    assert result.outcome is Outcome.CAPTURED
    assert result.reference == handler["razorpay_payment_id"]
    assert result.order_reference == order_id
    assert result.amount == INR_500
    # The fake charges 2 % plus 18 % GST on the fee: 1000 + 180 paise.
    assert result.fee == Money(1_180, "INR")
    [capture] = razorpay_fake.requests_to("POST", "/v1/payments/")
    assert capture.path == f"/v1/payments/{handler['razorpay_payment_id']}/capture"
    assert json.loads(capture.body) == {"amount": 50_000, "currency": "INR"}
    assert razorpay_fake.orders[order_id]["status"] == "paid"


async def test_complete_action_is_confirm(razorpay: RazorpayGateway) -> None:
    assert isinstance(razorpay, CompletesActions)
    order_id, handler = await paid_order(razorpay, "pay_conf2:authorize")
    result = await razorpay.complete_action(
        order_id, INR_500, handler, capture=False, idempotency_key="pay_conf2:confirm"
    )
    assert result.outcome is Outcome.AUTHORIZED
    captured = await razorpay.capture(
        handler["razorpay_payment_id"], INR_500, idempotency_key="pay_conf2:capture"
    )
    assert captured.outcome is Outcome.CAPTURED


async def test_complete_action_needs_checkouts_values(razorpay: RazorpayGateway) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        await razorpay.complete_action(
            "order_x", INR_500, {"razorpay_payment_id": "pay_x"}, capture=True, idempotency_key="k"
        )
    assert excinfo.value.param == "razorpay_signature"
    with pytest.raises(InvalidInput) as excinfo:
        await razorpay.complete_action(
            "order_x",
            INR_500,
            {
                "razorpay_payment_id": "pay_x",
                "razorpay_signature": "s",
                "razorpay_order_id": "order_y",
            },
            capture=True,
            idempotency_key="k",
        )
    assert excinfo.value.param == "razorpay_order_id"


async def test_a_forged_signature_is_refused_before_any_call(
    razorpay: RazorpayGateway, razorpay_fake: FakeRazorpay
) -> None:
    order_id, handler = await paid_order(razorpay, "pay_forged:authorize")
    razorpay_fake.requests.clear()
    forged = hmac.new(
        b"not the key secret",
        f"{order_id}|{handler['razorpay_payment_id']}".encode(),
        hashlib.sha256,
    )
    with pytest.raises(InvalidSignature):
        await razorpay.confirm(
            order_id, handler["razorpay_payment_id"], forged.hexdigest(), INR_500
        )
    assert razorpay_fake.requests == []
    payment = razorpay_fake.payments[handler["razorpay_payment_id"]]
    assert payment["status"] == "authorized"


async def test_a_payment_of_another_order_or_amount_is_refused(
    razorpay: RazorpayGateway, razorpay_fake: FakeRazorpay
) -> None:
    order_a, _ = await paid_order(razorpay, "pay_mixa:authorize")
    order_b, handler_b = await paid_order(
        razorpay, "pay_mixb:authorize", amount=Money(10_000, "INR")
    )
    payment_b = handler_b["razorpay_payment_id"]
    # A valid signature for (order A, payment B) -- which Checkout would never issue.
    signed = hmac.new(
        razorpay_fake.key_secret.encode(), f"{order_a}|{payment_b}".encode(), hashlib.sha256
    )
    with pytest.raises(InvalidInput) as excinfo:
        await razorpay.confirm(order_a, payment_b, signed.hexdigest(), INR_500)
    assert excinfo.value.code == "razorpay_payment_mismatch"
    with pytest.raises(InvalidInput):  # right order, wrong amount
        await razorpay.confirm(order_b, payment_b, handler_b["razorpay_signature"], INR_500)
    assert razorpay_fake.payments[payment_b]["status"] == "authorized"


@pytest.mark.parametrize(
    ("outcome", "expected", "code", "retryable"),
    [
        ("insufficient_funds", Outcome.DECLINED, "insufficient_funds", False),
        ("card_declined", Outcome.DECLINED, "card_declined", False),
        ("gateway_technical_error", Outcome.FAILED, "processing_error", True),
    ],
)
async def test_failed_checkout_payments_map_to_our_codes(
    razorpay: RazorpayGateway, outcome: str, expected: Outcome, code: str, retryable: bool
) -> None:
    order_id, handler = await paid_order(razorpay, f"pay_f{outcome}:authorize", outcome)
    result = await razorpay.confirm(
        order_id, handler["razorpay_payment_id"], handler["razorpay_signature"], INR_500
    )
    assert (result.outcome, result.failure_code, result.retryable) == (expected, code, retryable)
    assert result.failure_message
    assert result.reference == handler["razorpay_payment_id"]


async def test_an_auto_captured_payment_is_not_captured_again(
    razorpay: RazorpayGateway, razorpay_fake: FakeRazorpay
) -> None:
    order_id, handler = await paid_order(razorpay, "pay_auto:authorize", "auto_capture")
    result = await razorpay.confirm(
        order_id, handler["razorpay_payment_id"], handler["razorpay_signature"], INR_500
    )
    assert result.outcome is Outcome.CAPTURED
    assert razorpay_fake.requests_to("POST", "/v1/payments/") == []


# -- capture, refunds, fetches ---------------------------------------------------------


async def _authorized(razorpay: RazorpayGateway, key: str) -> tuple[str, str]:
    order_id, handler = await paid_order(razorpay, key)
    result = await razorpay.confirm(
        order_id,
        handler["razorpay_payment_id"],
        handler["razorpay_signature"],
        INR_500,
        capture=False,
    )
    assert result.outcome is Outcome.AUTHORIZED
    return order_id, handler["razorpay_payment_id"]


async def test_a_repeated_capture_answers_captured_once(
    razorpay: RazorpayGateway, razorpay_fake: FakeRazorpay
) -> None:
    _, payment_id = await _authorized(razorpay, "pay_cap2:authorize")
    first = await razorpay.capture(payment_id, INR_500, idempotency_key="pay_cap2:capture")
    again = await razorpay.capture(payment_id, INR_500, idempotency_key="pay_cap2:capture")
    assert first.outcome is again.outcome is Outcome.CAPTURED
    assert first.fee == again.fee == Money(1_180, "INR")
    assert razorpay_fake.payments[payment_id]["status"] == "captured"


async def test_capture_by_order_reference_finds_the_payment(razorpay: RazorpayGateway) -> None:
    order_id, payment_id = await _authorized(razorpay, "pay_capo:authorize")
    result = await razorpay.capture(order_id, INR_500, idempotency_key="pay_capo:capture")
    assert (result.outcome, result.reference) == (Outcome.CAPTURED, payment_id)


async def test_partial_capture_is_declined_and_leaves_the_authorization(
    razorpay: RazorpayGateway, razorpay_fake: FakeRazorpay
) -> None:
    _, payment_id = await _authorized(razorpay, "pay_part:authorize")
    result = await razorpay.capture(payment_id, Money(20_000, "INR"), idempotency_key="k_part")
    assert result.outcome is Outcome.DECLINED
    assert result.failure_code == "partial_capture_unsupported"
    assert razorpay_fake.payments[payment_id]["status"] == "authorized"


async def test_void_is_unsupported(razorpay: RazorpayGateway) -> None:
    with pytest.raises(NotImplementedError, match="refunded"):
        await razorpay.void("pay_x", idempotency_key="pay_x:void")


async def _captured(razorpay: RazorpayGateway, key: str) -> str:
    _, payment_id = await _authorized(razorpay, key)
    await razorpay.capture(payment_id, INR_500, idempotency_key=f"{key}:capture")
    return payment_id


async def test_partial_then_full_refunds(
    razorpay: RazorpayGateway, razorpay_fake: FakeRazorpay
) -> None:
    payment_id = await _captured(razorpay, "pay_ref1:authorize")
    part = await razorpay.refund(payment_id, Money(20_000, "INR"), idempotency_key="re_ref1aaaaaa")
    rest = await razorpay.refund(payment_id, Money(30_000, "INR"), idempotency_key="re_ref1bbbbbb")
    assert part.outcome is rest.outcome is Outcome.REFUNDED
    assert part.reference != rest.reference
    assert (part.amount, rest.amount) == (Money(20_000, "INR"), Money(30_000, "INR"))
    assert razorpay_fake.payments[payment_id]["status"] == "refunded"
    sent = razorpay_fake.requests_to("POST", f"/v1/payments/{payment_id}/refund")
    assert [r.headers["x-refund-idempotency"] for r in sent] == ["re_ref1aaaaaa", "re_ref1bbbbbb"]
    assert json.loads(sent[0].body) == {
        "amount": 20_000,
        "speed": "normal",
        "notes": {"paystead_refund_id": "re_ref1aaaaaa"},
    }
    over = await razorpay.refund(payment_id, Money(1, "INR"), idempotency_key="re_ref1cccccc")
    assert over.outcome is Outcome.DECLINED
    assert over.retryable is False


async def test_refund_speed_is_configurable(
    razorpay_fake: FakeRazorpay, razorpay: RazorpayGateway
) -> None:
    payment_id = await _captured(razorpay, "pay_speed:authorize")
    fast = RazorpayGateway(
        key_id=razorpay_fake.key_id,
        key_secret=razorpay_fake.key_secret,
        api_url=str(razorpay.client._http.base_url),
        refund_speed="optimum",
    )
    try:
        await fast.refund(payment_id, INR_500, idempotency_key="re_speed_full")
    finally:
        await fast.aclose()
    [sent] = razorpay_fake.requests_to("POST", f"/v1/payments/{payment_id}/refund")
    assert json.loads(sent.body)["speed"] == "optimum"


async def test_a_pending_refund_is_pending_until_fetched_processed(
    razorpay: RazorpayGateway, razorpay_fake: FakeRazorpay
) -> None:
    payment_id = await _captured(razorpay, "pay_pend:authorize")
    razorpay_fake.refund_status = "pending"
    pending = await razorpay.refund(payment_id, INR_500, idempotency_key="re_pending_1")
    assert pending.outcome is Outcome.PENDING
    assert pending.reference is not None
    razorpay_fake.refunds[pending.reference]["status"] = "processed"
    assert (await razorpay.fetch_refund(pending.reference)).outcome is Outcome.REFUNDED


async def test_a_refund_retried_after_a_timeout_is_made_once(
    razorpay: RazorpayGateway, razorpay_fake: FakeRazorpay
) -> None:
    payment_id = await _captured(razorpay, "pay_rto:authorize")
    razorpay_fake.script(method="POST", path_prefix="/v1/payments/", delay=SLOW)
    with pytest.raises(GatewayOutcomeUnknown) as excinfo:
        await razorpay.refund(payment_id, Money(10_000, "INR"), idempotency_key="re_timeout_1")
    assert isinstance(excinfo.value, GatewayTransient)
    again = await razorpay.refund(payment_id, Money(10_000, "INR"), idempotency_key="re_timeout_1")
    assert again.outcome is Outcome.REFUNDED
    refunds = [r for r in razorpay_fake.refunds.values() if r["payment_id"] == payment_id]
    assert len(refunds) == 1 and refunds[0]["id"] == again.reference
    assert razorpay_fake.payments[payment_id]["amount_refunded"] == 10_000


async def test_a_refund_key_reused_for_another_amount_is_refused(
    razorpay: RazorpayGateway, razorpay_fake: FakeRazorpay
) -> None:
    payment_id = await _captured(razorpay, "pay_reuse:authorize")
    await razorpay.refund(payment_id, Money(10_000, "INR"), idempotency_key="re_reuse_key")
    other = await razorpay.refund(payment_id, Money(20_000, "INR"), idempotency_key="re_reuse_key")
    assert other.outcome is Outcome.DECLINED
    assert (
        other.failure_message
        == "Different request with the same idempotency key has already been processed."
    )
    assert razorpay_fake.payments[payment_id]["amount_refunded"] == 10_000


async def test_fetch_payment_by_order_and_by_payment(
    razorpay: RazorpayGateway, razorpay_fake: FakeRazorpay
) -> None:
    created = await razorpay.authorize(request("pay_fetch:authorize"))
    assert created.reference is not None
    unpaid = await razorpay.fetch_payment(created.reference)
    assert unpaid.outcome is Outcome.REQUIRES_ACTION
    assert unpaid.next_action is not None
    await checkout(razorpay, created.reference, "card_declined")  # a failed first try
    handler = await checkout(razorpay, created.reference)  # then a good one
    by_order = await razorpay.fetch_payment(created.reference)
    assert (by_order.outcome, by_order.reference) == (
        Outcome.AUTHORIZED,
        handler["razorpay_payment_id"],
    )
    by_payment = await razorpay.fetch_payment(handler["razorpay_payment_id"])
    assert by_payment.outcome is Outcome.AUTHORIZED
    with pytest.raises(GatewayError) as excinfo:
        await razorpay.fetch_payment("pay_doesnotexist1")
    assert excinfo.value.code == "gateway_resource_missing"
    with pytest.raises(InvalidInput):
        await razorpay.fetch_payment("../orders")


# -- failures to get an answer ---------------------------------------------------------


async def test_an_order_create_that_times_out_is_retried_into_the_same_order(
    razorpay: RazorpayGateway, razorpay_fake: FakeRazorpay
) -> None:
    razorpay_fake.script(method="POST", path_prefix="/v1/orders", delay=SLOW)
    with pytest.raises(GatewayOutcomeUnknown) as excinfo:
        await razorpay.authorize(request("pay_oto:authorize"))
    assert excinfo.value.code == "gateway_timeout"
    again = await razorpay.authorize(request("pay_oto:authorize"))
    assert again.outcome is Outcome.REQUIRES_ACTION
    assert [
        o["id"] for o in razorpay_fake.orders.values() if o["receipt"] == "pay_oto:authorize"
    ] == [again.reference]


SERVER_ERROR = {
    "error": {
        "code": "SERVER_ERROR",
        "description": "The server encountered an error. The incident has been reported to admins.",
        "source": "NA",
        "step": "NA",
        "reason": "NA",
        "metadata": {},
    }
}


@pytest.mark.parametrize(
    ("status", "body", "error", "code"),
    [
        (500, SERVER_ERROR, GatewayOutcomeUnknown, "gateway_server_error"),
        (502, b"<html>Bad Gateway</html>", GatewayOutcomeUnknown, "gateway_server_error"),
        (503, SERVER_ERROR, GatewayTransient, "gateway_unavailable"),
        (
            429,
            {"error": {"code": "BAD_REQUEST_ERROR", "description": "Too many requests"}},
            GatewayTransient,
            "gateway_rate_limited",
        ),
    ],
)
async def test_transient_answers_raise_retryable_errors(
    razorpay: RazorpayGateway,
    razorpay_fake: FakeRazorpay,
    status: int,
    body: object,
    error: type[GatewayTransient],
    code: str,
) -> None:
    razorpay_fake.script(method="POST", path_prefix="/v1/orders", status=status, body=body)
    with pytest.raises(error) as excinfo:
        await razorpay.authorize(request(f"pay_t{status}:authorize"))
    assert excinfo.value.code == code
    if error is GatewayTransient:  # not acted on: safe to try elsewhere
        assert not isinstance(excinfo.value, GatewayOutcomeUnknown)
    assert not any(
        o["receipt"] == f"pay_t{status}:authorize" for o in razorpay_fake.orders.values()
    )


async def test_wrong_credentials_are_a_final_error(
    razorpay_fake: FakeRazorpay, razorpay: RazorpayGateway
) -> None:
    wrong = RazorpayGateway(
        key_id=razorpay_fake.key_id,
        key_secret="not-the-secret",
        api_url=str(razorpay.client._http.base_url),
    )
    try:
        with pytest.raises(GatewayError) as excinfo:
            await wrong.authorize(request("pay_auth401:authorize"))
    finally:
        await wrong.aclose()
    assert excinfo.value.code == "gateway_authentication_failed"
    assert not isinstance(excinfo.value, GatewayTransient)


async def test_an_unreachable_gateway_is_transient_and_safe_to_fall_back() -> None:
    with socket.socket() as sock:  # a port with nothing listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    gateway = RazorpayGateway(
        key_id="rzp_test_x", key_secret="s", api_url=f"http://127.0.0.1:{port}", timeouts=timeouts()
    )
    try:
        with pytest.raises(GatewayTransient) as excinfo:
            await gateway.authorize(request("pay_down:authorize"))
    finally:
        await gateway.aclose()
    assert excinfo.value.code == "gateway_unreachable"
    assert not isinstance(excinfo.value, GatewayOutcomeUnknown)


async def test_a_retried_authorize_reports_what_checkout_did(razorpay: RazorpayGateway) -> None:
    order_id, _ = await paid_order(razorpay, "pay_again:authorize", "card_declined")
    still_open = await razorpay.authorize(request("pay_again:authorize"))
    assert (still_open.outcome, still_open.reference) == (Outcome.REQUIRES_ACTION, order_id)
    handler = await checkout(razorpay, order_id)
    paid = await razorpay.authorize(request("pay_again:authorize"))
    assert (paid.outcome, paid.reference) == (Outcome.AUTHORIZED, handler["razorpay_payment_id"])
    assert paid.order_reference == order_id
