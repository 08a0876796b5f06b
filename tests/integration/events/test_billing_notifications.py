"""Billing notices through real billing flows, on SQLite and PostgreSQL: the invoice
email with its PDF, receipts, credit notes, dunning through a test clock and a declined
card, the trial notice, the cancellation, and a PDF that fails to render. Email is read
back from a real SMTP server (aiosmtpd), SMS from a fake Twilio on loopback."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.message import EmailMessage
from pathlib import Path

import pypdf

from paystead.billing.catalog import Price, Recurring
from paystead.billing.invoice_service import DraftLine
from paystead.billing.subscription_service import ItemInput
from paystead.events.delivery import Channel, list_attempts, list_deliveries
from paystead.notify.attachments import InvoicePdfs
from paystead.platform.schema import events
from paystead.wiring import Services, build_worker
from tests.conftest import FrozenClock
from tests.integration.events.conftest import MakeServices
from tests.integration.events.loopback import FakeTwilio, SmtpSink

NOW = datetime(2026, 5, 10, 6, 0, tzinfo=UTC)
SELLER_GSTIN = "27AAPFU0939F1ZV"  # Maharashtra
MH_ADDRESS = {
    "line1": "2 FC Road",
    "city": "Pune",
    "state_code": "27",
    "postal_code": "411004",
    "country": "IN",
}
UPDATE_URL = "https://acme.test/billing/payment-method"


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[arg-type, misc]


def billing_settings(smtp: SmtpSink, twilio: FakeTwilio, **more: object) -> dict[str, object]:
    return {
        "smtp_url": smtp.url,
        "email_from": "Acme Billing <billing@acme.test>",
        "notify_merchant_name": "Acme",
        "sms_provider": "twilio",
        "twilio_account_sid": twilio.account_sid,
        "twilio_auth_token": "twilio-test-token",
        "twilio_from_number": "+15005550006",
        "twilio_api_url": twilio.base_url,
        "seller_gstin": SELLER_GSTIN,
        "seller_name": "Acme Cloud",
        **more,
    }


def subject(mail: EmailMessage) -> str:
    return str(mail["Subject"]).strip()


def text_of(mail: EmailMessage) -> str:
    body = mail.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


def html_of(mail: EmailMessage) -> str:
    body = mail.get_body(preferencelist=("html",))
    assert body is not None
    return str(body.get_content())


def pdfs_of(mail: EmailMessage) -> dict[str, str]:
    """filename -> the text pypdf reads from the attached PDF."""
    found: dict[str, str] = {}
    for part in mail.iter_attachments():
        assert part.get_content_type() == "application/pdf"
        data = part.get_payload(decode=True)
        assert isinstance(data, bytes)
        reader = pypdf.PdfReader(io.BytesIO(data))
        found[str(part.get_filename())] = "\n".join(p.extract_text() for p in reader.pages)
    return found


def sms_bodies(twilio: FakeTwilio) -> list[str]:
    return [FakeTwilio.form(r)["Body"] for r in twilio.snapshot()]


async def send_invoice(services: Services, customer_id: str) -> str:
    draft = await services.invoices.create_draft(
        customer_id=customer_id,
        currency="INR",
        lines=[
            DraftLine(
                "Pro plan", 1, 10000000, kind="one_off", tax_rate=Decimal(18), tax_code="998314"
            )
        ],
        collection_method="send_invoice",
        days_until_due=15,
        now=NOW,
    )
    return draft.id


async def test_invoice_email_with_its_pdf_then_receipt_and_credit_note(
    make_services: MakeServices, clock: FrozenClock
) -> None:
    with SmtpSink() as smtp, FakeTwilio() as twilio:
        services = await make_services(**billing_settings(smtp, twilio))
        worker = build_worker(services, clock=clock)
        try:
            buyer = await services.customers.create(
                email="asha@example.com",
                name="Asha Rao",
                phone="+91 98765 43210",
                address=MH_ADDRESS,
                payment_method="pm_card_visa",
                locale="en_IN",
            )
            invoice = await services.invoices.finalize(
                await send_invoice(services, buyer.id), now=NOW
            )
            await worker.run_until_idle()
            [issued] = smtp.parsed()
            issued_sms = sms_bodies(twilio)

            paid = await services.invoices.pay(invoice.id, now=NOW + timedelta(days=2))
            note = await services.credit_notes.create(
                invoice_id=invoice.id,
                outcome="credit_balance",
                amount=11800,
                reason="duplicate",
                now=NOW + timedelta(days=3),
            )
            await worker.run_until_idle()
            # Delivered concurrently: in any order.
            [receipt] = [m for m in smtp.parsed() if subject(m).startswith("Receipt")]
            [credit] = [m for m in smtp.parsed() if subject(m).startswith("Credit note")]
            assert len(smtp.messages) == 3
            all_sms = sms_bodies(twilio)
        finally:
            await worker.close()

    number = invoice.number
    assert number == "INV/26-27/00001" and paid.status == "paid"
    # ₹1,00,000.00 + 18 % GST, in Indian digit grouping (Babel, en_IN).
    assert issued["Subject"] == f"Invoice {number} from Acme: ₹1,18,000.00 due by 25 May 2026"
    assert issued["To"] == "asha@example.com"
    assert issued.get_content_type() == "multipart/mixed"
    text = text_of(issued)
    assert "Amount due:    ₹1,18,000.00" in text and "Due by:        25 May 2026" in text
    assert "The PDF copy is attached to this email." in text
    assert "<strong>₹1,18,000.00</strong>" in html_of(issued)
    [(filename, pdf_text)] = pdfs_of(issued).items()
    assert filename == "INV-26-27-00001.pdf"
    assert number in pdf_text and "1,18,000.00" in pdf_text

    assert receipt["Subject"] == f"Receipt for invoice {number} from Acme: ₹1,18,000.00"
    receipt_text = text_of(receipt)
    assert "Amount paid:   ₹1,18,000.00" in receipt_text and "Paid on:       12 May 2026" in (
        receipt_text
    )
    assert number in pdfs_of(receipt)["INV-26-27-00001.pdf"]

    assert credit["Subject"] == f"Credit note {note.number} from Acme: ₹118.00"
    credit_text = text_of(credit)
    assert f"against invoice {number} (duplicate)" in credit_text
    assert "added to your credit balance" in credit_text
    [(cn_file, cn_text)] = pdfs_of(credit).items()
    assert cn_file == "CN-26-27-00001.pdf" and note.number in cn_text and number in cn_text

    # SMS: the short versions; the invoice's own charge sends no separate payment notice.
    assert issued_sms == [
        f"Acme: invoice {number} for 1,18,000.00 INR is due by 25 May 2026. "
        "The invoice is in your email."
    ]
    assert all_sms[1:] == [f"Acme: invoice {number} of 1,18,000.00 INR is paid. Thank you."]
    assert [m["Subject"] for m in smtp.parsed()].count("Your receipt from Acme: 1180.00 INR") == 0


async def test_dunning_emails_name_each_retry_then_the_cancellation(
    make_services: MakeServices, clock: FrozenClock
) -> None:
    with SmtpSink() as smtp, FakeTwilio() as twilio:
        services = await make_services(
            **billing_settings(
                smtp, twilio, notify_update_payment_url=UPDATE_URL, seller_gstin=None
            )
        )
        worker = build_worker(services, clock=clock)
        try:
            product = await services.catalog.create_product(name="Team plan", tax_rate="0")
            price = await services.catalog.create_price(
                Price(
                    id="",
                    product_id=product.id,
                    currency="INR",
                    created_at=at(2027, 1, 1),
                    unit_amount=99900,
                    recurring=Recurring(interval="month"),
                )
            )
            test_clock = await services.test_clocks.create(frozen_time=at(2027, 4, 1), name="t")
            customer = await services.customers.create(
                email="dev@example.com",
                name="Dev",
                phone="+1 415 555 2671",
                payment_method="pm_card_visa",
                locale="en_US",
                test_clock=test_clock.id,
            )
            sub = await services.subscriptions.create(
                customer=customer.id, items=[ItemInput(price.id, 1)]
            )
            await services.customers.update(customer.id, {"payment_method": "pm_card_declined"})
            await services.test_clocks.advance(test_clock.id, frozen_time=at(2027, 5, 1))
            await worker.run_until_idle()
            first_two = smtp.parsed()
            await services.test_clocks.advance(test_clock.id, frozen_time=at(2027, 5, 20))
            await worker.run_until_idle()
            sent = len(smtp.messages), len(twilio.snapshot())
            async with services.db.transaction() as conn:  # dispatch everything again
                await conn.execute(events.update().values(dispatched_at=None))
            assert (await worker.run_until_idle()).dispatched > 0
            assert (len(smtp.messages), len(twilio.snapshot())) == sent  # nothing twice
            mails = smtp.parsed()
            texts = sms_bodies(twilio)
        finally:
            await worker.close()

    # (A subject over 78 characters is folded onto its own line; parsing keeps the space.)
    subjects = [subject(m) for m in mails]
    retry = "Payment for your Team plan subscription failed: we will retry on May {}, 2027"
    assert sorted(subjects[:2]) == [
        retry.format(2),
        "Receipt for invoice INV/27-28/00001 from Acme: ₹999.00",
    ]
    assert sorted(subjects[2:]) == [  # delivered concurrently: in any order
        retry.format(4),
        retry.format(6),
        retry.format(8),
        "Your Team plan subscription with Acme has ended",
    ]
    [first_failure] = [m for m in first_two if subject(m) == retry.format(2)]
    text = text_of(first_failure)
    assert "We could not collect ₹999.00 for your Team plan subscription with Acme: " in text
    assert "The card was declined." in text
    assert "We will try again on May 2, 2027." in text
    assert f"Update your payment method: {UPDATE_URL}" in text
    assert "Invoices due: INV/27-28/00002" in text
    assert f'href="{UPDATE_URL}"' in html_of(first_failure)
    assert [len(list(m.iter_attachments())) for m in mails] == [
        1 if subject(m).startswith("Receipt") else 0 for m in mails
    ]
    [ended_mail] = [m for m in mails if subject(m).endswith("has ended")]
    ended = text_of(ended_mail)
    assert "has ended on May 8, 2027, because we could not collect its payment." in ended
    assert sub.id in ended

    assert sorted(texts) == [
        "Acme: invoice INV/27-28/00001 of 999.00 INR is paid. Thank you.",
        *(
            f"Acme: payment of 999.00 INR for Team plan failed. We retry on May {d}, 2027. "
            "Please update your payment method."
            for d in (2, 4, 6, 8)
        ),
        "Acme: your Team plan subscription has ended on May 8, 2027.",
    ]
    assert {FakeTwilio.form(r)["To"] for r in twilio.snapshot()} == {"+14155552671"}


async def test_the_trial_notice_names_its_end_and_price(
    make_services: MakeServices, clock: FrozenClock
) -> None:
    with SmtpSink() as smtp, FakeTwilio() as twilio:
        services = await make_services(**billing_settings(smtp, twilio, seller_gstin=None))
        worker = build_worker(services, clock=clock)
        try:
            product = await services.catalog.create_product(name="Seats", tax_rate="0")
            price = await services.catalog.create_price(
                Price(
                    id="",
                    product_id=product.id,
                    currency="INR",
                    created_at=at(2027, 1, 1),
                    unit_amount=150000,
                    recurring=Recurring(interval="month"),
                )
            )
            test_clock = await services.test_clocks.create(frozen_time=at(2027, 4, 1), name="t")
            customer = await services.customers.create(
                email="t@example.com",
                name="Tara",
                phone="+91 98765 43210",
                payment_method="pm_card_visa",
                test_clock=test_clock.id,
            )
            await services.subscriptions.create(
                customer=customer.id, items=[ItemInput(price.id, 3)], trial_period_days=14
            )
            await services.test_clocks.advance(test_clock.id, frozen_time=at(2027, 4, 12, 1))
            await worker.run_until_idle()
            [mail] = smtp.parsed()
            [sms] = sms_bodies(twilio)
        finally:
            await worker.close()

    assert mail["Subject"] == "Your Seats trial ends on 15 April 2027"
    assert "After that, Seats costs ₹4,500.00 every month, before tax." in text_of(mail)
    assert sms == (
        "Acme: your Seats trial ends on 15 April 2027. "
        "Cancel before then if you do not want to be charged."
    )


async def test_a_pdf_that_fails_to_render_does_not_hold_the_email_back(
    make_services: MakeServices, clock: FrozenClock, tmp_path: Path
) -> None:
    (tmp_path / "saas.html").write_text("<p>{{ doc.no_such_field }}</p>", encoding="utf-8")
    with SmtpSink() as smtp, FakeTwilio() as twilio:
        services = await make_services(
            **billing_settings(smtp, twilio), invoice_templates_dir=str(tmp_path)
        )
        worker = build_worker(services, clock=clock)
        try:
            buyer = await services.customers.create(
                email="b@example.com", name="B", address=MH_ADDRESS
            )
            invoice = await services.invoices.finalize(
                await send_invoice(services, buyer.id), now=NOW
            )
            await worker.run_until_idle()
            [mail] = smtp.parsed()
        finally:
            await worker.close()

    assert mail["Subject"].startswith(f"Invoice {invoice.number} from Acme")
    assert list(mail.iter_attachments()) == []
    assert "The PDF copy could not be attached to this email; ask Acme for a copy." in text_of(mail)
    async with services.db.transaction() as conn:
        [job], _ = await list_deliveries(conn, limit=10)
        [attempt], _ = await list_attempts(conn, channel=Channel.EMAIL, limit=10)
    assert job.status == "succeeded" and job.template == "invoice_issued"
    assert attempt.succeeded and attempt.error is not None
    assert attempt.error.startswith(f"sent without the PDF: rendering invoice {invoice.id} failed")
    assert "no_such_field" in attempt.error


async def test_a_document_that_cannot_be_read_waits_for_the_next_attempt(
    make_services: MakeServices,
) -> None:
    services = await make_services()
    pdfs = InvoicePdfs(services.invoices, services.credit_notes)
    spec = {"kind": "invoice", "id": "in_missing", "filename": "x.pdf"}
    early = await pdfs.attachment(spec, last_attempt=False)
    last = await pdfs.attachment(spec, last_attempt=True)
    assert early.attachment is None and early.missing is None
    assert early.retry is not None and "in_missing" in early.retry
    assert last.retry is None and last.missing == early.retry
