"""``GET /metrics`` over the API in-process, its optional API key, and OpenTelemetry traces
into an in-memory exporter (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from paystead.api.app import create_app
from paystead.config import Settings
from paystead.platform.apikeys import create_api_key
from paystead.telemetry import tracing
from paystead.wiring import Services, build_services


def samples(text: str) -> Iterator[Sample]:
    for family in text_string_to_metric_families(text):
        yield from family.samples


def value(text: str, name: str, **labels: str) -> float:
    return sum(
        s.value
        for s in samples(text)
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


async def test_metrics_show_requests_by_route_template_and_payment_outcomes(
    client: httpx.AsyncClient,
) -> None:
    ids = []
    for method, channel in [
        ("pm_card_visa", "ios"),
        ("pm_card_visa", "web"),
        ("pm_upi_success", "android"),
        ("pm_card_declined", "web"),
    ]:
        body = {
            "amount": 1000,
            "currency": "INR",
            "payment_method": method,
            "metadata": {"channel": channel},
        }
        created = await client.post("/v1/payments", json=body)
        assert created.status_code == 201
        ids.append(created.json()["id"])
    for payment_id in ids:
        assert (await client.get(f"/v1/payments/{payment_id}")).status_code == 200
    assert (await client.get("/v1/payments/pay_missing")).status_code == 404
    assert (await client.get("/no/such/path/123")).status_code == 404

    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text

    requests = "paystead_http_requests_total"
    assert value(text, requests, method="POST", route="/v1/payments", status="201") == 4
    one = {"method": "GET", "route": "/v1/payments/{payment_id}"}
    assert value(text, requests, **one, status="200") == 4
    assert value(text, requests, **one, status="404") == 1
    assert value(text, requests, route="unmatched", status="404") == 1
    routes = {s.labels["route"] for s in samples(text) if s.name == requests}
    assert not any("pay_" in route or "123" in route for route in routes)  # templates only
    histogram = "paystead_http_request_duration_seconds"
    assert value(text, histogram + "_count", route="/v1/payments") == 4
    assert value(text, histogram + "_bucket", route="/v1/payments", le="+Inf") == 4
    assert value(text, histogram + "_bucket", route="/v1/payments", le="30.0") == 4

    payments = "paystead_payments_total"
    assert value(text, payments, outcome="succeeded", method="card", channel="ios") == 1
    assert value(text, payments, outcome="succeeded", method="upi", channel="android") == 1
    assert value(text, payments, outcome="failed", method="card", channel="web") == 1
    assert value(text, payments, gateway="sandbox", currency="INR") == 4
    assert value(text, "paystead_db_statement_duration_seconds_count", operation="insert") > 0
    assert value(text, "paystead_process_starts_total") == 1
    assert value(text, "paystead_cache_lookups_total", cache="api_keys", result="hit") > 0


async def test_metrics_can_require_an_api_key(database_url: str) -> None:
    settings = Settings(database_url=database_url, metrics_require_api_key=True)
    services = build_services(settings)
    try:
        _, secret = await create_api_key(services.db, "scraper")
        transport = httpx.ASGITransport(app=create_app(settings, services))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            assert (await http.get("/metrics")).status_code == 401
            wrong = {"Authorization": "Bearer sk_not_a_key"}
            assert (await http.get("/metrics", headers=wrong)).status_code == 401
            right = {"Authorization": f"Bearer {secret}"}
            assert (await http.get("/metrics", headers=right)).status_code == 200
    finally:
        await services.close()


async def test_traces_cover_requests_and_their_statements(
    settings: Settings, services: Services, api_key: str
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = create_app(settings, services)
    tracing.instrument_app(app, provider)
    tracing.instrument_engine(services.db.engine, provider)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://t", headers={"Authorization": f"Bearer {api_key}"}
    ) as http:
        body = {"amount": 1000, "currency": "INR", "payment_method": "pm_card_visa"}
        assert (await http.post("/v1/payments", json=body)).status_code == 201
    provider.shutdown()

    spans = exporter.get_finished_spans()
    server = [s for s in spans if s.attributes and s.attributes.get("http.route") == "/v1/payments"]
    assert server, [s.name for s in spans]
    request = server[0]
    statements = [s for s in spans if s.attributes and "db.statement" in s.attributes]
    assert any(s.name == "INSERT" for s in statements)
    # the statements belong to the request's trace
    assert request.context is not None
    assert {s.context.trace_id for s in statements if s.context} == {request.context.trace_id}


def test_an_otlp_endpoint_turns_tracing_on(database_url: str) -> None:
    settings = Settings(database_url=database_url, otlp_endpoint="http://127.0.0.1:9/v1/traces")
    app = create_app(settings)
    provider = app.state.tracer_provider
    assert isinstance(provider, TracerProvider)
    processors = provider._active_span_processor._span_processors
    assert any(isinstance(p, BatchSpanProcessor) for p in processors)
    provider.shutdown()  # nothing recorded: nothing sent
    assert create_app(Settings(database_url=database_url)).state.tracer_provider is None
