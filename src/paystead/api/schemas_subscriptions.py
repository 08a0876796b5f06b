"""Request and response bodies for subscriptions and test clocks (Stripe-shaped).

Times are unix seconds. Quantities are strict integers; their range is checked by the
service so the error names the item (``items[0].quantity``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from paystead.api.schemas import Input, Metadata, Output, StrictBool, UnixTime
from paystead.billing.clocks import TestClock, test_clock_object
from paystead.billing.subscription_repo import Subscription, subscription_object

Id = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class ItemIn(Input):
    price: Id
    #: The service names a quantity outside 0..MAX_QUANTITY; this bound only keeps
    #: integers beyond 64 bits away from it.
    quantity: Annotated[int, Field(strict=True, ge=-(2**53), le=2**53)] = 1


class SubscriptionCreate(Input):
    customer: Id
    items: Annotated[list[ItemIn], Field(min_length=1, max_length=20)]
    trial_period_days: Annotated[int, Field(strict=True)] | None = None
    coupon: Id | None = None
    promotion_code: Id | None = None
    collection_method: Literal["charge_automatically", "send_invoice"] = "charge_automatically"
    days_until_due: Annotated[int, Field(strict=True, ge=0, le=365)] | None = None
    billing_cycle_anchor: UnixTime | None = Field(
        default=None, description="A future time within one interval: the first period is prorated"
    )
    metadata: Metadata = Field(default_factory=dict)


class SubscriptionUpdate(Input):
    items: Annotated[list[ItemIn], Field(min_length=1, max_length=20)] | None = Field(
        default=None, description="The new item set (replaces the current one)"
    )
    proration_behavior: Literal["create_prorations", "none", "always_invoice"] = "create_prorations"
    cancel_at_period_end: StrictBool | None = None
    metadata: Metadata | None = None


class SubscriptionItemOut(Output):
    id: str
    object: Literal["subscription_item"] = "subscription_item"
    price: str
    quantity: int
    created: int


class SubscriptionOut(Output):
    id: str
    object: Literal["subscription"] = "subscription"
    customer: str
    status: str
    currency: str
    collection_method: str
    days_until_due: int | None
    items: list[SubscriptionItemOut]
    interval: str
    interval_count: int
    billing_cycle_anchor: int
    current_period_start: int
    current_period_end: int
    trial_start: int | None
    trial_end: int | None
    cancel_at_period_end: bool
    canceled_at: int | None
    ended_at: int | None
    paused_at: int | None
    coupon: str | None
    test_clock: str | None
    latest_invoice: str | None
    next_retry_at: int | None
    dunning_retries: int
    metadata: dict[str, Any]
    created: int

    @classmethod
    def of(cls, s: Subscription) -> SubscriptionOut:
        return cls.model_validate(subscription_object(s))


class SubscriptionList(Output):
    object: Literal["list"] = "list"
    data: list[SubscriptionOut]
    has_more: bool
    url: str = "/v1/subscriptions"


class TestClockCreate(Input):
    __test__ = False
    frozen_time: UnixTime
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None


class TestClockAdvance(Input):
    __test__ = False
    frozen_time: UnixTime


class TestClockOut(Output):
    __test__ = False
    id: str
    object: Literal["test_clock"] = "test_clock"
    name: str | None
    frozen_time: int
    status: str
    created: int

    @classmethod
    def of(cls, c: TestClock) -> TestClockOut:
        return cls.model_validate(test_clock_object(c))


class TestClockList(Output):
    __test__ = False
    object: Literal["list"] = "list"
    data: list[TestClockOut]
    has_more: bool = False
    url: str = "/v1/test_clocks"
