"""The fraud model and the fraud KPIs over a real database (SQLite and PostgreSQL):
labels read from payments and refunds, features identical to the in-memory replay, a
trained model loaded by ``build_services`` into screening, KPIs from labelled rows."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from paystead.config import Settings
from paystead.insights.measure import NoData, Window, measure
from paystead.models.fraud import replay
from paystead.models.service import ModelService
from paystead.money import Money
from paystead.payments.service import CreatePayment, CreateRefund
from paystead.platform.schema import customers, payments, refunds, risk_assessments
from paystead.risk.config import RiskConfig
from paystead.wiring import Services, build_services
from tests.unit.models.generated import payments as generated

NOW = datetime(2026, 3, 5, tzinfo=UTC)


@pytest.fixture
async def services(settings: Settings, tmp_path: Path) -> AsyncIterator[Services]:
    risk = tmp_path / "risk.yaml"
    # Payments above 10.00 USD are blocked (in shadow: recorded, never stopped).
    risk.write_text("thresholds: {review: 10, block: 20}\namount_limits: {USD: 1000}\n")
    built = build_services(settings.model_copy(update={"risk_config_path": str(risk)}))
    try:
        yield built
    finally:
        await built.close()


async def _kpi(services: Services, key: str, start: datetime, end: datetime) -> Any:
    async with services.db.transaction() as conn:
        return await measure(conn, key, Window(start, end), "USD")


async def test_fraud_kpis_from_labelled_decisions(services: Services) -> None:
    start = services.clock() - timedelta(minutes=5)
    assert isinstance(await _kpi(services, "fraud_detection_accuracy", start, start), NoData)
    pay = services.payments.create
    legit_allowed = await pay(CreatePayment(Money(500, "USD"), "pm_card_visa"))  # TN
    legit_blocked = await pay(CreatePayment(Money(5_000, "USD"), "pm_card_visa"))  # FP
    fraud_blocked = await pay(CreatePayment(Money(5_000, "USD"), "pm_card_fraudulent"))  # TP
    fraud_allowed = await pay(CreatePayment(Money(500, "USD"), "pm_card_fraudulent"))  # FN
    refunded = await pay(CreatePayment(Money(600, "USD"), "pm_card_visa"))  # FN, refunded
    await services.payments.refund(CreateRefund(refunded.id, reason="fraudulent"))
    other_refund = await pay(CreatePayment(Money(700, "USD"), "pm_card_visa"))  # TN
    await services.payments.refund(CreateRefund(other_refund.id, reason="duplicate"))
    async with services.db.transaction() as conn:
        decisions = dict(
            (
                await conn.execute(
                    sa.select(risk_assessments.c.payment_id, risk_assessments.c.decision)
                )
            ).all()
        )
    assert decisions[legit_blocked.id] == decisions[fraud_blocked.id] == "block"
    assert decisions[legit_allowed.id] == decisions[fraud_allowed.id] == "allow"
    end = services.clock() + timedelta(minutes=5)
    # correct: TN, TP, TN = 3 of 6; legitimate: 3, of which 1 blocked
    assert await _kpi(services, "fraud_detection_accuracy", start, end) == Decimal(50)
    rate = await _kpi(services, "fraud_false_positive_rate", start, end)
    assert rate == Decimal(100) / 3


async def _insert_generated(services: Services, n: int) -> list[Any]:
    records = generated(n, seed=19)
    people = {r.facts.customer_id: r.facts.email for r in records}
    pay_rows, refund_rows = [], []
    for r in records:
        f = r.facts
        declined = r.failed
        pay_rows.append(
            {
                "id": f.payment_id,
                "amount": f.amount,
                "currency": f.currency,
                "customer_id": f.customer_id,
                "payment_method": f.payment_method,
                "capture_method": "automatic",
                "status": "failed" if declined else "succeeded",
                "amount_captured": 0 if declined else f.amount,
                "amount_refunded": f.amount if r.fraudulent and not declined else 0,
                "amount_refund_pending": 0,
                "gateway": "sandbox",
                "failure_code": ("fraudulent" if r.fraudulent else "card_declined")
                if declined
                else None,
                "metadata": {
                    "card_fingerprint": f.fingerprint,
                    "country": f.country,
                    "ip_country": f.ip_country,
                },
                "created_at": r.at,
                "updated_at": r.at,
            }
        )
        if r.fraudulent and not declined:
            refund_rows.append(
                {
                    "id": f"re_{f.payment_id}",
                    "payment_id": f.payment_id,
                    "amount": f.amount,
                    "currency": f.currency,
                    "status": "succeeded",
                    "reason": "fraudulent",
                    "metadata": {},
                    "created_at": r.at + timedelta(days=3),
                    "updated_at": r.at + timedelta(days=3),
                }
            )
    async with services.db.transaction() as conn:
        await conn.execute(
            customers.insert(),
            [
                {
                    "id": c,
                    "email": e,
                    "name": c,
                    "metadata": {},
                    "created_at": NOW - timedelta(days=90),
                }
                for c, e in people.items()
            ],
        )
        await conn.execute(payments.insert(), pay_rows)
        await conn.execute(refunds.insert(), refund_rows)
    return records


async def test_train_from_the_database_then_screen_with_the_model(
    services: Services, settings: Settings, tmp_path: Path
) -> None:
    records = await _insert_generated(services, 2500)
    config = RiskConfig()
    models = ModelService(services.db, lambda: NOW, tmp_path / "models", config)

    loaded = await models.fraud_records(NOW - timedelta(days=90), NOW)
    assert sorted(r.facts.payment_id for r in loaded) == sorted(r.facts.payment_id for r in records)
    assert sum(r.fraudulent for r in loaded) == sum(r.fraudulent for r in records)
    # Same rows from the database as from the generator: no skew through the loader.
    assert replay(loaded, config).rows == replay(records, config).rows

    result = await models.train_fraud(days=90)
    metrics = result.metadata["metrics"]
    assert metrics["model"]["auc"] > 0.85
    assert metrics["model"]["auc"] > metrics["rules_baseline"]["auc"]
    assert (result.path / "model.txt").exists() and (result.path / "metadata.json").exists()

    # build_services loads the latest model into screening; threshold ~0 makes it fire.
    risk = tmp_path / "model-risk.yaml"
    risk.write_text("model: {threshold: 0.000001}\n")
    wired = build_services(
        settings.model_copy(
            update={"models_dir": str(tmp_path / "models"), "risk_config_path": str(risk)}
        )
    )
    try:
        assert wired.risk.screener.model is not None
        assert wired.risk.screener.model.version == result.version
        paid = await wired.payments.create(CreatePayment(Money(500, "USD"), "pm_card_visa"))
        found = await wired.risk.for_payment(paid.id)
        model_hits = [hit for hit in found.rules if hit["rule"] == "model"]
        assert len(model_hits) == 1 and model_hits[0]["score"] == 0  # shadow: 0 points
        assert result.version in model_hits[0]["reason"]
        assert found.decision.value == "allow"
    finally:
        await wired.close()
