"""The routing simulation: two sandbox gateways, one degrading mid-run.

Shared by ``test_routing_simulation.py`` (which holds the bar) and by
``python -m tests.unit.gateways.simulation`` (which prints the figures for
docs/gateways.md). Time is simulated: payments arrive ``RATE`` per second on a
clock the router reads, so 20,000 payments take about a second of real time.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass

from paystead.gateways.base import AuthorizeRequest, Outcome
from paystead.gateways.fallback import authorize_with_fallback
from paystead.gateways.resilience import BreakerConfig, CircuitBreaker, GuardedGateway
from paystead.gateways.routing import Router, RoutingTable
from paystead.gateways.sandbox import SandboxGateway
from paystead.money import Money

PAYMENTS = 20_000
RATE = 10.0  # payments per simulated second
A_BEFORE, A_AFTER, B_RATE = 0.99, 0.70, 0.97  # success probabilities


class SimClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass(frozen=True)
class Figures:
    payments: int
    routed_first_attempt: float  # share of payments whose first routed attempt succeeded
    routed_with_fallback: float  # share that succeeded after at most one fallback
    oracle: float  # always the better gateway at that moment (expected)
    best_single: float  # the better gateway over the whole run (expected)
    share_to_a_before: float
    share_to_a_after: float
    shift_payments: int  # payments after the degradation until A's share stays under 10 %
    breaker_opens: int


def _sandbox(name: str, success: float, seed: int) -> SandboxGateway:
    gateway = SandboxGateway(failure_rate=1 - success, seed=seed, delay_ms=0)
    gateway.name = name  # two instances of the same gateway, routed as two
    return gateway


async def run(seed: int = 2026, payments: int = PAYMENTS) -> Figures:
    clock = SimClock()
    a, b = _sandbox("a", A_BEFORE, seed), _sandbox("b", B_RATE, seed + 1)
    breakers = {name: CircuitBreaker(name, BreakerConfig(), clock=clock) for name in ("a", "b")}
    gateways = {"a": GuardedGateway(a, breakers["a"]), "b": GuardedGateway(b, breakers["b"])}
    router = Router(
        RoutingTable(default=("a", "b")),
        breakers=breakers,
        window_seconds=120,
        buckets=24,
        exploration=0.02,
        rng=random.Random(seed),
        clock=clock,
    )
    half = payments // 2
    first_ok = final_ok = 0
    to_a = [0, 0]
    recent_a: list[int] = []
    shift_at: int | None = None
    for i in range(payments):
        if i == half:
            a.failure_rate = 1 - A_AFTER
        clock.now = i / RATE
        routed = await authorize_with_fallback(
            router,
            gateways,
            AuthorizeRequest(Money(10_000, "INR"), "pm_card_visa", True, f"pay_{i}:authorize"),
            method="card",
        )
        first = routed.attempts[0]
        first_ok += first.outcome in (Outcome.CAPTURED, Outcome.AUTHORIZED)
        final_ok += routed.result is not None and routed.result.outcome is Outcome.CAPTURED
        went_a = first.gateway == "a"
        to_a[i >= half] += went_a
        if i >= half and shift_at is None:
            recent_a.append(went_a)
            if len(recent_a) >= 200 and sum(recent_a[-200:]) < 20:
                shift_at = i - half
    return Figures(
        payments=payments,
        routed_first_attempt=first_ok / payments,
        routed_with_fallback=final_ok / payments,
        oracle=(A_BEFORE + B_RATE) / 2,
        best_single=max((A_BEFORE + A_AFTER) / 2, B_RATE),
        share_to_a_before=to_a[0] / half,
        share_to_a_after=to_a[1] / (payments - half),
        shift_payments=shift_at if shift_at is not None else payments - half,
        breaker_opens=sum(b.times_opened for b in breakers.values()),
    )


def _pct(x: float) -> str:
    return f"{100 * x:.2f} %"


if __name__ == "__main__":
    for seed in (2026, 1, 2, 3, 4):
        f = asyncio.run(run(seed))
        print(
            f"seed {seed}: first attempt {_pct(f.routed_first_attempt)}, with fallback "
            f"{_pct(f.routed_with_fallback)}, oracle {_pct(f.oracle)}, best single "
            f"{_pct(f.best_single)}, A share before {_pct(f.share_to_a_before)} after "
            f"{_pct(f.share_to_a_after)}, shifted after {f.shift_payments} payments "
            f"({f.shift_payments / RATE:.0f} s), breaker opened {f.breaker_opens}x"
        )
