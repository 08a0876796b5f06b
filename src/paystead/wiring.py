"""The composition root: builds every service from :class:`~paystead.config.Settings`.

The API, the CLI and the tests all get their services here, so there is one place
where a database, a gateway or a clock is chosen.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from paystead.audit.service import AuditTrail
from paystead.config import Settings
from paystead.customers.service import CustomerService
from paystead.events.service import EventLog
from paystead.events.worker import DeliveryChannel, Worker
from paystead.gateways.base import Gateway
from paystead.gateways.sandbox import SandboxGateway
from paystead.ledger.store import LedgerStore
from paystead.payments.service import PaymentService, utcnow
from paystead.platform.apikeys import ApiKeyVerifier
from paystead.platform.db import Database
from paystead.webhooks.endpoints import WebhookEndpointService


@dataclass
class Services:
    settings: Settings
    db: Database
    ledger: LedgerStore
    payments: PaymentService
    customers: CustomerService
    api_keys: ApiKeyVerifier
    clock: Callable[[], datetime]
    events: EventLog
    webhooks: WebhookEndpointService
    audit: AuditTrail

    async def close(self) -> None:
        await self.db.dispose()


def build_gateways(settings: Settings) -> dict[str, Gateway]:
    sandbox = SandboxGateway(
        latency_ms=settings.sandbox_latency_ms,
        failure_rate=settings.sandbox_failure_rate,
        seed=settings.sandbox_seed,
        delay_ms=settings.sandbox_delay_ms,
        fee_percent=Decimal(settings.sandbox_fee_percent),
    )
    return {sandbox.name: sandbox}


def build_services(
    settings: Settings,
    *,
    clock: Callable[[], datetime] = utcnow,
    gateways: dict[str, Gateway] | None = None,
) -> Services:
    db = Database.from_settings(settings)
    ledger = LedgerStore()
    return Services(
        settings=settings,
        db=db,
        ledger=ledger,
        payments=PaymentService(db, gateways or build_gateways(settings), ledger, clock=clock),
        customers=CustomerService(db, clock),
        api_keys=ApiKeyVerifier(db, settings.api_key_cache_seconds),
        clock=clock,
        events=EventLog(db),
        webhooks=WebhookEndpointService(
            db,
            clock,
            allow_http_loopback=settings.webhook_allow_http_loopback,
            secret_grace=timedelta(hours=settings.webhook_secret_grace_hours),
        ),
        audit=AuditTrail(db),
    )


def build_channels(settings: Settings, clock: Callable[[], datetime]) -> list[DeliveryChannel]:
    """The worker's delivery channels: webhooks always; email when ``PAYSTEAD_SMTP_URL``
    is set; SMS unless ``PAYSTEAD_SMS_PROVIDER=none``."""
    from paystead.notify.email import EmailChannel, SmtpSettings
    from paystead.notify.sms import LogSmsProvider, SmsChannel, SmsProvider, TwilioSmsProvider
    from paystead.webhooks.sender import WebhookChannel

    for name in ("webhook_retry_schedule", "notify_retry_schedule"):
        if any(delay < 0 for delay in getattr(settings, name)):
            raise ValueError(f"PAYSTEAD_{name.upper()}: delays must not be negative")
    channels: list[DeliveryChannel] = [
        WebhookChannel(
            clock=clock,
            schedule=settings.webhook_retry_schedule,
            timeout_seconds=settings.webhook_timeout_seconds,
        )
    ]
    if settings.smtp_url is not None and settings.smtp_url.get_secret_value():
        channels.append(
            EmailChannel(
                SmtpSettings.from_url(
                    settings.smtp_url.get_secret_value(), timeout=settings.smtp_timeout_seconds
                ),
                sender=settings.email_from,
                merchant_name=settings.notify_merchant_name,
                schedule=settings.notify_retry_schedule,
            )
        )
    if settings.sms_provider != "none":
        provider: SmsProvider
        if settings.sms_provider == "twilio":
            token = settings.twilio_auth_token
            if not (settings.twilio_account_sid and token and token.get_secret_value()):
                raise ValueError(
                    "PAYSTEAD_SMS_PROVIDER=twilio needs PAYSTEAD_TWILIO_ACCOUNT_SID and "
                    "PAYSTEAD_TWILIO_AUTH_TOKEN"
                )
            provider = TwilioSmsProvider(
                account_sid=settings.twilio_account_sid,
                auth_token=token.get_secret_value(),
                from_number=settings.twilio_from_number,
                messaging_service_sid=settings.twilio_messaging_service_sid,
                base_url=settings.twilio_api_url,
            )
        else:
            provider = LogSmsProvider()
        channels.append(
            SmsChannel(
                provider,
                merchant_name=settings.notify_merchant_name,
                schedule=settings.notify_retry_schedule,
                max_chars=settings.sms_max_chars,
                dlt_template_ids=settings.sms_dlt_template_ids,
            )
        )
    return channels


def build_worker(
    services: Services,
    *,
    channels: Sequence[DeliveryChannel] | None = None,
    clock: Callable[[], datetime] | None = None,
) -> Worker:
    """The outbox worker over ``services``' database (close it with ``Worker.close``)."""
    from paystead.events.delivery import Channel
    from paystead.notify.planner import NotificationPlanner
    from paystead.webhooks.planner import WebhookPlanner

    settings = services.settings
    clock = clock or services.clock
    channels = list(channels) if channels is not None else build_channels(settings, clock)
    enabled = {c.channel for c in channels}
    return Worker(
        services.db,
        channels=channels,
        planners=[
            WebhookPlanner(),
            NotificationPlanner(
                email=Channel.EMAIL in enabled,
                sms=Channel.SMS in enabled,
                sms_region=settings.sms_default_region,
            ),
        ],
        clock=clock,
        batch_size=settings.worker_batch_size,
        concurrency=settings.worker_concurrency,
        lease=timedelta(seconds=settings.worker_lease_seconds),
        poll_seconds=settings.worker_poll_seconds,
        jitter=settings.webhook_retry_jitter,
    )
