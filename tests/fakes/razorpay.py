"""A fake Razorpay API (``https://api.razorpay.com/v1``) for connector tests.

Copied from Razorpay's API reference: HTTP Basic ``key_id:key_secret`` (401 with
``{"error": {"code": "BAD_REQUEST_ERROR", "description": "Authentication failed"...}}``
otherwise); JSON bodies; entities ``order_...``, ``pay_...``, ``rfnd_...`` with the
documented fields; errors as ``{"error": {"code", "description", "source", "step",
"reason", "metadata", "field"}}``; ``unique_receipt`` orders; ``X-Refund-Idempotency``
(10+ characters of ``[A-Za-z0-9_-]``; same key and body -> the same refund, a different
body -> ``BAD_REQUEST_ERROR`` "Different request with the same idempotency key has
already been processed."). Descriptions we could not find verbatim in the docs (the
capture refusals) are marked ``# wording ours``.

Checkout runs in a browser and cannot run here: ``POST /_test/checkout`` stands in for
it, creating the payment a customer would and returning what Checkout's handler gets
(``razorpay_payment_id``, ``razorpay_order_id``, ``razorpay_signature``), signed with
the key secret exactly as Razorpay documents.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import re
import string
import time
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.base import FakeProvider

_ALPHABET = string.ascii_letters + string.digits
_REFUND_KEY = re.compile(r"^[A-Za-z0-9_-]{10,}$")

#: Checkout outcomes the fake can simulate -> (error_code, source, step, reason, description)
FAILURES: dict[str, tuple[str, str, str, str, str]] = {
    "insufficient_funds": (
        "BAD_REQUEST_ERROR",
        "customer",
        "payment_authorization",
        "insufficient_funds",
        "Your payment could not be completed due to insufficient account balance. "
        "Try another card or payment method.",
    ),
    "card_declined": (
        "BAD_REQUEST_ERROR",
        "bank",
        "payment_authorization",
        "card_declined",
        "Payment declined by the customer's bank.",
    ),
    "gateway_technical_error": (
        "GATEWAY_ERROR",
        "gateway",
        "payment_authorization",
        "gateway_technical_error",
        "There was a downtime on our partner bank due to which the payment has failed.",
    ),
}


def error_body(
    description: str,
    *,
    code: str = "BAD_REQUEST_ERROR",
    source: str = "business",
    step: str = "payment_initiation",
    reason: str = "input_validation_failed",
    field: str | None = None,
) -> dict[str, Any]:
    error: dict[str, Any] = {
        "code": code,
        "description": description,
        "source": source,
        "step": step,
        "reason": reason,
        "metadata": {},
    }
    if field is not None:
        error["field"] = field
    return {"error": error}


NA_ERROR = {"source": "NA", "step": "NA", "reason": "NA"}


class FakeRazorpay(FakeProvider):
    def __init__(
        self,
        *,
        key_id: str = "rzp_test_1DP5mmOlF5G5ag",
        key_secret: str = "thisisasecretkeyfortests",
        seed: int = 7,
    ):
        super().__init__()
        self.key_id = key_id
        self.key_secret = key_secret
        self._random = random.Random(seed)
        self.orders: dict[str, dict[str, Any]] = {}
        self.payments: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self._receipts: dict[str, str] = {}
        self._refund_keys: dict[str, tuple[str, str]] = {}
        #: Status the next refunds are created in ("processed" unless a test says).
        self.refund_status = "processed"
        self.app = self.with_faults(
            Starlette(
                routes=[
                    Route("/v1/orders", self.create_order, methods=["POST"]),
                    Route("/v1/orders/{id}", self.fetch_order, methods=["GET"]),
                    Route("/v1/orders/{id}/payments", self.order_payments, methods=["GET"]),
                    Route("/v1/payments/{id}", self.fetch_payment, methods=["GET"]),
                    Route("/v1/payments/{id}/capture", self.capture, methods=["POST"]),
                    Route("/v1/payments/{id}/refund", self.refund, methods=["POST"]),
                    Route("/v1/refunds/{id}", self.fetch_refund, methods=["GET"]),
                    Route("/_test/checkout", self.checkout, methods=["POST"]),
                ]
            )
        )

    def _id(self, prefix: str) -> str:
        return f"{prefix}_" + "".join(self._random.choice(_ALPHABET) for _ in range(14))

    # -- plumbing -------------------------------------------------------------------

    def _authorized(self, request: Request) -> bool:
        expected = base64.b64encode(f"{self.key_id}:{self.key_secret}".encode()).decode()
        return hmac.compare_digest(request.headers.get("authorization", ""), f"Basic {expected}")

    async def _begin(self, request: Request) -> tuple[Response | None, dict[str, Any]]:
        await self.log(request)
        if request.url.path.startswith("/v1") and not self._authorized(request):
            return JSONResponse(
                {
                    "error": {
                        "code": "BAD_REQUEST_ERROR",
                        "description": "Authentication failed",
                        **NA_ERROR,
                        "metadata": {},
                    }
                },
                status_code=401,
            ), {}
        if request.method != "POST":
            return None, {}
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            return JSONResponse(error_body("The request body is not valid JSON"), 400), {}
        if not isinstance(body, dict):
            return JSONResponse(error_body("The request body must be a JSON object"), 400), {}
        return None, body

    @staticmethod
    def _missing() -> JSONResponse:
        return JSONResponse(error_body("The id provided does not exist"), 400)

    # -- orders ---------------------------------------------------------------------

    async def create_order(self, request: Request) -> Response:
        early, body = await self._begin(request)
        if early is not None:
            return early
        amount, currency = body.get("amount"), body.get("currency")
        if type(amount) is not int:
            return JSONResponse(error_body("The amount must be an integer.", field="amount"), 400)
        if not isinstance(currency, str) or len(currency) != 3:
            return JSONResponse(
                error_body("The currency field is required.", field="currency"), 400
            )
        if currency == "INR" and amount < 100:
            return JSONResponse(
                error_body("The amount must be at least INR 1.00", field="amount"), 400
            )
        receipt = body.get("receipt")
        if receipt is not None and (not isinstance(receipt, str) or len(receipt) > 40):
            return JSONResponse(
                error_body("The receipt may not be greater than 40 characters.", field="receipt"),
                400,
            )
        notes = body.get("notes") or {}
        if not isinstance(notes, dict) or len(notes) > 15:
            return JSONResponse(error_body("Number of notes can not exceed 15", field="notes"), 400)
        if body.get("unique_receipt") and receipt in self._receipts:
            existing = self.orders[self._receipts[receipt]]
            if (existing["amount"], existing["currency"]) == (amount, currency):
                return JSONResponse(existing)
            return JSONResponse(
                error_body("Receipt already exists", field="receipt"), 400
            )  # wording ours
        order = {
            "id": self._id("order"),
            "entity": "order",
            "amount": amount,
            "amount_paid": 0,
            "amount_due": amount,
            "currency": currency,
            "receipt": receipt,
            "offer_id": None,
            "status": "created",
            "attempts": 0,
            "notes": notes or [],
            "created_at": int(time.time()),
        }
        self.orders[order["id"]] = order
        if receipt is not None and body.get("unique_receipt"):
            self._receipts[receipt] = order["id"]
        return JSONResponse(order)

    async def fetch_order(self, request: Request) -> Response:
        early, _ = await self._begin(request)
        if early is not None:
            return early
        order = self.orders.get(request.path_params["id"])
        return JSONResponse(order) if order is not None else self._missing()

    async def order_payments(self, request: Request) -> Response:
        early, _ = await self._begin(request)
        if early is not None:
            return early
        order_id = request.path_params["id"]
        if order_id not in self.orders:
            return self._missing()
        items = [p for p in self.payments.values() if p["order_id"] == order_id]
        return JSONResponse({"entity": "collection", "count": len(items), "items": items})

    # -- Checkout, simulated ----------------------------------------------------------

    async def checkout(self, request: Request) -> Response:
        """What the browser would do: pay the order, return Checkout's handler values."""
        body = json.loads(await request.body())
        order = self.orders[body["order_id"]]
        outcome = body.get("outcome", "success")
        payment: dict[str, Any] = {
            "id": self._id("pay"),
            "entity": "payment",
            "amount": order["amount"],
            "currency": order["currency"],
            "status": "authorized",
            "order_id": order["id"],
            "invoice_id": None,
            "international": False,
            "method": body.get("method", "card"),
            "amount_refunded": 0,
            "refund_status": None,
            "captured": False,
            "description": None,
            "card_id": None,
            "bank": None,
            "wallet": None,
            "vpa": None,
            "email": "gaurav.kumar@example.com",
            "contact": "+919000090000",
            "notes": order["notes"],
            "fee": None,
            "tax": None,
            "error_code": None,
            "error_description": None,
            "error_source": None,
            "error_step": None,
            "error_reason": None,
            "acquirer_data": {},
            "created_at": int(time.time()) + len(self.payments),
        }
        order["attempts"] += 1
        order["status"] = "attempted"
        if outcome in FAILURES:
            code, source, step, reason, description = FAILURES[outcome]
            payment.update(
                status="failed",
                error_code=code,
                error_description=description,
                error_source=source,
                error_step=step,
                error_reason=reason,
            )
        elif outcome == "auto_capture":
            self._capture(payment)
        self.payments[payment["id"]] = payment
        signature = hmac.new(
            self.key_secret.encode(), f"{order['id']}|{payment['id']}".encode(), hashlib.sha256
        ).hexdigest()
        return JSONResponse(
            {
                "razorpay_payment_id": payment["id"],
                "razorpay_order_id": order["id"],
                "razorpay_signature": signature,
            }
        )

    # -- payments -------------------------------------------------------------------

    def _capture(self, payment: dict[str, Any]) -> None:
        fee = round(payment["amount"] * 0.02)
        tax = round(fee * 0.18)
        payment.update(status="captured", captured=True, fee=fee + tax, tax=tax)
        order = self.orders[payment["order_id"]]
        order.update(status="paid", amount_paid=payment["amount"], amount_due=0)

    async def fetch_payment(self, request: Request) -> Response:
        early, _ = await self._begin(request)
        if early is not None:
            return early
        payment = self.payments.get(request.path_params["id"])
        return JSONResponse(payment) if payment is not None else self._missing()

    async def capture(self, request: Request) -> Response:
        early, body = await self._begin(request)
        if early is not None:
            return early
        payment = self.payments.get(request.path_params["id"])
        if payment is None:
            return self._missing()
        if type(body.get("amount")) is not int:
            return JSONResponse(error_body("The amount must be an integer.", field="amount"), 400)
        if payment["status"] == "captured":
            return JSONResponse(error_body("This payment has already been captured"), 400)
        if payment["status"] != "authorized":
            return JSONResponse(
                error_body(  # wording ours
                    "Only payments which have been authorized and not yet captured can be captured"
                ),
                400,
            )
        if body["amount"] != payment["amount"] or body.get("currency") != payment["currency"]:
            return JSONResponse(
                error_body(
                    "Capture amount must be equal to the amount authorized", field="amount"
                ),  # wording ours
                400,
            )
        self._capture(payment)
        return JSONResponse(payment)

    # -- refunds --------------------------------------------------------------------

    async def refund(self, request: Request) -> Response:
        early, body = await self._begin(request)
        if early is not None:
            return early
        key = request.headers.get("x-refund-idempotency")
        fingerprint = json.dumps([request.path_params["id"], body], sort_keys=True)
        if key is not None:
            if not _REFUND_KEY.match(key):
                return JSONResponse(
                    error_body("The idempotency key is invalid"), 400
                )  # wording ours
            if key in self._refund_keys:
                seen, refund_id = self._refund_keys[key]
                if seen != fingerprint:
                    return JSONResponse(
                        {
                            "error": {
                                "code": "BAD_REQUEST_ERROR",
                                "description": "Different request with the same idempotency key has already been processed.",
                                **NA_ERROR,
                                "metadata": {},
                            }
                        },
                        400,
                    )
                return JSONResponse(self.refunds[refund_id])
        payment = self.payments.get(request.path_params["id"])
        if payment is None:
            return self._missing()
        if not payment["captured"]:
            return JSONResponse(
                error_body("The payment has not been captured"), 400
            )  # wording ours
        remaining = payment["amount"] - payment["amount_refunded"]
        amount = body.get("amount", remaining)
        if type(amount) is not int or amount <= 0:
            return JSONResponse(error_body("The amount must be an integer.", field="amount"), 400)
        if amount > remaining:
            return JSONResponse(
                error_body(
                    "The refund amount provided is greater than amount captured", field="amount"
                ),  # wording ours
                400,
            )
        speed = body.get("speed", "normal")
        refund = {
            "id": self._id("rfnd"),
            "entity": "refund",
            "amount": amount,
            "currency": payment["currency"],
            "payment_id": payment["id"],
            "notes": body.get("notes") or [],
            "receipt": body.get("receipt"),
            "acquirer_data": {"arn": None},
            "created_at": int(time.time()),
            "batch_id": None,
            "status": self.refund_status,
            "speed_processed": "normal",
            "speed_requested": speed,
        }
        self.refunds[refund["id"]] = refund
        payment["amount_refunded"] += amount
        full = payment["amount_refunded"] == payment["amount"]
        payment["refund_status"] = "full" if full else "partial"
        if full:
            payment["status"] = "refunded"
        if key is not None:
            self._refund_keys[key] = (fingerprint, refund["id"])
        return JSONResponse(refund)

    async def fetch_refund(self, request: Request) -> Response:
        early, _ = await self._begin(request)
        if early is not None:
            return early
        refund = self.refunds.get(request.path_params["id"])
        return JSONResponse(refund) if refund is not None else self._missing()

    # -- webhooks -------------------------------------------------------------------

    def webhook(
        self, event: str, *, payment_id: str | None = None, refund_id: str | None = None
    ) -> dict[str, Any]:
        """The envelope Razorpay would POST for ``event`` about these objects."""
        payload: dict[str, Any] = {}
        contains = []
        if refund_id is not None:
            payload["refund"] = {"entity": self.refunds[refund_id]}
            contains.append("refund")
            payment_id = payment_id or self.refunds[refund_id]["payment_id"]
        if payment_id is not None:
            payload["payment"] = {"entity": self.payments[payment_id]}
            contains.append("payment")
        return {
            "entity": "event",
            "account_id": "acc_E7OQJcEANmBHTC",
            "event": event,
            "contains": contains,
            "payload": payload,
            "created_at": int(time.time()),
        }
