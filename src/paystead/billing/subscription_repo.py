"""Subscriptions in the database, inside the caller's transaction, and their JSON form."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from paystead.errors import NotFound
from paystead.platform.schema import subscription_items, subscriptions


@dataclass(frozen=True)
class SubscriptionItem:
    id: str
    price_id: str
    quantity: int
    created_at: datetime


@dataclass(frozen=True)
class Subscription:
    id: str
    customer_id: str
    status: str
    currency: str
    collection_method: str
    interval: str
    interval_count: int
    billing_cycle_anchor: datetime
    current_period_start: datetime
    current_period_end: datetime
    created_at: datetime
    updated_at: datetime
    items: tuple[SubscriptionItem, ...] = ()
    days_until_due: int | None = None
    period_index: int = 0
    trial_start: datetime | None = None
    trial_end: datetime | None = None
    trial_will_end_sent: bool = False
    cancel_at_period_end: bool = False
    canceled_at: datetime | None = None
    ended_at: datetime | None = None
    paused_at: datetime | None = None
    coupon: str | None = None
    test_clock_id: str | None = None
    latest_invoice_id: str | None = None
    dunning_invoice_id: str | None = None
    dunning_started_at: datetime | None = None
    dunning_retries: int = 0
    next_retry_at: datetime | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def with_(self, **changes: Any) -> Subscription:
        return replace(self, **changes)


_COLUMNS = [f.name for f in fields(Subscription) if f.name != "items"]


def _unix(t: datetime | None) -> int | None:
    return int(t.timestamp()) if t is not None else None


def subscription_object(s: Subscription) -> dict[str, Any]:
    """The subscription as the API returns it and events carry it (Stripe-shaped)."""
    return {
        "id": s.id,
        "object": "subscription",
        "customer": s.customer_id,
        "status": s.status,
        "currency": s.currency,
        "collection_method": s.collection_method,
        "days_until_due": s.days_until_due,
        "items": [
            {
                "id": i.id,
                "object": "subscription_item",
                "price": i.price_id,
                "quantity": i.quantity,
                "created": _unix(i.created_at),
            }
            for i in s.items
        ],
        "interval": s.interval,
        "interval_count": s.interval_count,
        "billing_cycle_anchor": _unix(s.billing_cycle_anchor),
        "current_period_start": _unix(s.current_period_start),
        "current_period_end": _unix(s.current_period_end),
        "trial_start": _unix(s.trial_start),
        "trial_end": _unix(s.trial_end),
        "cancel_at_period_end": s.cancel_at_period_end,
        "canceled_at": _unix(s.canceled_at),
        "ended_at": _unix(s.ended_at),
        "paused_at": _unix(s.paused_at),
        "coupon": s.coupon,
        "test_clock": s.test_clock_id,
        "latest_invoice": s.latest_invoice_id,
        "next_retry_at": _unix(s.next_retry_at),
        "dunning_retries": s.dunning_retries,
        "metadata": dict(s.metadata),
        "created": _unix(s.created_at),
    }


async def insert(conn: AsyncConnection, s: Subscription) -> None:
    await conn.execute(subscriptions.insert().values({c: getattr(s, c) for c in _COLUMNS}))
    await insert_items(conn, s.id, s.items)


async def insert_items(
    conn: AsyncConnection, sub_id: str, items: tuple[SubscriptionItem, ...]
) -> None:
    if items:
        await conn.execute(
            subscription_items.insert(),
            [
                {
                    "id": i.id,
                    "subscription_id": sub_id,
                    "price_id": i.price_id,
                    "quantity": i.quantity,
                    "created_at": i.created_at,
                }
                for i in items
            ],
        )


async def replace_items(
    conn: AsyncConnection, sub_id: str, items: tuple[SubscriptionItem, ...]
) -> None:
    await conn.execute(
        subscription_items.delete().where(subscription_items.c.subscription_id == sub_id)
    )
    await insert_items(conn, sub_id, items)


async def save(conn: AsyncConnection, s: Subscription) -> None:
    """Write every mutable column of ``s`` (the caller holds the row lock)."""
    values = {c: getattr(s, c) for c in _COLUMNS if c not in ("id", "created_at")}
    await conn.execute(subscriptions.update().where(subscriptions.c.id == s.id).values(values))


async def _items(conn: AsyncConnection, sub_ids: list[str]) -> dict[str, list[SubscriptionItem]]:
    rows = await conn.execute(
        sa.select(subscription_items)
        .where(subscription_items.c.subscription_id.in_(sub_ids))
        .order_by(subscription_items.c.created_at, subscription_items.c.id)
    )
    found: dict[str, list[SubscriptionItem]] = {i: [] for i in sub_ids}
    for r in rows:
        found[r.subscription_id].append(
            SubscriptionItem(r.id, r.price_id, r.quantity, r.created_at)
        )
    return found


def _from_row(row: Any, items: list[SubscriptionItem]) -> Subscription:
    m = row._mapping
    values = {c: m[c] for c in _COLUMNS}
    values["metadata"] = values["metadata"] or {}
    return Subscription(**values, items=tuple(items))


async def get(
    conn: AsyncConnection, sub_id: str, *, lock: bool = False, param: str | None = None
) -> Subscription:
    query = sa.select(subscriptions).where(subscriptions.c.id == sub_id)
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = (await conn.execute(query)).first()
    if row is None:
        raise NotFound("subscription", sub_id, param=param)
    return _from_row(row, (await _items(conn, [sub_id]))[sub_id])


async def list_(
    conn: AsyncConnection,
    *,
    customer: str | None,
    status: str | None,
    limit: int,
    starting_after: str | None,
) -> tuple[list[Subscription], bool]:
    """Newest first (ids sort by creation), ``limit`` at most, and whether more exist."""
    query = sa.select(subscriptions).order_by(subscriptions.c.id.desc()).limit(limit + 1)
    if customer is not None:
        query = query.where(subscriptions.c.customer_id == customer)
    if status is not None:
        query = query.where(subscriptions.c.status == status)
    if starting_after is not None:
        query = query.where(subscriptions.c.id < starting_after)
    rows = list(await conn.execute(query))
    items = await _items(conn, [r.id for r in rows[:limit]])
    return [_from_row(r, items[r.id]) for r in rows[:limit]], len(rows) > limit
