"""Billing follow-ups: final invoices on cancel, upcoming-invoice notices (billing/).

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subscription_final_invoices",
        sa.Column("subscription_id", sa.String(length=40), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("usage_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period_index", sa.Integer(), nullable=False),
        sa.Column("finalize_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("invoice_id", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name=op.f("fk_subscription_final_invoices_subscription_id_subscriptions"),
        ),
        sa.PrimaryKeyConstraint("subscription_id", name=op.f("pk_subscription_final_invoices")),
    )
    op.create_index(
        op.f("ix_subscription_final_invoices_state_finalize_after"),
        "subscription_final_invoices",
        ["state", "finalize_after"],
    )
    op.create_table(
        "subscription_notices",
        sa.Column("subscription_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name=op.f("fk_subscription_notices_subscription_id_subscriptions"),
        ),
        sa.PrimaryKeyConstraint(
            "subscription_id", "kind", "period_end", name=op.f("pk_subscription_notices")
        ),
    )


def downgrade() -> None:
    op.drop_table("subscription_notices")
    op.drop_index(
        op.f("ix_subscription_final_invoices_state_finalize_after"),
        table_name="subscription_final_invoices",
    )
    op.drop_table("subscription_final_invoices")
