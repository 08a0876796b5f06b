"""Products, prices, invoices, credit notes and customer balance over HTTP (both backends)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from paystead.config import Settings

GSTIN = "27AAPFU0939F1ZV"
KA = {
    "line1": "1 MG Road",
    "city": "Bengaluru",
    "state_code": "KA",
    "postal_code": "560001",
    "country": "IN",
}


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, seller_gstin=GSTIN, seller_name="Acme Cloud")


def problem(response: httpx.Response, status: int, param: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["param"] == param, body
    return body


async def make_customer(client: httpx.AsyncClient, **extra: object) -> dict[str, Any]:
    body = {"email": "a@example.com", "name": "Buyer", "address": KA} | extra
    response = await client.post("/v1/customers", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def make_price(client: httpx.AsyncClient, **extra: object) -> dict[str, Any]:
    product = await client.post(
        "/v1/products", json={"name": "Pro", "tax_code": "998314", "tax_rate": "18"}
    )
    assert product.status_code == 201, product.text
    assert product.json()["tax_rate"] == "18"
    body = {"product": product.json()["id"], "currency": "INR", "unit_amount": 49900} | extra
    price = await client.post("/v1/prices", json=body)
    assert price.status_code == 201, price.text
    return dict(price.json())


async def test_customer_billing_details(client: httpx.AsyncClient) -> None:
    created = await make_customer(client, tax_id="27aapfu0939f1zv", payment_method="pm_card_visa")
    assert created["tax_id"] == "27AAPFU0939F1ZV"
    assert created["address"]["state_code"] == "29"  # KA as its GST state code
    assert created["payment_method"] == "pm_card_visa"
    updated = await client.post(
        f"/v1/customers/{created['id']}",
        json={"locale": "en_IN", "payment_method": "pm_card_declined"},
    )
    assert updated.status_code == 200, updated.text
    assert (
        updated.json()["locale"] == "en_IN"
        and updated.json()["payment_method"] == "pm_card_declined"
    )
    assert (await client.get(f"/v1/customers/{created['id']}")).json()[
        "tax_id"
    ] == "27AAPFU0939F1ZV"
    problem(
        await client.post(
            "/v1/customers",
            json={"email": "a@example.com", "name": "B", "tax_id": "27AAPFU0939F1ZW"},
        ),
        422,
        "tax_id",
    )
    problem(
        await client.post(
            "/v1/customers",
            json={"email": "a@example.com", "name": "B", "address": KA | {"state_code": "XX"}},
        ),
        422,
        "address.state_code",
    )


async def test_bad_catalog_input_names_the_field(client: httpx.AsyncClient) -> None:
    product = (await client.post("/v1/products", json={"name": "P", "tax_rate": "18"})).json()
    base = {"product": product["id"], "currency": "INR", "unit_amount": 100}
    problem(await client.post("/v1/prices", json=base | {"currency": "XYZ"}), 422, "currency")
    problem(await client.post("/v1/prices", json=base | {"unit_amount": -1}), 422, "unit_amount")
    gap = {
        "product": product["id"],
        "currency": "INR",
        "billing_scheme": "tiered",
        "tiers_mode": "graduated",
        "tiers": [
            {"up_to": 10, "unit_amount": 100},
            {"up_to": 5, "unit_amount": 50},
            {"up_to": "inf", "unit_amount": 10},
        ],
    }
    problem(await client.post("/v1/prices", json=gap), 422, "tiers")
    problem(
        await client.post("/v1/products", json={"name": "P", "tax_rate": "17"}), 422, "tax_rate"
    )
    problem(
        await client.post("/v1/products", json={"name": "P", "tax_code": "12345"}), 422, "tax_code"
    )
    assert (
        await client.post("/v1/prices", json=base | {"product": "prod_missing"})
    ).status_code == 404
    # prices are immutable except active
    price = (await client.post("/v1/prices", json=base)).json()
    problem(
        await client.post(f"/v1/prices/{price['id']}", json={"active": True, "unit_amount": 5}),
        422,
        "unit_amount",
    )
    off = await client.post(f"/v1/prices/{price['id']}", json={"active": False})
    assert off.json()["active"] is False and off.json()["unit_amount"] == 100


async def test_invoice_lifecycle_over_http(client: httpx.AsyncClient) -> None:
    cus = await make_customer(client, payment_method="pm_card_visa")
    tiered = await make_price(
        client,
        unit_amount=None,
        billing_scheme="tiered",
        tiers_mode="graduated",
        tiers=[{"up_to": 10, "unit_amount": 1000}, {"up_to": "inf", "unit_amount": 500}],
    )
    response = await client.post(
        "/v1/invoices",
        json={
            "customer": cus["id"],
            "currency": "INR",
            "items": [
                {"price": tiered["id"], "quantity": 12, "description": "API calls"},
                {"description": "Setup", "amount": 50000, "tax_rate": "18", "tax_code": "998314"},
            ],
        },
        headers={"Idempotency-Key": "inv-1"},
    )
    assert response.status_code == 201, response.text
    draft = response.json()
    assert draft["status"] == "draft" and draft["number"] is None
    # 10 x ₹10 + 2 x ₹5 = ₹110.00 (11000) + ₹500.00 setup; IGST 18 % (Maharashtra -> Karnataka)
    assert draft["subtotal"] == 61000 and draft["tax"] == 10980 and draft["total"] == 71980
    replay = await client.post(
        "/v1/invoices",
        json={
            "customer": cus["id"],
            "currency": "INR",
            "items": [
                {"price": tiered["id"], "quantity": 12, "description": "API calls"},
                {"description": "Setup", "amount": 50000, "tax_rate": "18", "tax_code": "998314"},
            ],
        },
        headers={"Idempotency-Key": "inv-1"},
    )
    assert replay.json()["id"] == draft["id"]
    paid = await client.post(f"/v1/invoices/{draft['id']}/finalize")
    assert paid.status_code == 200, paid.text
    body = paid.json()
    assert body["status"] == "paid" and body["number"] == "INV/26-27/00001"
    assert body["tax_lines"] == [
        {"type": "IGST", "rate": "18", "amount": 10980, "taxable_amount": 61000}
    ]
    assert body["place_of_supply"] == "29-Karnataka" and body["supply_type"] == "inter_state"
    assert body["amount_due"] == 0 and body["amount_paid"] == 71980 and body["payment"]
    assert (await client.get(f"/v1/payments/{body['payment']}")).json()["amount"] == 71980
    problem(await client.post(f"/v1/invoices/{draft['id']}/void"), 409, "status")
    listed = await client.get("/v1/invoices", params={"customer": cus["id"], "status": "paid"})
    assert [i["id"] for i in listed.json()["data"]] == [draft["id"]]
    assert (await client.get("/v1/invoices", params={"status": "draft"})).json()["data"] == []
    problem(await client.get("/v1/invoices", params={"status": "weird"}), 422, "status")

    note = await client.post(
        "/v1/credit_notes", json={"invoice": draft["id"], "outcome": "refund", "amount": 11800}
    )
    assert note.status_code == 201, note.text
    assert note.json()["number"] == "CN/26-27/00001" and note.json()["refund"]
    assert note.json()["tax_lines"][0]["type"] == "IGST"
    too_much = await client.post(
        "/v1/credit_notes",
        json={"invoice": draft["id"], "outcome": "credit_balance", "amount": 71980},
    )
    problem(too_much, 409, "amount")


async def test_bad_invoice_input(client: httpx.AsyncClient) -> None:
    cus = await make_customer(client)
    base = {"customer": cus["id"], "currency": "INR"}
    problem(
        await client.post("/v1/invoices", json=base | {"items": [{"amount": 100, "quantity": -1}]}),
        422,
        "items.0.quantity",
    )
    problem(
        await client.post(
            "/v1/invoices", json=base | {"currency": "ABC", "items": [{"amount": 1}]}
        ),
        422,
        "currency",
    )
    problem(
        await client.post("/v1/invoices", json=base | {"items": [{"quantity": 1}]}), 422, "items[0]"
    )
    assert (
        await client.post(
            "/v1/invoices", json=base | {"customer": "cus_missing", "items": [{"amount": 1}]}
        )
    ).status_code == 404


async def test_balance_transactions_are_applied_to_send_invoice(client: httpx.AsyncClient) -> None:
    cus = await make_customer(client)
    credit = await client.post(
        f"/v1/customers/{cus['id']}/balance_transactions", json={"amount": 10000, "currency": "INR"}
    )
    assert credit.status_code == 201, credit.text
    assert credit.json()["ending_balance"] == 10000
    inv = (
        await client.post(
            "/v1/invoices",
            json={
                "customer": cus["id"],
                "currency": "INR",
                "collection_method": "send_invoice",
                "items": [{"amount": 100000, "tax_rate": "18"}],
            },
        )
    ).json()
    opened = (await client.post(f"/v1/invoices/{inv['id']}/finalize")).json()
    assert opened["status"] == "open" and opened["applied_balance"] == 10000
    assert opened["amount_due"] == 118000 - 10000
    txns = (await client.get(f"/v1/customers/{cus['id']}/balance_transactions")).json()["data"]
    assert [(t["type"], t["amount"]) for t in txns] == [
        ("applied_to_invoice", -10000),
        ("adjustment", 10000),
    ]
    assert (await client.post(f"/v1/invoices/{inv['id']}/mark_uncollectible")).json()[
        "status"
    ] == "uncollectible"
