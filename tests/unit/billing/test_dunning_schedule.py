"""Dunning's schedule and the billing run's step order (pure parts, no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from paystead.billing.dunning import check_schedule, retry_at
from paystead.billing.run import BillingRun
from paystead.billing.subscription_repo import Subscription

T0 = datetime(2027, 5, 1, tzinfo=UTC)


def test_retries_are_counted_from_the_failure() -> None:
    days = [1, 3, 5, 7]
    assert [retry_at(T0, days, n) for n in range(5)] == [
        T0 + timedelta(days=1),
        T0 + timedelta(days=3),
        T0 + timedelta(days=5),
        T0 + timedelta(days=7),
        None,
    ]


@pytest.mark.parametrize("bad", [[0, 1], [3, 1], [1, 1], [-1]])
def test_a_schedule_must_be_positive_and_ascending(bad: list[int]) -> None:
    with pytest.raises(ValueError, match="DUNNING_RETRY_DAYS"):
        check_schedule(bad)
    assert check_schedule([]) == []


def _sub(**changes: object) -> Subscription:
    base = Subscription(
        id="sub_1",
        customer_id="cus_1",
        status="trialing",
        currency="INR",
        collection_method="charge_automatically",
        interval="week",
        interval_count=1,
        billing_cycle_anchor=T0 + timedelta(days=7),
        current_period_start=T0,
        current_period_end=T0 + timedelta(days=7),
        created_at=T0,
        updated_at=T0,
        trial_start=T0,
        trial_end=T0 + timedelta(days=7),
    )
    return base.with_(**changes)


def test_steps_come_in_time_order_notice_before_retry_before_renewal() -> None:
    sub = _sub()
    assert BillingRun.next_step(sub, T0 + timedelta(days=3)) is None
    assert BillingRun.next_step(sub, T0 + timedelta(days=4)) == (
        T0 + timedelta(days=4),
        0,
        "notice",
    )
    sent = sub.with_(trial_will_end_sent=True)
    assert BillingRun.next_step(sent, T0 + timedelta(days=9)) == (
        T0 + timedelta(days=7),
        2,
        "renewal",
    )
    due = T0 + timedelta(days=7)
    retrying = sent.with_(status="past_due", next_retry_at=due)
    assert BillingRun.next_step(retrying, due) == (due, 1, "retry")
    assert BillingRun.next_step(sent.with_(status="canceled"), due) is None
    # A trial shorter than the notice: the notice is due at once.
    short = _sub(trial_end=T0 + timedelta(days=1), current_period_end=T0 + timedelta(days=1))
    assert BillingRun.next_step(short, T0) == (T0, 0, "notice")
