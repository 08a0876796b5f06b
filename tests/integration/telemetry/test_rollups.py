"""Per-minute rollups in the database, the KPIs read from them, the flusher and the probe
(SQLite and PostgreSQL; time is a FrozenClock, nothing waits for a real minute)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
import sqlalchemy as sa

from paystead.api.app import create_app
from paystead.config import Settings
from paystead.insights.framework import Framework, Status
from paystead.insights.measure import NoData, Window, measure
from paystead.insights.scorecard import build_scorecard
from paystead.platform.apikeys import create_api_key
from paystead.platform.schema import deliveries, payments
from paystead.telemetry import rollups
from paystead.telemetry.recorder import Telemetry
from paystead.telemetry.runtime import TelemetryRuntime
from paystead.wiring import Services, build_services, build_worker
from tests.conftest import FrozenClock

START = datetime(2026, 4, 1, 12, 0, 10, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
async def timed(settings: Settings, clock: FrozenClock) -> AsyncIterator[Services]:
    built = build_services(settings, clock=clock)
    try:
        yield built
    finally:
        await built.close()


def window(clock: FrozenClock, minutes: int = 10) -> Window:
    return Window(clock.now - timedelta(minutes=minutes), clock.now)


async def test_one_row_set_per_minute_written_in_one_flush(
    timed: Services, clock: FrozenClock
) -> None:
    telemetry = Telemetry(clock=clock)
    buffer = telemetry.rollups
    for _ in range(3):
        telemetry.request("POST", "/v1/payments", 201, 0.012)
    telemetry.request("GET", "/v1/payments/{payment_id}", 500, 0.2)
    clock.advance(minutes=1)
    buffer.seal(clock())
    telemetry.request("POST", "/v1/payments", 201, 0.02)
    clock.advance(minutes=1)
    buffer.seal(clock())
    assert buffer.pending_minutes == 2
    assert await buffer.flush(timed.db) == 9  # 12:00: 6 rows, 12:01: 3 rows
    assert await buffer.flush(timed.db) == 0  # nothing sealed: no write at all

    async with timed.db.transaction() as conn:
        rows = await rollups.minutes(
            conn,
            [rollups.HTTP_REQUEST_DURATION, rollups.API_REQUEST_DURATION, rollups.PROCESS_STARTS],
            START - timedelta(minutes=1),
            clock.now,
        )
    by_minute: dict[str, dict[tuple[str, str], int]] = {}
    for row in rows:
        by_minute.setdefault(row["minute"].strftime("%H:%M"), {})[
            (row["metric"], row["labels"])
        ] = row["count"]
    assert by_minute == {
        "12:00": {
            ("api_request_duration", '{"class":"2xx"}'): 3,
            ("api_request_duration", '{"class":"5xx"}'): 1,
            (
                "http_request_duration",
                '{"method":"GET","route":"/v1/payments/{payment_id}","status":"500"}',
            ): 1,
            ("http_request_duration", '{"method":"POST","route":"/v1/payments","status":"201"}'): 3,
            ("process_starts", "{}"): 1,
        },
        "12:01": {
            ("api_request_duration", '{"class":"2xx"}'): 1,
            ("http_request_duration", '{"method":"POST","route":"/v1/payments","status":"201"}'): 1,
        },
    }
    first = next(r for r in rows if r["labels"] == '{"class":"5xx"}')
    assert first["sum"] == pytest.approx(0.2) and first["b15"] == 1  # 0.2 s: (0.15, 0.2]


async def test_workers_add_to_one_minute_and_percentiles_merge_exactly(
    timed: Services, clock: FrozenClock
) -> None:
    # Two worker processes share the minutes; 100 API requests split between them:
    # 10 at 4 ms, 80 at 12 ms, 10 at 120 ms (see tests/unit/telemetry for the hand math).
    one, two = Telemetry(clock=clock), Telemetry(clock=clock)
    for i in range(10):
        (one if i % 2 else two).request("GET", "/v1/payments", 200, 0.004)
        (one if i % 2 else two).request("GET", "/v1/payments", 200, 0.12)
    for i in range(80):
        (one if i < 30 else two).request("POST", "/v1/payments", 201, 0.012)
    clock.advance(minutes=1)
    for worker in (one, two):
        worker.rollups.seal(clock())
        await worker.rollups.flush(timed.db)
    # a little 5xx traffic in the next minute, from one worker only
    one.request("POST", "/v1/refunds", 503, 0.012)
    clock.advance(minutes=1)
    one.rollups.seal(clock())
    await one.rollups.flush(timed.db)

    async with timed.db.transaction() as conn:
        api = await rollups.totals(
            conn, rollups.API_REQUEST_DURATION, START - timedelta(minutes=1), clock.now
        )
        first_minute = Window(START - timedelta(seconds=10), START + timedelta(seconds=50))
        p95 = await measure(conn, "api_response_time_p95", first_minute, "INR")
        p99 = await measure(conn, "api_response_time_p99", first_minute, "INR")
        avg = await measure(conn, "api_response_time_avg", first_minute, "INR")
        errors = await measure(conn, "error_rate", window(clock), "INR")
        critical = await measure(conn, "critical_errors", window(clock), "INR")
        empty = await measure(
            conn, "api_response_time_p95", Window(START - timedelta(hours=2), START - MINUTE), "INR"
        )
    assert api.count == 101
    assert p95 == Decimal("125")  # 100 + 50 * (95 - 90) / 10 ms
    assert p99 == Decimal("145")  # 100 + 50 * (99 - 90) / 10 ms
    assert avg == Decimal("22.0")  # (10 * 4 + 80 * 12 + 10 * 120) / 100 ms
    assert errors == Decimal(100) / Decimal(101)
    assert critical == Decimal(1)
    assert empty == NoData("no API requests in the window")


def _framework() -> Framework:
    targets = [
        {"kpi": "api_response_time_p95", "op": "<", "value": "1000"},
        {"kpi": "api_response_time_avg", "op": "<", "value": "1000"},
        {"kpi": "error_rate", "op": "<", "value": "0.05"},
        {"kpi": "availability", "op": ">", "value": "99.9"},
        {"kpi": "critical_errors", "op": "<=", "value": "0"},
        {"kpi": "db_query_time", "op": "<", "value": "100"},
        {"kpi": "cold_start_share", "op": "<", "value": "5"},
        {"kpi": "cache_hit_rate", "op": ">", "value": "90"},
        {"kpi": "payment_conversion_rate", "op": ">", "value": "95"},
    ]
    return Framework.model_validate(
        {
            "version": 1,
            "name": "telemetry test",
            "phases": [{"key": "standing", "name": "Standing", "starts": "0h", "targets": targets}],
        }
    )


async def test_the_scorecard_reads_telemetry_after_real_traffic(
    settings: Settings, timed: Services, clock: FrozenClock
) -> None:
    app = create_app(settings, timed)

    @app.get("/v1/boom")
    async def boom() -> None:
        raise RuntimeError("a bug")

    _, secret = await create_api_key(timed.db, "telemetry")
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://t", headers={"Authorization": f"Bearer {secret}"}
    ) as http:
        for _ in range(19):
            body = {"amount": 5000, "currency": "INR", "payment_method": "pm_card_visa"}
            assert (await http.post("/v1/payments", json=body)).status_code == 201
        assert (await http.get("/v1/boom")).status_code == 500
    runtime = TelemetryRuntime(app.state.telemetry, timed, clock=clock)
    assert await runtime.probe() is True
    clock.advance(minutes=1)
    assert await runtime.tick() > 0

    card = await build_scorecard(
        timed.db, _framework(), launch_at=START, now=clock.now, base_currency="INR"
    )
    rows = {row.kpi: row for row in card.rows}
    assert rows["error_rate"].value == Decimal(5)  # 1 of 20 API responses was a 5xx
    assert rows["error_rate"].status is Status.BREACHED
    p95 = rows["api_response_time_p95"]
    assert p95.value is not None and p95.value > 0 and p95.status is Status.MET
    assert rows["api_response_time_avg"].value is not None
    assert rows["availability"].value == Decimal(100)  # the one probe paid and voided
    assert rows["critical_errors"].value == Decimal(1)
    assert rows["db_query_time"].value is not None and rows["db_query_time"].value > 0
    assert rows["cold_start_share"].value == Decimal(100)  # a process in its first minute
    assert rows["cache_hit_rate"].value is not None
    # the probe's synthetic payment is not business: 19 of 19 real payments converted
    assert rows["payment_conversion_rate"].value == Decimal(100)
    assert all(row.status is not Status.NO_DATA for row in card.rows)


async def test_the_loops_flush_each_minute_and_probe_on_an_injected_clock(
    timed: Services, clock: FrozenClock
) -> None:
    await timed.webhooks.create(url="https://merchant.example/hooks", enabled_events=["*"])
    ancient = rollups.RollupBuffer(START - timedelta(days=91))  # past the 90-day retention
    ancient.add((rollups.PROCESS_STARTS, "{}"))
    ancient.seal(START)
    assert await ancient.flush(timed.db) == 1
    telemetry = Telemetry(clock=clock)
    waits: list[float] = []

    async def flusher_wait(seconds: float) -> bool:
        waits.append(seconds)
        telemetry.request("GET", "/v1/payments", 200, 0.01)  # traffic during the minute
        clock.advance(seconds=seconds)
        return len(waits) > 3

    flusher = TelemetryRuntime(telemetry, timed, probe=False, clock=clock, wait=flusher_wait)
    await flusher.run_until_stopped()
    assert waits[0] == pytest.approx(50.05)  # from 12:00:10 to just past 12:01
    assert waits[1] == pytest.approx(60.0)

    probes = 0

    async def probe_wait(seconds: float) -> bool:
        nonlocal probes
        clock.advance(seconds=seconds)
        probes += 1
        return probes > 2

    prober = TelemetryRuntime(
        telemetry, timed, flush=False, probe_interval=60, clock=clock, wait=probe_wait
    )
    await prober.run_until_stopped()
    clock.advance(minutes=1)
    await flusher.tick()

    async with timed.db.transaction() as conn:
        rows = await rollups.minutes(
            conn, [rollups.API_REQUEST_DURATION], START - timedelta(minutes=1), clock.now
        )
        availability = await measure(conn, "availability", window(clock), "INR")
        success = await measure(conn, "payment_success_rate", window(clock), "INR")
        synthetic = (await conn.execute(sa.select(payments.c.status, payments.c.metadata))).all()
    # three minutes flushed by the loop, a fourth at its stop (the last request)
    assert [r["minute"].strftime("%H:%M") for r in rows] == ["12:00", "12:01", "12:02", "12:03"]
    assert [r["count"] for r in rows] == [1, 1, 1, 1]
    assert availability == Decimal(100)
    assert isinstance(success, NoData)  # two probe payments, no business ones
    assert [(s, m) for s, m in synthetic] == [("canceled", {"synthetic": "probe"})] * 2

    worker = build_worker(timed, channels=[])
    await worker.dispatch_once()
    await worker.close()
    async with timed.db.transaction() as conn:
        planned = (await conn.execute(sa.select(sa.func.count()).select_from(deliveries))).scalar()
    assert planned == 0  # no webhooks about the probe's payments
    async with timed.db.transaction() as conn:
        kept = await rollups.minutes(
            conn, [rollups.PROCESS_STARTS], START - timedelta(days=365), START
        )
    assert [r["minute"] for r in kept] == [datetime(2026, 4, 1, 12, 0, tzinfo=UTC)]  # purged
