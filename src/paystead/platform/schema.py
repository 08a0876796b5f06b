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

# -- Experiments, exposures, canary rollouts and the optimization backlog (optimize/) (migration 0008) --

# -- Fraud screening assessments (risk/) (migration 0009) --

# -- Billing: customer billing details, products, prices, invoices, credit notes, credit balance (billing/) (migration 0010) --

# -- Billing: subscriptions, test clocks, meters and meter events, coupons, promotion codes, dunning (billing/) (migration 0011) --

# -- Exchange rates by date (fx/) (migration 0012) --

# -- Billing: meters, meter events, coupons, promotion codes and redemptions (billing/) (migration 0013) --

# -- The optimization backlog (optimize/backlog) (migration 0014) --
