"""``paystead models ...``: train, score, forecast, lifetime value (docs/models.md)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Annotated, Any

import typer

from paystead.config import get_settings
from paystead.errors import PaysteadError
from paystead.models import artifacts
from paystead.models.fraud import TrainingError
from paystead.models.service import ModelService, models_dir

models_app = typer.Typer(help="Fraud and churn models, revenue forecast, lifetime value.")


class Kind(StrEnum):
    FRAUD = "fraud"
    CHURN = "churn"


def _run(work: Callable[[ModelService], Awaitable[Any]]) -> None:
    from paystead.wiring import build_services

    async def run() -> Any:
        services = build_services(get_settings())
        try:
            return await work(services.models)
        finally:
            await services.close()

    try:
        result = asyncio.run(run())
    except (PaysteadError, TrainingError, artifacts.ArtifactError) as exc:
        typer.echo(f"error: {getattr(exc, 'detail', exc)}", err=True)
        raise typer.Exit(1) from None
    typer.echo(json.dumps(result, indent=2, default=str))


@models_app.command("train")
def train(
    kind: Kind,
    days: Annotated[int, typer.Option(help="fraud: days of labelled payments", min=1)] = 90,
    snapshots: Annotated[int, typer.Option(help="churn: snapshot moments", min=2)] = 6,
    step_days: Annotated[int, typer.Option(help="churn: days between snapshots", min=1)] = 15,
) -> None:
    """Train a model on this database and write a new version (model.txt + metadata.json)."""

    async def work(models: ModelService) -> Any:
        if kind is Kind.FRAUD:
            result = await models.train_fraud(days)
        else:
            result = await models.train_churn(snapshots, step_days)
        return {"version": result.version, "path": str(result.path), **result.metadata}

    _run(work)


@models_app.command("score")
def score(kind: Kind) -> None:
    """churn: score every active subscription now and store the predictions."""
    if kind is not Kind.CHURN:
        typer.echo(
            "error: fraud is scored on the payment path (the screening `model` rule)", err=True
        )
        raise typer.Exit(2)

    async def work(models: ModelService) -> Any:
        predictions = await models.score_churn()
        return {
            "scored": len(predictions),
            "predicted_churn": sum(p.predicted_churn for p in predictions),
            "predictions": [p.to_dict() for p in predictions],
        }

    _run(work)


@models_app.command("forecast")
def forecast(
    horizon: Annotated[int, typer.Option(help="days to forecast", min=1, max=90)] = 14,
    history_days: Annotated[int, typer.Option(help="days of history to fit", min=14)] = 120,
) -> None:
    """Daily captured revenue per currency: AutoETS forecast with 80%/95% intervals,
    and a backtest of the last HORIZON days (MAPE beside seasonal naive)."""
    _run(lambda models: models.forecast(horizon, history_days))


@models_app.command("ltv")
def lifetime_value(
    customer: Annotated[str | None, typer.Option(help="one customer's LTV")] = None,
    days: Annotated[int, typer.Option(help="trailing window in days", min=7)] = 90,
) -> None:
    """Lifetime value = monthly ARPU x gross margin / monthly churn, per currency."""

    async def work(models: ModelService) -> Any:
        return [s.to_dict() for s in await models.lifetime_value(customer, days)]

    _run(work)


@models_app.command("list")
def list_versions() -> None:
    """Model versions on disk with their holdout metrics."""
    root = models_dir(get_settings().models_dir)
    out: dict[str, list[dict[str, Any]]] = {}
    for kind in Kind:
        out[kind.value] = []
        for version in artifacts.versions(root, kind.value):
            meta_path = root / kind.value / version / artifacts.METADATA_FILE
            try:
                meta = json.loads(meta_path.read_text())
            except (OSError, ValueError) as exc:
                out[kind.value].append({"version": version, "error": str(exc)})
                continue
            out[kind.value].append(
                {"version": version, "window": meta.get("window"), "metrics": meta.get("metrics")}
            )
    typer.echo(json.dumps(out, indent=2))
