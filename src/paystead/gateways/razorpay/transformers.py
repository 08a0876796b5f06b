"""Razorpay's wire format <-> ours: pure functions, no I/O.

Sources: Razorpay's API reference (Orders, Payments, Refunds, Errors) and its official
Python SDK (``razorpay/razorpay-python``, ``razorpay/client.py`` for the error classes).

Amounts go out in the currency's smallest unit by the ISO 4217 exponent (paise for INR,
yen for JPY); three-decimal currencies (KWD, BHD, OMR) must end in 0.

Status mapping (the one place a Razorpay status becomes ours):

================  ========================  ===========================================
object            Razorpay status            ``Outcome``
================  ========================  ===========================================
order             created, attempted         ``REQUIRES_ACTION`` (Checkout not done yet)
payment           created                    ``PENDING``
payment           authorized                 ``AUTHORIZED``
payment           captured                   ``CAPTURED`` (``fee`` = Razorpay's fee + tax)
payment           refunded, captured=true    ``CAPTURED`` (refunds are tracked apart)
payment           refunded, captured=false   ``VOIDED`` (auto-refunded authorization)
payment           failed                     ``DECLINED`` (``FAILED`` + retryable for
                                             ``gateway_technical_error``: bank downtime)
refund            pending                    ``PENDING``
refund            processed                  ``REFUNDED``
refund            failed                     ``DECLINED`` (``refund_failed``)
================  ========================  ===========================================

Error classification (``{"error": {"code", "description", "source", "step", "reason",
"field", "metadata"}}``):

=====================================  ============================================
answer                                  becomes
=====================================  ============================================
HTTP 401                                ``GatewayError`` ``gateway_authentication_failed``
HTTP 429, 503                           ``GatewayTransient`` (not acted on)
HTTP 409 (a refund key still in flight)  ``GatewayOutcomeUnknown``
other 5xx, or ``SERVER_ERROR``          ``GatewayOutcomeUnknown``
``BAD_REQUEST_ERROR``                   a final ``DECLINED`` result
``GATEWAY_ERROR``                       a final ``DECLINED`` result
=====================================  ============================================
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any

from paystead.errors import GatewayError, GatewayTransient, InvalidInput, PaysteadError
from paystead.gateways import wire
from paystead.gateways.amounts import from_gateway_amount, to_gateway_amount
from paystead.gateways.base import (
    AuthorizeRequest,
    GatewayOutcomeUnknown,
    GatewayResult,
    NextAction,
    Outcome,
)
from paystead.money import Money

GATEWAY = "razorpay"
#: Razorpay states amounts in the ISO exponent's unit; three-decimal ones end in 0.
ROUND_TO = {3: 10}
RECEIPT_MAX = 40
NOTES_MAX = 15
NOTE_VALUE_MAX = 256
REFUND_SPEEDS = frozenset({"normal", "optimum"})
_REFUND_KEY = re.compile(r"^[A-Za-z0-9_-]{10,}$")

#: Razorpay ``error.reason`` -> our failure code, where ours differs or is documented.
REASONS: dict[str, str] = {
    "insufficient_funds": "insufficient_funds",
    "card_declined": "card_declined",
    "authentication_failed": "authentication_failed",
    "payment_timed_out": "payment_timed_out",
    "payment_cancelled": "payment_canceled",
    "input_validation_failed": "invalid_request",
    "gateway_technical_error": "processing_error",
}
#: Reasons that say the gateway (not the customer) failed: another gateway may succeed.
RETRYABLE_REASONS = frozenset({"gateway_technical_error"})


def _response_error(detail: str) -> PaysteadError:
    return GatewayError(f"razorpay response: {detail}", code="gateway_response_invalid")


# -- outgoing ---------------------------------------------------------------------------


def amount_of(money: Money) -> int:
    return to_gateway_amount(money, round_to=ROUND_TO)


def money_of(value: int, currency_code: str, error: wire.ErrorFactory | None = None) -> Money:
    """The gateway's amount as ``Money``; a bad amount or currency raises ``error``."""
    try:
        return from_gateway_amount(value, currency_code)
    except InvalidInput as exc:
        raise (error or _response_error)(exc.detail) from exc


def receipt_for(idempotency_key: str) -> str:
    """Our idempotency key as an order receipt (at most 40 characters, stable)."""
    if len(idempotency_key) <= RECEIPT_MAX:
        return idempotency_key
    return "rcpt_" + hashlib.sha256(idempotency_key.encode()).hexdigest()[: RECEIPT_MAX - 5]


def refund_idempotency_key(idempotency_key: str) -> str:
    """A valid ``X-Refund-Idempotency`` value (10+ of ``[A-Za-z0-9_-]``) for our key."""
    if _REFUND_KEY.match(idempotency_key):
        return idempotency_key
    return hashlib.sha256(idempotency_key.encode()).hexdigest()


def notes_for(metadata: Mapping[str, str], **ours: str) -> dict[str, str]:
    """Order/refund notes: at most 15 pairs of at most 256 characters (Razorpay's limits)."""
    notes = {**dict(metadata), **ours}
    if len(notes) > NOTES_MAX:
        raise InvalidInput(
            f"razorpay accepts at most {NOTES_MAX} notes; got {len(notes)}", param="metadata"
        )
    for key, value in notes.items():
        if len(value) > NOTE_VALUE_MAX:
            raise InvalidInput(
                f"razorpay note {key!r} exceeds {NOTE_VALUE_MAX} characters", param="metadata"
            )
    return notes


def order_body(request: AuthorizeRequest) -> dict[str, Any]:
    """``POST /v1/orders``: a retry with the same receipt returns the same order."""
    return {
        "amount": amount_of(request.amount),
        "currency": request.amount.currency,
        "receipt": receipt_for(request.idempotency_key),
        "unique_receipt": True,
        "notes": notes_for(request.metadata, paystead_idempotency_key=request.idempotency_key),
    }


def capture_body(amount: Money) -> dict[str, Any]:
    """``POST /v1/payments/:id/capture``: amount and currency equal to the authorized ones."""
    return {"amount": amount_of(amount), "currency": amount.currency}


def refund_body(amount: Money, *, speed: str, idempotency_key: str) -> dict[str, Any]:
    """``POST /v1/payments/:id/refund``: the amount is always explicit (full or partial)."""
    if speed not in REFUND_SPEEDS:
        raise ValueError(f"refund speed must be one of {sorted(REFUND_SPEEDS)}, got {speed!r}")
    return {
        "amount": amount_of(amount),
        "speed": speed,
        "notes": {"paystead_refund_id": idempotency_key},
    }


# -- errors -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RazorpayError:
    code: str
    description: str
    source: str | None = None
    step: str | None = None
    reason: str | None = None
    field: str | None = None
    metadata: Mapping[str, Any] = dataclass_field(default_factory=dict)


def _na(value: Any) -> str | None:
    """Razorpay writes ``"NA"`` for fields that do not apply."""
    if not isinstance(value, str) or not value or value == "NA":
        return None
    return value


def parse_error(body: Mapping[str, Any]) -> RazorpayError | None:
    error = body.get("error")
    if not isinstance(error, dict):
        return None
    metadata = error.get("metadata")
    return RazorpayError(
        code=str(error.get("code") or "SERVER_ERROR"),
        description=str(error.get("description") or "no description"),
        source=_na(error.get("source")),
        step=_na(error.get("step")),
        reason=_na(error.get("reason")),
        field=_na(error.get("field")),
        metadata=metadata if isinstance(metadata, dict) else {},
    )


def error_for_status(status: int, error: RazorpayError | None) -> PaysteadError | None:
    """The exception an unsuccessful answer raises, or ``None`` when it is a decline.

    A ``None`` means the answer is final and belongs in a ``DECLINED`` result
    (:func:`declined`); the caller decides, since a failed fetch is not a decline.
    """
    described = f": {error.description}" if error is not None else ""
    if status == 401:
        return GatewayError(
            f"razorpay rejected the API key{described}", code="gateway_authentication_failed"
        )
    if status == 429:
        return GatewayTransient(f"razorpay rate limit{described}", code="gateway_rate_limited")
    if status == 503:
        return GatewayTransient(f"razorpay unavailable{described}", code="gateway_unavailable")
    if status == 409:
        return GatewayOutcomeUnknown(
            f"razorpay is still processing a request with this key{described}",
            code="gateway_request_in_flight",
        )
    if status >= 500 or error is None or error.code == "SERVER_ERROR":
        return GatewayOutcomeUnknown(
            f"razorpay answered HTTP {status}{described}", code="gateway_server_error"
        )
    return None


def failure_code(code: str | None, reason: str | None) -> str:
    if reason is not None:
        return REASONS.get(reason, reason)
    return "invalid_request" if code == "BAD_REQUEST_ERROR" else "card_declined"


def declined(error: RazorpayError, *, reference: str | None = None) -> GatewayResult:
    """A final answer from a ``BAD_REQUEST_ERROR`` or ``GATEWAY_ERROR`` body."""
    retryable = error.reason in RETRYABLE_REASONS
    return GatewayResult(
        Outcome.FAILED if retryable else Outcome.DECLINED,
        reference=reference,
        failure_code=failure_code(error.code, error.reason),
        failure_message=error.description,
        retryable=retryable,
    )


# -- incoming entities ------------------------------------------------------------------


def checkout_action(order: Mapping[str, Any], *, key_id: str) -> NextAction:
    """What Razorpay Checkout needs in the browser: key, order, amount, currency."""
    return NextAction(
        type="razorpay_checkout",
        params={
            "key": key_id,
            "order_id": wire.string(order, "id", _response_error),
            "amount": wire.integer(order, "amount", _response_error),
            "currency": wire.string(order, "currency", _response_error),
        },
    )


def order_result(order: Mapping[str, Any], *, key_id: str) -> GatewayResult:
    """An order the customer has not paid yet: open Checkout on it."""
    order_id = wire.string(order, "id", _response_error)
    return GatewayResult(
        Outcome.REQUIRES_ACTION,
        reference=order_id,
        order_reference=order_id,
        amount=money_of(
            wire.integer(order, "amount", _response_error),
            wire.string(order, "currency", _response_error),
        ),
        gateway_status=wire.string(order, "status", _response_error),
        next_action=checkout_action(order, key_id=key_id),
    )


def payment_result(
    payment: Mapping[str, Any], error: wire.ErrorFactory = _response_error
) -> GatewayResult:
    """A payment entity (API response or webhook snapshot) in our terms."""
    payment_id = wire.string(payment, "id", error)
    status = wire.string(payment, "status", error)
    currency = wire.string(payment, "currency", error)
    amount = money_of(wire.integer(payment, "amount", error), currency, error)
    order_id = wire.opt_string(payment, "order_id", error)
    common: dict[str, Any] = {
        "reference": payment_id,
        "order_reference": order_id,
        "amount": amount,
        "gateway_status": status,
    }
    if status == "created":
        return GatewayResult(Outcome.PENDING, **common)
    if status == "authorized":
        return GatewayResult(Outcome.AUTHORIZED, **common)
    if status == "captured" or (status == "refunded" and payment.get("captured") is True):
        fee = wire.opt_integer(payment, "fee", error)
        return GatewayResult(
            Outcome.CAPTURED,
            fee=money_of(fee, currency, error) if fee is not None else None,
            **common,
        )
    if status == "refunded":
        return GatewayResult(Outcome.VOIDED, **common)
    if status == "failed":
        reason = _na(payment.get("error_reason"))
        code = _na(payment.get("error_code"))
        retryable = reason in RETRYABLE_REASONS
        return GatewayResult(
            Outcome.FAILED if retryable else Outcome.DECLINED,
            failure_code=failure_code(code, reason),
            failure_message=_na(payment.get("error_description")) or "The payment failed.",
            retryable=retryable,
            **common,
        )
    raise error(f"unknown payment status {status!r}")


def refund_result(
    refund: Mapping[str, Any], error: wire.ErrorFactory = _response_error
) -> GatewayResult:
    refund_id = wire.string(refund, "id", error)
    status = wire.string(refund, "status", error)
    amount = money_of(
        wire.integer(refund, "amount", error), wire.string(refund, "currency", error), error
    )
    common: dict[str, Any] = {"reference": refund_id, "amount": amount, "gateway_status": status}
    if status == "pending":
        return GatewayResult(Outcome.PENDING, **common)
    if status == "processed":
        return GatewayResult(Outcome.REFUNDED, **common)
    if status == "failed":
        return GatewayResult(
            Outcome.DECLINED,
            failure_code="refund_failed",
            failure_message="Razorpay could not process the refund.",
            **common,
        )
    raise error(f"unknown refund status {status!r}")


#: Preference when an order has several payment attempts: the one that moved money.
_PAYMENT_RANK = {"captured": 0, "refunded": 0, "authorized": 1, "created": 2, "failed": 3}


def best_payment(items: list[Any]) -> dict[str, Any] | None:
    """The attempt that decides an order: captured, else authorized, else the newest."""
    payments = [p for p in items if isinstance(p, dict)]
    if not payments:
        return None

    def rank(payment: dict[str, Any]) -> tuple[int, int]:
        created = payment.get("created_at")
        return (
            _PAYMENT_RANK.get(str(payment.get("status")), 9),
            -(created if isinstance(created, int) else 0),
        )

    return min(payments, key=rank)
