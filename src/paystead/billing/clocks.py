"""Test clocks (like Stripe's): a frozen "now" for the customers created on one.

Every billing action on such a customer (creating or changing a subscription, the
billing run) takes the clock's ``frozen_time`` as now. :meth:`TestClockService.advance`
moves it forward and runs the billing run for the clock's customers at each due
instant in order (renewals, trial ends, dunning retries) up to the new time, so a year
of renewals takes seconds. Customers without a clock live on the real clock and are
billed by the run in ``paystead serve`` (and ``paystead billing run``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from paystead.errors import Conflict, InvalidInput, NotFound
from paystead.events import catalog
from paystead.events.outbox import record
from paystead.ids import new_id
from paystead.platform.db import Database
from paystead.platform.schema import customers, subscriptions, test_clocks

READY = "ready"
ADVANCING = "advancing"
DELETED = "deleted"


@dataclass(frozen=True)
class TestClock:
    __test__ = False  # not a pytest class

    id: str
    name: str | None
    frozen_time: datetime
    status: str
    created_at: datetime


def test_clock_object(c: TestClock) -> dict[str, Any]:
    return {
        "id": c.id,
        "object": "test_clock",
        "name": c.name,
        "frozen_time": int(c.frozen_time.timestamp()),
        "status": c.status,
        "created": int(c.created_at.timestamp()),
    }


def _clock(row: Any) -> TestClock:
    return TestClock(row.id, row.name, row.frozen_time, row.status, row.created_at)


async def get_clock(conn: AsyncConnection, clock_id: str, *, param: str | None = None) -> TestClock:
    row = (await conn.execute(sa.select(test_clocks).where(test_clocks.c.id == clock_id))).first()
    if row is None or row.status == DELETED:
        raise NotFound("test_clock", clock_id, param=param)
    return _clock(row)


async def customer_now(
    conn: AsyncConnection,
    customer_id: str,
    clock: Callable[[], datetime],
    *,
    param: str = "customer",
) -> tuple[datetime, str | None]:
    """Now for ``customer_id`` (its test clock's frozen time, or ``clock()``) and the
    clock's id; :class:`NotFound` naming ``param`` for an unknown customer."""
    row = (
        await conn.execute(
            sa.select(customers.c.test_clock_id, test_clocks.c.frozen_time)
            .select_from(
                customers.outerjoin(test_clocks, test_clocks.c.id == customers.c.test_clock_id)
            )
            .where(customers.c.id == customer_id)
        )
    ).first()
    if row is None:
        raise NotFound("customer", customer_id, param=param)
    if row.test_clock_id is None:
        return clock(), None
    return row.frozen_time, row.test_clock_id


#: ``run(now, clock_id)``: the billing run for one clock's customers up to ``now``.
RunDue = Callable[[datetime, str], Awaitable[object]]


class TestClockService:
    __test__ = False  # not a pytest class

    def __init__(self, db: Database, clock: Callable[[], datetime]):
        self.db = db
        self.clock = clock
        self.run_due: RunDue | None = None  # set by wiring (the billing run)

    async def create(self, *, frozen_time: datetime, name: str | None = None) -> TestClock:
        if frozen_time.tzinfo is None:
            raise InvalidInput("frozen_time must carry a time zone", param="frozen_time")
        created = TestClock(
            new_id("clock"), name, frozen_time.replace(microsecond=0), READY, self.clock()
        )
        async with self.db.transaction() as conn:
            await conn.execute(
                test_clocks.insert().values(
                    id=created.id,
                    name=created.name,
                    frozen_time=created.frozen_time,
                    status=created.status,
                    created_at=created.created_at,
                )
            )
            await record(
                conn, catalog.TEST_CLOCK_CREATED, test_clock_object(created), at=created.created_at
            )
        return created

    async def get(self, clock_id: str) -> TestClock:
        async with self.db.transaction() as conn:
            return await get_clock(conn, clock_id)

    async def list(self, *, limit: int = 100) -> list[TestClock]:
        async with self.db.transaction() as conn:
            rows = await conn.execute(
                sa.select(test_clocks)
                .where(test_clocks.c.status != DELETED)
                .order_by(test_clocks.c.id.desc())
                .limit(limit)
            )
            return [_clock(r) for r in rows]

    async def advance(self, clock_id: str, *, frozen_time: datetime) -> TestClock:
        """Move the clock to ``frozen_time`` (strictly later), billing on the way."""
        if frozen_time.tzinfo is None:
            raise InvalidInput("frozen_time must carry a time zone", param="frozen_time")
        target = frozen_time.replace(microsecond=0)
        async with self.db.transaction() as conn:
            current = await get_clock(conn, clock_id)
            if target <= current.frozen_time:
                raise InvalidInput(
                    "a test clock only moves forward: frozen_time must be after "
                    f"{current.frozen_time.isoformat()}",
                    param="frozen_time",
                )
            claimed = await conn.execute(
                test_clocks.update()
                .where(test_clocks.c.id == clock_id, test_clocks.c.status == READY)
                .values(status=ADVANCING)
            )
            if claimed.rowcount != 1:
                raise Conflict("the test clock is already advancing", code="test_clock_advancing")
        moved = False
        try:
            if self.run_due is not None:
                await self.run_due(target, clock_id)
            moved = True
        finally:  # a failed run leaves the clock where it was, ready to try again
            async with self.db.transaction() as conn:
                values: dict[str, Any] = {"status": READY}
                if moved:
                    values["frozen_time"] = target
                await conn.execute(
                    test_clocks.update()
                    .where(test_clocks.c.id == clock_id, test_clocks.c.status == ADVANCING)
                    .values(values)
                )
                advanced = await get_clock(conn, clock_id)
                if moved:
                    await record(
                        conn,
                        catalog.TEST_CLOCK_ADVANCED,
                        test_clock_object(advanced),
                        at=self.clock(),
                    )
        return advanced

    async def delete(self, clock_id: str) -> TestClock:
        """Delete the clock; its customers' live subscriptions are canceled at its time."""
        async with self.db.transaction() as conn:
            found = await get_clock(conn, clock_id)
            if found.status == ADVANCING:
                raise Conflict("the test clock is advancing", code="test_clock_advancing")
            await conn.execute(
                test_clocks.update().where(test_clocks.c.id == clock_id).values(status=DELETED)
            )
            await conn.execute(
                subscriptions.update()
                .where(
                    subscriptions.c.test_clock_id == clock_id, subscriptions.c.status != "canceled"
                )
                .values(
                    status="canceled", canceled_at=found.frozen_time, ended_at=found.frozen_time
                )
            )
            gone = TestClock(found.id, found.name, found.frozen_time, DELETED, found.created_at)
            await record(conn, catalog.TEST_CLOCK_DELETED, test_clock_object(gone), at=self.clock())
        return gone
