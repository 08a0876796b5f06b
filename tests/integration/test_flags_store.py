"""The flag store on SQLite and PostgreSQL: versions, audit events, the kill switch,
weights, and the snapshot refresh that carries a change to another process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode

from paystead.config import Settings
from paystead.errors import Conflict, InvalidInput, NotFound
from paystead.events.context import RequestContext, bound
from paystead.optimize.flags.cache import run_periodically
from paystead.optimize.flags.evaluate import evaluate
from paystead.optimize.flags.model import parse_definition
from paystead.platform.schema import events
from paystead.wiring import Services, build_services

ROUTING = {
    "type": "string",
    "variants": {"thompson": "thompson", "lowest_cost": "lowest_cost"},
    "default": {"variant": "thompson"},
}


@pytest.fixture
async def other(settings: Settings) -> AsyncIterator[Services]:
    """A second set of services over the same database: another process, in effect."""
    built = build_services(settings)
    try:
        yield built
    finally:
        await built.close()


async def _flag_events(services: Services) -> list[sa.Row[tuple[object, ...]]]:
    async with services.db.transaction() as conn:
        query = sa.select(events).where(events.c.object_type == "flag").order_by(events.c.id)
        return list((await conn.execute(query)).all())


async def test_every_change_is_versioned_and_audited_with_actor_and_reason(
    services: Services,
) -> None:
    store = services.flags
    created = await store.create(
        "payments.routing_strategy",
        parse_definition(ROUTING),
        actor="key_ops",
        reason="lazy default",
    )
    assert created.version == 1
    moved = await store.set_weights(
        "payments.routing_strategy",
        {"thompson": 9000, "lowest_cost": 1000},
        actor="rollout:canary-1",
        reason="step 1: 10%",
    )
    assert moved.version == 2
    assert moved.definition.default.split == (("thompson", 9000), ("lowest_cost", 1000))
    with bound(RequestContext(actor="key_api")):
        off = await store.set_enabled("payments.routing_strategy", False, reason="incident 12")
    assert (off.version, off.enabled, off.updated_by) == (3, False, "key_api")
    # a change that changes nothing writes nothing
    same = await store.set_enabled("payments.routing_strategy", False, actor="x", reason="again")
    assert same.version == 3
    deleted = await store.delete("payments.routing_strategy", actor="cli", reason="done")
    assert deleted.version == 4
    with pytest.raises(NotFound):
        await store.get("payments.routing_strategy")

    rows = await _flag_events(services)
    got = [(r.type, r.actor, r.data["change_reason"], r.data["version"]) for r in rows]
    assert got == [
        ("flag.created", "key_ops", "lazy default", 1),
        ("flag.updated", "rollout:canary-1", "step 1: 10%", 2),
        ("flag.updated", "key_api", "incident 12", 3),
        ("flag.deleted", "cli", "done", 4),
    ]
    assert rows[1].previous == {"default": {"variant": "thompson"}}
    assert rows[2].previous == {"enabled": True}
    history = await store.history("payments.routing_strategy")
    assert [(c.version, c.actor, c.reason) for c in history] == [
        (4, "cli", "done"),
        (3, "key_api", "incident 12"),
        (2, "rollout:canary-1", "step 1: 10%"),
        (1, "key_ops", "lazy default"),
    ]


async def test_a_deleted_key_can_be_created_again_and_keeps_counting(services: Services) -> None:
    store = services.flags
    await store.create("k", parse_definition({}))
    await store.delete("k")
    again = await store.create("k", parse_definition({"default": {"variant": "on"}}))
    assert again.version == 3
    assert (await store.get("k")).definition.default.variant == "on"
    assert len(await store.history("k")) == 3


async def test_a_live_key_is_a_conflict_even_when_creates_race(
    services: Services, other: Services
) -> None:
    results = await asyncio.gather(
        services.flags.create("race", parse_definition({})),
        other.flags.create("race", parse_definition({})),
        return_exceptions=True,
    )
    conflicts = [r for r in results if isinstance(r, Conflict)]
    assert len(conflicts) == 1 and conflicts[0].param == "key", results
    listed, _ = await services.flags.list()
    assert [f.key for f in listed] == ["race"]


async def test_bad_weights_change_nothing(services: Services) -> None:
    await services.flags.create("k", parse_definition(ROUTING))
    with pytest.raises(InvalidInput) as caught:
        await services.flags.set_weights(
            "k", {"thompson": 9000, "lowest_cost": 999}, actor="a", reason="r"
        )
    assert caught.value.param == "weights"
    assert (await services.flags.get("k")).version == 1
    with pytest.raises(NotFound):
        await services.flags.set_weights("nope", {"on": 10_000}, actor="a", reason="r")


async def test_a_write_reaches_another_process_at_its_next_refresh(
    services: Services, other: Services
) -> None:
    """Evaluation reads the snapshot only: the other instance sees the change after its
    refresh (the poll the app runs every PAYSTEAD_FLAGS_REFRESH_SECONDS), not before."""
    ctx = EvaluationContext(targeting_key="cus_1")
    await other.flags.refresh()
    assert other.features.get_string_details("k", "dflt", ctx).error_code == (
        ErrorCode.FLAG_NOT_FOUND
    )
    await services.flags.create("k", parse_definition(ROUTING))
    # the writer sees its own change at once
    assert services.features.get_string_value("k", "dflt", ctx) == "thompson"
    # the other instance still serves its snapshot
    assert other.features.get_string_value("k", "dflt", ctx) == "dflt"
    assert await other.flags.refresh() is True
    assert other.features.get_string_value("k", "dflt", ctx) == "thompson"
    assert await other.flags.refresh() is False  # nothing changed: no reload

    await services.flags.set_weights(
        "k", {"thompson": 0, "lowest_cost": 10_000}, actor="t", reason="all in"
    )
    await services.flags.set_enabled("k", False, actor="t", reason="kill")
    await services.flags.set_enabled("k", True, actor="t", reason="back")
    assert await other.flags.refresh() is True
    assert other.features.get_string_value("k", "dflt", ctx) == "lowest_cost"
    await services.flags.delete("k", actor="t", reason="gone")
    assert await other.flags.refresh() is True
    assert other.features.get_string_value("k", "dflt", ctx) == "dflt"


async def test_the_background_refresh_picks_up_changes(services: Services, other: Services) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(run_periodically(other.flags.cache, 0.05, stop))
    try:
        await services.flags.create("k", parse_definition({"default": {"variant": "on"}}))
        for _ in range(200):  # up to 10 s; typically one period
            if other.flags.cache.get("k") is not None:
                break
            await asyncio.sleep(0.05)
        assert other.features.get_boolean_value("k", False) is True
    finally:
        stop.set()
        await task


async def test_both_instances_bucket_alike(services: Services, other: Services) -> None:
    raw = {
        **ROUTING,
        "off_variant": "thompson",
        "default": {"split": {"thompson": 5000, "lowest_cost": 5000}},
    }
    await services.flags.create("k", parse_definition(raw))
    await other.flags.refresh()
    stored = await services.flags.get("k")
    for i in range(200):
        ctx = EvaluationContext(targeting_key=f"cus_{i}")
        here = services.features.get_string_details("k", "x", ctx)
        there = other.features.get_string_details("k", "x", ctx)
        assert here.variant == there.variant == evaluate(stored, f"cus_{i}").variant
