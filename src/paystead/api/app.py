"""The ASGI application: routers, problem+json errors, a body size limit."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paystead import __version__, telemetry
from paystead.api import problems
from paystead.api.request_context import RequestContextMiddleware
from paystead.api.routers import (
    alerts,
    audit_logs,
    backlog,
    checkout,
    coupons,
    customers,
    events,
    exchange_rates,
    experiments,
    flags,
    gateway_webhooks,
    invoices,
    kpi_inputs,
    ledger,
    meters,
    models,
    ofrep,
    payments,
    products,
    reconciliation,
    refunds,
    risk,
    rollouts,
    routing,
    scorecard,
    subscriptions,
    webhook_endpoints,
)
from paystead.billing.run import run_periodically as bill_periodically
from paystead.config import Settings, get_settings
from paystead.dashboard import backlog_page, billing_page, flags_page
from paystead.dashboard import routes as dashboard
from paystead.insights.alerting import build_engine as build_alert_engine
from paystead.insights.alerting import run_every_minute as run_alerts
from paystead.optimize.exposures import run_periodically as flush_exposures
from paystead.optimize.flags.cache import run_periodically as refresh_flags_periodically
from paystead.optimize.rollouts import run_every_minute as tick_rollouts
from paystead.payments.stuck import run_periodically as settle_periodically
from paystead.wiring import Services, build_services, build_worker

log = logging.getLogger(__name__)


class BodySizeLimit:
    """Answer 413 before parsing a body larger than the limit, declared or streamed.

    A declared ``Content-Length`` is checked at once. A body without one (chunked) is
    read here first, up to the limit, and replayed to the app; the framework's own
    body reader would turn any error raised mid-read into a 400.
    """

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                declared = int(value) if value.isdigit() else None
                break
        if declared is not None:
            if declared > self.max_bytes:
                await self._reject(send)
                return
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        seen = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                await self._reject(send)
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    async def _reject(self, send: Send) -> None:
        body = problems.problem(
            413,
            "body_too_large",
            "Request body too large",
            f"the request body exceeds {self.max_bytes} bytes",
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", problems.MEDIA_TYPE.encode()),
                    (b"content-length", str(len(body.body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": bytes(body.body)})


def create_app(settings: Settings | None = None, services: Services | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = services is None
        app.state.services = services or build_services(settings)
        await telemetry.start(app)  # rollup flusher and synthetic probe (PAYSTEAD_PROBE_*)
        # Feature flags: load the snapshot, then poll for changes (docs/flags.md).
        try:
            await app.state.services.flags.refresh()
        except Exception:  # serve anyway: flags fall back to their callers' defaults
            log.exception("could not load the feature flags")
        flags_stop = asyncio.Event()
        flags_task = asyncio.create_task(
            refresh_flags_periodically(
                app.state.services.flags.cache, settings.flags_refresh_seconds, flags_stop
            ),
            name="paystead-flags",
        )
        # Experiment exposures, buffered by the flag hook, written every second; canary
        # rollouts ticked every minute (PAYSTEAD_ROLLOUTS_ENABLED; docs/experiments.md).
        exposing = asyncio.create_task(
            flush_exposures(
                app.state.services.exposures, settings.exposure_flush_seconds, flags_stop
            ),
            name="paystead-exposures",
        )
        # The periodic jobs below run on one server of N: each under a leader lease
        # (Redis, else PostgreSQL advisory locks; none on SQLite; platform/leader.py).
        leaders, svc = app.state.services.leadership, app.state.services
        rolling = None
        if settings.rollouts_enabled:
            rolling = asyncio.create_task(
                leaders.guard(
                    "rollouts", lambda s: tick_rollouts(svc.rollouts, svc.clock, s), flags_stop
                ),
                name="paystead-rollouts",
            )
        # The embedded outbox worker (SQLite by default; PAYSTEAD_WORKER_EMBEDDED).
        worker, stop, task = None, asyncio.Event(), None
        if settings.worker_embedded_enabled:
            worker = build_worker(app.state.services)
            if app.state.telemetry is not None:  # delivery outcomes as integration health
                worker.observe = app.state.telemetry.delivery
            task = asyncio.create_task(worker.run(stop), name="paystead-worker")
        alerting = None  # SLO burn-rate alerts, evaluated each minute (PAYSTEAD_ALERTS_ENABLED)
        if settings.alerts_enabled:
            engine = build_alert_engine(app.state.services)
            clock = app.state.services.clock
            alerting = asyncio.create_task(
                leaders.guard("alerts", lambda s: run_alerts(engine, clock, s), stop),
                name="paystead-alerts",
            )
        settling = None  # stuck payments and refunds (PAYSTEAD_SETTLE_INTERVAL_SECONDS)
        if settings.settle_interval_seconds > 0:
            settling = asyncio.create_task(
                leaders.guard(
                    "settle",
                    lambda s: settle_periodically(
                        svc.inbound,
                        older_than=timedelta(seconds=settings.settle_after_seconds),
                        interval=settings.settle_interval_seconds,
                        stop=s,
                    ),
                    stop,
                ),
                name="paystead-settle",
            )
        billing = None  # subscription renewals and dunning (PAYSTEAD_BILLING_RUN_INTERVAL_SECONDS)
        if settings.billing_run_interval_seconds > 0:
            billing = asyncio.create_task(
                leaders.guard(
                    "billing-run",
                    lambda s: bill_periodically(
                        svc.billing_run,
                        svc.clock,
                        interval=settings.billing_run_interval_seconds,
                        stop=s,
                    ),
                    stop,
                ),
                name="paystead-billing",
            )
        try:
            yield
        finally:
            if billing is not None:
                stop.set()
                await billing
            flags_stop.set()
            await flags_task
            await exposing
            if rolling is not None:
                await rolling
            if settling is not None:
                stop.set()
                await settling
            if alerting is not None:
                stop.set()
                await alerting
            if task is not None and worker is not None:
                stop.set()
                try:
                    await asyncio.wait_for(task, timeout=settings.webhook_timeout_seconds + 5)
                except TimeoutError:
                    log.warning("the embedded worker did not stop in time; leases will expire")
                await worker.close()
            await telemetry.stop(app)  # writes the last minute's rollups
            if owned:
                await app.state.services.close()

    app = FastAPI(
        title="paystead",
        version=__version__,
        description="Payments and billing with the post-launch optimization loop built in.",
        lifespan=lifespan,
    )
    if services is not None:
        app.state.services = services
    problems.install(app)
    for router in (
        customers.router,
        payments.router,
        refunds.router,
        ledger.router,
        events.router,
        webhook_endpoints.router,
        gateway_webhooks.router,
        checkout.router,
        reconciliation.router,
        audit_logs.router,
        scorecard.router,
        kpi_inputs.router,
        alerts.router,
        routing.router,
        risk.router,
        models.router,
        flags.router,
        ofrep.router,
        meters.router,
        meters.events_router,
        coupons.router,
        coupons.codes_router,
        exchange_rates.router,
        backlog.router,
        experiments.router,
        rollouts.router,
        subscriptions.router,
        subscriptions.clocks_router,
        products.router,
        products.prices_router,
        invoices.router,
        invoices.credit_notes_router,
        invoices.balance_router,
        dashboard.router,
        flags_page.router,
        backlog_page.router,
        billing_page.router,
    ):
        app.include_router(router)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestContextMiddleware)
    telemetry.install(app, settings, services)  # last: its middleware is outermost
    return app
