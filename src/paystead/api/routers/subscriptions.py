"""/v1/subscriptions and /v1/test_clocks (billing/subscription_service.py, billing/clocks.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from paystead.api.deps import (
    CurrentKey,
    IdempotencyKeyHeader,
    PageLimit,
    ServicesDep,
    StartingAfter,
    idempotency,
    json_response,
    respond,
)
from paystead.api.schemas import at
from paystead.api.schemas_subscriptions import (
    SubscriptionCreate,
    SubscriptionList,
    SubscriptionOut,
    SubscriptionUpdate,
    TestClockAdvance,
    TestClockCreate,
    TestClockList,
    TestClockOut,
)
from paystead.billing.subscription_repo import Subscription
from paystead.billing.subscription_service import ItemInput
from paystead.errors import InvalidInput
from paystead.platform.idempotency import StoredResponse

router = APIRouter(prefix="/v1/subscriptions", tags=["subscriptions"])
clocks_router = APIRouter(prefix="/v1/test_clocks", tags=["test clocks"])


def _created(sub: Subscription) -> StoredResponse:
    return json_response(201, SubscriptionOut.of(sub))


def _ok(sub: Subscription) -> StoredResponse:
    return json_response(200, SubscriptionOut.of(sub))


@router.post("", status_code=201, response_model=SubscriptionOut)
async def create_subscription(
    body: SubscriptionCreate,
    request: Request,
    services: ServicesDep,
    api_key: CurrentKey,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    """Without a trial the first period is invoiced and charged at once."""
    idem = idempotency(request, services, api_key, idempotency_key, body, _created)
    sub = await services.subscriptions.create(
        customer=body.customer,
        items=[ItemInput(i.price, i.quantity) for i in body.items],
        trial_period_days=body.trial_period_days,
        coupon=body.coupon,
        promotion_code=body.promotion_code,
        collection_method=body.collection_method,
        days_until_due=body.days_until_due,
        billing_cycle_anchor=at(body.billing_cycle_anchor),
        metadata=body.metadata,
        idem=idem,
    )
    return respond(idem, lambda: _created(sub))


@router.get("", response_model=SubscriptionList)
async def list_subscriptions(
    services: ServicesDep,
    api_key: CurrentKey,
    customer: Annotated[str | None, Query(max_length=64)] = None,
    status: Annotated[str | None, Query(max_length=16)] = None,
    limit: PageLimit = 10,
    starting_after: StartingAfter = None,
) -> SubscriptionList:
    found, more = await services.subscriptions.list(
        customer=customer, status=status, limit=limit, starting_after=starting_after
    )
    return SubscriptionList(data=[SubscriptionOut.of(s) for s in found], has_more=more)


@router.get("/{subscription_id}", response_model=SubscriptionOut)
async def get_subscription(
    subscription_id: str, services: ServicesDep, api_key: CurrentKey
) -> SubscriptionOut:
    return SubscriptionOut.of(await services.subscriptions.get(subscription_id))


@router.post("/{subscription_id}", response_model=SubscriptionOut)
async def update_subscription(
    subscription_id: str,
    body: SubscriptionUpdate,
    request: Request,
    services: ServicesDep,
    api_key: CurrentKey,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    """Change items (prorated per ``proration_behavior``), ``cancel_at_period_end`` or metadata."""
    idem = idempotency(request, services, api_key, idempotency_key, body, _ok)
    sub = await services.subscriptions.update(
        subscription_id,
        items=[ItemInput(i.price, i.quantity) for i in body.items]
        if body.items is not None
        else None,
        proration_behavior=body.proration_behavior,
        cancel_at_period_end=body.cancel_at_period_end,
        metadata=body.metadata,
        idem=idem,
    )
    return respond(idem, lambda: _ok(sub))


@router.post("/{subscription_id}/pause", response_model=SubscriptionOut)
async def pause_subscription(
    subscription_id: str, services: ServicesDep, api_key: CurrentKey
) -> SubscriptionOut:
    return SubscriptionOut.of(await services.subscriptions.pause(subscription_id))


@router.post("/{subscription_id}/resume", response_model=SubscriptionOut)
async def resume_subscription(
    subscription_id: str, services: ServicesDep, api_key: CurrentKey
) -> SubscriptionOut:
    return SubscriptionOut.of(await services.subscriptions.resume(subscription_id))


@router.delete("/{subscription_id}", response_model=SubscriptionOut)
async def cancel_subscription(
    subscription_id: str,
    services: ServicesDep,
    api_key: CurrentKey,
    cancel_at_period_end: Annotated[bool, Query()] = False,
    invoice_now: Annotated[bool, Query()] = False,
    prorate: Annotated[bool, Query()] = False,
) -> SubscriptionOut:
    """Cancel now, or with ``?cancel_at_period_end=true`` at the current period's end.

    Now: ``invoice_now=true`` makes a final invoice with the metered usage to date and
    the pending prorations; ``prorate=true`` credits the unused time on it."""
    if cancel_at_period_end:
        if invoice_now or prorate:
            raise InvalidInput(
                "invoice_now and prorate apply to canceling now, not at the period end",
                param="invoice_now" if invoice_now else "prorate",
            )
        sub = await services.subscriptions.update(subscription_id, cancel_at_period_end=True)
    else:
        sub = await services.subscriptions.cancel(
            subscription_id, invoice_now=invoice_now, prorate=prorate
        )
    return SubscriptionOut.of(sub)


# -- test clocks ------------------------------------------------------------------------


@clocks_router.post("", status_code=201, response_model=TestClockOut)
async def create_test_clock(
    body: TestClockCreate, services: ServicesDep, api_key: CurrentKey
) -> TestClockOut:
    frozen = at(body.frozen_time)
    assert frozen is not None
    return TestClockOut.of(await services.test_clocks.create(frozen_time=frozen, name=body.name))


@clocks_router.get("", response_model=TestClockList)
async def list_test_clocks(services: ServicesDep, api_key: CurrentKey) -> TestClockList:
    return TestClockList(data=[TestClockOut.of(c) for c in await services.test_clocks.list()])


@clocks_router.get("/{clock_id}", response_model=TestClockOut)
async def get_test_clock(clock_id: str, services: ServicesDep, api_key: CurrentKey) -> TestClockOut:
    return TestClockOut.of(await services.test_clocks.get(clock_id))


@clocks_router.post("/{clock_id}/advance", response_model=TestClockOut)
async def advance_test_clock(
    clock_id: str, body: TestClockAdvance, services: ServicesDep, api_key: CurrentKey
) -> TestClockOut:
    """Move the clock forward; the billing run plays its customers up to the new time
    before this answers (renewals, trial ends, dunning retries)."""
    frozen = at(body.frozen_time)
    assert frozen is not None
    return TestClockOut.of(await services.test_clocks.advance(clock_id, frozen_time=frozen))


@clocks_router.delete("/{clock_id}", response_model=TestClockOut)
async def delete_test_clock(
    clock_id: str, services: ServicesDep, api_key: CurrentKey
) -> TestClockOut:
    """Delete the clock; its customers' live subscriptions are canceled."""
    return TestClockOut.of(await services.test_clocks.delete(clock_id))
