"""``paystead invoices ...``: list, show, finalize, pay, void, print an invoice to PDF."""

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

invoices_app = typer.Typer(help="Invoices: list, show, finalize, pay, void, PDF.")

T = TypeVar("T")


def _run(work: Callable[[Any], Awaitable[T]]) -> T:
    from paystead.wiring import build_services

    async def run() -> T:
        services = build_services(get_settings())
        try:
            with bound(RequestContext(actor="cli")):
                return await work(services)
        finally:
            await services.close()

    try:
        return asyncio.run(run())
    except PaysteadError as exc:
        where = f" ({exc.param})" if exc.param else ""
        typer.echo(f"error{where}: {exc.detail}", err=True)
        raise typer.Exit(1) from None


def _show(invoice: Any) -> None:
    from paystead.billing.invoice_service import invoice_object

    typer.echo(json.dumps(invoice_object(invoice), indent=2))


@invoices_app.command("list")
def list_invoices(
    customer: Annotated[str | None, typer.Option(help="Only this customer's")] = None,
    status: Annotated[
        str | None, typer.Option(help="draft, open, paid, void, uncollectible")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=100)] = 20,
) -> None:
    """Newest first: id, number, status, total, amount due."""

    async def work(s: Any) -> list[Any]:
        found, _ = await s.invoices.list(customer=customer, status=status, limit=limit)
        return list(found)

    for inv in _run(work):
        typer.echo(
            f"{inv.id}  {inv.number or '-':<16} {inv.status:<13} "
            f"{inv.total:>12} {inv.amount_due:>12} {inv.currency}"
        )


@invoices_app.command("show")
def show_invoice(invoice_id: str) -> None:
    """The invoice as JSON (as the API shows it)."""
    _show(_run(lambda s: s.invoices.get(invoice_id)))


@invoices_app.command("finalize")
def finalize_invoice(invoice_id: str) -> None:
    """Number, tax and (when automatic) charge a draft."""
    _show(_run(lambda s: s.invoices.finalize(invoice_id, now=s.clock())))


@invoices_app.command("pay")
def pay_invoice(invoice_id: str) -> None:
    """One more charge attempt of the customer's default payment method."""
    _show(_run(lambda s: s.invoices.pay(invoice_id, now=s.clock())))


@invoices_app.command("void")
def void_invoice(invoice_id: str) -> None:
    _show(_run(lambda s: s.invoices.void(invoice_id, now=s.clock())))


@invoices_app.command("pdf")
def invoice_pdf(
    invoice_id: str,
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the PDF")],
    template: Annotated[str, typer.Option(help="saas, retail or services")] = "saas",
) -> None:
    """Render the invoice to a PDF file."""
    from paystead.billing.documents import invoice_document
    from paystead.billing.pdf.render import render_pdf

    invoice = _run(lambda s: s.invoices.get(invoice_id))
    settings = get_settings()
    try:
        data = render_pdf(
            invoice_document(invoice), template, templates_dir=settings.invoice_templates_dir
        )
    except PaysteadError as exc:
        typer.echo(f"error ({exc.param}): {exc.detail}", err=True)
        raise typer.Exit(1) from None
    out.write_bytes(data)
    typer.echo(f"wrote {out} ({len(data)} bytes)")
