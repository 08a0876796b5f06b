"""The models' use cases over the database: train, score, forecast, lifetime value.

The API (``GET /v1/customers/{id}/churn_risk``, ``/lifetime_value``), the CLI
(``paystead models ...``) and ``build_services`` (the fraud scorer) all come here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from paystead.customers import repository as customers_repo
from paystead.errors import Conflict, InvalidInput
from paystead.models import artifacts, churn, fraud, ltv
from paystead.models import forecast as revenue
from paystead.models.artifacts import ArtifactError
from paystead.models.features import CHURN_FEATURES, FRAUD_FEATURES
from paystead.models.outcomes import FRAUDULENT, fraud_label, fraud_labelled
from paystead.platform.db import Database
from paystead.platform.schema import customers, payments
from paystead.risk.config import RiskConfig
from paystead.risk.screening import payment_facts

DEFAULT_DIR = Path("models")


def models_dir(configured: str | None) -> Path:
    return Path(configured) if configured else DEFAULT_DIR


def load_fraud_scorer(directory: Path | None, config: RiskConfig) -> fraud.FraudScorer | None:
    """The latest fraud model in ``directory`` as the screener's scorer; ``None`` when
    there is none. A model that fails its checks raises (startup fails loudly)."""
    if directory is None or not artifacts.versions(directory, fraud.KIND):
        return None
    return fraud.FraudScorer(artifacts.load(directory, fraud.KIND, FRAUD_FEATURES), config)


@dataclass(frozen=True, slots=True)
class TrainResult:
    version: str
    path: Path
    metadata: dict[str, Any]


class ModelService:
    def __init__(
        self, db: Database, clock: Callable[[], datetime], directory: Path, risk: RiskConfig
    ):
        self.db = db
        self.clock = clock
        self.directory = directory
        self.risk = risk

    # -- fraud ------------------------------------------------------------------------

    async def fraud_records(self, start: datetime, end: datetime) -> list[fraud.PaymentRecord]:
        """Labelled payments created in ``[start, end)`` (outcomes.py says which)."""
        async with self.db.transaction() as conn:
            rows = await conn.execute(
                sa.select(
                    payments.c.id,
                    payments.c.amount,
                    payments.c.currency,
                    payments.c.payment_method,
                    payments.c.customer_id,
                    payments.c.metadata,
                    payments.c.status,
                    payments.c.created_at,
                    customers.c.email,
                    fraud_label().label("fraudulent"),
                )
                .select_from(
                    payments.outerjoin(customers, customers.c.id == payments.c.customer_id)
                )
                .where(
                    payments.c.created_at >= start,
                    payments.c.created_at < end,
                    fraud_labelled(),
                    sa.func.coalesce(payments.c.metadata["synthetic"].as_string(), "") != "probe",
                )
                .order_by(payments.c.created_at, payments.c.id)
            )
            return [
                fraud.PaymentRecord(
                    facts=payment_facts(
                        payment_id=r.id,
                        amount=r.amount,
                        currency=r.currency,
                        payment_method=r.payment_method,
                        customer_id=r.customer_id,
                        metadata=r.metadata or {},
                        email=r.email,
                        config=self.risk,
                    ),
                    at=r.created_at,
                    failed=r.status == "failed",
                    fraudulent=bool(r.fraudulent),
                )
                for r in rows
            ]

    async def train_fraud(self, days: int = 90) -> TrainResult:
        now = self.clock()
        records = await self.fraud_records(now - timedelta(days=days), now)
        if not records:
            raise fraud.TrainingError(f"no labelled payments in the last {days} days")
        trained = fraud.train(fraud.replay(records, self.risk), self.risk)
        trained.metadata["label_rule"] = (
            f"failure_code = {FRAUDULENT!r} or a refund with reason {FRAUDULENT!r}"
        )
        return self._save(fraud.KIND, trained.booster, trained.metadata)

    # -- churn ------------------------------------------------------------------------

    async def train_churn(self, snapshots: int = 6, step_days: int = 15) -> TrainResult:
        async with self.db.transaction() as conn:
            rows = await churn.training_rows(
                conn, self.clock(), snapshots=snapshots, step=timedelta(days=step_days)
            )
        trained = churn.train(rows)
        return self._save(churn.KIND, trained.booster, trained.metadata)

    def churn_model(self) -> artifacts.Artifact:
        try:
            return artifacts.load(self.directory, churn.KIND, CHURN_FEATURES)
        except ArtifactError as exc:
            raise Conflict(
                f"no usable churn model: {exc} (run `paystead models train churn`)",
                code="model_unavailable",
            ) from exc

    async def churn_risk(self, customer_id: str) -> list[churn.Prediction]:
        """The customer's active subscriptions scored now (not stored)."""
        model = self.churn_model()
        async with self.db.transaction() as conn:
            await customers_repo.ensure_exists(conn, customer_id, param="customer")
            return await churn.score(conn, model, self.clock(), customer_id=customer_id)

    async def score_churn(self) -> list[churn.Prediction]:
        """Every active subscription scored now, stored for the churn KPI."""
        model = self.churn_model()
        async with self.db.transaction() as conn:
            predictions = await churn.score(conn, model, self.clock())
            await churn.record(conn, predictions)
        return predictions

    # -- revenue forecast and lifetime value ----------------------------------------------

    async def forecast(self, horizon: int, history_days: int) -> list[dict[str, Any]]:
        if not 1 <= horizon <= 90:
            raise InvalidInput("horizon must be 1 to 90 days", param="horizon")
        end = self.clock().replace(hour=0, minute=0, second=0, microsecond=0)
        async with self.db.transaction() as conn:
            series = await revenue.daily_captured(conn, end - timedelta(days=history_days), end)
        out = []
        for code, (first, values) in series.items():
            item: dict[str, Any] = {"currency": code, "history_days": len(values)}
            try:
                item["forecast"] = revenue.forecast(code, first, values, horizon).to_dict()["days"]
                item["backtest"] = revenue.backtest(code, values, horizon).to_dict()
            except revenue.ForecastError as exc:
                item["error"] = str(exc)
            out.append(item)
        return out

    async def lifetime_value(
        self, customer_id: str | None = None, days: int = 90
    ) -> list[ltv.Segment]:
        if not 7 <= days <= 730:
            raise InvalidInput("days must be 7 to 730", param="days")
        end = self.clock()
        start = end - timedelta(days=days)
        async with self.db.transaction() as conn:
            if customer_id is None:
                return await ltv.segments(conn, start, end)
            await customers_repo.ensure_exists(conn, customer_id, param="customer")
            return await ltv.for_customer(conn, customer_id, start, end)

    def _save(self, kind: str, booster: Any, metadata: dict[str, Any]) -> TrainResult:
        version = artifacts.new_version(self.clock())
        path = artifacts.save(self.directory, kind, version, booster, metadata)
        return TrainResult(version, path, {**metadata, "version": version})
