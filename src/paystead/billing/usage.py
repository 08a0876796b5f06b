"""Usage meters and meter events: what metered prices bill, in arrears.

A :class:`Meter` names a kind of usage (``api_calls``) and how a period's events
aggregate: ``sum`` of values, ``count`` of events, ``max`` value, ``last`` value (the
event with the latest timestamp), or ``unique_count`` (distinct ``unique_key``; an
event without one counts its value as the key). Values are non-negative integers in
the meter's own smallest unit (calls, bytes, milliseconds): billing multiplies them by
integer minor-unit prices, so no ``Decimal`` is needed and no rounding happens here.

Events are keyed by ``(meter, customer, identifier)`` under a unique constraint and
inserted with ``ON CONFLICT DO NOTHING``: however many duplicates race, one row is
stored and it counts once; every duplicate gets the stored event back. The hot path is
one INSERT per event (the meter comes from an in-process cache: meters never change).

Time rules, with ``now`` the customer's now: its test clock's frozen time for a
customer created on a test clock (``billing/clocks.py``), else the injectable clock.
Customers without a test clock are remembered in a bounded in-process set, so their
events cost no extra query:

- a timestamp more than ``max_future`` (default 5 minutes) ahead of now is refused;
- a timestamp older than the meter's grace window (``grace_seconds``, default 24 h)
  is refused (422, ``meter_event_too_late``, param ``timestamp``);
- an accepted event is billed in the period its timestamp falls in if it was recorded
  before that period ended; an event recorded after its period ended (a late event,
  inside the grace window) is billed in the period in which it was *recorded*, i.e. on
  the next invoice (:func:`billed_in`).

So a period's usage is final the moment the period ends, whenever the billing run
reads it (at the boundary, or an hour later): a late event can never fall between two
invoices, and is never counted twice. Periods must be contiguous for this (each starts
where the previous ended), as a subscription's are. The one window left is an event
whose transaction commits in the milliseconds after a boundary that the billing run
read at that exact instant; runs that read a few seconds after the boundary close it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from paystead.billing.clocks import customer_now
from paystead.errors import InvalidInput, NotFound
from paystead.events import catalog
from paystead.events.outbox import record
from paystead.ids import new_id
from paystead.money import MAX_AMOUNT
from paystead.platform.db import Database, insert_ignoring_conflicts
from paystead.platform.idempotency import Idempotency, NoIdempotency
from paystead.platform.schema import customers, meter_events, meters

DEFAULT_GRACE = timedelta(hours=24)
DEFAULT_MAX_FUTURE = timedelta(minutes=5)
#: The longest grace window a meter may have (late events older than this never count).
MAX_GRACE = timedelta(days=35)
#: How many customers without a test clock :class:`UsageService` remembers.
REAL_TIME_CUSTOMERS_CACHED = 100_000


class Aggregation(StrEnum):
    SUM = "sum"
    COUNT = "count"
    MAX = "max"
    LAST = "last"
    UNIQUE_COUNT = "unique_count"


@dataclass(frozen=True, slots=True)
class Meter:
    id: str
    key: str
    display_name: str
    aggregation: Aggregation
    grace: timedelta
    created_at: datetime


@dataclass(frozen=True, slots=True)
class MeterEvent:
    id: str
    meter_key: str
    customer_id: str
    identifier: str
    value: int
    unique_key: str | None
    timestamp: datetime
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Reading:
    """One event as aggregation sees it (pure input for :func:`aggregate_values`)."""

    timestamp: datetime
    value: int
    unique_key: str | None = None
    seq: str = ""  # tie-break for ``last`` among equal timestamps: the later-stored event


def aggregate_values(aggregation: Aggregation, readings: Iterable[Reading]) -> int:
    """A period's usage from its events; 0 for a period without events."""
    items = list(readings)
    if not items:
        return 0
    if aggregation is Aggregation.SUM:
        return sum(r.value for r in items)
    if aggregation is Aggregation.COUNT:
        return len(items)
    if aggregation is Aggregation.MAX:
        return max(r.value for r in items)
    if aggregation is Aggregation.LAST:
        return max(items, key=lambda r: (r.timestamp, r.seq)).value
    return len({r.unique_key if r.unique_key is not None else str(r.value) for r in items})


def billed_in(
    occurred_at: datetime, recorded_at: datetime, period_start: datetime, period_end: datetime
) -> bool:
    """Whether an event is billed in ``[period_start, period_end)``: on time (happened
    in the period, recorded before it ended), or late from an earlier period and
    recorded during this one."""
    if period_start <= occurred_at < period_end:
        return recorded_at < period_end
    return occurred_at < period_start <= recorded_at < period_end


def check_event_time(
    timestamp: datetime, *, now: datetime, grace: timedelta, max_future: timedelta
) -> None:
    """Refuse a timestamp too far ahead of ``now`` or older than the grace window."""
    if timestamp.tzinfo is None:
        raise InvalidInput("timestamp must carry a time zone", param="timestamp")
    if timestamp > now + max_future:
        raise InvalidInput(
            f"timestamp is more than {int(max_future.total_seconds())} s in the future",
            code="meter_event_in_future",
            param="timestamp",
        )
    if timestamp < now - grace:
        raise InvalidInput(
            f"timestamp is older than the meter's grace window of "
            f"{int(grace.total_seconds())} s; that period is closed",
            code="meter_event_too_late",
            param="timestamp",
        )


def _meter(row: Any) -> Meter:
    m = row._mapping
    return Meter(
        id=m["id"],
        key=m["key"],
        display_name=m["display_name"],
        aggregation=Aggregation(m["aggregation"]),
        grace=timedelta(seconds=m["grace_seconds"]),
        created_at=m["created_at"],
    )


def meter_object(meter: Meter) -> dict[str, Any]:
    return {
        "id": meter.id,
        "object": "meter",
        "key": meter.key,
        "display_name": meter.display_name,
        "aggregation": meter.aggregation.value,
        "grace_seconds": int(meter.grace.total_seconds()),
        "created": int(meter.created_at.timestamp()),
    }


_INSERT_EVENT = {
    dialect: insert_ignoring_conflicts(dialect, meter_events, {}).returning(meter_events.c.id)
    for dialect in ("postgresql", "sqlite")
}
_FIND_EVENT = sa.select(meter_events).where(
    meter_events.c.meter_id == sa.bindparam("b_meter_id"),
    meter_events.c.customer_id == sa.bindparam("b_customer_id"),
    meter_events.c.identifier == sa.bindparam("b_identifier"),
)
_occurred, _recorded = meter_events.c.occurred_at, meter_events.c.created_at
#: :func:`billed_in` in SQL. ``b_floor`` (start - grace) bounds the index range: no
#: accepted event is older than its recording time minus the grace window.
#: ``b_recorded_end`` is the period's end, except for a final period (nothing follows
#: it), which also takes the events recorded after it ended, up to the grace window.
_IN_PERIOD = sa.and_(
    meter_events.c.meter_id == sa.bindparam("b_meter_id"),
    meter_events.c.customer_id == sa.bindparam("b_customer_id"),
    _occurred >= sa.bindparam("b_floor"),
    _occurred < sa.bindparam("b_end"),
    sa.or_(
        sa.and_(_occurred >= sa.bindparam("b_start"), _recorded < sa.bindparam("b_recorded_end")),
        sa.and_(
            _occurred < sa.bindparam("b_start"),
            _recorded >= sa.bindparam("b_start"),
            _recorded < sa.bindparam("b_recorded_end"),
        ),
    ),
)
_AGGREGATE: dict[Aggregation, sa.Select[Any]] = {
    Aggregation.SUM: sa.select(sa.func.coalesce(sa.func.sum(meter_events.c.value), 0)),
    Aggregation.COUNT: sa.select(sa.func.count()),
    Aggregation.MAX: sa.select(sa.func.coalesce(sa.func.max(meter_events.c.value), 0)),
    Aggregation.UNIQUE_COUNT: sa.select(sa.func.count(sa.distinct(meter_events.c.unique_key))),
    Aggregation.LAST: sa.select(meter_events.c.value)
    .order_by(meter_events.c.occurred_at.desc(), meter_events.c.id.desc())
    .limit(1),
}
_AGGREGATE = {k: q.select_from(meter_events).where(_IN_PERIOD) for k, q in _AGGREGATE.items()}


class UsageService:
    def __init__(
        self,
        db: Database,
        clock: Callable[[], datetime],
        *,
        default_grace: timedelta = DEFAULT_GRACE,
        max_future: timedelta = DEFAULT_MAX_FUTURE,
    ):
        self.db = db
        self.clock = clock
        self.default_grace = default_grace
        self.max_future = max_future
        self._meters: dict[str, Meter] = {}
        self._real_time: OrderedDict[str, None] = OrderedDict()

    async def now_for(self, customer_id: str) -> datetime:
        """The customer's now (its test clock's frozen time, or the clock's); 404 naming
        ``customer`` for an unknown customer."""
        if customer_id in self._real_time:
            self._real_time.move_to_end(customer_id)
            return self.clock()
        async with self.db.transaction() as conn:
            now, clock_id = await customer_now(conn, customer_id, self.clock)
        if clock_id is None:  # a customer's test clock is set at creation, never later
            self._real_time[customer_id] = None
            if len(self._real_time) > REAL_TIME_CUSTOMERS_CACHED:
                self._real_time.popitem(last=False)
        return now

    # -- meters ----------------------------------------------------------------------

    async def create_meter(
        self,
        *,
        key: str,
        display_name: str,
        aggregation: str,
        grace_seconds: int | None = None,
        idem: Idempotency | None = None,
    ) -> tuple[Meter, bool]:
        """A new meter; ``False`` with the existing one when ``key`` is taken by an
        identical meter (a retried create). A different meter under the key is a 409."""
        idem = idem or NoIdempotency()
        try:
            agg = Aggregation(aggregation)
        except ValueError:
            raise InvalidInput(
                f"aggregation must be one of {', '.join(a.value for a in Aggregation)}",
                param="aggregation",
            ) from None
        grace = self.default_grace if grace_seconds is None else timedelta(seconds=grace_seconds)
        if grace < timedelta(0) or grace > MAX_GRACE:
            raise InvalidInput(
                f"grace_seconds must be between 0 and {int(MAX_GRACE.total_seconds())}",
                param="grace_seconds",
            )
        meter = Meter(new_id("mtr"), key, display_name, agg, grace, self.clock())
        async with self.db.transaction() as conn:
            resumed = await idem.begin(conn, meter.id)
            created = resumed is None
            if resumed is not None:
                meter = await self._get(conn, key_or_id=resumed)
            else:
                inserted = await conn.execute(
                    insert_ignoring_conflicts(
                        self.db.dialect,
                        meters,
                        {
                            "id": meter.id,
                            "key": key,
                            "display_name": display_name,
                            "aggregation": agg.value,
                            "grace_seconds": int(grace.total_seconds()),
                            "created_at": meter.created_at,
                        },
                    ).returning(meters.c.id)
                )
                if inserted.first() is None:
                    existing = await self._get(conn, key_or_id=key)
                    same = (existing.display_name, existing.aggregation, existing.grace) == (
                        display_name,
                        agg,
                        grace,
                    )
                    if not same:
                        raise InvalidInput(
                            f"a different meter with key {key!r} exists",
                            code="meter_key_taken",
                            param="key",
                        )
                    meter, created = existing, False
                else:
                    await record(
                        conn, catalog.METER_CREATED, meter_object(meter), at=meter.created_at
                    )
            await idem.complete(conn, meter)
        return meter, created

    async def meter(self, key: str, *, param: str = "meter") -> Meter:
        """The meter by key (cached: meters are immutable)."""
        found = self._meters.get(key)
        if found is None:
            async with self.db.transaction() as conn:
                found = await self._get(conn, key_or_id=key, param=param)
            self._meters[key] = found
        return found

    async def list_meters(self) -> list[Meter]:
        async with self.db.transaction() as conn:
            rows = await conn.execute(sa.select(meters).order_by(meters.c.id))
            return [_meter(r) for r in rows]

    @staticmethod
    async def _get(conn: AsyncConnection, *, key_or_id: str, param: str = "meter") -> Meter:
        row = (
            await conn.execute(
                sa.select(meters).where(sa.or_(meters.c.key == key_or_id, meters.c.id == key_or_id))
            )
        ).first()
        if row is None:
            raise NotFound("meter", key_or_id, param=param)
        return _meter(row)

    # -- events ----------------------------------------------------------------------

    async def record_event(
        self,
        *,
        customer_id: str,
        meter: str,
        value: int,
        identifier: str,
        timestamp: datetime | None = None,
        unique_key: str | None = None,
    ) -> tuple[MeterEvent, bool]:
        """Store one usage event; ``(event, True)`` when new, ``(stored event, False)``
        for a duplicate ``identifier`` (the stored one wins, whatever the duplicate says)."""
        if type(value) is not int or not 0 <= value <= MAX_AMOUNT:
            raise InvalidInput(f"value must be an integer from 0 to {MAX_AMOUNT}", param="value")
        found = await self.meter(meter)
        now = await self.now_for(customer_id)
        at = now if timestamp is None else timestamp
        check_event_time(at, now=now, grace=found.grace, max_future=self.max_future)
        if found.aggregation is Aggregation.UNIQUE_COUNT and unique_key is None:
            unique_key = str(value)
        event = MeterEvent(
            id=new_id("mev"),
            meter_key=found.key,
            customer_id=customer_id,
            identifier=identifier,
            value=value,
            unique_key=unique_key,
            timestamp=at,
            created_at=now,
        )
        try:
            async with self.db.transaction() as conn:
                inserted = await conn.execute(
                    _INSERT_EVENT[self.db.dialect],
                    {
                        "id": event.id,
                        "meter_id": found.id,
                        "customer_id": customer_id,
                        "identifier": identifier,
                        "value": value,
                        "unique_key": unique_key,
                        "occurred_at": at,
                        "created_at": now,
                    },
                )
                if inserted.first() is not None:
                    return event, True
                row = (
                    await conn.execute(
                        _FIND_EVENT,
                        {
                            "b_meter_id": found.id,
                            "b_customer_id": customer_id,
                            "b_identifier": identifier,
                        },
                    )
                ).one()
        except sa.exc.IntegrityError:
            # Only a foreign key can fail here (the unique key is ignored): the customer.
            raise NotFound("customer", customer_id, param="customer") from None
        m = row._mapping
        stored = MeterEvent(
            id=m["id"],
            meter_key=found.key,
            customer_id=m["customer_id"],
            identifier=m["identifier"],
            value=m["value"],
            unique_key=m["unique_key"],
            timestamp=m["occurred_at"],
            created_at=m["created_at"],
        )
        return stored, False

    # -- aggregation -----------------------------------------------------------------

    async def aggregate(
        self,
        *,
        customer_id: str,
        meter: str,
        period_start: datetime,
        period_end: datetime,
        conn: AsyncConnection | None = None,
        recorded_before: datetime | None = None,
    ) -> int:
        """Usage of ``customer_id`` on ``meter`` (its key) billed in
        ``[period_start, period_end)`` (:func:`billed_in`: events that happened in the
        period and were recorded before its end, plus late events of an earlier period
        recorded during it), by the meter's aggregation; 0 without events. With
        ``conn``, read in the caller's transaction.

        ``recorded_before`` (later than ``period_end``) is for a final period, which no
        later invoice follows: its late events recorded up to then count as well."""
        if period_end < period_start:
            raise InvalidInput("the period ends before it starts", param="end")
        recorded_end = max(recorded_before or period_end, period_end)
        found = self._meters.get(meter)
        if found is None:
            if conn is None:
                found = await self.meter(meter)
            else:  # not a second connection: SQLite's pool has one
                found = self._meters[meter] = await self._get(conn, key_or_id=meter)
        params = {
            "b_meter_id": found.id,
            "b_customer_id": customer_id,
            "b_floor": period_start - found.grace,
            "b_start": period_start,
            "b_end": period_end,
            "b_recorded_end": recorded_end,
        }
        query = _AGGREGATE[found.aggregation]
        if conn is not None:
            value = (await conn.execute(query, params)).scalar()
        else:
            async with self.db.transaction() as own:
                value = (await own.execute(query, params)).scalar()
        return int(value or 0)

    async def summary(
        self, *, customer_id: str, meter: str, period_start: datetime, period_end: datetime
    ) -> tuple[Meter, int]:
        """The meter and the aggregate, for ``GET /v1/meters/{key}/summary``."""
        found = await self.meter(meter)
        async with self.db.transaction() as conn:
            exists = await conn.execute(
                sa.select(customers.c.id).where(customers.c.id == customer_id)
            )
            if exists.first() is None:
                raise NotFound("customer", customer_id, param="customer")
        value = await self.aggregate(
            customer_id=customer_id,
            meter=found.key,
            period_start=period_start,
            period_end=period_end,
        )
        return found, value


def readings_of(events: Sequence[MeterEvent]) -> list[Reading]:
    """Events as :func:`aggregate_values` reads them."""
    return [Reading(e.timestamp, e.value, e.unique_key, e.id) for e in events]
