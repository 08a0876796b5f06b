"""/v1/experiments, /v1/rollouts and the results page over HTTP, on both backends.

The experiment runs on ``payments.routing_strategy``: the payment path evaluates it for
every payment (targeting key: the customer), the exposure hook logs the assignment and
the results come from those payments."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from paystead.optimize.flags.model import parse_definition
from paystead.wiring import Services

PROBLEM = "application/problem+json"
FLAG = "payments.routing_strategy"


def assert_problem(response: httpx.Response, status: int, param: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    if param is not None:
        assert response.json().get("param") == param, response.json()


async def _flags(services: Services) -> None:
    await services.flags.create(
        FLAG,
        parse_definition(
            {
                "type": "string",
                "variants": {"thompson": "thompson", "lowest_cost": "lowest_cost"},
                "default": {"variant": "thompson"},
            }
        ),
    )
    await services.flags.create(
        "checkout.new_form",
        parse_definition({"type": "boolean", "default": {"variant": "off"}}),
    )


EXPERIMENT: dict[str, Any] = {
    "key": "routing-lowest-cost",
    "flag_key": FLAG,
    "hypothesis": "Lowest-cost routing keeps the success rate and cuts fees",
    "variants": [{"key": "thompson", "weight": 5000}, {"key": "lowest_cost", "weight": 5000}],
    "primary_metric": "success_rate",
    "guardrails": ["error_rate", "latency"],
}


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"key": "Not A Key"}, "key"),
        ({"variants": [{"key": "thompson", "weight": 10000}]}, "variants"),
        ({"variants": [{"key": "thompson", "weight": 6000}, {"key": "x", "weight": 3000}]}, None),
        ({"primary_metric": "happiness"}, "primary_metric"),
        ({"guardrails": ["latency", "mood"]}, "guardrails.1"),
        ({"currency": "XXXX"}, "currency"),
        ({"variants": [{"key": "a", "weight": "5000"}, {"key": "b", "weight": 5000}]}, None),
        ({"surprise": 1}, "surprise"),
    ],
)
async def test_bad_experiments_are_422_naming_the_field(
    client: httpx.AsyncClient, services: Services, change: dict[str, Any], param: str | None
) -> None:
    await _flags(services)
    response = await client.post("/v1/experiments", json={**EXPERIMENT, **change})
    assert_problem(response, 422, param)


async def test_unknown_flag_or_variant(client: httpx.AsyncClient, services: Services) -> None:
    await _flags(services)
    response = await client.post("/v1/experiments", json={**EXPERIMENT, "flag_key": "nope"})
    assert_problem(response, 404, "flag_key")
    variants = [{"key": "thompson", "weight": 5000}, {"key": "fastest", "weight": 5000}]
    response = await client.post("/v1/experiments", json={**EXPERIMENT, "variants": variants})
    assert_problem(response, 422, "variants.1.key")
    assert_problem(await client.get("/v1/experiments/nope"), 404)
    assert_problem(await client.get("/v1/experiments/nope/results"), 404)
    assert_problem(await client.post("/v1/experiments/nope/start"), 404)
    assert_problem(await client.get("/experiments/nope"), 404)


async def test_an_experiment_on_the_payment_path(
    client: httpx.AsyncClient, services: Services
) -> None:
    await _flags(services)
    created = await client.post("/v1/experiments", json=EXPERIMENT)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["object"] == "experiment" and body["status"] == "draft"
    assert body["control"] == "thompson" and isinstance(body["created_at"], int)
    assert_problem(await client.post("/v1/experiments", json=EXPERIMENT), 409)
    assert_problem(await client.post("/v1/experiments/routing-lowest-cost/stop"), 409)

    started = await client.post("/v1/experiments/routing-lowest-cost/start")
    assert started.status_code == 200 and started.json()["status"] == "running"
    customers = []
    for i in range(40):
        made = await client.post(
            "/v1/customers", json={"email": f"e{i}@example.com", "name": f"E {i}"}
        )
        assert made.status_code == 201, made.text
        customers.append(made.json()["id"])
    for i, customer in enumerate(customers):
        for method in ("pm_card_visa", "pm_card_declined" if i % 5 == 0 else "pm_card_visa"):
            paid = await client.post(
                "/v1/payments",
                json={
                    "amount": 50000,
                    "currency": "INR",
                    "payment_method": method,
                    "customer": customer,
                },
            )
            assert paid.status_code == 201, paid.text

    results = await client.get("/v1/experiments/routing-lowest-cost/results")
    assert results.status_code == 200, results.text
    found = results.json()
    assert found["object"] == "experiment_results" and found["correction"] == "holm"
    arms = {a["variant"]: a for a in found["arms"]}
    assert sum(a["subjects"] for a in arms.values()) == len(customers)
    assert sum(a["payments"] for a in arms.values()) == 2 * len(customers)
    success = next(m for m in found["metrics"] if m["metric"] == "success_rate")
    assert success["role"] == "primary"
    declined = len([i for i in range(len(customers)) if i % 5 == 0])
    succeeded = sum(
        round(success["arms"][v]["value"] * arms[v]["payments"])
        for v in arms
        if arms[v]["payments"]
    )
    assert succeeded == 2 * len(customers) - declined
    assert found["guidance"]["action"] in ("keep running", "ship", "stop")
    assert found["guidance"]["reasons"]
    assert isinstance(found["sample_ratio"]["p_value"], float)

    page = await client.get("/experiments/routing-lowest-cost")
    assert page.status_code == 200
    assert "Decision guidance" in page.text and "Payment success rate" in page.text
    assert "routing-lowest-cost" in page.text

    listed = await client.get("/v1/experiments", params={"status": "running"})
    assert [e["key"] for e in listed.json()["data"]] == ["routing-lowest-cost"]
    stopped = await client.post("/v1/experiments/routing-lowest-cost/stop")
    assert stopped.json()["status"] == "stopped" and stopped.json()["stopped_at"] is not None
    assert (await client.get("/v1/experiments/routing-lowest-cost")).json()["status"] == "stopped"


ROLLOUT: dict[str, Any] = {
    "flag_key": "checkout.new_form",
    "canary": "on",
    "control": "off",
    "steps": [500, 2500, 10000],
    "min_step_seconds": 0,
    "min_sample": 1000,
}


@pytest.mark.parametrize(
    ("change", "status", "param"),
    [
        ({"steps": [500, 2500]}, 422, "steps"),
        ({"steps": [2500, 500, 10000]}, 422, "steps"),
        ({"steps": [10000]}, 422, "steps"),
        ({"canary": "maybe"}, 422, "canary"),
        ({"canary": "off"}, 422, "canary"),
        ({"flag_key": "nope"}, 404, "flag_key"),
        ({"min_sample": 0}, 422, "min_sample"),
        ({"guardrails": {"alpha": 0.9}}, 422, "guardrails.alpha"),
    ],
)
async def test_bad_rollouts(
    client: httpx.AsyncClient,
    services: Services,
    change: dict[str, Any],
    status: int,
    param: str,
) -> None:
    await _flags(services)
    assert_problem(await client.post("/v1/rollouts", json={**ROLLOUT, **change}), status, param)


async def test_a_rollout_over_http(client: httpx.AsyncClient, services: Services) -> None:
    await _flags(services)
    created = await client.post("/v1/rollouts", json=ROLLOUT)
    assert created.status_code == 201, created.text
    rollout = created.json()
    assert rollout["object"] == "rollout" and rollout["canary_weight"] == 500
    assert (await services.flags.get("checkout.new_form")).definition.default.split == (
        ("off", 9500),
        ("on", 500),
    )
    assert_problem(await client.post("/v1/rollouts", json=ROLLOUT), 409, "flag_key")
    path = f"/v1/rollouts/{rollout['id']}"

    ticked = await client.post(f"{path}/tick")
    assert ticked.status_code == 200, ticked.text
    assert ticked.json()["decision"]["action"] == "hold"
    assert "waiting for 1000 answered payments" in ticked.json()["decision"]["reason"]

    paused = await client.post(f"{path}/pause", json={"reason": "holiday freeze"})
    assert paused.json()["status"] == "paused" and paused.json()["reason"] == "holiday freeze"
    assert_problem(await client.post(f"{path}/tick"), 409)
    assert (await client.post(f"{path}/resume")).json()["status"] == "running"
    aborted = await client.post(f"{path}/abort")
    assert aborted.json()["status"] == "aborted"

    shown = (await client.get(path)).json()
    assert [d["action"] for d in shown["decisions"]] == [
        "start",
        "hold",
        "pause",
        "resume",
        "abort",
    ]
    assert all(isinstance(d["decided_at"], int) for d in shown["decisions"])
    listed = await client.get("/v1/rollouts", params={"status": "aborted"})
    assert [r["id"] for r in listed.json()["data"]] == [rollout["id"]]
    assert_problem(await client.get("/v1/rollouts/rol_nope"), 404)
    assert_problem(await client.get("/v1/rollouts", params={"status": "sideways"}), 422, "status")


async def test_experiments_need_an_api_key(app: Any) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://paystead.test") as anon:
        assert_problem(await anon.get("/v1/experiments"), 401)
        assert_problem(await anon.post("/v1/rollouts", json=ROLLOUT), 401)


async def test_the_demo_traffic_runs_the_routing_experiment(
    client: httpx.AsyncClient, services: Services
) -> None:
    from paystead.insights.simulate import Simulator
    from paystead.optimize.demo import ensure_routing_experiment

    assert await ensure_routing_experiment(client) == "running"
    assert await ensure_routing_experiment(client) == "running"  # left as it is
    await Simulator(client, rate=2000, seed=7).run(count=120)
    found = (await client.get("/v1/experiments/routing-strategy/results")).json()
    arms = {a["variant"]: a for a in found["arms"]}
    assert set(arms) == {"thompson", "lowest_cost"}
    assert all(a["subjects"] > 0 and a["payments"] > 0 for a in arms.values())
    success = next(m for m in found["metrics"] if m["metric"] == "success_rate")
    assert all(0 < success["arms"][v]["value"] <= 1 for v in arms)
    page = await client.get("/experiments/routing-strategy")
    assert page.status_code == 200 and "lowest_cost" in page.text
