"""The optimization backlog: ideas scored, placed on the seed's matrix, ranked, and,
once shipped, measured (docs/backlog.md).

An item names the KPI it should move (one of ``insights/catalog.py``), its expected
impact, effort and confidence (each 1-10) and, for RICE, its reach. It links to the
flag and experiment that test it and, when shipped, to a release marker (a KPI input
of kind release, ``insights/inputs.py``); its detail then shows the target KPI over
equal windows before and after the release, measured by the framework
(``insights/measure.py``).

Scoring (pure functions, no I/O):

- ICE = impact x confidence x ease, with ease = 11 - effort (1..1000).
- RICE = reach x impact x confidence / effort (reach: subjects per quarter).
- Quadrant: impact and effort are "high" at :data:`HIGH` (6) or more; high impact and
  low effort is a quick win, high/high a strategic project, low/low nice to have,
  low impact and high effort: avoid.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from paystead.errors import IllegalTransition, InvalidInput, NotFound
from paystead.events import catalog, outbox
from paystead.events.context import current as current_context
from paystead.ids import new_id
from paystead.insights import inputs
from paystead.insights.catalog import BY_KEY, Direction
from paystead.insights.measure import NoData, Window, measure
from paystead.platform.db import Database
from paystead.platform.schema import backlog_items, release_markers

#: A score (impact, effort) of this or more is "high" on the matrix.
HIGH = 6
#: The before/after windows of a shipped item: this long, or up to now if shorter.
DEFAULT_WINDOW = timedelta(days=7)


class Status(StrEnum):
    IDEA = "idea"
    PLANNED = "planned"
    TESTING = "testing"
    SHIPPED = "shipped"
    DROPPED = "dropped"


#: Where each status may go. Shipping goes through :meth:`BacklogService.ship`.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.IDEA: frozenset({Status.PLANNED, Status.TESTING, Status.DROPPED}),
    Status.PLANNED: frozenset({Status.IDEA, Status.TESTING, Status.DROPPED}),
    Status.TESTING: frozenset({Status.PLANNED, Status.DROPPED}),
    Status.SHIPPED: frozenset(),
    Status.DROPPED: frozenset({Status.IDEA}),
}


class Quadrant(StrEnum):
    QUICK_WIN = "quick_win"
    STRATEGIC = "strategic_project"
    NICE_TO_HAVE = "nice_to_have"
    AVOID = "avoid"

    @property
    def label(self) -> str:
        return {
            "quick_win": "Quick wins",
            "strategic_project": "Strategic projects",
            "nice_to_have": "Nice to have",
            "avoid": "Avoid",
        }[self.value]


def ice(impact: int, confidence: int, effort: int) -> int:
    return impact * confidence * (11 - effort)


def rice(reach: int | None, impact: int, confidence: int, effort: int) -> Decimal | None:
    if reach is None:
        return None
    return (Decimal(reach) * impact * confidence / effort).quantize(Decimal("0.01"))


def quadrant(impact: int, effort: int) -> Quadrant:
    high_impact, high_effort = impact >= HIGH, effort >= HIGH
    if high_impact:
        return Quadrant.STRATEGIC if high_effort else Quadrant.QUICK_WIN
    return Quadrant.AVOID if high_effort else Quadrant.NICE_TO_HAVE


def _score(name: str, value: Any) -> int:
    if type(value) is not int or not 1 <= value <= 10:
        raise InvalidInput(f"{name} is an integer from 1 to 10", param=name)
    return value


def check_kpi(key: str) -> str:
    if key not in BY_KEY:
        raise InvalidInput(
            f"{key!r} is not a KPI of the catalog (GET /v1/scorecard lists them)",
            param="target_kpi",
        )
    return key


@dataclass(frozen=True, slots=True)
class Item:
    id: str
    title: str
    hypothesis: str
    target_kpi: str
    impact: int
    effort: int
    confidence: int
    reach: int | None
    status: Status
    flag_key: str | None
    experiment_key: str | None
    release_id: str | None
    shipped_at: datetime | None
    created_by: str
    created_at: datetime
    updated_at: datetime

    @property
    def ice(self) -> int:
        return ice(self.impact, self.confidence, self.effort)

    @property
    def rice(self) -> Decimal | None:
        return rice(self.reach, self.impact, self.confidence, self.effort)

    @property
    def quadrant(self) -> Quadrant:
        return quadrant(self.impact, self.effort)

    @classmethod
    def of(cls, row: Any) -> Item:
        values = {str(k): v for k, v in row._mapping.items()}
        return cls(**{**values, "status": Status(values["status"])})

    def shown(self) -> dict[str, Any]:
        """As the API and the events show it."""
        return {
            "id": self.id,
            "object": "backlog_item",
            "title": self.title,
            "hypothesis": self.hypothesis,
            "target_kpi": self.target_kpi,
            "impact": self.impact,
            "effort": self.effort,
            "confidence": self.confidence,
            "reach": self.reach,
            "status": self.status.value,
            "flag_key": self.flag_key,
            "experiment_key": self.experiment_key,
            "release": self.release_id,
            "ice": self.ice,
            "rice": None if self.rice is None else str(self.rice),
            "quadrant": self.quadrant.value,
            "shipped_at": None if self.shipped_at is None else int(self.shipped_at.timestamp()),
            "created_by": self.created_by,
            "created": int(self.created_at.timestamp()),
            "updated": int(self.updated_at.timestamp()),
        }


def ranked(items: list[Item], by: str = "ice") -> list[Item]:
    """Highest score first; RICE puts items without reach last; ties: oldest first."""
    if by == "ice":
        return sorted(items, key=lambda i: (-i.ice, i.created_at, i.id))
    if by == "rice":
        return sorted(
            items,
            key=lambda i: (i.rice is None, -(i.rice or 0), i.created_at, i.id),
        )
    raise InvalidInput("rank by 'ice' or 'rice'", param="rank")


@dataclass(frozen=True, slots=True)
class Impact:
    """The target KPI over equal windows before and after the release."""

    kpi: str
    released_at: datetime
    before: Window
    after: Window
    before_value: Decimal | None
    after_value: Decimal | None
    #: Why a side has no value (the framework's reason), or None.
    reason: str | None

    @property
    def change(self) -> Decimal | None:
        if self.before_value is None or self.after_value is None:
            return None
        return self.after_value - self.before_value

    @property
    def verdict(self) -> str:
        """improved | worsened | unchanged | unknown, by the KPI's direction."""
        change = self.change
        if change is None:
            return "unknown"
        if change == 0:
            return "unchanged"
        better = BY_KEY[self.kpi].direction is Direction.HIGHER_IS_BETTER
        return "improved" if (change > 0) == better else "worsened"

    def shown(self) -> dict[str, Any]:
        def text(value: Decimal | None) -> str | None:
            return None if value is None else str(value)

        return {
            "kpi": self.kpi,
            "released_at": int(self.released_at.timestamp()),
            "window_seconds": int((self.after.end - self.after.start).total_seconds()),
            "before": text(self.before_value),
            "after": text(self.after_value),
            "change": text(self.change),
            "verdict": self.verdict,
            "reason": self.reason,
        }


async def measure_impact(
    conn: AsyncConnection,
    kpi: str,
    released_at: datetime,
    now: datetime,
    base_currency: str,
    window: timedelta = DEFAULT_WINDOW,
) -> Impact:
    """``kpi`` over [at - span, at) and [at, at + span), span = min(window, now - at)."""
    span = min(window, now - released_at)
    before = Window(released_at - span, released_at)
    after = Window(released_at, released_at + span)
    if span <= timedelta(0):
        return Impact(kpi, released_at, before, after, None, None, "released just now")
    measured = [await measure(conn, kpi, w, base_currency) for w in (before, after)]
    values = [None if isinstance(m, NoData) else m for m in measured]
    reasons = [
        f"{side}: {m.reason}"
        for side, m in zip(("before", "after"), measured, strict=True)
        if isinstance(m, NoData)
    ]
    return Impact(kpi, released_at, before, after, values[0], values[1], "; ".join(reasons) or None)


_FIELDS = ("title", "hypothesis", "target_kpi", "impact", "effort", "confidence", "reach")
_LINKS = ("flag_key", "experiment_key")


class BacklogService:
    def __init__(self, db: Database, clock: Callable[[], datetime], *, base_currency: str):
        self.db = db
        self.clock = clock
        self.base_currency = base_currency

    async def create(self, fields: dict[str, Any]) -> Item:
        async with self.db.transaction() as conn:
            return await create_item(conn, fields, self.clock())

    async def get(self, item_id: str) -> Item:
        async with self.db.transaction() as conn:
            return await _get(conn, item_id)

    async def list_items(self, *, status: str | None = None, rank: str = "ice") -> list[Item]:
        query = sa.select(backlog_items)
        if status is not None:
            query = query.where(backlog_items.c.status == _status(status).value)
        async with self.db.transaction() as conn:
            items = [Item.of(r) for r in await conn.execute(query)]
        return ranked(items, rank)

    async def update(self, item_id: str, fields: dict[str, Any]) -> Item:
        now = self.clock()
        values = _validated(fields, partial=True)
        async with self.db.transaction() as conn:
            item = await _get(conn, item_id, lock=True)
            if "status" in values:
                target = Status(values["status"])
                if target is Status.SHIPPED:
                    raise InvalidInput("ship an item with POST .../ship", param="status")
                if target is not item.status and target not in TRANSITIONS[item.status]:
                    raise IllegalTransition(
                        f"a {item.status.value} item cannot become {target.value}",
                        param="status",
                    )
            previous = {k: item.shown()[k] for k in values if k in item.shown()}
            await conn.execute(
                backlog_items.update()
                .where(backlog_items.c.id == item_id)
                .values(**values, updated_at=now)
            )
            updated = await _get(conn, item_id)
            await outbox.record(
                conn, catalog.BACKLOG_ITEM_UPDATED, updated.shown(), at=now, previous=previous
            )
        return updated

    async def ship(
        self, item_id: str, *, release_id: str | None = None, release_name: str | None = None
    ) -> Item:
        """Mark shipped with a release marker: ``release_id``, or a new marker now."""
        now = self.clock()
        async with self.db.transaction() as conn:
            item = await _get(conn, item_id, lock=True)
            if item.status in (Status.SHIPPED, Status.DROPPED):
                raise IllegalTransition(
                    f"a {item.status.value} item cannot be shipped", param="status"
                )
            if release_id is not None:
                found = await conn.execute(
                    sa.select(release_markers.c.id).where(release_markers.c.id == release_id)
                )
                if found.first() is None:
                    raise NotFound("release", release_id, param="release")
            else:
                kind = "experiment" if item.experiment_key else "feature"
                marker = await inputs.record(
                    conn,
                    inputs.ReleaseIn(name=(release_name or item.title)[:200], kind=kind),
                    now,
                )
                release_id = str(marker["id"])
            await conn.execute(
                backlog_items.update()
                .where(backlog_items.c.id == item_id)
                .values(
                    status=Status.SHIPPED.value,
                    release_id=release_id,
                    shipped_at=now,
                    updated_at=now,
                )
            )
            shipped = await _get(conn, item_id)
            await outbox.record(
                conn,
                catalog.BACKLOG_ITEM_SHIPPED,
                shipped.shown(),
                at=now,
                previous={"status": item.status.value, "release": None},
            )
        return shipped

    async def delete(self, item_id: str) -> Item:
        """Remove an item that never shipped (a shipped one is history: drop it instead)."""
        now = self.clock()
        async with self.db.transaction() as conn:
            item = await _get(conn, item_id, lock=True)
            if item.status is Status.SHIPPED:
                raise IllegalTransition("a shipped item is kept; it cannot be deleted")
            await conn.execute(backlog_items.delete().where(backlog_items.c.id == item_id))
            await outbox.record(
                conn, catalog.BACKLOG_ITEM_DELETED, {**item.shown(), "deleted": True}, at=now
            )
        return item

    async def impact(self, item: Item, window: timedelta = DEFAULT_WINDOW) -> Impact | None:
        """The measured before/after of a shipped item's target KPI (None otherwise)."""
        if item.release_id is None:
            return None
        async with self.db.transaction() as conn:
            released_at = (
                await conn.execute(
                    sa.select(release_markers.c.released_at).where(
                        release_markers.c.id == item.release_id
                    )
                )
            ).scalar_one()
            return await measure_impact(
                conn, item.target_kpi, released_at, self.clock(), self.base_currency, window
            )


async def create_item(conn: AsyncConnection, fields: dict[str, Any], now: datetime) -> Item:
    """Insert one item in ``conn``'s transaction, with its event."""
    values = _validated(fields, partial=False)
    status = Status(values.pop("status", Status.IDEA))
    if status is Status.SHIPPED:
        raise InvalidInput("create the item, then ship it with a release", param="status")
    row = {
        "id": new_id("bli"),
        **dict.fromkeys(("reach", *_LINKS)),
        **values,
        "status": status.value,
        "release_id": None,
        "shipped_at": None,
        "created_by": current_context().actor,
        "created_at": now,
        "updated_at": now,
    }
    await conn.execute(backlog_items.insert().values(row))
    item = await _get(conn, row["id"])
    await outbox.record(conn, catalog.BACKLOG_ITEM_CREATED, item.shown(), at=now)
    return item


async def _get(conn: AsyncConnection, item_id: str, *, lock: bool = False) -> Item:
    query = sa.select(backlog_items).where(backlog_items.c.id == item_id)
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = (await conn.execute(query)).first()
    if row is None:
        raise NotFound("backlog item", item_id, param="id")
    return Item.of(row)


def _status(value: str) -> Status:
    try:
        return Status(value)
    except ValueError:
        raise InvalidInput(
            f"status is one of {[s.value for s in Status]}", param="status"
        ) from None


def _validated(fields: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    """Checks the domain rules (the API's schema checks types and lengths first)."""
    unknown = set(fields) - {*_FIELDS, *_LINKS, "status"}
    if unknown:
        raise InvalidInput(f"unknown field {sorted(unknown)[0]!r}", param=sorted(unknown)[0])
    if not partial:
        for name in ("title", "hypothesis", "target_kpi", "impact", "effort", "confidence"):
            if fields.get(name) is None:
                raise InvalidInput(f"{name} is required", param=name)
    values: dict[str, Any] = {}
    for name, value in fields.items():
        if name in ("impact", "effort", "confidence"):
            values[name] = _score(name, value)
        elif name == "target_kpi":
            values[name] = check_kpi(value)
        elif name == "reach":
            if value is not None and (type(value) is not int or value < 0):
                raise InvalidInput("reach is a non-negative integer", param="reach")
            values[name] = value
        elif name == "status":
            values[name] = _status(value).value
        elif name in ("title", "hypothesis"):
            if not isinstance(value, str) or not value.strip():
                raise InvalidInput(f"{name} must not be empty", param=name)
            values[name] = value.strip()
        else:
            values[name] = value or None
    return values
