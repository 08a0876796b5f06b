"""How a gateway's answer moves a payment (no I/O).

One place for every source of answers: the authorization the API asked for, the
completion of a customer action (Razorpay Checkout's values sent to ``/confirm``, or a
capture an inbound webhook asked for), so they can never disagree. Each function
mutates the payment through its state machine and returns the journal entry to post,
if any; the caller saves, records the event and posts in one transaction.
"""

from __future__ import annotations

from typing import Any

from paystead.errors import GatewayError
from paystead.gateways.base import GatewayResult, NextAction, Outcome
from paystead.ledger.model import JournalEntry
from paystead.payments.accounting import capture_entry
from paystead.payments.model import Payment, PaymentStatus

#: Answers that settle an authorization for routing's evidence (success or not).
SUCCESSES = frozenset({Outcome.AUTHORIZED, Outcome.CAPTURED})
FAILURES = frozenset({Outcome.DECLINED, Outcome.FAILED})


def next_action_record(action: NextAction | None) -> dict[str, Any]:
    """``{"type": t, t: {...}}`` as the API shows it (Stripe's shape). Razorpay's public
    ``key`` is called ``key_id`` here, as Razorpay's dashboard names it."""
    if action is None:
        return {"type": "requires_action", "requires_action": {}}
    params: dict[str, Any] = dict(action.params)
    if action.type == "razorpay_checkout" and "key" in params:
        params["key_id"] = params.pop("key")
    return {"type": action.type, action.type: params}


def apply_authorization(payment: Payment, result: GatewayResult) -> JournalEntry | None:
    """The answer to an authorization sent while the payment was ``processing``."""
    payment.order_reference = result.order_reference or payment.order_reference
    outcome = result.outcome
    if outcome is Outcome.CAPTURED:
        payment.captured(payment.amount, result.reference)
        return capture_entry(payment, payment.amount, result.fee)
    if outcome is Outcome.AUTHORIZED:
        payment.authorized(result.reference)
    elif outcome in FAILURES:
        payment.gateway_reference = result.reference or payment.gateway_reference
        payment.failed(result.failure_code, result.failure_message)
    elif outcome is Outcome.PENDING:
        payment.gateway_reference = result.reference or payment.gateway_reference
    elif outcome is Outcome.REQUIRES_ACTION:
        payment.requires_action(
            result.reference, result.order_reference, next_action_record(result.next_action)
        )
    else:
        raise GatewayError(f"unexpected authorization outcome {outcome}")
    return None


def apply_completion(payment: Payment, result: GatewayResult) -> JournalEntry | None:
    """The answer to a completed customer action, for a payment in ``requires_action``,
    ``requires_capture`` (authorized, waiting for its capture) or ``processing`` (an
    earlier completion whose answer was lost).

    A decline here is an attempt that failed in the customer's hands (or a refused
    capture): the payment becomes payable again rather than failed, since Checkout lets
    the customer try another way.
    """
    payment.order_reference = result.order_reference or payment.order_reference
    status = payment.status
    outcome = result.outcome
    if outcome is Outcome.CAPTURED:
        if status is PaymentStatus.REQUIRES_CAPTURE:
            payment.start_capture(None)
        payment.captured(payment.amount, result.reference)
        return capture_entry(payment, payment.amount, result.fee)
    if outcome is Outcome.AUTHORIZED:
        if status is PaymentStatus.REQUIRES_CAPTURE:
            payment.gateway_reference = result.reference or payment.gateway_reference
        else:
            payment.authorized(result.reference)
        payment.failure_code = payment.failure_message = None
    elif outcome is Outcome.PENDING:
        payment.gateway_reference = result.reference or payment.gateway_reference
        if status is PaymentStatus.REQUIRES_ACTION:
            payment.start_action_completion()
    elif outcome in FAILURES:
        if status is PaymentStatus.PROCESSING:
            payment.requires_action(None, None, payment.next_action or next_action_record(None))
        payment.failure_code, payment.failure_message = result.failure_code, result.failure_message
    elif outcome is Outcome.REQUIRES_ACTION:
        record = next_action_record(result.next_action)
        if status is PaymentStatus.PROCESSING:
            payment.requires_action(result.reference, result.order_reference, record)
        else:
            payment.next_action = record
    elif outcome is Outcome.VOIDED and status is not PaymentStatus.PROCESSING:
        payment.cancel()
    else:
        raise GatewayError(f"unexpected outcome {outcome} completing {payment.id}")
    return None
