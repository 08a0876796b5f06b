"""Endpoint URL rules, phone numbers, notification templates, SMTP URLs, audit hashing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from jinja2 import UndefinedError

from paystead.audit.chain import GENESIS, canonical, digest
from paystead.errors import InvalidInput
from paystead.events.outbox import Event
from paystead.notify.email import SmtpSettings, build_message
from paystead.notify.phone import masked, to_e164
from paystead.notify.render import (
    BILLING_EMAIL_TEMPLATES,
    EMAIL_TEMPLATES,
    SMS_TEMPLATES,
    context_for,
    render_email,
    render_sms,
)
from paystead.webhooks.urls import validate_url

AT = datetime(2026, 4, 1, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/hooks",
        "https://hooks.example.com:8443/a/b?c=d",
        "https://93.184.216.34/hook",
        "https://[2606:2800:220:1:248:1893:25c8:1946]/hook",
    ],
)
def test_public_https_urls_are_accepted(url: str) -> None:
    assert validate_url(url) == url


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://example.com/hooks", "https"),
        ("ftp://example.com/", "absolute"),
        ("/relative", "absolute"),
        ("https://user:pw@example.com/", "credentials"),
        ("https://example.com/#frag", "fragment"),
        ("https://10.0.0.8/hook", "private"),
        ("https://169.254.169.254/latest/meta-data", "private"),
        ("https://[::1]/hook", "this machine"),
        ("https://localhost/hook", "this machine"),
        ("http://127.0.0.1:8080/hook", "https"),
        ("https://exa mple.com/", "whitespace"),
        ("https://example.com:99999/", "malformed"),
        ("https://example.com/" + "a" * 2100, "longer"),
    ],
)
def test_unsafe_or_malformed_urls_are_refused(url: str, why: str) -> None:
    with pytest.raises(InvalidInput, match=why) as caught:
        validate_url(url)
    assert (caught.value.code, caught.value.param) == ("url_invalid", "url")


def test_http_to_loopback_only_when_allowed() -> None:
    for url in ("http://127.0.0.1:8080/h", "http://localhost:9/h", "http://[::1]:9/h"):
        assert validate_url(url, allow_http_loopback=True) == url
    with pytest.raises(InvalidInput):
        validate_url("http://10.1.2.3/h", allow_http_loopback=True)


def test_phone_numbers_become_e164() -> None:
    assert to_e164("+91 98765-43210") == "+919876543210"
    assert to_e164("098765 43210", region="IN") == "+919876543210"
    assert masked("+919876543210") == "+91********10"
    for bad in ("12345", "+91 12345", "not a number", "+1 555 0100"):
        with pytest.raises(InvalidInput) as caught:
            to_e164(bad)
        assert caught.value.code == "phone_invalid"


def _event(obj: dict[str, object], type_: str = "payment.succeeded") -> Event:
    return Event("evt_1", type_, type_.split(".")[0], str(obj["id"]), obj, None, "system", None, AT)


PAYMENT = {
    "id": "pay_1",
    "amount": 50000,
    "amount_captured": 40000,
    "currency": "INR",
    "description": "Order <42>",
    "failure_message": None,
}
#: Billing notices (notify/billing.py), with long values: SMS must still fit.
_BILLING: dict[str, object] = {
    "subscription_id": "sub_01jz0000000000000000000000",
    "plan_name": "Professional <yearly> plan with extras",
    "invoice_number": "INV/26-27/000123",
    "invoice_numbers": "INV/26-27/000123",
    "amount": "₹99,99,999.00",
    "amount_text": "99,99,999.00 INR",
    "amount_due": "₹99,99,999.00",
    "amount_due_text": "99,99,999.00 INR",
    "amount_paid": "₹99,99,999.00",
    "credit_applied": None,
    "due_date": "30 September 2026",
    "paid_on": "30 September 2026",
    "period": "1 September 2026 to 1 October 2026",
    "next_retry": "30 September 2026",
    "ended_on": "30 September 2026",
    "after_failed_payments": True,
    "trial_end": "30 September 2026",
    "interval": "month",
    "reason": "The card was declined.",
    "update_payment_url": None,
    "attachment_missing": False,
    "credit_note_number": "CN/26-27/000001",
    "outcome": "refund",
    "credit_reason": "duplicate",
}
SAMPLES: dict[str, dict[str, object]] = dict.fromkeys(BILLING_EMAIL_TEMPLATES, _BILLING)


@pytest.mark.parametrize("template", EMAIL_TEMPLATES)
def test_every_email_template_renders_a_subject_text_and_html(template: str) -> None:
    context = context_for(_event(PAYMENT), {"customer_name": "Asha & Co"}, merchant_name="Acme")
    context.update(refund={"id": "re_1", "payment": "pay_1"}, **SAMPLES.get(template, {}))
    rendered = render_email(template, context)
    assert rendered.subject and "\n" not in rendered.subject
    assert "Asha & Co" in rendered.text and "Asha &amp; Co" in rendered.html
    assert rendered.html.startswith("<!doctype html>") and "Acme" in rendered.html
    assert "<42>" not in rendered.html and "<yearly>" not in rendered.html


def test_a_receipt_shows_the_captured_amount_in_its_currency() -> None:
    context = context_for(_event(PAYMENT), None, merchant_name="Acme")
    rendered = render_email("payment_receipt", context)
    assert rendered.subject == "Your receipt from Acme: 400.00 INR"
    assert "Date:        01 Apr 2026, 09:30 UTC" in rendered.text
    jpy = context_for(
        _event({**PAYMENT, "currency": "JPY", "amount_captured": 500}), None, merchant_name="A"
    )
    assert jpy["amount"] == "500 JPY"


@pytest.mark.parametrize("template", SMS_TEMPLATES)
def test_sms_templates_are_one_line_and_fit_one_segment(template: str) -> None:
    context = context_for(_event(PAYMENT), None, merchant_name="Acme Payments Pvt Ltd")
    context["refund"] = {"id": "re_01jz0000000000000000000000", "payment": "pay_1"}
    context.update(SAMPLES.get(template, {}))
    body = render_sms(template, context)
    assert "\n" not in body and len(body) <= 160


def test_a_missing_variable_is_an_error_not_a_blank() -> None:
    with pytest.raises(UndefinedError):
        render_email("trial_ending", context_for(_event(PAYMENT), None, merchant_name="A"))


def test_smtp_urls() -> None:
    plain = SmtpSettings.from_url("smtp://mailer:p%40ss@mail.example.com:2525?timeout=3")
    assert (plain.hostname, plain.port, plain.username, plain.password) == (
        "mail.example.com",
        2525,
        "mailer",
        "p@ss",
    )
    assert (plain.use_tls, plain.start_tls, plain.timeout) == (False, None, 3.0)
    assert SmtpSettings.from_url("smtps://m.example.com").port == 465
    starttls = SmtpSettings.from_url("smtp+starttls://m.example.com")
    assert (starttls.port, starttls.start_tls) == (587, True)
    with pytest.raises(ValueError):
        SmtpSettings.from_url("http://m.example.com")


def test_an_email_has_text_and_html_alternatives() -> None:
    message = build_message(
        sender="a@example.com",
        recipient="b@example.com",
        subject="Hi",
        text="plain\n",
        html="<p>rich</p>",
        delivery_id="dlv_1",
    )
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    assert message["Message-ID"].startswith("<") and "dlv_1" in message["Message-ID"]


def test_the_audit_hash_covers_every_field_in_a_canonical_form() -> None:
    record = {
        "seq": 1,
        "id": "aud_1",
        "event_id": "evt_1",
        "actor": "key_1",
        "request_id": None,
        "action": "payment.created",
        "object_type": "payment",
        "object_id": "pay_1",
        "before": None,
        "after": {"b": 1, "a": {"z": 2, "y": [3, {"d": 4, "c": 5}]}},
        "occurred_at": AT,
        "prev_hash": GENESIS,
    }
    assert canonical(record).startswith(
        b'{"action":"payment.created","actor":"key_1","after":{"a":{"y":[3,{"c":5,"d":4}]'
    )
    reordered = {**record, "after": {"a": {"y": [3, {"c": 5, "d": 4}], "z": 2}, "b": 1}}
    assert digest(reordered) == digest(record)
    for field, value in [
        ("seq", 2),
        ("actor", "key_2"),
        ("after", {"b": 2}),
        ("prev_hash", "1" * 64),
        ("occurred_at", AT.replace(microsecond=1)),
    ]:
        assert digest({**record, field: value}) != digest(record), field
