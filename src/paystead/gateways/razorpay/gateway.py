"""The Razorpay connector behind the :class:`~paystead.gateways.base.Gateway` interface.

Razorpay Checkout collects the payment in the customer's browser, so a payment takes
two steps:

1. ``authorize`` creates an order (receipt derived from our idempotency key, with
   ``unique_receipt`` so a retry returns the same order) and returns
   ``REQUIRES_ACTION`` with the order id and key id Checkout needs.
2. ``confirm`` (or ``complete_action``) takes what Checkout returned, verifies its
   signature against the order id we stored, checks the payment belongs to that order
   for the amount we asked, and captures it when the payment is automatic.

``void`` is not supported: Razorpay has no call to release an authorization; an
authorized payment that is never captured is refunded to the customer automatically
(after 3 days by default). Partial capture is not supported either: Razorpay captures
the authorized amount only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import httpx

from paystead.errors import GatewayError, InvalidInput
from paystead.gateways.base import AuthorizeRequest, GatewayResult, Outcome
from paystead.gateways.http import Timeouts
from paystead.gateways.razorpay import transformers as t
from paystead.gateways.razorpay.checkout import verify_checkout_signature
from paystead.gateways.razorpay.client import DEFAULT_API_URL, RazorpayAPIError, RazorpayClient
from paystead.money import Money

#: What ``payment_method`` may say for Razorpay: Checkout chooses the instrument, so it
#: is a hint for Checkout's ``method`` prefill, or ``razorpay_checkout`` for any.
PAYMENT_METHODS = frozenset(
    {"razorpay_checkout", "card", "upi", "netbanking", "wallet", "emi", "paylater"}
)


class RazorpayGateway:
    name = "razorpay"

    def __init__(
        self,
        *,
        key_id: str,
        key_secret: str,
        api_url: str = DEFAULT_API_URL,
        timeouts: Timeouts | None = None,
        refund_speed: str = "normal",
        transport: httpx.AsyncBaseTransport | None = None,
    ):
        if refund_speed not in t.REFUND_SPEEDS:
            raise ValueError(f"refund_speed must be one of {sorted(t.REFUND_SPEEDS)}")
        self.key_id = key_id
        self._key_secret = key_secret
        self.refund_speed = refund_speed
        self.client = RazorpayClient(
            key_id=key_id,
            key_secret=key_secret,
            api_url=api_url,
            timeouts=timeouts,
            transport=transport,
        )

    async def aclose(self) -> None:
        await self.client.aclose()

    def check_payment_method(self, payment_method: str) -> None:
        if payment_method not in PAYMENT_METHODS:
            raise InvalidInput(
                f"razorpay payment_method must be one of {', '.join(sorted(PAYMENT_METHODS))}",
                code="payment_method_invalid",
                param="payment_method",
            )

    # -- the interface --------------------------------------------------------------

    async def authorize(self, request: AuthorizeRequest) -> GatewayResult:
        """Create the order Checkout will pay; ``REQUIRES_ACTION`` with what it needs."""
        self.check_payment_method(request.payment_method)
        try:
            order = await self.client.create_order(t.order_body(request))
        except RazorpayAPIError as exc:
            return t.declined(exc.error)
        result = t.order_result(order, key_id=self.key_id)
        if result.next_action is not None and request.payment_method != "razorpay_checkout":
            params = {**result.next_action.params, "method": request.payment_method}
            result = replace(result, next_action=replace(result.next_action, params=params))
        if result.gateway_status == "created":
            return result
        # A retried create returned an order the customer has already tried to pay:
        # report a payment that went through; after failed attempts only, the order is
        # still payable in Checkout.
        attempt = await self._order_state(order["id"])
        if attempt is not None and attempt.outcome in (
            Outcome.AUTHORIZED,
            Outcome.CAPTURED,
            Outcome.PENDING,
        ):
            return attempt
        return result

    async def capture(
        self, reference: str, amount: Money, *, idempotency_key: str
    ) -> GatewayResult:
        """Capture the authorized payment ``reference`` (a ``pay_...``; an ``order_...``
        is resolved to its authorized payment)."""
        payment_id = reference
        if reference.startswith("order_"):
            state = await self._order_state(reference)
            if state is None or state.outcome is not Outcome.AUTHORIZED:
                return state or GatewayResult(
                    Outcome.DECLINED,
                    reference=reference,
                    failure_code="payment_not_authorized",
                    failure_message="The order has no authorized payment to capture.",
                )
            assert state.reference is not None
            payment_id = state.reference
        try:
            return t.payment_result(
                await self.client.capture_payment(payment_id, t.capture_body(amount))
            )
        except RazorpayAPIError as exc:
            return await self._capture_refused(payment_id, amount, exc)

    async def _capture_refused(
        self, payment_id: str, amount: Money, exc: RazorpayAPIError
    ) -> GatewayResult:
        """Razorpay refused a capture: a retry of one that succeeded, or a real refusal."""
        current = t.payment_result(await self.client.fetch_payment(payment_id))
        if current.outcome is Outcome.CAPTURED and current.amount == amount:
            return current  # our earlier capture went through: same answer again
        if current.outcome is Outcome.AUTHORIZED and current.amount != amount:
            return GatewayResult(
                Outcome.DECLINED,
                reference=payment_id,
                order_reference=current.order_reference,
                failure_code="partial_capture_unsupported",
                failure_message=(
                    f"razorpay captures the authorized amount only ({current.amount}), not {amount}"
                ),
                gateway_status=current.gateway_status,
            )
        return t.declined(exc.error, reference=payment_id)

    async def void(self, reference: str, *, idempotency_key: str) -> GatewayResult:
        raise NotImplementedError(
            "razorpay cannot void an authorization: an uncaptured payment is refunded "
            "to the customer automatically (after 3 days by default)"
        )

    async def refund(self, reference: str, amount: Money, *, idempotency_key: str) -> GatewayResult:
        """Refund ``amount`` of the captured payment ``reference`` (full or partial)."""
        body = t.refund_body(amount, speed=self.refund_speed, idempotency_key=idempotency_key)
        try:
            refund = await self.client.refund_payment(
                reference, body, idempotency_key=t.refund_idempotency_key(idempotency_key)
            )
        except RazorpayAPIError as exc:
            return t.declined(exc.error)
        return t.refund_result(refund)

    async def fetch_payment(self, reference: str) -> GatewayResult:
        """A ``pay_...`` as it is now; an ``order_...`` by its deciding payment attempt."""
        if reference.startswith("order_"):
            state = await self._order_state(reference)
            if state is not None:
                return state
            try:
                return t.order_result(await self.client.fetch_order(reference), key_id=self.key_id)
            except RazorpayAPIError as exc:
                raise self._lookup_failed(reference, exc) from exc
        try:
            return t.payment_result(await self.client.fetch_payment(reference))
        except RazorpayAPIError as exc:
            raise self._lookup_failed(reference, exc) from exc

    async def fetch_refund(self, reference: str) -> GatewayResult:
        try:
            return t.refund_result(await self.client.fetch_refund(reference))
        except RazorpayAPIError as exc:
            raise self._lookup_failed(reference, exc) from exc

    # -- Checkout -------------------------------------------------------------------

    async def confirm(
        self,
        order_id: str,
        razorpay_payment_id: str,
        signature: str,
        amount: Money,
        *,
        capture: bool = True,
        idempotency_key: str | None = None,
    ) -> GatewayResult:
        """Finish a Checkout payment: verify, check it pays our order, capture it.

        ``order_id`` and ``amount`` must be the ones *we* stored for the payment; the
        signature proves Checkout issued ``razorpay_payment_id`` for that order, and the
        fetched payment must be for exactly that amount.
        """
        verify_checkout_signature(order_id, razorpay_payment_id, signature, self._key_secret)
        try:
            current = t.payment_result(await self.client.fetch_payment(razorpay_payment_id))
        except RazorpayAPIError as exc:
            raise self._lookup_failed(razorpay_payment_id, exc) from exc
        if current.order_reference != order_id or current.amount != amount:
            raise InvalidInput(
                f"razorpay payment {razorpay_payment_id} is not a payment of {amount} "
                f"for order {order_id}",
                code="razorpay_payment_mismatch",
                param="razorpay_payment_id",
            )
        if current.outcome is Outcome.AUTHORIZED and capture:
            return await self.capture(
                razorpay_payment_id, amount, idempotency_key=idempotency_key or order_id
            )
        return current

    async def complete_action(
        self,
        reference: str,
        amount: Money,
        params: Mapping[str, str],
        *,
        capture: bool,
        idempotency_key: str,
    ) -> GatewayResult:
        """:class:`~paystead.gateways.base.CompletesActions`: ``params`` are Checkout's
        ``razorpay_payment_id`` and ``razorpay_signature`` (and optionally
        ``razorpay_order_id``, which must then be ``reference``)."""
        self._check_params(reference, params)
        return await self.confirm(
            reference,
            params["razorpay_payment_id"],
            params["razorpay_signature"],
            amount,
            capture=capture,
            idempotency_key=idempotency_key,
        )

    def check_action(self, reference: str, params: Mapping[str, str]) -> None:
        """Checkout's values are present and signed for the order ``reference`` (no I/O)."""
        self._check_params(reference, params)
        verify_checkout_signature(
            reference, params["razorpay_payment_id"], params["razorpay_signature"], self._key_secret
        )

    @staticmethod
    def _check_params(reference: str, params: Mapping[str, str]) -> None:
        for param in ("razorpay_payment_id", "razorpay_signature"):
            if not params.get(param):
                raise InvalidInput(f"{param} is required", param=param)
        sent_order = params.get("razorpay_order_id")
        if sent_order is not None and sent_order != reference:
            raise InvalidInput(
                "razorpay_order_id is not this payment's order",
                code="razorpay_payment_mismatch",
                param="razorpay_order_id",
            )

    # -- helpers --------------------------------------------------------------------

    async def _order_state(self, order_id: str) -> GatewayResult | None:
        """The order's deciding payment attempt, or ``None`` if it has none yet."""
        try:
            payments = await self.client.fetch_order_payments(order_id)
        except RazorpayAPIError as exc:
            raise self._lookup_failed(order_id, exc) from exc
        best = t.best_payment(payments)
        return t.payment_result(best) if best is not None else None

    @staticmethod
    def _lookup_failed(reference: str, exc: RazorpayAPIError) -> GatewayError:
        return GatewayError(
            f"razorpay could not find {reference!r}: {exc.error.description}",
            code="gateway_resource_missing",
        )
