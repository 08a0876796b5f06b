"""KPI inputs from outside the system: surveys, support tickets, marketing spend,
manual KPI entries and release markers.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _recorded() -> list[sa.Column[object]]:
    return [
        sa.Column("recorded_by", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "survey_responses",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("score", sa.SmallInteger(), nullable=False),
        sa.Column("customer_id", sa.String(length=40), nullable=True),
        sa.Column("responded_at", sa.DateTime(timezone=True), nullable=False),
        *_recorded(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_responses")),
    )
    op.create_index(
        op.f("ix_survey_responses_kind_responded_at"),
        "survey_responses",
        ["kind", "responded_at"],
    )
    op.create_table(
        "support_tickets",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("external_id", sa.String(length=100), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        *_recorded(),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_support_tickets")),
        sa.UniqueConstraint("external_id", name=op.f("uq_support_tickets_external_id")),
    )
    op.create_index(op.f("ix_support_tickets_opened_at"), "support_tickets", ["opened_at"])
    op.create_index(op.f("ix_support_tickets_resolved_at"), "support_tickets", ["resolved_at"])
    op.create_table(
        "marketing_spend",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=True),
        *_recorded(),
        sa.CheckConstraint("amount > 0", name=op.f("ck_marketing_spend_amount_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_marketing_spend")),
    )
    op.create_table(
        "kpi_entries",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("kpi", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=40), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        *_recorded(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kpi_entries")),
    )
    op.create_index(op.f("ix_kpi_entries_kpi_period_end"), "kpi_entries", ["kpi", "period_end"])
    op.create_table(
        "release_markers",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("description", sa.String(length=1000), nullable=True),
        *_recorded(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_release_markers")),
    )
    op.create_index(op.f("ix_release_markers_released_at"), "release_markers", ["released_at"])


def downgrade() -> None:
    op.drop_table("release_markers")
    op.drop_table("kpi_entries")
    op.drop_table("marketing_spend")
    op.drop_table("support_tickets")
    op.drop_table("survey_responses")
