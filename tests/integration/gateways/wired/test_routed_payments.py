"""Routed payments through two sandbox gateways: attempts recorded on the payment and
shown by the API, one fallback on a retryable failure, none after a decline."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from paystead.config import Settings
from paystead.gateways.assembly import build_gateway_stack
from paystead.gateways.routing import RoutingTable
from paystead.gateways.sandbox import SandboxGateway
from paystead.wiring import Services, build_services
from tests.integration.gateways.wired.conftest import api_client


@pytest.fixture
async def two_sandboxes(database_url: str) -> AsyncIterator[Services]:
    """Gateway ``a`` fails every charge with a retryable ``processing_error``; ``b`` works.
    The router has seen ``a`` succeed and ``b`` fail, so it tries ``a`` first."""
    settings = Settings(database_url=database_url, routing_exploration=0.0, routing_seed=7)
    stack = build_gateway_stack(
        settings,
        connectors={
            "a": SandboxGateway(name="a", failure_rate=1.0, seed=1),
            "b": SandboxGateway(name="b"),
        },
        table=RoutingTable(default=("a", "b")),
    )
    for _ in range(200):
        stack.router.record("a", "INR", "card", success=True)
        stack.router.record("b", "INR", "card", success=False)
    services = build_services(settings, stack=stack)
    try:
        yield services
    finally:
        await services.close()


@pytest.fixture
async def client(two_sandboxes: Services) -> AsyncIterator[httpx.AsyncClient]:
    async with await api_client(two_sandboxes) as http:
        yield http


async def pay(client: httpx.AsyncClient, method: str, key: str) -> dict:
    response = await client.post(
        "/v1/payments",
        json={"amount": 50_000, "currency": "INR", "payment_method": method},
        headers={"Idempotency-Key": key},
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_a_processing_error_falls_back_once_and_every_attempt_is_recorded(
    client: httpx.AsyncClient, two_sandboxes: Services
) -> None:
    created = await pay(client, "pm_card_visa", "route-1")

    assert created["status"] == "succeeded"
    assert created["gateway"] == "b"
    fetched = (await client.get(f"/v1/payments/{created['id']}")).json()
    assert fetched["attempts"] == created["attempts"]
    first, second = fetched["attempts"]
    assert (first["number"], first["gateway"], first["outcome"]) == (1, "a", "failed")
    assert (first["failure_code"], first["retryable"]) == ("processing_error", True)
    assert first["idempotency_key"] == f"{created['id']}:authorize"
    assert first["decision"]["reason"] == "thompson_sampling"
    estimates = {c["gateway"]: c for c in first["decision"]["candidates"]}
    assert (estimates["a"]["successes"], estimates["a"]["failures"]) == (200, 0)
    assert (estimates["b"]["successes"], estimates["b"]["failures"]) == (0, 200)
    assert estimates["a"]["sample"] > estimates["b"]["sample"]
    assert (second["number"], second["gateway"], second["outcome"]) == (2, "b", "captured")
    assert second["idempotency_key"] == f"{created['id']}:authorize:2"
    assert second["decision"]["reason"] == "only_candidate"
    assert {c["gateway"]: c["skipped"] for c in second["decision"]["candidates"]} == {
        "a": "already_tried",
        "b": None,
    }
    # The money went through b, and the ledger says so.
    entries = (await client.get("/v1/ledger/entries", params={"payment": created["id"]})).json()
    [capture] = entries["data"]
    assert {p["account"] for p in capture["postings"]} >= {"gateway_clearing:b"}
    # Both answers became routing evidence.
    evidence = {
        e.gateway: (e.successes, e.failures)
        for e in two_sandboxes.gateways.router.estimates("INR", "card")
    }
    assert evidence == {"a": (200, 1), "b": (1, 200)}


async def test_a_decline_is_final_and_never_falls_back(client: httpx.AsyncClient) -> None:
    created = await pay(client, "pm_card_insufficient_funds", "route-2")

    assert (created["status"], created["failure_code"]) == ("failed", "insufficient_funds")
    assert created["gateway"] == "a"
    [only] = created["attempts"]
    assert (only["gateway"], only["outcome"], only["retryable"]) == ("a", "declined", False)
    entries = (await client.get("/v1/ledger/entries", params={"payment": created["id"]})).json()
    assert entries["data"] == []


async def test_a_forced_gateway_is_not_routed_around(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/payments",
        json={"amount": 1_000, "currency": "INR", "payment_method": "pm_card_visa", "gateway": "a"},
    )
    created = response.json()
    assert (created["status"], created["failure_code"]) == ("failed", "processing_error")
    [only] = created["attempts"]
    assert (only["gateway"], only["decision"]["reason"]) == ("a", "forced")
    unknown = await client.post(
        "/v1/payments",
        json={
            "amount": 1_000,
            "currency": "INR",
            "payment_method": "pm_card_visa",
            "gateway": "zz",
        },
    )
    assert (unknown.status_code, unknown.json()["code"]) == (422, "gateway_invalid")
