"""A Razorpay payment end to end against the fake Razorpay: created as requires_action
with the order Checkout needs, confirmed with Checkout's signature (computed here with
hmac), captured, posted to the ledger; forged signatures, a lost capture answer and an
unsupported cancel change nothing they should not."""

from __future__ import annotations

import httpx

from paystead.wiring import Services
from tests.fakes.razorpay import FakeRazorpay
from tests.fakes.server import LiveServer
from tests.fakes.stripe import FakeStripe
from tests.integration.gateways.conftest import SLOW
from tests.integration.gateways.wired.conftest import browser_checkout, hmac_hex

RazorpayServer = tuple[FakeRazorpay, LiveServer]


async def create(api: httpx.AsyncClient, key: str, **extra: object) -> dict:
    response = await api.post(
        "/v1/payments",
        json={"amount": 50_000, "currency": "INR", "payment_method": "razorpay_checkout", **extra},
        headers={"Idempotency-Key": key},
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def events_of(api: httpx.AsyncClient, payment_id: str) -> list[str]:
    listed = (await api.get("/v1/events", params={"object_id": payment_id, "limit": 50})).json()
    return [e["type"] for e in reversed(listed["data"])]


async def test_checkout_end_to_end(
    api: httpx.AsyncClient, razorpay_server: RazorpayServer, wired: Services
) -> None:
    fake, server = razorpay_server
    created = await create(api, "rzp-e2e-1")

    assert created["status"] == "requires_action"
    assert created["gateway"] == "razorpay"
    action = created["next_action"]
    assert action["type"] == "razorpay_checkout"
    checkout = action["razorpay_checkout"]
    order_id = checkout["order_id"]
    assert checkout == {
        "key_id": fake.key_id,
        "order_id": order_id,
        "amount": 50_000,
        "currency": "INR",
    }
    assert order_id in fake.orders and fake.orders[order_id]["amount"] == 50_000
    [attempt] = created["attempts"]
    assert (attempt["gateway"], attempt["outcome"], attempt["reference"]) == (
        "razorpay",
        "requires_action",
        order_id,
    )
    skipped = {c["gateway"]: c["skipped"] for c in attempt["decision"]["candidates"]}
    assert skipped == {"razorpay": None, "stripe": "payment_method_unsupported"}
    assert fake.orders[order_id]["notes"]["paystead_payment_id"] == created["id"]

    # The customer pays in Checkout; its handler gets a payment id and a signature.
    answer = await browser_checkout(server.url, order_id)
    payment_id = answer["razorpay_payment_id"]
    signature = hmac_hex(fake.key_secret, f"{order_id}|{payment_id}".encode())
    assert signature == answer["razorpay_signature"]
    confirmed = await api.post(
        f"/v1/payments/{created['id']}/confirm",
        json={
            "razorpay_payment_id": payment_id,
            "razorpay_order_id": order_id,
            "razorpay_signature": signature,
        },
        headers={"Idempotency-Key": "rzp-e2e-confirm-1"},
    )
    assert confirmed.status_code == 200, confirmed.text
    paid = confirmed.json()
    assert (paid["status"], paid["amount_captured"]) == ("succeeded", 50_000)
    assert paid["gateway_reference"] == payment_id
    assert paid["next_action"] is None
    assert fake.payments[payment_id]["status"] == "captured"
    assert len(fake.requests_to("POST", f"/v1/payments/{payment_id}/capture")) == 1

    entries = (await api.get("/v1/ledger/entries", params={"payment": created["id"]})).json()
    [capture] = entries["data"]
    postings = {(p["account"], p["amount"]) for p in capture["postings"]}
    fee = fake.payments[payment_id]["fee"]  # Razorpay's fee, GST included
    assert postings == {
        ("gateway_clearing:razorpay", 50_000),
        ("merchant_revenue", -50_000),
        ("processing_fees", fee),
        ("gateway_clearing:razorpay", -fee),
    }
    assert (await api.get("/v1/ledger/check")).json()["ok"] is True
    assert await events_of(api, created["id"]) == [
        "payment.created",
        "payment.requires_action",
        "payment.succeeded",
    ]
    # The same confirmation again replays the first answer; nothing is captured twice.
    again = await api.post(
        f"/v1/payments/{created['id']}/confirm",
        json={
            "razorpay_payment_id": payment_id,
            "razorpay_order_id": order_id,
            "razorpay_signature": signature,
        },
        headers={"Idempotency-Key": "rzp-e2e-confirm-1"},
    )
    assert again.content == confirmed.content
    assert len(fake.requests_to("POST", f"/v1/payments/{payment_id}/capture")) == 1


async def test_a_forged_checkout_signature_is_400_and_changes_nothing(
    api: httpx.AsyncClient, razorpay_server: RazorpayServer
) -> None:
    fake, server = razorpay_server
    created = await create(api, "rzp-forged-1")
    order_id = created["next_action"]["razorpay_checkout"]["order_id"]
    answer = await browser_checkout(server.url, order_id)
    payment_id = answer["razorpay_payment_id"]
    before = (await api.get(f"/v1/payments/{created['id']}")).json()

    for forged in (
        hmac_hex("not-the-key-secret", f"{order_id}|{payment_id}".encode()),
        hmac_hex(fake.key_secret, f"order_someoneelse|{payment_id}".encode()),
        "0" * 64,
    ):
        response = await api.post(
            f"/v1/payments/{created['id']}/confirm",
            json={"razorpay_payment_id": payment_id, "razorpay_signature": forged},
            headers={"Idempotency-Key": "rzp-forged-confirm"},
        )
        assert response.status_code == 400
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert (problem["code"], problem["param"]) == ("signature_invalid", "razorpay_signature")

    assert (await api.get(f"/v1/payments/{created['id']}")).json() == before
    assert fake.requests_to("POST", f"/v1/payments/{payment_id}/capture") == []
    assert fake.requests_to("GET", f"/v1/payments/{payment_id}") == []
    # The refused requests left the Idempotency-Key free: the genuine answer goes through.
    good = hmac_hex(fake.key_secret, f"{order_id}|{payment_id}".encode())
    response = await api.post(
        f"/v1/payments/{created['id']}/confirm",
        json={"razorpay_payment_id": payment_id, "razorpay_signature": good},
        headers={"Idempotency-Key": "rzp-forged-confirm"},
    )
    assert (response.status_code, response.json()["status"]) == (200, "succeeded")


async def test_a_payment_of_another_order_is_422_and_changes_nothing(
    api: httpx.AsyncClient, razorpay_server: RazorpayServer
) -> None:
    fake, server = razorpay_server
    ours = await create(api, "rzp-mismatch-1")
    other = await create(api, "rzp-mismatch-2", amount=70_000)
    our_order = ours["next_action"]["razorpay_checkout"]["order_id"]
    their_payment = (
        await browser_checkout(server.url, other["next_action"]["razorpay_checkout"]["order_id"])
    )["razorpay_payment_id"]
    # Signed for our order (as a forger with the key secret would), paying another order.
    signature = hmac_hex(fake.key_secret, f"{our_order}|{their_payment}".encode())
    response = await api.post(
        f"/v1/payments/{ours['id']}/confirm",
        json={"razorpay_payment_id": their_payment, "razorpay_signature": signature},
    )
    assert (response.status_code, response.json()["code"]) == (422, "razorpay_payment_mismatch")
    assert (await api.get(f"/v1/payments/{ours['id']}")).json()["status"] == "requires_action"
    assert fake.requests_to("POST", f"/v1/payments/{their_payment}/capture") == []


async def test_a_lost_capture_answer_leaves_the_payment_processing(
    api: httpx.AsyncClient, razorpay_server: RazorpayServer
) -> None:
    fake, server = razorpay_server
    created = await create(api, "rzp-timeout-1")
    order_id = created["next_action"]["razorpay_checkout"]["order_id"]
    answer = await browser_checkout(server.url, order_id)
    # Razorpay captures, but its answer arrives after our read timeout.
    fake.script(method="POST", path_prefix="/v1/payments/", delay=SLOW)
    response = await api.post(f"/v1/payments/{created['id']}/confirm", json=answer)

    assert response.status_code == 200, response.text
    payment = response.json()
    assert (payment["status"], payment["amount_captured"]) == ("processing", 0)
    assert fake.payments[answer["razorpay_payment_id"]]["status"] == "captured"
    entries = (await api.get("/v1/ledger/entries", params={"payment": created["id"]})).json()
    assert entries["data"] == []  # nothing guessed


async def test_creating_an_order_that_times_out_stays_processing(
    api: httpx.AsyncClient, razorpay_fake: FakeRazorpay
) -> None:
    razorpay_fake.script(method="POST", path_prefix="/v1/orders", delay=SLOW)
    created = await create(api, "rzp-timeout-2")

    assert created["status"] == "processing"
    assert created["next_action"] is None
    [attempt] = created["attempts"]
    assert (attempt["gateway"], attempt["outcome"], attempt["error"]) == (
        "razorpay",
        None,
        "gateway_timeout",
    )


async def test_cancel_is_409_for_an_authorization_razorpay_cannot_void(
    api: httpx.AsyncClient, razorpay_server: RazorpayServer
) -> None:
    _fake, server = razorpay_server
    created = await create(api, "rzp-cancel-1", capture_method="manual")
    order_id = created["next_action"]["razorpay_checkout"]["order_id"]
    answer = await browser_checkout(server.url, order_id)
    authorized = (await api.post(f"/v1/payments/{created['id']}/confirm", json=answer)).json()
    assert authorized["status"] == "requires_capture"

    response = await api.post(
        f"/v1/payments/{created['id']}/cancel", headers={"Idempotency-Key": "rzp-cancel-key"}
    )
    assert response.status_code == 409
    assert response.json()["code"] == "payment_cancel_unsupported"
    assert (await api.get(f"/v1/payments/{created['id']}")).json()["status"] == "requires_capture"
    # Capturing it is still possible (the key was released for a corrected retry too).
    captured = await api.post(f"/v1/payments/{created['id']}/capture")
    assert captured.json()["status"] == "succeeded"
    # A payment still waiting for its customer is canceled without the gateway.
    waiting = await create(api, "rzp-cancel-2")
    canceled = await api.post(f"/v1/payments/{waiting['id']}/cancel")
    assert (canceled.status_code, canceled.json()["status"]) == (200, "canceled")


async def test_stripe_3d_secure_is_finished_by_asking_stripe(
    api: httpx.AsyncClient, stripe_fake: FakeStripe
) -> None:
    created = await api.post(
        "/v1/payments",
        json={
            "amount": 2_000,
            "currency": "USD",
            "payment_method": "pm_card_authenticationRequired",
        },
    )
    payment = created.json()
    assert (payment["status"], payment["gateway"]) == ("requires_action", "stripe")
    action = payment["next_action"]
    intent_id = payment["gateway_reference"]
    assert action["type"] == "use_stripe_sdk"
    assert (
        action["use_stripe_sdk"]["client_secret"] == stripe_fake.intents[intent_id]["client_secret"]
    )
    # Still waiting: confirming changes nothing yet.
    waiting = await api.post(f"/v1/payments/{payment['id']}/confirm")
    assert waiting.json()["status"] == "requires_action"
    # The customer passes 3-D Secure in the browser; Stripe charges.
    stripe_fake.intents[intent_id].update(status="succeeded", amount_received=2_000)
    done = await api.post(f"/v1/payments/{payment['id']}/confirm")
    assert (done.json()["status"], done.json()["amount_captured"]) == ("succeeded", 2_000)


async def test_the_checkout_page_opens_razorpay_checkout_and_confirms_by_signature(
    api: httpx.AsyncClient, razorpay_server: RazorpayServer
) -> None:
    fake, server = razorpay_server
    created = await create(api, "rzp-page-1")
    order_id = created["next_action"]["razorpay_checkout"]["order_id"]
    anonymous = httpx.AsyncClient(transport=api._transport, base_url=str(api.base_url))
    async with anonymous:
        page = await anonymous.get(f"/checkout/{created['id']}")
        assert page.status_code == 200
        assert "https://checkout.razorpay.com/v1/checkout.js" in page.text
        assert f'"order_id": "{order_id}"' in page.text
        assert f'"key": "{fake.key_id}"' in page.text
        assert fake.key_secret not in page.text
        answer = await browser_checkout(server.url, order_id)
        forged = dict(answer, razorpay_signature="f" * 64)
        refused = await anonymous.post(f"/checkout/{created['id']}/confirm", json=forged)
        assert (refused.status_code, refused.json()["code"]) == (400, "signature_invalid")
        confirmed = await anonymous.post(f"/checkout/{created['id']}/confirm", json=answer)
        assert confirmed.json() == {"object": "checkout_status", "status": "succeeded"}
        done = await anonymous.get(f"/checkout/{created['id']}")
        assert "Payment status: succeeded." in done.text
        assert (await anonymous.get("/checkout/pay_nope")).status_code == 404
