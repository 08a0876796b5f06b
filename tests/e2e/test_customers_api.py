"""The customers API over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

PROBLEM = "application/problem+json"
ASHA: dict[str, Any] = {
    "email": "asha@example.com",
    "name": "Asha Rao",
    "phone": "+919876543210",
    "metadata": {"plan": "gold", "source": "web"},
}
PAYMENT: dict[str, Any] = {"amount": 50000, "currency": "INR", "payment_method": "pm_card_visa"}


def assert_problem(
    response: httpx.Response, status: int, code: str, param: str | None = None
) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = dict(response.json())
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == f"https://paystead.dev/problems/{code}"
    assert body["title"] and body["detail"]
    assert body.get("param") == param, body
    return body


async def create_customer(client: httpx.AsyncClient, **overrides: object) -> dict[str, Any]:
    response = await client.post("/v1/customers", json={**ASHA, **overrides})
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_create_and_get(client: httpx.AsyncClient) -> None:
    created = await create_customer(client)
    assert str(created["id"]).startswith("cus_")
    assert created["object"] == "customer"
    assert created["email"] == ASHA["email"]
    assert created["name"] == ASHA["name"]
    assert created["phone"] == ASHA["phone"]
    assert created["metadata"] == ASHA["metadata"]
    assert isinstance(created["created"], int) and created["created"] > 1_700_000_000

    fetched = await client.get(f"/v1/customers/{created['id']}")
    assert fetched.status_code == 200, fetched.text
    assert fetched.json() == created


async def test_minimal_customer(client: httpx.AsyncClient) -> None:
    created = await create_customer(client, phone=None, metadata={})
    assert created["phone"] is None
    assert created["metadata"] == {}
    only_required = await client.post("/v1/customers", json={"email": "b@example.com", "name": "B"})
    assert only_required.status_code == 201, only_required.text
    assert only_required.json()["phone"] is None
    assert only_required.json()["metadata"] == {}


async def test_each_create_is_a_new_customer(client: httpx.AsyncClient) -> None:
    first = await create_customer(client)
    second = await create_customer(client)
    assert first["id"] != second["id"]


async def test_name_is_stripped(client: httpx.AsyncClient) -> None:
    created = await create_customer(client, name="  Asha Rao  ")
    assert created["name"] == "Asha Rao"


@pytest.mark.parametrize(
    "email",
    ["not-an-email", "asha@", "@example.com", "asha@example", "asha example@example.com", "", 42],
)
async def test_email_is_validated(client: httpx.AsyncClient, email: object) -> None:
    response = await client.post("/v1/customers", json={**ASHA, "email": email})
    assert_problem(response, 422, "parameter_invalid", "email")


@pytest.mark.parametrize(
    "phone",
    [
        "9876543210",  # no +
        "+0123456789",  # country code cannot start with 0
        "+91 98765 43210",  # spaces
        "+91-9876543210",  # dashes
        "+12345",  # too short
        "+1234567890123456",  # 16 digits: too long
        "+91987654321a",
        "",
        919876543210,
    ],
)
async def test_phone_must_be_e164(client: httpx.AsyncClient, phone: object) -> None:
    response = await client.post("/v1/customers", json={**ASHA, "phone": phone})
    assert_problem(response, 422, "parameter_invalid", "phone")


@pytest.mark.parametrize("phone", ["+1234567", "+123456789012345", "+14155550123"])
async def test_e164_limits_are_accepted(client: httpx.AsyncClient, phone: str) -> None:
    created = await create_customer(client, phone=phone)
    assert created["phone"] == phone


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"email": "a@example.com"}, "name"),
        ({"name": "A"}, "email"),
        ({**ASHA, "name": ""}, "name"),
        ({**ASHA, "name": "   "}, "name"),
        ({**ASHA, "name": "x" * 201}, "name"),
        ({**ASHA, "nickname": "A"}, "nickname"),
        ({**ASHA, "metadata": {"plan": 1}}, "metadata.plan"),
        ({**ASHA, "metadata": {f"k{i}": "v" for i in range(51)}}, "metadata"),
        ({**ASHA, "metadata": "gold"}, "metadata"),
    ],
)
async def test_bad_customer_input_is_422(
    client: httpx.AsyncClient, body: dict[str, Any], param: str
) -> None:
    response = await client.post("/v1/customers", json=body)
    assert_problem(response, 422, "parameter_invalid", param)


async def test_unknown_customer_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/customers/cus_01doesnotexist")
    body = assert_problem(response, 404, "resource_missing")
    assert "cus_01doesnotexist" in body["detail"]


async def test_customers_need_an_api_key(client: httpx.AsyncClient) -> None:
    created = await create_customer(client)
    response = await client.get(
        f"/v1/customers/{created['id']}", headers={"Authorization": "Bearer sk_wrong"}
    )
    assert_problem(response, 401, "unauthenticated")
    assert response.headers["www-authenticate"] == "Bearer"


async def test_create_is_idempotent(client: httpx.AsyncClient) -> None:
    key = {"Idempotency-Key": "signup-asha"}
    first = await client.post("/v1/customers", json=ASHA, headers=key)
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers

    replay = await client.post("/v1/customers", json=ASHA, headers=key)
    assert replay.status_code == 201
    assert replay.content == first.content
    assert replay.headers["idempotent-replayed"] == "true"

    changed = await client.post("/v1/customers", json={**ASHA, "name": "Someone Else"}, headers=key)
    assert_problem(changed, 422, "idempotency_key_reused", "Idempotency-Key")

    # only the first customer exists under that key; a new key makes a new customer
    other = await client.post("/v1/customers", json=ASHA, headers={"Idempotency-Key": "other"})
    assert other.status_code == 201
    assert other.json()["id"] != first.json()["id"]
    fetched = await client.get(f"/v1/customers/{first.json()['id']}")
    assert fetched.json() == first.json()


async def test_invalid_create_does_not_burn_the_key(client: httpx.AsyncClient) -> None:
    key = {"Idempotency-Key": "signup-retry"}
    bad = await client.post("/v1/customers", json={**ASHA, "phone": "98765"}, headers=key)
    assert_problem(bad, 422, "parameter_invalid", "phone")
    good = await client.post("/v1/customers", json=ASHA, headers=key)
    assert good.status_code == 201, good.text
    assert "idempotent-replayed" not in good.headers


async def test_payment_links_to_customer_and_filters(client: httpx.AsyncClient) -> None:
    asha = await create_customer(client)
    ravi = await create_customer(client, email="ravi@example.com", name="Ravi")
    loner = await create_customer(client, email="loner@example.com", name="Loner")

    asha_ids = set()
    for amount in (1000, 2000, 3000):
        response = await client.post(
            "/v1/payments", json={**PAYMENT, "amount": amount, "customer": asha["id"]}
        )
        assert response.status_code == 201, response.text
        assert response.json()["customer"] == asha["id"]
        asha_ids.add(response.json()["id"])
    ravi_payment = await client.post("/v1/payments", json={**PAYMENT, "customer": ravi["id"]})
    anonymous = await client.post("/v1/payments", json=PAYMENT)
    assert anonymous.json()["customer"] is None

    fetched = await client.get(f"/v1/payments/{next(iter(asha_ids))}")
    assert fetched.json()["customer"] == asha["id"]

    mine = (await client.get("/v1/payments", params={"customer": asha["id"]})).json()
    assert {p["id"] for p in mine["data"]} == asha_ids
    assert all(p["customer"] == asha["id"] for p in mine["data"])
    assert mine["has_more"] is False

    theirs = (await client.get("/v1/payments", params={"customer": ravi["id"]})).json()
    assert [p["id"] for p in theirs["data"]] == [ravi_payment.json()["id"]]

    none = (await client.get("/v1/payments", params={"customer": loner["id"]})).json()
    assert none["data"] == []
    assert none["has_more"] is False

    everything = (await client.get("/v1/payments", params={"limit": 100})).json()
    assert len(everything["data"]) == 5


async def test_payment_for_unknown_customer_is_404(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/payments", json={**PAYMENT, "customer": "cus_01nobody"})
    assert_problem(response, 404, "resource_missing", "customer")
    assert (await client.get("/v1/payments")).json()["data"] == []
