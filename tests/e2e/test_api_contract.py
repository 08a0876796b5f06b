"""The HTTP contract: problem+json errors, nothing half-written, auth, state rules, idempotency.

Every test runs against the real app in-process, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from paystead.api.app import create_app
from paystead.config import Settings
from paystead.platform.apikeys import create_api_key, revoke_api_key
from paystead.wiring import Services, build_services

PROBLEM = "application/problem+json"
PROBLEM_TYPE_BASE = "https://paystead.dev/problems/"
BASE_URL = "http://paystead.test"
VALID: dict[str, Any] = {"amount": 50000, "currency": "INR", "payment_method": "pm_card_visa"}
MAX_AMOUNT = 2**53 - 1
DEFAULT_MAX_BODY = 64 * 1024
DECLINES = {
    "pm_card_declined": "card_declined",
    "pm_card_insufficient_funds": "insufficient_funds",
    "pm_card_expired": "expired_card",
    "pm_card_fraudulent": "fraudulent",
}

_UNSET = object()


# -- helpers ----------------------------------------------------------------------------


def assert_problem(
    response: httpx.Response,
    status: int,
    code: str | None = None,
    param: object = _UNSET,
) -> dict[str, Any]:
    """An RFC 9457 problem with our extensions; returns its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM, response.headers
    body = dict(response.json())
    for member in ("type", "title", "status", "detail", "code"):
        assert member in body, body
    assert body["status"] == status
    assert body["type"] == PROBLEM_TYPE_BASE + body["code"]
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    if code is not None:
        assert body["code"] == code, body
    if param is not _UNSET:
        assert body.get("param") == param, body
    return body


async def create_payment(client: httpx.AsyncClient, **overrides: object) -> dict[str, Any]:
    response = await client.post("/v1/payments", json={**VALID, **overrides})
    assert response.status_code == 201, response.text
    return dict(response.json())


async def get_payment(client: httpx.AsyncClient, payment_id: str) -> dict[str, Any]:
    response = await client.get(f"/v1/payments/{payment_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


async def entries_of(client: httpx.AsyncClient, payment_id: str) -> list[dict[str, Any]]:
    response = await client.get("/v1/ledger/entries", params={"payment": payment_id})
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


async def snapshot(client: httpx.AsyncClient) -> dict[str, Any]:
    """Everything a bad request must leave untouched: payments, ledger accounts, entries."""
    payments = await client.get("/v1/payments", params={"limit": 100})
    accounts = await client.get("/v1/ledger/accounts")
    entries = await client.get("/v1/ledger/entries", params={"limit": 100})
    for response in (payments, accounts, entries):
        assert response.status_code == 200, response.text
    return {
        "payments": payments.json()["data"],
        "accounts": accounts.json()["data"],
        "entries": entries.json()["data"],
    }


async def assert_ledger_ok(client: httpx.AsyncClient) -> None:
    check = (await client.get("/v1/ledger/check")).json()
    assert check["ok"] is True, check


@asynccontextmanager
async def fresh_app(database_url: str, **overrides: Any) -> AsyncIterator[tuple[FastAPI, Services]]:
    """An app with its own services and settings, on the test's database."""
    settings = Settings(database_url=database_url, **overrides)
    services = build_services(settings)
    try:
        yield create_app(settings, services), services
    finally:
        await services.close()


def http_client(app: FastAPI, secret: str | None = None, **kwargs: Any) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {secret}"} if secret is not None else {}
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, **kwargs), base_url=BASE_URL, headers=headers
    )


# -- validation: 422 naming the field, and nothing half-written -------------------------


def _without(field: str) -> dict[str, Any]:
    return {k: v for k, v in VALID.items() if k != field}


# (id, request body, status, code or None, param)
BAD_PAYMENTS: list[tuple[str, dict[str, Any], int, str | None, str]] = [
    ("amount-float", {**VALID, "amount": 10.5}, 422, "parameter_invalid", "amount"),
    ("amount-string", {**VALID, "amount": "10"}, 422, "parameter_invalid", "amount"),
    ("amount-bool", {**VALID, "amount": True}, 422, "parameter_invalid", "amount"),
    ("amount-negative", {**VALID, "amount": -1}, 422, "parameter_invalid", "amount"),
    ("amount-zero", {**VALID, "amount": 0}, 422, "parameter_invalid", "amount"),
    ("amount-2**53", {**VALID, "amount": 2**53}, 422, "parameter_invalid", "amount"),
    ("amount-2**64", {**VALID, "amount": 2**64}, 422, "parameter_invalid", "amount"),
    ("amount-null", {**VALID, "amount": None}, 422, "parameter_invalid", "amount"),
    ("amount-missing", _without("amount"), 422, "parameter_invalid", "amount"),
    ("currency-unknown", {**VALID, "currency": "ABC"}, 422, "parameter_invalid", "currency"),
    ("currency-funds-code", {**VALID, "currency": "XAU"}, 422, "parameter_invalid", "currency"),
    ("currency-short", {**VALID, "currency": "IN"}, 422, "parameter_invalid", "currency"),
    ("currency-long", {**VALID, "currency": "INRR"}, 422, "parameter_invalid", "currency"),
    ("currency-number", {**VALID, "currency": 356}, 422, "parameter_invalid", "currency"),
    ("currency-missing", _without("currency"), 422, "parameter_invalid", "currency"),
    ("extra-field", {**VALID, "amout": 50000}, 422, "parameter_invalid", "amout"),
    ("metadata-int", {**VALID, "metadata": {"order": 1}}, 422, None, "metadata.order"),
    ("metadata-nested", {**VALID, "metadata": {"o": {"x": "y"}}}, 422, None, "metadata.o"),
    (
        "metadata-too-many",
        {**VALID, "metadata": {f"k{i}": "v" for i in range(51)}},
        422,
        "parameter_invalid",
        "metadata",
    ),
    ("metadata-list", {**VALID, "metadata": ["a"]}, 422, "parameter_invalid", "metadata"),
    (
        "payment-method-unknown",
        {**VALID, "payment_method": "pm_card_nope"},
        422,
        "payment_method_invalid",
        "payment_method",
    ),
    (
        "payment-method-missing",
        _without("payment_method"),
        422,
        "parameter_invalid",
        "payment_method",
    ),
    ("gateway-unknown", {**VALID, "gateway": "stripe"}, 422, "gateway_invalid", "gateway"),
    ("capture-method", {**VALID, "capture_method": "later"}, 422, None, "capture_method"),
    ("confirm-string", {**VALID, "confirm": "false"}, 422, "parameter_invalid", "confirm"),
    ("customer-malformed", {**VALID, "customer": "not an id"}, 422, None, "customer"),
    (
        "customer-missing",
        {**VALID, "customer": "cus_01doesnotexist"},
        404,
        "resource_missing",
        "customer",
    ),
]


@pytest.mark.parametrize(
    ("body", "status", "code", "param"),
    [pytest.param(*case[1:], id=case[0]) for case in BAD_PAYMENTS],
)
async def test_bad_payment_input_is_a_problem_and_writes_nothing(
    client: httpx.AsyncClient,
    body: dict[str, Any],
    status: int,
    code: str | None,
    param: str,
) -> None:
    await create_payment(client)  # accounts and an entry exist: a realistic baseline
    before = await snapshot(client)

    response = await client.post("/v1/payments", json=body)

    assert_problem(response, status, code, param)
    assert await snapshot(client) == before
    await assert_ledger_ok(client)


async def test_largest_safe_integer_amount_is_accepted(client: httpx.AsyncClient) -> None:
    payment = await create_payment(client, amount=MAX_AMOUNT)
    assert payment["status"] == "succeeded"
    assert payment["amount"] == MAX_AMOUNT
    assert payment["amount_captured"] == MAX_AMOUNT
    [entry] = await entries_of(client, payment["id"])
    by_account = {p["account"]: p["amount"] for p in entry["postings"]}
    assert by_account["merchant_revenue"] == -MAX_AMOUNT
    await assert_ledger_ok(client)


async def test_currency_is_normalised_to_upper_case(client: httpx.AsyncClient) -> None:
    payment = await create_payment(client, currency="inr")
    assert payment["currency"] == "INR"


async def test_rejected_payment_in_a_new_currency_creates_no_ledger_accounts(
    client: httpx.AsyncClient,
) -> None:
    """A request refused with 404 (unknown customer) must not leave ledger accounts behind."""
    before = await snapshot(client)
    assert before["accounts"] == []

    response = await client.post(
        "/v1/payments", json={**VALID, "currency": "EUR", "customer": "cus_01doesnotexist"}
    )

    assert_problem(response, 404, "resource_missing", "customer")
    assert await snapshot(client) == before


async def test_metadata_at_the_limits_is_accepted(client: httpx.AsyncClient) -> None:
    metadata = {f"k{i:02d}": "v" * 500 for i in range(50)}
    payment = await create_payment(client, metadata=metadata)
    assert payment["metadata"] == metadata
    assert (await get_payment(client, payment["id"]))["metadata"] == metadata


@pytest.mark.parametrize(
    "metadata",
    [
        pytest.param({"k": "v" * 501}, id="value-too-long"),
        pytest.param({"k" * 41: "v"}, id="key-too-long"),
        pytest.param({"": "v"}, id="key-empty"),
    ],
)
async def test_metadata_size_limits(client: httpx.AsyncClient, metadata: dict[str, str]) -> None:
    before = await snapshot(client)
    response = await client.post("/v1/payments", json={**VALID, "metadata": metadata})
    body = assert_problem(response, 422, "parameter_invalid")
    assert str(body["param"]).startswith("metadata"), body
    assert await snapshot(client) == before


# -- malformed and oversized bodies -----------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b'{"amount": 50000, "currency": "INR",', id="truncated"),
        pytest.param(b"{'amount': 1}", id="single-quotes"),
        pytest.param(b'{"amount": 50000} trailing', id="trailing-garbage"),
    ],
)
async def test_malformed_json_is_400(client: httpx.AsyncClient, raw: bytes) -> None:
    before = await snapshot(client)
    response = await client.post(
        "/v1/payments", content=raw, headers={"Content-Type": "application/json"}
    )
    assert_problem(response, 400, "body_malformed")
    assert await snapshot(client) == before


def _padded(size: int) -> bytes:
    """A valid payment body padded with JSON whitespace to exactly ``size`` bytes."""
    raw = json.dumps(VALID).encode()
    assert len(raw) < size
    return raw[:-1] + b" " * (size - len(raw)) + b"}"


async def test_body_at_the_limit_is_accepted(client: httpx.AsyncClient) -> None:
    raw = _padded(DEFAULT_MAX_BODY)
    assert len(raw) == DEFAULT_MAX_BODY
    response = await client.post(
        "/v1/payments", content=raw, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 201, response.text


async def test_body_over_the_limit_with_content_length_is_413(client: httpx.AsyncClient) -> None:
    before = await snapshot(client)
    raw = _padded(DEFAULT_MAX_BODY + 1)
    response = await client.post(
        "/v1/payments", content=raw, headers={"Content-Type": "application/json"}
    )
    assert response.request.headers["content-length"] == str(DEFAULT_MAX_BODY + 1)
    assert_problem(response, 413, "body_too_large")
    assert await snapshot(client) == before


async def _chunks(raw: bytes, size: int = 8192) -> AsyncIterator[bytes]:
    for start in range(0, len(raw), size):
        yield raw[start : start + size]


async def test_small_chunked_body_is_accepted(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/payments",
        content=_chunks(json.dumps(VALID).encode(), size=7),
        headers={"Content-Type": "application/json"},
    )
    assert "content-length" not in response.request.headers
    assert response.status_code == 201, response.text


async def test_body_over_the_limit_streamed_chunked_is_413(client: httpx.AsyncClient) -> None:
    before = await snapshot(client)
    response = await client.post(
        "/v1/payments",
        content=_chunks(_padded(DEFAULT_MAX_BODY * 2)),
        headers={"Content-Type": "application/json"},
    )
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert_problem(response, 413, "body_too_large")
    assert await snapshot(client) == before


async def test_body_limit_follows_settings(database_url: str) -> None:
    async with fresh_app(database_url, max_body_bytes=2048) as (app, services):
        _key, secret = await create_api_key(services.db, "limits")
        async with http_client(app, secret) as http:
            ok = await http.post(
                "/v1/payments", content=_padded(2048), headers={"Content-Type": "application/json"}
            )
            assert ok.status_code == 201, ok.text
            too_big = await http.post(
                "/v1/payments", content=_padded(2049), headers={"Content-Type": "application/json"}
            )
            assert_problem(too_big, 413, "body_too_large")


# -- authentication ---------------------------------------------------------------------


def assert_unauthenticated(response: httpx.Response) -> None:
    assert_problem(response, 401, "unauthenticated")
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(None, id="missing"),
        pytest.param("", id="empty"),
        pytest.param("Bearer", id="bearer-without-key"),
        pytest.param("Bearer sk_not_a_real_key_0123456789abcdef", id="wrong-key"),
        pytest.param("Bearer pk_0123456789", id="wrong-prefix"),
        pytest.param("Basic dXNlcjpwYXNz", id="basic-scheme"),
    ],
)
async def test_bad_credentials_are_401(
    app: FastAPI, client: httpx.AsyncClient, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    async with http_client(app) as anonymous:
        for method, path, body in [
            ("GET", "/v1/payments", None),
            ("POST", "/v1/payments", VALID),
            ("GET", "/v1/ledger/accounts", None),
            ("POST", "/v1/customers", {"email": "a@example.com", "name": "A"}),
        ]:
            response = await anonymous.request(method, path, json=body, headers=headers)
            assert_unauthenticated(response)
    assert (await snapshot(client))["payments"] == []


async def test_authentication_comes_before_validation(app: FastAPI) -> None:
    async with http_client(app) as anonymous:
        response = await anonymous.post("/v1/payments", json={"amount": "bogus"})
    assert_unauthenticated(response)


async def test_revoked_key_is_refused_without_a_cache(database_url: str) -> None:
    async with fresh_app(database_url, api_key_cache_seconds=0) as (app, services):
        key, secret = await create_api_key(services.db, "to-revoke")
        _other, other_secret = await create_api_key(services.db, "stays")
        async with http_client(app, secret) as http, http_client(app, other_secret) as other:
            assert (await http.get("/v1/payments")).status_code == 200
            assert await revoke_api_key(services.db, key.id) is True

            assert_unauthenticated(await http.get("/v1/payments"))
            assert_unauthenticated(await http.post("/v1/payments", json=VALID))
            # revoking one key leaves the others working
            assert (await other.get("/v1/payments")).status_code == 200
            assert (await other.get("/v1/payments")).json()["data"] == []
        assert await revoke_api_key(services.db, key.id) is False  # already revoked


async def test_revoked_key_is_refused_by_a_process_that_has_not_cached_it(
    app: FastAPI, services: Services, database_url: str
) -> None:
    key, secret = await create_api_key(services.db, "cached")
    async with http_client(app, secret) as http:
        assert (await http.get("/v1/payments")).status_code == 200  # now cached
        await revoke_api_key(services.db, key.id)
    # another process (fresh services, empty cache) refuses it at once
    async with fresh_app(database_url) as (other_app, _), http_client(other_app, secret) as http:
        assert_unauthenticated(await http.get("/v1/payments"))


# -- 404s -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/v1/payments/pay_01doesnotexist", None),
        ("POST", "/v1/payments/pay_01doesnotexist/capture", None),
        ("POST", "/v1/payments/pay_01doesnotexist/cancel", None),
        ("POST", "/v1/payments/pay_01doesnotexist/confirm", None),
        ("GET", "/v1/refunds/re_01doesnotexist", None),
        ("GET", "/v1/customers/cus_01doesnotexist", None),
    ],
)
async def test_unknown_ids_are_404(
    client: httpx.AsyncClient, method: str, path: str, body: object
) -> None:
    response = await client.request(method, path, json=body)
    body_out = assert_problem(response, 404, "resource_missing")
    assert "doesnotexist" in body_out["detail"]


async def test_refund_of_unknown_payment_is_404_naming_the_payment(
    client: httpx.AsyncClient,
) -> None:
    before = await snapshot(client)
    response = await client.post("/v1/refunds", json={"payment": "pay_01doesnotexist"})
    assert_problem(response, 404, "resource_missing", param="payment")
    assert await snapshot(client) == before


async def test_unknown_route_is_a_problem(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/v1/nope"), 404, "route_not_found")
    assert_problem(await client.post("/v2/payments", json=VALID), 404, "route_not_found")


async def test_wrong_method_is_a_problem(client: httpx.AsyncClient) -> None:
    response = await client.delete("/v1/payments")
    assert_problem(response, 405, "method_not_allowed")


# -- 409: illegal transitions -----------------------------------------------------------


async def assert_conflict_changes_nothing(
    client: httpx.AsyncClient,
    payment_id: str,
    request: Callable[[], Any],
    code: str,
    param: object = _UNSET,
) -> dict[str, Any]:
    before_payment = await get_payment(client, payment_id)
    before = await snapshot(client)
    response = await request()
    body = assert_problem(response, 409, code, param)
    assert await get_payment(client, payment_id) == before_payment
    assert await snapshot(client) == before
    await assert_ledger_ok(client)
    return body


async def test_capture_a_declined_payment_is_409(client: httpx.AsyncClient) -> None:
    payment = await create_payment(client, payment_method="pm_card_declined")
    assert payment["status"] == "failed"
    await assert_conflict_changes_nothing(
        client,
        payment["id"],
        lambda: client.post(f"/v1/payments/{payment['id']}/capture"),
        "payment_capture_not_allowed",
    )


async def test_capture_an_automatic_payment_is_409(client: httpx.AsyncClient) -> None:
    payment = await create_payment(client)
    assert payment["status"] == "succeeded"
    await assert_conflict_changes_nothing(
        client,
        payment["id"],
        lambda: client.post(f"/v1/payments/{payment['id']}/capture", json={}),
        "payment_capture_not_allowed",
    )


async def test_capture_twice_is_409(client: httpx.AsyncClient) -> None:
    payment = await create_payment(client, capture_method="manual")
    first = await client.post(f"/v1/payments/{payment['id']}/capture")
    assert first.status_code == 200, first.text
    assert first.json()["amount_captured"] == 50000
    await assert_conflict_changes_nothing(
        client,
        payment["id"],
        lambda: client.post(f"/v1/payments/{payment['id']}/capture"),
        "payment_capture_not_allowed",
    )
    assert len(await entries_of(client, payment["id"])) == 1


async def test_capture_more_than_authorized_is_409(client: httpx.AsyncClient) -> None:
    payment = await create_payment(client, capture_method="manual")
    body = await assert_conflict_changes_nothing(
        client,
        payment["id"],
        lambda: client.post(f"/v1/payments/{payment['id']}/capture", json={"amount": 50001}),
        "capture_exceeds_authorized",
        param="amount",
    )
    assert "50001" in body["detail"]
    assert (await get_payment(client, payment["id"]))["status"] == "requires_capture"


async def test_capture_amount_is_validated(client: httpx.AsyncClient) -> None:
    payment = await create_payment(client, capture_method="manual")
    for amount in (0, -5, 1.5, "100", True, 2**53):
        response = await client.post(
            f"/v1/payments/{payment['id']}/capture", json={"amount": amount}
        )
        assert_problem(response, 422, "parameter_invalid", "amount")
    extra = await client.post(f"/v1/payments/{payment['id']}/capture", json={"amout": 1})
    assert_problem(extra, 422, "parameter_invalid", "amout")
    assert (await get_payment(client, payment["id"]))["status"] == "requires_capture"


async def test_cancel_a_succeeded_payment_is_409(client: httpx.AsyncClient) -> None:
    payment = await create_payment(client)
    await assert_conflict_changes_nothing(
        client,
        payment["id"],
        lambda: client.post(f"/v1/payments/{payment['id']}/cancel"),
        "payment_cancel_not_allowed",
    )


async def test_cancel_a_failed_payment_is_409(client: httpx.AsyncClient) -> None:
    payment = await create_payment(client, payment_method="pm_card_expired")
    await assert_conflict_changes_nothing(
        client,
        payment["id"],
        lambda: client.post(f"/v1/payments/{payment['id']}/cancel"),
        "payment_cancel_not_allowed",
    )


async def test_confirm_a_succeeded_payment_is_409(client: httpx.AsyncClient) -> None:
    payment = await create_payment(client)
    await assert_conflict_changes_nothing(
        client,
        payment["id"],
        lambda: client.post(f"/v1/payments/{payment['id']}/confirm"),
        "payment_confirm_not_allowed",
    )


async def test_refund_an_uncaptured_payment_is_409(client: httpx.AsyncClient) -> None:
    payment = await create_payment(client, capture_method="manual")
    assert payment["status"] == "requires_capture"
    await assert_conflict_changes_nothing(
        client,
        payment["id"],
        lambda: client.post("/v1/refunds", json={"payment": payment["id"], "amount": 100}),
        "payment_not_refundable",
    )


async def test_refund_a_failed_payment_is_409(client: httpx.AsyncClient) -> None:
    payment = await create_payment(client, payment_method="pm_card_insufficient_funds")
    await assert_conflict_changes_nothing(
        client,
        payment["id"],
        lambda: client.post("/v1/refunds", json={"payment": payment["id"]}),
        "payment_not_refundable",
    )


async def test_refund_more_than_captured_is_409(client: httpx.AsyncClient) -> None:
    payment = await create_payment(client, capture_method="manual")
    captured = await client.post(f"/v1/payments/{payment['id']}/capture", json={"amount": 20000})
    assert captured.status_code == 200, captured.text
    # more than captured, though less than authorized
    await assert_conflict_changes_nothing(
        client,
        payment["id"],
        lambda: client.post("/v1/refunds", json={"payment": payment["id"], "amount": 20001}),
        "refund_exceeds_captured",
        param="amount",
    )
    full = await client.post("/v1/refunds", json={"payment": payment["id"], "amount": 20000})
    assert full.status_code == 201, full.text
    await assert_conflict_changes_nothing(
        client,
        payment["id"],
        lambda: client.post("/v1/refunds", json={"payment": payment["id"], "amount": 1}),
        "refund_exceeds_captured",
        param="amount",
    )
    await assert_conflict_changes_nothing(
        client,
        payment["id"],
        lambda: client.post("/v1/refunds", json={"payment": payment["id"]}),
        "payment_fully_refunded",
    )


# -- flows ------------------------------------------------------------------------------


async def test_manual_capture_then_cancel_before_capture(client: httpx.AsyncClient) -> None:
    payment = await create_payment(client, capture_method="manual")
    assert payment["status"] == "requires_capture"
    assert payment["gateway_reference"]

    canceled = await client.post(f"/v1/payments/{payment['id']}/cancel")
    assert canceled.status_code == 200, canceled.text
    assert canceled.json()["status"] == "canceled"
    assert canceled.json()["amount_captured"] == 0

    assert (await get_payment(client, payment["id"]))["status"] == "canceled"
    assert await entries_of(client, payment["id"]) == []
    # canceled is final
    assert_problem(
        await client.post(f"/v1/payments/{payment['id']}/capture"),
        409,
        "payment_capture_not_allowed",
    )
    assert_problem(
        await client.post(f"/v1/payments/{payment['id']}/cancel"), 409, "payment_cancel_not_allowed"
    )
    assert await entries_of(client, payment["id"]) == []
    await assert_ledger_ok(client)


async def test_unconfirmed_payment_waits_then_confirm_captures(client: httpx.AsyncClient) -> None:
    payment = await create_payment(client, confirm=False)
    assert payment["status"] == "requires_confirmation"
    assert payment["amount_captured"] == 0
    assert await entries_of(client, payment["id"]) == []

    confirmed = await client.post(f"/v1/payments/{payment['id']}/confirm")
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "succeeded"
    assert confirmed.json()["amount_captured"] == 50000
    assert await get_payment(client, payment["id"]) == confirmed.json()
    [entry] = await entries_of(client, payment["id"])
    assert entry["kind"] == "payment.capture"
    await assert_ledger_ok(client)


async def test_unconfirmed_manual_payment_confirms_to_requires_capture(
    client: httpx.AsyncClient,
) -> None:
    payment = await create_payment(client, confirm=False, capture_method="manual")
    confirmed = await client.post(f"/v1/payments/{payment['id']}/confirm", json={})
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "requires_capture"
    assert await entries_of(client, payment["id"]) == []
    captured = await client.post(f"/v1/payments/{payment['id']}/capture")
    assert captured.json()["status"] == "succeeded"
    assert len(await entries_of(client, payment["id"])) == 1


async def test_unconfirmed_payment_can_be_canceled(client: httpx.AsyncClient) -> None:
    payment = await create_payment(client, confirm=False)
    canceled = await client.post(f"/v1/payments/{payment['id']}/cancel")
    assert canceled.status_code == 200, canceled.text
    assert canceled.json()["status"] == "canceled"
    assert_problem(
        await client.post(f"/v1/payments/{payment['id']}/confirm"),
        409,
        "payment_confirm_not_allowed",
    )
    assert await entries_of(client, payment["id"]) == []


async def test_confirm_rejects_a_body(client: httpx.AsyncClient) -> None:
    payment = await create_payment(client, confirm=False)
    response = await client.post(f"/v1/payments/{payment['id']}/confirm", json={"amount": 1})
    assert_problem(response, 422, "parameter_invalid", "amount")
    assert (await get_payment(client, payment["id"]))["status"] == "requires_confirmation"


@pytest.mark.parametrize(("token", "failure_code"), sorted(DECLINES.items()))
async def test_decline_tokens_fail_without_ledger_entry(
    client: httpx.AsyncClient, token: str, failure_code: str
) -> None:
    payment = await create_payment(client, payment_method=token)
    assert payment["status"] == "failed"
    assert payment["failure_code"] == failure_code
    assert payment["failure_message"]
    assert payment["amount_captured"] == 0
    assert await get_payment(client, payment["id"]) == payment
    assert await entries_of(client, payment["id"]) == []
    await assert_ledger_ok(client)


async def test_declined_after_confirm(client: httpx.AsyncClient) -> None:
    payment = await create_payment(client, payment_method="pm_card_fraudulent", confirm=False)
    confirmed = await client.post(f"/v1/payments/{payment['id']}/confirm")
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "failed"
    assert confirmed.json()["failure_code"] == "fraudulent"
    assert await entries_of(client, payment["id"]) == []


async def test_processing_error_token_fails(client: httpx.AsyncClient) -> None:
    payment = await create_payment(client, payment_method="pm_card_processing_error")
    assert payment["status"] == "failed"
    assert payment["failure_code"] == "processing_error"
    assert payment["amount_captured"] == 0
    assert await entries_of(client, payment["id"]) == []
    await assert_ledger_ok(client)


# -- idempotency ------------------------------------------------------------------------


def idem(key: str) -> dict[str, str]:
    return {"Idempotency-Key": key}


async def count_payments(client: httpx.AsyncClient) -> int:
    return len((await snapshot(client))["payments"])


async def test_same_key_same_body_replays_byte_for_byte(client: httpx.AsyncClient) -> None:
    first = await client.post("/v1/payments", json=VALID, headers=idem("order-1"))
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers

    # same meaning, different key order and whitespace
    raw = json.dumps(dict(reversed(list(VALID.items()))), indent=2).encode()
    for replay in (
        await client.post("/v1/payments", json=VALID, headers=idem("order-1")),
        await client.post(
            "/v1/payments",
            content=raw,
            headers={**idem("order-1"), "Content-Type": "application/json"},
        ),
    ):
        assert replay.status_code == first.status_code
        assert replay.content == first.content
        assert replay.headers["idempotent-replayed"] == "true"

    assert await count_payments(client) == 1
    assert len(await entries_of(client, first.json()["id"])) == 1
    await assert_ledger_ok(client)


async def test_replay_of_a_declined_payment_does_not_retry(client: httpx.AsyncClient) -> None:
    body = {**VALID, "payment_method": "pm_card_declined"}
    first = await client.post("/v1/payments", json=body, headers=idem("declined-1"))
    assert first.json()["status"] == "failed"
    replay = await client.post("/v1/payments", json=body, headers=idem("declined-1"))
    assert replay.content == first.content
    assert replay.headers["idempotent-replayed"] == "true"
    assert await count_payments(client) == 1


async def test_same_key_different_body_is_422(client: httpx.AsyncClient) -> None:
    first = await client.post("/v1/payments", json=VALID, headers=idem("order-2"))
    assert first.status_code == 201
    before = await snapshot(client)
    for changed in ({**VALID, "amount": 50001}, {**VALID, "metadata": {"a": "b"}}):
        response = await client.post("/v1/payments", json=changed, headers=idem("order-2"))
        assert_problem(response, 422, "idempotency_key_reused", "Idempotency-Key")
    assert await snapshot(client) == before
    # the original still replays
    replay = await client.post("/v1/payments", json=VALID, headers=idem("order-2"))
    assert replay.content == first.content


async def test_same_key_under_two_api_keys_is_independent(
    app: FastAPI, client: httpx.AsyncClient, services: Services
) -> None:
    _key, other_secret = await create_api_key(services.db, "second")
    mine = await client.post("/v1/payments", json=VALID, headers=idem("shared"))
    async with http_client(app, other_secret) as other:
        theirs = await other.post("/v1/payments", json=VALID, headers=idem("shared"))
        assert theirs.status_code == 201, theirs.text
        assert "idempotent-replayed" not in theirs.headers
        # and each one replays its own
        again = await other.post("/v1/payments", json=VALID, headers=idem("shared"))
        assert again.content == theirs.content
    assert mine.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"]
    assert await count_payments(client) == 2
    # the first key's record is untouched by the second key's use of the same string
    replay = await client.post("/v1/payments", json=VALID, headers=idem("shared"))
    assert replay.content == mine.content
    assert replay.headers["idempotent-replayed"] == "true"


async def test_same_key_on_another_endpoint_is_422(client: httpx.AsyncClient) -> None:
    payment = await client.post("/v1/payments", json=VALID, headers=idem("multi"))
    assert payment.status_code == 201
    customer = await client.post(
        "/v1/customers", json={"email": "a@example.com", "name": "A"}, headers=idem("multi")
    )
    assert_problem(customer, 422, "idempotency_key_reused", "Idempotency-Key")
    refund = await client.post(
        "/v1/refunds", json={"payment": payment.json()["id"]}, headers=idem("multi")
    )
    assert_problem(refund, 422, "idempotency_key_reused", "Idempotency-Key")
    assert (await get_payment(client, payment.json()["id"]))["amount_refunded"] == 0


async def test_same_key_on_another_payment_is_422(client: httpx.AsyncClient) -> None:
    a = await create_payment(client, capture_method="manual")
    b = await create_payment(client, capture_method="manual")
    first = await client.post(f"/v1/payments/{a['id']}/capture", headers=idem("cap"))
    assert first.status_code == 200
    second = await client.post(f"/v1/payments/{b['id']}/capture", headers=idem("cap"))
    assert_problem(second, 422, "idempotency_key_reused")
    assert (await get_payment(client, b["id"]))["status"] == "requires_capture"


async def test_failed_requests_do_not_burn_the_key(client: httpx.AsyncClient) -> None:
    key = idem("retry-me")
    # refused by validation
    r = await client.post("/v1/payments", json={**VALID, "amount": "10"}, headers=key)
    assert_problem(r, 422, param="amount")
    # refused by the gateway's token check
    r = await client.post("/v1/payments", json={**VALID, "payment_method": "pm_x"}, headers=key)
    assert_problem(r, 422, "payment_method_invalid")
    # refused after the key was claimed (unknown customer): the claim rolls back too
    r = await client.post("/v1/payments", json={**VALID, "customer": "cus_01nope"}, headers=key)
    assert_problem(r, 404, "resource_missing", "customer")

    fixed = await client.post("/v1/payments", json=VALID, headers=key)
    assert fixed.status_code == 201, fixed.text
    assert "idempotent-replayed" not in fixed.headers
    assert fixed.json()["status"] == "succeeded"
    assert await count_payments(client) == 1


async def test_conflicting_refund_does_not_burn_the_key(client: httpx.AsyncClient) -> None:
    payment = await create_payment(client)
    key = idem("refund-retry")
    too_much = await client.post(
        "/v1/refunds", json={"payment": payment["id"], "amount": 50001}, headers=key
    )
    assert_problem(too_much, 409, "refund_exceeds_captured", "amount")
    fixed = await client.post(
        "/v1/refunds", json={"payment": payment["id"], "amount": 5000}, headers=key
    )
    assert fixed.status_code == 201, fixed.text
    assert (await get_payment(client, payment["id"]))["amount_refunded"] == 5000


async def test_capture_is_idempotent(client: httpx.AsyncClient) -> None:
    payment = await create_payment(client, capture_method="manual")
    path = f"/v1/payments/{payment['id']}/capture"
    first = await client.post(path, json={"amount": 30000}, headers=idem("cap-1"))
    assert first.status_code == 200, first.text
    assert first.json()["amount_captured"] == 30000

    replay = await client.post(path, json={"amount": 30000}, headers=idem("cap-1"))
    assert replay.status_code == 200
    assert replay.content == first.content
    assert replay.headers["idempotent-replayed"] == "true"

    changed = await client.post(path, json={"amount": 20000}, headers=idem("cap-1"))
    assert_problem(changed, 422, "idempotency_key_reused")
    assert len(await entries_of(client, payment["id"])) == 1
    assert (await get_payment(client, payment["id"]))["amount_captured"] == 30000
    await assert_ledger_ok(client)


async def test_cancel_is_idempotent(client: httpx.AsyncClient) -> None:
    payment = await create_payment(client, capture_method="manual")
    path = f"/v1/payments/{payment['id']}/cancel"
    first = await client.post(path, headers=idem("cancel-1"))
    assert first.status_code == 200, first.text
    replay = await client.post(path, headers=idem("cancel-1"))
    assert replay.status_code == 200
    assert replay.content == first.content
    assert replay.headers["idempotent-replayed"] == "true"


async def test_refund_is_idempotent(client: httpx.AsyncClient) -> None:
    payment = await create_payment(client)
    body = {"payment": payment["id"], "amount": 10000, "reason": "requested_by_customer"}
    first = await client.post("/v1/refunds", json=body, headers=idem("refund-1"))
    assert first.status_code == 201, first.text
    assert first.json()["status"] == "succeeded"

    replay = await client.post("/v1/refunds", json=body, headers=idem("refund-1"))
    assert replay.status_code == 201
    assert replay.content == first.content
    assert replay.headers["idempotent-replayed"] == "true"

    after = await get_payment(client, payment["id"])
    assert after["amount_refunded"] == 10000
    assert after["amount_refund_pending"] == 0
    kinds = sorted(e["kind"] for e in await entries_of(client, payment["id"]))
    assert kinds == ["payment.capture", "refund"]
    fetched = await client.get(f"/v1/refunds/{first.json()['id']}")
    assert fetched.json() == first.json()
    await assert_ledger_ok(client)


@pytest.mark.parametrize("key", ["", "k" * 256])
async def test_idempotency_key_length_is_checked(client: httpx.AsyncClient, key: str) -> None:
    response = await client.post("/v1/payments", json=VALID, headers=idem(key))
    assert_problem(response, 422, "parameter_invalid", "Idempotency-Key")
    assert await count_payments(client) == 0


async def test_longest_idempotency_key_is_accepted(client: httpx.AsyncClient) -> None:
    key = idem("k" * 255)
    first = await client.post("/v1/payments", json=VALID, headers=key)
    assert first.status_code == 201, first.text
    replay = await client.post("/v1/payments", json=VALID, headers=key)
    assert replay.content == first.content


async def test_duplicate_while_first_in_flight_is_409(database_url: str) -> None:
    async with fresh_app(database_url, sandbox_delay_ms=600) as (app, services):
        _key, secret = await create_api_key(services.db, "slow")
        body = {**VALID, "payment_method": "pm_card_delayed"}
        async with http_client(app, secret) as http:

            async def late_duplicate() -> httpx.Response:
                await asyncio.sleep(0.2)  # the first has claimed the key and waits on the gateway
                return await http.post("/v1/payments", json=body, headers=idem("slow-1"))

            first, duplicate = await asyncio.gather(
                http.post("/v1/payments", json=body, headers=idem("slow-1")), late_duplicate()
            )
            assert first.status_code == 201, first.text
            assert first.json()["status"] == "succeeded"
            assert_problem(duplicate, 409, "idempotency_key_in_use", "Idempotency-Key")

            replay = await http.post("/v1/payments", json=body, headers=idem("slow-1"))
            assert replay.content == first.content
            assert replay.headers["idempotent-replayed"] == "true"
            assert await count_payments(http) == 1
