"""``paystead invoices ...`` against a real SQLite database."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from paystead.billing.invoice_service import DraftLine
from paystead.cli import app
from paystead.config import Settings, get_settings
from paystead.wiring import build_services


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    from paystead.platform.migrate import upgrade

    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    upgrade(url)
    monkeypatch.setenv("PAYSTEAD_DATABASE_URL", url)
    monkeypatch.setenv("PAYSTEAD_SELLER_GSTIN", "27AAPFU0939F1ZV")
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def test_list_finalize_show_and_pdf(env: Settings, tmp_path: Path) -> None:
    async def setup() -> str:
        services = build_services(env)
        try:
            cus = await services.customers.create(
                email="c@example.com",
                name="C",
                address={"line1": "x", "state_code": "29", "country": "IN"},
            )
            draft = await services.invoices.create_draft(
                customer_id=cus.id,
                currency="INR",
                lines=[DraftLine("Plan", 1, 100000, tax_rate=Decimal(18))],
                collection_method="send_invoice",
                now=services.clock(),
            )
            return draft.id
        finally:
            await services.close()

    invoice_id = asyncio.run(setup())
    runner = CliRunner()
    finalized = runner.invoke(app, ["invoices", "finalize", invoice_id])
    assert finalized.exit_code == 0, finalized.output
    body = json.loads(finalized.output)
    assert body["status"] == "open" and body["tax_lines"][0]["type"] == "IGST"
    listed = runner.invoke(app, ["invoices", "list", "--status", "open"])
    assert invoice_id in listed.output and body["number"] in listed.output
    out = tmp_path / "inv.pdf"
    printed = runner.invoke(app, ["invoices", "pdf", invoice_id, "--out", str(out)])
    assert printed.exit_code == 0, printed.output
    assert out.read_bytes().startswith(b"%PDF")
    again = runner.invoke(app, ["invoices", "finalize", invoice_id])
    assert again.exit_code == 1 and "status" in again.output
