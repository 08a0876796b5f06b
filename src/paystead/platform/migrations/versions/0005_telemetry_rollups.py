"""telemetry rollups: per-minute counts, sums and fixed-bucket histograms

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

#: b00 .. b26: the bounds of paystead.telemetry.histogram.BOUNDS plus +Inf.
_BUCKETS = [f"b{i:02d}" for i in range(27)]


def upgrade() -> None:
    op.create_table(
        "telemetry_rollups",
        sa.Column("minute", sa.DateTime(timezone=True), nullable=False),
        sa.Column("metric", sa.String(length=64), nullable=False),
        sa.Column("labels", sa.String(length=255), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("sum", sa.Float(), nullable=False),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in _BUCKETS),
        sa.PrimaryKeyConstraint("minute", "metric", "labels", name=op.f("pk_telemetry_rollups")),
    )
    op.create_index(
        op.f("ix_telemetry_rollups_metric_minute"), "telemetry_rollups", ["metric", "minute"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_telemetry_rollups_metric_minute"), table_name="telemetry_rollups")
    op.drop_table("telemetry_rollups")
