"""Telemetry: what the running system measures about itself.

- ``recorder.py``: the metrics (Prometheus) and the per-minute rollups, fed together;
- ``middleware.py``: request metrics by route template (pure ASGI);
- ``database.py``: statement timing and payment outcomes from SQLAlchemy events;
- ``rollups.py``, ``histogram.py``: the in-memory minute, its flush, merged percentiles;
- ``runtime.py``: the flusher and the synthetic probe, in the server's lifespan;
- ``exposition.py``: ``GET /metrics``; ``logs.py``: JSON logs; ``tracing.py``: OTLP traces.

:func:`install` wires it into an app (``api/app.py`` calls it once), :func:`start` and
:func:`stop` run its background side in the lifespan.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the package itself stays light: insights import its rollups module
    from fastapi import FastAPI

    from paystead.config import Settings
    from paystead.telemetry.recorder import Telemetry
    from paystead.telemetry.runtime import TelemetryRuntime
    from paystead.wiring import Services


def install(app: FastAPI, settings: Settings, services: Services | None = None) -> None:
    """Logs, traces, ``/metrics`` and the request middleware (call after the app's other
    middleware, so this one is outermost)."""
    from paystead.payments.service import utcnow
    from paystead.telemetry import database, exposition, tracing
    from paystead.telemetry.logs import use_json_logs
    from paystead.telemetry.middleware import MetricsMiddleware
    from paystead.telemetry.recorder import Telemetry

    if settings.log_format == "json":
        use_json_logs(settings.log_level)
    app.state.tracer_provider = None
    if settings.otlp_endpoint:
        app.state.tracer_provider = tracing.tracer_provider(settings)
        tracing.instrument_app(app, app.state.tracer_provider)
    app.state.telemetry = None
    app.state.telemetry_runtime = None
    if not settings.telemetry_enabled:
        return
    telemetry = Telemetry(
        clock=services.clock if services is not None else utcnow,
        multiprocess_dir=settings.prometheus_multiproc_dir,
    )
    app.state.telemetry = telemetry
    app.include_router(exposition.router)
    app.add_middleware(MetricsMiddleware, telemetry=telemetry)
    if services is not None:
        database.instrument(services.db.engine, telemetry)


async def start(app: FastAPI) -> None:
    """In the lifespan, once ``app.state.services`` exists: instrument its database and
    start the flusher and the probe."""
    from paystead.telemetry import database, tracing
    from paystead.telemetry.runtime import TelemetryRuntime

    services: Services = app.state.services
    settings = services.settings
    if app.state.tracer_provider is not None:
        tracing.instrument_engine(services.db.engine, app.state.tracer_provider)
    telemetry: Telemetry | None = app.state.telemetry
    if telemetry is None:
        return
    telemetry.clock = services.clock
    database.instrument(services.db.engine, telemetry)
    runtime = TelemetryRuntime(
        telemetry,
        services,
        flush=settings.rollups_enabled,
        probe=settings.probe_enabled,
        probe_interval=settings.probe_interval_seconds,
        probe_gateway=settings.probe_gateway,
        currency=settings.base_currency,
        retention=timedelta(days=settings.rollup_retention_days),
    )
    runtime.start()
    app.state.telemetry_runtime = runtime


async def stop(app: FastAPI) -> None:
    """Stop the background tasks and write the last minute; flush pending spans."""
    runtime: TelemetryRuntime | None = getattr(app.state, "telemetry_runtime", None)
    if runtime is not None:
        await runtime.stop()
        app.state.telemetry_runtime = None
    provider = getattr(app.state, "tracer_provider", None)
    if provider is not None:
        provider.shutdown()
