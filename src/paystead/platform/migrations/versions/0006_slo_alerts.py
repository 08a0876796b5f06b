"""SLO alerts: each firing of a burn-rate rule, resolved in place.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "slo_alerts",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("slo", sa.String(length=64), nullable=False),
        sa.Column("rule", sa.String(length=32), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("fired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("long_burn", sa.Float(), nullable=False),
        sa.Column("short_burn", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slo_alerts")),
    )
    op.create_index(op.f("ix_slo_alerts_fired_at"), "slo_alerts", ["fired_at"])
    op.create_index(op.f("ix_slo_alerts_state"), "slo_alerts", ["state"])


def downgrade() -> None:
    op.drop_table("slo_alerts")
