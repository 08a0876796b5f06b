"""Gateway settlement reports, parsed into :class:`SettlementLine` (pure: no I/O).

**Razorpay** settlement recon (``GET /v1/settlements/recon/combined``, the same columns
as the dashboard's recon download): ``entity_id, type, debit, credit, amount, currency,
fee, tax, on_hold, settled, created_at, settled_at, settlement_id, posted_at,
credit_type, description, notes, payment_id, settlement_utr, order_id, order_receipt,
method, card_network, card_issuer, card_type, dispute_id``. Amounts are integers in
the currency's smallest unit, as everywhere in Razorpay's API; ``fee`` includes
``tax`` (GST). ``type`` is ``payment``, ``refund``, ``adjustment``, ``transfer``...;
for a refund, ``entity_id`` is the ``rfnd_...`` and ``payment_id`` its payment.

**Stripe** balance transactions (the Balance report's itemized CSV,
``balance_change_from_activity.itemized``): ``balance_transaction_id, created_utc,
currency, gross, fee, net, reporting_category, source_id, ... charge_id,
payment_intent_id``. Amounts are decimals in **major** units (``20.00`` USD), converted
here by the currency's ISO 4217 exponent; currencies are lower-case. ``charge`` lines
are payments (``gross`` positive), ``refund`` lines refunds (``gross`` negative,
``source_id`` the ``re_...``).

Every other line (adjustments, transfers, payouts, fees, disputes) is kept as ``other``:
listed, never matched. A file missing a required column, or a value that is not a
number, raises :class:`~paystead.errors.InvalidInput` naming the line.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from paystead.errors import InvalidInput, UnknownCurrency
from paystead.money import Money, currency

GATEWAYS = ("razorpay", "stripe")
RAZORPAY_COLUMNS = ("entity_id", "type", "amount", "currency", "fee")
STRIPE_COLUMNS = ("balance_transaction_id", "currency", "gross", "fee", "reporting_category")


@dataclass(frozen=True, slots=True)
class SettlementLine:
    #: The report line's own id (``entity_id``, ``balance_transaction_id``).
    line_id: str
    #: ``payment``, ``refund`` or the report's own type for anything else.
    kind: str
    amount: Money
    fee: Money
    #: The gateway's id for the object: ``pay_...``/``pi_...``, ``rfnd_...``/``re_...``.
    reference: str | None = None
    #: For a refund, its payment; for a Razorpay payment, its order.
    payment_reference: str | None = None
    order_reference: str | None = None
    settlement_id: str | None = None
    occurred_at: datetime | None = None

    @property
    def matchable(self) -> bool:
        return self.kind in ("payment", "refund")


def parse(gateway: str, text: str) -> list[SettlementLine]:
    if gateway == "razorpay":
        return parse_razorpay(text)
    if gateway == "stripe":
        return parse_stripe(text)
    raise InvalidInput(f"unknown gateway {gateway!r}; one of {', '.join(GATEWAYS)}")


def _rows(text: str, required: Iterable[str]) -> list[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    columns = {c.strip() for c in (reader.fieldnames or [])}
    missing = [c for c in required if c not in columns]
    if missing:
        raise InvalidInput(f"the report lacks the column(s) {', '.join(missing)}")
    return [
        (number, {(k or "").strip(): (v or "").strip() for k, v in row.items()})
        for number, row in enumerate(reader, start=2)
    ]


def _currency(value: str, line: int) -> str:
    try:
        return currency(value.upper()).code
    except UnknownCurrency as exc:
        raise InvalidInput(f"line {line}: {exc.detail}") from exc


def _minor(value: str, code: str, line: int, column: str) -> Money:
    if value == "":
        return Money(0, code)
    if not value.lstrip("-").isdigit():
        raise InvalidInput(f"line {line}: {column} {value!r} is not an integer amount")
    return Money(int(value), code)


def _major(value: str, code: str, line: int, column: str) -> Money:
    """A decimal in major units (``20.00`` USD) as minor units, exactly or not at all."""
    if value == "":
        return Money(0, code)
    try:
        minor = Decimal(value.replace(",", "")) * currency(code).minor_per_major
    except InvalidOperation as exc:
        raise InvalidInput(f"line {line}: {column} {value!r} is not a number") from exc
    if minor != minor.to_integral_value():
        raise InvalidInput(f"line {line}: {column} {value!r} has more decimals than {code}")
    return Money(int(minor), code)


def _unix(value: str) -> datetime | None:
    return datetime.fromtimestamp(int(value), UTC) if value.isdigit() else None


def _utc(value: str) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_razorpay(text: str) -> list[SettlementLine]:
    lines = []
    for number, row in _rows(text, RAZORPAY_COLUMNS):
        code = _currency(row["currency"], number)
        kind = row["type"].lower() or "other"
        amount = _minor(row["amount"], code, number, "amount")
        lines.append(
            SettlementLine(
                line_id=row["entity_id"],
                kind=kind,
                amount=Money(abs(amount.amount), code),
                fee=_minor(row["fee"], code, number, "fee"),
                reference=row["entity_id"] or None,
                payment_reference=(row.get("payment_id") or None) if kind == "refund" else None,
                order_reference=row.get("order_id") or None,
                settlement_id=row.get("settlement_id") or None,
                occurred_at=_unix(row.get("created_at", "")),
            )
        )
    return lines


_STRIPE_KINDS: Mapping[str, str] = {"charge": "payment", "refund": "refund"}


def parse_stripe(text: str) -> list[SettlementLine]:
    lines = []
    for number, row in _rows(text, STRIPE_COLUMNS):
        code = _currency(row["currency"], number)
        category = row["reporting_category"].lower() or "other"
        kind = _STRIPE_KINDS.get(category, category)
        gross = _major(row["gross"], code, number, "gross")
        intent = row.get("payment_intent_id") or None
        source = row.get("source_id") or None
        if kind == "payment":
            reference, payment_reference = intent or row.get("charge_id") or source, None
        elif kind == "refund":
            reference, payment_reference = source, intent
        else:
            reference, payment_reference = source, intent
        lines.append(
            SettlementLine(
                line_id=row["balance_transaction_id"],
                kind=kind,
                amount=Money(abs(gross.amount), code),
                fee=_major(row["fee"], code, number, "fee"),
                reference=reference,
                payment_reference=payment_reference,
                settlement_id=row.get("automatic_payout_id") or None,
                occurred_at=_utc(row.get("created_utc", "")),
            )
        )
    return lines
