"""The relational schema, as SQLAlchemy Core tables.

Core rather than the ORM: the payment path is hot, and explicit statements keep every
round trip visible. Alembic migrations (``platform/migrations``) are the only way the
schema changes; ``tests/integration/test_migrations.py`` checks they match this file.

Money columns are ``BIGINT`` minor units beside a ``CHAR(3)`` currency. Ledger tables
are append-only: database triggers (installed by the migration) refuse UPDATE and
DELETE on journal entries and postings.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite forgets the zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime reached the database")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _id(length: int = 40) -> sa.Column[Any]:
    return sa.Column("id", sa.String(length), primary_key=True)


def _created() -> sa.Column[Any]:
    return sa.Column("created_at", UTCDateTime(), nullable=False)


Amount = sa.BigInteger
Currency = sa.String(3)

api_keys = sa.Table(
    "api_keys",
    metadata,
    _id(),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("prefix", sa.String(32), nullable=False, unique=True),
    sa.Column("secret_hash", sa.String(64), nullable=False),
    _created(),
    sa.Column("revoked_at", UTCDateTime(), nullable=True),
)

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("api_key_id", sa.String(40), nullable=False),
    sa.Column("key", sa.String(255), nullable=False),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("resource_id", sa.String(40), nullable=True),
    sa.Column("response_status", sa.Integer, nullable=True),
    sa.Column("response_body", sa.LargeBinary, nullable=True),
    _created(),
    sa.Column("locked_at", UTCDateTime(), nullable=False),
    sa.UniqueConstraint("api_key_id", "key"),
    sa.Index(None, "created_at"),
)

customers = sa.Table(
    "customers",
    metadata,
    _id(),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("phone", sa.String(32), nullable=True),
    sa.Column("metadata", sa.JSON, nullable=False),
    _created(),
    # -- added by migration 0010 (billing details, billing/) --
    #: {line1, line2, city, state_code, postal_code, country}; NULL when not given.
    sa.Column("address", sa.JSON, nullable=True),
    #: GSTIN (15 characters, check character verified) or another tax id.
    sa.Column("tax_id", sa.String(32), nullable=True),
    #: The default payment method renewals and invoices charge (sandbox token, saved method).
    sa.Column("payment_method", sa.String(64), nullable=True),
    sa.Column("locale", sa.String(16), nullable=True),
)

payments = sa.Table(
    "payments",
    metadata,
    _id(),
    sa.Column("amount", Amount, nullable=False),
    sa.Column("currency", Currency, nullable=False),
    sa.Column("customer_id", sa.String(40), sa.ForeignKey("customers.id"), nullable=True),
    sa.Column("payment_method", sa.String(64), nullable=False),
    sa.Column("capture_method", sa.String(16), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("amount_captured", Amount, nullable=False),
    sa.Column("amount_refunded", Amount, nullable=False),
    #: Refunds sent to the gateway but not yet settled; reserved so that concurrent
    #: refunds can never exceed the captured amount.
    sa.Column("amount_refund_pending", Amount, nullable=False),
    sa.Column("gateway", sa.String(32), nullable=False),
    sa.Column("gateway_reference", sa.String(64), nullable=True),
    sa.Column("failure_code", sa.String(64), nullable=True),
    sa.Column("failure_message", sa.String(500), nullable=True),
    sa.Column("description", sa.String(1000), nullable=True),
    sa.Column("metadata", sa.JSON, nullable=False),
    _created(),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    # -- added by migration 0003 (gateways wired in) --
    #: Every gateway tried and why: routing decisions, candidates' estimates, answers.
    #: NULL for payments made before 0003.
    sa.Column("attempts", sa.JSON, nullable=True),
    #: While ``requires_action``: what the front end must open (Razorpay Checkout...).
    sa.Column("next_action", sa.JSON, nullable=True),
    #: The gateway object grouping attempts (Razorpay ``order_...``); webhooks name it.
    sa.Column("order_reference", sa.String(64), nullable=True),
    #: The amount a capture in flight takes (NULL unless a capture is ``processing``).
    sa.Column("amount_capturing", Amount, nullable=True),
    #: The request named its gateway: a later confirmation is not re-routed.
    sa.Column("gateway_forced", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.CheckConstraint("amount > 0", name="amount_positive"),
    sa.CheckConstraint(
        "amount_captured >= 0 AND amount_captured <= amount", name="captured_within_amount"
    ),
    sa.CheckConstraint(
        "amount_refunded >= 0 AND amount_refund_pending >= 0 "
        "AND amount_refunded + amount_refund_pending <= amount_captured",
        name="refunds_within_captured",
    ),
    sa.Index(None, "customer_id"),
    sa.Index(None, "status"),
    sa.Index(None, "created_at"),
    sa.Index(None, "order_reference"),
    sa.Index(None, "gateway_reference"),
)

refunds = sa.Table(
    "refunds",
    metadata,
    _id(),
    sa.Column("payment_id", sa.String(40), sa.ForeignKey("payments.id"), nullable=False),
    sa.Column("amount", Amount, nullable=False),
    sa.Column("currency", Currency, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reason", sa.String(64), nullable=True),
    sa.Column("gateway_reference", sa.String(64), nullable=True),
    sa.Column("failure_code", sa.String(64), nullable=True),
    sa.Column("failure_message", sa.String(500), nullable=True),
    sa.Column("metadata", sa.JSON, nullable=False),
    _created(),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.CheckConstraint("amount > 0", name="amount_positive"),
    sa.Index(None, "payment_id"),
    sa.Index(None, "gateway_reference"),
)

ledger_accounts = sa.Table(
    "ledger_accounts",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("code", sa.String(100), nullable=False),
    sa.Column("currency", Currency, nullable=False),
    sa.Column("type", sa.String(16), nullable=False),
    _created(),
    sa.UniqueConstraint("code", "currency"),
)

#: An account's balance is the sum of its slot rows: the signed running total of its
#: postings, debits positive, maintained in the same transaction as each entry
#: (``paystead ledger check`` recomputes it from the postings). Every payment touches
#: the same few accounts (clearing, revenue, fees); spreading each balance over
#: ``BALANCE_SLOTS`` rows lets that many transactions update it at once instead of
#: queueing on one row lock.
ledger_balances = sa.Table(
    "ledger_balances",
    metadata,
    sa.Column("account_id", sa.BigInteger, sa.ForeignKey("ledger_accounts.id"), primary_key=True),
    sa.Column("slot", sa.SmallInteger, primary_key=True, autoincrement=False),
    sa.Column("balance", Amount, nullable=False),
)

journal_entries = sa.Table(
    "journal_entries",
    metadata,
    _id(),
    sa.Column("kind", sa.String(32), nullable=False),
    #: The business event this entry records (a capture, a refund...). Unique with
    #: ``kind`` so the same event can never be posted twice.
    sa.Column("reference", sa.String(64), nullable=False),
    sa.Column("payment_id", sa.String(40), nullable=True),
    sa.Column("description", sa.String(500), nullable=True),
    _created(),
    sa.UniqueConstraint("kind", "reference"),
    sa.Index(None, "payment_id"),
)

postings = sa.Table(
    "postings",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("entry_id", sa.String(40), sa.ForeignKey("journal_entries.id"), nullable=False),
    sa.Column("account_id", sa.BigInteger, sa.ForeignKey("ledger_accounts.id"), nullable=False),
    #: Signed minor units: debit positive, credit negative. Each entry sums to zero
    #: per currency.
    sa.Column("amount", Amount, nullable=False),
    sa.Column("currency", Currency, nullable=False),
    sa.CheckConstraint("amount <> 0", name="amount_nonzero"),
    sa.Index(None, "entry_id"),
    sa.Index(None, "account_id"),
)

APPEND_ONLY_TABLES = ("journal_entries", "postings")

# -- events out: outbox, webhooks, notifications, audit (docs/events.md) -------------

#: The transactional outbox and the event log in one: a row is inserted in the same
#: transaction as the state change it describes, and ``dispatched_at`` stays NULL until
#: a worker has fanned it out to its deliveries and appended it to the audit chain.
events = sa.Table(
    "events",
    metadata,
    _id(),
    sa.Column("type", sa.String(64), nullable=False),
    sa.Column("object_type", sa.String(32), nullable=False),
    sa.Column("object_id", sa.String(40), nullable=False),
    #: The object as the API shows it, at the moment of the change.
    sa.Column("data", sa.JSON, nullable=False),
    #: The changed fields' values before the change (NULL for a creation).
    sa.Column("previous", sa.JSON, nullable=True),
    #: Who caused it: an API key id, or ``system`` / ``cli``. Never a secret.
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("request_id", sa.String(64), nullable=True),
    _created(),
    sa.Column("dispatched_at", UTCDateTime(), nullable=True),
    sa.Index(None, "type"),
    sa.Index(None, "object_id"),
    sa.Index(None, "created_at"),
    sa.Index(None, "dispatched_at"),
)

webhook_endpoints = sa.Table(
    "webhook_endpoints",
    metadata,
    _id(),
    sa.Column("url", sa.String(2048), nullable=False),
    sa.Column("description", sa.String(500), nullable=True),
    #: Event types delivered here; ``["*"]`` is every deliverable type.
    sa.Column("enabled_events", sa.JSON, nullable=False),
    #: ``enabled``, ``failing`` (a delivery exhausted its retries), ``disabled``.
    sa.Column("status", sa.String(16), nullable=False),
    #: ``whsec_...``; kept to sign with (shown to the merchant once).
    sa.Column("secret", sa.String(100), nullable=False),
    #: The secret before the last rotation, still signed with until it expires.
    sa.Column("previous_secret", sa.String(100), nullable=True),
    sa.Column("previous_secret_expires_at", UTCDateTime(), nullable=True),
    sa.Column("metadata", sa.JSON, nullable=False),
    _created(),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("deleted_at", UTCDateTime(), nullable=True),
)

#: One job per (event, destination): a webhook to an endpoint, an email or an SMS. The
#: worker claims due jobs, attempts them outside any transaction and records the answer.
deliveries = sa.Table(
    "deliveries",
    metadata,
    _id(),
    #: ``webhook``, ``email`` or ``sms``.
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("event_id", sa.String(40), sa.ForeignKey("events.id"), nullable=False),
    sa.Column("endpoint_id", sa.String(40), sa.ForeignKey("webhook_endpoints.id"), nullable=True),
    #: An email address or an E.164 phone number (notifications only).
    sa.Column("recipient", sa.String(320), nullable=True),
    sa.Column("template", sa.String(64), nullable=True),
    #: Extra rendering context fixed when the job was planned (notifications only).
    sa.Column("context", sa.JSON, nullable=True),
    #: The same message is never queued twice: ``event:endpoint`` for a webhook,
    #: ``channel:template:object:recipient`` for a notification.
    sa.Column("dedupe_key", sa.String(255), nullable=False, unique=True),
    #: ``pending``, ``succeeded``, ``dead`` (retries exhausted: the dead-letter list)
    #: or ``canceled`` (its endpoint was disabled or deleted).
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", UTCDateTime(), nullable=True),
    #: A worker's claim: other workers leave the job alone until the lease ends.
    sa.Column("locked_by", sa.String(40), nullable=True),
    sa.Column("locked_until", UTCDateTime(), nullable=True),
    sa.Column("last_error", sa.String(500), nullable=True),
    _created(),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("completed_at", UTCDateTime(), nullable=True),
    sa.Index(None, "status", "next_attempt_at"),
    sa.Index(None, "endpoint_id", "created_at"),
    sa.Index(None, "event_id"),
)

#: Every attempt of every delivery, whatever the channel: the integration-health KPIs
#: (success rate and latency per channel) are computed from this table.
delivery_attempts = sa.Table(
    "delivery_attempts",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("delivery_id", sa.String(40), sa.ForeignKey("deliveries.id"), nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),
    #: The endpoint id for a webhook, the provider (``smtp``, ``twilio``...) otherwise.
    sa.Column("destination", sa.String(64), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("succeeded", sa.Boolean, nullable=False),
    #: The HTTP status (webhook, SMS API) or SMTP reply code, when there was one.
    sa.Column("status_code", sa.Integer, nullable=True),
    sa.Column("latency_ms", sa.Integer, nullable=False),
    sa.Column("response_snippet", sa.String(1000), nullable=True),
    sa.Column("error", sa.String(500), nullable=True),
    sa.Column("attempted_at", UTCDateTime(), nullable=False),
    sa.Index(None, "delivery_id"),
    sa.Index(None, "channel", "attempted_at"),
)

#: The tamper-evident audit trail. Records are appended by the worker from the events
#: (one per event, in one total order ``seq``); each stores the SHA-256 of its own
#: canonical form and the hash of the record before it. Append-only: database triggers
#: (installed by migration 0002) refuse UPDATE and DELETE.
audit_logs = sa.Table(
    "audit_logs",
    metadata,
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("id", sa.String(40), nullable=False, unique=True),
    sa.Column("event_id", sa.String(40), nullable=True, unique=True),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("request_id", sa.String(64), nullable=True),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("object_type", sa.String(32), nullable=False),
    sa.Column("object_id", sa.String(40), nullable=False),
    #: The changed fields: ``before`` is NULL for a creation.
    sa.Column("before", sa.JSON, nullable=True),
    sa.Column("after", sa.JSON, nullable=True),
    sa.Column("occurred_at", UTCDateTime(), nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Index(None, "object_id"),
    sa.Index(None, "actor"),
    sa.Index(None, "occurred_at"),
)

#: The chain's head (one row, ``id = 1``): the last sequence number and hash. Appenders
#: lock it, so the chain has one order; ``audit verify`` checks the last record against
#: it, so a truncated tail is caught too.
audit_chain = sa.Table(
    "audit_chain",
    metadata,
    sa.Column("id", sa.SmallInteger, primary_key=True, autoincrement=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)

APPEND_ONLY_AUDIT_TABLES = ("audit_logs",)

# -- KPI inputs from outside the system (insights/inputs.py) ----------------------------

survey_responses = sa.Table(
    "survey_responses",
    metadata,
    _id(),
    sa.Column("kind", sa.String(8), nullable=False),  # nps (0-10) or csat (1-5)
    sa.Column("score", sa.SmallInteger, nullable=False),
    sa.Column("customer_id", sa.String(40), nullable=True),
    sa.Column("responded_at", UTCDateTime(), nullable=False),
    sa.Column("recorded_by", sa.String(40), nullable=False),
    _created(),
    sa.Index(None, "kind", "responded_at"),
)

support_tickets = sa.Table(
    "support_tickets",
    metadata,
    _id(),
    sa.Column("external_id", sa.String(100), nullable=False, unique=True),
    sa.Column("opened_at", UTCDateTime(), nullable=False),
    sa.Column("resolved_at", UTCDateTime(), nullable=True),
    sa.Column("recorded_by", sa.String(40), nullable=False),
    _created(),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Index(None, "opened_at"),
    sa.Index(None, "resolved_at"),
)

marketing_spend = sa.Table(
    "marketing_spend",
    metadata,
    _id(),
    sa.Column("amount", Amount, nullable=False),
    sa.Column("currency", Currency, nullable=False),
    sa.Column("period_start", UTCDateTime(), nullable=False),
    sa.Column("period_end", UTCDateTime(), nullable=False),
    sa.Column("channel", sa.String(64), nullable=True),
    sa.Column("recorded_by", sa.String(40), nullable=False),
    _created(),
    sa.CheckConstraint("amount > 0", name="amount_positive"),
)

kpi_entries = sa.Table(
    "kpi_entries",
    metadata,
    _id(),
    sa.Column("kpi", sa.String(64), nullable=False),
    #: A decimal written as text: exact, whatever the KPI's unit.
    sa.Column("value", sa.String(40), nullable=False),
    sa.Column("period_start", UTCDateTime(), nullable=False),
    sa.Column("period_end", UTCDateTime(), nullable=False),
    sa.Column("note", sa.String(500), nullable=True),
    sa.Column("recorded_by", sa.String(40), nullable=False),
    _created(),
    sa.Index(None, "kpi", "period_end"),
)

release_markers = sa.Table(
    "release_markers",
    metadata,
    _id(),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("released_at", UTCDateTime(), nullable=False),
    sa.Column("description", sa.String(1000), nullable=True),
    sa.Column("recorded_by", sa.String(40), nullable=False),
    _created(),
    sa.Index(None, "released_at"),
)

# -- inbound gateway webhooks (migration 0003, docs/gateways.md) ----------------------

#: Every verified event a gateway sent us, stored once: ``(gateway, event_id)`` is unique,
#: so a redelivery finds its row and changes nothing. ``outcome`` says what it did:
#: ``applied``, ``ignored_stale`` (it would move the object backwards),
#: ``ignored_not_final``, ``ignored`` (a type we do not act on), ``mismatch`` (amount or
#: currency disagree with ours) or ``unmatched`` (no object of ours).
gateway_events = sa.Table(
    "gateway_events",
    metadata,
    _id(),
    sa.Column("gateway", sa.String(32), nullable=False),
    sa.Column("event_id", sa.String(128), nullable=False),
    sa.Column("type", sa.String(64), nullable=False),
    #: What it means for us (``payment.captured``, ``refund.succeeded``, ``other``...).
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("payment_id", sa.String(40), nullable=True),
    sa.Column("refund_id", sa.String(40), nullable=True),
    sa.Column("outcome", sa.String(32), nullable=False),
    sa.Column("detail", sa.String(500), nullable=True),
    #: SHA-256 of the raw body as received (the body itself may carry personal data).
    sa.Column("body_sha256", sa.String(64), nullable=False),
    sa.Column("occurred_at", UTCDateTime(), nullable=False),
    sa.Column("received_at", UTCDateTime(), nullable=False),
    sa.UniqueConstraint("gateway", "event_id"),
    sa.Index(None, "payment_id"),
    sa.Index(None, "received_at"),
)

# -- reconciliation of gateway settlement reports (migration 0003, docs/gateways.md) ---

#: One imported settlement report (Razorpay settlement recon, Stripe balance
#: transactions) and what matching it found.
reconciliation_runs = sa.Table(
    "reconciliation_runs",
    metadata,
    _id(),
    sa.Column("gateway", sa.String(32), nullable=False),
    #: The file's name as given, and the SHA-256 of its bytes.
    sa.Column("source", sa.String(500), nullable=False),
    sa.Column("source_sha256", sa.String(64), nullable=False),
    #: Counts per outcome and the fees posted per currency.
    sa.Column("summary", sa.JSON, nullable=False),
    _created(),
    sa.Index(None, "created_at"),
)

#: One line of a report (or one of our objects the report lacks) and its outcome:
#: ``matched``, ``missing_ours`` (the gateway has it, we do not), ``missing_gateway``
#: (we have it, the report does not), ``amount_mismatch``, ``other`` (not a payment or
#: refund: adjustments, transfers...).
reconciliation_items = sa.Table(
    "reconciliation_items",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("run_id", sa.String(40), sa.ForeignKey("reconciliation_runs.id"), nullable=False),
    sa.Column("outcome", sa.String(32), nullable=False),
    #: ``payment``, ``refund`` or the report's own type for other lines.
    sa.Column("object_type", sa.String(32), nullable=False),
    #: The report line's id (Razorpay ``entity_id``, Stripe ``balance_transaction_id``).
    sa.Column("line_id", sa.String(128), nullable=True),
    sa.Column("gateway_reference", sa.String(128), nullable=True),
    sa.Column("payment_id", sa.String(40), nullable=True),
    sa.Column("refund_id", sa.String(40), nullable=True),
    sa.Column("currency", Currency, nullable=True),
    #: Ours and the gateway's amount, in minor units (NULL where one side has none).
    sa.Column("expected_amount", Amount, nullable=True),
    sa.Column("reported_amount", Amount, nullable=True),
    sa.Column("fee", Amount, nullable=True),
    sa.Column("detail", sa.String(500), nullable=True),
    sa.Index(None, "run_id"),
)

# -- telemetry rollups (migration 0005, telemetry/rollups.py) ----------------------------

#: One column per histogram bucket (``b00`` .. ``b26``): the bounds are
#: ``paystead.telemetry.histogram.BOUNDS`` plus ``+Inf``.
ROLLUP_BUCKET_COLUMNS = tuple(f"b{i:02d}" for i in range(27))

#: Per-minute telemetry, written by each serving process once a minute in one
#: transaction, added to (never overwritten) when several processes share a minute.
#: ``labels`` is canonical JSON (sorted keys). Histogram rows carry count, sum and
#: bucket counts; counters their count; gauges their samples' count and sum.
telemetry_rollups = sa.Table(
    "telemetry_rollups",
    metadata,
    sa.Column("minute", UTCDateTime(), primary_key=True),
    sa.Column("metric", sa.String(64), primary_key=True),
    sa.Column("labels", sa.String(255), primary_key=True),
    sa.Column("count", sa.BigInteger, nullable=False),
    sa.Column("sum", sa.Float, nullable=False),
    *(sa.Column(name, sa.BigInteger, nullable=False) for name in ROLLUP_BUCKET_COLUMNS),
    sa.Index(None, "metric", "minute"),
)

# -- SLO alerts (migration 0006, insights/alerting.py) ---------------------------------

#: One row per firing: resolved in place when the short window recovers.
slo_alerts = sa.Table(
    "slo_alerts",
    metadata,
    _id(),
    sa.Column("slo", sa.String(64), nullable=False),
    sa.Column("rule", sa.String(32), nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("fired_at", UTCDateTime(), nullable=False),
    sa.Column("resolved_at", UTCDateTime(), nullable=True),
    sa.Column("long_burn", sa.Float, nullable=False),
    sa.Column("short_burn", sa.Float, nullable=False),
    sa.Index(None, "fired_at"),
    sa.Index(None, "state"),
)

# -- Feature flags (optimize/flags) (migration 0007) --

#: One row per flag key (``optimize/flags``). ``definition`` is the validated JSON
#: (type, variants, off_variant, default, rules, enabled, salt). ``version`` counts the
#: flag's changes; every write adds one, so ``(count(*), sum(version))`` over the table
#: changes with every committed write: the in-process caches poll that pair. A deleted
#: flag keeps its row (``deleted_at``) so the sum never goes back.
flags = sa.Table(
    "flags",
    metadata,
    _id(),
    sa.Column("key", sa.String(100), nullable=False, unique=True),
    sa.Column("description", sa.String(500), nullable=True),
    sa.Column("definition", sa.JSON, nullable=False),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("metadata", sa.JSON, nullable=False),
    _created(),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("updated_by", sa.String(64), nullable=True),
    sa.Column("change_reason", sa.String(500), nullable=True),
    sa.Column("deleted_at", UTCDateTime(), nullable=True),
)

# -- Experiments, exposures, canary rollouts and the optimization backlog (optimize/) (migration 0008) --

#: A/B experiments on a flag (``optimize/experiments.py``). ``variants`` is a list of
#: ``{"key", "weight"}`` (basis points, summing to 10,000); the first is control.
experiments = sa.Table(
    "experiments",
    metadata,
    _id(),
    sa.Column("key", sa.String(100), nullable=False, unique=True),
    sa.Column("flag_key", sa.String(200), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("hypothesis", sa.String(2000), nullable=False),
    sa.Column("primary_metric", sa.String(40), nullable=False),
    sa.Column("guardrails", sa.JSON, nullable=False),
    sa.Column("variants", sa.JSON, nullable=False),
    #: Money metrics (order value, revenue per customer) count payments in this currency.
    sa.Column("currency", Currency, nullable=False),
    _created(),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("started_at", UTCDateTime(), nullable=True),
    sa.Column("stopped_at", UTCDateTime(), nullable=True),
    sa.Index(None, "flag_key"),
)

#: The assignment log: the first time a subject met a flag under an experiment (or a
#: rollout step, ``rollout:{id}:{step}``), written in batches by the exposure hook.
experiment_exposures = sa.Table(
    "experiment_exposures",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("experiment_key", sa.String(100), nullable=False),
    sa.Column("flag_key", sa.String(200), nullable=False),
    sa.Column("variant", sa.String(100), nullable=False),
    #: The evaluation's targeting key: a customer id, else a payment id.
    sa.Column("subject", sa.String(200), nullable=False),
    sa.Column("payment_id", sa.String(40), nullable=True),
    sa.Column("first_seen_at", UTCDateTime(), nullable=False),
    sa.UniqueConstraint("experiment_key", "subject"),
)

#: Canary rollouts (``optimize/rollouts.py``): ``steps`` are the canary's weights in
#: basis points; ``step_index`` the current one.
rollouts = sa.Table(
    "rollouts",
    metadata,
    _id(),
    sa.Column("flag_key", sa.String(200), nullable=False),
    sa.Column("canary", sa.String(100), nullable=False),
    sa.Column("control", sa.String(100), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("steps", sa.JSON, nullable=False),
    sa.Column("step_index", sa.Integer, nullable=False),
    sa.Column("step_started_at", UTCDateTime(), nullable=False),
    sa.Column("min_step_seconds", sa.Integer, nullable=False),
    sa.Column("min_sample", sa.Integer, nullable=False),
    #: Thresholds: alpha, max p95 latency ratio, max error-rate increase.
    sa.Column("guardrails", sa.JSON, nullable=False),
    sa.Column("reason", sa.String(1000), nullable=True),
    _created(),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("finished_at", UTCDateTime(), nullable=True),
    sa.Index(None, "flag_key"),
    sa.Index(None, "status"),
)

#: Every decision a rollout took (promote, hold, roll back...) and why.
rollout_decisions = sa.Table(
    "rollout_decisions",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("rollout_id", sa.String(40), sa.ForeignKey("rollouts.id"), nullable=False),
    sa.Column("step_index", sa.Integer, nullable=False),
    sa.Column("canary_weight", sa.Integer, nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("reason", sa.String(1000), nullable=False),
    sa.Column("metrics", sa.JSON, nullable=False),
    sa.Column("decided_at", UTCDateTime(), nullable=False),
    sa.Index(None, "rollout_id"),
)

# -- Fraud screening assessments (risk/) (migration 0009) --

#: One screening of a payment before it reached a gateway (docs/risk.md): the score, the
#: rules that fired, the decision and the mode it ran in (``shadow`` never blocks).
risk_assessments = sa.Table(
    "risk_assessments",
    metadata,
    _id(),
    sa.Column("payment_id", sa.String(40), sa.ForeignKey("payments.id"), nullable=False),
    sa.Column("customer_id", sa.String(40), nullable=True),
    sa.Column("score", sa.Integer, nullable=False),
    sa.Column("decision", sa.String(16), nullable=False),
    sa.Column("mode", sa.String(16), nullable=False),
    #: ``[{"rule", "score", "reason"}]``, in the order the rules ran.
    sa.Column("rules", sa.JSON, nullable=False),
    _created(),
    sa.UniqueConstraint("payment_id"),
    sa.Index(None, "created_at"),
)

# -- Billing: customer billing details, products, prices, invoices, credit notes, credit balance (billing/) (migration 0010) --

#: Products carry the tax facts; prices (below) say what a quantity costs.
products = sa.Table(
    "products",
    metadata,
    _id(),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("description", sa.String(1000), nullable=True),
    #: SAC (services) or HSN (goods): 4, 6 or 8 digits.
    sa.Column("tax_code", sa.String(8), nullable=True),
    #: Percent as a decimal string ("18").
    sa.Column("tax_rate", sa.String(16), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("metadata", sa.JSON, nullable=False),
    _created(),
)

#: Immutable except ``active``: an invoice line points at the price it was billed at.
prices = sa.Table(
    "prices",
    metadata,
    _id(),
    sa.Column("product_id", sa.String(40), sa.ForeignKey("products.id"), nullable=False),
    sa.Column("currency", Currency, nullable=False),
    sa.Column("unit_amount", Amount, nullable=True),
    #: {interval, interval_count, usage_type, meter}; NULL for one-time prices.
    sa.Column("recurring", sa.JSON, nullable=True),
    sa.Column("tax_behavior", sa.String(16), nullable=False),
    sa.Column("billing_scheme", sa.String(16), nullable=False),
    sa.Column("tiers_mode", sa.String(16), nullable=True),
    sa.Column("tiers", sa.JSON, nullable=True),
    sa.Column("transform_quantity", sa.JSON, nullable=True),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("nickname", sa.String(200), nullable=True),
    sa.Column("metadata", sa.JSON, nullable=False),
    _created(),
    sa.CheckConstraint("unit_amount IS NULL OR unit_amount >= 0", name="unit_amount_nonnegative"),
    sa.Index(None, "product_id"),
)

#: One row per invoice; its lines (with their tax lines) are a JSON list: an invoice is
#: one document, written whole while a draft and frozen once finalized.
invoices = sa.Table(
    "invoices",
    metadata,
    _id(),
    #: Gapless per series and financial year (billing/numbering.py); NULL while a draft.
    sa.Column("number", sa.String(16), nullable=True, unique=True),
    sa.Column("customer_id", sa.String(40), sa.ForeignKey("customers.id"), nullable=False),
    sa.Column("subscription_id", sa.String(40), nullable=True),
    sa.Column("currency", Currency, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("collection_method", sa.String(32), nullable=False),
    sa.Column("days_until_due", sa.Integer, nullable=True),
    sa.Column("due_date", UTCDateTime(), nullable=True),
    sa.Column("period_start", UTCDateTime(), nullable=True),
    sa.Column("period_end", UTCDateTime(), nullable=True),
    #: Caller's dedup key (e.g. a subscription period): a second draft for it is refused.
    sa.Column("source_key", sa.String(200), nullable=True, unique=True),
    sa.Column("lines", sa.JSON, nullable=False),
    sa.Column("subtotal", Amount, nullable=False),
    sa.Column("total_discount", Amount, nullable=False),
    sa.Column("total_excluding_tax", Amount, nullable=False),
    sa.Column("tax", Amount, nullable=False),
    sa.Column("total", Amount, nullable=False),
    sa.Column("starting_balance", Amount, nullable=False),
    sa.Column("applied_balance", Amount, nullable=False),
    sa.Column("ending_balance", Amount, nullable=False),
    sa.Column("amount_credited", Amount, nullable=False),
    sa.Column("credit_notes_total", Amount, nullable=False),
    sa.Column("amount_paid", Amount, nullable=False),
    sa.Column("amount_due", Amount, nullable=False),
    sa.Column("attempt_count", sa.Integer, nullable=False),
    sa.Column("last_payment_error", sa.String(500), nullable=True),
    sa.Column("payment_id", sa.String(40), nullable=True),
    #: Set while a charge attempt is at the gateway, so a second ``pay`` cannot start
    #: another one meanwhile (taken over after 10 minutes if its process died).
    sa.Column("charge_started_at", UTCDateTime(), nullable=True),
    sa.Column("place_of_supply", sa.String(64), nullable=True),
    sa.Column("supply_type", sa.String(32), nullable=True),
    sa.Column("supply_notation", sa.String(200), nullable=True),
    sa.Column("reverse_charge", sa.Boolean, nullable=False),
    sa.Column("customer_snapshot", sa.JSON, nullable=False),
    sa.Column("seller_snapshot", sa.JSON, nullable=False),
    sa.Column("metadata", sa.JSON, nullable=False),
    _created(),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("finalized_at", UTCDateTime(), nullable=True),
    sa.Column("paid_at", UTCDateTime(), nullable=True),
    sa.Column("voided_at", UTCDateTime(), nullable=True),
    sa.Column("marked_uncollectible_at", UTCDateTime(), nullable=True),
    sa.CheckConstraint("amount_due >= 0", name="amount_due_nonnegative"),
    sa.Index(None, "customer_id"),
    sa.Index(None, "subscription_id"),
    sa.Index(None, "status"),
)

#: The last number issued per (series, Indian financial year): incremented with
#: ``UPDATE ... RETURNING`` inside the finalizing transaction, so a rollback un-issues it.
document_number_counters = sa.Table(
    "document_number_counters",
    metadata,
    sa.Column("series", sa.String(8), primary_key=True),
    sa.Column("fiscal_year", sa.String(8), primary_key=True),
    sa.Column("last_number", sa.Integer, nullable=False),
)

credit_notes = sa.Table(
    "credit_notes",
    metadata,
    _id(),
    sa.Column("number", sa.String(16), nullable=False, unique=True),
    sa.Column("invoice_id", sa.String(40), sa.ForeignKey("invoices.id"), nullable=False),
    sa.Column("customer_id", sa.String(40), sa.ForeignKey("customers.id"), nullable=False),
    sa.Column("currency", Currency, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    #: reduce_amount_due | credit_balance | refund
    sa.Column("outcome", sa.String(32), nullable=False),
    sa.Column("reason", sa.String(64), nullable=True),
    sa.Column("memo", sa.String(1000), nullable=True),
    sa.Column("lines", sa.JSON, nullable=False),
    sa.Column("subtotal", Amount, nullable=False),
    sa.Column("tax", Amount, nullable=False),
    sa.Column("total", Amount, nullable=False),
    sa.Column("refund_id", sa.String(40), nullable=True),
    sa.Column("metadata", sa.JSON, nullable=False),
    _created(),
    sa.CheckConstraint("total > 0", name="total_positive"),
    sa.Index(None, "invoice_id"),
    sa.Index(None, "customer_id"),
)

#: A customer's credit balance per currency (positive: credit the customer holds),
#: the sum of its transactions, kept in the same transaction as each of them.
customer_balances = sa.Table(
    "customer_balances",
    metadata,
    sa.Column("customer_id", sa.String(40), sa.ForeignKey("customers.id"), primary_key=True),
    sa.Column("currency", Currency, primary_key=True),
    sa.Column("balance", Amount, nullable=False),
    sa.CheckConstraint("balance >= 0", name="balance_nonnegative"),
)

customer_balance_transactions = sa.Table(
    "customer_balance_transactions",
    metadata,
    _id(),
    sa.Column("customer_id", sa.String(40), sa.ForeignKey("customers.id"), nullable=False),
    sa.Column("currency", Currency, nullable=False),
    #: Signed: positive adds credit, negative uses it.
    sa.Column("amount", Amount, nullable=False),
    sa.Column("ending_balance", Amount, nullable=False),
    #: adjustment | applied_to_invoice | credit_note | invoice_overpaid
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("description", sa.String(500), nullable=True),
    sa.Column("invoice_id", sa.String(40), nullable=True),
    sa.Column("credit_note_id", sa.String(40), nullable=True),
    #: What caused it, unique so the same cause never moves the balance twice.
    sa.Column("source_key", sa.String(200), nullable=True, unique=True),
    sa.Column("metadata", sa.JSON, nullable=False),
    _created(),
    sa.CheckConstraint("amount <> 0", name="amount_nonzero"),
    sa.Index(None, "customer_id", "currency"),
)

# -- Billing: subscriptions, test clocks, meters and meter events, coupons, promotion codes, dunning (billing/) (migration 0011) --

#: Test clocks (billing/clocks.py): a frozen "now" for the customers created on it.
test_clocks = sa.Table(
    "test_clocks",
    metadata,
    _id(),
    sa.Column("name", sa.String(200), nullable=True),
    sa.Column("frozen_time", UTCDateTime(), nullable=False),
    #: ``ready`` or ``advancing`` (a billing run is moving its customers forward).
    sa.Column("status", sa.String(16), nullable=False),
    _created(),
)

#: A customer created with ``test_clock`` lives on that clock's time.
customers.append_column(sa.Column("test_clock_id", sa.String(40), nullable=True))
sa.Index("ix_customers_test_clock_id", customers.c.test_clock_id)

#: Subscriptions (billing/subscription_service.py). Periods are boundaries counted from
#: ``billing_cycle_anchor`` (billing/subscriptions.py); ``period_index`` counts the
#: periods billed (coupons' duration). Dunning: ``dunning_invoice_id`` failed first,
#: ``dunning_retries`` were made, the next one is due at ``next_retry_at``.
subscriptions = sa.Table(
    "subscriptions",
    metadata,
    _id(),
    sa.Column("customer_id", sa.String(40), sa.ForeignKey("customers.id"), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("currency", Currency, nullable=False),
    sa.Column("collection_method", sa.String(32), nullable=False),
    sa.Column("days_until_due", sa.Integer, nullable=True),
    sa.Column("interval", sa.String(8), nullable=False),
    sa.Column("interval_count", sa.Integer, nullable=False),
    sa.Column("billing_cycle_anchor", UTCDateTime(), nullable=False),
    sa.Column("current_period_start", UTCDateTime(), nullable=False),
    sa.Column("current_period_end", UTCDateTime(), nullable=False),
    sa.Column("period_index", sa.Integer, nullable=False),
    sa.Column("trial_start", UTCDateTime(), nullable=True),
    sa.Column("trial_end", UTCDateTime(), nullable=True),
    sa.Column("trial_will_end_sent", sa.Boolean, nullable=False),
    sa.Column("cancel_at_period_end", sa.Boolean, nullable=False),
    sa.Column("canceled_at", UTCDateTime(), nullable=True),
    sa.Column("ended_at", UTCDateTime(), nullable=True),
    sa.Column("paused_at", UTCDateTime(), nullable=True),
    sa.Column("coupon", sa.String(64), nullable=True),
    sa.Column("test_clock_id", sa.String(40), nullable=True),
    sa.Column("latest_invoice_id", sa.String(40), nullable=True),
    sa.Column("dunning_invoice_id", sa.String(40), nullable=True),
    sa.Column("dunning_started_at", UTCDateTime(), nullable=True),
    sa.Column("dunning_retries", sa.Integer, nullable=False),
    sa.Column("next_retry_at", UTCDateTime(), nullable=True),
    sa.Column("metadata", sa.JSON, nullable=False),
    _created(),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Index(None, "customer_id"),
    sa.Index(None, "current_period_end"),
    sa.Index(None, "next_retry_at"),
    sa.Index(None, "test_clock_id"),
)

subscription_items = sa.Table(
    "subscription_items",
    metadata,
    _id(),
    sa.Column("subscription_id", sa.String(40), sa.ForeignKey("subscriptions.id"), nullable=False),
    sa.Column("price_id", sa.String(40), nullable=False),
    sa.Column("quantity", sa.Integer, nullable=False),
    _created(),
    sa.UniqueConstraint("subscription_id", "price_id"),
)

#: The billing run's per-period guard: one row per (subscription, boundary) it has
#: crossed, inserted under the primary key before anything is invoiced, so two runs
#: for the same instant cannot both renew. ``invoice_id`` is set once invoiced.
subscription_renewals = sa.Table(
    "subscription_renewals",
    metadata,
    sa.Column(
        "subscription_id",
        sa.String(40),
        sa.ForeignKey("subscriptions.id"),
        primary_key=True,
    ),
    sa.Column("boundary", UTCDateTime(), primary_key=True),
    #: ``initial``, ``renewal``, ``trial_end``, ``final`` (cancel at period end) or
    #: ``skipped`` (paused: the period advances, nothing is billed).
    sa.Column("kind", sa.String(16), nullable=False),
    #: ``claimed`` (invoice not made yet), ``invoiced`` or ``empty`` (nothing to bill).
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("period_index", sa.Integer, nullable=False),
    #: The licensed period billed in advance, and where metered usage billed in
    #: arrears starts (it ends at ``boundary``).
    sa.Column("period_start", UTCDateTime(), nullable=False),
    sa.Column("period_end", UTCDateTime(), nullable=False),
    sa.Column("usage_start", UTCDateTime(), nullable=True),
    sa.Column("invoice_id", sa.String(40), nullable=True),
    sa.Column("claimed_at", UTCDateTime(), nullable=False),
)

#: Proration lines waiting for the next invoice; ``boundary`` is set when a renewal
#: claims them (the renewal at that boundary invoices them).
subscription_pending_lines = sa.Table(
    "subscription_pending_lines",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("subscription_id", sa.String(40), sa.ForeignKey("subscriptions.id"), nullable=False),
    sa.Column("description", sa.String(500), nullable=False),
    sa.Column("price_id", sa.String(40), nullable=True),
    sa.Column("quantity", sa.Integer, nullable=False),
    sa.Column("amount", Amount, nullable=False),
    sa.Column("period_start", UTCDateTime(), nullable=False),
    sa.Column("period_end", UTCDateTime(), nullable=False),
    sa.Column("boundary", UTCDateTime(), nullable=True),
    _created(),
    sa.Index(None, "subscription_id", "boundary"),
)

# -- Exchange rates by date (fx/) (migration 0012) --

#: Exchange rates by day (``fx/``): 1 ``base`` = ``rate`` ``quote``, the rate an exact
#: decimal written as text. One row per pair, day and source: an ECB re-import changes
#: nothing, a manual entry for the same day corrects the earlier manual one.
exchange_rates = sa.Table(
    "exchange_rates",
    metadata,
    _id(),
    sa.Column("base", Currency, nullable=False),
    sa.Column("quote", Currency, nullable=False),
    sa.Column("rate", sa.String(40), nullable=False),
    sa.Column("rate_date", sa.Date, nullable=False),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("recorded_by", sa.String(64), nullable=False),
    _created(),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.UniqueConstraint("base", "quote", "rate_date", "source"),
)

# -- Billing: meters, meter events, coupons, promotion codes and redemptions (billing/) (migration 0013) --

#: A usage meter (``billing/usage.py``): what is counted and how a period's events
#: aggregate (sum, count, max, last, unique_count). Immutable once created.
meters = sa.Table(
    "meters",
    metadata,
    _id(),
    sa.Column("key", sa.String(100), nullable=False, unique=True),
    sa.Column("display_name", sa.String(200), nullable=False),
    sa.Column("aggregation", sa.String(16), nullable=False),
    #: How late (seconds before now) an event's timestamp may be and still be accepted.
    sa.Column("grace_seconds", sa.Integer, nullable=False),
    _created(),
)

#: One row per reported usage event. ``(meter_id, customer_id, identifier)`` is unique:
#: a duplicate report is ignored by the constraint (insert-ignore), so it counts once.
meter_events = sa.Table(
    "meter_events",
    metadata,
    _id(),
    sa.Column("meter_id", sa.String(40), sa.ForeignKey("meters.id"), nullable=False),
    sa.Column("customer_id", sa.String(40), sa.ForeignKey("customers.id"), nullable=False),
    sa.Column("identifier", sa.String(255), nullable=False),
    sa.Column("value", sa.BigInteger, nullable=False),
    #: What ``unique_count`` meters count distinct (the event's ``unique_key``, or its value).
    sa.Column("unique_key", sa.String(255), nullable=True),
    #: When the usage happened (the API's ``timestamp``): its billing period, unless it
    #: was recorded (``created_at``, the customer's now) after that period had ended.
    sa.Column("occurred_at", UTCDateTime(), nullable=False),
    _created(),
    sa.UniqueConstraint("meter_id", "customer_id", "identifier"),
    sa.Index(None, "meter_id", "customer_id", "occurred_at"),
)

#: A discount (``billing/coupons.py``): ``percent_off`` (a decimal string, 0 < p <= 100)
#: or ``amount_off`` in ``currency``, for one period, N periods or forever.
#: ``times_redeemed`` only grows through a conditional UPDATE that respects ``max_redemptions``.
coupons = sa.Table(
    "coupons",
    metadata,
    _id(),
    sa.Column("name", sa.String(200), nullable=True),
    sa.Column("percent_off", sa.String(16), nullable=True),
    sa.Column("amount_off", Amount, nullable=True),
    sa.Column("currency", Currency, nullable=True),
    sa.Column("duration", sa.String(16), nullable=False),
    sa.Column("duration_in_periods", sa.Integer, nullable=True),
    sa.Column("redeem_by", UTCDateTime(), nullable=True),
    sa.Column("max_redemptions", sa.Integer, nullable=True),
    sa.Column("times_redeemed", sa.Integer, nullable=False),
    #: Product ids the coupon is limited to (NULL: every line).
    sa.Column("applies_to_products", sa.JSON, nullable=True),
    _created(),
)

#: A customer-facing code for a coupon. ``code_key`` is the upper-cased code: codes are
#: unique regardless of case.
promotion_codes = sa.Table(
    "promotion_codes",
    metadata,
    _id(),
    sa.Column("code", sa.String(64), nullable=False),
    sa.Column("code_key", sa.String(64), nullable=False, unique=True),
    sa.Column("coupon_id", sa.String(40), sa.ForeignKey("coupons.id"), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=True),
    sa.Column("max_redemptions", sa.Integer, nullable=True),
    sa.Column("times_redeemed", sa.Integer, nullable=False),
    #: Only for customers who have never redeemed a coupon nor paid.
    sa.Column("first_time_transaction", sa.Boolean, nullable=False),
    _created(),
    sa.Index(None, "coupon_id"),
)

#: A coupon applied to a subscription, once: ``(subscription_id, coupon_id)`` is unique.
#: Its periods count from ``start_period_index``.
coupon_redemptions = sa.Table(
    "coupon_redemptions",
    metadata,
    _id(),
    sa.Column("coupon_id", sa.String(40), sa.ForeignKey("coupons.id"), nullable=False),
    sa.Column(
        "promotion_code_id", sa.String(40), sa.ForeignKey("promotion_codes.id"), nullable=True
    ),
    sa.Column("customer_id", sa.String(40), sa.ForeignKey("customers.id"), nullable=False),
    sa.Column("subscription_id", sa.String(40), nullable=False),
    sa.Column("currency", Currency, nullable=False),
    sa.Column("start_period_index", sa.Integer, nullable=False),
    sa.Column("redeemed_at", UTCDateTime(), nullable=False),
    sa.UniqueConstraint("subscription_id", "coupon_id"),
    sa.Index(None, "customer_id"),
)

# -- The optimization backlog (optimize/backlog) (migration 0014) --

#: Optimization backlog items (``optimize/backlog.py``, docs/backlog.md). Scores are
#: 1-10; ``reach`` is subjects per quarter for RICE; ``release_id`` is the release
#: marker the item shipped with, whose before/after its page shows.
backlog_items = sa.Table(
    "backlog_items",
    metadata,
    _id(),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("hypothesis", sa.String(2000), nullable=False),
    sa.Column("target_kpi", sa.String(64), nullable=False),
    sa.Column("impact", sa.SmallInteger, nullable=False),
    sa.Column("effort", sa.SmallInteger, nullable=False),
    sa.Column("confidence", sa.SmallInteger, nullable=False),
    sa.Column("reach", sa.BigInteger, nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("flag_key", sa.String(100), nullable=True),
    sa.Column("experiment_key", sa.String(100), nullable=True),
    sa.Column("release_id", sa.String(40), sa.ForeignKey("release_markers.id"), nullable=True),
    sa.Column("shipped_at", UTCDateTime(), nullable=True),
    sa.Column("created_by", sa.String(64), nullable=False),
    _created(),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Index(None, "status"),
)

# -- Models: fraud, churn, forecast and lifetime-value artifacts and scores (models/) (migration 0015) --

#: Churn predictions (``models/churn.py``, docs/models.md): the probability that an
#: active subscription ends by ``horizon_end``, from model ``model_version``, and the
#: yes/no at the model's threshold. Kept so the churn KPI can compare each prediction
#: with what happened once its horizon has passed. One per subscription per scoring run.
churn_predictions = sa.Table(
    "churn_predictions",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("subscription_id", sa.String(40), sa.ForeignKey("subscriptions.id"), nullable=False),
    sa.Column("customer_id", sa.String(40), nullable=False),
    sa.Column("model_version", sa.String(32), nullable=False),
    sa.Column("probability", sa.Float, nullable=False),
    sa.Column("predicted_churn", sa.Boolean, nullable=False),
    sa.Column("predicted_at", UTCDateTime(), nullable=False),
    sa.Column("horizon_end", UTCDateTime(), nullable=False),
    sa.UniqueConstraint("subscription_id", "predicted_at"),
    sa.Index(None, "horizon_end"),
    sa.Index(None, "customer_id"),
)

# -- Billing follow-ups: final invoices on cancel, upcoming-invoice notices (billing/) (migration 0016) --

#: The last invoice of a canceled subscription (``billing/final_invoice.py``): one per
#: subscription. It waits until ``finalize_after`` (the end plus the longest grace
#: window of its meters) so late usage of the final period is billed on it.
subscription_final_invoices = sa.Table(
    "subscription_final_invoices",
    metadata,
    sa.Column(
        "subscription_id", sa.String(40), sa.ForeignKey("subscriptions.id"), primary_key=True
    ),
    sa.Column("ended_at", UTCDateTime(), nullable=False),
    #: Where the metered usage billed in arrears starts (NULL: no usage billed).
    sa.Column("usage_start", UTCDateTime(), nullable=True),
    sa.Column("period_start", UTCDateTime(), nullable=False),
    sa.Column("period_index", sa.Integer, nullable=False),
    sa.Column("finalize_after", UTCDateTime(), nullable=False),
    #: ``waiting`` (not invoiced yet), ``invoiced`` or ``empty`` (nothing to bill).
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("invoice_id", sa.String(40), nullable=True),
    _created(),
    sa.Index(None, "state", "finalize_after"),
)
#: Notices sent once per subscription period (``invoice.upcoming``): the primary key
#: is the once-per-period guard.
subscription_notices = sa.Table(
    "subscription_notices",
    metadata,
    sa.Column(
        "subscription_id", sa.String(40), sa.ForeignKey("subscriptions.id"), primary_key=True
    ),
    sa.Column("kind", sa.String(32), primary_key=True),
    sa.Column("period_end", UTCDateTime(), primary_key=True),
    _created(),
)
