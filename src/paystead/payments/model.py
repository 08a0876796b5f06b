"""Payments and refunds: the state machine and its rules, free of any database.

Payment states::

    requires_confirmation ──confirm──▶ processing ──▶ succeeded          (automatic capture)
            │                              │  ├────▶ requires_capture   (manual capture)
            │                              │  ├────▶ failed             (declined / error)
            │                              │  └────▶ requires_action    (the customer must act)
            └──cancel──▶ canceled          │
    requires_action ──confirm (Checkout's answer)──▶ processing ──▶ as above
            ├──(gateway webhook)──▶ requires_capture | succeeded
            └──cancel──▶ canceled
    requires_capture ──capture──▶ processing ──▶ succeeded
            │                          └──(capture failed)──▶ requires_capture
            └──cancel──▶ canceled

``processing`` also means "the gateway has not answered yet"; a payment stays there
until an answer, a status fetch or a webhook settles it, never guessed.
``requires_action`` means the gateway is waiting for the customer (Razorpay Checkout in
the browser, 3-D Secure): ``next_action`` says what the front end must open, and a
failed attempt there leaves the payment payable (the customer may try again). Refunds
never change a payment's status; they raise ``amount_refunded`` up to
``amount_captured``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from paystead.errors import AmountExceedsRemaining, IllegalTransition, InvalidAmount
from paystead.money import Money


class PaymentStatus(StrEnum):
    REQUIRES_CONFIRMATION = "requires_confirmation"
    PROCESSING = "processing"
    #: The customer must act (open Razorpay Checkout, pass 3-D Secure); see ``next_action``.
    REQUIRES_ACTION = "requires_action"
    REQUIRES_CAPTURE = "requires_capture"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


class CaptureMethod(StrEnum):
    AUTOMATIC = "automatic"
    MANUAL = "manual"


class RefundStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


ALLOWED: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    PaymentStatus.REQUIRES_CONFIRMATION: frozenset(
        {PaymentStatus.PROCESSING, PaymentStatus.CANCELED}
    ),
    PaymentStatus.PROCESSING: frozenset(
        {
            PaymentStatus.REQUIRES_CAPTURE,
            PaymentStatus.SUCCEEDED,
            PaymentStatus.FAILED,
            PaymentStatus.REQUIRES_ACTION,
        }
    ),
    # A failed attempt in the browser is not final (the customer may pay again), so a
    # payment waiting for its customer never fails; webhooks may settle it directly.
    PaymentStatus.REQUIRES_ACTION: frozenset(
        {
            PaymentStatus.PROCESSING,
            PaymentStatus.REQUIRES_CAPTURE,
            PaymentStatus.SUCCEEDED,
            PaymentStatus.CANCELED,
        }
    ),
    PaymentStatus.REQUIRES_CAPTURE: frozenset({PaymentStatus.PROCESSING, PaymentStatus.CANCELED}),
    PaymentStatus.SUCCEEDED: frozenset(),
    PaymentStatus.FAILED: frozenset(),
    PaymentStatus.CANCELED: frozenset(),
}


#: Statuses after which the customer has nothing left to do.
_SETTLED = frozenset(
    {
        PaymentStatus.REQUIRES_CAPTURE,
        PaymentStatus.SUCCEEDED,
        PaymentStatus.FAILED,
        PaymentStatus.CANCELED,
    }
)


@dataclass
class Payment:
    id: str
    amount: int
    currency: str
    payment_method: str
    capture_method: CaptureMethod
    status: PaymentStatus
    gateway: str
    created_at: datetime
    updated_at: datetime
    customer_id: str | None = None
    amount_captured: int = 0
    amount_refunded: int = 0
    amount_refund_pending: int = 0
    gateway_reference: str | None = None
    failure_code: str | None = None
    failure_message: str | None = None
    description: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    #: Amount a capture in flight is taking (set while ``processing`` for a capture, so
    #: a late authorization webhook is told apart from an authorization in flight).
    capturing: int | None = None
    #: Every gateway tried and why (routing decisions and answers), JSON-ready.
    attempts: list[dict[str, Any]] = field(default_factory=list)
    #: While ``requires_action``: what the front end must open (``{"type": ..., type: {...}}``).
    next_action: dict[str, Any] | None = None
    #: The gateway object grouping attempts (a Razorpay ``order_...``), which webhooks name.
    order_reference: str | None = None
    #: The request named its gateway: a later confirmation goes there, not through routing.
    gateway_forced: bool = False

    @property
    def money(self) -> Money:
        return Money(self.amount, self.currency)

    @property
    def refundable(self) -> int:
        return self.amount_captured - self.amount_refunded - self.amount_refund_pending

    def _move(self, to: PaymentStatus, action: str) -> None:
        if to not in ALLOWED[self.status]:
            raise IllegalTransition(
                f"cannot {action} a payment in status {self.status.value!r}",
                code=f"payment_{action}_not_allowed",
            )
        if to in _SETTLED:
            self.next_action = None  # kept through processing: an answer may reopen it
        self.status = to

    def start_confirmation(self) -> None:
        if self.status is not PaymentStatus.REQUIRES_CONFIRMATION:
            raise IllegalTransition(
                f"cannot confirm a payment in status {self.status.value!r}",
                code="payment_confirm_not_allowed",
            )
        self._move(PaymentStatus.PROCESSING, "confirm")

    def requires_action(
        self, reference: str | None, order_reference: str | None, next_action: dict[str, Any]
    ) -> None:
        """The gateway waits for the customer: keep what the front end needs."""
        self.gateway_reference = reference or self.gateway_reference
        self.order_reference = order_reference or self.order_reference
        self._move(PaymentStatus.REQUIRES_ACTION, "require_action")
        self.next_action = next_action

    def start_action_completion(self) -> None:
        """The front end sent back the customer's action: finish it at the gateway."""
        if self.status is not PaymentStatus.REQUIRES_ACTION:
            raise IllegalTransition(
                f"cannot complete an action for a payment in status {self.status.value!r}",
                code="payment_complete_action_not_allowed",
            )
        self._move(PaymentStatus.PROCESSING, "complete_action")

    @property
    def capture_in_flight(self) -> bool:
        return self.status is PaymentStatus.PROCESSING and self.capturing is not None

    def authorized(self, reference: str | None) -> None:
        self.gateway_reference = reference or self.gateway_reference
        self._move(PaymentStatus.REQUIRES_CAPTURE, "authorize")

    def captured(self, amount: int, reference: str | None) -> None:
        self.gateway_reference = reference or self.gateway_reference
        self._move(PaymentStatus.SUCCEEDED, "capture")
        self.amount_captured = amount
        self.capturing = None
        self.failure_code = self.failure_message = None

    def failed(self, code: str | None, message: str | None) -> None:
        self._move(PaymentStatus.FAILED, "fail")
        self.failure_code, self.failure_message = code, message

    def start_capture(self, amount: int | None) -> int:
        """Check a capture request and move to ``processing``; returns the amount to take.

        A partial capture is allowed once: the rest of the authorization is released.
        """
        if self.status is not PaymentStatus.REQUIRES_CAPTURE:
            raise IllegalTransition(
                f"cannot capture a payment in status {self.status.value!r}",
                code="payment_capture_not_allowed",
            )
        take = self.amount if amount is None else amount
        if take <= 0:
            raise InvalidAmount("capture amount must be positive")
        if take > self.amount:
            raise AmountExceedsRemaining(
                f"cannot capture {take}: only {self.amount} was authorized",
                code="capture_exceeds_authorized",
                param="amount",
            )
        self._move(PaymentStatus.PROCESSING, "capture")
        self.capturing = take
        return take

    def capture_failed(self, code: str | None, message: str | None) -> None:
        """A capture the gateway refused leaves the authorization capturable."""
        if self.status is not PaymentStatus.PROCESSING or self.capturing is None:
            raise IllegalTransition(f"no capture in flight for status {self.status.value!r}")
        self.status = PaymentStatus.REQUIRES_CAPTURE
        self.capturing = None
        self.failure_code, self.failure_message = code, message

    def cancel(self) -> None:
        self._move(PaymentStatus.CANCELED, "cancel")

    def reserve_refund(self, amount: int | None) -> int:
        """Reserve ``amount`` (default: all that is left) for a refund in flight."""
        if self.status is not PaymentStatus.SUCCEEDED or self.amount_captured == 0:
            raise IllegalTransition(
                f"cannot refund a payment in status {self.status.value!r}",
                code="payment_not_refundable",
            )
        take = self.refundable if amount is None else amount
        if take <= 0:
            if amount is None:
                raise AmountExceedsRemaining(
                    "the payment is already fully refunded", code="payment_fully_refunded"
                )
            raise InvalidAmount("refund amount must be positive")
        if take > self.refundable:
            raise AmountExceedsRemaining(
                f"cannot refund {take}: only {self.refundable} of {self.amount_captured} "
                "captured is left to refund",
                code="refund_exceeds_captured",
                param="amount",
            )
        self.amount_refund_pending += take
        return take

    def settle_refund(self, amount: int, succeeded: bool) -> None:
        """Release a reservation made by :meth:`reserve_refund`, keeping it if it succeeded."""
        if not 0 < amount <= self.amount_refund_pending:
            raise IllegalTransition(
                f"no refund of {amount} is pending (pending: {self.amount_refund_pending})",
                code="refund_not_pending",
            )
        self.amount_refund_pending -= amount
        if succeeded:
            self.amount_refunded += amount


@dataclass
class Refund:
    id: str
    payment_id: str
    amount: int
    currency: str
    status: RefundStatus
    created_at: datetime
    updated_at: datetime
    reason: str | None = None
    gateway_reference: str | None = None
    failure_code: str | None = None
    failure_message: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def money(self) -> Money:
        return Money(self.amount, self.currency)
