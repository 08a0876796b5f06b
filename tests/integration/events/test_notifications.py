"""Email to a real SMTP server on loopback (aiosmtpd), SMS to a fake Twilio speaking its
wire format; both queued through the outbox, retried, de-duplicated and measured."""

from __future__ import annotations

import base64
from datetime import timedelta

import sqlalchemy as sa

from paystead.audit.chain import verify
from paystead.config import Settings
from paystead.events.delivery import Channel, health_by_channel, list_attempts, list_deliveries
from paystead.money import Money
from paystead.payments.service import CreatePayment, CreateRefund
from paystead.platform.schema import deliveries, events
from paystead.wiring import Services, build_worker
from tests.conftest import FrozenClock
from tests.integration.events.conftest import MakeServices
from tests.integration.events.loopback import FakeTwilio, SmtpSink, free_port

TOKEN = "twilio-test-token"


def notify_settings(smtp: SmtpSink | None, twilio: FakeTwilio) -> dict[str, object]:
    return {
        "smtp_url": smtp.url if smtp is not None else None,
        "email_from": "Acme Payments <billing@acme.test>",
        "notify_merchant_name": "Acme",
        "sms_provider": "twilio",
        "twilio_account_sid": twilio.account_sid,
        "twilio_auth_token": TOKEN,
        "twilio_from_number": "+15005550006",
        "twilio_api_url": twilio.base_url,
        "sms_dlt_template_ids": {"payment_receipt": "1107160000000000001"},
    }


async def customer_payment(services: Services, method: str = "pm_card_visa") -> str:
    customer = await services.customers.create(
        email="asha@example.com", name="Asha <Rao>", phone="+91 98765 43210"
    )
    payment = await services.payments.create(
        CreatePayment(Money(50000, "INR"), method, customer_id=customer.id, description="Plan A")
    )
    return payment.id


async def test_a_receipt_is_emailed_and_texted(
    make_services: MakeServices, clock: FrozenClock
) -> None:
    with SmtpSink() as smtp, FakeTwilio() as twilio:
        services = await make_services(**notify_settings(smtp, twilio))
        worker = build_worker(services, clock=clock)
        try:
            payment_id = await customer_payment(services)
            await worker.run_until_idle()
        finally:
            await worker.close()
        [mail] = smtp.parsed()
        [sms] = twilio.snapshot()

    assert mail["Subject"] == "Your receipt from Acme: 500.00 INR"
    assert mail["To"] == "asha@example.com"
    assert mail["From"] == "Acme Payments <billing@acme.test>"
    assert mail["X-Paystead-Delivery"].startswith("dlv_")
    text = mail.get_body(preferencelist=("plain",))
    html = mail.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    text_body, html_body = text.get_content(), html.get_content()
    assert "Hi Asha <Rao>," in text_body
    assert "Amount paid: 500.00 INR" in text_body and payment_id in text_body
    assert "Plan A" in text_body
    assert "Thank you, Asha &lt;Rao&gt;" in html_body  # HTML is escaped
    assert "<strong>500.00 INR</strong>" in html_body

    form = FakeTwilio.form(sms)
    assert form == {
        "To": "+919876543210",
        "From": "+15005550006",
        "Body": f"Acme: payment of 500.00 INR received. Ref {payment_id}.",
    }
    expected_auth = base64.b64encode(f"{twilio.account_sid}:{TOKEN}".encode()).decode()
    assert sms.headers["authorization"] == f"Basic {expected_auth}"
    assert sms.headers["content-type"] == "application/x-www-form-urlencoded"

    async with services.db.transaction() as conn:
        outcomes, _ = await list_attempts(conn, limit=10)
        health = await health_by_channel(
            conn, since=clock.now - timedelta(minutes=1), until=clock.now + timedelta(minutes=1)
        )
    assert sorted((a.channel, a.destination, a.succeeded, a.status_code) for a in outcomes) == [
        ("email", "smtp", True, 250),
        ("sms", "twilio", True, 201),
    ]
    assert [(h.channel, h.attempts, h.success_rate) for h in health] == [
        ("email", 1, 1.0),
        ("sms", 1, 1.0),
    ]
    assert all(h.mean_latency_ms is not None and h.mean_latency_ms >= 0 for h in health)


async def test_refund_and_failure_notifications(
    make_services: MakeServices, clock: FrozenClock
) -> None:
    with SmtpSink() as smtp, FakeTwilio() as twilio:
        services = await make_services(**notify_settings(smtp, twilio))
        worker = build_worker(services, clock=clock)
        try:
            payment_id = await customer_payment(services)
            await services.payments.refund(CreateRefund(payment_id, 12345))
            await customer_payment(services, "pm_card_insufficient_funds")
            await worker.run_until_idle()
        finally:
            await worker.close()
        subjects = sorted(m["Subject"] for m in smtp.parsed())
        bodies = sorted(FakeTwilio.form(r)["Body"] for r in twilio.snapshot())

    assert subjects == [
        "Your payment of 500.00 INR to Acme did not go through",
        "Your receipt from Acme: 500.00 INR",
        "Your refund of 123.45 INR from Acme",
    ]
    assert bodies[0].startswith("Acme: payment of 500.00 INR received.")
    assert bodies[1].startswith("Acme: refund of 123.45 INR processed")
    assert bodies[2].startswith("Acme: your payment of 500.00 INR did not go through.")


async def test_sms_retries_a_5xx_and_dead_letters_a_bad_number(
    make_services: MakeServices, clock: FrozenClock
) -> None:
    twilio = FakeTwilio(
        replies=[
            (503, {"code": 20503, "message": "Service unavailable", "status": 503}),
            (400, {"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400}),
        ]
    )
    with twilio:
        services = await make_services(
            **notify_settings(None, twilio),
            notify_retry_schedule=[0, 30, 300],
        )
        worker = build_worker(services, clock=clock)
        try:
            await customer_payment(services)  # 1st try: 503 (retried), 2nd: 400 (final)
            await worker.run_until_idle()
            clock.advance(seconds=40)
            await worker.run_until_idle()
            await customer_payment(services)  # a fresh receipt: 201
            await worker.run_until_idle()
        finally:
            await worker.close()
        assert len(twilio.snapshot()) == 3

    async with services.db.transaction() as conn:
        jobs, _ = await list_deliveries(conn, limit=10)
        tried, _ = await list_attempts(conn, channel=Channel.SMS, limit=10)
    assert sorted((j.status, j.attempts) for j in jobs) == [("dead", 2), ("succeeded", 1)]
    dead = next(j for j in jobs if j.status == "dead")
    assert dead.last_error is not None and "21211" in dead.last_error
    assert [(a.status_code, a.succeeded) for a in reversed(tried)] == [
        (503, False),
        (400, False),
        (201, True),
    ]


async def test_a_refused_mailbox_is_final_and_smtp_down_is_retried(
    make_services: MakeServices, clock: FrozenClock
) -> None:
    with SmtpSink(refuse=True) as refusing:
        services = await make_services(smtp_url=refusing.url)
        worker = build_worker(services, clock=clock)
        try:
            await customer_payment(services)
            await worker.run_until_idle()
        finally:
            await worker.close()
    down = await make_services(smtp_url=f"smtp://127.0.0.1:{free_port()}")
    worker = build_worker(down, clock=clock)
    try:
        await customer_payment(down)
        await worker.run_until_idle()
    finally:
        await worker.close()

    async with services.db.transaction() as conn:
        jobs, _ = await list_deliveries(conn, limit=10)
    by_status = sorted((j.status, j.attempts, j.last_error or "") for j in jobs)
    assert by_status[0][:2] == ("dead", 1)
    assert by_status[0][2] == "recipient refused: SMTP 550 5.1.1 No such user here"
    assert by_status[1][:2] == ("pending", 1)  # connection refused: tried again later


async def test_notifications_are_never_sent_twice_for_one_event(
    make_services: MakeServices, clock: FrozenClock
) -> None:
    with SmtpSink() as smtp, FakeTwilio() as twilio:
        services = await make_services(**notify_settings(smtp, twilio))
        worker = build_worker(services, clock=clock)
        try:
            await customer_payment(services)
            await worker.run_until_idle()
            async with services.db.transaction() as conn:  # dispatch everything again
                await conn.execute(events.update().values(dispatched_at=None))
            assert (await worker.run_until_idle()).dispatched > 0
        finally:
            await worker.close()
        assert len(smtp.messages) == 1
        assert len(twilio.snapshot()) == 1

    async with services.db.transaction() as conn:
        jobs = (await conn.execute(sa.select(sa.func.count()).select_from(deliveries))).scalar()
        chain = await verify(conn)
    assert jobs == 2
    assert chain.ok and chain.checked == 3  # customer, payment created and succeeded: once each


async def test_no_channel_is_configured_by_default_but_the_sms_log() -> None:
    from paystead.wiring import build_channels

    channels = build_channels(Settings(), lambda: FrozenClock().now)
    assert [c.channel.value for c in channels] == ["webhook", "sms"]
    assert [
        c.channel.value for c in build_channels(Settings(sms_provider="none"), FrozenClock())
    ] == ["webhook"]
    for channel in channels:
        await channel.close()
