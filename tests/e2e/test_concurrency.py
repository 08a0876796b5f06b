"""Racing duplicates and racing refunds, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import httpx


async def test_fifty_identical_idempotent_requests_make_one_payment(
    client: httpx.AsyncClient,
) -> None:
    body = {"amount": 12345, "currency": "INR", "payment_method": "pm_card_visa"}
    headers = {"Idempotency-Key": "race-1"}

    responses = await asyncio.gather(
        *(client.post("/v1/payments", json=body, headers=headers) for _ in range(50))
    )

    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {201, 409}, statuses
    created = [r for r in responses if r.status_code == 201]
    assert created, "at least the first request must succeed"
    assert len({r.content for r in created}) == 1, "every success is the same payment, same bytes"
    for conflict in (r for r in responses if r.status_code == 409):
        assert conflict.json()["code"] == "idempotency_key_in_use"

    listed = (await client.get("/v1/payments", params={"limit": 100})).json()["data"]
    assert [p["id"] for p in listed] == [created[0].json()["id"]]
    entries = (await client.get("/v1/ledger/entries")).json()["data"]
    assert len(entries) == 1

    replay = await client.post("/v1/payments", json=body, headers=headers)
    assert replay.status_code == 201
    assert replay.content == created[0].content
    assert (await client.get("/v1/ledger/check")).json()["ok"] is True


async def test_twenty_racing_refunds_never_exceed_the_capture(client: httpx.AsyncClient) -> None:
    payment = (
        await client.post(
            "/v1/payments",
            json={"amount": 50000, "currency": "INR", "payment_method": "pm_card_visa"},
        )
    ).json()
    assert payment["status"] == "succeeded"

    responses = await asyncio.gather(
        *(
            client.post(
                "/v1/refunds",
                json={"payment": payment["id"], "amount": 7000},
                headers={"Idempotency-Key": f"refund-{i}"},
            )
            for i in range(20)
        )
    )

    succeeded = [r for r in responses if r.status_code == 201]
    rejected = [r for r in responses if r.status_code == 409]
    assert len(succeeded) + len(rejected) == 20, [r.status_code for r in responses]
    assert len(succeeded) == 50000 // 7000  # 7 fit, the 8th would exceed
    assert {r.json()["code"] for r in rejected} == {"refund_exceeds_captured"}

    final = (await client.get(f"/v1/payments/{payment['id']}")).json()
    assert final["amount_refunded"] == 7 * 7000
    assert final["amount_refund_pending"] == 0
    refund_entries = [
        e
        for e in (await client.get("/v1/ledger/entries", params={"payment": payment["id"]})).json()[
            "data"
        ]
        if e["kind"] == "refund"
    ]
    assert len(refund_entries) == 7
    assert (await client.get("/v1/ledger/check")).json()["ok"] is True
