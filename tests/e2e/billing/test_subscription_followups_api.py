"""The billing follow-ups over HTTP: DELETE /v1/subscriptions/{id} with invoice_now and
prorate, paying an invoice by hand reactivates, a monthly -> yearly change, and the
invoice.upcoming event."""

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


async def price(services: Services, amount: int, interval: str = "month") -> str:
    product = await services.catalog.create_product(name="Pro", tax_rate="0")
    created = await services.catalog.create_price(
        Price(
            id="",
            product_id=product.id,
            currency="INR",
            created_at=datetime.now(UTC),
            unit_amount=amount,
            recurring=Recurring(interval=interval),
        )
    )
    return created.id


async def setup(client: httpx.AsyncClient, start: int, method: str) -> tuple[str, str]:
    clock = (await client.post("/v1/test_clocks", json={"frozen_time": start})).json()["id"]
    customer = await client.post(
        "/v1/customers",
        json={
            "email": "h4@example.com",
            "name": "H4",
            "payment_method": method,
            "test_clock": clock,
        },
    )
    assert customer.status_code == 201, customer.text
    return clock, customer.json()["id"]


async def advance(client: httpx.AsyncClient, clock: str, to: int) -> None:
    moved = await client.post(f"/v1/test_clocks/{clock}/advance", json={"frozen_time": to})
    assert moved.status_code == 200, moved.text


async def invoices(client: httpx.AsyncClient, sub_id: str) -> list[dict[str, Any]]:
    listed = await client.get("/v1/invoices", params={"subscription": sub_id, "limit": 100})
    assert listed.status_code == 200, listed.text
    return sorted(listed.json()["data"], key=lambda i: i["id"])


async def test_cancel_now_with_a_final_invoice_and_a_credit(
    client: httpx.AsyncClient, services: Services
) -> None:
    plan = await price(services, 30000)
    clock, customer = await setup(client, ts(2027, 4, 1), "pm_card_visa")
    sub = (
        await client.post(
            "/v1/subscriptions", json={"customer": customer, "items": [{"price": plan}]}
        )
    ).json()
    await advance(client, clock, ts(2027, 4, 21))  # 10 of April's 30 days left
    problem(
        await client.delete(
            f"/v1/subscriptions/{sub['id']}",
            params={"cancel_at_period_end": "true", "invoice_now": "true"},
        ),
        422,
        "invoice_now",
    )
    problem(
        await client.delete(f"/v1/subscriptions/{sub['id']}", params={"prorate": "maybe"}),
        422,
        "prorate",
    )
    canceled = await client.delete(
        f"/v1/subscriptions/{sub['id']}", params={"invoice_now": "true", "prorate": "true"}
    )
    assert canceled.status_code == 200, canceled.text
    body = canceled.json()
    assert body["status"] == "canceled" and body["ended_at"] == ts(2027, 4, 21)
    final = (await invoices(client, sub["id"]))[-1]
    assert body["latest_invoice"] == final["id"]
    assert [li["amount"] for li in final["lines"]] == [-10000]
    assert final["total"] == -10000 and final["status"] == "paid"
    balance = await client.get(f"/v1/customers/{customer}/balance_transactions")
    assert balance.status_code == 200, balance.text
    assert [t["amount"] for t in balance.json()["data"]] == [10000]
    problem(await client.delete(f"/v1/subscriptions/{sub['id']}"), 409, None)


async def test_paying_by_hand_reactivates_and_interval_change_and_upcoming(
    client: httpx.AsyncClient, services: Services
) -> None:
    monthly, yearly = await price(services, 30000), await price(services, 300000, "year")
    clock, customer = await setup(client, ts(2027, 4, 1), "pm_card_declined")
    sub = (
        await client.post(
            "/v1/subscriptions", json={"customer": customer, "items": [{"price": monthly}]}
        )
    ).json()
    assert sub["status"] == "past_due"
    await client.post(f"/v1/customers/{customer}", json={"payment_method": "pm_card_visa"})
    owed = (await invoices(client, sub["id"]))[0]
    paid = await client.post(f"/v1/invoices/{owed['id']}/pay")
    assert paid.status_code == 200 and paid.json()["status"] == "paid"
    got = (await client.get(f"/v1/subscriptions/{sub['id']}")).json()
    assert got["status"] == "active" and got["next_retry_at"] is None

    await advance(client, clock, ts(2027, 4, 28, 1))
    events = (await client.get("/v1/events", params={"limit": 100})).json()["data"]
    upcoming = [e for e in events if e["type"] == "invoice.upcoming"]
    assert len(upcoming) == 1
    assert upcoming[0]["data"]["object"]["subscription"] == sub["id"]
    assert upcoming[0]["data"]["object"]["period_start"] == ts(2027, 5, 1)

    await advance(client, clock, ts(2027, 5, 16, 12))  # May: 31 days, 15.5 left
    changed = await client.post(
        f"/v1/subscriptions/{sub['id']}", json={"items": [{"price": yearly}]}
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["interval"] == "year" and body["billing_cycle_anchor"] == ts(2027, 5, 16, 12)
    assert body["current_period_end"] == ts(2028, 5, 16, 12)
    change = (await invoices(client, sub["id"]))[-1]
    assert sorted(li["amount"] for li in change["lines"]) == [-15000, 300000]
    assert change["status"] == "paid"
