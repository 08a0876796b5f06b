"""Stripe's REST API over httpx: Bearer secret key, form-encoded bodies.

Every POST carries an ``Idempotency-Key`` (ours, derived from our ids): Stripe stores
the first answer for a key and replays it for a retry with the same parameters, and
refuses the key with different parameters. One method per endpoint we use.
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from paystead.errors import GatewayError, InvalidInput
from paystead.gateways.http import Timeouts, build_client, json_body, send
from paystead.gateways.stripe import transformers as t

DEFAULT_API_URL = "https://api.stripe.com"
_ID = re.compile(r"^[A-Za-z0-9_]{1,255}$")
IDEMPOTENCY_KEY_MAX = 255


def _id(value: str) -> str:
    if not _ID.match(value):
        raise InvalidInput(f"{value!r} is not a stripe id", code="gateway_reference_invalid")
    return value


class StripeAPIError(GatewayError):
    """Stripe answered with a final error (402 card error, 400 invalid request)."""

    code = "gateway_request_failed"

    def __init__(self, status: int, error: t.StripeError):
        super().__init__(f"stripe answered HTTP {status}: {error.message}")
        self.status = status
        self.error = error


class StripeClient:
    def __init__(
        self,
        *,
        secret_key: str,
        api_url: str = DEFAULT_API_URL,
        timeouts: Timeouts | None = None,
        api_version: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ):
        if not secret_key:
            raise ValueError("stripe needs a secret key")
        headers = {
            "Authorization": f"Bearer {secret_key}",
            "User-Agent": "paystead",
            "Accept": "application/json",
        }
        if api_version:
            headers["Stripe-Version"] = api_version
        self._http = build_client(
            api_url, timeouts or Timeouts(), headers=headers, transport=transport
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        pairs = list(t.encode_form(params or {}))
        headers: dict[str, str] = {}
        if method == "POST":
            if not idempotency_key or len(idempotency_key) > IDEMPOTENCY_KEY_MAX:
                raise ValueError("every stripe POST needs an idempotency key of 1-255 characters")
            headers["Idempotency-Key"] = idempotency_key
            request = self._http.build_request(method, path, data=dict(pairs), headers=headers)
        else:
            request = self._http.build_request(method, path, params=tuple(pairs))
        response = await send(self._http, request, gateway=t.GATEWAY)
        if response.is_success:
            return json_body(response, gateway=t.GATEWAY)
        try:
            error = t.parse_error(json_body(response, gateway=t.GATEWAY))
        except GatewayError:
            error = None
        raised = t.error_for_status(
            response.status_code, error, should_retry=response.headers.get("Stripe-Should-Retry")
        )
        if raised is not None:
            raise raised
        assert error is not None
        raise StripeAPIError(response.status_code, error)

    async def create_payment_intent(
        self, params: dict[str, Any], *, idempotency_key: str
    ) -> dict[str, Any]:
        return await self._call(
            "POST", "/v1/payment_intents", params, idempotency_key=idempotency_key
        )

    async def retrieve_payment_intent(self, intent_id: str) -> dict[str, Any]:
        return await self._call(
            "GET", f"/v1/payment_intents/{_id(intent_id)}", {"expand": [t.EXPAND_FEE]}
        )

    async def capture_payment_intent(
        self, intent_id: str, params: dict[str, Any], *, idempotency_key: str
    ) -> dict[str, Any]:
        return await self._call(
            "POST",
            f"/v1/payment_intents/{_id(intent_id)}/capture",
            params,
            idempotency_key=idempotency_key,
        )

    async def cancel_payment_intent(
        self, intent_id: str, params: dict[str, Any], *, idempotency_key: str
    ) -> dict[str, Any]:
        return await self._call(
            "POST",
            f"/v1/payment_intents/{_id(intent_id)}/cancel",
            params,
            idempotency_key=idempotency_key,
        )

    async def create_refund(
        self, params: dict[str, Any], *, idempotency_key: str
    ) -> dict[str, Any]:
        return await self._call("POST", "/v1/refunds", params, idempotency_key=idempotency_key)

    async def retrieve_refund(self, refund_id: str) -> dict[str, Any]:
        return await self._call("GET", f"/v1/refunds/{_id(refund_id)}")
