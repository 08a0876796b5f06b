"""The composition root: builds every service from :class:`~paystead.config.Settings`.

The API, the CLI and the tests all get their services here, so there is one place
where a database, a gateway or a clock is chosen.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from paystead.audit.service import AuditTrail
from paystead.config import Settings
from paystead.customers.service import CustomerService
from paystead.events.service import EventLog
from paystead.events.worker import DeliveryChannel, Worker
from paystead.gateways.assembly import GatewayStack, build_gateway_stack
from paystead.gateways.base import Gateway
from paystead.ledger.store import LedgerStore
from paystead.payments.inbound import InboundEvents
from paystead.payments.service import PaymentService, utcnow
from paystead.platform.apikeys import ApiKeyVerifier
from paystead.platform.db import Database
from paystead.reconcile.service import ReconciliationService
from paystead.webhooks.endpoints import WebhookEndpointService

log = logging.getLogger(__name__)


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
    #: Gateways behind their breakers, the router, and the raw connectors.
    gateways: GatewayStack
    #: Inbound gateway webhooks (``POST /v1/webhooks/{gateway}``).
    inbound: InboundEvents
    #: Settlement reports against our payments (``paystead reconcile``).
    reconciliation: ReconciliationService

    async def close(self) -> None:
        try:
            await self.gateways.aclose()
        finally:
            await self.db.dispose()


def build_services(
    settings: Settings,
    *,
    clock: Callable[[], datetime] = utcnow,
    gateways: dict[str, Gateway] | None = None,
    stack: GatewayStack | None = None,
) -> Services:
    """Every service over one database. ``gateways`` (unguarded connectors) or a whole
    ``stack`` replace the ones ``settings`` would build (tests, simulations)."""
    db = Database.from_settings(settings)
    ledger = LedgerStore()
    if stack is None:
        stack = build_gateway_stack(settings, connectors=gateways)
    if not stack.gateways:
        log.warning("no gateway is enabled: set gateway keys or PAYSTEAD_SANDBOX_ENABLED=true")
    payments = PaymentService(db, stack.gateways, ledger, router=stack.router, clock=clock)
    return Services(
        settings=settings,
        db=db,
        ledger=ledger,
        payments=payments,
        gateways=stack,
        inbound=InboundEvents(payments, clock),
        reconciliation=ReconciliationService(db, ledger, clock),
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
