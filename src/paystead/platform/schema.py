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
