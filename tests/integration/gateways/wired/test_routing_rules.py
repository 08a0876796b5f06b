"""PAYSTEAD_ROUTING_RULES end to end: two sandbox gateways, a rule restricting INR card
payments to one of them, a forced gateway outside the rule, and GET /v1/routing."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from paystead.config import Settings
from paystead.gateways.assembly import build_gateway_stack
from paystead.gateways.sandbox import SandboxGateway
from paystead.wiring import Services, build_services
from tests.integration.gateways.wired.conftest import api_client


@pytest.fixture
async def ruled(database_url: str) -> AsyncIterator[Services]:
    """``a`` and ``b`` both work; the router has seen ``a`` succeed and ``b`` fail, so
    without the rule it would send INR cards to ``a``."""
    settings = Settings(
        database_url=database_url,
        routing_exploration=0.0,
        routing_seed=7,
        routing_rules=[{"currency": "INR", "method": "card", "gateways": ["b"]}],
        worker_embedded="off",
    )
    stack = build_gateway_stack(
        settings, connectors={"a": SandboxGateway(name="a"), "b": SandboxGateway(name="b")}
    )
    for _ in range(50):
        stack.router.record("a", "INR", "card", success=True)
        stack.router.record("b", "INR", "card", success=False)
    services = build_services(settings, stack=stack)
    try:
        yield services
    finally:
        await services.close()


@pytest.fixture
async def client(ruled: Services) -> AsyncIterator[httpx.AsyncClient]:
    async with await api_client(ruled) as http:
        yield http


async def test_a_rule_restricts_inr_card_payments_to_its_gateway(
    client: httpx.AsyncClient,
) -> None:
    for n in range(5):
        response = await client.post(
            "/v1/payments",
            json={"amount": 10_000, "currency": "INR", "payment_method": "pm_card_visa"},
            headers={"Idempotency-Key": f"ruled-{n}"},
        )
        assert response.status_code == 201, response.text
        payment = response.json()
        assert payment["status"] == "succeeded"
        fetched = (await client.get(f"/v1/payments/{payment['id']}")).json()
        assert [a["gateway"] for a in fetched["attempts"]] == ["b"]
        [attempt] = fetched["attempts"]
        assert [c["gateway"] for c in attempt["decision"]["candidates"]] == ["b"]
    # No rule for USD: both gateways are candidates, as without rules.
    usd = await client.post(
        "/v1/payments",
        json={"amount": 1_000, "currency": "USD", "payment_method": "pm_card_visa"},
    )
    assert usd.status_code == 201, usd.text
    [attempt] = usd.json()["attempts"]
    assert [c["gateway"] for c in attempt["decision"]["candidates"]] == ["a", "b"]


async def test_a_forced_gateway_outside_the_rule_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/payments",
        json={
            "amount": 10_000,
            "currency": "INR",
            "payment_method": "pm_card_visa",
            "gateway": "a",
        },
    )
    assert response.status_code == 422, response.text
    problem = response.json()
    assert (problem["code"], problem["param"]) == ("gateway_not_allowed", "gateway")
    allowed = await client.post(
        "/v1/payments",
        json={
            "amount": 10_000,
            "currency": "INR",
            "payment_method": "pm_card_visa",
            "gateway": "b",
        },
    )
    assert allowed.status_code == 201, allowed.text


async def test_the_effective_configuration_is_readable(
    client: httpx.AsyncClient, ruled: Services
) -> None:
    body = (await client.get("/v1/routing")).json()
    assert body["rules"] == [{"currency": "INR", "method": "card", "gateways": ["b"]}]
    assert body["default"] == ["a", "b"]
    assert body["gateways"] == ["a", "b"]
    anonymous = httpx.AsyncClient(transport=client._transport, base_url="http://paystead.test")
    async with anonymous:
        assert (await anonymous.get("/v1/routing")).status_code == 401
