"""Email over SMTP with aiosmtplib, configured by ``PAYSTEAD_SMTP_URL``.

``smtp://user:password@host:587`` uses STARTTLS when the server offers it,
``smtp+starttls://`` requires it, ``smtps://host:465`` is TLS from the first byte.
A 4xx reply, a timeout or a dropped connection is worth retrying; a 5xx reply (unknown
mailbox, rejected sender) is final.

A notice whose context names a document (``attach``: invoices, receipts, credit notes)
carries its PDF, made at attempt time by ``notify/attachments.py``; the message is then
``multipart/mixed`` (the text and HTML alternatives, then the PDF). A PDF that cannot be
made does not hold the email back: it goes without, says so, and the attempt records
why (``delivery_attempts.error`` on a successful attempt).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib
from sqlalchemy.ext.asyncio import AsyncConnection

from paystead.events.delivery import AttemptResult, Channel, Job
from paystead.notify.attachments import Attachment, InvoicePdfs
from paystead.notify.render import context_for, render_email

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    hostname: str
    port: int
    username: str | None = None
    password: str | None = None
    use_tls: bool = False
    #: ``None``: STARTTLS if offered; ``True``: required.
    start_tls: bool | None = None
    timeout: float = 10.0

    @classmethod
    def from_url(cls, url: str, *, timeout: float = 10.0) -> SmtpSettings:
        parts = urlsplit(url)
        schemes = {
            "smtp": (25, False, None),
            "smtp+starttls": (587, False, True),
            "smtps": (465, True, False),
        }
        if parts.scheme not in schemes or not parts.hostname:
            raise ValueError("PAYSTEAD_SMTP_URL must look like smtp://user:password@host:port")
        default_port, use_tls, start_tls = schemes[parts.scheme]
        query = parse_qs(parts.query)
        return cls(
            hostname=parts.hostname,
            port=parts.port or default_port,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            use_tls=use_tls,
            start_tls=start_tls,
            timeout=float(query["timeout"][0]) if "timeout" in query else timeout,
        )


def build_message(
    *,
    sender: str,
    recipient: str,
    subject: str,
    text: str,
    html: str,
    delivery_id: str,
    attachments: tuple[Attachment, ...] = (),
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(idstring=delivery_id)
    #: Lets a mailbox (or a support agent) tie the email to its delivery row.
    message["X-Paystead-Delivery"] = delivery_id
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    for attachment in attachments:
        message.add_attachment(
            attachment.data,
            maintype="application",
            subtype="pdf",
            filename=attachment.filename,
        )
    return message


class EmailChannel:
    """The ``email`` channel of the worker."""

    channel = Channel.EMAIL

    def __init__(
        self,
        smtp: SmtpSettings,
        *,
        sender: str,
        merchant_name: str,
        schedule: list[float],
        pdfs: InvoicePdfs | None = None,
        send: Callable[..., Any] = aiosmtplib.send,
    ):
        self.smtp = smtp
        self.pdfs = pdfs
        self.sender = sender
        self.merchant_name = merchant_name
        self.schedule = schedule
        self._send = send

    async def attempt(self, job: Job) -> AttemptResult:
        destination = "smtp"
        if job.recipient is None or job.template is None:
            return AttemptResult(
                False, destination, error="no recipient or template", retryable=False
            )
        attachments: tuple[Attachment, ...] = ()
        missing: str | None = None
        spec = (job.context or {}).get("attach")
        if spec:
            if self.pdfs is None:
                missing = "no document source is configured"
            else:
                last = job.attempts + 1 >= len(self.schedule)
                outcome = await self.pdfs.attachment(spec, last_attempt=last)
                if outcome.retry is not None:
                    return AttemptResult(False, destination, error=outcome.retry[:500])
                missing = outcome.missing
                attachments = (outcome.attachment,) if outcome.attachment else ()
        context = context_for(job.event, job.context, merchant_name=self.merchant_name)
        if spec:
            context["attachment_missing"] = missing is not None
        try:
            rendered = render_email(job.template, context)
        except Exception as exc:  # a template bug: retrying renders the same thing
            return AttemptResult(
                False, destination, error=f"rendering failed: {exc}", retryable=False
            )
        message = build_message(
            sender=self.sender,
            recipient=job.recipient,
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            delivery_id=job.id,
            attachments=attachments,
        )
        s = self.smtp
        started = time.perf_counter()
        try:
            _errors, reply = await self._send(
                message,
                hostname=s.hostname,
                port=s.port,
                username=s.username,
                password=s.password,
                use_tls=s.use_tls,
                start_tls=s.start_tls,
                timeout=s.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            replies = "; ".join(f"SMTP {r.code} {r.message}" for r in exc.recipients)
            return AttemptResult(
                False,
                destination,
                _ms(started),
                codes[0] if codes else None,
                error=f"recipient refused: {replies}"[:500],
                retryable=any(400 <= c < 500 for c in codes),
            )
        except aiosmtplib.SMTPResponseException as exc:
            return AttemptResult(
                False,
                destination,
                _ms(started),
                exc.code,
                error=f"SMTP {exc.code}: {exc.message}"[:500],
                retryable=exc.code < 500,
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            return AttemptResult(
                False, destination, _ms(started), error=f"{type(exc).__name__}: {exc}"[:500]
            )
        note = None
        if missing is not None:
            log.warning("delivery %s went without its PDF: %s", job.id, missing)
            note = f"sent without the PDF: {missing}"[:500]
        return AttemptResult(True, destination, _ms(started), 250, str(reply)[:1000], note)

    async def succeeded(self, conn: AsyncConnection, job: Job) -> None:
        return None  # nothing else to update

    async def dead_lettered(self, conn: AsyncConnection, job: Job) -> None:
        return None  # the dead letter itself is the record

    async def close(self) -> None:
        return None


def _ms(started: float) -> int:
    return max(0, round((time.perf_counter() - started) * 1000))
