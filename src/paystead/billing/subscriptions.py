"""Subscriptions, the pure part: statuses, billing periods from an anchor, proration.

No I/O here; :mod:`paystead.billing.subscription_service` stores subscriptions and
:mod:`paystead.billing.run` renews them.

**Statuses and transitions** (anything else raises
:class:`~paystead.errors.IllegalTransition`)::

    trialing ──trial ends, paid──▶ active ──renewal charge fails──▶ past_due
        │                            ▲  │                              │  │
        │                            │  └──pause──▶ paused ──resume────┘  │
        │                            └──────── a dunning retry succeeds ◀─┘
        └──▶ canceled ◀── cancel (now, or at period end) from any live status
    past_due ──retries exhausted──▶ unpaid | canceled (PAYSTEAD_DUNNING_FINAL_ACTION)
    unpaid ──an open invoice gets paid──▶ active

**Billing periods** are boundaries counted from the anchor, never from the previous
boundary: boundary ``n`` of a monthly subscription anchored on Jan 31 is "n months
after Jan 31, the day clamped to the month's end", so Jan 31 → Feb 28 (29 in a leap
year) → Mar 31 → Apr 30 → May 31. Day and week intervals add whole days.

**Proration** is exact: ``amount x remaining_seconds / period_seconds`` in
:class:`~fractions.Fraction`, rounded once to the minor unit, *half up* (away from zero
on the magnitude, the same rule as :func:`paystead.money.apply_rate`). Times are
truncated to the second first. A change credits the unused time of each changed old
item and charges the remaining time of each changed new item; an unchanged item
produces no line. Worked examples: ``docs/billing-subscriptions.md``.
"""

from __future__ import annotations

import calendar
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from fractions import Fraction

from paystead.errors import IllegalTransition, InvalidInput


class Status(StrEnum):
    TRIALING = "trialing"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    PAUSED = "paused"
    CANCELED = "canceled"
    UNPAID = "unpaid"


_ALLOWED: dict[Status, frozenset[Status]] = {
    Status.TRIALING: frozenset({Status.ACTIVE, Status.PAST_DUE, Status.PAUSED, Status.CANCELED}),
    Status.ACTIVE: frozenset({Status.PAST_DUE, Status.PAUSED, Status.CANCELED}),
    Status.PAST_DUE: frozenset({Status.ACTIVE, Status.UNPAID, Status.CANCELED, Status.PAUSED}),
    Status.PAUSED: frozenset({Status.ACTIVE, Status.CANCELED}),
    Status.UNPAID: frozenset({Status.ACTIVE, Status.CANCELED}),
    Status.CANCELED: frozenset(),
}

#: Statuses whose periods the billing run still advances (paused ones without invoicing).
RENEWING = frozenset({Status.TRIALING, Status.ACTIVE, Status.PAST_DUE, Status.PAUSED})


def can_transition(current: Status | str, target: Status | str) -> bool:
    return Status(target) in _ALLOWED[Status(current)]


def transition(current: Status | str, target: Status | str) -> Status:
    """``target`` if the move is allowed, else :class:`IllegalTransition`."""
    if not can_transition(current, target):
        raise IllegalTransition(f"a {current} subscription cannot become {target}")
    return Status(target)


# -- billing periods -------------------------------------------------------------------

INTERVALS = ("day", "week", "month", "year")


def _check_interval(interval: str, count: int) -> None:
    if interval not in INTERVALS:
        raise InvalidInput(f"unknown interval {interval!r}", param="interval")
    if count < 1:
        raise InvalidInput("interval_count must be at least 1", param="interval_count")


def _add_months(anchor: datetime, months: int) -> datetime:
    index = anchor.year * 12 + (anchor.month - 1) + months
    year, month0 = divmod(index, 12)
    last = calendar.monthrange(year, month0 + 1)[1]
    return anchor.replace(year=year, month=month0 + 1, day=min(anchor.day, last))


def boundary(anchor: datetime, interval: str, count: int, n: int) -> datetime:
    """The ``n``-th period boundary from ``anchor`` (``n`` may be negative), always
    computed from the anchor itself, so a clamped month end never drifts."""
    _check_interval(interval, count)
    if interval == "month":
        return _add_months(anchor, n * count)
    if interval == "year":
        return _add_months(anchor, 12 * n * count)
    days = count * (7 if interval == "week" else 1)
    return anchor + timedelta(days=n * days)


def _index_at_or_before(anchor: datetime, interval: str, count: int, t: datetime) -> int:
    """The largest ``n`` with ``boundary(n) <= t``."""
    if interval in ("day", "week"):
        step = timedelta(days=count * (7 if interval == "week" else 1))
        return (t - anchor) // step
    months = count * (12 if interval == "year" else 1)
    n = ((t.year - anchor.year) * 12 + (t.month - anchor.month)) // months + 1
    while boundary(anchor, interval, count, n) > t:
        n -= 1
    return n


def next_boundary(anchor: datetime, interval: str, count: int, t: datetime) -> datetime:
    """The first boundary strictly after ``t``."""
    _check_interval(interval, count)
    return boundary(anchor, interval, count, _index_at_or_before(anchor, interval, count, t) + 1)


def previous_boundary(anchor: datetime, interval: str, count: int, t: datetime) -> datetime:
    """The last boundary at or before ``t``."""
    _check_interval(interval, count)
    return boundary(anchor, interval, count, _index_at_or_before(anchor, interval, count, t))


def periods(anchor: datetime, interval: str, count: int, n: int) -> list[tuple[datetime, datetime]]:
    """The first ``n`` periods from the anchor, as (start, end) pairs."""
    edges = [boundary(anchor, interval, count, i) for i in range(n + 1)]
    return list(itertools.pairwise(edges))


# -- proration ---------------------------------------------------------------------------


def round_half_up(exact: Fraction) -> int:
    """Round to an integer, halves away from zero (the magnitude rounds half up)."""
    sign = -1 if exact < 0 else 1
    magnitude = abs(exact)
    whole, rest = divmod(magnitude.numerator, magnitude.denominator)
    if 2 * rest >= magnitude.denominator:
        whole += 1
    return sign * whole


def _seconds(delta: timedelta) -> int:
    return delta // timedelta(seconds=1)


def _to_second(t: datetime) -> datetime:
    return t.replace(microsecond=0)


def prorate(amount: int, *, start: datetime, end: datetime, at: datetime) -> int:
    """``amount`` for the part of ``[start, end)`` from ``at`` on, rounded once."""
    start, end, at = _to_second(start), _to_second(end), _to_second(at)
    if not start <= at <= end:
        raise InvalidInput(
            "the proration date must fall in the current period", param="proration_date"
        )
    total = _seconds(end - start)
    if total <= 0:
        raise InvalidInput("the billing period is empty", param="proration_date")
    return round_half_up(Fraction(amount) * _seconds(end - at) / total)


@dataclass(frozen=True)
class Item:
    """A licensed subscription item: its price, quantity and full-period amount."""

    price_id: str
    quantity: int
    amount: int


@dataclass(frozen=True)
class ProrationLine:
    description: str
    price_id: str
    quantity: int
    #: Minor units: negative for the credit of unused time.
    amount: int
    period_start: datetime
    period_end: datetime


def prorate_change(
    old: Sequence[Item],
    new: Sequence[Item],
    *,
    period_start: datetime,
    period_end: datetime,
    at: datetime,
) -> list[ProrationLine]:
    """The proration lines of replacing ``old`` items by ``new`` ones at ``at``.

    An item with the same price and quantity on both sides is unchanged and yields
    nothing; every other old item yields a credit for its unused time and every other
    new item a charge for the remaining time, each rounded once.
    """
    unchanged = {(i.price_id, i.quantity) for i in old} & {(i.price_id, i.quantity) for i in new}
    day = _to_second(at).date().isoformat()
    lines: list[ProrationLine] = []
    for item in old:
        if (item.price_id, item.quantity) in unchanged:
            continue
        credit = prorate(item.amount, start=period_start, end=period_end, at=at)
        lines.append(
            ProrationLine(
                f"Unused time on {item.quantity} x {item.price_id} after {day}",
                item.price_id,
                item.quantity,
                -credit,
                _to_second(at),
                period_end,
            )
        )
    for item in new:
        if (item.price_id, item.quantity) in unchanged:
            continue
        charge = prorate(item.amount, start=period_start, end=period_end, at=at)
        lines.append(
            ProrationLine(
                f"Remaining time on {item.quantity} x {item.price_id} after {day}",
                item.price_id,
                item.quantity,
                charge,
                _to_second(at),
                period_end,
            )
        )
    return lines
