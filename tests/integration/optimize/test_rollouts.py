"""Canary rollouts on both backends, driven by real payments on a frozen clock.

The merchant's checkout reads flag ``checkout.gateway`` for each customer (through
``services.features``, so the exposure hook logs the assignment) and charges through
the gateway the variant names. A canary sending its customers to the failing sandbox
is rolled back automatically; a healthy canary is promoted step by step to 100%."""

from __future__ import annotations

import contextlib

import pytest
import sqlalchemy as sa
from openfeature.evaluation_context import EvaluationContext

from paystead.errors import Conflict, PaysteadError
from paystead.money import Money
from paystead.optimize.flags.model import parse_definition
from paystead.optimize.rollouts import Action, NewRollout, Rollout
from paystead.payments.service import CreatePayment
from paystead.platform.schema import events
from paystead.wiring import Services
from tests.conftest import FrozenClock

FLAG = "checkout.gateway"


async def _setup(services: Services, canary_gateway: str, customers: int = 80) -> list[str]:
    definition = parse_definition(
        {
            "type": "string",
            "variants": {"current": "good", "next": canary_gateway},
            "default": {"variant": "current"},
        }
    )
    await services.flags.create(FLAG, definition, actor="test", reason="canary")
    return [
        (await services.customers.create(email=f"r{i}@example.com", name=f"R {i}")).id
        for i in range(customers)
    ]


async def _traffic(services: Services, clock: FrozenClock, customers: list[str]) -> dict[str, int]:
    """One payment per customer, through the gateway its variant names."""
    await services.flags.refresh()
    served = {"current": 0, "next": 0}
    for customer in customers:
        details = services.features.get_string_details(
            FLAG, "good", EvaluationContext(targeting_key=customer)
        )
        served[str(details.variant)] += 1
        # The failing gateway's breaker may refuse outright: still a failed payment.
        with contextlib.suppress(PaysteadError):
            await services.payments.create(
                CreatePayment(
                    Money(2500, "USD"), "pm_card_visa", customer_id=customer, gateway=details.value
                )
            )
        clock.advance(seconds=0.1)
    return served


async def _run(
    services: Services, clock: FrozenClock, customers: list[str], rollout: Rollout
) -> list[Action]:
    actions = []
    for _ in range(20):
        await _traffic(services, clock, customers)
        clock.advance(seconds=30)
        actions.append((await services.rollouts.tick(rollout.id)).action)
        if (await services.rollouts.get(rollout.id)).status != "running":
            break
    return actions


def _new() -> NewRollout:
    return NewRollout(
        FLAG,
        canary="next",
        control="current",
        steps=(2000, 5000, 10_000),
        min_step_seconds=60,
        min_sample=30,
    )


async def _event_types(services: Services) -> list[str]:
    async with services.db.transaction() as conn:
        rows = await conn.execute(
            sa.select(events.c.type)
            .where(events.c.type.like("rollout.%"))
            .order_by(events.c.created_at, events.c.id)
        )
        return list(rows.scalars())


async def test_a_degrading_canary_is_rolled_back(services: Services, clock: FrozenClock) -> None:
    customers = await _setup(services, canary_gateway="bad")
    rollout = await services.rollouts.create(_new())
    flag = await services.flags.get(FLAG)
    assert flag.definition.default.split == (("current", 8000), ("next", 2000))

    actions = await _run(services, clock, customers, rollout)
    assert actions[-1] is Action.ROLLBACK
    assert Action.PROMOTE not in actions
    done = await services.rollouts.get(rollout.id)
    assert done.status == "rolled_back" and done.finished_at is not None
    assert done.reason is not None and "payment success rate" in done.reason
    # All traffic is back on control, through the audited flag store.
    flag = await services.flags.get(FLAG)
    assert dict(flag.definition.default.split or ()) == {"current": 10_000, "next": 0}
    served = await _traffic(services, clock, customers)
    assert served == {"current": len(customers), "next": 0}
    decisions = await services.rollouts.decisions(rollout.id)
    assert decisions[0]["action"] == "start"
    last = decisions[-1]
    assert last["action"] == "rollback"
    assert last["metrics"]["canary"]["success_rate"] == 0.0
    assert last["metrics"]["control"]["success_rate"] == 1.0
    assert await _event_types(services) == ["rollout.started", "rollout.rolled_back"]
    async with services.db.transaction() as conn:
        data = (
            await conn.execute(
                sa.select(events.c.data).where(events.c.type == "rollout.rolled_back")
            )
        ).scalar_one()
    assert data["status"] == "rolled_back" and data["decision"] == "rollback"
    assert data["object"] == "rollout" and isinstance(data["finished_at"], int)
    with pytest.raises(Conflict):
        await services.rollouts.tick(rollout.id)


async def test_a_healthy_canary_is_promoted_to_100_percent(
    services: Services, clock: FrozenClock
) -> None:
    customers = await _setup(services, canary_gateway="good")
    rollout = await services.rollouts.create(_new())
    actions = await _run(services, clock, customers, rollout)
    assert Action.ROLLBACK not in actions
    assert actions.count(Action.PROMOTE) == 1 and actions[-1] is Action.COMPLETE
    assert Action.HOLD in actions  # the first tick comes before the minimum duration
    done = await services.rollouts.get(rollout.id)
    assert done.status == "completed" and done.canary_weight == 10_000
    flag = await services.flags.get(FLAG)
    assert dict(flag.definition.default.split or ()) == {"current": 0, "next": 10_000}
    served = await _traffic(services, clock, customers)
    assert served == {"current": 0, "next": len(customers)}
    steps = [d["canary_weight"] for d in await services.rollouts.decisions(rollout.id)]
    assert steps[0] == 2000 and steps[-1] == 5000  # the last decision was taken at 50%
    assert await _event_types(services) == [
        "rollout.started",
        "rollout.promoted",
        "rollout.completed",
    ]


async def test_pause_resume_abort_and_one_rollout_per_flag(
    services: Services, clock: FrozenClock
) -> None:
    await _setup(services, canary_gateway="good", customers=0)
    rollout = await services.rollouts.create(_new())
    with pytest.raises(Conflict):
        await services.rollouts.create(_new())
    paused = await services.rollouts.pause(rollout.id)
    assert paused.status == "paused"
    assert await services.rollouts.tick_all() == {}  # paused rollouts are not ticked
    with pytest.raises(Conflict):
        await services.rollouts.pause(rollout.id)
    clock.advance(minutes=5)
    resumed = await services.rollouts.resume(rollout.id)
    assert resumed.status == "running" and resumed.step_started_at == clock()
    aborted = await services.rollouts.abort(rollout.id, "wrong flag")
    assert aborted.status == "aborted" and aborted.reason == "wrong flag"
    flag = await services.flags.get(FLAG)
    assert dict(flag.definition.default.split or ()) == {"current": 10_000, "next": 0}
    assert [r.id for r in await services.rollouts.all(status="aborted")] == [rollout.id]
    assert (await services.rollouts.create(_new())).status == "running"  # the flag is free
