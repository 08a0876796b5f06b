"""The revenue forecast over real ledger entries, and ``paystead models`` end to end."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from paystead.cli import app
from paystead.config import Settings, get_settings
from paystead.models.forecast import daily_captured
from paystead.money import Money
from paystead.payments.service import CreatePayment
from paystead.wiring import build_services
from tests.conftest import FrozenClock

START = datetime(2026, 2, 1, 10, 0, tzinfo=UTC)


async def test_daily_captured_revenue_and_forecast(settings: Settings) -> None:
    clock = FrozenClock(START)
    services = build_services(settings, clock=clock)
    try:
        expected = []
        for day in range(28):
            amounts = [10_000 + 500 * day, 20_000] if day % 7 else [5_000]
            for amount in amounts:
                await services.payments.create(CreatePayment(Money(amount, "INR"), "pm_card_visa"))
            await services.payments.create(CreatePayment(Money(999, "INR"), "pm_card_declined"))
            expected.append(sum(amounts))
            clock.advance(days=1)
        out = await services.models.forecast(horizon=7, history_days=28)
        end = START.replace(hour=0) + timedelta(days=28)
        async with services.db.transaction() as conn:
            series = await daily_captured(conn, end - timedelta(days=28), end)
    finally:
        await services.close()
    [inr] = out
    assert inr["currency"] == "INR" and inr["history_days"] == 28
    assert len(inr["forecast"]) == 7
    assert inr["forecast"][0]["date"] == (START + timedelta(days=28)).date().isoformat()
    for day in inr["forecast"]:
        assert day["lo_95"] <= day["lo_80"] <= day["mean"] <= day["hi_80"] <= day["hi_95"]
    backtest = inr["backtest"]
    assert backtest["horizon_days"] == 7 and backtest["mape"] is not None
    # The series the model saw is the ledger's: captured only, declines add nothing.
    assert series["INR"][1] == expected


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    from paystead.platform.migrate import upgrade

    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    upgrade(url)
    monkeypatch.setenv("PAYSTEAD_DATABASE_URL", url)
    monkeypatch.setenv("PAYSTEAD_MODELS_DIR", str(tmp_path / "models"))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_models_cli_on_an_empty_database(env: Path) -> None:
    runner = CliRunner()
    fraud = runner.invoke(app, ["models", "train", "fraud"])
    assert fraud.exit_code == 1 and "no labelled payments" in fraud.output
    churn = runner.invoke(app, ["models", "train", "churn"])
    assert churn.exit_code == 1 and "no subscription was active" in churn.output
    score = runner.invoke(app, ["models", "score", "churn"])
    assert score.exit_code == 1 and "no usable churn model" in score.output
    forecast = runner.invoke(app, ["models", "forecast", "--horizon", "7"])
    assert forecast.exit_code == 0 and json.loads(forecast.output) == []
    ltv = runner.invoke(app, ["models", "ltv"])
    assert ltv.exit_code == 0 and json.loads(ltv.output) == []
    listed = runner.invoke(app, ["models", "list"])
    assert json.loads(listed.output) == {"fraud": [], "churn": []}
    assert not (env / "models").exists()
