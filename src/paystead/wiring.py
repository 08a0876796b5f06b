"""The composition root: builds every service from :class:`~paystead.config.Settings`.

The API, the CLI and the tests all get their services here, so there is one place
where a database, a gateway or a clock is chosen.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from pathlib import Path

from openfeature.client import OpenFeatureClient

from paystead.audit.service import AuditTrail
from paystead.billing.assembly import build_billing_core
from paystead.billing.balance import BalanceService
from paystead.billing.catalog_store import CatalogStore
from paystead.billing.clocks import TestClockService
from paystead.billing.coupons import CouponService
from paystead.billing.credit_notes import CreditNoteService
from paystead.billing.invoice_service import InvoiceService
from paystead.billing.run import BillingRun
from paystead.billing.subscription_assembly import SubscriptionBilling, build_subscription_billing
from paystead.billing.subscription_service import SubscriptionService
from paystead.billing.usage import UsageService
from paystead.config import Settings
from paystead.customers.service import CustomerService
from paystead.events.service import EventLog
from paystead.events.worker import DeliveryChannel, Worker
from paystead.fx.service import FxService
from paystead.gateways.assembly import GatewayStack, build_gateway_stack
from paystead.gateways.base import Gateway
from paystead.ledger.store import LedgerStore
from paystead.models.service import ModelService, load_fraud_scorer, models_dir
from paystead.optimize.backlog import BacklogService
from paystead.optimize.experiments import ExperimentService
from paystead.optimize.exposures import ExposureLog
from paystead.optimize.flags import FlagStore, features_client, release_client
from paystead.optimize.flags.broadcast import FlagBroadcast
from paystead.optimize.rollouts import RolloutService
from paystead.payments.inbound import InboundEvents
from paystead.payments.service import PaymentService, utcnow
from paystead.platform.apikeys import ApiKeyVerifier
from paystead.platform.db import Database
from paystead.platform.leader import Leadership
from paystead.platform.redis import SharedState, connect
from paystead.reconcile.service import ReconciliationService
from paystead.risk.config import load_risk_config
from paystead.risk.screening import Screener
from paystead.risk.service import RiskService
from paystead.risk.velocity_redis import RedisVelocity
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
    #: Exchange rates by day; conversion for reports only (docs/fx.md).
    fx: FxService
    #: The optimization backlog: scored ideas, the matrix, before/after (docs/backlog.md).
    backlog: BacklogService
    #: Fraud screening's assessments and config (docs/risk.md).
    risk: RiskService
    #: Feature flags: the audited store and its in-process snapshot (docs/flags.md).
    flags: FlagStore
    #: OpenFeature client over this instance's own PaysteadProvider (the snapshot).
    features: OpenFeatureClient
    #: The exposure hook on ``features``: buffers assignments, flushed every second.
    exposures: ExposureLog
    #: A/B experiments on flags and their results (docs/experiments.md).
    experiments: ExperimentService
    #: Canary rollouts of a flag variant, guarded by payment KPIs (docs/experiments.md).
    rollouts: RolloutService
    #: Billing usage meters and meter events (billing/usage.py).
    usage: UsageService
    #: Billing coupons, promotion codes, redemptions and discounts (billing/coupons.py).
    coupons: CouponService
    #: Billing catalog: products and prices (billing/catalog_store.py).
    catalog: CatalogStore
    #: Invoices: drafts, GST, numbering, finalization and charging (billing/invoice_service.py).
    invoices: InvoiceService
    #: Credit notes against finalized invoices (billing/credit_notes.py).
    credit_notes: CreditNoteService
    #: Customers' credit balances (billing/balance.py).
    balances: BalanceService
    #: Redis shared by every process (``PAYSTEAD_REDIS_URL``; None: per-process state).
    shared: SharedState | None
    #: Leader leases for the periodic jobs (platform/leader.py).
    leadership: Leadership

    # Subscriptions, test clocks, the billing run and dunning, built on first use over
    # the services above (billing/subscription_assembly.py).
    @cached_property
    def _subscription_billing(self) -> SubscriptionBilling:
        return build_subscription_billing(
            self.settings,
            self.db,
            self.clock,
            invoices=self.invoices,
            catalog=self.catalog,
            usage=self.usage,
            coupons=self.coupons,
        )

    @property
    def subscriptions(self) -> SubscriptionService:
        return self._subscription_billing.subscriptions

    @property
    def test_clocks(self) -> TestClockService:
        return self._subscription_billing.test_clocks

    @property
    def billing_run(self) -> BillingRun:
        return self._subscription_billing.run

    #: The models: training, churn risk, revenue forecast, lifetime value (docs/models.md).
    @cached_property
    def models(self) -> ModelService:
        return ModelService(
            self.db, self.clock, models_dir(self.settings.models_dir), self.risk.screener.config
        )

    async def close(self) -> None:
        release_client(self.features)
        try:
            await self.gateways.aclose()
        finally:
            try:
                await self.db.dispose()
            finally:
                if self.shared is not None:
                    await self.shared.close()


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
    shared = connect(settings)  # Redis, when configured (docs/architecture.md, Scale path)
    flags = FlagStore(db, clock)
    if shared is not None:
        flags.cache.broadcast = FlagBroadcast(shared)
    features = features_client(flags.cache)
    exposures = ExposureLog(db, clock)
    features.add_hooks([exposures])
    risk_config = load_risk_config(
        Path(settings.risk_config_path) if settings.risk_config_path else None
    )
    screener = Screener(
        risk_config,
        shared=RedisVelocity(
            shared,
            payment_window=risk_config.velocity.window_minutes * 60,
            failure_window=risk_config.failures.window_minutes * 60,
        )
        if shared is not None
        else None,
    )
    # The latest trained fraud model joins screening as the ``model`` rule (docs/models.md).
    screener.model = load_fraud_scorer(
        Path(settings.models_dir) if settings.models_dir else None, risk_config
    )
    payments = PaymentService(
        db,
        stack.gateways,
        ledger,
        router=stack.router,
        clock=clock,
        features=features,
        screener=screener,
    )
    billing = build_billing_core(settings, db, payments, clock)
    return Services(
        settings=settings,
        db=db,
        ledger=ledger,
        payments=payments,
        gateways=stack,
        inbound=InboundEvents(payments, clock),
        reconciliation=ReconciliationService(db, ledger, clock),
        fx=FxService(db, clock),
        backlog=BacklogService(db, clock, base_currency=settings.base_currency),
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
        risk=RiskService(db, screener),
        flags=flags,
        features=features,
        exposures=exposures,
        experiments=ExperimentService(db, clock, base_currency=settings.base_currency, flags=flags),
        rollouts=RolloutService(
            db, clock, flags=flags, exposures=exposures, base_currency=settings.base_currency
        ),
        usage=UsageService(
            db,
            clock,
            default_grace=timedelta(hours=settings.meter_event_grace_hours),
            max_future=timedelta(seconds=settings.meter_event_max_future_seconds),
        ),
        coupons=CouponService(db, clock),
        catalog=billing.catalog,
        invoices=billing.invoices,
        credit_notes=billing.credit_notes,
        balances=billing.balances,
        shared=shared,
        leadership=Leadership(db, shared, ttl=settings.leader_lease_seconds),
    )


def build_channels(
    settings: Settings, clock: Callable[[], datetime], *, services: Services | None = None
) -> list[DeliveryChannel]:
    """The worker's delivery channels: webhooks always; email when ``PAYSTEAD_SMTP_URL``
    is set (with ``services``, billing emails carry their PDFs); SMS unless
    ``PAYSTEAD_SMS_PROVIDER=none``."""
    from paystead.notify.attachments import InvoicePdfs
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
                pdfs=None
                if services is None
                else InvoicePdfs(
                    services.invoices,
                    services.credit_notes,
                    templates_dir=settings.invoice_templates_dir,
                ),
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
    channels = (
        list(channels)
        if channels is not None
        else build_channels(settings, clock, services=services)
    )
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
                update_payment_url=settings.notify_update_payment_url,
            ),
        ],
        clock=clock,
        batch_size=settings.worker_batch_size,
        concurrency=settings.worker_concurrency,
        lease=timedelta(seconds=settings.worker_lease_seconds),
        poll_seconds=settings.worker_poll_seconds,
        jitter=settings.webhook_retry_jitter,
    )
