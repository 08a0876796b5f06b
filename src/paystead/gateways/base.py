"""The gateway interface every connector implements (sandbox, Razorpay, Stripe).

A gateway call returns a :class:`GatewayResult` for every answer the gateway gives,
declines included: a decline is data, not an exception. Only a failure to get an answer
raises:

- :class:`~paystead.errors.GatewayTransient` when the call may be retried with the
  same idempotency key and the gateway certainly did not act on it (connection refused,
  429, 503, an open circuit). Such a call may also be tried on *another* gateway.
- :class:`GatewayOutcomeUnknown` (a ``GatewayTransient``) when the gateway may have
  acted (read timeout, 500/502/504, a duplicate still in flight): retry on the *same*
  gateway with the same key, or fetch the status; never fall back to another gateway,
  which could charge twice.
- :class:`~paystead.errors.GatewayError` otherwise (bad credentials, a malformed
  request or response): retrying will not help.

An operation a gateway does not support raises ``NotImplementedError``; nothing
silently does nothing.

Every mutating call carries ``idempotency_key``, derived from our own ids, so a retried
call after a timeout can never charge twice.

Some payments need the customer to act before the gateway can answer (Razorpay
Checkout runs in the browser; Stripe may ask for 3-D Secure): ``authorize`` then
returns :attr:`Outcome.REQUIRES_ACTION` with a :class:`NextAction` carrying what a
front end needs, and a gateway implementing :class:`CompletesActions` finishes the
payment from what the front end sends back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, runtime_checkable

from paystead.errors import GatewayTransient
from paystead.money import Money


class Outcome(StrEnum):
    AUTHORIZED = "authorized"  # funds held, capture pending
    CAPTURED = "captured"  # funds taken
    PENDING = "pending"  # the gateway accepted the call; the result comes later
    DECLINED = "declined"  # a final answer: do not retry this payment method
    FAILED = "failed"  # the gateway failed the call; retry may succeed (retryable)
    VOIDED = "voided"
    REFUNDED = "refunded"
    #: The customer must act (open Razorpay Checkout, pass 3-D Secure) before the
    #: gateway can answer; ``GatewayResult.next_action`` says what the front end needs.
    REQUIRES_ACTION = "requires_action"


class GatewayOutcomeUnknown(GatewayTransient):
    """The gateway may have acted on the call (read timeout, 500/502/504, in flight).

    Retry on the same gateway with the same idempotency key, or fetch the status.
    Never fall back to another gateway on this error.
    """

    code = "gateway_outcome_unknown"


@dataclass(frozen=True, slots=True)
class NextAction:
    """What a front end needs to let the customer finish a payment.

    ``type`` names the flow (``razorpay_checkout``, ``stripe_sdk``, ``redirect_to_url``);
    ``params`` are the values that flow needs (ids, amounts in minor units, a URL).
    Only values made for the customer's browser go here: Razorpay's key id is public,
    and Stripe's ``client_secret`` is scoped to this one payment. Never an API secret.
    """

    type: str
    params: Mapping[str, str | int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class GatewayResult:
    outcome: Outcome
    reference: str | None = None
    failure_code: str | None = None
    failure_message: str | None = None
    retryable: bool = False
    #: What the gateway charged us for this call, when it says (recorded in the ledger).
    fee: Money | None = None
    #: The amount the gateway reports for this object (captured, authorized or
    #: refunded), when it says; lets the caller check it against what it asked for.
    amount: Money | None = None
    #: The gateway's own status word (``"authorized"``, ``"requires_capture"``...), for
    #: attempts, logs and support; never branch on it outside the connector.
    gateway_status: str | None = None
    #: The gateway object grouping payment attempts when it differs from ``reference``
    #: (a Razorpay ``order_...``); webhooks name it, so keep it with the payment.
    order_reference: str | None = None
    #: Set with ``Outcome.REQUIRES_ACTION``: what the front end needs.
    next_action: NextAction | None = None


@dataclass(frozen=True, slots=True)
class AuthorizeRequest:
    amount: Money
    payment_method: str
    capture: bool
    idempotency_key: str
    description: str | None = None
    #: Our own references (``{"paystead_payment_id": "pay_..."}``), sent to the gateway
    #: as notes/metadata so its dashboards, reports and webhooks lead back to us.
    metadata: Mapping[str, str] = field(default_factory=dict)


class Gateway(Protocol):
    name: str

    def check_payment_method(self, payment_method: str) -> None:
        """Raise :class:`~paystead.errors.InvalidInput` for a method this gateway rejects."""

    async def authorize(self, request: AuthorizeRequest) -> GatewayResult: ...

    async def capture(
        self, reference: str, amount: Money, *, idempotency_key: str
    ) -> GatewayResult: ...

    async def void(self, reference: str, *, idempotency_key: str) -> GatewayResult: ...

    async def refund(
        self, reference: str, amount: Money, *, idempotency_key: str
    ) -> GatewayResult: ...

    async def fetch_payment(self, reference: str) -> GatewayResult:
        """The payment's current state at the gateway (settles a ``processing`` payment)."""
        ...

    async def fetch_refund(self, reference: str) -> GatewayResult:
        """The refund's current state at the gateway (settles a ``pending`` refund)."""
        ...


@runtime_checkable
class CompletesActions(Protocol):
    """A gateway that can finish a payment left in ``REQUIRES_ACTION``.

    ``params`` are what the front end got back from the customer's action (Razorpay
    Checkout's ``razorpay_payment_id`` and ``razorpay_signature``); the gateway verifies
    them before it trusts them, then captures when ``capture`` is true.
    :meth:`check_action` is that verification alone, without I/O, so a caller can refuse
    forged values before it changes anything.
    """

    def check_action(self, reference: str, params: Mapping[str, str]) -> None:
        """Raise :class:`~paystead.errors.InvalidInput` (``InvalidSignature``...) for
        values that cannot complete ``reference``; no I/O."""
        ...

    async def complete_action(
        self,
        reference: str,
        amount: Money,
        params: Mapping[str, str],
        *,
        capture: bool,
        idempotency_key: str,
    ) -> GatewayResult: ...
