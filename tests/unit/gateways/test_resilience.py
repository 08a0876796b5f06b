"""The circuit breaker's state machine on a hand-moved clock, and the guarded gateway."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from paystead.errors import GatewayError, GatewayTransient
from paystead.gateways.base import AuthorizeRequest, GatewayOutcomeUnknown, GatewayResult, Outcome
from paystead.gateways.resilience import (
    BreakerConfig,
    BreakerState,
    CircuitBreaker,
    CircuitOpen,
    GuardedGateway,
)
from paystead.gateways.sandbox import SandboxGateway
from paystead.money import Money
from tests.unit.gateways.doubles import Clock, Scripted

CONFIG = BreakerConfig(
    failure_threshold=3,
    failure_ratio=0.5,
    window_seconds=10,
    cooldown_seconds=30,
    half_open_probes=2,
)


def breaker(clock: Clock, **changes: float) -> CircuitBreaker:
    config = dataclasses.replace(CONFIG, **changes) if changes else CONFIG  # type: ignore[arg-type]
    return CircuitBreaker("gw", config, clock=clock)


def fail(b: CircuitBreaker, n: int = 1) -> None:
    for _ in range(n):
        permit = b.try_acquire()
        assert permit is not None
        b.record_failure(permit)


def succeed(b: CircuitBreaker, n: int = 1) -> None:
    for _ in range(n):
        permit = b.try_acquire()
        assert permit is not None
        b.record_success(permit)


def test_opens_on_a_burst_of_failures() -> None:
    b = breaker(Clock())
    fail(b, 2)
    assert b.state is BreakerState.CLOSED
    fail(b)
    assert b.state is BreakerState.OPEN
    assert b.try_acquire() is None
    assert not b.available()
    assert b.times_opened == 1


def test_failures_diluted_by_successes_do_not_open() -> None:
    b = breaker(Clock())
    succeed(b, 4)
    fail(b, 3)  # 3 of 7 < 50 %
    assert b.state is BreakerState.CLOSED
    fail(b)  # 4 of 8 = 50 %
    assert b.state is BreakerState.OPEN


def test_old_failures_leave_the_window() -> None:
    clock = Clock()
    b = breaker(clock)
    fail(b, 2)
    clock.now += 11
    fail(b, 2)
    assert b.state is BreakerState.CLOSED
    snapshot = b.snapshot()
    assert (snapshot.calls_in_window, snapshot.failures_in_window) == (2, 2)


def test_half_open_after_the_cooldown_with_limited_probes() -> None:
    clock = Clock()
    b = breaker(clock)
    fail(b, 3)
    clock.now += 29.9
    assert b.state is BreakerState.OPEN
    clock.now += 0.1
    assert b.state is BreakerState.HALF_OPEN
    first, second = b.try_acquire(), b.try_acquire()
    assert first is not None and second is not None and first.probe and second.probe
    assert b.try_acquire() is None  # only two probes at a time
    assert not b.available()
    b.record_success(first)
    assert b.state is BreakerState.HALF_OPEN
    assert b.try_acquire() is None  # one succeeded, one still out: no third
    b.record_success(second)
    assert b.state is BreakerState.CLOSED
    assert b.snapshot().calls_in_window == 0  # a fresh start


def test_a_failed_probe_opens_again_for_another_cooldown() -> None:
    clock = Clock()
    b = breaker(clock)
    fail(b, 3)
    clock.now += 30
    probe = b.try_acquire()
    assert probe is not None
    b.record_failure(probe)
    assert b.state is BreakerState.OPEN
    assert b.times_opened == 2
    clock.now += 29
    assert b.state is BreakerState.OPEN
    clock.now += 1
    assert b.state is BreakerState.HALF_OPEN


def test_a_released_probe_frees_its_slot() -> None:
    clock = Clock()
    b = breaker(clock, half_open_probes=1)
    fail(b, 3)
    clock.now += 30
    probe = b.try_acquire()
    assert probe is not None and b.try_acquire() is None
    b.release(probe)
    assert b.try_acquire() is not None


def test_stragglers_from_before_a_state_change_are_ignored() -> None:
    clock = Clock()
    b = breaker(clock)
    late = b.try_acquire()  # a slow call started while closed
    assert late is not None
    fail(b, 3)
    clock.now += 30
    assert b.state is BreakerState.HALF_OPEN
    b.record_success(late)  # it is not a probe: proves nothing about recovery
    assert b.state is BreakerState.HALF_OPEN
    b.record_failure(late)
    assert b.state is BreakerState.HALF_OPEN


def test_state_changes_are_reported() -> None:
    clock = Clock()
    seen: list[tuple[str, BreakerState, BreakerState]] = []
    b = CircuitBreaker("gw", CONFIG, clock=clock, on_state_change=lambda *a: seen.append(a))
    fail(b, 3)
    clock.now += 30
    succeed(b, 2)
    assert seen == [
        ("gw", BreakerState.CLOSED, BreakerState.OPEN),
        ("gw", BreakerState.OPEN, BreakerState.HALF_OPEN),
        ("gw", BreakerState.HALF_OPEN, BreakerState.CLOSED),
    ]


@pytest.mark.parametrize(
    "config",
    [
        {"failure_threshold": 0},
        {"half_open_probes": 0},
        {"failure_ratio": 0},
        {"failure_ratio": 1.5},
        {"window_seconds": 0},
        {"cooldown_seconds": -1},
    ],
)
def test_nonsense_configs_are_refused(config: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        BreakerConfig(**config)  # type: ignore[arg-type]


# -- the guarded gateway ----------------------------------------------------------------


REQUEST = AuthorizeRequest(Money(100, "INR"), "pm_card_visa", True, "pay_1:authorize")
FAILED = GatewayResult(Outcome.FAILED, failure_code="processing_error", retryable=True)
DECLINED = GatewayResult(Outcome.DECLINED, failure_code="card_declined")
CAPTURED = GatewayResult(Outcome.CAPTURED, reference="x")


async def test_transient_failures_open_the_circuit_and_calls_fail_fast() -> None:
    inner = Scripted(
        FAILED,
        GatewayTransient("503", code="gateway_unavailable"),
        GatewayOutcomeUnknown("timeout", code="gateway_timeout"),
    )
    guarded = GuardedGateway(inner, breaker(Clock()))
    assert (await guarded.authorize(REQUEST)).outcome is Outcome.FAILED
    for _ in range(2):
        with pytest.raises(GatewayTransient):
            await guarded.authorize(REQUEST)
    with pytest.raises(CircuitOpen) as excinfo:
        await guarded.refund("x", Money(1, "INR"), idempotency_key="re_1")
    assert excinfo.value.code == "gateway_circuit_open"
    assert not isinstance(excinfo.value, GatewayOutcomeUnknown)  # never sent: fall back freely
    assert inner.calls == 3


async def test_declines_and_final_errors_do_not_count_against_the_gateway() -> None:
    inner = Scripted(
        DECLINED,
        DECLINED,
        GatewayError("bad key", code="gateway_authentication_failed"),
        DECLINED,
        CAPTURED,
    )
    b = breaker(Clock())
    guarded = GuardedGateway(inner, b)
    for _ in range(2):
        await guarded.authorize(REQUEST)
    with pytest.raises(GatewayError):
        await guarded.capture("x", Money(1, "INR"), idempotency_key="k")
    await guarded.void("x", idempotency_key="v")
    assert (await guarded.fetch_payment("x")).outcome is Outcome.CAPTURED
    assert b.state is BreakerState.CLOSED
    assert b.snapshot().failures_in_window == 0


async def test_a_cancelled_probe_releases_its_slot() -> None:
    clock = Clock()
    b = breaker(clock, half_open_probes=1)
    fail(b, 3)
    clock.now += 30

    class Hangs(Scripted):
        async def fetch_refund(self, reference: str) -> GatewayResult:
            await asyncio.sleep(3600)
            raise AssertionError("unreachable")

    guarded = GuardedGateway(Hangs(CAPTURED), b)
    task = asyncio.ensure_future(guarded.fetch_refund("re_x"))
    await asyncio.sleep(0)
    assert b.try_acquire() is None  # the probe slot is taken
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert (await guarded.authorize(REQUEST)).outcome is Outcome.CAPTURED
    assert b.state is BreakerState.CLOSED


async def test_complete_action_needs_an_inner_gateway_that_has_it() -> None:
    guarded = GuardedGateway(SandboxGateway(), breaker(Clock()))
    with pytest.raises(NotImplementedError):
        await guarded.complete_action("x", Money(1, "INR"), {}, capture=True, idempotency_key="k")
    guarded.check_payment_method("pm_card_visa")
    assert guarded.name == "sandbox"
