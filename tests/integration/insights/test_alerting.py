"""SLO alerts at run time: payments feed the burn-rate rules, firings and resolutions are
stored once and reach a Slack-compatible webhook on loopback."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from paystead.config import Settings
from paystead.insights.alerting import AlertEngine, SlackWebhookSink, payment_success_minutes
from paystead.insights.slo import DEFAULT_SLOS, AlertState
from paystead.money import Money
from paystead.payments.service import CreatePayment
from paystead.platform.schema import slo_alerts
from paystead.wiring import Services, build_services
from tests.conftest import FrozenClock
from tests.fakes.server import LiveServer

PAYMENT_SUCCESS = next(s for s in DEFAULT_SLOS if s.key == "payment_success")  # 99.2 %


@pytest.fixture
def chat() -> Iterator[tuple[LiveServer, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []

    async def hook(request: Request) -> Response:
        received.append(json.loads(await request.body()))
        return Response("ok")

    server = LiveServer(Starlette(routes=[Route("/hook", hook, methods=["POST"])])).start()
    try:
        yield server, received
    finally:
        server.stop()


@pytest.fixture
async def timed(settings: Settings) -> AsyncIterator[tuple[Services, FrozenClock]]:
    clock = FrozenClock()
    built = build_services(settings, clock=clock)
    try:
        yield built, clock
    finally:
        await built.close()


async def pay(services: Services, good: int, bad: int) -> None:
    for token in ["pm_card_visa"] * good + ["pm_card_declined"] * bad:
        await services.payments.create(CreatePayment(Money(5000, "INR"), token))


async def test_a_burst_of_declines_pages_once_and_resolves(
    timed: tuple[Services, FrozenClock], chat: tuple[LiveServer, list[dict[str, Any]]]
) -> None:
    services, clock = timed
    server, received = chat
    engine = AlertEngine(
        services.db,
        {"payment_success": (PAYMENT_SUCCESS, payment_success_minutes)},
        [SlackWebhookSink(server.url + "/hook")],
    )
    await pay(services, 20, 0)
    clock.advance(minutes=1)
    assert await engine.tick(clock.now) == []  # backfill: all good

    await pay(services, 15, 5)  # 25 % declines: 31x the 0.8 % budget
    clock.advance(minutes=1)
    fired = await engine.tick(clock.now)
    assert [(e.rule, e.state) for e in fired if e.severity == "page"] == [
        ("page_1h_5m", AlertState.FIRING),
        ("page_6h_30m", AlertState.FIRING),
    ]
    assert await engine.tick(clock.now) == []  # the same minute again: nothing new

    for _ in range(6):  # six calm minutes empty the 5-minute window of the burst
        await pay(services, 20, 0)
        clock.advance(minutes=1)
        await engine.tick(clock.now)

    async with services.db.transaction() as conn:
        rows = (await conn.execute(sa.select(slo_alerts).order_by(slo_alerts.c.rule))).all()
    page = {r.rule: r for r in rows if r.severity == "page"}
    assert page["page_1h_5m"].state == "resolved"
    assert page["page_1h_5m"].resolved_at is not None
    assert page["page_1h_5m"].long_burn > 14.4
    texts = [m["text"] for m in received]
    assert any("FIRING" in t and "page_1h_5m" in t for t in texts)
    assert any("resolved" in t and "page_1h_5m" in t for t in texts)
    assert len([t for t in texts if "page_1h_5m" in t]) == 2  # fired once, resolved once


async def test_a_restart_does_not_fire_again_an_alert_still_open(
    timed: tuple[Services, FrozenClock],
) -> None:
    services, clock = timed
    sources = {"payment_success": (PAYMENT_SUCCESS, payment_success_minutes)}
    await pay(services, 10, 10)
    clock.advance(minutes=1)
    first = await AlertEngine(services.db, sources).tick(clock.now)
    assert any(e.state is AlertState.FIRING for e in first)
    restarted = AlertEngine(services.db, sources)  # a new process: state from the table
    clock.advance(minutes=1)
    assert await restarted.tick(clock.now) == []
    async with services.db.transaction() as conn:
        count = (await conn.execute(sa.select(sa.func.count()).select_from(slo_alerts))).scalar()
    assert count == len(first)


async def test_minutes_are_counted_from_the_payments(timed: tuple[Services, FrozenClock]) -> None:
    services, clock = timed
    start = clock.now.replace(second=0, microsecond=0)
    await pay(services, 3, 1)
    clock.advance(minutes=2)
    await pay(services, 2, 0)
    async with services.db.transaction() as conn:
        minutes = await payment_success_minutes(conn, start, start + timedelta(minutes=5))
    assert minutes == [(start, 3, 4), (start + timedelta(minutes=2), 2, 2)]


async def test_availability_and_latency_minutes_come_from_the_rollups(
    timed: tuple[Services, FrozenClock],
) -> None:
    from paystead.insights.alerting import availability_minutes, latency_minutes
    from paystead.telemetry import rollups

    services, clock = timed
    start = clock.now.replace(second=0, microsecond=0)
    buffer = rollups.RollupBuffer(start)
    ok, failed = (
        (rollups.API_REQUEST_DURATION, rollups.labels(**{"class": "2xx"})),
        (rollups.API_REQUEST_DURATION, rollups.labels(**{"class": "5xx"})),
    )
    for seconds in [0.01, 0.02, 0.5, 1.5, 3.0]:  # two of them slower than a second
        buffer.observe(ok, seconds)
    buffer.observe(failed, 0.05)
    buffer.seal(start + timedelta(minutes=1))
    await buffer.flush(services.db)

    async with services.db.transaction() as conn:
        availability = await availability_minutes(conn, start, start + timedelta(minutes=1))
        latency = await latency_minutes(conn, start, start + timedelta(minutes=1))
    assert availability == [(start, 5, 6)]  # the 5xx is the one bad answer
    assert latency == [(start, 4, 6)]  # 0.01, 0.02, 0.5 and the 0.05 failure are within 1 s


async def test_alerts_are_listed_over_the_api(
    client: httpx.AsyncClient, services: Services
) -> None:
    async with services.db.transaction() as conn:
        await conn.execute(
            slo_alerts.insert().values(
                id="alrt_1",
                slo="payment_success",
                rule="page_1h_5m",
                severity="page",
                state="firing",
                fired_at=services.clock(),
                long_burn=20.0,
                short_burn=31.0,
            )
        )
    listed = (await client.get("/v1/alerts")).json()
    assert [(a["id"], a["state"], a["rule"]) for a in listed["data"]] == [
        ("alrt_1", "firing", "page_1h_5m")
    ]
