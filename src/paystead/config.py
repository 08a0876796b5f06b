"""Configuration: one pydantic-settings class, read from ``PAYSTEAD_*`` variables.

Nothing else in paystead reads ``os.environ``. Production swaps SQLite for PostgreSQL
by setting ``PAYSTEAD_DATABASE_URL`` alone.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Method families a routing rule may name (``payment_method_family``'s answers).
ROUTING_METHODS = ("upi", "netbanking", "wallet", "card", "other")


class RoutingRuleSetting(BaseModel):
    """One ``PAYSTEAD_ROUTING_RULES`` entry: ``{"currency": "INR", "method": "upi",
    "gateways": ["razorpay"]}``. ``"*"`` matches any currency or method."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    currency: str
    method: str
    gateways: list[str] = Field(min_length=1)

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        value = value.strip().upper()
        if value != "*" and not (len(value) == 3 and value.isalpha() and value.isascii()):
            raise ValueError(f"currency must be an ISO 4217 code or '*', not {value!r}")
        return value

    @field_validator("method")
    @classmethod
    def _method(cls, value: str) -> str:
        value = value.strip().lower()
        if value != "*" and value not in ROUTING_METHODS:
            raise ValueError(f"method must be one of {', '.join(ROUTING_METHODS)} or '*'")
        return value

    @field_validator("gateways")
    @classmethod
    def _gateways(cls, value: list[str]) -> list[str]:
        names = [name.strip().lower() for name in value]
        if any(not name for name in names):
            raise ValueError("gateway names must not be empty")
        if len(set(names)) != len(names):
            raise ValueError("a gateway is listed twice")
        return names


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PAYSTEAD_", env_file=None, extra="ignore")

    database_url: str = Field(
        default="sqlite+aiosqlite:///./paystead.db",
        description="SQLAlchemy async URL: sqlite+aiosqlite:///file.db or postgresql+asyncpg://...",
    )
    database_pool_size: int = Field(default=20, ge=1)
    #: Redis (``redis://host:6379/0``) for state shared by every API and worker process:
    #: fraud velocity windows, flag change broadcasts, leader leases for periodic jobs
    #: (docs/architecture.md, "Scale path"). Unset: each process keeps its own.
    redis_url: str | None = None
    #: Prefix of every Redis key and channel paystead uses (several deployments, or
    #: test runs, may share one Redis).
    redis_prefix: str = "paystead:"
    #: A periodic job's leader lease (billing run, rollouts, alerts, settling): renewed
    #: every third of this; another server takes the job over this long after its
    #: leader died (Redis). PostgreSQL advisory locks are released at once instead.
    leader_lease_seconds: float = Field(default=30.0, ge=1.0, le=3600.0)
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    #: Requests bodies larger than this get 413 before they are parsed.
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    #: An in-flight idempotency key older than this is considered abandoned (crashed
    #: process) and may be taken over by a retry.
    idempotency_lock_seconds: int = Field(default=60, ge=1)
    #: Completed idempotency keys are kept at least this long (the IETF draft asks 24 h).
    idempotency_retention_hours: int = Field(default=48, ge=24)
    #: How long a verified API key stays in the in-process cache; a revoked key keeps
    #: working on a process for at most this long.
    api_key_cache_seconds: float = Field(default=30.0, ge=0)

    sandbox_latency_ms: int = Field(default=0, ge=0, description="added to every sandbox call")
    sandbox_failure_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    sandbox_seed: int | None = None
    sandbox_delay_ms: int = Field(default=2000, ge=0, description="pm_card_delayed's delay")
    #: Sandbox fee, as gateways charge it: a percentage of the captured amount.
    sandbox_fee_percent: str = "2"
    #: Offer the sandbox gateway at all. Turn it off in production: with it off, the
    #: sandbox is neither routed to nor callable by name.
    sandbox_enabled: bool = True

    # -- gateways: Razorpay, Stripe, routing and circuit breakers --------------------
    # A gateway whose keys are set is enabled. Webhook secrets may list several,
    # comma-separated, while one is rotated (events are retried with the old one).
    razorpay_key_id: str | None = None
    razorpay_key_secret: SecretStr | None = None
    razorpay_webhook_secret: SecretStr | None = None
    razorpay_api_url: str = "https://api.razorpay.com"
    razorpay_refund_speed: Literal["normal", "optimum"] = "normal"
    stripe_secret_key: SecretStr | None = None
    stripe_webhook_secret: SecretStr | None = None
    stripe_api_url: str = "https://api.stripe.com"
    stripe_webhook_tolerance_seconds: int = Field(default=300, ge=1)
    #: Explicit per-call timeouts for every gateway (never httpx's defaults).
    gateway_connect_timeout_seconds: float = Field(default=5.0, gt=0)
    gateway_read_timeout_seconds: float = Field(default=30.0, gt=0)
    #: Fee schedule for routing's cost tie-break: percent per gateway
    #: (``{"stripe": "2.9", "razorpay": "2"}``) plus a fixed part per currency in
    #: minor units (``{"stripe": {"USD": 30}}``); JSON in the environment.
    gateway_fee_percent: dict[str, str] = Field(default_factory=dict)
    gateway_fee_fixed: dict[str, dict[str, int]] = Field(default_factory=dict)
    routing_window_seconds: float = Field(default=300.0, gt=0)
    routing_exploration: float = Field(default=0.02, ge=0.0, lt=1.0)
    routing_cost_tie_margin: float = Field(default=0.0, ge=0.0, le=1.0)
    routing_seed: int | None = None
    #: Which gateways may take which payments, in their default order (JSON in the
    #: environment): the first rule whose ``currency`` and ``method`` (family) match,
    #: each exact or ``"*"``, wins. A name that is not an enabled gateway fails startup;
    #: no rule matching: every enabled gateway, as without rules.
    routing_rules: list[RoutingRuleSetting] = Field(default_factory=list)
    breaker_failure_threshold: int = Field(default=5, ge=1)
    breaker_failure_ratio: float = Field(default=0.5, gt=0.0, le=1.0)
    breaker_window_seconds: float = Field(default=30.0, gt=0)
    breaker_cooldown_seconds: float = Field(default=30.0, gt=0)
    breaker_half_open_probes: int = Field(default=2, ge=1)
    #: Settle stuck objects: payments left ``processing``/``requires_action`` and refunds
    #: left ``pending`` longer than this are looked up at their gateway.
    settle_after_seconds: float = Field(default=600.0, gt=0)
    #: How often ``paystead serve`` (its embedded worker) runs that; 0 turns it off.
    settle_interval_seconds: float = Field(default=300.0, ge=0)

    @property
    def razorpay_enabled(self) -> bool:
        return bool(self.razorpay_key_id and _secret(self.razorpay_key_secret))

    @property
    def stripe_enabled(self) -> bool:
        return bool(_secret(self.stripe_secret_key))

    @property
    def razorpay_webhook_secrets(self) -> list[str]:
        return _secret_list(self.razorpay_webhook_secret)

    @property
    def stripe_webhook_secrets(self) -> list[str]:
        return _secret_list(self.stripe_webhook_secret)

    # -- end of gateways ------------------------------------------------------------

    # -- the optimization framework ------------------------------------------------
    #: When the system went live; phases and baselines count from here.
    launch_at: datetime | None = None
    #: A framework file replacing the shipped default (insights/framework.default.yaml).
    framework_file: str | None = None
    #: The currency money KPIs (revenue, AOV, cost per transaction) are reported in.
    base_currency: str = "INR"
    #: Evaluate the SLO burn-rate alerts once a minute inside ``paystead serve``.
    alerts_enabled: bool = True
    #: Slack-compatible incoming webhook (``{"text": ...}``) for alert notifications.
    alert_webhook_url: str | None = None
    #: Email address for alert notifications (sent through PAYSTEAD_SMTP_URL).
    alert_email_to: str | None = None

    #: Feature flags (docs/flags.md): how often each process checks for flag changes
    #: (one cheap query) and reloads its in-process snapshot when they changed.
    flags_refresh_seconds: float = Field(default=2.0, gt=0, le=300)
    #: Fraud screening rules (docs/risk.md): a YAML file over the built-in defaults
    #: (scores, amount limits, velocity, blocklist, thresholds). Unset: the defaults.
    risk_config_path: str | None = None
    #: Model artifacts (docs/models.md): ``paystead models train`` writes versions here;
    #: the latest fraud model found here at startup joins screening as the ``model``
    #: rule. Unset: ``paystead models`` uses ``./models`` and screening runs no model.
    models_dir: str | None = None
    #: Experiments and canary rollouts (docs/experiments.md): how often each process
    #: writes its buffered exposures, and whether ``paystead serve`` ticks the running
    #: rollouts once a minute.
    exposure_flush_seconds: float = Field(default=1.0, gt=0, le=60)
    rollouts_enabled: bool = True

    # -- events out: the outbox worker, webhooks, email, SMS (docs/events.md) --------
    #: Run the outbox worker inside ``paystead serve``. ``auto``: with SQLite (the
    #: embedded default) yes; with PostgreSQL no: run ``paystead worker`` processes.
    worker_embedded: Literal["auto", "on", "off"] = "auto"
    #: How long an idle worker sleeps before looking again.
    worker_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    worker_batch_size: int = Field(default=100, ge=1, le=1000)
    #: Deliveries in flight at once per worker.
    worker_concurrency: int = Field(default=8, ge=1, le=256)
    #: A claimed delivery is left to its worker this long; if the worker died, another
    #: takes it over after that. Keep it well above the webhook and SMTP timeouts.
    worker_lease_seconds: float = Field(default=60.0, gt=0)
    #: Per delivery attempt; redirects are never followed.
    webhook_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    #: Allow ``http://`` endpoints on loopback (tests and local development only).
    webhook_allow_http_loopback: bool = False
    #: Seconds before each attempt: Standard Webhooks' schedule (at once, 5 s, 5 min,
    #: 30 min, 2 h, 5 h, 10 h, 10 h) continued by 12 h, 12 h and 24 h so that retries
    #: cover about three days (75.6 h), each stretched by up to the jitter share.
    webhook_retry_schedule: list[float] = Field(
        default_factory=lambda: [
            0.0,
            5.0,
            300.0,
            1800.0,
            7200.0,
            18000.0,
            36000.0,
            36000.0,
            43200.0,
            43200.0,
            86400.0,
        ],
        min_length=1,
    )
    webhook_retry_jitter: float = Field(default=0.1, ge=0.0, le=1.0)
    #: How long a rotated-out signing secret keeps signing (a second signature).
    webhook_secret_grace_hours: float = Field(default=24.0, ge=0.0, le=168.0)
    #: Billing usage (billing/usage.py): a meter's default grace window for late events
    #: (a meter may set its own), and how far ahead of now an event may be timestamped.
    meter_event_grace_hours: float = Field(default=24.0, ge=0.0, le=840.0)
    meter_event_max_future_seconds: int = Field(default=300, ge=0, le=86400)
    #: ``smtp://user:password@host:587`` (STARTTLS if offered), ``smtp+starttls://``,
    #: ``smtps://host:465``. Unset: no email notifications are queued.
    smtp_url: SecretStr | None = None
    smtp_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    email_from: str = "paystead <no-reply@paystead.localhost>"
    #: The name customers see in notifications.
    notify_merchant_name: str = "paystead"
    notify_retry_schedule: list[float] = Field(
        default_factory=lambda: [0.0, 30.0, 300.0, 1800.0, 7200.0], min_length=1
    )
    #: Where billing emails (failed payments, dunning) send customers to update their
    #: payment method; unset: they are told to contact the merchant (notify/billing.py).
    notify_update_payment_url: str | None = None
    #: ``log`` writes messages to the log (the embedded default); ``none`` queues none.
    sms_provider: Literal["none", "log", "twilio"] = "log"
    #: Longest SMS body sent: 160 GSM-7 characters is one segment (70 in UCS-2).
    sms_max_chars: int = Field(default=160, ge=1, le=1600)
    #: Region assumed for customer phone numbers written without a country code.
    sms_default_region: str | None = None
    #: India DLT: the principal entity id and each template's DLT template id
    #: (``{"payment_receipt": "1107..."}``, JSON in the environment).
    sms_dlt_entity_id: str | None = None
    sms_dlt_template_ids: dict[str, str] = Field(default_factory=dict)
    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_from_number: str | None = None
    twilio_messaging_service_sid: str | None = None
    twilio_api_url: str = "https://api.twilio.com"

    @property
    def worker_embedded_enabled(self) -> bool:
        if self.worker_embedded == "auto":
            return self.is_sqlite
        return self.worker_embedded == "on"

    # -- end of events out -------------------------------------------------------------

    # -- telemetry: metrics, rollups, probe, logs, traces (docs/architecture.md) --------
    #: Request, payment and database metrics at ``GET /metrics`` and the per-minute
    #: rollups the scorecard reads. Off: neither is recorded.
    telemetry_enabled: bool = True
    #: Require an API key (``Authorization: Bearer sk_...``) to read ``GET /metrics``.
    metrics_require_api_key: bool = False
    #: Flush the per-minute rollups into the database (in ``paystead serve``).
    rollups_enabled: bool = True
    #: Rollup rows older than this are deleted (hourly, by the flusher).
    rollup_retention_days: int = Field(default=90, ge=2)
    #: Run the synthetic end-to-end payment probe (the availability KPI's source) and
    #: sample host CPU and memory, every ``probe_interval_seconds``.
    probe_enabled: bool = True
    probe_interval_seconds: float = Field(default=60.0, ge=1.0)
    #: The gateway the probe pays through.
    probe_gateway: str = "sandbox"
    #: ``json``: one JSON object per log line, with the request id.
    log_format: Literal["text", "json"] = "text"
    #: OTLP/HTTP traces endpoint (``http://collector:4318/v1/traces``); unset: no traces.
    otlp_endpoint: str | None = None
    otel_service_name: str = "paystead"
    #: prometheus-client's multi-process directory (``paystead serve --workers N`` sets a
    #: fresh one per run when it is unset); read under its own name.
    prometheus_multiproc_dir: str | None = Field(
        default=None, validation_alias="PROMETHEUS_MULTIPROC_DIR"
    )

    # -- end of telemetry ---------------------------------------------------------------

    # -- billing: seller identity and tax (billing/, docs/billing.md) --------------------
    #: The seller's GSTIN; its first two digits are the seller's GST state. When set,
    #: invoices are taxed by India GST; when empty, by the rate table below.
    seller_gstin: str | None = None
    seller_name: str = "paystead"
    seller_address: str = ""
    #: ISO 3166 alpha-2 of the seller when not GST-registered (rate-table tax).
    seller_country: str = "IN"
    #: Rate table for sellers outside India: country -> percent, e.g. {"DE": "19"}.
    tax_rates: dict[str, str] = Field(default_factory=dict)
    tax_name: str = "VAT"
    #: Document number series: at most 4 letters each (``docs/billing.md``).
    invoice_series: str = Field(default="INV", pattern=r"^[A-Z]{1,4}$")
    credit_note_series: str = Field(default="CN", pattern=r"^[A-Z]{1,4}$")
    # -- end of billing ------------------------------------------------------------------

    # -- billing: subscriptions and dunning (docs/billing-subscriptions.md) -------------
    #: Days after a failed renewal charge at which dunning retries it (JSON list).
    dunning_retry_days: list[int] = Field(default_factory=lambda: [1, 3, 5, 7])
    #: When every retry failed: ``canceled`` (the subscription ends) or ``unpaid``
    #: (it stays, renewals stop, its invoices stay open).
    dunning_final_action: Literal["canceled", "unpaid"] = "canceled"
    #: Seconds between billing runs inside ``paystead serve`` (0: no run in the server).
    billing_run_interval_seconds: float = Field(default=60.0, ge=0)
    #: Days before a renewal the billing run sends ``invoice.upcoming`` (0: never).
    invoice_upcoming_days: int = Field(default=3, ge=0, le=365)
    # -- end of billing: subscriptions ----------------------------------------------------

    # -- billing: invoice PDFs (billing/pdf/, docs/invoice_pdfs.md) ----------------------
    #: A directory of invoice templates searched before the shipped ones (saas, retail,
    #: services): ``NAME.html`` there adds template NAME or replaces a shipped one.
    invoice_templates_dir: str | None = None
    # -- end of invoice PDFs -------------------------------------------------------------

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _secret(value: SecretStr | None) -> str:
    return value.get_secret_value().strip() if value is not None else ""


def _secret_list(value: SecretStr | None) -> list[str]:
    return [part.strip() for part in _secret(value).split(",") if part.strip()]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
