"""Meters and meter events on SQLite and PostgreSQL: duplicates, aggregation, windows."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from paystead.billing.usage import (
    Aggregation,
    MeterEvent,
    aggregate_values,
    billed_in,
    readings_of,
)
from paystead.config import Settings
from paystead.errors import InvalidInput, NotFound
from paystead.platform.schema import events, meter_events
from paystead.wiring import Services, build_services
from tests.conftest import FrozenClock


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
async def svc(settings: Settings, clock: FrozenClock) -> AsyncIterator[Services]:
    built = build_services(settings, clock=clock)
    try:
        yield built
    finally:
        await built.close()


async def customer(svc: Services) -> str:
    return (await svc.customers.create(email="u@example.com", name="U")).id


async def stored_count(svc: Services) -> int:
    async with svc.db.transaction() as conn:
        return int(
            (await conn.execute(sa.select(sa.func.count()).select_from(meter_events))).scalar_one()
        )


async def test_twenty_concurrent_identical_events_are_stored_and_counted_once(
    svc: Services, clock: FrozenClock
) -> None:
    cus = await customer(svc)
    await svc.usage.create_meter(key="api_calls", display_name="API calls", aggregation="sum")
    results = await asyncio.gather(
        *(
            svc.usage.record_event(customer_id=cus, meter="api_calls", value=5, identifier="req-1")
            for _ in range(20)
        )
    )
    assert sum(created for _, created in results) == 1
    assert len({event.id for event, _ in results}) == 1  # everyone got the stored event
    assert await stored_count(svc) == 1
    total = await svc.usage.aggregate(
        customer_id=cus,
        meter="api_calls",
        period_start=clock.now - timedelta(hours=1),
        period_end=clock.now + timedelta(hours=1),
    )
    assert total == 5


async def test_a_duplicate_with_another_value_keeps_the_first(svc: Services) -> None:
    cus = await customer(svc)
    await svc.usage.create_meter(key="gb", display_name="GB", aggregation="sum")
    first, created = await svc.usage.record_event(
        customer_id=cus, meter="gb", value=3, identifier="x"
    )
    again, created_again = await svc.usage.record_event(
        customer_id=cus, meter="gb", value=99, identifier="x"
    )
    assert (created, created_again) == (True, False)
    assert again == first
    # The same identifier for another customer is another event.
    other = await svc.customers.create(email="o@example.com", name="O")
    _, created_other = await svc.usage.record_event(
        customer_id=other.id, meter="gb", value=1, identifier="x"
    )
    assert created_other


@pytest.mark.parametrize("aggregation", list(Aggregation))
async def test_sql_aggregation_matches_the_pure_functions_period_by_period(
    svc: Services, clock: FrozenClock, aggregation: Aggregation
) -> None:
    cus = await customer(svc)
    other = (await svc.customers.create(email="o@example.com", name="O")).id
    key = f"m_{aggregation.value}"
    await svc.usage.create_meter(key=key, display_name=key, aggregation=aggregation.value)
    t = clock.now
    p_start, p_end, q_end = t - timedelta(hours=10), t + timedelta(hours=1), t + timedelta(hours=5)
    stored: list[MeterEvent] = []

    async def report(hours: float, value: int, unique: str) -> None:
        event, _ = await svc.usage.record_event(
            customer_id=cus,
            meter=key,
            value=value,
            identifier=f"e{len(stored)}",
            timestamp=t + timedelta(hours=hours),
            unique_key=unique,
        )
        stored.append(event)

    # Recorded before P ends: P's events.
    await report(-9, 4, "a")
    await report(-8, 9, "b")
    await report(-5, 2, "a")
    await svc.usage.record_event(
        customer_id=other, meter=key, value=1000, identifier="o1", timestamp=t - timedelta(hours=6)
    )
    clock.advance(hours=3)
    # Recorded during Q: one on time, two late (from P, and from before P) -> Q's.
    await report(2, 50, "d")
    await report(-1, 6, "c")
    await report(-20, 100, "a")
    expected = {
        Aggregation.SUM: (4 + 9 + 2, 50 + 6 + 100),
        Aggregation.COUNT: (3, 3),
        Aggregation.MAX: (9, 100),
        Aggregation.LAST: (2, 50),
        Aggregation.UNIQUE_COUNT: (2, 3),
    }[aggregation]
    got = []
    for start, end in ((p_start, p_end), (p_end, q_end)):
        value = await svc.usage.aggregate(
            customer_id=cus, meter=key, period_start=start, period_end=end
        )
        billed = [e for e in stored if billed_in(e.timestamp, e.created_at, start, end)]
        assert value == aggregate_values(aggregation, readings_of(billed))
        got.append(value)
    assert tuple(got) == expected


async def test_late_events_inside_the_grace_window_go_on_the_next_period(
    svc: Services, clock: FrozenClock
) -> None:
    cus = await customer(svc)
    await svc.usage.create_meter(
        key="late", display_name="Late", aggregation="sum", grace_seconds=3600
    )
    boundary = clock.now + timedelta(hours=1)
    p1 = (boundary - timedelta(hours=2), boundary)
    p2 = (boundary, boundary + timedelta(hours=2))

    async def report(identifier: str, value: int, at: timedelta) -> None:
        await svc.usage.record_event(
            customer_id=cus,
            meter="late",
            value=value,
            identifier=identifier,
            timestamp=boundary + at,
        )

    async def usage(period: tuple[datetime, datetime]) -> int:
        return await svc.usage.aggregate(
            customer_id=cus, meter="late", period_start=period[0], period_end=period[1]
        )

    await report("on-time", 1, -timedelta(minutes=70))
    assert await usage(p1) == 1
    clock.advance(minutes=90)  # 30 minutes past the boundary: P1 has been invoiced
    await report("late", 10, -timedelta(minutes=10))  # happened in P1, inside the grace
    await report("next", 100, timedelta(minutes=10))
    with pytest.raises(InvalidInput) as too_late:  # 100 minutes old: outside the grace
        await report("lost", 1000, -timedelta(minutes=70))
    assert (too_late.value.code, too_late.value.param) == ("meter_event_too_late", "timestamp")
    assert await usage(p1) == 1  # unchanged: what P1's invoice billed stays true
    assert await usage(p2) == 110  # the late event is billed once, on the next invoice
    with pytest.raises(InvalidInput) as future:
        await report("future", 1, timedelta(minutes=36))  # now + 6 minutes
    assert future.value.param == "timestamp"
    assert await stored_count(svc) == 3


async def test_unknown_customer_and_meter_are_404s_naming_the_field(svc: Services) -> None:
    await svc.usage.create_meter(key="calls", display_name="Calls", aggregation="sum")
    with pytest.raises(NotFound) as no_customer:
        await svc.usage.record_event(customer_id="cus_nope", meter="calls", value=1, identifier="a")
    assert no_customer.value.param == "customer"
    with pytest.raises(NotFound) as no_meter:
        await svc.usage.record_event(
            customer_id=await customer(svc), meter="nope", value=1, identifier="a"
        )
    assert no_meter.value.param == "meter"
    assert await stored_count(svc) == 0


async def test_meter_keys_are_unique_and_a_retry_returns_the_meter(svc: Services) -> None:
    first, created = await svc.usage.create_meter(key="k", display_name="K", aggregation="max")
    again, created_again = await svc.usage.create_meter(
        key="k", display_name="K", aggregation="max"
    )
    assert (created, created_again, again) == (True, False, first)
    with pytest.raises(InvalidInput) as taken:
        await svc.usage.create_meter(key="k", display_name="K", aggregation="sum")
    assert (taken.value.code, taken.value.param) == ("meter_key_taken", "key")
    async with svc.db.transaction() as conn:
        types = (await conn.execute(sa.select(events.c.type))).scalars().all()
    assert types.count("meter.created") == 1


async def test_a_test_clock_customer_reports_usage_in_the_clock_s_time(
    svc: Services, clock: FrozenClock
) -> None:
    frozen = clock.now + timedelta(days=400)
    test_clock = await svc.test_clocks.create(frozen_time=frozen)
    cus = (await svc.customers.create(email="t@example.com", name="T", test_clock=test_clock.id)).id
    await svc.usage.create_meter(key="calls", display_name="Calls", aggregation="count")
    # Without a timestamp the event takes the clock's time; inside its grace window is fine
    # although that is far in the real clock's future.
    event, _ = await svc.usage.record_event(customer_id=cus, meter="calls", value=1, identifier="a")
    assert event.timestamp == frozen
    await svc.usage.record_event(
        customer_id=cus,
        meter="calls",
        value=1,
        identifier="b",
        timestamp=frozen - timedelta(hours=2),
    )
    with pytest.raises(InvalidInput):  # the real now is a year too early for this clock
        await svc.usage.record_event(
            customer_id=cus, meter="calls", value=1, identifier="c", timestamp=clock.now
        )
    await svc.test_clocks.advance(test_clock.id, frozen_time=frozen + timedelta(days=2))
    with pytest.raises(InvalidInput) as late:  # two days on, the grace window has passed
        await svc.usage.record_event(
            customer_id=cus, meter="calls", value=1, identifier="d", timestamp=frozen
        )
    assert late.value.code == "meter_event_too_late"
    assert (
        await svc.usage.aggregate(
            customer_id=cus,
            meter="calls",
            period_start=frozen - timedelta(days=1),
            period_end=frozen + timedelta(days=1),
        )
        == 2
    )


async def test_aggregate_reads_inside_the_caller_s_transaction(
    settings: Settings, clock: FrozenClock
) -> None:
    # A fresh service (empty meter cache): on SQLite a second connection would wait on
    # the one-connection pool for ever, so this also proves no second one is opened.
    first = build_services(settings, clock=clock)
    try:
        cus = await customer(first)
        await first.usage.create_meter(key="seats", display_name="Seats", aggregation="max")
        await first.usage.record_event(customer_id=cus, meter="seats", value=4, identifier="a")
    finally:
        await first.close()
    second = build_services(settings, clock=clock)
    try:
        async with second.db.transaction() as conn:
            value = await asyncio.wait_for(
                second.usage.aggregate(
                    customer_id=cus,
                    meter="seats",
                    period_start=clock.now - timedelta(hours=1),
                    period_end=clock.now + timedelta(hours=1),
                    conn=conn,
                ),
                timeout=10,
            )
        assert value == 4
    finally:
        await second.close()
