"""Billing periods from an anchor, status transitions and proration (pure, no I/O)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paystead.billing.subscriptions import (
    Item,
    Status,
    boundary,
    can_transition,
    next_boundary,
    periods,
    previous_boundary,
    prorate,
    prorate_change,
    round_half_up,
    transition,
)
from paystead.errors import IllegalTransition, InvalidInput


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[arg-type, misc]


def test_month_end_anchor_clamps_and_never_drifts() -> None:
    ends = [start for start, _ in periods(at(2027, 1, 31, 9), "month", 1, 13)]
    assert [(d.month, d.day) for d in ends] == [
        (1, 31), (2, 28), (3, 31), (4, 30), (5, 31), (6, 30),
        (7, 31), (8, 31), (9, 30), (10, 31), (11, 30), (12, 31), (1, 31),
    ]  # fmt: skip
    assert all(d.hour == 9 for d in ends)
    assert boundary(at(2028, 1, 31), "month", 1, 1) == at(2028, 2, 29)  # leap year
    assert boundary(at(2024, 2, 29), "year", 1, 1) == at(2025, 2, 28)
    assert boundary(at(2024, 2, 29), "year", 1, 4) == at(2028, 2, 29)
    assert boundary(at(2027, 1, 31), "month", 3, 1) == at(2027, 4, 30)
    assert boundary(at(2027, 1, 31), "month", 1, -1) == at(2026, 12, 31)


def test_day_and_week_intervals_add_days() -> None:
    assert boundary(at(2027, 1, 31), "day", 10, 2) == at(2027, 2, 20)
    assert boundary(at(2027, 1, 31), "week", 2, 1) == at(2027, 2, 14)


def test_next_and_previous_boundary() -> None:
    anchor = at(2027, 1, 31)
    assert next_boundary(anchor, "month", 1, at(2027, 2, 28)) == at(2027, 3, 31)
    assert next_boundary(anchor, "month", 1, at(2027, 2, 27)) == at(2027, 2, 28)
    assert previous_boundary(anchor, "month", 1, at(2027, 2, 28)) == at(2027, 2, 28)
    assert previous_boundary(anchor, "month", 1, at(2027, 3, 30)) == at(2027, 2, 28)
    assert next_boundary(anchor, "month", 1, at(2026, 12, 31)) == at(2027, 1, 31)


def test_unknown_interval_is_refused() -> None:
    with pytest.raises(InvalidInput) as err:
        boundary(at(2027, 1, 1), "fortnight", 1, 1)
    assert err.value.param == "interval"


anchors = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)
)
intervals = st.sampled_from(["day", "week", "month", "year"])
counts = st.integers(min_value=1, max_value=12)


@given(anchors, intervals, counts, st.integers(min_value=1, max_value=40))
def test_periods_are_contiguous_and_increasing(
    anchor: datetime, interval: str, count: int, n: int
) -> None:
    spans = periods(anchor, interval, count, n)
    assert spans[0][0] == anchor
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert end == start  # contiguous, no overlap
    assert all(start < end for start, end in spans)


@given(anchors, intervals, counts, st.integers(min_value=-500, max_value=5000))
def test_next_boundary_brackets_any_instant(
    anchor: datetime, interval: str, count: int, hours: int
) -> None:
    t = anchor + timedelta(hours=hours * 7)
    before, after = (
        previous_boundary(anchor, interval, count, t),
        next_boundary(anchor, interval, count, t),
    )
    assert before <= t < after
    assert next_boundary(anchor, interval, count, before) == after


@given(anchors, st.integers(min_value=0, max_value=200))
def test_monthly_boundary_keeps_the_anchor_day_or_the_month_end(anchor: datetime, n: int) -> None:
    b = boundary(anchor, "month", 1, n)
    assert b.day == anchor.day or (b.day < anchor.day and (b + timedelta(days=1)).day == 1)
    assert (b.hour, b.minute, b.second) == (anchor.hour, anchor.minute, anchor.second)


def test_transitions() -> None:
    assert transition("active", "past_due") is Status.PAST_DUE
    assert can_transition(Status.PAST_DUE, Status.ACTIVE)
    assert can_transition(Status.UNPAID, Status.ACTIVE)
    for target in Status:
        assert not can_transition(Status.CANCELED, target)
    with pytest.raises(IllegalTransition):
        transition("paused", "past_due")
    with pytest.raises(IllegalTransition):
        transition("trialing", "unpaid")


def test_round_half_up() -> None:
    assert round_half_up(Fraction(5, 2)) == 3
    assert round_half_up(Fraction(-5, 2)) == -3
    assert round_half_up(Fraction(249, 100)) == 2
    assert round_half_up(Fraction(-251, 100)) == -3


def test_upgrade_on_day_ten_of_a_thirty_day_month() -> None:
    # ₹999/month -> ₹2,499/month on day 10 of a 30-day month (Apr 1 - May 1), at 00:00
    # of Apr 11: 20 days of 30 remain = 1,728,000 s of 2,592,000 s = 2/3.
    # Credit: 99900 x 2/3 = 66600 paise exactly; charge: 249900 x 2/3 = 166600.
    # Net charge 166600 - 66600 = 100000 paise = ₹1,000.00.
    start, end, change = at(2027, 4, 1), at(2027, 5, 1), at(2027, 4, 11)
    lines = prorate_change(
        [Item("price_basic", 1, 99900)],
        [Item("price_pro", 1, 249900)],
        period_start=start,
        period_end=end,
        at=change,
    )
    assert [(li.price_id, li.amount) for li in lines] == [
        ("price_basic", -66600),
        ("price_pro", 166600),
    ]
    assert sum(li.amount for li in lines) == 100000
    assert all(li.period_start == change and li.period_end == end for li in lines)


def test_proration_rounds_once_to_the_second() -> None:
    # ₹999 for a 31-day month (2,678,400 s); change at 12:34:56 on day 10 (Mar 10):
    # remaining = 21 d 11 h 25 m 4 s = 1,855,504 s. 99900 x 1,855,504 / 2,678,400
    # = 4,290,853 / 62 = 69,207.306... -> 69207 (one half-up rounding of the exact quotient).
    start, end = at(2027, 3, 1), at(2027, 4, 1)
    change = datetime(2027, 3, 10, 12, 34, 56, 999999, tzinfo=UTC)  # microseconds dropped
    assert prorate(99900, start=start, end=end, at=change) == 69207
    # A half rounds up: 1 paise over half a period is 0.5 -> 1; a credit rounds to -1.
    half = at(2027, 3, 16, 12)
    assert prorate(1, start=start, end=end, at=half) == 1
    assert prorate(-1, start=start, end=end, at=half) == -1


def test_quantity_change_prorates_both_quantities() -> None:
    # 3 seats -> 5 seats of ₹500 at the half of a 30-day period: credit 150000 x 1/2,
    # charge 250000 x 1/2: net +50000 (two seats for half a period).
    lines = prorate_change(
        [Item("price_seat", 3, 150000)],
        [Item("price_seat", 5, 250000)],
        period_start=at(2027, 4, 1),
        period_end=at(2027, 5, 1),
        at=at(2027, 4, 16),
    )
    assert [li.amount for li in lines] == [-75000, 125000]


def test_proration_date_outside_the_period_is_refused() -> None:
    with pytest.raises(InvalidInput) as err:
        prorate(100, start=at(2027, 4, 1), end=at(2027, 5, 1), at=at(2027, 5, 2))
    assert err.value.param == "proration_date"


amounts = st.integers(min_value=0, max_value=10**12)


@given(amounts, amounts, anchors, st.integers(min_value=1, max_value=31 * 86400))
def test_change_at_period_start_is_a_full_swap(
    old: int, new: int, start: datetime, secs: int
) -> None:
    start = start.replace(microsecond=0)
    end = start + timedelta(seconds=secs)
    lines = prorate_change(
        [Item("a", 1, old)], [Item("b", 1, new)], period_start=start, period_end=end, at=start
    )
    assert [li.amount for li in lines] == [-old, new]
    at_end = prorate_change(
        [Item("a", 1, old)], [Item("b", 1, new)], period_start=start, period_end=end, at=end
    )
    assert [li.amount for li in at_end] == [0, 0]  # nothing left to prorate


@given(amounts, amounts, anchors, st.integers(min_value=1, max_value=31 * 86400), st.data())
def test_credit_and_charge_are_consistent(
    old: int, new: int, start: datetime, secs: int, data: st.DataObject
) -> None:
    start = start.replace(microsecond=0)
    end = start + timedelta(seconds=secs)
    when = start + timedelta(seconds=data.draw(st.integers(min_value=0, max_value=secs)))
    credit, charge = (
        li.amount
        for li in prorate_change(
            [Item("a", 1, old)], [Item("b", 1, new)], period_start=start, period_end=end, at=when
        )
    )
    exact = Fraction((end - when) // timedelta(seconds=1), secs)
    # Each line is its exact share rounded once, so within half a minor unit of it.
    assert abs(-credit - old * exact) <= Fraction(1, 2)
    assert abs(charge - new * exact) <= Fraction(1, 2)
    assert 0 <= -credit <= old and 0 <= charge <= new
    if old == new:
        assert credit + charge == 0  # same amount: credit and charge cancel exactly
    # An unchanged item prorates to nothing.
    assert (
        prorate_change(
            [Item("a", 1, old)], [Item("a", 1, old)], period_start=start, period_end=end, at=when
        )
        == []
    )
