"""A circuit breaker per gateway, and a gateway wrapper that feeds it.

No library fitted: pybreaker's async support goes through Tornado; purgatory and
aiobreaker count consecutive *exceptions*, read the wall clock themselves and let one
probe through. A gateway's failure is often an answer, not an exception (a sandbox or
Stripe ``processing_error`` is a ``FAILED`` result), the router must ask "may I send
here?" without taking a probe slot, and tests need an injectable clock. So this is a
small state machine, synchronous (no ``await`` inside: safe on one event loop without
locks), driven by what the :class:`GuardedGateway` observes::

    CLOSED --(>= failure_threshold transient failures in window_seconds, making
              >= failure_ratio of the window's calls)--> OPEN
    OPEN --(cooldown_seconds elapse)--> HALF_OPEN
    HALF_OPEN --(half_open_probes calls all succeed)--> CLOSED
    HALF_OPEN --(any probe fails)--> OPEN (cool-down again)

A *transient* failure is what a retry may fix: ``GatewayTransient`` (timeouts, 429,
5xx, an unreachable host) or a ``FAILED`` result marked retryable. A decline is a
success here: the gateway answered. Calls refused while open raise
:class:`CircuitOpen`, a ``GatewayTransient`` that was never sent, so a fallback to
another gateway is safe.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from paystead.errors import GatewayTransient
from paystead.gateways.base import (
    AuthorizeRequest,
    CompletesActions,
    Gateway,
    GatewayResult,
    Outcome,
)
from paystead.money import Money


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitOpen(GatewayTransient):
    code = "gateway_circuit_open"


@dataclass(frozen=True, slots=True)
class BreakerConfig:
    failure_threshold: int = 5
    failure_ratio: float = 0.5
    window_seconds: float = 30.0
    cooldown_seconds: float = 30.0
    half_open_probes: int = 2

    def __post_init__(self) -> None:
        if self.failure_threshold < 1 or self.half_open_probes < 1:
            raise ValueError("failure_threshold and half_open_probes must be at least 1")
        if not 0 < self.failure_ratio <= 1:
            raise ValueError("failure_ratio must be in (0, 1]")
        if self.window_seconds <= 0 or self.cooldown_seconds <= 0:
            raise ValueError("window_seconds and cooldown_seconds must be positive")


@dataclass(frozen=True, slots=True)
class Permit:
    """Permission for one call; report its end with exactly one ``record_*``/``release``."""

    generation: int
    probe: bool


@dataclass(frozen=True, slots=True)
class BreakerSnapshot:
    """The breaker as metrics see it."""

    name: str
    state: BreakerState
    calls_in_window: int
    failures_in_window: int
    probes_in_flight: int
    times_opened: int
    opened_at: float | None


StateListener = Callable[[str, BreakerState, BreakerState], None]


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        config: BreakerConfig | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_state_change: StateListener | None = None,
    ):
        self.name = name
        self.config = config or BreakerConfig()
        self._clock = clock
        self._on_state_change = on_state_change
        self._state = BreakerState.CLOSED
        self._generation = 0
        self._calls: deque[tuple[float, bool]] = deque()  # (when, failed)
        self._failures = 0
        self._opened_at: float | None = None
        self._probes_in_flight = 0
        self._probe_successes = 0
        self.times_opened = 0

    # -- state ----------------------------------------------------------------------

    @property
    def state(self) -> BreakerState:
        """The current state (an open breaker whose cool-down is over reads half-open)."""
        if (
            self._state is BreakerState.OPEN
            and self._opened_at is not None
            and self._clock() - self._opened_at >= self.config.cooldown_seconds
        ):
            self._move(BreakerState.HALF_OPEN)
        return self._state

    def _move(self, new: BreakerState) -> None:
        old, self._state = self._state, new
        self._generation += 1
        self._probes_in_flight = 0
        self._probe_successes = 0
        if new is BreakerState.OPEN:
            self._opened_at = self._clock()
            self.times_opened += 1
        elif new is BreakerState.CLOSED:
            self._opened_at = None
            self._calls.clear()
            self._failures = 0
        if self._on_state_change is not None and old is not new:
            self._on_state_change(self.name, old, new)

    def available(self) -> bool:
        """Whether a call would be let through now (takes nothing: for the router)."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        return (
            state is BreakerState.HALF_OPEN
            and self._probes_in_flight + self._probe_successes < self.config.half_open_probes
        )

    def try_acquire(self) -> Permit | None:
        """A permit for one call, or ``None`` when the breaker refuses it."""
        if not self.available():
            return None
        probe = self._state is BreakerState.HALF_OPEN
        if probe:
            self._probes_in_flight += 1
        return Permit(self._generation, probe)

    # -- outcomes -------------------------------------------------------------------

    def _evict(self, now: float) -> None:
        horizon = now - self.config.window_seconds
        while self._calls and self._calls[0][0] <= horizon:
            _, failed = self._calls.popleft()
            self._failures -= failed

    def _current_probe(self, permit: Permit) -> bool:
        if permit.probe and permit.generation == self._generation:
            self._probes_in_flight -= 1
            return True
        return False

    def record_success(self, permit: Permit) -> None:
        if self._current_probe(permit):
            self._probe_successes += 1
            if self._probe_successes >= self.config.half_open_probes:
                self._move(BreakerState.CLOSED)
            return
        if self._state is BreakerState.CLOSED and permit.generation == self._generation:
            now = self._clock()
            self._evict(now)
            self._calls.append((now, False))

    def record_failure(self, permit: Permit) -> None:
        if self._current_probe(permit):
            self._move(BreakerState.OPEN)
            return
        if self._state is not BreakerState.CLOSED or permit.generation != self._generation:
            return  # a straggler from before the last state change
        now = self._clock()
        self._evict(now)
        self._calls.append((now, True))
        self._failures += 1
        if (
            self._failures >= self.config.failure_threshold
            and self._failures >= self.config.failure_ratio * len(self._calls)
        ):
            self._move(BreakerState.OPEN)

    def release(self, permit: Permit) -> None:
        """The call ended with neither verdict (cancelled, a non-transient error)."""
        self._current_probe(permit)

    def snapshot(self) -> BreakerSnapshot:
        state = self.state
        self._evict(self._clock())
        return BreakerSnapshot(
            name=self.name,
            state=state,
            calls_in_window=len(self._calls),
            failures_in_window=self._failures,
            probes_in_flight=self._probes_in_flight,
            times_opened=self.times_opened,
            opened_at=self._opened_at,
        )


def is_transient_failure(result: GatewayResult) -> bool:
    return result.outcome is Outcome.FAILED and result.retryable


class GuardedGateway:
    """A gateway behind its breaker: refuses calls while open, feeds it every outcome.

    Implements the whole :class:`~paystead.gateways.base.Gateway` interface and
    ``complete_action`` (raising ``NotImplementedError`` when the inner gateway has
    none). ``check_payment_method`` is local and not guarded.
    """

    def __init__(self, inner: Gateway, breaker: CircuitBreaker):
        self.inner = inner
        self.breaker = breaker
        self.name = inner.name

    async def _guard(self, call: Callable[[], Awaitable[GatewayResult]]) -> GatewayResult:
        permit = self.breaker.try_acquire()
        if permit is None:
            raise CircuitOpen(
                f"{self.name} is failing: its circuit is {self.breaker.state}",
                code=CircuitOpen.code,
            )
        try:
            result = await call()
        except GatewayTransient:
            self.breaker.record_failure(permit)
            raise
        except BaseException:
            self.breaker.release(permit)
            raise
        if is_transient_failure(result):
            self.breaker.record_failure(permit)
        else:
            self.breaker.record_success(permit)
        return result

    def check_payment_method(self, payment_method: str) -> None:
        self.inner.check_payment_method(payment_method)

    def check_action(self, reference: str, params: Mapping[str, str]) -> None:
        """Local (no call is made), so not guarded; see ``complete_action``."""
        inner = self.inner
        if not isinstance(inner, CompletesActions):
            raise NotImplementedError(f"{self.name} has no customer action to complete")
        inner.check_action(reference, params)

    async def authorize(self, request: AuthorizeRequest) -> GatewayResult:
        return await self._guard(lambda: self.inner.authorize(request))

    async def capture(
        self, reference: str, amount: Money, *, idempotency_key: str
    ) -> GatewayResult:
        return await self._guard(
            lambda: self.inner.capture(reference, amount, idempotency_key=idempotency_key)
        )

    async def void(self, reference: str, *, idempotency_key: str) -> GatewayResult:
        return await self._guard(
            lambda: self.inner.void(reference, idempotency_key=idempotency_key)
        )

    async def refund(self, reference: str, amount: Money, *, idempotency_key: str) -> GatewayResult:
        return await self._guard(
            lambda: self.inner.refund(reference, amount, idempotency_key=idempotency_key)
        )

    async def fetch_payment(self, reference: str) -> GatewayResult:
        return await self._guard(lambda: self.inner.fetch_payment(reference))

    async def fetch_refund(self, reference: str) -> GatewayResult:
        return await self._guard(lambda: self.inner.fetch_refund(reference))

    async def complete_action(
        self,
        reference: str,
        amount: Money,
        params: Mapping[str, str],
        *,
        capture: bool,
        idempotency_key: str,
    ) -> GatewayResult:
        inner = self.inner
        if not isinstance(inner, CompletesActions):
            raise NotImplementedError(f"{self.name} has no customer action to complete")
        return await self._guard(
            lambda: inner.complete_action(
                reference, amount, params, capture=capture, idempotency_key=idempotency_key
            )
        )
