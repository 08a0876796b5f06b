"""The gateway interface every connector implements (sandbox now; Razorpay, Stripe next).

A gateway call returns a :class:`GatewayResult` for every answer the gateway gives,
declines included: a decline is data, not an exception. Only a failure to get an answer
raises: :class:`~paystead.errors.GatewayTransient` when the call may be retried with
the same idempotency key (timeout, 429, 5xx), :class:`~paystead.errors.GatewayError`
otherwise. An operation a gateway does not support raises ``NotImplementedError``;
nothing silently does nothing.

Every mutating call carries ``idempotency_key``, derived from our own ids, so a retried
call after a timeout can never charge twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from paystead.money import Money


class Outcome(StrEnum):
    AUTHORIZED = "authorized"  # funds held, capture pending
    CAPTURED = "captured"  # funds taken
    PENDING = "pending"  # the gateway accepted the call; the result comes later
    DECLINED = "declined"  # a final answer: do not retry this payment method
    FAILED = "failed"  # the gateway failed the call; retry may succeed (retryable)
    VOIDED = "voided"
    REFUNDED = "refunded"


@dataclass(frozen=True, slots=True)
class GatewayResult:
    outcome: Outcome
    reference: str | None = None
    failure_code: str | None = None
    failure_message: str | None = None
    retryable: bool = False
    #: What the gateway charged us for this call, when it says (recorded in the ledger).
    fee: Money | None = None


@dataclass(frozen=True, slots=True)
class AuthorizeRequest:
    amount: Money
    payment_method: str
    capture: bool
    idempotency_key: str
    description: str | None = None


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
