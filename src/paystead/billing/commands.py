"""``paystead billing ...``: run the billing run by hand (cron, or catching up)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Annotated

import typer

from paystead.config import get_settings
from paystead.errors import PaysteadError
from paystead.events.context import RequestContext, bound

billing_app = typer.Typer(help="Subscription billing: renewals, trial ends, dunning retries.")


@billing_app.command("run")
def run(
    at: Annotated[
        str | None,
        typer.Option(help="ISO 8601 instant to run for (default: now); never a test clock's"),
    ] = None,
    clock: Annotated[
        str | None, typer.Option(help="Run one test clock's customers instead (clock_...)")
    ] = None,
) -> None:
    """Renew every subscription due at or before the instant, once (running it again for
    the same instant bills nothing twice). Prints what it did as JSON."""
    from paystead.wiring import build_services

    when = datetime.now(UTC)
    if at is not None:
        try:
            when = datetime.fromisoformat(at)
        except ValueError:
            raise typer.BadParameter("an ISO 8601 instant", param_hint="--at") from None
        if when.tzinfo is None:
            raise typer.BadParameter(
                "give a time zone, e.g. 2027-01-31T00:00:00Z", param_hint="--at"
            )

    async def work() -> dict[str, object]:
        services = build_services(get_settings())
        try:
            with bound(RequestContext(actor="cli")):
                report = await services.billing_run.run_due(when, clock)
                return report.to_json()
        finally:
            await services.close()

    try:
        typer.echo(json.dumps(asyncio.run(work())))
    except PaysteadError as exc:
        where = f" ({exc.param})" if exc.param else ""
        typer.echo(f"error{where}: {exc.detail}", err=True)
        raise typer.Exit(1) from None
