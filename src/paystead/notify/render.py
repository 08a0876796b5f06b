"""Rendering notification templates (Jinja2): email as subject + text + HTML, SMS as text.

Templates live in ``notify/templates``: ``email/<name>.subject.txt``, ``.txt`` and
``.html`` (HTML is autoescaped), ``sms/<name>.txt``. A variable a template uses but the
context lacks is an error, never a blank.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from paystead.events.outbox import Event
from paystead.money import Money

#: Billing notices (``notify/billing.py``) next to the payment ones.
BILLING_EMAIL_TEMPLATES = (
    "invoice_issued",
    "invoice_receipt",
    "invoice_payment_failed",
    "dunning_retry",
    "subscription_unpaid",
    "subscription_canceled",
    "trial_ending",
    "credit_note_issued",
)
EMAIL_TEMPLATES = (
    "payment_receipt",
    "refund_processed",
    "payment_failed",
    *BILLING_EMAIL_TEMPLATES,
)
BILLING_SMS_TEMPLATES = (
    "invoice_issued",
    "invoice_receipt",
    "invoice_payment_failed",
    "dunning_retry",
    "subscription_unpaid",
    "subscription_canceled",
    "trial_ending",
)
SMS_TEMPLATES = ("payment_receipt", "refund_processed", "payment_failed", *BILLING_SMS_TEMPLATES)

_env = Environment(
    loader=PackageLoader("paystead.notify", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=StrictUndefined,
    keep_trailing_newline=False,
)
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def render_email(template: str, context: dict[str, Any]) -> RenderedEmail:
    if template not in EMAIL_TEMPLATES:
        raise ValueError(f"no email template {template!r}")
    subject = _env.get_template(f"email/{template}.subject.txt").render(context)
    return RenderedEmail(
        # One line, whatever the data: a newline in a header would be a header injection.
        subject=_SPACES.sub(" ", subject).strip(),
        text=_env.get_template(f"email/{template}.txt").render(context).strip() + "\n",
        html=_env.get_template(f"email/{template}.html").render(context),
    )


def render_sms(template: str, context: dict[str, Any]) -> str:
    if template not in SMS_TEMPLATES:
        raise ValueError(f"no SMS template {template!r}")
    return _SPACES.sub(" ", _env.get_template(f"sms/{template}.txt").render(context)).strip()


def context_for(
    event: Event, extra: dict[str, Any] | None, *, merchant_name: str
) -> dict[str, Any]:
    """The variables a template sees for ``event``: the object under its own name
    (``payment``, ``refund``...), ``amount`` formatted in its currency, ``date``,
    ``description``, ``reason``, the merchant's and the customer's names."""
    obj = event.data
    context: dict[str, Any] = {
        "merchant_name": merchant_name,
        "customer_name": "there",
        "event_type": event.type,
        event.object_type: obj,
        "object": obj,
        "date": event.created_at.strftime("%d %b %Y, %H:%M UTC"),
        "description": obj.get("description"),
        "reason": obj.get("failure_message"),
        "amount": None,
    }
    if "amount" in obj and "currency" in obj:
        amount = obj["amount"]
        if event.object_type == "payment" and obj.get("amount_captured"):
            amount = obj["amount_captured"]
        context["amount"] = str(Money(int(amount), str(obj["currency"])))
    context.update(extra or {})
    return context
