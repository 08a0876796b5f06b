"""GET /v1/payments/{id}/risk over HTTP with the default wiring: no
``payments.fraud_screening`` flag exists, so every confirmed payment is screened in
``shadow`` mode and goes through."""

from __future__ import annotations

import httpx


async def test_a_payment_is_screened_in_shadow_mode_by_default(client: httpx.AsyncClient) -> None:
    created = await client.post(
        "/v1/payments",
        json={
            "amount": 900_000,
            "currency": "USD",
            "payment_method": "pm_card_visa",
            "metadata": {"email": "x@mailinator.com", "country": "IN"},
        },
    )
    assert created.status_code == 201, created.text
    payment = created.json()
    assert payment["status"] == "succeeded"  # shadow never blocks
    assert payment["attempts"][0]["flags"]["fraud_screening"] == "shadow"

    risk = await client.get(f"/v1/payments/{payment['id']}/risk")

    assert risk.status_code == 200, risk.text
    body = risk.json()
    assert (body["object"], body["payment"], body["mode"]) == (
        "risk_assessment",
        payment["id"],
        "shadow",
    )
    assert [r["rule"] for r in body["rules"]] == [
        "amount_over_limit",
        "disposable_email",
        "country_mismatch",
    ]
    assert (body["score"], body["decision"]) == (65, "review")


async def test_unscreened_and_unknown_payments_are_404(client: httpx.AsyncClient) -> None:
    draft = await client.post(
        "/v1/payments",
        json={"amount": 100, "currency": "USD", "payment_method": "pm_card_visa", "confirm": False},
    )
    assert draft.status_code == 201, draft.text
    missing = await client.get(f"/v1/payments/{draft.json()['id']}/risk")
    assert (missing.status_code, missing.json()["code"]) == (404, "resource_missing")
    unknown = await client.get("/v1/payments/pay_nope/risk")
    assert unknown.status_code == 404
    assert "pay_nope" in unknown.json()["detail"]
