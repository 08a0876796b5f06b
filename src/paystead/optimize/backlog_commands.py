"""``paystead backlog list|add|ship|show``: the optimization backlog from the shell."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer

from paystead.config import get_settings
from paystead.errors import PaysteadError
from paystead.events.context import RequestContext, bound
from paystead.optimize.backlog import BacklogService, Item

backlog_app = typer.Typer(help="The optimization backlog: list (ranked), add, ship, show.")

T = TypeVar("T")
Score = Annotated[int, typer.Option(min=1, max=10)]


def _run(work: Callable[[BacklogService], Awaitable[T]]) -> T:
    from paystead.wiring import build_services

    async def run() -> T:
        services = build_services(get_settings())
        try:
            with bound(RequestContext(actor="cli")):
                return await work(services.backlog)
        finally:
            await services.close()

    try:
        return asyncio.run(run())
    except PaysteadError as exc:
        where = f" ({exc.param})" if exc.param else ""
        typer.echo(f"error{where}: {exc.detail}", err=True)
        raise typer.Exit(1) from None


def _line(item: Item) -> str:
    rice = "-" if item.rice is None else str(item.rice)
    return (
        f"{item.id}\t{item.status.value}\tICE {item.ice}\tRICE {rice}\t"
        f"{item.quadrant.label}\t{item.target_kpi}\t{item.title}"
    )


@backlog_app.command("list")
def list_items(
    rank: Annotated[str, typer.Option(help="ice or rice")] = "ice",
    status: Annotated[str | None, typer.Option(help="only this status")] = None,
) -> None:
    """Every item, highest score first."""
    for item in _run(lambda s: s.list_items(status=status, rank=rank)):
        typer.echo(_line(item))


@backlog_app.command("add")
def add(
    title: Annotated[str, typer.Argument()],
    hypothesis: Annotated[str, typer.Option()],
    kpi: Annotated[str, typer.Option("--kpi", help="target KPI key (insights/catalog.py)")],
    impact: Score,
    effort: Score,
    confidence: Score,
    reach: Annotated[int | None, typer.Option(min=0, help="subjects per quarter")] = None,
    flag: Annotated[str | None, typer.Option(help="the flag that tests it")] = None,
    experiment: Annotated[str | None, typer.Option(help="the experiment that tests it")] = None,
) -> None:
    """Add an idea; prints its id, scores and quadrant."""
    fields: dict[str, Any] = {
        "title": title,
        "hypothesis": hypothesis,
        "target_kpi": kpi,
        "impact": impact,
        "effort": effort,
        "confidence": confidence,
        "reach": reach,
        "flag_key": flag,
        "experiment_key": experiment,
    }
    typer.echo(_line(_run(lambda s: s.create(fields))))


@backlog_app.command("ship")
def ship(
    item_id: Annotated[str, typer.Argument()],
    release: Annotated[str | None, typer.Option(help="an existing release marker id")] = None,
    name: Annotated[str | None, typer.Option(help="name of the release marker to record")] = None,
) -> None:
    """Mark an item shipped with a release marker (recorded now unless --release)."""
    item = _run(lambda s: s.ship(item_id, release_id=release, release_name=name))
    typer.echo(f"{_line(item)}\trelease {item.release_id}")


@backlog_app.command("show")
def show(
    item_id: Annotated[str, typer.Argument()],
    window_days: Annotated[int, typer.Option(min=1, max=365)] = 7,
) -> None:
    """One item and, once shipped, its target KPI before and after the release."""
    from datetime import timedelta

    async def work(service: BacklogService) -> tuple[Item, Any]:
        item = await service.get(item_id)
        return item, await service.impact(item, timedelta(days=window_days))

    item, impact = _run(work)
    typer.echo(_line(item))
    typer.echo(f"hypothesis: {item.hypothesis}")
    if impact is not None:
        shown = impact.shown()
        typer.echo(
            f"{shown['kpi']}: before {shown['before'] or '—'} -> after {shown['after'] or '—'}"
            f" ({shown['verdict']}){'; ' + shown['reason'] if shown['reason'] else ''}"
        )
