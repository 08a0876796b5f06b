"""``paystead risk ...``: a payment's assessment, and the effective screening config."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import typer

from paystead.config import get_settings
from paystead.errors import PaysteadError
from paystead.risk.config import RiskConfigError, load_risk_config

risk_app = typer.Typer(help="Fraud screening: show a payment's assessment, or the config.")


@risk_app.command("show")
def show(payment_id: str) -> None:
    """The payment's fraud screening assessment as JSON (score, rules, decision, mode)."""
    from paystead.wiring import build_services

    async def run() -> str:
        services = build_services(get_settings())
        try:
            found = await services.risk.for_payment(payment_id)
        finally:
            await services.close()
        return json.dumps(
            {
                "id": found.id,
                "payment": found.payment_id,
                "score": found.score,
                "decision": found.decision.value,
                "mode": found.mode.value,
                "rules": found.rules,
                "created_at": found.created_at.isoformat(),
            },
            indent=2,
        )

    try:
        typer.echo(asyncio.run(run()))
    except PaysteadError as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(1) from None


@risk_app.command("config")
def config() -> None:
    """The effective screening config (``PAYSTEAD_RISK_CONFIG`` over the defaults)."""
    path = get_settings().risk_config_path
    try:
        loaded = load_risk_config(Path(path) if path else None)
    except RiskConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(json.dumps(loaded.model_dump(mode="json"), indent=2, sort_keys=True))
