"""/v1/flags and OFREP over HTTP: create, update, kill switch, audit, problem+json that
names the field, OFREP wire shapes, the bulk ETag, the flags page."""

from __future__ import annotations

from typing import Any

import httpx

from paystead.optimize.flags.evaluate import bucket
from paystead.wiring import Services

ROUTING: dict[str, Any] = {
    "key": "payments.routing_strategy",
    "type": "string",
    "description": "Gateway routing strategy",
    "variants": {"thompson": "thompson", "lowest_cost": "lowest_cost"},
    "off_variant": "thompson",
    "default": {"split": {"thompson": 5000, "lowest_cost": 5000}},
    "rules": [
        {
            "name": "big INR",
            "conditions": [
                {"attribute": "currency", "operator": "eq", "value": "INR"},
                {"attribute": "amount", "operator": "gte", "value": 1_000_000},
            ],
            "serve": {"variant": "thompson"},
        }
    ],
    "reason": "experiment on routing",
}


def _problem(response: httpx.Response, status: int, param: str | None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert {"type", "title", "status", "detail", "code"} <= body.keys()
    assert body.get("param") == param, body
    return body


async def test_create_read_update_delete_with_an_audit_trail(
    client: httpx.AsyncClient, services: Services
) -> None:
    created = await client.post("/v1/flags", json=ROUTING)
    assert created.status_code == 201, created.text
    flag = created.json()
    assert flag["object"] == "flag" and flag["version"] == 1
    assert flag["default"] == {"split": {"thompson": 5000, "lowest_cost": 5000}}
    assert (
        flag["updated_by"].startswith("key_") and flag["change_reason"] == "experiment on routing"
    )

    again = await client.post("/v1/flags", json=ROUTING)
    assert _problem(again, 409, "key")["code"] == "flag_exists"

    got = await client.get("/v1/flags/payments.routing_strategy")
    assert got.json() == flag
    listed = await client.get("/v1/flags")
    assert [f["key"] for f in listed.json()["data"]] == ["payments.routing_strategy"]

    updated = await client.post(
        "/v1/flags/payments.routing_strategy",
        json={"default": {"split": {"thompson": 9000, "lowest_cost": 1000}}, "reason": "ramp"},
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["version"] == 2
    assert updated.json()["rules"] == flag["rules"]  # untouched fields stay
    patched = await client.patch(
        "/v1/flags/payments.routing_strategy", json={"enabled": False, "reason": "incident"}
    )
    assert patched.json()["enabled"] is False and patched.json()["version"] == 3

    history = (await client.get("/v1/flags/payments.routing_strategy/history")).json()["data"]
    assert [(h["type"], h["version"], h["reason"]) for h in history] == [
        ("flag.updated", 3, "incident"),
        ("flag.updated", 2, "ramp"),
        ("flag.created", 1, "experiment on routing"),
    ]
    assert history[0]["previous_attributes"] == {"enabled": True}
    events = (await client.get("/v1/events", params={"type": "flag.updated"})).json()["data"]
    assert {e["data"]["object"]["version"] for e in events} == {2, 3}

    deleted = await client.delete("/v1/flags/payments.routing_strategy", params={"reason": "done"})
    assert deleted.status_code == 200 and deleted.json()["deleted"] is True
    gone = await client.get("/v1/flags/payments.routing_strategy")
    assert _problem(gone, 404, None)["code"] == "resource_missing"


async def test_bad_definitions_are_4xx_naming_the_field(client: httpx.AsyncClient) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({**ROUTING, "key": "has space"}, "key"),
        (
            {**ROUTING, "default": {"split": {"thompson": 5000, "lowest_cost": 4000}}},
            "default.split",
        ),
        ({**ROUTING, "default": {"variant": "nope"}}, "default.variant"),
        ({**ROUTING, "variants": {"thompson": 1, "lowest_cost": "x"}}, "variants.thompson"),
        (
            {
                **ROUTING,
                "rules": [
                    {
                        "conditions": [{"attribute": "a", "operator": "~"}],
                        "serve": {"variant": "thompson"},
                    }
                ],
            },
            "rules.0.conditions.0.operator",
        ),
        ({**ROUTING, "type": "colour"}, "type"),
        ({**ROUTING, "surprise": 1}, "surprise"),
    ]
    for body, param in cases:
        _problem(await client.post("/v1/flags", json=body), 422, param)
    assert (await client.get("/v1/flags")).json()["data"] == []

    await client.post("/v1/flags", json=ROUTING)
    bad_update = await client.post(
        "/v1/flags/payments.routing_strategy", json={"off_variant": "nope"}
    )
    _problem(bad_update, 422, "off_variant")
    missing = await client.post("/v1/flags/nope", json={"enabled": False})
    _problem(missing, 404, None)


async def test_the_debug_evaluation_shows_variant_reason_and_bucket(
    client: httpx.AsyncClient,
) -> None:
    await client.post("/v1/flags", json=ROUTING)
    body = {"targeting_key": "cus_42", "attributes": {"currency": "INR", "amount": 2_000_000}}
    hit = (await client.post("/v1/flags/payments.routing_strategy/evaluate", json=body)).json()
    assert (hit["variant"], hit["reason"], hit["rule"]) == ("thompson", "TARGETING_MATCH", 0)
    assert hit["bucket"] == bucket("payments.routing_strategy", "", "cus_42")
    split = (
        await client.post(
            "/v1/flags/payments.routing_strategy/evaluate", json={"targeting_key": "cus_42"}
        )
    ).json()
    assert split["reason"] == "SPLIT"
    assert split["variant"] == ("thompson" if split["bucket"] < 5000 else "lowest_cost")


async def test_ofrep_single_flag_evaluation(client: httpx.AsyncClient) -> None:
    await client.post("/v1/flags", json=ROUTING)
    url = "/ofrep/v1/evaluate/flags/payments.routing_strategy"
    ok = await client.post(
        url, json={"context": {"targetingKey": "cus_1", "currency": "INR", "amount": 1_000_000}}
    )
    assert ok.status_code == 200, ok.text
    assert ok.json() == {
        "key": "payments.routing_strategy",
        "value": "thompson",
        "reason": "TARGETING_MATCH",
        "variant": "thompson",
        "metadata": {"version": 1, "rule": 0, "rule_name": "big INR"},
    }

    missing = await client.post("/ofrep/v1/evaluate/flags/nope", json={"context": {}})
    assert missing.status_code == 404
    assert missing.json()["key"] == "nope" and missing.json()["errorCode"] == "FLAG_NOT_FOUND"
    assert "errorDetails" in missing.json()

    no_key = await client.post(url, json={"context": {"currency": "USD"}})
    assert no_key.status_code == 400
    assert no_key.json()["errorCode"] == "TARGETING_KEY_MISSING"

    for body, code in (
        (b'{"context": [1]}', "INVALID_CONTEXT"),
        (b'{"context": {"targetingKey": 7}}', "INVALID_CONTEXT"),
        (b"{not json", "PARSE_ERROR"),
    ):
        bad = await client.post(url, content=body, headers={"content-type": "application/json"})
        assert bad.status_code == 400, bad.text
        assert bad.json()["errorCode"] == code
        assert bad.headers["content-type"] == "application/problem+json"

    anonymous = await client.post(url, json={}, headers={"Authorization": ""})
    assert anonymous.status_code == 401


async def test_ofrep_bulk_evaluation_with_etag(client: httpx.AsyncClient) -> None:
    await client.post("/v1/flags", json=ROUTING)
    await client.post("/v1/flags", json={"key": "checkout.new_page", "default": {"variant": "on"}})
    url = "/ofrep/v1/evaluate/flags"
    first = await client.post(url, json={"context": {"targetingKey": "cus_1"}})
    assert first.status_code == 200, first.text
    flags = {f["key"]: f for f in first.json()["flags"]}
    assert flags["checkout.new_page"]["value"] is True
    assert flags["payments.routing_strategy"]["reason"] == "SPLIT"
    etag = first.headers["etag"]

    same = await client.post(
        url, json={"context": {"targetingKey": "cus_1"}}, headers={"If-None-Match": etag}
    )
    assert same.status_code == 304 and same.headers["etag"] == etag

    await client.post("/v1/flags/checkout.new_page", json={"enabled": False})
    changed = await client.post(
        url, json={"context": {"targetingKey": "cus_1"}}, headers={"If-None-Match": etag}
    )
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    flags = {f["key"]: f for f in changed.json()["flags"]}
    assert flags["checkout.new_page"]["reason"] == "DISABLED"

    # a flag that cannot be evaluated for this context is an error entry, the rest serve
    anonymous = (await client.post(url, json={"context": {}})).json()["flags"]
    errors = {f["key"]: f["errorCode"] for f in anonymous if "errorCode" in f}
    assert errors == {"payments.routing_strategy": "TARGETING_KEY_MISSING"}


async def test_the_flags_page_lists_state_weights_and_changes(client: httpx.AsyncClient) -> None:
    await client.post("/v1/flags", json=ROUTING)
    await client.post(
        "/v1/flags/payments.routing_strategy",
        json={"default": {"split": {"thompson": 7500, "lowest_cost": 2500}}, "reason": "ramp"},
    )
    page = await client.get("/flags")
    assert page.status_code == 200
    html = page.text
    assert 'data-flag="payments.routing_strategy"' in html and 'data-enabled="true"' in html
    assert "75.00%" in html and "25.00%" in html
    assert "ramp" in html and "flag.updated" in html
