"""Models: fraud, churn, forecast and lifetime-value artifacts and scores (models/).

Model artifacts live on disk (``PAYSTEAD_MODELS_DIR``, docs/models.md); the database
keeps the churn predictions the churn KPI is measured from.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "churn_predictions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("subscription_id", sa.String(length=40), nullable=False),
        sa.Column("customer_id", sa.String(length=40), nullable=False),
        sa.Column("model_version", sa.String(length=32), nullable=False),
        sa.Column("probability", sa.Float(), nullable=False),
        sa.Column("predicted_churn", sa.Boolean(), nullable=False),
        sa.Column("predicted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("horizon_end", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name=op.f("fk_churn_predictions_subscription_id_subscriptions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_churn_predictions")),
        sa.UniqueConstraint(
            "subscription_id",
            "predicted_at",
            name=op.f("uq_churn_predictions_subscription_id_predicted_at"),
        ),
    )
    op.create_index(op.f("ix_churn_predictions_horizon_end"), "churn_predictions", ["horizon_end"])
    op.create_index(op.f("ix_churn_predictions_customer_id"), "churn_predictions", ["customer_id"])


def downgrade() -> None:
    op.drop_table("churn_predictions")
