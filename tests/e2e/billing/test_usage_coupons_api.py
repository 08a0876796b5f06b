"""/v1/meters, /v1/meter_events, /v1/coupons and /v1/promotion_codes over HTTP."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest


def problem(response: httpx.Response, status: int, param: str | None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body.get("param") == param, body
    return body


async def new_customer(client: httpx.AsyncClient) -> str:
    r = await client.post("/v1/customers", json={"email": "a@example.com", "name": "A"})
    assert r.status_code == 201
    return str(r.json()["id"])


async def new_meter(client: httpx.AsyncClient, key: str = "api_calls", agg: str = "sum") -> None:
    r = await client.post(
        "/v1/meters", json={"key": key, "display_name": "API calls", "aggregation": agg}
    )
    assert r.status_code == 201, r.text


async def test_meters_are_created_listed_and_summarised(client: httpx.AsyncClient) -> None:
    await new_meter(client)
    again = await client.post(
        "/v1/meters", json={"key": "api_calls", "display_name": "API calls", "aggregation": "sum"}
    )
    assert again.status_code == 200
    assert again.json()["grace_seconds"] == 24 * 3600
    listed = (await client.get("/v1/meters")).json()
    assert [m["key"] for m in listed["data"]] == ["api_calls"]
    cus = await new_customer(client)
    now = int(time.time())
    for i, value in enumerate((3, 4, 5)):
        r = await client.post(
            "/v1/meter_events",
            json={"customer": cus, "meter": "api_calls", "value": value, "identifier": f"r{i}"},
        )
        assert r.status_code == 201, r.text
    summary = await client.get(
        "/v1/meters/api_calls/summary",
        params={"customer": cus, "start": now - 60, "end": now + 60},
    )
    assert summary.status_code == 200, summary.text
    assert summary.json()["value"] == 12
    empty = await client.get(
        "/v1/meters/api_calls/summary",
        params={"customer": cus, "start": now - 7200, "end": now - 3600},
    )
    assert empty.json()["value"] == 0


async def test_a_duplicate_event_answers_200_with_the_stored_event(
    client: httpx.AsyncClient,
) -> None:
    await new_meter(client)
    cus = await new_customer(client)
    body = {"customer": cus, "meter": "api_calls", "value": 7, "identifier": "req-42"}
    first = await client.post("/v1/meter_events", json=body)
    second = await client.post("/v1/meter_events", json={**body, "value": 8})
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json() == first.json()
    assert first.json()["value"] == 7


@pytest.mark.parametrize(
    ("change", "status", "param"),
    [
        ({"value": -1}, 422, "value"),
        ({"value": 1.5}, 422, "value"),
        ({"value": "3"}, 422, "value"),
        ({"meter": "no_such_meter"}, 404, "meter"),
        ({"customer": "cus_nope"}, 404, "customer"),
        ({"timestamp": int(time.time()) + 3600}, 422, "timestamp"),
        ({"timestamp": int(time.time()) - 3 * 86400}, 422, "timestamp"),
        ({"identifier": ""}, 422, "identifier"),
        ({"identifier": "a\x00b"}, 422, "identifier"),
        ({"surprise": 1}, 422, "surprise"),
    ],
)
async def test_bad_meter_events_name_the_field(
    client: httpx.AsyncClient, change: dict[str, Any], status: int, param: str
) -> None:
    await new_meter(client)
    cus = await new_customer(client)
    body = {"customer": cus, "meter": "api_calls", "value": 1, "identifier": "x", **change}
    problem(await client.post("/v1/meter_events", json=body), status, param)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"key": "k", "display_name": "K", "aggregation": "median"}, "aggregation"),
        ({"key": "a b", "display_name": "K", "aggregation": "sum"}, "key"),
        (
            {"key": "k", "display_name": "K", "aggregation": "sum", "grace_seconds": -1},
            "grace_seconds",
        ),
        (
            {"key": "k", "display_name": "K", "aggregation": "sum", "grace_seconds": 10**30},
            "grace_seconds",
        ),
    ],
)
async def test_bad_meters_name_the_field(
    client: httpx.AsyncClient, body: dict[str, Any], param: str
) -> None:
    problem(await client.post("/v1/meters", json=body), 422, param)


async def test_a_taken_meter_key_and_an_unknown_meter(client: httpx.AsyncClient) -> None:
    await new_meter(client)
    taken = await client.post(
        "/v1/meters", json={"key": "api_calls", "display_name": "Other", "aggregation": "max"}
    )
    assert problem(taken, 422, "key")["code"] == "meter_key_taken"
    problem(await client.get("/v1/meters/nope"), 404, "key")
    cus = await new_customer(client)
    problem(
        await client.get("/v1/meters/nope/summary", params={"customer": cus, "start": 0, "end": 1}),
        404,
        "meter",
    )
    problem(
        await client.get(
            "/v1/meters/api_calls/summary", params={"customer": cus, "start": 9, "end": 1}
        ),
        422,
        "end",
    )


async def test_coupons_and_promotion_codes(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/v1/coupons",
        json={
            "name": "Launch",
            "percent_off": "12.5",
            "duration": "repeating",
            "duration_in_periods": 3,
        },
    )
    assert r.status_code == 201, r.text
    coupon = r.json()
    assert (coupon["percent_off"], coupon["times_redeemed"], coupon["amount_off"]) == (
        "12.5",
        0,
        None,
    )
    amount = await client.post(
        "/v1/coupons",
        json={"amount_off": 50000, "currency": "inr", "duration": "once", "max_redemptions": 10},
        headers={"Idempotency-Key": "c-1"},
    )
    replay = await client.post(
        "/v1/coupons",
        json={"amount_off": 50000, "currency": "inr", "duration": "once", "max_redemptions": 10},
        headers={"Idempotency-Key": "c-1"},
    )
    assert amount.status_code == replay.status_code == 201
    assert amount.json() == replay.json()
    assert amount.json()["currency"] == "INR"
    listed = (await client.get("/v1/coupons", params={"limit": 1})).json()
    assert (len(listed["data"]), listed["has_more"]) == (1, True)
    assert (await client.get(f"/v1/coupons/{coupon['id']}")).json() == coupon

    code = await client.post(
        "/v1/promotion_codes", json={"code": "Launch-12", "coupon": coupon["id"]}
    )
    assert code.status_code == 201, code.text
    clash = await client.post(
        "/v1/promotion_codes", json={"code": "LAUNCH-12", "coupon": coupon["id"]}
    )
    assert problem(clash, 409, "code")["code"] == "promotion_code_taken"
    found = (await client.get("/v1/promotion_codes", params={"code": "launch-12"})).json()
    assert [p["id"] for p in found["data"]] == [code.json()["id"]]
    problem(
        await client.post("/v1/promotion_codes", json={"code": "NOPE1", "coupon": "coupon_nope"}),
        404,
        "coupon",
    )


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"percent_off": "0", "duration": "once"}, "percent_off"),
        ({"percent_off": 0, "duration": "once"}, "percent_off"),
        ({"percent_off": "100.5", "duration": "once"}, "percent_off"),
        ({"percent_off": 101, "duration": "once"}, "percent_off"),
        ({"percent_off": 12.5, "duration": "once"}, "percent_off"),
        (
            {"percent_off": "10", "amount_off": 100, "currency": "INR", "duration": "once"},
            "percent_off",
        ),
        ({"duration": "once"}, "percent_off"),
        ({"amount_off": -5, "currency": "INR", "duration": "once"}, "amount_off"),
        ({"amount_off": 500, "duration": "once"}, "currency"),
        ({"amount_off": 500, "currency": "ABC", "duration": "once"}, "currency"),
        ({"percent_off": "10", "duration": "repeating"}, "duration_in_periods"),
        ({"percent_off": "10", "duration": "sometimes"}, "duration"),
        ({"percent_off": "10", "duration": "once", "max_redemptions": 0}, "max_redemptions"),
    ],
)
async def test_bad_coupons_name_the_field(
    client: httpx.AsyncClient, body: dict[str, Any], param: str
) -> None:
    problem(await client.post("/v1/coupons", json=body), 422, param)
    assert (await client.get("/v1/coupons")).json()["data"] == []
