"""Billing notices without I/O: locale formatting, failure reasons, the notices' texts,
and an email carrying a PDF."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from paystead.events.delivery import Channel, Job
from paystead.events.outbox import Event
from paystead.notify import billing
from paystead.notify.attachments import Attachment
from paystead.notify.email import build_message
from paystead.notify.render import context_for, render_email, render_sms
from paystead.notify.sms import LogSmsProvider, SmsChannel

AT = datetime(2027, 5, 1, 20, 0, tzinfo=UTC)  # 2 May 01:30 in IST


def test_money_is_formatted_by_babel_in_the_customers_locale() -> None:
    assert billing.money(11800000, "INR", "en_IN") == "₹1,18,000.00"
    assert billing.money(11800000, "INR", "en_US") == "₹118,000.00"
    assert billing.money(123456, "EUR", "de_DE") == "1.234,56\xa0€"
    assert billing.money(500, "JPY", "en_IN") == "JP¥500"
    # SMS: the ISO code instead of a symbol GSM-7 cannot carry.
    assert billing.money_text(11800000, "INR", "en_IN") == "1,18,000.00 INR"
    # A locale Babel does not know never fails a notice.
    assert billing.money(100, "INR", "xx_NOPE") == "₹1.00"


def test_days_are_printed_in_ist_in_the_customers_locale() -> None:
    assert billing.day(AT, "en_IN") == "2 May 2027"
    assert billing.day(AT, "en_US") == "May 2, 2027"
    assert billing.day(AT, "de_DE") == "2. Mai 2027"
    assert billing.day(date(2027, 5, 1), "en-IN") == "1 May 2027"
    assert billing.day(AT, "??") == "2 May 2027"
    assert billing.day(None, "en_IN") is None


def test_reason_and_interval_texts() -> None:
    assert billing.reason_text("card_declined: The card was declined.") == (
        "The card was declined."
    )
    assert billing.reason_text("a charge attempt is still in flight") == (
        "a charge attempt is still in flight"
    )
    assert billing.reason_text(None) is None
    assert billing.interval_text("month", 1) == "month"
    assert billing.interval_text("month", 3) == "3 months"


def test_the_customers_locale_wins_over_the_invoice_snapshot() -> None:
    invoice = {"customer_details": {"locale": "de_DE"}}
    assert billing.locale_of("en_US", invoice) == "en_US"
    assert billing.locale_of(None, invoice) == "de_DE"
    assert billing.locale_of(None, {}) == "en_IN"


def _context(template: str, **facts: object) -> dict[str, object]:
    event = Event(
        "evt_1", "invoice.paid", "invoice", "in_1", {"id": "in_1"}, None, "system", None, AT
    )
    base: dict[str, object] = {
        "customer_name": "Asha",
        "update_payment_url": None,
        "attachment_missing": False,
        "subscription_id": "sub_1",
        "plan_name": "Team",
        "invoice_numbers": "INV/27-28/00002",
        "amount": "₹999.00",
        "amount_text": "999.00 INR",
        "reason": None,
        "next_retry": "May 4, 2027",
    }
    return context_for(event, {**base, **facts}, merchant_name="Acme")


def test_the_dunning_notice_tells_where_to_update_the_payment_method() -> None:
    without = render_email("dunning_retry", _context("dunning_retry"))
    assert "To update your payment method, contact Acme." in without.text
    url = "https://acme.test/pay?c=1&d=2"
    with_url = render_email("dunning_retry", _context("dunning_retry", update_payment_url=url))
    assert f"Update your payment method: {url}" in with_url.text
    assert 'href="https://acme.test/pay?c=1&amp;d=2"' in with_url.html
    assert with_url.subject == (
        "Payment for your Team subscription failed: we will retry on May 4, 2027"
    )
    assert render_sms("dunning_retry", _context("dunning_retry")) == (
        "Acme: payment of 999.00 INR for Team failed. We retry on May 4, 2027. "
        "Please update your payment method."
    )


def test_a_long_plan_name_is_cut_in_sms_only() -> None:
    name = "Enterprise annual plan with premium support and extras"
    body = render_sms("dunning_retry", _context("dunning_retry", plan_name=name))
    assert name not in body and "Enterprise annual plan" in body and len(body) <= 160
    assert name in render_email("dunning_retry", _context("dunning_retry", plan_name=name)).text


@pytest.mark.parametrize("missing", [False, True])
def test_the_pdf_note_says_whether_the_pdf_is_attached(missing: bool) -> None:
    facts = {
        "invoice_number": "INV/26-27/00001",
        "amount_due": "₹1.00",
        "due_date": None,
        "period": None,
        "attachment_missing": missing,
    }
    text = render_email("invoice_issued", _context("invoice_issued", **facts)).text
    assert ("could not be attached" in text) is missing
    assert ("The PDF copy is attached" in text) is not missing


def test_an_email_with_a_pdf_is_mixed_with_the_alternatives_first() -> None:
    message = build_message(
        sender="a@example.com",
        recipient="b@example.com",
        subject="Invoice",
        text="plain\n",
        html="<p>rich</p>",
        delivery_id="dlv_1",
        attachments=(Attachment("INV-26-27-00001.pdf", b"%PDF-1.7 test"),),
    )
    assert message.get_content_type() == "multipart/mixed"
    parts = list(message.iter_parts())
    assert [p.get_content_type() for p in parts] == ["multipart/alternative", "application/pdf"]
    assert parts[1].get_filename() == "INV-26-27-00001.pdf"
    assert parts[1].get_payload(decode=True) == b"%PDF-1.7 test"


async def test_billing_sms_carry_their_dlt_template_id() -> None:
    provider = LogSmsProvider()
    channel = SmsChannel(
        provider,
        merchant_name="Acme",
        schedule=[0],
        dlt_template_ids={"dunning_retry": "1107160000000000042"},
    )
    context = _context("dunning_retry")
    event = Event(
        "evt_1",
        "customer.subscription.past_due",
        "subscription",
        "sub_1",
        {"id": "sub_1"},
        None,
        "system",
        None,
        AT,
    )
    job = Job("dlv_1", Channel.SMS, 0, event, "+919876543210", "dunning_retry", context, None)
    result = await channel.attempt(job)
    assert result.succeeded
    [sent] = provider.sent
    assert sent.dlt_template_id == "1107160000000000042"
    assert sent.template == "dunning_retry" and "We retry on May 4, 2027" in sent.body
