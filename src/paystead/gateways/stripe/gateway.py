"""The Stripe connector behind the :class:`~paystead.gateways.base.Gateway` interface.

``authorize`` creates and confirms a PaymentIntent in one call with the PaymentMethod
id we were given (``pm_...``), capture automatic or manual. Every POST carries our
idempotency key, so a retry after a timeout returns the first answer, never a second
charge. ``capture`` may take less than authorized (Stripe releases the rest);
``void`` cancels the PaymentIntent; ``refund`` creates a Refund for the PaymentIntent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace

import httpx

from paystead.errors import InvalidInput
from paystead.gateways.base import AuthorizeRequest, GatewayResult
from paystead.gateways.http import Timeouts
from paystead.gateways.stripe import transformers as t
from paystead.gateways.stripe.client import DEFAULT_API_URL, StripeAPIError, StripeClient
from paystead.money import Money

_PAYMENT_METHOD = re.compile(r"^pm_[A-Za-z0-9_]+$")


class StripeGateway:
    name = "stripe"

    def __init__(
        self,
        *,
        secret_key: str,
        api_url: str = DEFAULT_API_URL,
        timeouts: Timeouts | None = None,
        api_version: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ):
        self.client = StripeClient(
            secret_key=secret_key,
            api_url=api_url,
            timeouts=timeouts,
            api_version=api_version,
            transport=transport,
        )

    async def aclose(self) -> None:
        await self.client.aclose()

    def check_payment_method(self, payment_method: str) -> None:
        if not _PAYMENT_METHOD.match(payment_method):
            raise InvalidInput(
                "stripe payment_method must be a PaymentMethod id (pm_...)",
                code="payment_method_invalid",
                param="payment_method",
            )

    async def authorize(self, request: AuthorizeRequest) -> GatewayResult:
        self.check_payment_method(request.payment_method)
        try:
            intent = await self.client.create_payment_intent(
                t.payment_intent_body(request), idempotency_key=request.idempotency_key
            )
        except StripeAPIError as exc:
            return t.declined(exc.error)
        return t.payment_intent_result(intent)

    async def capture(
        self, reference: str, amount: Money, *, idempotency_key: str
    ) -> GatewayResult:
        try:
            intent = await self.client.capture_payment_intent(
                reference, t.capture_body(amount), idempotency_key=idempotency_key
            )
        except StripeAPIError as exc:
            return _with_reference(t.declined(exc.error), reference)
        return t.payment_intent_result(intent)

    async def void(self, reference: str, *, idempotency_key: str) -> GatewayResult:
        try:
            intent = await self.client.cancel_payment_intent(
                reference, t.cancel_body(), idempotency_key=idempotency_key
            )
        except StripeAPIError as exc:
            return _with_reference(t.declined(exc.error), reference)
        return t.payment_intent_result(intent)

    async def refund(self, reference: str, amount: Money, *, idempotency_key: str) -> GatewayResult:
        try:
            refund = await self.client.create_refund(
                t.refund_body(reference, amount, idempotency_key=idempotency_key),
                idempotency_key=idempotency_key,
            )
        except StripeAPIError as exc:
            return t.declined(exc.error)
        return t.refund_result(refund)

    async def fetch_payment(self, reference: str) -> GatewayResult:
        return t.payment_intent_result(await self.client.retrieve_payment_intent(reference))

    async def fetch_refund(self, reference: str) -> GatewayResult:
        return t.refund_result(await self.client.retrieve_refund(reference))

    async def complete_action(
        self,
        reference: str,
        amount: Money,
        params: Mapping[str, str],
        *,
        capture: bool,
        idempotency_key: str,
    ) -> GatewayResult:
        """After 3-D Secure in the browser the PaymentIntent has moved on by itself:
        fetch it. (Capture follows the ``capture_method`` it was created with.)"""
        return await self.fetch_payment(reference)

    def check_action(self, reference: str, params: Mapping[str, str]) -> None:
        """Nothing the browser sends is trusted: :meth:`complete_action` asks Stripe for
        the PaymentIntent's state. So there is nothing to verify here, on purpose."""
        return None


def _with_reference(result: GatewayResult, reference: str) -> GatewayResult:
    return result if result.reference is not None else replace(result, reference=reference)
