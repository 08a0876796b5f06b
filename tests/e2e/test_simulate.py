"""Demo traffic through the HTTP API leaves a consistent system behind."""

from __future__ import annotations

import httpx
import pytest

from paystead.insights.simulate import Simulator


async def test_demo_traffic_is_varied_and_never_breaks_anything(client: httpx.AsyncClient) -> None:
    stats = await Simulator(client, rate=2000, seed=7, billing_day_seconds=0.01).run(count=150)

    assert not [s for s in stats.statuses if s >= 500], stats.summary()
    assert stats.requests["POST /v1/payments"] >= 150
    assert stats.requests["POST /v1/customers"] >= 1
    assert stats.payments["succeeded"] > 100
    assert stats.payments["failed"] >= 1  # the seeded tail of declines shows up
    assert stats.requests["POST /v1/payments/{id}/capture"] >= 1
    assert stats.requests["POST /v1/survey_responses"] >= 1
    assert stats.requests["POST /v1/support_tickets"] >= 1

    listed = (await client.get("/v1/payments", params={"limit": 100})).json()
    orders = [p for p in listed["data"] if p["metadata"].get("source") == "simulate"]
    assert orders and {p["metadata"]["channel"] for p in orders} <= {"web", "android", "ios"}

    # Subscribers on the demo test clock: subscribed, the clock moved, invoices were issued.
    assert stats.requests["POST /v1/subscriptions"] >= 1
    assert stats.requests["POST /v1/test_clocks/{id}/advance"] >= 1
    invoices = (await client.get("/v1/invoices", params={"limit": 100})).json()["data"]
    assert invoices and all(i["number"] for i in invoices if i["status"] != "draft")
    assert (await client.get("/v1/ledger/check")).json()["ok"] is True


async def test_the_simulation_must_be_bounded(client: httpx.AsyncClient) -> None:
    with pytest.raises(ValueError):
        await Simulator(client).run()
