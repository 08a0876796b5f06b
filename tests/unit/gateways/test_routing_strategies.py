"""Routing strategies other than Thompson sampling (``payments.routing_strategy``):
``lowest_cost`` by the fee schedule, ``static_priority`` by table order; both skip
ineligible gateways, and fallback keeps the payment's strategy."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from paystead.gateways.base import AuthorizeRequest, GatewayResult, Outcome
from paystead.gateways.fallback import authorize_with_fallback
from paystead.gateways.routing import (
    LOWEST_COST,
    STATIC_PRIORITY,
    THOMPSON,
    FeeRule,
    FeeSchedule,
    Router,
    RoutingTable,
)
from paystead.money import Money
from tests.unit.gateways.doubles import Clock, Scripted

INR = Money(100_000, "INR")
TABLE = RoutingTable(default=("a", "b", "c"))
#: c is cheapest (1 %), then b (1.5 % + 1.00), a has no fee schedule.
FEES = FeeSchedule({"b": FeeRule(Decimal("1.5"), {"INR": 100}), "c": FeeRule(Decimal("1"), {})})


def router() -> Router:
    r = Router(TABLE, fees=FEES, exploration=0.0, rng=random.Random(3), clock=Clock())
    # Evidence that makes Thompson prefer a by far.
    for _ in range(500):
        r.record("a", "INR", "card", success=True)
        r.record("b", "INR", "card", success=False)
        r.record("c", "INR", "card", success=False)
    return r


def test_lowest_cost_picks_the_cheapest_eligible_gateway() -> None:
    r = router()
    decision = r.choose("INR", "card", amount=INR, strategy=LOWEST_COST)
    assert (decision.gateway, decision.reason) == ("c", "lowest_cost")
    assert all(c.sample is None for c in decision.candidates)  # no draw
    # Without c, b (priced) beats a (unpriced).
    assert r.choose("INR", "card", amount=INR, strategy=LOWEST_COST, exclude=["c"]).gateway == "b"
    assert r.choose("INR", "card", amount=INR, strategy=THOMPSON).gateway == "a"


def test_static_priority_takes_table_order_ignoring_evidence() -> None:
    r = Router(TABLE, exploration=0.0, rng=random.Random(3), clock=Clock())
    for _ in range(500):
        r.record("a", "INR", "card", success=False)
        r.record("c", "INR", "card", success=True)
    decision = r.choose("INR", "card", amount=INR, strategy=STATIC_PRIORITY)
    assert (decision.gateway, decision.reason) == ("a", "static_priority")
    assert r.choose("INR", "card", strategy=STATIC_PRIORITY, unsupported=["a"]).gateway == "b"
    assert r.choose("INR", "card", strategy=THOMPSON).gateway == "c"


def test_forced_and_single_candidates_are_the_same_for_every_strategy() -> None:
    r = router()
    assert r.choose("INR", "card", forced="b", strategy=LOWEST_COST).reason == "forced"
    only = r.choose("INR", "card", strategy=LOWEST_COST, exclude=["a", "b"])
    assert (only.gateway, only.reason) == ("c", "only_candidate")


def test_an_unknown_strategy_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown routing strategy"):
        router().choose("INR", "card", strategy="cheapest_please")


FAILED = GatewayResult(Outcome.FAILED, failure_code="processing_error", retryable=True)
CAPTURED = GatewayResult(Outcome.CAPTURED, reference="ch_1")
REQUEST = AuthorizeRequest(INR, "pm_card_visa", capture=True, idempotency_key="pay_9:authorize")


async def test_fallback_uses_the_strategy_and_max_attempts() -> None:
    gateways = {"a": Scripted(CAPTURED), "b": Scripted(CAPTURED), "c": Scripted(FAILED)}
    routed = await authorize_with_fallback(
        router(), gateways, REQUEST, method="card", strategy=LOWEST_COST
    )
    assert [(x.gateway, x.decision.reason) for x in routed.attempts] == [
        ("c", "lowest_cost"),
        ("b", "lowest_cost"),
    ]
    single = {"a": Scripted(CAPTURED), "b": Scripted(CAPTURED), "c": Scripted(FAILED)}
    routed = await authorize_with_fallback(
        router(), single, REQUEST, method="card", strategy=LOWEST_COST, max_attempts=1
    )
    assert [x.gateway for x in routed.attempts] == ["c"]
    assert routed.result == FAILED and single["b"].calls == 0
