"""/v1/events, /v1/webhook_endpoints and /v1/audit_logs over HTTP (in-process, SQLite and
PostgreSQL): list envelopes and cursors, problem+json errors, idempotent POSTs, and the
audit trail naming the API key and the request behind each change."""

from __future__ import annotations

import time
from typing import Any

import httpx

from paystead.wiring import Services, build_worker

PROBLEM = "application/problem+json"
PAYMENT = {"amount": 50000, "currency": "INR", "payment_method": "pm_card_visa"}
ENDPOINT = {
    "url": "https://example.com/hooks",
    "events": ["payment.succeeded"],
    "description": "orders",
}


def problem(response: httpx.Response, status: int, code: str, param: str | None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert (body["code"], body.get("param")) == (code, param), body
    assert body["status"] == status and body["title"] and body["detail"]


async def seal(services: Services) -> None:
    """Run the outbox worker once (no delivery channels): events reach the audit chain."""
    worker = build_worker(services, channels=[])
    try:
        await worker.run_until_idle()
    finally:
        await worker.close()


async def test_events_are_listed_filtered_and_paginated(client: httpx.AsyncClient) -> None:
    created = await client.post(
        "/v1/payments", json=PAYMENT, headers={"X-Request-Id": "req-client-7"}
    )
    assert created.headers["request-id"] == "req-client-7"
    payment = created.json()
    declined = (
        await client.post("/v1/payments", json={**PAYMENT, "payment_method": "pm_card_declined"})
    ).json()

    listed = await client.get("/v1/events", params={"object_id": payment["id"]})
    assert listed.status_code == 200
    page = listed.json()
    assert (page["object"], page["url"], page["has_more"]) == ("list", "/v1/events", False)
    assert [e["type"] for e in page["data"]] == ["payment.succeeded", "payment.created"]
    succeeded = page["data"][0]
    assert succeeded["object"] == "event" and succeeded["id"].startswith("evt_")
    assert succeeded["data"]["object"] == (await client.get(f"/v1/payments/{payment['id']}")).json()
    assert succeeded["data"]["previous_attributes"]["status"] == "processing"
    assert succeeded["request"] == {"id": "req-client-7"}
    assert (await client.get(f"/v1/events/{succeeded['id']}")).json() == succeeded

    failed = (await client.get("/v1/events", params={"type": "payment.failed"})).json()["data"]
    assert [e["data"]["object"]["id"] for e in failed] == [declined["id"]]
    family = (await client.get("/v1/events", params={"type": "payment.*", "limit": 100})).json()
    assert len(family["data"]) == 4

    now = int(time.time())
    window = {"created[gte]": now - 60, "created[lte]": now + 60, "limit": 1}
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = dict(window)
        if cursor:
            params["starting_after"] = cursor
        chunk = (await client.get("/v1/events", params=params)).json()
        seen += [e["id"] for e in chunk["data"]]
        if not chunk["has_more"]:
            break
        cursor = chunk["data"][-1]["id"]
    everything = (await client.get("/v1/events", params={"limit": 100})).json()["data"]
    # newest first, every event once: the payments' and the fixture's api_key.created
    assert seen == [e["id"] for e in everything]
    assert [e["type"] for e in everything if not e["type"].startswith("payment.")] == [
        "api_key.created"
    ]
    assert (await client.get("/v1/events", params={"created[lte]": now - 3600})).json()[
        "data"
    ] == []

    problem(await client.get("/v1/events/evt_missing"), 404, "resource_missing", None)
    problem(
        await client.get("/v1/events", params={"created[gte]": -1}),
        422,
        "parameter_invalid",
        "created[gte]",
    )
    problem(await client.get("/v1/events", params={"limit": 0}), 422, "parameter_invalid", "limit")
    async with httpx.AsyncClient(
        transport=client._transport, base_url=str(client.base_url)
    ) as anon:
        problem(await anon.get("/v1/events"), 401, "unauthenticated", None)


async def test_webhook_endpoints_show_their_secret_once_and_validate_input(
    client: httpx.AsyncClient,
) -> None:
    key = {"Idempotency-Key": "endpoint-1"}
    created = await client.post("/v1/webhook_endpoints", json=ENDPOINT, headers=key)
    assert created.status_code == 201, created.text
    endpoint = created.json()
    assert endpoint["secret"].startswith("whsec_")
    assert endpoint["object"] == "webhook_endpoint" and endpoint["status"] == "enabled"
    assert (endpoint["url"], endpoint["events"], endpoint["description"]) == (
        ENDPOINT["url"],
        ENDPOINT["events"],
        "orders",
    )
    replay = await client.post("/v1/webhook_endpoints", json=ENDPOINT, headers=key)
    assert replay.content == created.content and replay.headers["idempotent-replayed"] == "true"
    problem(
        await client.post(
            "/v1/webhook_endpoints", json={**ENDPOINT, "description": "x"}, headers=key
        ),
        422,
        "idempotency_key_reused",
        "Idempotency-Key",
    )

    fetched = (await client.get(f"/v1/webhook_endpoints/{endpoint['id']}")).json()
    assert "secret" not in fetched
    assert fetched == {k: v for k, v in endpoint.items() if k != "secret"}
    listed = (await client.get("/v1/webhook_endpoints")).json()
    assert [e["id"] for e in listed["data"]] == [endpoint["id"]]
    assert "whsec_" not in (await client.get("/v1/webhook_endpoints")).text

    for body, code, param in [
        ({**ENDPOINT, "url": "http://example.com/hooks"}, "url_invalid", "url"),
        ({**ENDPOINT, "url": "http://127.0.0.1:9/hooks"}, "url_invalid", "url"),
        ({**ENDPOINT, "url": "https://192.168.1.5/hooks"}, "url_invalid", "url"),
        ({**ENDPOINT, "events": ["payment.nope"]}, "event_type_invalid", "events"),
        ({**ENDPOINT, "events": ["webhook_endpoint.created"]}, "event_type_invalid", "events"),
        ({**ENDPOINT, "events": []}, "parameter_invalid", "events"),
        ({**ENDPOINT, "secret": "whsec_mine"}, "parameter_invalid", "secret"),
    ]:
        problem(await client.post("/v1/webhook_endpoints", json=body), 422, code, param)

    updated = await client.post(
        f"/v1/webhook_endpoints/{endpoint['id']}",
        json={"events": ["*"], "disabled": True, "description": None},
    )
    assert updated.status_code == 200, updated.text
    assert {k: updated.json()[k] for k in ("events", "status", "description")} == {
        "events": ["*"],
        "status": "disabled",
        "description": None,
    }
    enabled = await client.post(f"/v1/webhook_endpoints/{endpoint['id']}", json={"disabled": False})
    assert enabled.json()["status"] == "enabled"

    rotated = await client.post(
        f"/v1/webhook_endpoints/{endpoint['id']}/rotate_secret", json={"expires_in": 3600}
    )
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["secret"].startswith("whsec_")
    assert rotated.json()["secret"] != endpoint["secret"]
    assert rotated.json()["previous_secret_expires"] >= int(time.time()) + 3590
    problem(
        await client.post(
            f"/v1/webhook_endpoints/{endpoint['id']}/rotate_secret", json={"expires_in": 10**7}
        ),
        422,
        "parameter_invalid",
        "expires_in",
    )

    await client.post("/v1/payments", json=PAYMENT)
    now = int(time.time())
    replayed = await client.post(
        f"/v1/webhook_endpoints/{endpoint['id']}/replay", json={"from": now - 60, "to": now + 60}
    )
    assert replayed.status_code == 201, replayed.text
    assert {
        k: replayed.json()[k] for k in ("object", "endpoint", "from", "count", "only_failed")
    } == {
        "object": "webhook_replay",
        "endpoint": endpoint["id"],
        "from": now - 60,
        "count": 2,  # payment.created and payment.succeeded: the endpoint now takes '*'
        "only_failed": False,
    }
    problem(
        await client.post(
            f"/v1/webhook_endpoints/{endpoint['id']}/replay", json={"from": 10, "to": 5}
        ),
        422,
        "parameter_invalid",
        "to",
    )
    deliveries = (await client.get(f"/v1/webhook_endpoints/{endpoint['id']}/deliveries")).json()
    assert deliveries["url"] == f"/v1/webhook_endpoints/{endpoint['id']}/deliveries"
    assert {(d["event_type"], d["status"], d["attempts"]) for d in deliveries["data"]} == {
        ("payment.created", "pending", 0),
        ("payment.succeeded", "pending", 0),
    }
    dead = await client.get(
        f"/v1/webhook_endpoints/{endpoint['id']}/deliveries", params={"status": "dead"}
    )
    assert dead.json()["data"] == []
    problem(
        await client.get(
            f"/v1/webhook_endpoints/{endpoint['id']}/deliveries", params={"status": "x"}
        ),
        422,
        "parameter_invalid",
        "status",
    )
    attempts = (await client.get(f"/v1/webhook_endpoints/{endpoint['id']}/attempts")).json()
    assert attempts["data"] == [] and attempts["has_more"] is False

    deleted = await client.delete(f"/v1/webhook_endpoints/{endpoint['id']}")
    assert deleted.json() == {"id": endpoint["id"], "object": "webhook_endpoint", "deleted": True}
    problem(
        await client.get(f"/v1/webhook_endpoints/{endpoint['id']}"), 404, "resource_missing", None
    )
    problem(
        await client.delete(f"/v1/webhook_endpoints/{endpoint['id']}"),
        404,
        "resource_missing",
        None,
    )


async def test_the_audit_trail_names_the_key_and_the_request_and_never_a_secret(
    client: httpx.AsyncClient, services: Services, api_key: str
) -> None:
    key_id = (await services.api_keys.verify(api_key)).id
    created = await client.post("/v1/webhook_endpoints", json=ENDPOINT)
    endpoint_id = created.json()["id"]
    rotated = await client.post(f"/v1/webhook_endpoints/{endpoint_id}/rotate_secret")
    customer = await client.post("/v1/customers", json={"email": "r@example.com", "name": "R"})
    payment = await client.post("/v1/payments", json={**PAYMENT, "customer": customer.json()["id"]})
    refund = await client.post("/v1/refunds", json={"payment": payment.json()["id"], "amount": 100})
    await seal(services)

    trail = (await client.get("/v1/audit_logs", params={"object_id": endpoint_id})).json()
    assert [r["action"] for r in trail["data"]] == [
        "webhook_endpoint.secret_rotated",
        "webhook_endpoint.created",
    ]
    assert {r["actor"] for r in trail["data"]} == {key_id}
    assert [r["request_id"] for r in trail["data"]] == [
        rotated.headers["request-id"],
        created.headers["request-id"],
    ]
    assert trail["data"][0]["before"]["secret"] == "(rotated)"
    everything = await client.get("/v1/audit_logs", params={"limit": 100})
    assert "whsec_" not in everything.text and api_key not in everything.text
    actions = [r["action"] for r in everything.json()["data"]]
    assert sorted(actions) == sorted(
        [
            "api_key.created",  # the fixture's key: configuration changes are audited too
            "webhook_endpoint.created",
            "webhook_endpoint.secret_rotated",
            "customer.created",
            "payment.created",
            "payment.succeeded",
            "refund.created",
            "refund.succeeded",
        ]
    )
    by_request = (
        await client.get("/v1/audit_logs", params={"request_id": refund.headers["request-id"]})
    ).json()["data"]
    assert [r["action"] for r in by_request] == ["refund.succeeded", "refund.created"]
    assert (
        by_request[0]["before"]
        == {
            "status": "pending",
            "gateway_reference": None,
        }
        and by_request[0]["after"]["status"] == "succeeded"
    )

    verified = (await client.get("/v1/audit_logs/verify")).json()
    assert verified["ok"] is True and verified["checked"] == 8 and verified["bad_seq"] is None
    problem(
        await client.get("/v1/audit_logs", params={"created[lte]": "soon"}),
        422,
        "parameter_invalid",
        "created[lte]",
    )
