"""Per-minute rollups: the process aggregates in memory, then writes a minute at a time.

The hot path only adds to an in-memory dict (no I/O, no lock: everything runs on the
event loop). Once a minute :meth:`RollupBuffer.seal` closes the minute and
:meth:`RollupBuffer.flush` writes every closed minute in **one transaction**: one row
per (minute, metric, labels) with ``count``, ``sum`` and the bucket counts of
:mod:`paystead.telemetry.histogram`. Rows are upserted *additively* (``ON CONFLICT DO
UPDATE SET count = count + excluded.count ...``), so several worker processes, or a
process restarted within the minute, add to the same row instead of clobbering it,
and a query merges any window with plain ``SUM``\\ s.

A row is one of three kinds, by metric:

- a **histogram** (durations, seconds): count, sum, buckets;
- a **counter**: count only;
- a **gauge** sampled once a minute: count = samples, sum = their total (mean = sum / count).

The metrics written (``labels`` is canonical JSON, keys sorted, ``{}`` for none):

==============================  ==========  ==========================================
metric                          kind        labels
==============================  ==========  ==========================================
``http_request_duration``       histogram   method, route (the template), status
``api_request_duration``        histogram   class (``2xx`` ... ``5xx``): ``/v1`` routes
``api_cold_requests``           counter     (none): ``/v1`` requests in a process's first minute
``db_statement_duration``       histogram   op (``select``, ``insert``, ``commit``...)
``payments``                    counter     gateway, method, currency, channel, outcome
``probe_duration``              histogram   result (``ok``, ``failed``)
``delivery_duration``           histogram   channel (webhook, email, sms), outcome
``cache_lookups``               counter     cache, result (``hit``, ``miss``)
``process_starts``              counter     (none)
``outbox_lag_seconds``          gauge       (none)
``host_cpu_percent``            gauge       (none)
``host_memory_percent``         gauge       (none)
==============================  ==========  ==========================================

A minute's data is stamped with the minute it was sealed *in* (the loop seals just
after each boundary), so a late wake-up of a few milliseconds shifts that much data
into the previous minute, never more. A flush that fails keeps its minutes for the next
one (up to :data:`KEEP_UNFLUSHED` of them).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from paystead.platform.db import Database
from paystead.platform.schema import ROLLUP_BUCKET_COLUMNS, telemetry_rollups
from paystead.telemetry.histogram import BUCKETS, bucket_of

log = logging.getLogger(__name__)

HTTP_REQUEST_DURATION = "http_request_duration"
API_REQUEST_DURATION = "api_request_duration"
API_COLD_REQUESTS = "api_cold_requests"
DB_STATEMENT_DURATION = "db_statement_duration"
PAYMENTS = "payments"
PROBE_DURATION = "probe_duration"
DELIVERY_DURATION = "delivery_duration"
CACHE_LOOKUPS = "cache_lookups"
PROCESS_STARTS = "process_starts"
OUTBOX_LAG = "outbox_lag_seconds"
HOST_CPU = "host_cpu_percent"
HOST_MEMORY = "host_memory_percent"

#: Closed minutes kept in memory while the database refuses them.
KEEP_UNFLUSHED = 60

_BUCKETS = [telemetry_rollups.c[name] for name in ROLLUP_BUCKET_COLUMNS]
assert len(_BUCKETS) == BUCKETS, "schema bucket columns and histogram bounds disagree"

Key = tuple[str, str]  # (metric, labels)


def labels(**values: str) -> str:
    """The canonical label string: JSON with sorted keys (``{}`` for none)."""
    return orjson.dumps(values, option=orjson.OPT_SORT_KEYS).decode()


def minute_of(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


class Series:
    """One (metric, labels)'s aggregate over a minute."""

    __slots__ = ("buckets", "count", "sum")

    def __init__(self) -> None:
        self.count = 0
        self.sum = 0.0
        self.buckets = [0] * BUCKETS

    def merge(self, other: Series) -> None:
        self.count += other.count
        self.sum += other.sum
        for i, n in enumerate(other.buckets):
            self.buckets[i] += n


class RollupBuffer:
    def __init__(self, now: datetime):
        self._minute = minute_of(now)
        self._current: dict[Key, Series] = {}
        self._sealed: list[tuple[datetime, dict[Key, Series]]] = []

    def _series(self, key: Key) -> Series:
        series = self._current.get(key)
        if series is None:
            series = self._current[key] = Series()
        return series

    def observe(self, key: Key, seconds: float) -> None:
        """A histogram observation (a duration in seconds)."""
        series = self._current.get(key) or self._series(key)
        series.count += 1
        series.sum += seconds
        series.buckets[bucket_of(seconds)] += 1

    def add(self, key: Key, count: int = 1) -> None:
        """A counter increment."""
        if count:
            (self._current.get(key) or self._series(key)).count += count

    def sample(self, key: Key, value: float) -> None:
        """A gauge sample."""
        series = self._current.get(key) or self._series(key)
        series.count += 1
        series.sum += value

    def seal(self, now: datetime) -> None:
        """Close the minute in progress; what comes next counts for ``now``'s minute."""
        if self._current:
            self._sealed.append((self._minute, self._current))
            del self._sealed[:-KEEP_UNFLUSHED]
        self._current = {}
        self._minute = minute_of(now)

    @property
    def pending_minutes(self) -> int:
        return len(self._sealed)

    async def flush(self, db: Database) -> int:
        """Write every sealed minute in one transaction; returns the rows written."""
        if not self._sealed:
            return 0
        sealed, self._sealed = self._sealed, []
        merged: dict[tuple[datetime, str, str], Series] = {}
        for minute, data in sealed:
            for (metric, label), series in data.items():
                target = merged.get((minute, metric, label))
                if target is None:
                    merged[(minute, metric, label)] = series
                else:
                    target.merge(series)
        # Sorted, so concurrent flushers lock rows in one order (no deadlocks).
        rows = [_row(key, merged[key]) for key in sorted(merged)]
        try:
            async with db.transaction() as conn:
                await conn.execute(_upsert(db.dialect), rows)
        except Exception:
            log.exception("could not write %d telemetry rollup rows; keeping them", len(rows))
            self._sealed = (sealed + self._sealed)[-KEEP_UNFLUSHED:]
            raise
        return len(rows)


def _row(key: tuple[datetime, str, str], series: Series) -> dict[str, Any]:
    minute, metric, label = key
    row: dict[str, Any] = {
        "minute": minute,
        "metric": metric,
        "labels": label,
        "count": series.count,
        "sum": series.sum,
    }
    row.update(zip(ROLLUP_BUCKET_COLUMNS, series.buckets, strict=True))
    return row


_UPSERTS: dict[str, Any] = {}


def _upsert(dialect: str) -> Any:
    statement = _UPSERTS.get(dialect)
    if statement is None:
        insert = (postgresql if dialect == "postgresql" else sqlite).insert(telemetry_rollups)
        additive = ("count", "sum", *ROLLUP_BUCKET_COLUMNS)
        statement = _UPSERTS[dialect] = insert.on_conflict_do_update(
            index_elements=["minute", "metric", "labels"],
            set_={name: telemetry_rollups.c[name] + insert.excluded[name] for name in additive},
        )
    return statement


async def purge(db: Database, before: datetime) -> int:
    """Delete the rows of minutes before ``before``; returns how many."""
    async with db.transaction() as conn:
        result = await conn.execute(
            telemetry_rollups.delete().where(telemetry_rollups.c.minute < before)
        )
    return int(result.rowcount or 0)


# -- reading: merged over a window --------------------------------------------------


@dataclass(frozen=True, slots=True)
class Totals:
    count: int
    sum: float
    buckets: tuple[int, ...]


_EMPTY = Totals(0, 0.0, (0,) * BUCKETS)


def _window(start: datetime, end: datetime) -> list[sa.ColumnElement[bool]]:
    return [telemetry_rollups.c.minute >= start, telemetry_rollups.c.minute < end]


async def totals(
    conn: AsyncConnection,
    metric: str,
    start: datetime,
    end: datetime,
    *,
    label: str | None = None,
) -> Totals:
    """Counts, sums and bucket counts of ``metric`` merged over the minutes in
    ``[start, end)``, over every label set or the one named."""
    where = [telemetry_rollups.c.metric == metric, *_window(start, end)]
    if label is not None:
        where.append(telemetry_rollups.c.labels == label)
    row = (
        await conn.execute(
            sa.select(
                sa.func.sum(telemetry_rollups.c.count),
                sa.func.sum(telemetry_rollups.c.sum),
                *(sa.func.sum(column) for column in _BUCKETS),
            ).where(*where)
        )
    ).one()
    if row[0] is None:
        return _EMPTY
    return Totals(int(row[0]), float(row[1]), tuple(int(n) for n in row[2:]))


async def counts_by_label(
    conn: AsyncConnection, metric: str, start: datetime, end: datetime
) -> dict[str, int]:
    """``metric``'s counts per label set over ``[start, end)``."""
    rows = await conn.execute(
        sa.select(telemetry_rollups.c.labels, sa.func.sum(telemetry_rollups.c.count))
        .where(telemetry_rollups.c.metric == metric, *_window(start, end))
        .group_by(telemetry_rollups.c.labels)
    )
    return {label: int(count) for label, count in rows}


async def minutes(
    conn: AsyncConnection, metrics: Iterable[str], start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """Raw rows (for inspection and tests), oldest first."""
    rows = await conn.execute(
        sa.select(telemetry_rollups)
        .where(telemetry_rollups.c.metric.in_(list(metrics)), *_window(start, end))
        .order_by(
            telemetry_rollups.c.minute, telemetry_rollups.c.metric, telemetry_rollups.c.labels
        )
    )
    return [dict(row._mapping) for row in rows]
