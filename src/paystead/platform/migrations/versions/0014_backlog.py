"""The optimization backlog (optimize/backlog).

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "backlog_items",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("hypothesis", sa.String(length=2000), nullable=False),
        sa.Column("target_kpi", sa.String(length=64), nullable=False),
        sa.Column("impact", sa.SmallInteger(), nullable=False),
        sa.Column("effort", sa.SmallInteger(), nullable=False),
        sa.Column("confidence", sa.SmallInteger(), nullable=False),
        sa.Column("reach", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("flag_key", sa.String(length=100), nullable=True),
        sa.Column("experiment_key", sa.String(length=100), nullable=True),
        sa.Column("release_id", sa.String(length=40), nullable=True),
        sa.Column("shipped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["release_id"],
            ["release_markers.id"],
            name=op.f("fk_backlog_items_release_id_release_markers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_backlog_items")),
    )
    op.create_index(op.f("ix_backlog_items_status"), "backlog_items", ["status"])


def downgrade() -> None:
    op.drop_table("backlog_items")
