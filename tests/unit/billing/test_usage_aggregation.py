"""Meter aggregation and the event time rules (pure, no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from paystead.billing.usage import (
    Aggregation,
    Reading,
    aggregate_values,
    billed_in,
    check_event_time,
)
from paystead.errors import InvalidInput

T0 = datetime(2026, 4, 1, tzinfo=UTC)


def readings() -> list[Reading]:
    # Out of time order on purpose: "last" goes by timestamp, not by arrival.
    return [
        Reading(T0 + timedelta(minutes=5), 7, "user-a", "e1"),
        Reading(T0 + timedelta(minutes=9), 3, "user-b", "e2"),
        Reading(T0 + timedelta(minutes=1), 12, "user-a", "e3"),
        Reading(T0 + timedelta(minutes=7), 0, "user-c", "e4"),
    ]


@pytest.mark.parametrize(
    ("aggregation", "expected"),
    [
        (Aggregation.SUM, 7 + 3 + 12 + 0),
        (Aggregation.COUNT, 4),
        (Aggregation.MAX, 12),
        (Aggregation.LAST, 3),  # the 09-minute event
        (Aggregation.UNIQUE_COUNT, 3),  # user-a twice
    ],
)
def test_each_aggregation_by_hand(aggregation: Aggregation, expected: int) -> None:
    assert aggregate_values(aggregation, readings()) == expected


@pytest.mark.parametrize("aggregation", list(Aggregation))
def test_an_empty_period_is_zero(aggregation: Aggregation) -> None:
    assert aggregate_values(aggregation, []) == 0


def test_last_breaks_timestamp_ties_by_the_later_stored_event() -> None:
    same = [Reading(T0, 5, None, "e2"), Reading(T0, 9, None, "e1")]
    assert aggregate_values(Aggregation.LAST, same) == 5


def test_unique_count_falls_back_to_the_value() -> None:
    values = [Reading(T0, v) for v in (1, 2, 2, 3, 3, 3)]
    assert aggregate_values(Aggregation.UNIQUE_COUNT, values) == 3


NOW = datetime(2026, 4, 2, 12, tzinfo=UTC)
GRACE = timedelta(hours=24)
FUTURE = timedelta(minutes=5)


@pytest.mark.parametrize(
    "moment",
    [NOW, NOW - GRACE, NOW + FUTURE, NOW - timedelta(hours=23, minutes=59)],
)
def test_times_inside_the_window_are_accepted(moment: datetime) -> None:
    check_event_time(moment, now=NOW, grace=GRACE, max_future=FUTURE)


@pytest.mark.parametrize(
    ("moment", "code"),
    [
        (NOW + FUTURE + timedelta(seconds=1), "meter_event_in_future"),
        (NOW - GRACE - timedelta(seconds=1), "meter_event_too_late"),
    ],
)
def test_times_outside_the_window_are_refused(moment: datetime, code: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_event_time(moment, now=NOW, grace=GRACE, max_future=FUTURE)
    assert (refused.value.code, refused.value.param) == (code, "timestamp")


START, END = datetime(2026, 4, 1, tzinfo=UTC), datetime(2026, 5, 1, tzinfo=UTC)
H = timedelta(hours=1)


@pytest.mark.parametrize(
    ("occurred", "recorded", "billed"),
    [
        (START, START, True),  # on time, at the first instant
        (END - H, END - timedelta(microseconds=1), True),  # recorded just before the end
        (END - H, END, False),  # recorded at the end: late, the next period's
        (START - H, START + H, True),  # late from the previous period: this one's
        (START - H, START - timedelta(minutes=1), False),  # on time in the previous one
        (START - H, END, False),  # recorded after this period too
        (END, END, False),  # the next period's own event
    ],
)
def test_billed_in_puts_each_event_in_exactly_one_period(
    occurred: datetime, recorded: datetime, billed: bool
) -> None:
    assert billed_in(occurred, recorded, START, END) is billed
    # Contiguous periods: every event is billed in exactly one of them.
    periods = [(START - 720 * H, START), (START, END), (END, END + 720 * H)]
    assert sum(billed_in(occurred, recorded, s, e) for s, e in periods) == 1
