"""Churn over a real database (SQLite and PostgreSQL): histories as of a past moment,
scoring with a trained model, stored predictions, the churn KPI from labelled rows,
``GET /v1/customers/{id}/churn_risk`` and ``/lifetime_value``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from paystead.api.app import create_app
from paystead.config import Settings
from paystead.errors import Conflict, NotFound
from paystead.insights.measure import NoData, Window, measure
from paystead.models import artifacts, churn
from paystead.models.service import ModelService
from paystead.platform.apikeys import create_api_key
from paystead.platform.schema import churn_predictions, customers, payments, subscriptions
from paystead.risk.config import RiskConfig
from paystead.wiring import Services, build_services
from tests.unit.models.test_churn_forecast_ltv import _rows

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def days(n: float) -> datetime:
    return NOW + timedelta(days=n)


@pytest.fixture
async def services(settings: Settings, tmp_path: Path) -> AsyncIterator[Services]:
    built = build_services(
        settings.model_copy(update={"models_dir": str(tmp_path / "models")}), clock=lambda: NOW
    )
    try:
        yield built
    finally:
        await built.close()


def _sub(sub_id: str, customer: str, created: datetime, ended: datetime | None) -> dict[str, Any]:
    return {
        "id": sub_id,
        "customer_id": customer,
        "status": "canceled" if ended else "active",
        "currency": "INR",
        "collection_method": "charge_automatically",
        "interval": "month",
        "interval_count": 1,
        "billing_cycle_anchor": created,
        "current_period_start": created,
        "current_period_end": created + timedelta(days=30),
        "period_index": 1,
        "trial_will_end_sent": False,
        "cancel_at_period_end": False,
        "ended_at": ended,
        "canceled_at": ended,
        "dunning_retries": 0,
        "metadata": {},
        "created_at": created,
        "updated_at": created,
    }


def _payment(pid: str, customer: str, status: str, at: datetime) -> dict[str, Any]:
    return {
        "id": pid,
        "amount": 1000,
        "currency": "INR",
        "customer_id": customer,
        "payment_method": "pm_card_visa",
        "capture_method": "automatic",
        "status": status,
        "amount_captured": 1000 if status == "succeeded" else 0,
        "amount_refunded": 0,
        "amount_refund_pending": 0,
        "gateway": "sandbox",
        "metadata": {},
        "created_at": at,
        "updated_at": at,
    }


async def _seed(services: Services) -> None:
    async with services.db.transaction() as conn:
        await conn.execute(
            customers.insert(),
            [
                {
                    "id": c,
                    "email": f"{c}@example.com",
                    "name": c,
                    "metadata": {},
                    "created_at": days(-200),
                }
                for c in ("cus_a", "cus_b")
            ],
        )
        await conn.execute(
            subscriptions.insert(),
            [
                _sub("sub_a", "cus_a", days(-100), None),
                _sub("sub_b", "cus_b", days(-50), days(-10)),
            ],
        )
        await conn.execute(
            payments.insert(),
            [
                _payment("pay_1", "cus_a", "failed", days(-30)),
                _payment("pay_2", "cus_a", "failed", days(-25)),
                _payment("pay_3", "cus_a", "succeeded", days(-60)),
                _payment("pay_4", "cus_a", "failed", days(-5)),  # after the snapshot below
                _payment("pay_5", "cus_a", "failed", days(-200)),  # before its 90 days
            ],
        )


async def test_histories_as_of_a_past_moment(services: Services) -> None:
    await _seed(services)
    async with services.db.transaction() as conn:
        found = {
            h.subscription_id: (h, ended) for h, ended in await churn.histories(conn, days(-20))
        }
        later = await churn.histories(conn, NOW)
    assert set(found) == {"sub_a", "sub_b"}  # sub_b ended after the moment: still active then
    a, ended = found["sub_a"]
    assert ended is None
    assert (a.payments_failed_90d, a.payments_succeeded_90d) == (2, 1)
    assert (a.as_of - a.created_at) == timedelta(days=80)
    assert found["sub_b"][1] == days(-10)
    assert [h.subscription_id for h, _ in later] == ["sub_a"]


async def test_churn_risk_scores_and_kpi(services: Services, tmp_path: Path) -> None:
    await _seed(services)
    models = services.models
    with pytest.raises(Conflict, match="no usable churn model"):
        await models.churn_risk("cus_a")
    trained = churn.train(_rows())
    artifacts.save(
        models.directory,
        churn.KIND,
        artifacts.new_version(days(-1)),
        trained.booster,
        trained.metadata,
    )

    risk = await models.churn_risk("cus_a")
    assert [p.subscription_id for p in risk] == ["sub_a"]
    assert 0 <= risk[0].probability <= 1 and risk[0].horizon_end == days(30)
    assert await models.churn_risk("cus_b") == []  # its subscription ended
    with pytest.raises(NotFound):
        await models.churn_risk("cus_nope")

    stored = await models.score_churn()
    again = await models.score_churn()  # same instant: nothing stored twice
    assert len(stored) == len(again) == 1
    async with services.db.transaction() as conn:
        count = (
            await conn.execute(sa.select(sa.func.count()).select_from(churn_predictions))
        ).scalar_one()
        assert count == 1
        empty = await measure(conn, "churn_prediction_accuracy", Window(days(-15), NOW), "INR")
        assert isinstance(empty, NoData)
        # Two past predictions whose horizon ended 10 days ago: sub_b ended then (right),
        # sub_a did not (wrong).
        await conn.execute(
            churn_predictions.insert(),
            [
                {
                    "subscription_id": s,
                    "customer_id": c,
                    "model_version": "20260101T000000Z",
                    "probability": 0.9,
                    "predicted_churn": True,
                    "predicted_at": days(-40),
                    "horizon_end": days(-10),
                }
                for s, c in (("sub_a", "cus_a"), ("sub_b", "cus_b"))
            ],
        )
        value = await measure(conn, "churn_prediction_accuracy", Window(days(-15), NOW), "INR")
    assert value == Decimal(50)


async def test_http_churn_risk_and_lifetime_value(services: Services, settings: Settings) -> None:
    await _seed(services)
    _key, secret = await create_api_key(services.db, "tests")
    app = create_app(settings, services)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://paystead.test",
        headers={"Authorization": f"Bearer {secret}"},
    ) as http:
        unavailable = await http.get("/v1/customers/cus_a/churn_risk")
        assert unavailable.status_code == 409
        assert unavailable.json()["code"] == "model_unavailable"
        trained = churn.train(_rows())
        artifacts.save(
            services.models.directory,
            churn.KIND,
            "20260501T000000Z",
            trained.booster,
            trained.metadata,
        )
        ok = await http.get("/v1/customers/cus_a/churn_risk")
        assert ok.status_code == 200, ok.text
        body = ok.json()
        assert [d["subscription"] for d in body["data"]] == ["sub_a"]
        assert body["data"][0]["model_version"] == "20260501T000000Z"
        missing = await http.get("/v1/customers/cus_nope/churn_risk")
        assert missing.status_code == 404
        ltv = await http.get("/v1/customers/cus_a/lifetime_value", params={"days": 3})
        assert ltv.status_code == 422
        value = await http.get("/v1/customers/cus_a/lifetime_value")
        assert value.status_code == 200
        # pay_3 (10.00 INR, 60 days ago) over 90 days: 3.33 a month; sub_b started inside
        # the window, so no subscription active at its start ended: no churn observed.
        # No ledger revenue was posted for these inserted rows: no margin, no LTV.
        assert value.json()["data"] == [
            {
                "object": "lifetime_value",
                "currency": "INR",
                "arpu_per_month": "333.33",
                "gross_margin": None,
                "monthly_churn": None,
                "ltv": None,
                "reason": "no INR revenue posted in the window",
            }
        ]


async def test_lifetime_value_from_the_ledger_by_hand(services: Services) -> None:
    from paystead.money import Money
    from paystead.payments.service import CreatePayment

    a = await services.customers.create(email="a@example.com", name="A")
    b = await services.customers.create(email="b@example.com", name="B")
    for customer, amount in ((a.id, 100_000), (a.id, 100_000), (b.id, 50_000)):
        paid = await services.payments.create(
            CreatePayment(Money(amount, "INR"), "pm_card_visa", customer_id=customer)
        )
        assert paid.status.value == "succeeded"
    async with services.db.transaction() as conn:
        await conn.execute(
            subscriptions.insert(),
            [_sub(f"sub_{i}", a.id, days(-100), days(-30) if i == 0 else None) for i in range(4)],
        )
    # The window ends a second after the payments (made at NOW): 90 days, 3 "months".
    models = ModelService(services.db, lambda: days(1 / 86400), Path("unused"), RiskConfig())
    [segment] = await models.lifetime_value()
    # ARPU: 2,500.00 INR net / 2 paying customers / 3 months; margin 1 - 2% sandbox fee;
    # churn: 1 of 4 subscriptions active at the start ended, over 3 months = 1/12.
    assert segment.gross_margin == Decimal("0.98")
    assert segment.monthly_churn == Decimal(1) / 4 / 3
    assert segment.ltv == 490_000  # 41,666.67 x 0.98 x 12, in paise
    [own] = await models.lifetime_value(a.id)
    assert own.ltv == 784_000  # 2,000.00 / 3 months x 0.98 x 12
