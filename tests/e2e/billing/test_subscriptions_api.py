"""/v1/subscriptions and /v1/test_clocks over HTTP: a clock moves a customer through
renewals, a trial and dunning; bad inputs are 4xx naming the field."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from paystead.billing.catalog import Price, Recurring
from paystead.wiring import Services


def ts(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp())  # type: ignore[arg-type, misc]


def problem(response: httpx.Response, status: int, param: str | None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body.get("param") == param, body
    return body


async def price(services: Services, amount: int, currency: str = "INR") -> str:
    product = await services.catalog.create_product(name="Pro", tax_rate="0")
    created = await services.catalog.create_price(
        Price(
            id="",
            product_id=product.id,
            currency=currency,
            created_at=datetime.now(UTC),
            unit_amount=amount,
            recurring=Recurring(interval="month"),
        )
    )
    return created.id


async def clock_and_customer(client: httpx.AsyncClient, start: int, method: str) -> tuple[str, str]:
    clock = await client.post("/v1/test_clocks", json={"frozen_time": start, "name": "e2e"})
    assert clock.status_code == 201, clock.text
    assert clock.json()["frozen_time"] == start and clock.json()["status"] == "ready"
    customer = await client.post(
        "/v1/customers",
        json={
            "email": "e2e@example.com",
            "name": "E2E",
            "payment_method": method,
            "test_clock": clock.json()["id"],
        },
    )
    assert customer.status_code == 201, customer.text
    assert customer.json()["test_clock"] == clock.json()["id"]
    return clock.json()["id"], customer.json()["id"]


async def test_a_subscription_renews_through_a_test_clock(
    client: httpx.AsyncClient, services: Services
) -> None:
    plan = await price(services, 99900)
    clock, customer = await clock_and_customer(client, ts(2027, 1, 31), "pm_card_visa")
    body = {"customer": customer, "items": [{"price": plan, "quantity": 1}]}
    created = await client.post(
        "/v1/subscriptions", json=body, headers={"Idempotency-Key": "sub-1"}
    )
    assert created.status_code == 201, created.text
    sub = created.json()
    assert sub["status"] == "active" and sub["test_clock"] == clock
    assert (sub["current_period_start"], sub["current_period_end"]) == (
        ts(2027, 1, 31),
        ts(2027, 2, 28),
    )
    replay = await client.post("/v1/subscriptions", json=body, headers={"Idempotency-Key": "sub-1"})
    assert replay.status_code == 201 and replay.content == created.content

    advanced = await client.post(
        f"/v1/test_clocks/{clock}/advance", json={"frozen_time": ts(2027, 4, 1)}
    )
    assert advanced.status_code == 200, advanced.text
    assert advanced.json()["frozen_time"] == ts(2027, 4, 1)
    got = (await client.get(f"/v1/subscriptions/{sub['id']}")).json()
    assert (got["current_period_start"], got["current_period_end"]) == (
        ts(2027, 3, 31),
        ts(2027, 4, 30),
    )
    invoices, _ = await services.invoices.list(subscription=sub["id"], limit=10)
    assert sorted(i.period_start for i in invoices if i.period_start) == [
        datetime(2027, 1, 31, tzinfo=UTC),
        datetime(2027, 2, 28, tzinfo=UTC),
        datetime(2027, 3, 31, tzinfo=UTC),
    ]
    assert got["latest_invoice"] == max(invoices, key=lambda i: i.id).id

    listed = (
        await client.get("/v1/subscriptions", params={"customer": customer, "status": "active"})
    ).json()
    assert [s["id"] for s in listed["data"]] == [sub["id"]] and listed["has_more"] is False
    back = await client.post(
        f"/v1/test_clocks/{clock}/advance", json={"frozen_time": ts(2027, 3, 1)}
    )
    problem(back, 422, "frozen_time")

    upgraded = await client.post(
        f"/v1/subscriptions/{sub['id']}",
        json={"items": [{"price": plan, "quantity": 3}], "proration_behavior": "none"},
    )
    assert upgraded.status_code == 200 and upgraded.json()["items"][0]["quantity"] == 3
    canceled = await client.delete(f"/v1/subscriptions/{sub['id']}")
    assert canceled.json()["status"] == "canceled" and canceled.json()["ended_at"] == ts(2027, 4, 1)
    problem(await client.post(f"/v1/subscriptions/{sub['id']}/pause"), 409, None)
    assert (await client.delete(f"/v1/test_clocks/{clock}")).json()["status"] == "deleted"
    problem(await client.get(f"/v1/test_clocks/{clock}"), 404, None)


async def test_trial_dunning_and_recovery_over_http(
    client: httpx.AsyncClient, services: Services
) -> None:
    plan = await price(services, 49900)
    clock, customer = await clock_and_customer(client, ts(2027, 6, 1), "pm_card_declined")
    created = await client.post(
        "/v1/subscriptions",
        json={"customer": customer, "items": [{"price": plan}], "trial_period_days": 7},
    )
    sub = created.json()
    assert sub["status"] == "trialing" and sub["trial_end"] == ts(2027, 6, 8)
    await client.post(f"/v1/test_clocks/{clock}/advance", json={"frozen_time": ts(2027, 6, 8, 12)})
    past_due = (await client.get(f"/v1/subscriptions/{sub['id']}")).json()
    assert past_due["status"] == "past_due" and past_due["next_retry_at"] == ts(2027, 6, 9)
    fixed = await client.post(f"/v1/customers/{customer}", json={"payment_method": "pm_card_visa"})
    assert fixed.status_code == 200, fixed.text
    await client.post(f"/v1/test_clocks/{clock}/advance", json={"frozen_time": ts(2027, 6, 9, 1)})
    active = (await client.get(f"/v1/subscriptions/{sub['id']}")).json()
    assert active["status"] == "active" and active["next_retry_at"] is None
    events = (await client.get("/v1/events", params={"limit": 100})).json()["data"]
    mine = [e["type"] for e in events if e["data"]["object"]["id"] == sub["id"]]
    for expected in (
        "customer.subscription.created",
        "customer.subscription.trial_will_end",
        "customer.subscription.past_due",
        "customer.subscription.updated",
    ):
        assert expected in mine


async def test_bad_inputs_are_4xx_naming_the_field(
    client: httpx.AsyncClient, services: Services
) -> None:
    inr, usd = await price(services, 1000), await price(services, 1000, "USD")
    _, customer = await clock_and_customer(client, ts(2027, 6, 1), "pm_card_visa")

    async def create(**body: Any) -> httpx.Response:
        return await client.post("/v1/subscriptions", json={"customer": customer, **body})

    problem(await create(items=[{"price": inr, "quantity": -1}]), 422, "items[0].quantity")
    problem(await create(items=[{"price": "price_nope"}]), 404, "items[0].price")
    mixed = problem(await create(items=[{"price": inr}, {"price": usd}]), 422, "items[1].price")
    assert mixed["code"] == "currency_mismatch"
    problem(await create(items=[]), 422, "items")
    problem(await create(items=[{"price": inr, "quantity": "2"}]), 422, "items.0.quantity")
    problem(await create(items=[{"price": inr}], trial_period_days=-3), 422, "trial_period_days")
    problem(
        await create(items=[{"price": inr}], collection_method="cash"), 422, "collection_method"
    )
    problem(
        await client.post(
            "/v1/subscriptions", json={"customer": "cus_nope", "items": [{"price": inr}]}
        ),
        404,
        "customer",
    )
    problem(await client.post("/v1/test_clocks", json={"frozen_time": -5}), 422, "frozen_time")
    problem(
        await client.post(
            "/v1/customers", json={"email": "x@example.com", "name": "X", "test_clock": "clock_x"}
        ),
        404,
        "test_clock",
    )
    problem(await client.get("/v1/subscriptions", params={"status": "sleeping"}), 422, "status")
