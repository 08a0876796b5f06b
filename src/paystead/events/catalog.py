"""The event catalog: every type an event can have, with the object it carries.

A capability adds its types here with :func:`define` (subscriptions, invoices, disputes
and credit notes will); nothing else about the outbox, webhooks or audit changes.
``docs/events.md`` lists the catalog, and a test keeps the two in step.

Deliverable types can be subscribed to by webhook endpoints. Internal types (changes to
the webhook configuration itself) are recorded and audited like any other event but are
never sent out.
"""

from __future__ import annotations

from dataclasses import dataclass

from paystead.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class EventType:
    name: str
    object_type: str
    description: str
    deliverable: bool = True

    def __str__(self) -> str:
        return self.name


CATALOG: dict[str, EventType] = {}

#: Subscribes an endpoint to every deliverable type, present and future.
WILDCARD = "*"


def define(name: str, object_type: str, description: str, *, deliverable: bool = True) -> EventType:
    if name in CATALOG:
        raise ValueError(f"event type {name!r} is defined twice")
    event_type = EventType(name, object_type, description, deliverable)
    CATALOG[name] = event_type
    return event_type


def get(name: str) -> EventType:
    try:
        return CATALOG[name]
    except KeyError:
        raise InvalidInput(f"unknown event type {name!r}", code="event_type_invalid") from None


def deliverable() -> list[EventType]:
    return [t for t in CATALOG.values() if t.deliverable]


def check_subscription(names: list[str], *, param: str = "events") -> list[str]:
    """Validate an endpoint's event list: deliverable types or ``*``, no duplicates."""
    if not names:
        raise InvalidInput("subscribe to at least one event type (or '*')", param=param)
    seen: list[str] = []
    for name in names:
        if name != WILDCARD:
            event_type = CATALOG.get(name)
            if event_type is None or not event_type.deliverable:
                raise InvalidInput(
                    f"{name!r} is not a deliverable event type",
                    code="event_type_invalid",
                    param=param,
                )
        if name not in seen:
            seen.append(name)
    return [WILDCARD] if WILDCARD in seen else seen


def subscribed(enabled_events: list[str], event_type: str) -> bool:
    found = CATALOG.get(event_type)
    if found is None or not found.deliverable:
        return False
    return WILDCARD in enabled_events or event_type in enabled_events


# -- payments -------------------------------------------------------------------------

PAYMENT_CREATED = define("payment.created", "payment", "A payment was created.")
PAYMENT_PROCESSING = define(
    "payment.processing",
    "payment",
    "A payment was sent to the gateway (confirmation, or a manual capture) and awaits its answer.",
)
PAYMENT_REQUIRES_CAPTURE = define(
    "payment.requires_capture", "payment", "The gateway authorized a manual-capture payment."
)
PAYMENT_SUCCEEDED = define("payment.succeeded", "payment", "A payment was captured.")
PAYMENT_FAILED = define("payment.failed", "payment", "The gateway declined or failed a payment.")
PAYMENT_CAPTURE_FAILED = define(
    "payment.capture_failed",
    "payment",
    "The gateway refused a capture; the authorization is still capturable.",
)
PAYMENT_CANCELED = define("payment.canceled", "payment", "A payment was canceled before capture.")
PAYMENT_REQUIRES_ACTION = define(
    "payment.requires_action",
    "payment",
    "The customer must act (open Razorpay Checkout, pass 3-D Secure); see next_action.",
)

# -- refunds --------------------------------------------------------------------------

REFUND_CREATED = define(
    "refund.created", "refund", "A refund was requested; its amount is reserved."
)
REFUND_SUCCEEDED = define("refund.succeeded", "refund", "The gateway refunded the amount.")
REFUND_FAILED = define(
    "refund.failed", "refund", "The gateway refused a refund; the amount is released."
)

# -- customers ------------------------------------------------------------------------

CUSTOMER_CREATED = define("customer.created", "customer", "A customer was created.")

# -- configuration (internal: audited, never delivered) -------------------------------

WEBHOOK_ENDPOINT_CREATED = define(
    "webhook_endpoint.created",
    "webhook_endpoint",
    "A webhook endpoint was added.",
    deliverable=False,
)
WEBHOOK_ENDPOINT_UPDATED = define(
    "webhook_endpoint.updated",
    "webhook_endpoint",
    "A webhook endpoint's URL, events, description or status changed.",
    deliverable=False,
)
WEBHOOK_ENDPOINT_DELETED = define(
    "webhook_endpoint.deleted",
    "webhook_endpoint",
    "A webhook endpoint was deleted.",
    deliverable=False,
)
WEBHOOK_ENDPOINT_SECRET_ROTATED = define(
    "webhook_endpoint.secret_rotated",
    "webhook_endpoint",
    "A webhook endpoint's signing secret was rotated (the old one stays valid for a grace period).",
    deliverable=False,
)
WEBHOOK_REPLAY_CREATED = define(
    "webhook_replay.created",
    "webhook_replay",
    "Deliveries of a time range were queued again for an endpoint.",
    deliverable=False,
)
API_KEY_CREATED = define(
    "api_key.created",
    "api_key",
    "An API key was created (its name and public prefix; never the secret).",
    deliverable=False,
)
API_KEY_REVOKED = define("api_key.revoked", "api_key", "An API key was revoked.", deliverable=False)
RECONCILIATION_RUN_COMPLETED = define(
    "reconciliation_run.completed",
    "reconciliation_run",
    "A settlement report was reconciled; matched fees were posted to the ledger.",
    deliverable=False,
)
KPI_INPUT_RECORDED = define(
    "kpi_input.recorded",
    "kpi_input",
    "A KPI input from outside the system was recorded (survey answer, support ticket, "
    "marketing spend, manual entry or release marker).",
    deliverable=False,
)

# -- feature flags (optimize/flags) --

FLAG_CREATED = define("flag.created", "flag", "A feature flag was created.", deliverable=False)
FLAG_UPDATED = define(
    "flag.updated",
    "flag",
    "A feature flag's variants, rules, weights or state changed (with who and why).",
    deliverable=False,
)
FLAG_DELETED = define("flag.deleted", "flag", "A feature flag was deleted.", deliverable=False)

# -- experiments, rollouts, backlog (optimize/) --

EXPERIMENT_CREATED = define(
    "experiment.created", "experiment", "An A/B experiment was drafted.", deliverable=False
)
EXPERIMENT_STARTED = define(
    "experiment.started",
    "experiment",
    "An experiment started: its flag's exposures are logged from now on.",
    deliverable=False,
)
EXPERIMENT_STOPPED = define(
    "experiment.stopped", "experiment", "An experiment stopped.", deliverable=False
)
ROLLOUT_STARTED = define(
    "rollout.started",
    "rollout",
    "A canary rollout started at its first step.",
    deliverable=False,
)
ROLLOUT_PROMOTED = define(
    "rollout.promoted",
    "rollout",
    "A canary passed its guardrails and moved to the next step's weight.",
    deliverable=False,
)
ROLLOUT_COMPLETED = define(
    "rollout.completed",
    "rollout",
    "A canary reached 100% of traffic.",
    deliverable=False,
)
ROLLOUT_ROLLED_BACK = define(
    "rollout.rolled_back",
    "rollout",
    "A canary breached a guardrail: all traffic went back to control.",
    deliverable=False,
)
ROLLOUT_PAUSED = define(
    "rollout.paused", "rollout", "A rollout was paused (or resumed).", deliverable=False
)
ROLLOUT_ABORTED = define(
    "rollout.aborted",
    "rollout",
    "A rollout was aborted by hand: all traffic went back to control.",
    deliverable=False,
)

# -- risk (fraud screening) --

# -- billing: catalog, invoices, credit notes, credit balance --

PRODUCT_CREATED = define("product.created", "product", "A product was created.")
PRICE_CREATED = define("price.created", "price", "A price was created.")
INVOICE_CREATED = define("invoice.created", "invoice", "A draft invoice was created.")
INVOICE_FINALIZED = define(
    "invoice.finalized", "invoice", "An invoice was numbered, taxed and opened for payment."
)
INVOICE_PAID = define("invoice.paid", "invoice", "An invoice was paid in full.")
INVOICE_PAYMENT_FAILED = define(
    "invoice.payment_failed", "invoice", "A charge for an invoice failed; it stays open."
)
INVOICE_VOIDED = define("invoice.voided", "invoice", "An invoice was voided.")
INVOICE_MARKED_UNCOLLECTIBLE = define(
    "invoice.marked_uncollectible", "invoice", "An invoice was marked uncollectible."
)
CREDIT_NOTE_CREATED = define(
    "credit_note.created", "credit_note", "A credit note was issued against an invoice."
)
CUSTOMER_BALANCE_TRANSACTION_CREATED = define(
    "customer.balance_transaction.created",
    "balance_transaction",
    "A customer's credit balance changed.",
)

# -- billing: subscriptions, test clocks, dunning --
SUBSCRIPTION_CREATED = define(
    "customer.subscription.created", "subscription", "A subscription was created."
)
SUBSCRIPTION_UPDATED = define(
    "customer.subscription.updated",
    "subscription",
    "A subscription changed: items or quantities, status (trial ended, paused, resumed, "
    "recovered from dunning), cancel_at_period_end, or a new billing period.",
)
SUBSCRIPTION_DELETED = define(
    "customer.subscription.deleted",
    "subscription",
    "A subscription ended: canceled now, at its period end, or by dunning.",
)
SUBSCRIPTION_TRIAL_WILL_END = define(
    "customer.subscription.trial_will_end",
    "subscription",
    "A subscription's trial ends in three days (or sooner, for shorter trials).",
)
SUBSCRIPTION_PAST_DUE = define(
    "customer.subscription.past_due",
    "subscription",
    "A renewal charge failed or a dunning retry failed; next_retry_at says when the next retry is.",
)
SUBSCRIPTION_UNPAID = define(
    "customer.subscription.unpaid",
    "subscription",
    "Every dunning retry failed and PAYSTEAD_DUNNING_FINAL_ACTION is unpaid: renewals stop "
    "until the open invoices are paid.",
)
INVOICE_UPCOMING = define(
    "invoice.upcoming",
    "invoice",
    "A subscription renews in PAYSTEAD_INVOICE_UPCOMING_DAYS days: a preview of the renewal "
    "invoice (id upcoming_<subscription id>, not stored), sent once per period.",
)
TEST_CLOCK_CREATED = define(
    "test_clock.created", "test_clock", "A test clock was created.", deliverable=False
)
TEST_CLOCK_ADVANCED = define(
    "test_clock.advanced",
    "test_clock",
    "A test clock moved forward and its customers' billing ran up to the new time.",
    deliverable=False,
)
TEST_CLOCK_DELETED = define(
    "test_clock.deleted", "test_clock", "A test clock was deleted.", deliverable=False
)

# -- billing: usage meters, coupons, promotion codes --

METER_CREATED = define("meter.created", "meter", "A usage meter was created.", deliverable=False)
COUPON_CREATED = define("coupon.created", "coupon", "A coupon was created.")
PROMOTION_CODE_CREATED = define(
    "promotion_code.created", "promotion_code", "A promotion code was created for a coupon."
)
COUPON_REDEMPTION_CREATED = define(
    "coupon_redemption.created",
    "coupon_redemption",
    "A coupon (directly or through a promotion code) was applied to a subscription.",
)

# -- exchange rates (fx/) --

EXCHANGE_RATE_RECORDED = define(
    "exchange_rate.recorded",
    "exchange_rate",
    "An exchange rate was entered or corrected by hand (who and when).",
    deliverable=False,
)
EXCHANGE_RATES_IMPORTED = define(
    "exchange_rate_import.completed",
    "exchange_rate_import",
    "A rates file (the ECB reference CSV) was imported: how many rates were new.",
    deliverable=False,
)

# -- optimization backlog (optimize/backlog) --

BACKLOG_ITEM_CREATED = define(
    "backlog_item.created",
    "backlog_item",
    "An optimization idea was added to the backlog with its scores.",
    deliverable=False,
)
BACKLOG_ITEM_UPDATED = define(
    "backlog_item.updated",
    "backlog_item",
    "A backlog item's scores, status or links changed.",
    deliverable=False,
)
BACKLOG_ITEM_SHIPPED = define(
    "backlog_item.shipped",
    "backlog_item",
    "A backlog item shipped, with the release marker its before/after is measured from.",
    deliverable=False,
)
BACKLOG_ITEM_DELETED = define(
    "backlog_item.deleted",
    "backlog_item",
    "A backlog item that never shipped was deleted.",
    deliverable=False,
)
