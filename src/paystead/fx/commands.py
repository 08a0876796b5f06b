"""``paystead fx ...``: import the ECB reference rates file, show the rate in force."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from paystead.config import get_settings
from paystead.errors import PaysteadError
from paystead.events.context import RequestContext, bound
from paystead.fx.service import FxService

fx_app = typer.Typer(help="Exchange rates: import the ECB reference CSV, look a rate up.")

T = TypeVar("T")


def _run(work: Callable[[FxService], Awaitable[T]]) -> T:
    from paystead.platform.db import Database

    async def run() -> T:
        db = Database.from_settings(get_settings())
        try:
            with bound(RequestContext(actor="cli")):
                return await work(FxService(db, lambda: datetime.now(UTC)))
        finally:
            await db.dispose()

    try:
        return asyncio.run(run())
    except PaysteadError as exc:
        where = f" ({exc.param})" if exc.param else ""
        typer.echo(f"error{where}: {exc.detail}", err=True)
        raise typer.Exit(1) from None


@fx_app.command("import")
def import_rates(
    file: Annotated[Path, typer.Argument(help="eurofxref.csv or eurofxref-hist.csv")],
) -> None:
    """Import the ECB euro reference rates (all rows or none; re-importing adds nothing)."""
    try:
        text = file.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise typer.BadParameter(str(exc), param_hint="FILE") from None
    result = _run(lambda fx: fx.import_ecb(text))
    typer.echo(f"imported {result.new} new rate(s); {result.existing} already present")
    if result.skipped:
        typer.echo(f"skipped (not ISO 4217 currencies): {', '.join(result.skipped)}", err=True)


@fx_app.command("rate")
def show_rate(
    base: str,
    quote: str,
    on: Annotated[str | None, typer.Option("--date", help="YYYY-MM-DD (default today)")] = None,
) -> None:
    """The rate in force on a day: 1 BASE = RATE QUOTE, with the day it is from."""
    try:
        day = date.fromisoformat(on) if on else datetime.now(UTC).date()
    except ValueError:
        raise typer.BadParameter("give the date as YYYY-MM-DD", param_hint="--date") from None
    found = _run(lambda fx: fx.lookup(base, quote, day))
    how = f"{found.method}" + (f" via {found.via}" if found.via else "")
    typer.echo(f"1 {found.base} = {found.rate} {found.quote} ({found.day}, {found.source}, {how})")
