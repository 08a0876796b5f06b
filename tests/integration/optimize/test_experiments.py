"""Experiments end to end on both backends: a real flag, the exposure hook on
``services.features``, real payments and refunds, results from the database."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from openfeature.evaluation_context import EvaluationContext

from paystead.errors import Conflict, InvalidInput, NotFound
from paystead.money import Money
from paystead.optimize.experiments import NewExperiment
from paystead.optimize.flags.model import parse_definition
from paystead.payments.service import CreatePayment, CreateRefund
from paystead.platform.schema import events, experiment_exposures
from paystead.wiring import Services
from tests.conftest import FrozenClock

FLAG = "checkout.button"


async def _flag(services: Services) -> None:
    definition = parse_definition(
        {
            "type": "string",
            "variants": {"blue": "blue", "green": "green"},
            "default": {"variant": "blue"},
        }
    )
    await services.flags.create(FLAG, definition, actor="test", reason="experiment")


def _new(key: str = "button-color", **kw: object) -> NewExperiment:
    values: dict[str, object] = {
        "key": key,
        "flag_key": FLAG,
        "hypothesis": "A green button converts more customers",
        "variants": [("blue", 5000), ("green", 5000)],
        "primary_metric": "success_rate",
        "guardrails": ("refund_rate", "error_rate"),
    }
    values.update(kw)
    return NewExperiment(**values)  # type: ignore[arg-type]


async def test_lifecycle_and_validation(services: Services) -> None:
    await _flag(services)
    created = await services.experiments.create(_new())
    assert created.status == "draft" and created.currency == "USD"
    with pytest.raises(Conflict):
        await services.experiments.create(_new())
    with pytest.raises(InvalidInput) as bad:
        await services.experiments.create(_new("x", variants=[("a", 5000), ("b", 4000)]))
    assert bad.value.param == "variants"
    with pytest.raises(InvalidInput) as bad:
        await services.experiments.create(_new("y", primary_metric="happiness"))
    assert bad.value.param == "primary_metric"
    with pytest.raises(NotFound):
        await services.experiments.get("nope")
    with pytest.raises(Conflict):
        await services.experiments.stop(created.key)
    started = await services.experiments.start(created.key)
    assert started.status == "running" and started.started_at is not None
    # Starting set the flag's split through the audited store.
    flag = await services.flags.get(FLAG)
    assert flag.definition.default.split == (("blue", 5000), ("green", 5000))
    await services.experiments.create(_new("second"))
    with pytest.raises(Conflict):  # one running experiment per flag
        await services.experiments.start("second")
    stopped = await services.experiments.stop(created.key)
    assert stopped.status == "stopped"
    assert [e.key for e in await services.experiments.all(status="stopped")] == [created.key]
    async with services.db.transaction() as conn:
        kinds = (
            await conn.execute(
                sa.select(events.c.type)
                .where(events.c.type.like("experiment.%"))
                .order_by(events.c.created_at, events.c.id)
            )
        ).scalars()
        assert list(kinds) == [
            "experiment.created",
            "experiment.started",
            "experiment.created",
            "experiment.stopped",
        ]


async def test_exposures_and_results_from_real_payments(
    services: Services, clock: FrozenClock
) -> None:
    await _flag(services)
    customers = [
        (await services.customers.create(email=f"c{i}@example.com", name=f"C {i}")).id
        for i in range(160)
    ]
    # Pre-period spend (CUPED): every customer paid before the experiment.
    for i, customer in enumerate(customers):
        amount = Money(1000 + 50 * (i % 20), "USD")
        await services.payments.create(
            CreatePayment(amount, "pm_card_visa", customer_id=customer, gateway="good")
        )
    clock.advance(days=1)
    await services.experiments.create(_new())
    await services.experiments.start("button-color")
    await services.exposures.refresh()
    await services.flags.refresh()
    clock.advance(seconds=1)

    seen: dict[str, str] = {}
    for i, customer in enumerate(customers):
        context = EvaluationContext(targeting_key=customer, attributes={"customer": customer})
        variant = services.features.get_string_details(FLAG, "blue", context).variant
        again = services.features.get_string_details(FLAG, "blue", context).variant
        assert variant == again and variant in ("blue", "green")
        seen[customer] = variant
        # Green declines one payment in 10; blue one in 4 (the effect under test).
        declined = i % (10 if variant == "green" else 4) == 0
        method = "pm_card_declined" if declined else "pm_card_visa"
        amount = Money(1000 + 50 * (i % 20), "USD")
        payment = await services.payments.create(
            CreatePayment(amount, method, customer_id=customer, gateway="good")
        )
        if not declined and i % 7 == 0:
            await services.payments.refund(CreateRefund(payment.id, amount=300))
        clock.advance(seconds=1)
    assert services.exposures.pending == len(customers)
    assert await services.exposures.flush() == len(customers)
    assert await services.exposures.flush() == 0  # nothing twice
    # A later evaluation of a known subject is not logged again, here or in the table.
    services.features.get_string_details(FLAG, "blue", EvaluationContext(customers[0]))
    assert services.exposures.pending == 0

    async with services.db.transaction() as conn:
        logged = {
            r.subject: r.variant
            for r in await conn.execute(
                sa.select(experiment_exposures).where(
                    experiment_exposures.c.experiment_key == "button-color"
                )
            )
        }
    assert logged == seen

    experiment, analysis = await services.experiments.results("button-color")
    arms = {a.variant: a for a in analysis.arms}
    assert sum(a.subjects for a in arms.values()) == len(customers)
    for name, arm in arms.items():
        members = [i for i, c in enumerate(customers) if seen[c] == name]
        every = 10 if name == "green" else 4
        declines = [i for i in members if i % every == 0]
        assert arm.subjects == len(members)
        assert arm.payments == len(members)  # pre-period payments are outside the window
        assert arm.succeeded == len(members) - len(declines)
        assert arm.refunded == sum(1 for i in members if i % every != 0 and i % 7 == 0)
        assert arm.errors == 0
        assert sorted(arm.order_values) == sorted(
            float(1000 + 50 * (i % 20)) for i in members if i % every != 0
        )
        assert arm.pre_revenue is not None and min(arm.pre_revenue) >= 1000
        assert sum(arm.revenue) == sum(
            1000 + 50 * (i % 20) - (300 if i % 7 == 0 else 0) for i in members if i % every != 0
        )
        assert arm.churned == 0 and arm.subscribers == 0  # billing's table, no subscribers
    summary = analysis.summaries["success_rate"]
    assert summary["green"].value == arms["green"].succeeded / arms["green"].payments
    rpc = analysis.result("revenue_per_customer", "green")
    assert rpc is not None and rpc.comparison is not None and rpc.cuped_reduction is not None
    assert analysis.guidance.action in ("ship", "keep running")
    assert analysis.guidance.reasons

    # Stopped: the window closes, exposures stop being logged.
    await services.experiments.stop("button-color")
    await services.exposures.refresh()
    services.features.get_string_details(FLAG, "blue", EvaluationContext("cus_new"))
    assert services.exposures.pending == 0
    clock.advance(hours=1)
    _, later = await services.experiments.results("button-color")
    assert [a.payments for a in later.arms] == [a.payments for a in analysis.arms]
    assert experiment.started_at is not None
    assert clock() - experiment.started_at > timedelta(minutes=1)


async def test_the_first_exposure_written_wins_across_processes_and_the_loop_flushes(
    services: Services, clock: FrozenClock
) -> None:
    import asyncio

    from paystead.optimize.exposures import ExposureLog, run_periodically

    await _flag(services)
    await services.experiments.create(_new())
    await services.experiments.start("button-color")
    await services.exposures.refresh()
    context = EvaluationContext(targeting_key="cus_shared")
    services.features.get_string_details(FLAG, "blue", context)
    first_seen = clock()
    clock.advance(minutes=5)
    # A second process's hook meets the same subject later and flushes first.
    other = ExposureLog(services.db, clock)
    await other.refresh()
    services.features.add_hooks([other])
    services.features.get_string_details(FLAG, "blue", context)
    assert services.exposures.pending == 1 and other.pending == 1
    assert await other.flush() == 1
    assert await services.exposures.flush() == 1  # sent, ignored by the unique constraint
    async with services.db.transaction() as conn:
        rows = (await conn.execute(sa.select(experiment_exposures))).all()
    assert len(rows) == 1 and rows[0].first_seen_at == first_seen + timedelta(minutes=5)

    stop = asyncio.Event()
    loop = asyncio.create_task(run_periodically(services.exposures, 0.01, stop))
    services.features.get_string_details(FLAG, "blue", EvaluationContext("cus_later"))
    for _ in range(500):
        if services.exposures.pending == 0:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await loop
    async with services.db.transaction() as conn:
        subjects = set((await conn.execute(sa.select(experiment_exposures.c.subject))).scalars())
    assert subjects == {"cus_shared", "cus_later"}
