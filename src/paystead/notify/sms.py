"""SMS: one small provider interface, Twilio's Messages API behind it, and a log provider.

Twilio (``POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json``, HTTP basic auth
with the account SID and auth token, form fields ``To``, ``From`` or
``MessagingServiceSid``, ``Body``; ``201`` with the message ``sid`` on success, a JSON
``{code, message, more_info, status}`` otherwise). 429 and 5xx are retried; other 4xx
(an invalid or unreachable number, an unverified sender) are final.

India: commercial SMS must match a template registered on the DLT platform. Twilio
matches the registered template by its content (register the texts in
``notify/templates/sms``); ``PAYSTEAD_SMS_DLT_TEMPLATE_IDS`` records each template's
DLT id, which the log provider prints and providers that take it as a parameter send.
Keep bodies within ``PAYSTEAD_SMS_MAX_CHARS`` (160 GSM-7 characters is one segment).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import httpx
from sqlalchemy.ext.asyncio import AsyncConnection

from paystead.errors import InvalidInput
from paystead.events.delivery import AttemptResult, Channel, Job
from paystead.notify.phone import masked, to_e164
from paystead.notify.render import context_for, render_sms

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SmsMessage:
    to: str  # E.164
    body: str
    template: str
    dlt_template_id: str | None = None


class SmsError(Exception):
    def __init__(
        self,
        detail: str,
        *,
        retryable: bool,
        status_code: int | None = None,
        snippet: str | None = None,
    ):
        super().__init__(detail)
        self.retryable = retryable
        self.status_code = status_code
        self.snippet = snippet


@dataclass(frozen=True, slots=True)
class SmsSent:
    provider_message_id: str | None
    status_code: int | None = None
    snippet: str | None = None


class SmsProvider(Protocol):
    name: str

    async def send(self, message: SmsMessage) -> SmsSent:
        """Hand the message to the provider; raise :class:`SmsError` if it was not taken."""

    async def close(self) -> None: ...


class LogSmsProvider:
    """The embedded default: writes each message to the log instead of sending it."""

    name = "log"

    def __init__(self) -> None:
        self.sent: list[SmsMessage] = []

    async def send(self, message: SmsMessage) -> SmsSent:
        log.info(
            "sms to %s (template %s, DLT %s): %s",
            masked(message.to),
            message.template,
            message.dlt_template_id or "-",
            message.body,
        )
        self.sent.append(message)
        del self.sent[:-100]
        return SmsSent(None)

    async def close(self) -> None:
        return None


class TwilioSmsProvider:
    name = "twilio"

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        from_number: str | None = None,
        messaging_service_sid: str | None = None,
        base_url: str = "https://api.twilio.com",
        timeout_seconds: float = 10.0,
        client: httpx.AsyncClient | None = None,
    ):
        if not (from_number or messaging_service_sid):
            raise ValueError("Twilio needs a From number or a Messaging Service SID")
        self.account_sid = account_sid
        self.from_number = from_number
        self.messaging_service_sid = messaging_service_sid
        self.url = f"{base_url.rstrip('/')}/2010-04-01/Accounts/{account_sid}/Messages.json"
        self._owned = client is None
        self.client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_seconds), follow_redirects=False
        )
        self.auth = httpx.BasicAuth(account_sid, auth_token)

    async def send(self, message: SmsMessage) -> SmsSent:
        form = {"To": message.to, "Body": message.body}
        if self.messaging_service_sid:
            form["MessagingServiceSid"] = self.messaging_service_sid
        else:
            assert self.from_number is not None
            form["From"] = self.from_number
        try:
            response = await self.client.post(self.url, data=form, auth=self.auth)
        except httpx.TimeoutException:
            raise SmsError("timed out waiting for Twilio", retryable=True) from None
        except httpx.HTTPError as exc:
            raise SmsError(f"{type(exc).__name__}: {exc}", retryable=True) from None
        snippet = response.text[:1000]
        if response.status_code in (200, 201):
            try:
                sid = response.json().get("sid")
            except ValueError:
                sid = None
            return SmsSent(sid, response.status_code, snippet)
        detail = f"Twilio answered HTTP {response.status_code}"
        try:
            problem = response.json()
            detail += f": {problem.get('code')} {problem.get('message')}"
        except ValueError:
            pass
        retryable = response.status_code == 429 or response.status_code >= 500
        raise SmsError(
            detail, retryable=retryable, status_code=response.status_code, snippet=snippet
        )

    async def close(self) -> None:
        if self._owned:
            await self.client.aclose()


class SmsChannel:
    """The ``sms`` channel of the worker."""

    channel = Channel.SMS

    def __init__(
        self,
        provider: SmsProvider,
        *,
        merchant_name: str,
        schedule: list[float],
        max_chars: int = 160,
        dlt_template_ids: dict[str, str] | None = None,
        perf_counter: Callable[[], float] = time.perf_counter,
    ):
        self.provider = provider
        self.merchant_name = merchant_name
        self.schedule = schedule
        self.max_chars = max_chars
        self.dlt_template_ids = dlt_template_ids or {}
        self._perf_counter = perf_counter

    async def attempt(self, job: Job) -> AttemptResult:
        name = self.provider.name
        if job.recipient is None or job.template is None:
            return AttemptResult(False, name, error="no recipient or template", retryable=False)
        try:
            to = to_e164(job.recipient)
            body = render_sms(
                job.template, context_for(job.event, job.context, merchant_name=self.merchant_name)
            )
        except InvalidInput as exc:
            return AttemptResult(False, name, error=exc.detail, retryable=False)
        except Exception as exc:  # a template bug: retrying renders the same thing
            return AttemptResult(False, name, error=f"rendering failed: {exc}", retryable=False)
        if len(body) > self.max_chars:
            return AttemptResult(
                False,
                name,
                error=f"the message is {len(body)} characters, over the {self.max_chars} allowed",
                retryable=False,
            )
        message = SmsMessage(to, body, job.template, self.dlt_template_ids.get(job.template))
        started = self._perf_counter()
        try:
            sent = await self.provider.send(message)
        except SmsError as exc:
            return AttemptResult(
                False,
                name,
                self._ms(started),
                exc.status_code,
                exc.snippet,
                str(exc)[:500],
                retryable=exc.retryable,
            )
        return AttemptResult(True, name, self._ms(started), sent.status_code, sent.snippet)

    def _ms(self, started: float) -> int:
        return max(0, round((self._perf_counter() - started) * 1000))

    async def succeeded(self, conn: AsyncConnection, job: Job) -> None:
        return None  # nothing else to update

    async def dead_lettered(self, conn: AsyncConnection, job: Job) -> None:
        return None  # the dead letter itself is the record

    async def close(self) -> None:
        await self.provider.close()
