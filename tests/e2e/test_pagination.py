"""GET /v1/payments: the list envelope, cursor pagination and filters, on both databases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from paystead.api.app import create_app
from paystead.config import Settings
from paystead.platform.apikeys import create_api_key
from paystead.wiring import build_services
from tests.conftest import FrozenClock

PROBLEM = "application/problem+json"
PAYMENT: dict[str, Any] = {"amount": 50000, "currency": "INR", "payment_method": "pm_card_visa"}


async def create_payment(client: httpx.AsyncClient, **overrides: object) -> dict[str, Any]:
    response = await client.post("/v1/payments", json={**PAYMENT, **overrides})
    assert response.status_code == 201, response.text
    return dict(response.json())


async def create_many(client: httpx.AsyncClient, count: int, **overrides: object) -> list[str]:
    """Create ``count`` payments one after another; their ids, oldest first."""
    return [
        (await create_payment(client, amount=1000 + i, **overrides))["id"] for i in range(count)
    ]


async def list_payments(client: httpx.AsyncClient, **params: object) -> dict[str, Any]:
    response = await client.get("/v1/payments", params=params)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def walk(client: httpx.AsyncClient, **params: object) -> list[dict[str, Any]]:
    """Every page of a listing, following ``starting_after``; returns the pages."""
    pages = []
    cursor: str | None = None
    while True:
        query = dict(params)
        if cursor is not None:
            query["starting_after"] = cursor
        page = await list_payments(client, **query)
        pages.append(page)
        if not page["has_more"]:
            return pages
        assert page["data"], "has_more with an empty page"
        cursor = page["data"][-1]["id"]
        assert len(pages) < 1000


def assert_problem(response: httpx.Response, status: int, param: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == status
    assert body["code"] == "parameter_invalid"
    assert body["param"] == param, body
    assert body["title"] and body["detail"] and body["type"]


@asynccontextmanager
async def clocked_client(database_url: str, clock: FrozenClock) -> AsyncIterator[httpx.AsyncClient]:
    """A client on an app whose services read ``clock``."""
    settings = Settings(database_url=database_url)
    services = build_services(settings, clock=clock)
    try:
        _key, secret = await create_api_key(services.db, "clocked")
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(settings, services)),
            base_url="http://paystead.test",
            headers={"Authorization": f"Bearer {secret}"},
        ) as http:
            yield http
    finally:
        await services.close()


def unix(moment: datetime) -> int:
    return int(moment.timestamp())


# -- envelope and order -----------------------------------------------------------------


async def test_empty_list_envelope(client: httpx.AsyncClient) -> None:
    page = await list_payments(client)
    assert page["object"] == "list"
    assert page["data"] == []
    assert page["has_more"] is False


async def test_newest_first(client: httpx.AsyncClient) -> None:
    ids = await create_many(client, 6)
    page = await list_payments(client)
    assert page["object"] == "list"
    assert page["has_more"] is False
    assert [p["id"] for p in page["data"]] == list(reversed(ids))
    assert all(p["object"] == "payment" for p in page["data"])
    created = [p["created"] for p in page["data"]]
    assert created == sorted(created, reverse=True)


async def test_default_limit_is_ten(client: httpx.AsyncClient) -> None:
    ids = await create_many(client, 12)
    page = await list_payments(client)
    assert len(page["data"]) == 10
    assert page["has_more"] is True
    assert [p["id"] for p in page["data"]] == list(reversed(ids))[:10]


@pytest.mark.parametrize("limit", [0, -1, 101, 1000, "ten", ""])
async def test_limit_out_of_bounds_is_422(client: httpx.AsyncClient, limit: object) -> None:
    response = await client.get("/v1/payments", params={"limit": limit})
    assert_problem(response, 422, "limit")


async def test_limit_bounds_are_inclusive(client: httpx.AsyncClient) -> None:
    ids = await create_many(client, 3)
    one = await list_payments(client, limit=1)
    assert [p["id"] for p in one["data"]] == [ids[-1]]
    assert one["has_more"] is True
    hundred = await list_payments(client, limit=100)
    assert len(hundred["data"]) == 3
    assert hundred["has_more"] is False


async def test_limit_100_with_more_than_100(client: httpx.AsyncClient) -> None:
    ids = await create_many(client, 101)
    first = await list_payments(client, limit=100)
    assert len(first["data"]) == 100
    assert first["has_more"] is True
    rest = await list_payments(client, limit=100, starting_after=first["data"][-1]["id"])
    assert [p["id"] for p in rest["data"]] == [ids[0]]
    assert rest["has_more"] is False


# -- walking pages ----------------------------------------------------------------------


@pytest.mark.parametrize(("count", "limit"), [(23, 5), (20, 5), (7, 1), (5, 10)])
async def test_walk_visits_every_payment_once(
    client: httpx.AsyncClient, count: int, limit: int
) -> None:
    ids = await create_many(client, count)
    pages = await walk(client, limit=limit)
    seen = [p["id"] for page in pages for p in page["data"]]
    assert seen == list(reversed(ids))  # each exactly once, newest first
    assert len(seen) == len(set(seen))


async def test_page_sizes_and_has_more(client: httpx.AsyncClient) -> None:
    await create_many(client, 12)
    pages = await walk(client, limit=5)
    assert [len(p["data"]) for p in pages] == [5, 5, 2]
    assert [p["has_more"] for p in pages] == [True, True, False]


async def test_exact_multiple_has_no_empty_last_page(client: httpx.AsyncClient) -> None:
    await create_many(client, 10)
    pages = await walk(client, limit=5)
    assert [len(p["data"]) for p in pages] == [5, 5]
    assert pages[-1]["has_more"] is False
    beyond = await list_payments(client, limit=5, starting_after=pages[-1]["data"][-1]["id"])
    assert beyond["data"] == []
    assert beyond["has_more"] is False


async def test_new_payments_do_not_disturb_a_walk(client: httpx.AsyncClient) -> None:
    old = await create_many(client, 6)
    first = await list_payments(client, limit=3)
    await create_many(client, 4)  # arrive while the client is paging
    rest = await walk(client, limit=3, starting_after=first["data"][-1]["id"])
    seen = [p["id"] for p in first["data"]] + [p["id"] for r in rest for p in r["data"]]
    assert seen == list(reversed(old))


# -- filters ----------------------------------------------------------------------------


async def _mixed_statuses(client: httpx.AsyncClient) -> dict[str, set[str]]:
    made: dict[str, set[str]] = {
        "succeeded": set(),
        "failed": set(),
        "requires_capture": set(),
        "requires_confirmation": set(),
        "canceled": set(),
    }
    for _ in range(3):
        made["succeeded"].add((await create_payment(client))["id"])
    for token in ("pm_card_declined", "pm_card_expired"):
        made["failed"].add((await create_payment(client, payment_method=token))["id"])
    for _ in range(2):
        made["requires_capture"].add((await create_payment(client, capture_method="manual"))["id"])
    made["requires_confirmation"].add((await create_payment(client, confirm=False))["id"])
    to_cancel = await create_payment(client, capture_method="manual")
    canceled = await client.post(f"/v1/payments/{to_cancel['id']}/cancel")
    assert canceled.json()["status"] == "canceled"
    made["canceled"].add(to_cancel["id"])
    return made


async def test_status_filter(client: httpx.AsyncClient) -> None:
    made = await _mixed_statuses(client)
    for status, ids in made.items():
        page = await list_payments(client, status=status, limit=100)
        assert {p["id"] for p in page["data"]} == ids, status
        assert all(p["status"] == status for p in page["data"])
    assert (await list_payments(client, status="processing"))["data"] == []


async def test_status_filter_pages(client: httpx.AsyncClient) -> None:
    made = await _mixed_statuses(client)
    pages = await walk(client, status="succeeded", limit=1)
    seen = [p["id"] for page in pages for p in page["data"]]
    assert sorted(seen) == sorted(made["succeeded"])
    assert len(pages) == 3  # the last page knows nothing else matches


@pytest.mark.parametrize("status", ["paid", "SUCCEEDED", "", "succeeded,failed"])
async def test_bad_status_is_422(client: httpx.AsyncClient, status: str) -> None:
    response = await client.get("/v1/payments", params={"status": status})
    assert_problem(response, 422, "status")


async def test_customer_and_status_filters_combine(client: httpx.AsyncClient) -> None:
    customer = await client.post("/v1/customers", json={"email": "c@example.com", "name": "C"})
    cus = customer.json()["id"]
    paid = await create_payment(client, customer=cus)
    declined = await create_payment(client, customer=cus, payment_method="pm_card_declined")
    await create_payment(client)  # someone else's
    both = await list_payments(client, customer=cus)
    assert [p["id"] for p in both["data"]] == [declined["id"], paid["id"]]
    only_paid = await list_payments(client, customer=cus, status="succeeded")
    assert [p["id"] for p in only_paid["data"]] == [paid["id"]]
    unknown = await list_payments(client, customer="cus_01nobody")
    assert unknown["data"] == []


async def test_created_filters(database_url: str) -> None:
    clock = FrozenClock()
    async with clocked_client(database_url, clock) as http:
        made = []
        for _ in range(4):
            made.append(await create_payment(http))
            clock.advance(hours=1)
        t = [p["created"] for p in made]
        assert t == [unix(FrozenClock().now) + 3600 * i for i in range(4)]

        def ids(page: dict[str, Any]) -> list[str]:
            return [p["id"] for p in page["data"]]

        newest_first = [p["id"] for p in reversed(made)]
        assert ids(await list_payments(http, **{"created[gte]": t[2]})) == newest_first[:2]
        assert ids(await list_payments(http, **{"created[lte]": t[1]})) == newest_first[2:]
        assert (
            ids(await list_payments(http, **{"created[gte]": t[1], "created[lte]": t[2]}))
            == newest_first[1:3]
        )
        assert ids(await list_payments(http, **{"created[gte]": t[3] + 1})) == []
        assert ids(await list_payments(http, **{"created[lte]": t[0] - 1})) == []
        assert ids(await list_payments(http, **{"created[gte]": t[2], "created[lte]": t[1]})) == []
        # a created window pages like any other listing
        pages = await walk(http, limit=1, **{"created[gte]": t[1]})
        assert [p["id"] for page in pages for p in page["data"]] == newest_first[:3]


async def test_created_lte_includes_the_second_a_payment_reports(database_url: str) -> None:
    """``created`` is whole seconds, so ``created[lte]=<its created>`` must include it.

    Otherwise a report over consecutive windows [a, b], [b + 1, c] silently misses every
    payment made during second b after its first microsecond.
    """
    clock = FrozenClock(datetime(2026, 4, 1, 12, 0, 0, 750_000, tzinfo=UTC))
    async with clocked_client(database_url, clock) as http:
        payment = await create_payment(http)
        created = payment["created"]
        assert created == unix(datetime(2026, 4, 1, 12, 0, 0, tzinfo=UTC))
        exact = await list_payments(http, **{"created[gte]": created, "created[lte]": created})
        assert [p["id"] for p in exact["data"]] == [payment["id"]]
        upto = await list_payments(http, **{"created[lte]": created})
        assert [p["id"] for p in upto["data"]] == [payment["id"]]
        after = await list_payments(http, **{"created[gte]": created + 1})
        assert after["data"] == []


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("created[gte]", -1),
        ("created[lte]", -1),
        ("created[gte]", "yesterday"),
        ("created[lte]", "1.5"),
    ],
)
async def test_bad_created_is_422(client: httpx.AsyncClient, name: str, value: object) -> None:
    response = await client.get("/v1/payments", params={name: value})
    assert_problem(response, 422, name)


@pytest.mark.parametrize("name", ["created[gte]", "created[lte]"])
@pytest.mark.parametrize("value", [10**12, 2**63])
async def test_far_future_created_is_answered_not_a_crash(
    app: Any, api_key: str, name: str, value: int
) -> None:
    """A bound past year 9999 is a client's mistake: 200 (or 422), never a 500."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
        base_url="http://paystead.test",
        headers={"Authorization": f"Bearer {api_key}"},
    ) as http:
        response = await http.get("/v1/payments", params={name: value})
    assert response.status_code in (200, 422), response.text
    if response.status_code == 422:
        assert_problem(response, 422, name)
