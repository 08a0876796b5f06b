"""Which billing notice an event sends, with the facts its templates print.

Runs in the worker's dispatch transaction (never in the billing transaction that
recorded the event). Amounts and dates are formatted here, with Babel, in the
customer's locale (``customers.locale``, else the invoice's customer snapshot, else
``en_IN``); dates are printed in IST, as the invoices print them. The PDF itself is
rendered later, when the email is attempted (``notify/attachments.py``).

| event | notice (email / SMS) | when |
|---|---|---|
| ``invoice.finalized`` | ``invoice_issued`` + PDF | ``send_invoice`` with something due |
| ``invoice.paid`` | ``invoice_receipt`` + PDF | the total is not zero |
| ``invoice.payment_failed`` | ``invoice_payment_failed`` | not a subscription's invoice |
| ``customer.subscription.past_due`` | ``dunning_retry`` | each failed charge or retry |
| ``customer.subscription.unpaid`` | ``subscription_unpaid`` | |
| ``customer.subscription.deleted`` | ``subscription_canceled`` | |
| ``customer.subscription.trial_will_end`` | ``trial_ending`` | |
| ``credit_note.created`` | ``credit_note_issued`` + PDF (email only) | |

A subscription's failed charge is told once, by ``customer.subscription.past_due``
(which knows the next retry), not also by ``invoice.payment_failed``. Notices that can
happen several times for one object carry an occurrence in their de-duplication key
(the invoice's attempt, the subscription's retry count), so each retry is told once
and a re-dispatched event is never told twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from sqlalchemy.ext.asyncio import AsyncConnection

from paystead.billing.catalog import Price, amount_for_quantity
from paystead.billing.catalog_store import get_price
from paystead.billing.numbering import IST
from paystead.billing.pdf.render import format_amount, format_money
from paystead.events import catalog
from paystead.platform.schema import invoices, products

DEFAULT_LOCALE = "en_IN"

#: Event types this module plans notices for.
EVENT_TYPES = frozenset(
    {
        catalog.INVOICE_FINALIZED.name,
        catalog.INVOICE_PAID.name,
        catalog.INVOICE_PAYMENT_FAILED.name,
        catalog.CREDIT_NOTE_CREATED.name,
        catalog.SUBSCRIPTION_PAST_DUE.name,
        catalog.SUBSCRIPTION_UNPAID.name,
        catalog.SUBSCRIPTION_DELETED.name,
        catalog.SUBSCRIPTION_TRIAL_WILL_END.name,
    }
)


@dataclass(frozen=True, slots=True)
class Notice:
    #: The email template; ``sms`` is the SMS template (``None``: no SMS).
    email: str
    sms: str | None
    #: What the de-duplication key names: the object id, plus the occurrence for
    #: notices an object can send more than once.
    occurrence: str
    context: dict[str, Any]


@lru_cache(maxsize=64)
def _locale(name: str) -> Locale:
    try:
        return Locale.parse(name.replace("-", "_"))
    except (ValueError, TypeError, UnknownLocaleError):
        return Locale.parse(DEFAULT_LOCALE)


def money(minor: int, currency: str, locale: str) -> str:
    """For email: Babel's form in the locale, with the symbol (₹99,900.00)."""
    return format_money(minor, currency, locale)


def money_text(minor: int, currency: str, locale: str) -> str:
    """For SMS: digits and the ISO code (99,900.00 INR), which GSM-7 can carry."""
    return f"{format_amount(minor, currency, locale)} {currency}"


def day(at: datetime | date | None, locale: str) -> str | None:
    """``2 May 2027`` (en_IN), ``May 2, 2027`` (en_US): the day in IST."""
    if at is None:
        return None
    if isinstance(at, datetime):
        at = at.astimezone(IST).date()
    return str(format_date(at, format="long", locale=_locale(locale)))


def _from_unix(value: Any) -> datetime | None:
    return datetime.fromtimestamp(int(value), UTC) if value is not None else None


def _from_iso(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def reason_text(error: str | None) -> str | None:
    """``"card_declined: The card was declined."`` -> ``"The card was declined."``"""
    if not error:
        return None
    code, sep, message = error.partition(": ")
    return message if sep and code.replace("_", "").isalnum() and message else error


def interval_text(interval: str, count: int) -> str:
    return interval if count == 1 else f"{count} {interval}s"


def locale_of(customer_locale: str | None, obj: dict[str, Any]) -> str:
    details = obj.get("customer_details") or {}
    return customer_locale or details.get("locale") or DEFAULT_LOCALE


async def notice_for(
    conn: AsyncConnection,
    event_type: str,
    obj: dict[str, Any],
    *,
    locale: str,
    at: datetime,
    update_payment_url: str | None,
    previous: dict[str, Any] | None = None,
) -> Notice | None:
    """The notice ``event_type`` on ``obj`` (``previous``: its changed fields' old
    values) sends, or ``None``."""
    base: dict[str, Any] = {
        "locale": locale,
        "update_payment_url": update_payment_url,
        "attachment_missing": False,
    }
    if event_type == catalog.INVOICE_FINALIZED.name:
        if obj["collection_method"] != "send_invoice" or obj["amount_due"] <= 0:
            return None  # charged automatically: the receipt or the failure notice follows
        return Notice(
            "invoice_issued",
            "invoice_issued",
            obj["id"],
            {**base, **_invoice_facts(obj, locale), "attach": _attach("invoice", obj)},
        )
    if event_type == catalog.INVOICE_PAID.name:
        if obj["total"] <= 0:
            return None  # nothing was charged: a trial's or a fully discounted invoice
        facts = _invoice_facts(obj, locale)
        credit = int(obj["applied_balance"]) + int(obj["amount_credited"])
        facts.update(
            paid_on=day(_from_iso(obj.get("paid_at")) or at, locale),
            amount_paid=money(int(obj["amount_paid"]), obj["currency"], locale),
            credit_applied=money(credit, obj["currency"], locale) if credit > 0 else None,
        )
        return Notice(
            "invoice_receipt",
            "invoice_receipt",
            obj["id"],
            {**base, **facts, "attach": _attach("invoice", obj)},
        )
    if event_type == catalog.INVOICE_PAYMENT_FAILED.name:
        if obj.get("subscription") or obj["amount_due"] <= 0:
            return None  # a subscription's failure is told by its dunning notice
        facts = _invoice_facts(obj, locale)
        facts["reason"] = reason_text(obj.get("last_payment_error"))
        return Notice(
            "invoice_payment_failed",
            "invoice_payment_failed",
            f"{obj['id']}:attempt:{obj['attempt_count']}",
            {**base, **facts},
        )
    if event_type == catalog.CREDIT_NOTE_CREATED.name:
        invoice_number = (
            await conn.execute(sa.select(invoices.c.number).where(invoices.c.id == obj["invoice"]))
        ).scalar()
        return Notice(
            "credit_note_issued",
            None,
            obj["id"],
            {
                **base,
                "credit_note_number": obj["number"],
                "invoice_number": invoice_number,
                "amount": money(int(obj["total"]), obj["currency"], locale),
                "outcome": obj["outcome"],
                "credit_reason": obj.get("reason") or obj.get("memo"),
                "attach": {
                    "kind": "credit_note",
                    "id": obj["id"],
                    "filename": _filename(obj["number"]),
                },
            },
        )
    return await _subscription_notice(conn, event_type, obj, base, locale, previous or {})


async def _subscription_notice(
    conn: AsyncConnection,
    event_type: str,
    obj: dict[str, Any],
    base: dict[str, Any],
    locale: str,
    previous: dict[str, Any],
) -> Notice | None:
    facts: dict[str, Any] = {
        **base,
        "subscription_id": obj["id"],
        "plan_name": await _plan_name(conn, obj),
    }
    if event_type == catalog.SUBSCRIPTION_TRIAL_WILL_END.name:
        licensed = await _licensed_amount(conn, obj)
        facts.update(
            trial_end=day(_from_unix(obj.get("trial_end")), locale),
            amount=money(licensed, obj["currency"], locale) if licensed else None,
            interval=interval_text(obj["interval"], int(obj["interval_count"])),
        )
        return Notice("trial_ending", "trial_ending", obj["id"], facts)
    if event_type == catalog.SUBSCRIPTION_DELETED.name:
        facts.update(
            ended_on=day(_from_unix(obj.get("ended_at")), locale),
            after_failed_payments=previous.get("status") in ("past_due", "unpaid")
            or int(obj.get("dunning_retries") or 0) > 0,
        )
        return Notice("subscription_canceled", "subscription_canceled", obj["id"], facts)
    owed = await _owed(conn, obj["id"])
    currency = obj["currency"]
    total = sum(int(r.amount_due) for r in owed if r.currency == currency)
    facts.update(
        amount=money(total, currency, locale),
        amount_text=money_text(total, currency, locale),
        invoice_numbers=", ".join(r.number for r in owed if r.number),
        reason=reason_text(owed[-1].last_payment_error) if owed else None,
    )
    if event_type == catalog.SUBSCRIPTION_PAST_DUE.name:
        next_retry = _from_unix(obj.get("next_retry_at"))
        if next_retry is None or total <= 0:
            return None
        facts["next_retry"] = day(next_retry, locale)
        return Notice(
            "dunning_retry",
            "dunning_retry",
            f"{obj['id']}:retry:{obj.get('dunning_retries') or 0}",
            facts,
        )
    if event_type == catalog.SUBSCRIPTION_UNPAID.name:
        return Notice("subscription_unpaid", "subscription_unpaid", obj["id"], facts)
    return None


def _invoice_facts(obj: dict[str, Any], locale: str) -> dict[str, Any]:
    currency = obj["currency"]
    return {
        "invoice_number": obj["number"],
        "amount": money(int(obj["total"]), currency, locale),
        "amount_text": money_text(int(obj["total"]), currency, locale),
        "amount_due": money(int(obj["amount_due"]), currency, locale),
        "amount_due_text": money_text(int(obj["amount_due"]), currency, locale),
        "due_date": day(_from_iso(obj.get("due_date")), locale),
        "period": _period(obj, locale),
    }


def _period(obj: dict[str, Any], locale: str) -> str | None:
    start, end = _from_iso(obj.get("period_start")), _from_iso(obj.get("period_end"))
    if start is None or end is None:
        return None
    return f"{day(start, locale)} to {day(end, locale)}"


def _filename(number: str | None) -> str:
    return f"{(number or 'document').replace('/', '-')}.pdf"


def _attach(kind: str, obj: dict[str, Any]) -> dict[str, str]:
    return {"kind": kind, "id": obj["id"], "filename": _filename(obj.get("number"))}


async def _prices(conn: AsyncConnection, obj: dict[str, Any]) -> list[tuple[Price, int]]:
    return [(await get_price(conn, item["price"]), int(item["quantity"])) for item in obj["items"]]


async def _plan_name(conn: AsyncConnection, obj: dict[str, Any]) -> str:
    names: list[str] = []
    for price, _quantity in await _prices(conn, obj):
        name = (
            await conn.execute(sa.select(products.c.name).where(products.c.id == price.product_id))
        ).scalar()
        label = price.nickname or name or price.id
        if label not in names:
            names.append(label)
    return ", ".join(names) or "subscription"


async def _licensed_amount(conn: AsyncConnection, obj: dict[str, Any]) -> int:
    """What the licensed items cost per period, before tax, discounts and usage."""
    return sum(
        amount_for_quantity(price, quantity)
        for price, quantity in await _prices(conn, obj)
        if price.recurring is None or price.recurring.usage_type == "licensed"
    )


async def _owed(conn: AsyncConnection, subscription_id: str) -> list[Any]:
    """The subscription's open invoices that its dunning charges, oldest first."""
    i = invoices.c
    rows = await conn.execute(
        sa.select(i.id, i.number, i.currency, i.amount_due, i.last_payment_error)
        .where(
            i.subscription_id == subscription_id,
            i.status == "open",
            i.collection_method == "charge_automatically",
            i.amount_due > 0,
        )
        .order_by(i.id)
    )
    return list(rows)
