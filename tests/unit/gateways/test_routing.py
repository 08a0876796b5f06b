"""The router: evidence windows, Thompson sampling, exploration, breakers, fees,
decisions as records, and one fallback on a retryable failure."""

from __future__ import annotations

import json
import random
from decimal import Decimal

import pytest

from paystead.errors import GatewayError, GatewayTransient, InvalidInput
from paystead.gateways.base import AuthorizeRequest, GatewayOutcomeUnknown, GatewayResult, Outcome
from paystead.gateways.fallback import authorize_with_fallback, summarize
from paystead.gateways.resilience import BreakerConfig, CircuitBreaker, GuardedGateway
from paystead.gateways.routing import (
    FeeRule,
    FeeSchedule,
    NoGatewayAvailable,
    Router,
    RoutingTable,
    SlidingWindow,
    payment_method_family,
)
from paystead.money import Money
from tests.unit.gateways.doubles import Clock, Scripted

INR = Money(100_000, "INR")
TABLE = RoutingTable(default=("razorpay", "stripe"), routes={("USD", "*"): ("stripe",)})


def router(clock: Clock | None = None, **kwargs: object) -> Router:
    kwargs.setdefault("rng", random.Random(1))
    return Router(TABLE, clock=clock or Clock(), **kwargs)  # type: ignore[arg-type]


def feed(r: Router, gateway: str, successes: int, failures: int, method: str = "card") -> None:
    for _ in range(successes):
        r.record(gateway, "INR", method, success=True)
    for _ in range(failures):
        r.record(gateway, "INR", method, success=False)


def test_the_most_specific_route_wins() -> None:
    table = RoutingTable(
        default=("a", "b"),
        routes={("INR", "upi"): ("c",), ("INR", "*"): ("d",), ("*", "upi"): ("e",)},
    )
    assert table.candidates("INR", "upi") == ("c",)
    assert table.candidates("INR", "card") == ("d",)
    assert table.candidates("USD", "upi") == ("e",)
    assert table.candidates("USD", "card") == ("a", "b")


def test_sliding_window_forgets_old_evidence() -> None:
    window = SlidingWindow(seconds=60, buckets=6)
    window.add(True, now=0)
    window.add(False, now=5)
    window.add(True, now=55)
    assert window.counts(now=59) == (2, 1)
    assert window.counts(now=61) == (1, 0)  # the first bucket (0-10 s) aged out
    assert window.counts(now=200) == (0, 0)
    with pytest.raises(ValueError):
        SlidingWindow(0, 1)


def test_evidence_decides_and_the_decision_says_why() -> None:
    r = router(exploration=0.0)
    feed(r, "razorpay", 95, 5)
    feed(r, "stripe", 60, 40)
    decision = r.choose("INR", "card", amount=INR)
    assert decision.gateway == "razorpay"
    assert decision.reason == "thompson_sampling"
    assert [c.gateway for c in decision.candidates] == ["razorpay", "stripe"]
    razorpay, stripe = decision.candidates
    assert (razorpay.successes, razorpay.failures) == (95, 5)
    assert razorpay.success_rate == pytest.approx(96 / 102)
    assert razorpay.sample is not None and stripe.sample is not None
    assert razorpay.breaker == "none" and razorpay.eligible
    record = decision.to_dict()
    assert json.loads(json.dumps(record)) == record  # storable as JSON
    assert record["candidates"][1]["gateway"] == "stripe"


def test_evidence_is_kept_per_currency_and_method() -> None:
    r = router(exploration=0.0)
    feed(r, "razorpay", 0, 50, method="upi")
    feed(r, "stripe", 50, 0, method="upi")
    feed(r, "razorpay", 50, 0, method="card")
    feed(r, "stripe", 0, 50, method="card")
    assert r.choose("INR", "upi").gateway == "stripe"
    assert r.choose("INR", "card").gateway == "razorpay"


def test_thompson_sampling_shares_traffic_by_evidence() -> None:
    r = router(exploration=0.0, rng=random.Random(7))
    feed(r, "razorpay", 97, 3)
    feed(r, "stripe", 90, 10)
    picks = [r.choose("INR", "card").gateway for _ in range(2000)]
    share = picks.count("razorpay") / len(picks)
    assert 0.85 < share < 1.0  # mostly the better one, never all of it


def test_the_exploration_floor_keeps_trying_a_written_off_gateway() -> None:
    r = router(exploration=0.1, rng=random.Random(3))
    feed(r, "razorpay", 1000, 0)
    feed(r, "stripe", 0, 1000)
    decisions = [r.choose("INR", "card") for _ in range(4000)]
    explored = [d for d in decisions if d.reason == "exploration"]
    to_stripe = [d for d in decisions if d.gateway == "stripe"]
    assert 0.08 < len(explored) / len(decisions) < 0.12
    assert 0.03 < len(to_stripe) / len(decisions) < 0.07  # half the explorations
    assert all(d.reason == "exploration" for d in to_stripe)


def test_recovery_wins_traffic_back() -> None:
    clock = Clock()
    r = router(clock, exploration=0.02, window_seconds=60, buckets=6, rng=random.Random(5))
    feed(r, "razorpay", 0, 200)  # razorpay was down
    feed(r, "stripe", 180, 20)
    assert r.choose("INR", "card").gateway == "stripe"
    clock.now += 61  # that evidence ages out while razorpay recovers
    outcomes = random.Random(9)
    taken = []
    for _ in range(3000):
        clock.now += 0.05
        decision = r.choose("INR", "card")
        rate = 0.99 if decision.gateway == "razorpay" else 0.9
        r.record(decision.gateway, "INR", "card", success=outcomes.random() < rate)
        taken.append(decision.gateway)
    assert taken[-1000:].count("razorpay") > 800


def test_an_open_breaker_is_skipped_and_listed() -> None:
    clock = Clock()
    breakers = {
        "razorpay": CircuitBreaker("razorpay", BreakerConfig(failure_threshold=1), clock=clock)
    }
    permit = breakers["razorpay"].try_acquire()
    assert permit is not None
    breakers["razorpay"].record_failure(permit)
    r = router(clock, breakers=breakers, exploration=0.0)
    feed(r, "razorpay", 100, 0)
    decision = r.choose("INR", "card")
    assert decision.gateway == "stripe"
    assert decision.reason == "only_candidate"
    skipped = decision.candidates[0]
    assert (skipped.gateway, skipped.eligible, skipped.skipped, skipped.sample) == (
        "razorpay",
        False,
        "breaker_open",
        None,
    )


def test_no_candidate_left_is_transient_and_no_route_is_invalid_input() -> None:
    r = router()
    with pytest.raises(NoGatewayAvailable) as excinfo:
        r.choose("INR", "card", exclude=["razorpay", "stripe"])
    assert isinstance(excinfo.value, GatewayTransient)
    empty = Router(RoutingTable(default=()), rng=random.Random(1))
    with pytest.raises(InvalidInput):
        empty.choose("INR", "card")


def test_a_forced_gateway_is_taken_as_is() -> None:
    r = router()
    feed(r, "razorpay", 100, 0)
    decision = r.choose("INR", "card", forced="stripe")
    assert (decision.gateway, decision.reason) == ("stripe", "forced")


def test_fee_schedule_and_cost_tie_break() -> None:
    fees = FeeSchedule.from_settings({"razorpay": "2", "stripe": "2.9"}, {"stripe": {"INR": 300}})
    assert fees.fee("razorpay", INR) == Money(2_000, "INR")
    assert fees.fee("stripe", INR) == Money(3_200, "INR")
    assert fees.fee("payu", INR) is None
    assert FeeRule(Decimal("1.5")).fee(Money(1_001, "INR")) == Money(15, "INR")
    # Equal evidence: the draws differ by little, and within the margin the cheaper wins.
    r = router(fees=fees, exploration=0.0, cost_tie_margin=0.05, rng=random.Random(2))
    feed(r, "razorpay", 500, 10)
    feed(r, "stripe", 500, 10)
    decisions = [r.choose("INR", "card", amount=INR) for _ in range(500)]
    assert sum(d.gateway == "razorpay" for d in decisions) > 450
    assert any(d.reason == "cost_tie_break" for d in decisions)
    assert decisions[0].candidates[1].fee == 3_200
    # Clearly better evidence still beats a lower price.
    feed(r, "stripe", 0, 300)
    assert r.choose("INR", "card", amount=INR).gateway == "razorpay"
    feed(r, "razorpay", 0, 2000)
    assert r.choose("INR", "card", amount=INR).gateway == "stripe"


@pytest.mark.parametrize(
    ("token", "family"),
    [
        ("pm_card_visa", "card"),
        ("pm_upi_success", "upi"),
        ("netbanking", "netbanking"),
        ("razorpay_checkout", "other"),
    ],
)
def test_payment_method_family(token: str, family: str) -> None:
    assert payment_method_family(token) == family


# -- one fallback on a retryable failure -------------------------------------------------

REQUEST = AuthorizeRequest(INR, "card", True, "pay_9:authorize")
FAILED = GatewayResult(Outcome.FAILED, failure_code="processing_error", retryable=True)
DECLINED = GatewayResult(Outcome.DECLINED, failure_code="insufficient_funds")
CAPTURED = GatewayResult(Outcome.CAPTURED, reference="ch_1")


class Named(Scripted):
    def __init__(self, name: str, *answers: GatewayResult | Exception):
        super().__init__(*answers)
        self.name = name
        self.keys: list[str] = []

    async def authorize(self, request: AuthorizeRequest) -> GatewayResult:
        self.keys.append(request.idempotency_key)
        return await self._next()


def preferring_razorpay() -> Router:
    r = router(exploration=0.0)
    feed(r, "razorpay", 1000, 0)
    feed(r, "stripe", 500, 500)
    return r


@pytest.mark.parametrize(
    "first",
    [
        FAILED,
        GatewayTransient("503", code="gateway_unavailable"),
        GatewayTransient("down", code="gateway_unreachable"),
    ],
)
async def test_a_retryable_failure_falls_back_once(first: GatewayResult | Exception) -> None:
    razorpay, stripe = Named("razorpay", first), Named("stripe", CAPTURED)
    r = preferring_razorpay()
    routed = await authorize_with_fallback(
        r, {"razorpay": razorpay, "stripe": stripe}, REQUEST, method="card"
    )
    assert routed.result == CAPTURED
    assert routed.gateway == "stripe"
    assert [a.gateway for a in routed.attempts] == ["razorpay", "stripe"]
    assert razorpay.keys == ["pay_9:authorize"]
    assert stripe.keys == ["pay_9:authorize:2"]
    second = routed.attempts[1]
    assert second.decision.candidates[0].skipped == "already_tried"
    assert routed.attempts[0].retryable is True
    stored = summarize(routed.attempts)
    assert json.loads(json.dumps(stored)) == stored
    # Both answers were recorded as evidence.
    est = {e.gateway: (e.successes, e.failures) for e in r.estimates("INR", "card")}
    assert est == {"razorpay": (1000, 1), "stripe": (501, 500)}


@pytest.mark.parametrize(
    "first",
    [
        DECLINED,
        GatewayOutcomeUnknown("timeout", code="gateway_timeout"),
        GatewayError("bad key", code="gateway_authentication_failed"),
    ],
)
async def test_no_fallback_after_a_decline_or_an_unknown_outcome(
    first: GatewayResult | Exception,
) -> None:
    razorpay, stripe = Named("razorpay", first), Named("stripe", CAPTURED)
    r = preferring_razorpay()
    routed = await authorize_with_fallback(
        r, {"razorpay": razorpay, "stripe": stripe}, REQUEST, method="card"
    )
    assert [a.gateway for a in routed.attempts] == ["razorpay"]
    assert stripe.calls == 0
    if isinstance(first, GatewayResult):
        assert routed.result == DECLINED and routed.error is None
        assert routed.attempts[0].failure_code == "insufficient_funds"
    else:
        assert routed.result is None and routed.error is first
        assert routed.attempts[0].error == first.code
    unknown = isinstance(first, GatewayOutcomeUnknown)
    est = {e.gateway: e.failures for e in r.estimates("INR", "card")}
    assert est["razorpay"] == (0 if unknown else 1)  # an unknown outcome is not evidence yet


async def test_at_most_one_fallback() -> None:
    razorpay, stripe = Named("razorpay", FAILED), Named("stripe", FAILED)
    routed = await authorize_with_fallback(
        preferring_razorpay(), {"razorpay": razorpay, "stripe": stripe}, REQUEST, method="card"
    )
    assert len(routed.attempts) == 2
    assert routed.result == FAILED


async def test_a_forced_gateway_is_never_fallen_back_from() -> None:
    razorpay, stripe = Named("razorpay", FAILED), Named("stripe", CAPTURED)
    routed = await authorize_with_fallback(
        preferring_razorpay(),
        {"razorpay": razorpay, "stripe": stripe},
        REQUEST,
        method="card",
        forced="razorpay",
    )
    assert [a.gateway for a in routed.attempts] == ["razorpay"]
    assert routed.attempts[0].decision.reason == "forced"


async def test_requires_action_is_left_unsettled() -> None:
    action = GatewayResult(Outcome.REQUIRES_ACTION, reference="order_1")
    r = preferring_razorpay()
    routed = await authorize_with_fallback(
        r,
        {"razorpay": Named("razorpay", action), "stripe": Named("stripe")},
        REQUEST,
        method="card",
    )
    assert routed.result == action
    est = {e.gateway: (e.successes, e.failures) for e in r.estimates("INR", "card")}
    assert est["razorpay"] == (1000, 0)  # recorded later, when the customer has acted


async def test_an_open_circuit_falls_back_and_all_open_raises() -> None:
    clock = Clock()
    breakers = {
        n: CircuitBreaker(n, BreakerConfig(failure_threshold=1), clock=clock)
        for n in ("razorpay", "stripe")
    }
    razorpay = GuardedGateway(Named("razorpay", FAILED, CAPTURED), breakers["razorpay"])
    stripe = GuardedGateway(Named("stripe", CAPTURED), breakers["stripe"])
    r = router(clock, breakers=breakers, exploration=0.0)
    feed(r, "razorpay", 1000, 0)
    routed = await authorize_with_fallback(
        r, {"razorpay": razorpay, "stripe": stripe}, REQUEST, method="card"
    )
    assert routed.gateway == "stripe" and routed.result == CAPTURED
    assert breakers["razorpay"].state == "open"
    # Next payment: razorpay's circuit is open, so the router goes straight to stripe.
    stripe.inner.answers.append(CAPTURED)  # type: ignore[attr-defined]
    routed = await authorize_with_fallback(
        r, {"razorpay": razorpay, "stripe": stripe}, REQUEST, method="card"
    )
    assert [a.gateway for a in routed.attempts] == ["stripe"]
    assert routed.attempts[0].decision.candidates[0].skipped == "breaker_open"
    while breakers["stripe"].state == "closed":  # 2 successes so far: 2 failures open it
        permit = breakers["stripe"].try_acquire()
        assert permit is not None
        breakers["stripe"].record_failure(permit)
    with pytest.raises(NoGatewayAvailable):
        await authorize_with_fallback(
            r, {"razorpay": razorpay, "stripe": stripe}, REQUEST, method="card"
        )
