"""Stripe's wire format <-> ours: pure functions, no I/O.

Sources: Stripe's API reference (PaymentIntents, Refunds, Errors, Idempotent requests,
decline codes) and its official Python SDK (``stripe/stripe-python``: ``_encode.py``
for the form encoding, ``_api_requestor.py`` for how statuses become errors).

Requests are ``application/x-www-form-urlencoded`` with nested keys
(``metadata[paystead_payment_id]=pay_...``, ``expand[0]=...``); currencies are
lower-case; amounts are in the currency's smallest unit by the ISO 4217 exponent,
three-decimal ones ending in 0.

PaymentIntent status mapping:

========================  =====================================================
Stripe status             ``Outcome``
========================  =====================================================
requires_payment_method   ``DECLINED`` with ``last_payment_error``, else
                          ``REQUIRES_ACTION``
requires_confirmation     ``REQUIRES_ACTION``
requires_action           ``REQUIRES_ACTION`` (3-D Secure: ``next_action``)
processing                ``PENDING``
requires_capture          ``AUTHORIZED`` (``amount`` = ``amount_capturable``)
succeeded                 ``CAPTURED`` (``amount`` = ``amount_received``; ``fee`` from
                          the expanded charge's balance transaction)
canceled                  ``VOIDED``
========================  =====================================================

Refund: pending / requires_action -> ``PENDING``; succeeded -> ``REFUNDED``;
failed / canceled -> ``DECLINED``.

Errors (``{"error": {"type", "code", "decline_code", "message", "param",
"payment_intent"}}``), as stripe-python classifies them by status:

=====================================  ============================================
answer                                  becomes
=====================================  ============================================
402 ``card_error``                      a ``DECLINED`` result (``processing_error``:
                                        ``FAILED``, retryable)
400 ``invalid_request_error``           a ``DECLINED`` result on a money-moving call
400 ``idempotency_error``               ``GatewayError`` (a bug of ours)
401, 403                                ``GatewayError``
404                                     ``GatewayError`` ``gateway_resource_missing``
429 (or 400 ``rate_limit``), 503        ``GatewayTransient``
409, 500, 502, 504, other 5xx           ``GatewayOutcomeUnknown``
=====================================  ============================================
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
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

GATEWAY = "stripe"
ROUND_TO = {3: 10}
#: Expanded on every PaymentIntent we fetch or move, for the fee.
EXPAND_FEE = "latest_charge.balance_transaction"

#: Stripe ``decline_code`` (with ``code: card_declined``) -> our failure code.
DECLINE_CODES: dict[str, str] = {
    "generic_decline": "card_declined",
    "do_not_honor": "card_declined",
    "insufficient_funds": "insufficient_funds",
    "lost_card": "lost_card",
    "stolen_card": "stolen_card",
    "fraudulent": "fraudulent",
    "expired_card": "expired_card",
    "incorrect_cvc": "incorrect_cvc",
}
#: Stripe card-error ``code``s that say the processor failed, not the card: retryable.
RETRYABLE_CODES = frozenset({"processing_error"})


def _response_error(detail: str) -> PaysteadError:
    return GatewayError(f"stripe response: {detail}", code="gateway_response_invalid")


# -- form encoding ----------------------------------------------------------------------


def encode_form(params: Mapping[str, Any], prefix: str | None = None) -> Iterator[tuple[str, str]]:
    """Stripe's nested form encoding, as stripe-python's ``_api_encode`` does it.

    ``{"metadata": {"k": "v"}, "expand": ["a"], "confirm": True}`` ->
    ``metadata[k]=v``, ``expand[0]=a``, ``confirm=true``; ``None`` values are left out.
    """
    for key, value in params.items():
        name = f"{prefix}[{key}]" if prefix else str(key)
        if value is None:
            continue
        if isinstance(value, Mapping):
            yield from encode_form(value, name)
        elif isinstance(value, list | tuple):
            for index, item in enumerate(value):
                if isinstance(item, Mapping):
                    yield from encode_form(item, f"{name}[{index}]")
                else:
                    yield f"{name}[{index}]", _scalar(item)
        else:
            yield name, _scalar(value)


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# -- outgoing ---------------------------------------------------------------------------


def amount_of(money: Money) -> int:
    return to_gateway_amount(money, round_to=ROUND_TO)


def money_of(value: int, currency_code: str, error: wire.ErrorFactory | None = None) -> Money:
    """The gateway's amount as ``Money``; a bad amount or currency raises ``error``."""
    try:
        return from_gateway_amount(value, currency_code.upper())
    except InvalidInput as exc:
        raise (error or _response_error)(exc.detail) from exc


def payment_intent_body(request: AuthorizeRequest) -> dict[str, Any]:
    """``POST /v1/payment_intents``, confirmed at once with the given PaymentMethod.

    Redirect-based methods are switched off (``allow_redirects=never``) because the
    server confirms without a ``return_url``; 3-D Secure still comes back as
    ``requires_action``.
    """
    return {
        "amount": amount_of(request.amount),
        "currency": request.amount.currency.lower(),
        "payment_method": request.payment_method,
        "confirm": True,
        "capture_method": "automatic" if request.capture else "manual",
        "automatic_payment_methods": {"enabled": True, "allow_redirects": "never"},
        "description": request.description,
        "metadata": {**request.metadata, "paystead_idempotency_key": request.idempotency_key},
        "expand": [EXPAND_FEE],
    }


def capture_body(amount: Money) -> dict[str, Any]:
    """``POST /v1/payment_intents/:id/capture``: less than authorized releases the rest."""
    return {"amount_to_capture": amount_of(amount), "expand": [EXPAND_FEE]}


def cancel_body() -> dict[str, Any]:
    return {"cancellation_reason": "requested_by_customer"}


def refund_body(payment_intent: str, amount: Money, *, idempotency_key: str) -> dict[str, Any]:
    return {
        "payment_intent": payment_intent,
        "amount": amount_of(amount),
        "metadata": {"paystead_refund_id": idempotency_key},
    }


# -- errors -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StripeError:
    type: str
    message: str
    code: str | None = None
    decline_code: str | None = None
    param: str | None = None
    payment_intent: Mapping[str, Any] | None = None
    raw: Mapping[str, Any] = dataclass_field(default_factory=dict)


def parse_error(body: Mapping[str, Any]) -> StripeError | None:
    error = body.get("error")
    if not isinstance(error, dict):
        return None

    def text(key: str) -> str | None:
        value = error.get(key)
        return value if isinstance(value, str) and value else None

    intent = error.get("payment_intent")
    return StripeError(
        type=text("type") or "api_error",
        message=text("message") or "no message",
        code=text("code"),
        decline_code=text("decline_code"),
        param=text("param"),
        payment_intent=intent if isinstance(intent, dict) else None,
        raw=error,
    )


def error_for_status(
    status: int, error: StripeError | None, *, should_retry: str | None = None
) -> PaysteadError | None:
    """The exception an unsuccessful answer raises, or ``None`` when it is a decline.

    ``should_retry`` is the ``Stripe-Should-Retry`` header: ``"false"`` makes an
    otherwise retryable answer final.
    """
    message = f": {error.message}" if error is not None else ""
    if status == 401:
        return GatewayError(
            f"stripe rejected the API key{message}", code="gateway_authentication_failed"
        )
    if status == 403:
        return GatewayError(f"stripe refused the call{message}", code="gateway_permission_denied")
    if status == 404:
        return GatewayError(f"stripe has no such object{message}", code="gateway_resource_missing")
    if error is not None and error.type == "idempotency_error":
        return GatewayError(
            f"stripe idempotency conflict{message}", code="gateway_idempotency_conflict"
        )
    rate_limited = status == 429 or (error is not None and error.code == "rate_limit")
    retryable: PaysteadError | None = None
    if rate_limited:
        retryable = GatewayTransient(f"stripe rate limit{message}", code="gateway_rate_limited")
    elif status == 503:
        retryable = GatewayTransient(f"stripe unavailable{message}", code="gateway_unavailable")
    elif status == 409 or status >= 500 or error is None:
        retryable = GatewayOutcomeUnknown(
            f"stripe answered HTTP {status}{message}", code="gateway_server_error"
        )
    if retryable is not None:
        if should_retry == "false":
            return GatewayError(f"stripe answered HTTP {status} and asked for no retry{message}")
        return retryable
    return None


def failure_code(error: StripeError) -> str:
    if error.code == "card_declined" and error.decline_code is not None:
        return DECLINE_CODES.get(error.decline_code, error.decline_code)
    if error.code is not None:
        return DECLINE_CODES.get(error.code, error.code)
    return "card_declined" if error.type == "card_error" else "invalid_request"


def declined(error: StripeError) -> GatewayResult:
    """A final answer from a 402 card error or a 400 invalid request."""
    retryable = error.code in RETRYABLE_CODES
    intent = error.payment_intent or {}
    reference = intent.get("id") if isinstance(intent.get("id"), str) else None
    status = intent.get("status") if isinstance(intent.get("status"), str) else None
    return GatewayResult(
        Outcome.FAILED if retryable else Outcome.DECLINED,
        reference=reference,
        failure_code=failure_code(error),
        failure_message=error.message,
        retryable=retryable,
        gateway_status=status,
    )


# -- incoming objects -------------------------------------------------------------------


def _fee(intent: Mapping[str, Any], currency: str, error: wire.ErrorFactory) -> Money | None:
    """The fee from ``latest_charge.balance_transaction`` when expanded in our currency."""
    charge = intent.get("latest_charge")
    if not isinstance(charge, dict):
        return None
    txn = charge.get("balance_transaction")
    if not isinstance(txn, dict):
        return None
    fee = wire.opt_integer(txn, "fee", error)
    txn_currency = wire.opt_string(txn, "currency", error)
    if fee is None or txn_currency is None or txn_currency.lower() != currency.lower():
        return None  # settled in another currency: the fee cannot be posted beside it
    return money_of(fee, currency, error)


def _next_action(intent: Mapping[str, Any], kind: str) -> NextAction:
    params: dict[str, str | int] = {"payment_intent": str(intent.get("id"))}
    secret = intent.get("client_secret")
    if isinstance(secret, str):
        params["client_secret"] = secret
    action = intent.get("next_action")
    if isinstance(action, dict):
        kind = str(action.get("type") or kind)
        redirect = action.get("redirect_to_url")
        if isinstance(redirect, dict) and isinstance(redirect.get("url"), str):
            params["url"] = redirect["url"]
    return NextAction(type=kind, params=params)


def payment_intent_result(
    intent: Mapping[str, Any], error: wire.ErrorFactory = _response_error
) -> GatewayResult:
    intent_id = wire.string(intent, "id", error)
    status = wire.string(intent, "status", error)
    currency = wire.string(intent, "currency", error)
    common: dict[str, Any] = {"reference": intent_id, "gateway_status": status}

    def amount(key: str) -> Money:
        return money_of(wire.integer(intent, key, error), currency, error)

    if status == "succeeded":
        return GatewayResult(
            Outcome.CAPTURED,
            amount=amount("amount_received"),
            fee=_fee(intent, currency, error),
            **common,
        )
    if status == "requires_capture":
        return GatewayResult(Outcome.AUTHORIZED, amount=amount("amount_capturable"), **common)
    if status == "processing":
        return GatewayResult(Outcome.PENDING, amount=amount("amount"), **common)
    if status == "canceled":
        return GatewayResult(Outcome.VOIDED, amount=amount("amount"), **common)
    if status == "requires_payment_method":
        last_error = intent.get("last_payment_error")
        if isinstance(last_error, dict):
            parsed = parse_error({"error": last_error})
            assert parsed is not None
            result = declined(parsed)
            return GatewayResult(
                result.outcome,
                failure_code=result.failure_code,
                failure_message=result.failure_message,
                retryable=result.retryable,
                amount=amount("amount"),
                **common,
            )
        return GatewayResult(
            Outcome.REQUIRES_ACTION,
            amount=amount("amount"),
            next_action=_next_action(intent, "requires_payment_method"),
            **common,
        )
    if status in ("requires_action", "requires_confirmation"):
        return GatewayResult(
            Outcome.REQUIRES_ACTION,
            amount=amount("amount"),
            next_action=_next_action(intent, status),
            **common,
        )
    raise error(f"unknown payment intent status {status!r}")


def refund_result(
    refund: Mapping[str, Any], error: wire.ErrorFactory = _response_error
) -> GatewayResult:
    refund_id = wire.string(refund, "id", error)
    status = wire.string(refund, "status", error)
    amount = money_of(
        wire.integer(refund, "amount", error), wire.string(refund, "currency", error), error
    )
    common: dict[str, Any] = {"reference": refund_id, "amount": amount, "gateway_status": status}
    if status in ("pending", "requires_action"):
        return GatewayResult(Outcome.PENDING, **common)
    if status == "succeeded":
        return GatewayResult(Outcome.REFUNDED, **common)
    if status in ("failed", "canceled"):
        reason = wire.opt_string(refund, "failure_reason", error)
        return GatewayResult(
            Outcome.DECLINED,
            failure_code=reason or f"refund_{status}",
            failure_message=f"Stripe reports the refund {status}.",
            **common,
        )
    raise error(f"unknown refund status {status!r}")
