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
app.add_typer(apikey_app, name="apikey")
app.add_typer(ledger_app, name="ledger")
app.add_typer(idempotency_app, name="idempotency")


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
