"""``paystead experiment ...`` and ``paystead rollout ...``.

``experiment report KEY`` renders the results page to HTML or PDF; ``rollout tick``
evaluates every running rollout once (what ``paystead serve`` does each minute), for a
cron job or a deployment that runs the API without the embedded loops.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from paystead.config import get_settings
from paystead.errors import PaysteadError
from paystead.events.context import RequestContext, bound

experiment_app = typer.Typer(help="A/B experiments: list them, render a results report.")
rollout_app = typer.Typer(help="Canary rollouts: list, show, tick, pause, resume, abort.")

T = TypeVar("T")
ACTOR = "cli"


def _run(work: Callable[[Any], Awaitable[T]]) -> T:
    from paystead.wiring import build_services

    async def run() -> T:
        services = build_services(get_settings())
        try:
            await services.flags.refresh()
            with bound(RequestContext(actor=ACTOR)):
                return await work(services)
        finally:
            await services.close()

    try:
        return asyncio.run(run())
    except PaysteadError as exc:
        where = f" ({exc.param})" if exc.param else ""
        typer.echo(f"error{where}: {exc.detail}", err=True)
        raise typer.Exit(1) from None


@experiment_app.command("list")
def experiment_list() -> None:
    """Every experiment, newest first."""

    async def work(services: Any) -> None:
        for e in await services.experiments.all():
            split = " ".join(f"{v.key}={v.weight}" for v in e.variants)
            typer.echo(f"{e.key:30} {e.status:8} {e.flag_key:30} {split}")

    _run(work)


@experiment_app.command("report")
def experiment_report(
    key: Annotated[str, typer.Argument(help="The experiment's key")],
    kind: Annotated[
        str | None,
        typer.Option("--format", help="html or pdf (default: from --output, else html)"),
    ] = None,
    output: Annotated[
        str | None, typer.Option("--output", help="Write here (default: KEY.html / KEY.pdf)")
    ] = None,
) -> None:
    """Render an experiment's results (lift, intervals, guidance, SRM warning)."""
    from paystead.optimize.report import render_html, render_pdf

    if kind is None:
        kind = "pdf" if output is not None and output.endswith(".pdf") else "html"
    if kind not in ("html", "pdf"):
        raise typer.BadParameter("choose html or pdf", param_hint="--format")
    target = Path(output or f"{key}.{kind}")

    async def work(services: Any) -> bytes:
        experiment, analysis = await services.experiments.results(key)
        now = services.clock()
        if kind == "pdf":
            return render_pdf(experiment, analysis, now)
        return render_html(experiment, analysis, now).encode()

    target.write_bytes(_run(work))
    typer.echo(f"wrote {target}", err=True)


def _show(rollout: Any) -> str:
    return (
        f"{rollout.id}  {rollout.flag_key}  {rollout.status:11}  "
        f"{rollout.canary} at {rollout.canary_weight / 100:g}%  {rollout.reason or ''}"
    )


@rollout_app.command("list")
def rollout_list() -> None:
    """Every rollout, newest first."""

    async def work(services: Any) -> None:
        for r in await services.rollouts.all():
            typer.echo(_show(r))

    _run(work)


@rollout_app.command("show")
def rollout_show(rollout_id: Annotated[str, typer.Argument(help="rol_...")]) -> None:
    """A rollout and every decision it took, as JSON."""

    async def work(services: Any) -> dict[str, Any]:
        rollout = await services.rollouts.get(rollout_id)
        return {**rollout.to_json(), "decisions": await services.rollouts.decisions(rollout_id)}

    typer.echo(json.dumps(_run(work), indent=2, default=str))


@rollout_app.command("tick")
def rollout_tick() -> None:
    """Evaluate every running rollout now: promote, hold or roll back."""

    async def work(services: Any) -> dict[str, Any]:
        return dict(await services.rollouts.tick_all())

    decisions = _run(work)
    for rollout_id, decision in decisions.items():
        typer.echo(f"{rollout_id}  {decision.action.value:8}  {decision.reason}")
    if not decisions:
        typer.echo("no running rollouts", err=True)


def _change(verb: str, rollout_id: str, reason: str | None) -> None:
    async def work(services: Any) -> Any:
        method = getattr(services.rollouts, verb)
        return await (method(rollout_id, reason) if reason else method(rollout_id))

    typer.echo(_show(_run(work)))


ReasonOption = Annotated[str | None, typer.Option("--reason", help="Recorded with the decision")]


@rollout_app.command("pause")
def rollout_pause(rollout_id: str, reason: ReasonOption = None) -> None:
    """Stop ticking a rollout; the weights stay."""
    _change("pause", rollout_id, reason)


@rollout_app.command("resume")
def rollout_resume(rollout_id: str, reason: ReasonOption = None) -> None:
    """Tick a paused rollout again."""
    _change("resume", rollout_id, reason)


@rollout_app.command("abort")
def rollout_abort(rollout_id: str, reason: ReasonOption = None) -> None:
    """End a rollout and send all traffic back to control."""
    _change("abort", rollout_id, reason)
