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

# -- experiments, rollouts, backlog (optimize/) --

# -- risk (fraud screening) --

# -- billing: catalog, invoices, credit notes, credit balance --

# -- billing: subscriptions, test clocks, dunning --

# -- billing: usage meters, coupons, promotion codes --

# -- exchange rates (fx/) --

# -- optimization backlog (optimize/backlog) --
