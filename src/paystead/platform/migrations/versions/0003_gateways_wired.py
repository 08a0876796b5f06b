"""gateways wired in: payment attempts, next actions, order references, inbound gateway events, reconciliation runs

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attempts", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("next_action", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("order_reference", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("amount_capturing", sa.BigInteger(), nullable=True))
        batch_op.add_column(
            sa.Column("gateway_forced", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.create_index(
            batch_op.f("ix_payments_order_reference"), ["order_reference"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_payments_gateway_reference"), ["gateway_reference"], unique=False
        )

    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_refunds_gateway_reference"), ["gateway_reference"], unique=False
        )

    op.create_table(
        "gateway_events",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("gateway", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.String(length=128), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("payment_id", sa.String(length=40), nullable=True),
        sa.Column("refund_id", sa.String(length=40), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.String(length=500), nullable=True),
        sa.Column("body_sha256", sa.String(length=64), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gateway_events")),
        sa.UniqueConstraint("gateway", "event_id", name=op.f("uq_gateway_events_gateway_event_id")),
    )
    with op.batch_alter_table("gateway_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_gateway_events_payment_id"), ["payment_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_gateway_events_received_at"), ["received_at"], unique=False
        )

    op.create_table(
        "reconciliation_runs",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("gateway", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=500), nullable=False),
        sa.Column("source_sha256", sa.String(length=64), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliation_runs")),
    )
    with op.batch_alter_table("reconciliation_runs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reconciliation_runs_created_at"), ["created_at"], unique=False
        )
    op.create_table(
        "reconciliation_items",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("object_type", sa.String(length=32), nullable=False),
        sa.Column("line_id", sa.String(length=128), nullable=True),
        sa.Column("gateway_reference", sa.String(length=128), nullable=True),
        sa.Column("payment_id", sa.String(length=40), nullable=True),
        sa.Column("refund_id", sa.String(length=40), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("expected_amount", sa.BigInteger(), nullable=True),
        sa.Column("reported_amount", sa.BigInteger(), nullable=True),
        sa.Column("fee", sa.BigInteger(), nullable=True),
        sa.Column("detail", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["reconciliation_runs.id"],
            name=op.f("fk_reconciliation_items_run_id_reconciliation_runs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliation_items")),
    )
    with op.batch_alter_table("reconciliation_items", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reconciliation_items_run_id"), ["run_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("reconciliation_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reconciliation_items_run_id"))
    op.drop_table("reconciliation_items")
    with op.batch_alter_table("reconciliation_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reconciliation_runs_created_at"))
    op.drop_table("reconciliation_runs")

    with op.batch_alter_table("gateway_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gateway_events_received_at"))
        batch_op.drop_index(batch_op.f("ix_gateway_events_payment_id"))
    op.drop_table("gateway_events")

    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_refunds_gateway_reference"))

    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payments_gateway_reference"))
        batch_op.drop_index(batch_op.f("ix_payments_order_reference"))
        batch_op.drop_column("gateway_forced")
        batch_op.drop_column("amount_capturing")
        batch_op.drop_column("order_reference")
        batch_op.drop_column("next_action")
        batch_op.drop_column("attempts")
