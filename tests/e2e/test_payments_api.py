"""The payments API over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import httpx

PROBLEM = "application/problem+json"


async def create_payment(client: httpx.AsyncClient, **overrides: object) -> dict[str, object]:
    body = {"amount": 50000, "currency": "INR", "payment_method": "pm_card_visa", **overrides}
    response = await client.post("/v1/payments", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_automatic_capture_succeeds_and_posts_balanced_entry(
    client: httpx.AsyncClient,
) -> None:
    payment = await create_payment(client)
    assert payment["status"] == "succeeded"
    assert payment["amount_captured"] == 50000
    assert str(payment["id"]).startswith("pay_")

    entries = (await client.get("/v1/ledger/entries", params={"payment": payment["id"]})).json()
    [entry] = entries["data"]
    assert entry["kind"] == "payment.capture"
    assert sum(p["amount"] for p in entry["postings"]) == 0
    by_account = {p["account"]: p["amount"] for p in entry["postings"]}
    assert by_account["merchant_revenue"] == -50000
    # 2 % sandbox fee: 1000 paise charged to fees, taken out of clearing
    assert by_account["processing_fees"] == 1000

    check = (await client.get("/v1/ledger/check")).json()
    assert check == {"object": "ledger_check", "ok": True, "mismatches": []}


async def test_manual_capture_then_partial_refunds(client: httpx.AsyncClient) -> None:
    payment = await create_payment(client, capture_method="manual")
    assert payment["status"] == "requires_capture"
    assert payment["amount_captured"] == 0

    captured = await client.post(f"/v1/payments/{payment['id']}/capture", json={"amount": 30000})
    assert captured.status_code == 200, captured.text
    assert captured.json()["status"] == "succeeded"
    assert captured.json()["amount_captured"] == 30000

    first = await client.post("/v1/refunds", json={"payment": payment["id"], "amount": 10000})
    assert first.status_code == 201, first.text
    assert first.json()["status"] == "succeeded"
    rest = await client.post("/v1/refunds", json={"payment": payment["id"]})
    assert rest.json()["amount"] == 20000
    again = await client.post("/v1/refunds", json={"payment": payment["id"], "amount": 1})
    assert again.status_code == 409
    assert again.headers["content-type"] == PROBLEM
    assert again.json()["code"] == "refund_exceeds_captured"

    final = (await client.get(f"/v1/payments/{payment['id']}")).json()
    assert final["amount_refunded"] == 30000
    assert (await client.get("/v1/ledger/check")).json()["ok"] is True
