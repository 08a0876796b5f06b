"""OpenTelemetry traces, only when ``PAYSTEAD_OTLP_ENDPOINT`` is set (off by default).

Spans for every HTTP request (opentelemetry-instrumentation-fastapi) and every database
statement (opentelemetry-instrumentation-sqlalchemy), batched to an OTLP/HTTP collector:
the road to Datadog, X-Ray or CloudWatch, which all take OTLP. The packages are the
optional ``otel`` extra (``pip install 'paystead[otel]'``); without them an endpoint
setting fails at start-up with that hint rather than silently tracing nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from paystead.config import Settings

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider


def tracer_provider(settings: Settings) -> TracerProvider:
    """A provider exporting to ``settings.otlp_endpoint`` in batches."""
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:  # pragma: no cover - the extra is installed in tests
        raise RuntimeError(
            "PAYSTEAD_OTLP_ENDPOINT needs the tracing packages: pip install 'paystead[otel]'"
        ) from exc
    provider = TracerProvider(
        resource=Resource.create({"service.name": settings.otel_service_name})
    )
    provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=settings.otlp_endpoint))
    )
    return provider


def instrument_app(app: FastAPI, provider: Any) -> None:
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(app, tracer_provider=provider)


def instrument_engine(engine: AsyncEngine, provider: Any) -> None:
    """A client span per statement, child of the request's span.

    Our own two listeners rather than opentelemetry-instrumentation-sqlalchemy's
    instrumentor, which patches ``create_engine`` process-wide and instruments once per
    process (every engine after the first would go untraced).
    """
    from opentelemetry.trace import SpanKind, Status, StatusCode

    tracer = provider.get_tracer("paystead.db")
    sync = engine.sync_engine
    system = sync.dialect.name

    def before(
        conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> None:
        if context is None:
            return
        operation = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else "SQL"
        context._paystead_span = tracer.start_span(
            operation,
            kind=SpanKind.CLIENT,
            attributes={"db.system": system, "db.statement": statement},
        )

    def after(
        conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> None:
        span = getattr(context, "_paystead_span", None)
        if span is not None:
            span.end()
            context._paystead_span = None

    def failed(exception_context: Any) -> None:
        context = exception_context.execution_context
        span = getattr(context, "_paystead_span", None)
        if span is not None:
            span.record_exception(exception_context.original_exception)
            span.set_status(Status(StatusCode.ERROR))
            span.end()
            context._paystead_span = None

    event.listen(sync, "before_cursor_execute", before)
    event.listen(sync, "after_cursor_execute", after)
    event.listen(sync, "handle_error", failed)
