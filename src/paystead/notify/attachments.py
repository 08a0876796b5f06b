"""The PDF an invoice, receipt or credit-note email carries, made when it is attempted.

The planner only names the document (``{"kind": "invoice", "id": ..., "filename": ...}``
in the delivery's context); the email channel asks :class:`InvoicePdfs` for it at
attempt time: the document is read in a short transaction of its own, mapped as the
invoice service maps it (``billing/documents.py``) and printed by ``billing/pdf`` in a
thread, outside any transaction, so the billing path never waits for WeasyPrint.

A document that cannot be **read** (the database is unreachable) is worth retrying: the
email is not sent, and the attempt is retried on the notification schedule; on the last
attempt it goes without the PDF. A document that cannot be **rendered** (a broken
custom template, a render over ``render_timeout`` seconds) would fail the same way
again, so the email goes at once without it: the customer still learns of the invoice,
the email says the PDF is not attached, and the attempt records why.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from paystead.billing.documents import credit_note_document, invoice_document
from paystead.billing.pdf.render import InvoiceDocument, render_pdf

log = logging.getLogger(__name__)


class _Invoices(Protocol):
    async def get(self, invoice_id: str) -> Any: ...


class _CreditNotes(Protocol):
    async def get(self, credit_note_id: str) -> Any: ...


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of the PDF: ``attachment``, or ``missing`` (why it is left out),
    or ``retry`` (why the email should wait for the next attempt)."""

    attachment: Attachment | None = None
    missing: str | None = None
    retry: str | None = None


class InvoicePdfs:
    def __init__(
        self,
        invoices: _Invoices,
        credit_notes: _CreditNotes,
        *,
        template: str = "saas",
        templates_dir: str | Path | None = None,
        render_timeout: float = 30.0,
        render: Callable[..., bytes] = render_pdf,
    ):
        self.invoices = invoices
        self.credit_notes = credit_notes
        self.template = template
        self.render_timeout = render_timeout
        self._render = partial(render, templates_dir=templates_dir)

    async def load(self, kind: str, object_id: str) -> InvoiceDocument:
        if kind == "invoice":
            return invoice_document(await self.invoices.get(object_id))
        if kind == "credit_note":
            note = await self.credit_notes.get(object_id)
            return credit_note_document(note, await self.invoices.get(note.invoice_id))
        raise ValueError(f"no document of kind {kind!r}")

    async def attachment(self, spec: dict[str, Any], *, last_attempt: bool) -> Outcome:
        kind, object_id = str(spec.get("kind")), str(spec.get("id"))
        try:
            doc = await self.load(kind, object_id)
        except Exception as exc:
            why = f"could not read {kind} {object_id}: {type(exc).__name__}: {exc}"
            return Outcome(missing=why) if last_attempt else Outcome(retry=why)
        try:
            data = await asyncio.wait_for(
                asyncio.to_thread(self._render, doc, self.template), self.render_timeout
            )
        except TimeoutError:
            return Outcome(missing=f"rendering {kind} {object_id} took over {self.render_timeout}s")
        except Exception as exc:
            log.warning("PDF of %s %s failed to render", kind, object_id, exc_info=True)
            return Outcome(missing=f"rendering {kind} {object_id} failed: {exc}")
        filename = str(spec.get("filename") or f"{object_id}.pdf")
        return Outcome(attachment=Attachment(filename, data))
