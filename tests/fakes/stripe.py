"""A fake Stripe API (``https://api.stripe.com/v1``) for connector tests.

Copied from Stripe's API reference and stripe-python: ``Authorization: Bearer sk_...``
(401 ``invalid_request_error`` otherwise); ``application/x-www-form-urlencoded``
bodies with nested keys (``metadata[k]=v``, ``expand[0]=...``); ``Idempotency-Key`` on
POSTs (the first status and body are saved and replayed with ``Idempotent-Replayed:
true`` for the same parameters; other parameters -> 400 ``idempotency_error``);
objects ``pi_...``, ``ch_...``, ``txn_...``, ``re_...``; declines as HTTP 402
``card_error`` with ``code``, ``decline_code`` and the PaymentIntent; Stripe's test
PaymentMethods (``pm_card_visa``, ``pm_card_chargeDeclinedInsufficientFunds``...).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import string
import time
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.base import FakeProvider

_ALPHABET = string.ascii_letters + string.digits

#: Test PaymentMethods -> (code, decline_code, message) for declines.
DECLINES: dict[str, tuple[str, str | None, str]] = {
    "pm_card_chargeDeclined": ("card_declined", "generic_decline", "Your card was declined."),
    "pm_card_chargeDeclinedInsufficientFunds": (
        "card_declined",
        "insufficient_funds",
        "Your card has insufficient funds.",
    ),
    "pm_card_chargeDeclinedFraudulent": ("card_declined", "fraudulent", "Your card was declined."),
    "pm_card_chargeDeclinedExpiredCard": ("expired_card", "expired_card", "Your card has expired."),
    "pm_card_chargeDeclinedProcessingError": (
        "processing_error",
        None,
        "An error occurred while processing your card. Try again in a little bit.",
    ),
}
SUCCEEDS = frozenset({"pm_card_visa", "pm_card_mastercard", "pm_card_amex"})
NEEDS_3DS = "pm_card_authenticationRequired"


def decode_form(body: bytes) -> dict[str, Any]:
    """``a[b]=1&c[0]=x`` -> ``{"a": {"b": "1"}, "c": {"0": "x"}}`` (lists stay indexed)."""
    out: dict[str, Any] = {}
    for key, value in parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=False):
        parts = key.replace("]", "").split("[")
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


def invalid(
    message: str, *, code: str | None = None, param: str | None = None, status: int = 400
) -> JSONResponse:
    error: dict[str, Any] = {"message": message, "type": "invalid_request_error"}
    if code is not None:
        error["code"] = code
        error["doc_url"] = f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"
    if param is not None:
        error["param"] = param
    return JSONResponse({"error": error}, status_code=status)


class FakeStripe(FakeProvider):
    def __init__(self, *, secret_key: str = "sk_test_4eC39HqLyjWDarjtT1zdp7dc", seed: int = 11):
        super().__init__()
        self.secret_key = secret_key
        self._random = random.Random(seed)
        self.intents: dict[str, dict[str, Any]] = {}
        self.charges: dict[str, dict[str, Any]] = {}
        self.balance_transactions: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self._idempotency: dict[str, tuple[str, dict[str, Any], int, bytes]] = {}
        self.app = self.with_faults(
            Starlette(
                routes=[
                    Route("/v1/payment_intents", self.create_intent, methods=["POST"]),
                    Route("/v1/payment_intents/{id}", self.retrieve_intent, methods=["GET"]),
                    Route(
                        "/v1/payment_intents/{id}/capture", self.capture_intent, methods=["POST"]
                    ),
                    Route("/v1/payment_intents/{id}/cancel", self.cancel_intent, methods=["POST"]),
                    Route("/v1/refunds", self.create_refund, methods=["POST"]),
                    Route("/v1/refunds/{id}", self.retrieve_refund, methods=["GET"]),
                ]
            )
        )

    def _id(self, prefix: str) -> str:
        return f"{prefix}_3" + "".join(self._random.choice(_ALPHABET) for _ in range(23))

    # -- plumbing -------------------------------------------------------------------

    async def _handle(self, request: Request, handler: Any) -> Response:
        await self.log(request)
        auth = request.headers.get("authorization", "")
        if not auth:
            return invalid(
                "You did not provide an API key. You need to provide your API key in the "
                "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
                status=401,
            )
        if not hmac.compare_digest(auth, f"Bearer {self.secret_key}"):
            shown = auth.removeprefix("Bearer ")
            return invalid(f"Invalid API Key provided: {shown[:8]}****{shown[-4:]}", status=401)
        if request.method == "GET":
            params = decode_form(request.url.query.encode())
            return handler(request, params)
        params = decode_form(await request.body())
        key = request.headers.get("idempotency-key")
        if key is None:
            return handler(request, params)
        seen = self._idempotency.get(key)
        if seen is not None:
            path, seen_params, status, body = seen
            if path != request.url.path or seen_params != params:
                return JSONResponse(
                    {
                        "error": {
                            "message": "Keys for idempotent requests can only be used with the same "
                            "parameters they were first used with. Try using a key other than "
                            f"'{key}' if you meant to execute a different request.",
                            "type": "idempotency_error",
                        }
                    },
                    status_code=400,
                )
            return Response(
                body, status, media_type="application/json", headers={"Idempotent-Replayed": "true"}
            )
        response: Response = handler(request, params)
        self._idempotency[key] = (
            request.url.path,
            params,
            response.status_code,
            bytes(response.body),
        )
        return response

    @staticmethod
    def _missing(kind: str, object_id: str) -> JSONResponse:
        return invalid(
            f"No such {kind}: '{object_id}'", code="resource_missing", param="id", status=404
        )

    def _expand(self, intent: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        expand = set((params.get("expand") or {}).values())
        out = dict(intent)
        charge_id = intent.get("latest_charge")
        if charge_id and "latest_charge.balance_transaction" in expand:
            charge = dict(self.charges[charge_id])
            charge["balance_transaction"] = self.balance_transactions[charge["balance_transaction"]]
            out["latest_charge"] = charge
        return out

    def _charge(self, intent: dict[str, Any], amount: int) -> None:
        fee = round(amount * 0.029) + (30 if intent["currency"] == "usd" else 0)
        txn = {
            "id": self._id("txn"),
            "object": "balance_transaction",
            "amount": amount,
            "currency": intent["currency"],
            "fee": fee,
            "net": amount - fee,
            "status": "pending",
            "type": "charge",
        }
        self.balance_transactions[txn["id"]] = txn
        charge = {
            "id": self._id("ch"),
            "object": "charge",
            "amount": intent["amount"],
            "amount_captured": amount,
            "amount_refunded": 0,
            "balance_transaction": txn["id"],
            "captured": True,
            "currency": intent["currency"],
            "paid": True,
            "payment_intent": intent["id"],
            "refunded": False,
            "status": "succeeded",
            "metadata": intent["metadata"],
        }
        self.charges[charge["id"]] = charge
        intent["latest_charge"] = charge["id"]

    # -- payment intents --------------------------------------------------------------

    async def create_intent(self, request: Request) -> Response:
        return await self._handle(request, self._create_intent)

    def _create_intent(self, request: Request, params: dict[str, Any]) -> Response:
        try:
            amount = int(params["amount"])
        except (KeyError, ValueError):
            return invalid(
                "Missing required param: amount.", code="parameter_missing", param="amount"
            )
        currency = params.get("currency", "")
        if len(currency) != 3 or currency != currency.lower():
            return invalid("Invalid currency.", code="parameter_invalid_string", param="currency")
        method = params.get("payment_method", "")
        capture_method = params.get("capture_method", "automatic")
        intent: dict[str, Any] = {
            "id": self._id("pi"),
            "object": "payment_intent",
            "amount": amount,
            "amount_capturable": 0,
            "amount_received": 0,
            "capture_method": capture_method,
            "client_secret": None,
            "confirmation_method": "automatic",
            "created": int(time.time()),
            "currency": currency,
            "description": params.get("description"),
            "last_payment_error": None,
            "latest_charge": None,
            "livemode": False,
            "metadata": params.get("metadata", {}),
            "next_action": None,
            "payment_method": method,
            "payment_method_types": ["card"],
            "status": "requires_confirmation",
        }
        intent["client_secret"] = f"{intent['id']}_secret_{self._id('x')[2:]}"
        self.intents[intent["id"]] = intent
        if method not in SUCCEEDS and method not in DECLINES and method != NEEDS_3DS:
            del self.intents[intent["id"]]
            return invalid(
                f"No such PaymentMethod: '{method}'",
                code="resource_missing",
                param="payment_method",
            )
        if params.get("confirm") != "true":
            return JSONResponse(self._expand(intent, params))
        if method in DECLINES:
            code, decline_code, message = DECLINES[method]
            error: dict[str, Any] = {
                "code": code,
                "doc_url": f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}",
                "message": message,
                "type": "card_error",
            }
            if decline_code is not None:
                error["decline_code"] = decline_code
            intent.update(status="requires_payment_method", last_payment_error=dict(error))
            error["payment_intent"] = intent
            return JSONResponse({"error": error}, status_code=402)
        if method == NEEDS_3DS:
            intent.update(
                status="requires_action",
                next_action={
                    "type": "use_stripe_sdk",
                    "use_stripe_sdk": {"type": "three_d_secure_redirect"},
                },
            )
            return JSONResponse(self._expand(intent, params))
        if capture_method == "manual":
            intent.update(status="requires_capture", amount_capturable=amount)
        else:
            intent.update(status="succeeded", amount_received=amount)
            self._charge(intent, amount)
        return JSONResponse(self._expand(intent, params))

    async def retrieve_intent(self, request: Request) -> Response:
        def handler(request: Request, params: dict[str, Any]) -> Response:
            intent = self.intents.get(request.path_params["id"])
            if intent is None:
                return self._missing("payment_intent", request.path_params["id"])
            return JSONResponse(self._expand(intent, params))

        return await self._handle(request, handler)

    async def capture_intent(self, request: Request) -> Response:
        def handler(request: Request, params: dict[str, Any]) -> Response:
            intent = self.intents.get(request.path_params["id"])
            if intent is None:
                return self._missing("payment_intent", request.path_params["id"])
            if intent["status"] != "requires_capture":
                return invalid(
                    "This PaymentIntent could not be captured because it has a status of "
                    f"{intent['status']}. Only a PaymentIntent with one of the following "
                    "statuses may be captured: requires_capture.",
                    code="payment_intent_unexpected_state",
                )
            amount = int(params.get("amount_to_capture", intent["amount_capturable"]))
            if amount > intent["amount_capturable"]:
                return invalid(
                    "The amount to capture is greater than the amount capturable.",  # wording ours
                    param="amount_to_capture",
                )
            intent.update(status="succeeded", amount_received=amount, amount_capturable=0)
            self._charge(intent, amount)
            return JSONResponse(self._expand(intent, params))

        return await self._handle(request, handler)

    async def cancel_intent(self, request: Request) -> Response:
        def handler(request: Request, params: dict[str, Any]) -> Response:
            intent = self.intents.get(request.path_params["id"])
            if intent is None:
                return self._missing("payment_intent", request.path_params["id"])
            if intent["status"] in ("succeeded", "canceled"):
                return invalid(
                    "You cannot cancel this PaymentIntent because it has a status of "
                    f"{intent['status']}. Only a PaymentIntent with one of the following "
                    "statuses may be canceled: requires_payment_method, requires_capture, "
                    "requires_confirmation, requires_action, processing.",
                    code="payment_intent_unexpected_state",
                )
            intent.update(
                status="canceled",
                amount_capturable=0,
                canceled_at=int(time.time()),
                cancellation_reason=params.get("cancellation_reason"),
            )
            return JSONResponse(intent)

        return await self._handle(request, handler)

    # -- refunds --------------------------------------------------------------------

    async def create_refund(self, request: Request) -> Response:
        def handler(request: Request, params: dict[str, Any]) -> Response:
            intent = self.intents.get(params.get("payment_intent", ""))
            if intent is None:
                return self._missing("payment_intent", params.get("payment_intent", ""))
            if intent["latest_charge"] is None:
                return invalid(
                    f"This PaymentIntent ({intent['id']}) does not have a successful charge to refund.",
                    param="payment_intent",
                )
            charge = self.charges[intent["latest_charge"]]
            remaining = charge["amount_captured"] - charge["amount_refunded"]
            if remaining == 0:
                return invalid(
                    f"Charge {charge['id']} has already been refunded.",
                    code="charge_already_refunded",
                )
            amount = int(params.get("amount", remaining))
            if amount > remaining:
                return invalid(
                    f"Refund amount ({amount}) is greater than unrefunded amount on charge ({remaining})",
                    code="amount_too_large",
                    param="amount",
                )
            refund = {
                "id": self._id("re"),
                "object": "refund",
                "amount": amount,
                "balance_transaction": None,
                "charge": charge["id"],
                "created": int(time.time()),
                "currency": intent["currency"],
                "metadata": params.get("metadata", {}),
                "payment_intent": intent["id"],
                "reason": params.get("reason"),
                "status": "succeeded",
            }
            self.refunds[refund["id"]] = refund
            charge["amount_refunded"] += amount
            charge["refunded"] = charge["amount_refunded"] == charge["amount_captured"]
            return JSONResponse(refund)

        return await self._handle(request, handler)

    async def retrieve_refund(self, request: Request) -> Response:
        def handler(request: Request, params: dict[str, Any]) -> Response:
            refund = self.refunds.get(request.path_params["id"])
            if refund is None:
                return self._missing("refund", request.path_params["id"])
            return JSONResponse(refund)

        return await self._handle(request, handler)

    # -- webhooks -------------------------------------------------------------------

    def event(
        self, event_type: str, obj: dict[str, Any], *, created: int | None = None
    ) -> dict[str, Any]:
        return {
            "id": "evt_" + self._id("x")[2:],
            "object": "event",
            "api_version": "2024-06-20",
            "created": created if created is not None else int(time.time()),
            "data": {"object": obj},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": event_type,
        }


def sign(body: bytes, secret: str, timestamp: int) -> str:
    """A ``Stripe-Signature`` header, computed here with the standard library alone."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def dumps(obj: Any) -> bytes:
    return json.dumps(obj).encode()
