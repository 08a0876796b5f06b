"""The ``paystead`` command line (Typer). Every command reads the same PAYSTEAD_* settings."""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from paystead.config import get_settings

app = typer.Typer(
    help="paystead: payments and billing with the optimization loop built in.",
    pretty_exceptions_enable=False,
)
apikey_app = typer.Typer(help="Manage API keys.")
ledger_app = typer.Typer(help="Inspect and verify the ledger.")
idempotency_app = typer.Typer(help="Maintain the idempotency key store.")
audit_app = typer.Typer(help="Verify the tamper-evident audit trail.")
webhooks_app = typer.Typer(help="Outbound webhooks: replay deliveries.")
app.add_typer(apikey_app, name="apikey")
app.add_typer(ledger_app, name="ledger")
app.add_typer(idempotency_app, name="idempotency")
app.add_typer(audit_app, name="audit")
app.add_typer(webhooks_app, name="webhooks")

# Feature flags (optimize/flags/commands.py).
from paystead.optimize.flags.commands import flags_app  # noqa: E402

app.add_typer(flags_app, name="flags")

# Fraud screening (risk/commands.py).
from paystead.risk.commands import risk_app  # noqa: E402

app.add_typer(risk_app, name="risk")

# Exchange rates (fx/commands.py).
from paystead.fx.commands import fx_app  # noqa: E402

app.add_typer(fx_app, name="fx")

# The optimization backlog (optimize/backlog_commands.py).
from paystead.optimize.backlog_commands import backlog_app  # noqa: E402

app.add_typer(backlog_app, name="backlog")

# Experiments and canary rollouts (optimize/commands.py).
from paystead.optimize.commands import experiment_app, rollout_app  # noqa: E402

app.add_typer(experiment_app, name="experiment")
app.add_typer(rollout_app, name="rollout")

# Subscription billing: the billing run (billing/commands.py).
from paystead.billing.commands import billing_app  # noqa: E402

app.add_typer(billing_app, name="billing")

# Invoices (billing/invoice_commands.py).
from paystead.billing.invoice_commands import invoices_app  # noqa: E402

app.add_typer(invoices_app, name="invoices")

# Models: fraud, churn, revenue forecast, lifetime value (models/commands.py).
from paystead.models.commands import models_app  # noqa: E402

app.add_typer(models_app, name="models")


@app.command()
def migrate() -> None:
    """Bring the database schema to the latest version (safe to run again)."""
    from paystead.platform.migrate import upgrade

    upgrade(get_settings().database_url)
    typer.echo("database is at the latest schema", err=True)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes")] = 1,
) -> None:
    """Run the HTTP API (OpenAPI docs at /docs)."""
    import uvicorn

    from paystead.telemetry.exposition import fresh_multiprocess_dir

    fresh_multiprocess_dir(workers)  # /metrics adds up every worker's (prometheus-client)
    settings = get_settings()
    uvicorn.run(
        "paystead.api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=settings.log_level,
        access_log=settings.log_level == "debug",
    )


@apikey_app.command("create")
def apikey_create(name: Annotated[str, typer.Option("--name", help="Who or what uses it")]) -> None:
    """Create an API key and print its secret (the only time it is shown)."""
    from paystead.platform.apikeys import create_api_key
    from paystead.platform.db import Database

    async def run() -> str:
        db = Database.from_settings(get_settings())
        try:
            key, secret = await create_api_key(db, name)
        finally:
            await db.dispose()
        typer.echo(f"created API key {key.id} ({name}); the secret is shown once:", err=True)
        return secret

    typer.echo(asyncio.run(run()))


@apikey_app.command("revoke")
def apikey_revoke(key_id: str) -> None:
    """Revoke an API key by id (key_...)."""
    from paystead.platform.apikeys import revoke_api_key
    from paystead.platform.db import Database

    async def run() -> bool:
        db = Database.from_settings(get_settings())
        try:
            return await revoke_api_key(db, key_id)
        finally:
            await db.dispose()

    if not asyncio.run(run()):
        typer.echo(f"no active API key {key_id}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {key_id}", err=True)


@ledger_app.command("check")
def ledger_check() -> None:
    """Recompute balances from postings; exit 1 if any balance or entry disagrees."""
    from paystead.ledger.store import LedgerStore
    from paystead.platform.db import Database

    async def run() -> list[dict[str, object]]:
        db = Database.from_settings(get_settings())
        try:
            async with db.transaction() as conn:
                return [asdict(m) for m in await LedgerStore().check(conn)]
        finally:
            await db.dispose()

    mismatches = asyncio.run(run())
    typer.echo(json.dumps({"ok": not mismatches, "mismatches": mismatches}, indent=2))
    if mismatches:
        raise typer.Exit(1)


@idempotency_app.command("purge")
def idempotency_purge() -> None:
    """Delete completed idempotency keys older than the retention period."""
    from paystead.platform.db import Database
    from paystead.platform.idempotency import purge_expired

    settings = get_settings()

    async def run() -> int:
        db = Database.from_settings(settings)
        cutoff = datetime.now(UTC) - timedelta(hours=settings.idempotency_retention_hours)
        try:
            async with db.transaction() as conn:
                return await purge_expired(conn, cutoff)
        finally:
            await db.dispose()

    typer.echo(f"purged {asyncio.run(run())} idempotency keys", err=True)


@app.command()
def worker(
    once: Annotated[
        bool, typer.Option("--once", help="Dispatch and deliver what is due now, then exit")
    ] = False,
) -> None:
    """Deliver recorded events (webhooks, email, SMS) and extend the audit chain.

    Run one or more next to ``paystead serve`` on PostgreSQL; they never deliver one
    event twice at the same time. SIGTERM or Ctrl-C stops it after the current batch.
    """
    import logging
    import signal

    from paystead.wiring import build_services, build_worker

    settings = get_settings()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )

    async def run() -> None:
        services = build_services(settings)
        loop_worker = build_worker(services)
        try:
            if once:
                cycle = await loop_worker.run_until_idle()
                typer.echo(
                    f"dispatched {cycle.dispatched} event(s), attempted {cycle.attempted} "
                    "delivery(ies)",
                    err=True,
                )
                return
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            # Keep this process's feature-flag snapshot fresh too (docs/flags.md).
            from paystead.optimize.flags.cache import run_periodically as refresh_flags

            flags_task = asyncio.create_task(
                refresh_flags(services.flags.cache, settings.flags_refresh_seconds, stop)
            )
            await loop_worker.run(stop)
            stop.set()
            await flags_task
        finally:
            await loop_worker.close()
            await services.close()

    asyncio.run(run())


@audit_app.command("verify")
def audit_verify() -> None:
    """Walk the audit hash chain; exit 1 and name the first bad record if it was tampered with."""
    from paystead.audit.chain import Verification, verify
    from paystead.platform.db import Database

    async def run() -> Verification:
        db = Database.from_settings(get_settings())
        try:
            async with db.transaction() as conn:
                return await verify(conn)
        finally:
            await db.dispose()

    result = asyncio.run(run())
    typer.echo(json.dumps(asdict(result), indent=2))
    if not result.ok:
        where = f"seq {result.bad_seq} ({result.bad_id})" if result.bad_seq else "the chain's end"
        typer.echo(f"audit chain broken at {where}: {result.reason}", err=True)
        raise typer.Exit(1)
    typer.echo(f"audit chain intact: {result.checked} record(s), head {result.head_hash}", err=True)


def _moment(value: str, option: str) -> datetime:
    """Unix seconds or ISO 8601 (a time without a zone is UTC)."""
    try:
        return datetime.fromtimestamp(int(value), UTC)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is neither unix seconds nor ISO 8601", param_hint=option
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@webhooks_app.command("replay")
def webhooks_replay(
    endpoint: Annotated[str, typer.Option("--endpoint", help="we_...")],
    start: Annotated[str, typer.Option("--from", help="Unix seconds or ISO 8601, inclusive")],
    end: Annotated[str, typer.Option("--to", help="Unix seconds or ISO 8601, inclusive")],
    only_failed: Annotated[
        bool, typer.Option("--only-failed", help="Only dead-lettered deliveries")
    ] = False,
) -> None:
    """Queue an endpoint's events of a time range again (same webhook-id); the worker sends them."""
    from paystead.errors import PaysteadError
    from paystead.events.context import RequestContext, bound
    from paystead.webhooks.endpoints import Replay
    from paystead.wiring import build_services

    begin, finish = _moment(start, "--from"), _moment(end, "--to")

    async def run() -> Replay:
        services = build_services(get_settings())
        try:
            with bound(RequestContext(actor="cli")):
                return await services.webhooks.replay(
                    endpoint, start=begin, end=finish, only_failed=only_failed
                )
        finally:
            await services.close()

    try:
        replay = asyncio.run(run())
    except PaysteadError as exc:
        typer.echo(f"{exc.code}: {exc.detail}", err=True)
        raise typer.Exit(1) from None
    typer.echo(
        f"{replay.id}: queued {replay.count} event(s) again for {replay.endpoint_id}", err=True
    )


@app.command()
def reconcile(
    file: Annotated[str, typer.Argument(help="The settlement report (CSV)")],
    gateway: Annotated[str, typer.Option("--gateway", help="razorpay or stripe")],
) -> None:
    """Match a gateway's settlement report (Razorpay settlement recon CSV, Stripe balance
    transactions CSV) against our payments and refunds; post fee differences to the
    ledger; store and print the result (details: GET /v1/reconciliation_runs/{id})."""
    from pathlib import Path

    from paystead.errors import PaysteadError
    from paystead.events.context import RequestContext, bound
    from paystead.reconcile.service import Run
    from paystead.wiring import build_services

    data = Path(file).read_bytes()

    async def run() -> Run:
        services = build_services(get_settings())
        try:
            with bound(RequestContext(actor="cli")):
                return await services.reconciliation.run(gateway, file, data)
        finally:
            await services.close()

    try:
        result = asyncio.run(run())
    except PaysteadError as exc:
        typer.echo(f"{file}: {exc.code}: {exc.detail}", err=True)
        raise typer.Exit(2) from None
    summary = result.summary
    typer.echo(f"{result.id}: {summary['lines']} line(s) from {gateway}")
    for outcome in ("matched", "amount_mismatch", "missing_ours", "missing_gateway", "other"):
        typer.echo(f"  {outcome:<16} {summary[outcome]}")
    posted = ", ".join(f"{v} {k}" for k, v in sorted(summary["fees_posted"].items())) or "none"
    typer.echo(f"  fees posted      {posted} (minor units)")
    for item in result.items:
        if item.outcome != "matched":
            ours = item.refund_id or item.payment_id or "-"
            typer.echo(
                f"  ! {item.outcome}: {item.object_type} {item.gateway_reference or '-'} "
                f"(ours: {ours}) {item.detail or ''}".rstrip()
            )


@app.command()
def settle(
    older_than: Annotated[
        float | None,
        typer.Option(
            "--older-than",
            help="Seconds an object must have been open (default PAYSTEAD_SETTLE_AFTER_SECONDS)",
        ),
    ] = None,
) -> None:
    """Ask the gateways about payments left processing/requires_action and refunds left
    pending, and apply their answers as webhooks would; print a summary."""
    from paystead.events.context import RequestContext, bound
    from paystead.payments.stuck import SettleSummary, settle_stuck
    from paystead.wiring import build_services

    settings = get_settings()
    age = timedelta(seconds=older_than if older_than is not None else settings.settle_after_seconds)

    async def run() -> SettleSummary:
        services = build_services(settings)
        try:
            with bound(RequestContext(actor="cli")):
                return await settle_stuck(services.inbound, older_than=age)
        finally:
            await services.close()

    summary = asyncio.run(run())
    for line in summary.lines:
        typer.echo(f"  {line}")
    typer.echo(
        f"checked {summary.checked}, settled {summary.settled}, unchanged {summary.unchanged}, "
        f"errors {summary.errors}"
    )
    if summary.errors:
        raise typer.Exit(1)


# -- the optimization framework --------------------------------------------------------

slo_app = typer.Typer(help="Service level objectives and their alerts.")
app.add_typer(slo_app, name="slo")


@app.command()
def scorecard(
    phase: Annotated[str | None, typer.Option(help="A phase key (default: the current)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
) -> None:
    """Each KPI of a phase against its target: value, status and trend."""
    from paystead.dashboard.views import launch_time
    from paystead.insights.framework import load_framework
    from paystead.insights.scorecard import build_scorecard
    from paystead.platform.db import Database

    settings = get_settings()

    async def run() -> object:
        db = Database.from_settings(settings)
        try:
            now = datetime.now(UTC)
            launch = await launch_time(db, settings.launch_at, now)
            return await build_scorecard(
                db,
                load_framework(settings.framework_file),
                launch_at=launch,
                now=now,
                base_currency=settings.base_currency,
                phase=phase,
            )
        finally:
            await db.dispose()

    from paystead.insights.scorecard import Scorecard

    card = asyncio.run(run())
    assert isinstance(card, Scorecard)
    if as_json:
        rows = [
            {
                "kpi": r.kpi,
                "target": f"{r.target.op} {r.target.value}" + (" %" if r.target.relative else ""),
                "value": None if r.value is None else str(r.value),
                "previous": None if r.previous is None else str(r.previous),
                "status": r.status.value,
                "trend": r.trend.value if r.trend else None,
                "reason": r.reason,
            }
            for r in card.rows
        ]
        typer.echo(json.dumps({"phase": card.phase, "rows": rows}, indent=2))
        return
    typer.echo(f"{card.phase_name}  (money in {card.base_currency})")
    typer.echo(f"{'KPI':34} {'target':>18} {'value':>14} {'status':>9}  note")
    for r in card.rows:
        target = f"{r.target.op} {r.target.value}" + (" %Δ" if r.target.relative else "")
        value = "—" if r.value is None else f"{r.value:.4g}"
        typer.echo(
            f"{r.name[:34]:34} {target:>18} {value:>14} {r.status.value:>9}  {r.reason or ''}"
        )


@app.command()
def report(
    kind: Annotated[str, typer.Argument(help="daily, weekly or monthly")],
    out: Annotated[str, typer.Option("--out", help="Write here: .pdf or .html")],
) -> None:
    """Render the daily standup, weekly review or monthly executive report."""
    from pathlib import Path

    from paystead.dashboard.views import launch_time
    from paystead.insights.framework import load_framework
    from paystead.insights.reports import ReportKind, build_report, render_html, render_pdf
    from paystead.platform.db import Database

    try:
        report_kind = ReportKind(kind)
    except ValueError:
        raise typer.BadParameter("choose daily, weekly or monthly", param_hint="KIND") from None
    if not out.endswith((".pdf", ".html")):
        raise typer.BadParameter("the file must end in .pdf or .html", param_hint="--out")
    settings = get_settings()

    async def run() -> bytes:
        db = Database.from_settings(settings)
        try:
            now = datetime.now(UTC)
            built = await build_report(
                db,
                load_framework(settings.framework_file),
                report_kind,
                launch_at=await launch_time(db, settings.launch_at, now),
                now=now,
                base_currency=settings.base_currency,
            )
        finally:
            await db.dispose()
        return render_pdf(built) if out.endswith(".pdf") else render_html(built).encode()

    Path(out).write_bytes(asyncio.run(run()))
    typer.echo(f"wrote {out}", err=True)


@app.command()
def simulate(
    api_key: Annotated[str, typer.Option("--api-key", envvar="PAYSTEAD_API_KEY")],
    url: Annotated[str, typer.Option(help="The paystead server")] = "http://127.0.0.1:8000",
    rate: Annotated[float, typer.Option(min=0.01, help="Payments per second")] = 2.0,
    duration: Annotated[float, typer.Option(min=1, help="Stop after this many seconds")] = 3600,
    count: Annotated[int | None, typer.Option(min=1, help="Stop after this many payments")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed for reproducible traffic")] = None,
    wait: Annotated[bool, typer.Option(help="Wait up to 60 s for the server to answer")] = False,
    experiment: Annotated[
        bool, typer.Option(help="Run the routing-strategy A/B experiment (docs/experiments.md)")
    ] = True,
) -> None:
    """Drive realistic demo traffic through the HTTP API (bounded by --duration/--count)."""
    import time

    import httpx

    from paystead.insights.simulate import simulate as run_simulation

    if wait:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                typer.echo(f"no answer from {url} in 60 s", err=True)
                raise typer.Exit(1)
            time.sleep(0.5)
    if experiment:
        from paystead.optimize.demo import ensure_routing_experiment

        async def set_up() -> str | None:
            headers = {"Authorization": f"Bearer {api_key}"}
            async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as client:
                return await ensure_routing_experiment(client)

        status = asyncio.run(set_up())
        typer.echo(f"experiment routing-strategy: {status or 'not set up'}", err=True)
    stats = asyncio.run(
        run_simulation(url, api_key, rate=rate, duration=duration, count=count, seed=seed)
    )
    typer.echo(json.dumps(stats.summary(), indent=2))


@slo_app.command("export")
def slo_export(
    out: Annotated[
        str | None, typer.Option("--out", help="File to write (default: stdout)")
    ] = None,
) -> None:
    """Write Prometheus recording and alerting rules equivalent to paystead's SLO alerts."""
    import yaml

    from paystead.insights.slo import DEFAULT_SLOS, prometheus_rules

    text = yaml.safe_dump(prometheus_rules(list(DEFAULT_SLOS)), sort_keys=False)
    if out is None:
        typer.echo(text)
    else:
        from pathlib import Path

        Path(out).write_text(text)
        typer.echo(f"wrote {out}", err=True)


@app.command("import")
def import_inputs(
    kind: Annotated[str, typer.Argument(help="surveys, tickets, spend, entries or releases")],
    file: Annotated[str, typer.Argument(help="CSV with a header naming the API fields")],
) -> None:
    """Import KPI inputs from a CSV file (all rows or none), recorded as made by the CLI."""
    from pathlib import Path

    from paystead.events.context import RequestContext, bound
    from paystead.insights.inputs import import_csv
    from paystead.platform.db import Database

    text = Path(file).read_text()

    async def run() -> int:
        db = Database.from_settings(get_settings())
        try:
            with bound(RequestContext(actor="cli")):
                return await import_csv(db, kind, text, datetime.now(UTC))
        finally:
            await db.dispose()

    from paystead.errors import InvalidInput

    try:
        count = asyncio.run(run())
    except InvalidInput as exc:
        typer.echo(f"{file}: {exc.detail}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"imported {count} {kind}", err=True)
