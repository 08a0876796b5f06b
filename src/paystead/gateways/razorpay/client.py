"""Razorpay's REST API over httpx: HTTP Basic ``key_id:key_secret``, JSON bodies.

One method per endpoint we use, each returning the decoded entity. A failure to get an
answer or a transient answer raises (see :mod:`paystead.gateways.http` and
:func:`~paystead.gateways.razorpay.transformers.error_for_status`); any other error body
raises :class:`RazorpayAPIError`, which the gateway turns into a declined result.
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from paystead.errors import GatewayError, InvalidInput
from paystead.gateways.http import Timeouts, build_client, json_body, send
from paystead.gateways.razorpay import transformers as t

DEFAULT_API_URL = "https://api.razorpay.com"
_ID = re.compile(r"^[A-Za-z0-9_]{1,64}$")


def _id(value: str) -> str:
    """An id safe to put in a URL path (``pay_...``, ``order_...``, ``rfnd_...``)."""
    if not _ID.match(value):
        raise InvalidInput(f"{value!r} is not a razorpay id", code="gateway_reference_invalid")
    return value


class RazorpayAPIError(GatewayError):
    """Razorpay answered with a final error (``BAD_REQUEST_ERROR``, ``GATEWAY_ERROR``)."""

    code = "gateway_request_failed"

    def __init__(self, status: int, error: t.RazorpayError):
        super().__init__(f"razorpay answered HTTP {status}: {error.description}")
        self.status = status
        self.error = error


class RazorpayClient:
    def __init__(
        self,
        *,
        key_id: str,
        key_secret: str,
        api_url: str = DEFAULT_API_URL,
        timeouts: Timeouts | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ):
        if not key_id or not key_secret:
            raise ValueError("razorpay needs a key id and a key secret")
        self._http = build_client(
            api_url,
            timeouts or Timeouts(),
            headers={"User-Agent": "paystead", "Accept": "application/json"},
            auth=httpx.BasicAuth(key_id, key_secret),
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        request = self._http.build_request(method, path, json=body, headers=headers)
        response = await send(self._http, request, gateway=t.GATEWAY)
        if response.is_success:
            return json_body(response, gateway=t.GATEWAY)
        try:
            error = t.parse_error(json_body(response, gateway=t.GATEWAY))
        except GatewayError:
            error = None  # a proxy's HTML error page: classified by status alone
        raised = t.error_for_status(response.status_code, error)
        if raised is not None:
            raise raised
        assert error is not None  # error_for_status returns None only with a body
        raise RazorpayAPIError(response.status_code, error)

    async def create_order(self, body: dict[str, Any]) -> dict[str, Any]:
        return await self._call("POST", "/v1/orders", body=body)

    async def fetch_order(self, order_id: str) -> dict[str, Any]:
        return await self._call("GET", f"/v1/orders/{_id(order_id)}")

    async def fetch_order_payments(self, order_id: str) -> list[Any]:
        collection = await self._call("GET", f"/v1/orders/{_id(order_id)}/payments")
        items = collection.get("items")
        return items if isinstance(items, list) else []

    async def fetch_payment(self, payment_id: str) -> dict[str, Any]:
        return await self._call("GET", f"/v1/payments/{_id(payment_id)}")

    async def capture_payment(self, payment_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self._call("POST", f"/v1/payments/{_id(payment_id)}/capture", body=body)

    async def refund_payment(
        self, payment_id: str, body: dict[str, Any], *, idempotency_key: str
    ) -> dict[str, Any]:
        return await self._call(
            "POST",
            f"/v1/payments/{_id(payment_id)}/refund",
            body=body,
            headers={"X-Refund-Idempotency": idempotency_key},
        )

    async def fetch_refund(self, refund_id: str) -> dict[str, Any]:
        return await self._call("GET", f"/v1/refunds/{_id(refund_id)}")
