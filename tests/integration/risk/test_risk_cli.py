"""``paystead risk show`` and ``paystead risk config`` against a real SQLite database."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from paystead.cli import app
from paystead.config import Settings, get_settings
from paystead.money import Money
from paystead.payments.service import CreatePayment
from paystead.wiring import build_services


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    from paystead.platform.migrate import upgrade

    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    upgrade(url)
    config = tmp_path / "risk.yaml"
    config.write_text("thresholds: {review: 10, block: 20}\namount_limits: {USD: 100}\n")
    monkeypatch.setenv("PAYSTEAD_DATABASE_URL", url)
    monkeypatch.setenv("PAYSTEAD_RISK_CONFIG_PATH", str(config))
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def test_show_and_config(env: Settings) -> None:
    async def pay() -> str:
        services = build_services(env)
        try:
            paid = await services.payments.create(CreatePayment(Money(500, "USD"), "pm_card_visa"))
            return paid.id
        finally:
            await services.close()

    payment_id = asyncio.run(pay())
    runner = CliRunner()

    shown = runner.invoke(app, ["risk", "show", payment_id])
    assert shown.exit_code == 0, shown.output
    body = json.loads(shown.output)
    assert (body["payment"], body["score"], body["decision"], body["mode"]) == (
        payment_id,
        30,
        "block",
        "shadow",
    )
    assert [r["rule"] for r in body["rules"]] == ["amount_over_limit"]

    missing = runner.invoke(app, ["risk", "show", "pay_nope"])
    assert missing.exit_code == 1 and "pay_nope" in missing.output

    config = runner.invoke(app, ["risk", "config"])
    assert config.exit_code == 0, config.output
    loaded = json.loads(config.output)
    assert loaded["thresholds"] == {"review": 10, "block": 20}
    assert loaded["amount_limits"] == {"USD": 100}
