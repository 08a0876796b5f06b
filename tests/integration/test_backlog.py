"""A shipped backlog item shows its target KPI measured before and after its release,
from real payments on both backends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from paystead.config import Settings
from paystead.errors import IllegalTransition, NotFound
from paystead.insights.inputs import ReleaseIn, record
from paystead.money import Money
from paystead.optimize.backlog import Status
from paystead.payments.service import CreatePayment
from paystead.platform.schema import events, release_markers
from paystead.wiring import Services, build_services
from tests.conftest import FrozenClock

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
IDEA = {
    "title": "Retry soft declines on the second gateway",
    "hypothesis": "Falling back on soft declines lifts the payment success rate by 5 points",
    "target_kpi": "payment_success_rate",
    "impact": 8,
    "effort": 3,
    "confidence": 6,
    "reach": 40_000,
    "flag_key": "payments.retry_policy",
}


@pytest.fixture
async def timed(settings: Settings) -> AsyncIterator[tuple[Services, FrozenClock]]:
    clock = FrozenClock(START)
    built = build_services(settings, clock=clock)
    try:
        yield built, clock
    finally:
        await built.close()


async def pay(services: Services, ok: int, declined: int, amount: int = 10_000) -> None:
    for token in ["pm_card_visa"] * ok + ["pm_card_declined"] * declined:
        await services.payments.create(CreatePayment(Money(amount, "INR"), token))


async def test_shipping_measures_the_target_kpi_before_and_after(
    timed: tuple[Services, FrozenClock],
) -> None:
    services, clock = timed
    item = await services.backlog.create(IDEA)
    assert (item.status, item.ice, item.quadrant.value) == (Status.IDEA, 384, "quick_win")
    assert await services.backlog.impact(item) is None  # not shipped: nothing to measure

    await pay(services, ok=8, declined=2)  # 80 % before
    clock.advance(minutes=30)
    testing = await services.backlog.update(item.id, {"status": "testing"})
    shipped = await services.backlog.ship(testing.id, release_name="Soft-decline fallback")
    assert shipped.status is Status.SHIPPED and shipped.release_id is not None
    assert shipped.shipped_at == clock.now
    clock.advance(minutes=1)
    await pay(services, ok=19, declined=1)  # 95 % after
    clock.advance(minutes=29)

    impact = await services.backlog.impact(shipped)
    assert impact is not None
    assert impact.before.start == START and impact.after.end == clock.now  # 30 min each side
    assert impact.before_value == Decimal(80) and impact.after_value == Decimal(95)
    assert impact.change == Decimal(15) and impact.verdict == "improved"

    async with services.db.transaction() as conn:
        marker = (
            await conn.execute(
                sa.select(release_markers).where(release_markers.c.id == shipped.release_id)
            )
        ).one()
        types = [r.type for r in await conn.execute(sa.select(events.c.type))]
    assert (marker.name, marker.kind, marker.released_at) == (
        "Soft-decline fallback",
        "feature",
        START + timedelta(minutes=30),
    )
    for name in ("backlog_item.created", "backlog_item.updated", "backlog_item.shipped"):
        assert name in types
    assert "kpi_input.recorded" in types  # the release marker itself

    with pytest.raises(IllegalTransition):
        await services.backlog.ship(shipped.id)
    with pytest.raises(IllegalTransition):
        await services.backlog.update(shipped.id, {"status": "idea"})
    with pytest.raises(IllegalTransition):
        await services.backlog.delete(shipped.id)


async def test_shipping_with_an_existing_release_shows_a_kpi_that_got_worse(
    timed: tuple[Services, FrozenClock],
) -> None:
    services, clock = timed
    item = await services.backlog.create(
        {**IDEA, "target_kpi": "average_order_value", "impact": 3, "effort": 8}
    )
    assert item.quadrant.value == "avoid"
    await pay(services, ok=4, declined=0, amount=20_000)  # AOV 200.00 before
    clock.advance(hours=2)
    async with services.db.transaction() as conn:
        marker = await record(conn, ReleaseIn(name="Upsell widget", kind="feature"), clock.now)
    clock.advance(minutes=5)
    await pay(services, ok=2, declined=0, amount=10_000)  # AOV 100.00 after
    clock.advance(hours=1, minutes=55)
    with pytest.raises(NotFound) as missing:
        await services.backlog.ship(item.id, release_id="rel_nope")
    assert missing.value.param == "release"
    shipped = await services.backlog.ship(item.id, release_id=str(marker["id"]))
    impact = await services.backlog.impact(shipped)
    assert impact is not None
    assert (impact.before_value, impact.after_value) == (Decimal(200), Decimal(100))
    assert impact.verdict == "worsened"
    # A window with no payments on one side says why instead of a number.
    clock.advance(days=30)
    late = await services.backlog.impact(shipped, timedelta(hours=1))  # 10:00 to 12:00
    assert late is not None and late.before_value is None and late.after_value == Decimal(100)
    assert late.reason == "before: no INR captures in the window" and late.verdict == "unknown"
    listed = await services.backlog.list_items(status="shipped")
    assert [i.id for i in listed] == [item.id]


async def test_delete_and_drop(timed: tuple[Services, FrozenClock]) -> None:
    services, _ = timed
    first = await services.backlog.create(IDEA)
    second = await services.backlog.create({**IDEA, "title": "Cache BIN lookups", "impact": 9})
    dropped = await services.backlog.update(first.id, {"status": "dropped"})
    assert dropped.status is Status.DROPPED
    with pytest.raises(IllegalTransition):
        await services.backlog.ship(first.id)
    await services.backlog.delete(second.id)
    with pytest.raises(NotFound):
        await services.backlog.get(second.id)
    assert [i.id for i in await services.backlog.list_items()] == [first.id]
