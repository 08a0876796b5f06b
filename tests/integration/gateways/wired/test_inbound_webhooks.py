"""Inbound gateway webhooks against payments made through the fake gateways: signed here
with hmac, stored once, applied forward only; duplicates, out-of-order deliveries and
bad bodies change nothing."""

from __future__ import annotations

import copy
import time
from typing import Any

import httpx
import sqlalchemy as sa

from paystead.platform.schema import gateway_events
from paystead.wiring import Services
from tests.fakes.razorpay import FAILURES, FakeRazorpay
from tests.fakes.server import LiveServer
from tests.fakes.stripe import FakeStripe
from tests.integration.gateways.conftest import SLOW
from tests.integration.gateways.wired.conftest import (
    RAZORPAY_WEBHOOK_SECRET,
    body_of,
    browser_checkout,
    razorpay_headers,
    stripe_headers,
)

RazorpayServer = tuple[FakeRazorpay, LiveServer]


async def stored_events(services: Services) -> list[dict[str, Any]]:
    async with services.db.transaction() as conn:
        rows = await conn.execute(sa.select(gateway_events).order_by(gateway_events.c.received_at))
        return [dict(r._mapping) for r in rows]


async def state(api: httpx.AsyncClient, payment_id: str) -> tuple[dict, list, list]:
    """The payment, its ledger entries and its events: what must not change."""
    payment = (await api.get(f"/v1/payments/{payment_id}")).json()
    entries = (await api.get("/v1/ledger/entries", params={"payment": payment_id})).json()
    events = (await api.get("/v1/events", params={"object_id": payment_id})).json()
    return payment, entries["data"], events["data"]


async def razorpay_payment(api: httpx.AsyncClient, server_url: str, key: str) -> tuple[dict, dict]:
    created = await api.post(
        "/v1/payments",
        json={"amount": 50_000, "currency": "INR", "payment_method": "razorpay_checkout"},
        headers={"Idempotency-Key": key},
    )
    payment = created.json()
    answer = await browser_checkout(
        server_url, payment["next_action"]["razorpay_checkout"]["order_id"]
    )
    return payment, answer


async def deliver(api: httpx.AsyncClient, envelope: dict, event_id: str) -> httpx.Response:
    body = body_of(envelope)
    return await api.post(
        "/v1/webhooks/razorpay", content=body, headers=razorpay_headers(body, event_id)
    )


def failed_snapshot(envelope: dict[str, Any]) -> dict[str, Any]:
    """The same payment as a ``payment.failed`` event would show it."""
    failed = copy.deepcopy(envelope)
    failed["event"] = "payment.failed"
    entity = failed["payload"]["payment"]["entity"]
    code, source, step, reason, description = FAILURES["card_declined"]
    entity.update(
        status="failed",
        captured=False,
        fee=None,
        tax=None,
        error_code=code,
        error_source=source,
        error_step=step,
        error_reason=reason,
        error_description=description,
    )
    return failed


async def test_authorized_before_confirm_is_captured_and_late_or_repeated_events_change_nothing(
    api: httpx.AsyncClient, razorpay_server: RazorpayServer, wired: Services
) -> None:
    fake, server = razorpay_server
    payment, answer = await razorpay_payment(api, server.url, "wh-rzp-1")
    rzp_payment = answer["razorpay_payment_id"]

    # The browser never reaches /confirm, but Razorpay tells us the customer paid.
    authorized = fake.webhook("payment.authorized", payment_id=rzp_payment)
    response = await deliver(api, authorized, "evt_rzp_auth_1")
    assert response.status_code == 200, response.text
    assert (response.json()["outcome"], response.json()["payment"]) == ("applied", payment["id"])
    settled, entries, _ = await state(api, payment["id"])
    assert (settled["status"], settled["gateway_reference"]) == ("succeeded", rzp_payment)
    assert fake.payments[rzp_payment]["status"] == "captured"
    assert len(entries) == 1
    assert settled["attempts"][-1]["settled"] == "captured"  # counted as routing evidence

    # Then: /confirm arrives late; the captured event; a failed snapshot out of order;
    # and each of them delivered twice. None changes anything.
    snapshot = await state(api, payment["id"])
    late = await api.post(f"/v1/payments/{payment['id']}/confirm", json=answer)
    assert (late.status_code, late.json()["status"]) == (200, "succeeded")
    captured = fake.webhook("payment.captured", payment_id=rzp_payment)
    out_of_order = failed_snapshot(captured)
    outcomes = []
    for envelope, event_id in (
        (captured, "evt_rzp_cap_1"),
        (out_of_order, "evt_rzp_fail_1"),
        (captured, "evt_rzp_cap_1"),
        (out_of_order, "evt_rzp_fail_1"),
        (authorized, "evt_rzp_auth_1"),
    ):
        response = await deliver(api, envelope, event_id)
        assert response.status_code == 200, response.text
        outcomes.append(response.json()["outcome"])
    assert outcomes == [
        "ignored_stale",
        "ignored_stale",
        "ignored_duplicate",
        "ignored_duplicate",
        "ignored_duplicate",
    ]
    assert await state(api, payment["id"]) == snapshot
    assert len(fake.requests_to("POST", f"/v1/payments/{rzp_payment}/capture")) == 1
    stored = await stored_events(wired)
    assert [(e["event_id"], e["outcome"]) for e in stored] == [
        ("evt_rzp_auth_1", "applied"),
        ("evt_rzp_cap_1", "ignored_stale"),
        ("evt_rzp_fail_1", "ignored_stale"),
    ]
    assert all(e["payment_id"] == payment["id"] for e in stored)
    assert (await api.get("/v1/ledger/check")).json()["ok"] is True


async def test_a_webhook_settles_a_payment_whose_capture_answer_was_lost(
    api: httpx.AsyncClient, razorpay_server: RazorpayServer
) -> None:
    fake, server = razorpay_server
    payment, answer = await razorpay_payment(api, server.url, "wh-rzp-2")
    fake.script(method="POST", path_prefix="/v1/payments/", delay=SLOW)
    confirmed = await api.post(f"/v1/payments/{payment['id']}/confirm", json=answer)
    assert confirmed.json()["status"] == "processing"

    captured = fake.webhook("payment.captured", payment_id=answer["razorpay_payment_id"])
    assert (await deliver(api, captured, "evt_rzp_cap_2")).json()["outcome"] == "applied"
    settled, entries, events = await state(api, payment["id"])
    assert (settled["status"], settled["amount_captured"]) == ("succeeded", 50_000)
    [entry] = entries
    fee = fake.payments[answer["razorpay_payment_id"]]["fee"]
    assert ("processing_fees", fee) in {(p["account"], p["amount"]) for p in entry["postings"]}
    assert [e["type"] for e in events][:2] == ["payment.succeeded", "payment.processing"]

    # A failure snapshot delivered after the capture, then the capture again.
    snapshot = await state(api, payment["id"])
    stale = await deliver(api, failed_snapshot(captured), "evt_rzp_fail_2")
    assert stale.json()["outcome"] == "ignored_stale"
    assert (await deliver(api, captured, "evt_rzp_cap_2")).json()["outcome"] == "ignored_duplicate"
    assert await state(api, payment["id"]) == snapshot


async def test_a_failed_checkout_attempt_leaves_the_payment_payable(
    api: httpx.AsyncClient, razorpay_server: RazorpayServer
) -> None:
    fake, server = razorpay_server
    created = await api.post(
        "/v1/payments",
        json={"amount": 50_000, "currency": "INR", "payment_method": "razorpay_checkout"},
    )
    payment = created.json()
    order_id = payment["next_action"]["razorpay_checkout"]["order_id"]
    failed = await browser_checkout(server.url, order_id, outcome="insufficient_funds")
    event = fake.webhook("payment.failed", payment_id=failed["razorpay_payment_id"])
    response = await deliver(api, event, "evt_rzp_fail_3")
    assert response.json()["outcome"] == "ignored_not_final"
    assert (await api.get(f"/v1/payments/{payment['id']}")).json()["status"] == "requires_action"
    # The customer tries again and pays.
    paid = await browser_checkout(server.url, order_id)
    confirmed = await api.post(f"/v1/payments/{payment['id']}/confirm", json=paid)
    assert confirmed.json()["status"] == "succeeded"


async def test_refund_webhooks_settle_a_pending_refund_once(
    api: httpx.AsyncClient, razorpay_server: RazorpayServer
) -> None:
    fake, server = razorpay_server
    payment, answer = await razorpay_payment(api, server.url, "wh-rzp-4")
    await api.post(f"/v1/payments/{payment['id']}/confirm", json=answer)
    fake.refund_status = "pending"
    refund = (
        await api.post("/v1/refunds", json={"payment": payment["id"], "amount": 20_000})
    ).json()
    assert refund["status"] == "pending"
    rfnd = refund["gateway_reference"]
    fake.refunds[rfnd]["status"] = "processed"

    processed = fake.webhook("refund.processed", refund_id=rfnd)
    response = await deliver(api, processed, "evt_rzp_refund_1")
    assert (response.json()["outcome"], response.json()["refund"]) == ("applied", refund["id"])
    assert (await api.get(f"/v1/refunds/{refund['id']}")).json()["status"] == "succeeded"
    settled = await state(api, payment["id"])
    assert settled[0]["amount_refunded"] == 20_000
    assert sorted(e["kind"] for e in settled[1]) == ["payment.capture", "refund"]

    failed = copy.deepcopy(processed)
    failed["event"] = "refund.failed"
    failed["payload"]["refund"]["entity"]["status"] = "failed"
    assert (await deliver(api, failed, "evt_rzp_refund_2")).json()["outcome"] == "ignored_stale"
    again = await deliver(api, processed, "evt_rzp_refund_1")
    assert again.json()["outcome"] == "ignored_duplicate"
    assert await state(api, payment["id"]) == settled
    assert (await api.get(f"/v1/refunds/{refund['id']}")).json()["status"] == "succeeded"


async def test_stripe_webhooks_settle_a_timed_out_payment_forward_only(
    api: httpx.AsyncClient, stripe_fake: FakeStripe
) -> None:
    # Stripe charges, but the answer to our create is lost: the payment stays processing.
    stripe_fake.script(method="POST", path_prefix="/v1/payment_intents", delay=SLOW)
    created = await api.post(
        "/v1/payments",
        json={"amount": 2_000, "currency": "USD", "payment_method": "pm_card_visa"},
    )
    payment = created.json()
    assert (payment["status"], payment["gateway"]) == ("processing", "stripe")
    assert payment["attempts"][0]["error"] == "gateway_timeout"
    [intent] = [
        i
        for i in stripe_fake.intents.values()
        if i["metadata"].get("paystead_payment_id") == payment["id"]
    ]

    succeeded = stripe_fake.event("payment_intent.succeeded", intent)
    body = body_of(succeeded)
    response = await api.post("/v1/webhooks/stripe", content=body, headers=stripe_headers(body))
    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "applied"
    settled = await state(api, payment["id"])
    assert (settled[0]["status"], settled[0]["gateway_reference"]) == ("succeeded", intent["id"])
    assert len(settled[1]) == 1

    failed_intent = dict(intent, status="requires_payment_method", amount_received=0)
    failed_intent["last_payment_error"] = {
        "type": "card_error",
        "code": "card_declined",
        "decline_code": "generic_decline",
        "message": "Your card was declined.",
    }
    failed = stripe_fake.event("payment_intent.payment_failed", failed_intent)
    body = body_of(failed)
    late = await api.post("/v1/webhooks/stripe", content=body, headers=stripe_headers(body))
    assert late.json()["outcome"] == "ignored_stale"
    # Replayed from long ago (outside the tolerance): refused before anything is stored.
    body = body_of(stripe_fake.event("payment_intent.succeeded", intent))
    old = stripe_headers(body, at=int(time.time()) - 3600)
    refused = await api.post("/v1/webhooks/stripe", content=body, headers=old)
    assert (refused.status_code, refused.json()["code"]) == (400, "signature_invalid")
    assert await state(api, payment["id"]) == settled


async def test_bad_webhooks_are_4xx_and_change_nothing(
    api: httpx.AsyncClient, razorpay_server: RazorpayServer, wired: Services
) -> None:
    fake, server = razorpay_server
    payment, answer = await razorpay_payment(api, server.url, "wh-bad-1")
    snapshot = await state(api, payment["id"])
    good = body_of(fake.webhook("payment.authorized", payment_id=answer["razorpay_payment_id"]))
    signed = razorpay_headers(good, "evt_bad_1")
    wrong_secret = razorpay_headers(good, "evt_bad_1", secret="another-secret")
    unsigned = {k: v for k, v in signed.items() if k != "X-Razorpay-Signature"}

    wrong_types = copy.deepcopy(
        fake.webhook("payment.captured", payment_id=answer["razorpay_payment_id"])
    )
    wrong_types["payload"]["payment"]["entity"]["amount"] = "50000"
    cases: list[tuple[bytes, dict, int, str]] = [
        (good, wrong_secret, 400, "signature_invalid"),
        (good, unsigned, 400, "signature_invalid"),
        (good.replace(b"50000", b"5000"), signed, 400, "signature_invalid"),  # tampered
        (
            b"not json at all",
            razorpay_headers(b"not json at all", "e2"),
            400,
            "webhook_payload_invalid",
        ),
        (b"[1, 2, 3]", razorpay_headers(b"[1, 2, 3]", "e3"), 400, "webhook_payload_invalid"),
    ]
    typed = body_of(wrong_types)
    cases.append((typed, razorpay_headers(typed, "e4"), 400, "webhook_payload_invalid"))
    huge = b'{"entity": "event", "pad": "' + b"x" * 300_000 + b'"}'
    cases.append((huge, razorpay_headers(huge, "e5"), 413, "body_too_large"))
    for body, headers, status, code in cases:
        response = await api.post("/v1/webhooks/razorpay", content=body, headers=headers)
        assert (response.status_code, response.json()["code"]) == (status, code), body[:60]
        assert response.headers["content-type"] == "application/problem+json"
    stripe_body = body_of({"id": "evt_1", "object": "event"})
    for headers in ({}, {"Stripe-Signature": "t=1,v1=00"}, stripe_headers(stripe_body, secret="x")):
        response = await api.post("/v1/webhooks/stripe", content=stripe_body, headers=headers)
        assert (response.status_code, response.json()["code"]) == (400, "signature_invalid")

    assert await stored_events(wired) == []
    assert await state(api, payment["id"]) == snapshot
    assert fake.requests_to("POST", f"/v1/payments/{answer['razorpay_payment_id']}/capture") == []
    # Unknown objects are stored (so they can be looked into) and acknowledged.
    stranger = copy.deepcopy(
        fake.webhook("payment.captured", payment_id=answer["razorpay_payment_id"])
    )
    entity = stranger["payload"]["payment"]["entity"]
    entity.update(id="pay_notours0000000", order_id="order_notours00000", notes={})
    response = await deliver(api, stranger, "evt_stranger")
    assert (response.status_code, response.json().get("outcome")) == (200, "unmatched"), (
        response.text
    )
    assert [e["outcome"] for e in await stored_events(wired)] == ["unmatched"]
    assert RAZORPAY_WEBHOOK_SECRET not in response.text
