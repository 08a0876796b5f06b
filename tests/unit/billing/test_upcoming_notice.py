"""When ``invoice.upcoming`` is due, and where it falls among a run's steps (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from paystead.billing.run import BillingRun
from paystead.billing.subscription_repo import Subscription
from paystead.billing.upcoming import notice_at

T0 = datetime(2027, 4, 1, tzinfo=UTC)


def _sub(**changes: object) -> Subscription:
    base = Subscription(
        id="sub_1",
        customer_id="cus_1",
        status="active",
        currency="INR",
        collection_method="charge_automatically",
        interval="month",
        interval_count=1,
        billing_cycle_anchor=T0,
        current_period_start=T0,
        current_period_end=datetime(2027, 5, 1, tzinfo=UTC),
        created_at=T0,
        updated_at=T0,
    )
    return base.with_(**changes)


def test_the_notice_is_n_days_before_the_period_end() -> None:
    assert notice_at(_sub(), 3) == datetime(2027, 4, 28, tzinfo=UTC)
    assert notice_at(_sub(status="past_due"), 7) == datetime(2027, 4, 24, tzinfo=UTC)
    assert notice_at(_sub(status="trialing"), 1) == datetime(2027, 4, 30, tzinfo=UTC)


def test_a_short_period_gets_its_notice_at_its_start() -> None:
    weekly = _sub(interval="day", current_period_end=T0 + timedelta(days=2))
    assert notice_at(weekly, 3) == T0


def test_no_notice_when_nothing_will_renew_or_it_is_off() -> None:
    assert notice_at(_sub(), 0) is None
    for status in ("paused", "canceled", "unpaid"):
        assert notice_at(_sub(status=status), 3) is None
    assert notice_at(_sub(cancel_at_period_end=True), 3) is None


def test_the_notice_comes_before_a_retry_and_a_renewal_at_one_instant() -> None:
    end = datetime(2027, 5, 1, tzinfo=UTC)
    sub = _sub(next_retry_at=end)
    assert BillingRun.next_step(sub, end, upcoming_at=end) == (end, 0, "upcoming")
    assert BillingRun.next_step(sub, end) == (end, 1, "retry")
    early = datetime(2027, 4, 28, tzinfo=UTC)
    assert BillingRun.next_step(_sub(), early - timedelta(seconds=1), upcoming_at=early) is None
