"""Success-rate routing: which gateway gets the next payment, and why.

Per ``(currency, method)`` the router keeps, for each gateway, the authorization
successes and failures of the last ``window_seconds`` (bucketed, so old evidence ages
out and a recovered gateway wins its traffic back). It picks by **Thompson sampling**:
draw a success rate from each candidate's ``Beta(1 + successes, 1 + failures)``
posterior and send to the highest draw. A gateway with little evidence draws widely,
so it keeps being tried; on top of that an **exploration floor** sends
``exploration`` of the traffic to a uniformly chosen candidate, so a gateway that
degraded and recovered is noticed even when the posterior had written it off.

A candidate whose circuit breaker is open is skipped (it is listed in the decision
with why). With a fee schedule, candidates whose draws are within ``cost_tie_margin``
of the best are treated as tied and the cheapest wins.

Every choice returns a :class:`RoutingDecision`: the gateway, the reason, and every
candidate's evidence and estimate, ready to store on the payment as ``attempts``
(:func:`paystead.gateways.fallback.authorize_with_fallback` records one ``Attempt``
per gateway tried).
"""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from paystead.errors import GatewayTransient, InvalidInput
from paystead.gateways.resilience import CircuitBreaker
from paystead.money import Money, apply_rate

ANY = "*"

#: Routing strategies (``payments.routing_strategy``): ``thompson`` is the success-rate
#: router above; ``lowest_cost`` sends to the eligible candidate with the lowest fee for
#: the payment (the fee schedule; a gateway without one counts as the most expensive,
#: ties by table order); ``static_priority`` to the first eligible one in table order.
THOMPSON = "thompson"
LOWEST_COST = "lowest_cost"
STATIC_PRIORITY = "static_priority"
STRATEGIES = (THOMPSON, LOWEST_COST, STATIC_PRIORITY)


class NoGatewayAvailable(GatewayTransient):
    """Every gateway configured for the payment is open-circuited or already tried."""

    code = "no_gateway_available"


# -- configuration ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RoutingRule:
    """``PAYSTEAD_ROUTING_RULES``' unit: the gateways allowed for payments of a currency
    (or ``"*"``) by a method family (or ``"*"``), in their default order."""

    currency: str
    method: str
    gateways: tuple[str, ...]

    def matches(self, currency: str, method: str) -> bool:
        return self.currency in (ANY, currency) and self.method in (ANY, method)

    def to_dict(self) -> dict[str, Any]:
        return {"currency": self.currency, "method": self.method, "gateways": list(self.gateways)}


@dataclass(frozen=True, slots=True)
class RoutingTable:
    """Which gateways may take a ``(currency, method)``, in a default order.

    ``rules`` (the configured ones) are tried first, in order: the first matching rule
    gives the allowed gateways and restricts forced ones too (:meth:`allowed`). Then
    ``routes``, whose keys may use ``"*"`` for either part; the most specific match wins:
    ``(currency, method)``, then ``(currency, "*")``, then ``("*", method)``, then
    ``default``. The order matters only as a tie-break when no evidence says otherwise.
    """

    default: tuple[str, ...]
    routes: Mapping[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)
    rules: tuple[RoutingRule, ...] = ()

    def rule_for(self, currency: str, method: str) -> RoutingRule | None:
        """The first configured rule matching ``(currency, method)``, if any."""
        return next((r for r in self.rules if r.matches(currency, method)), None)

    def allowed(self, currency: str, method: str) -> tuple[str, ...] | None:
        """The gateways a rule allows (a forced one included); ``None``: no rule applies."""
        rule = self.rule_for(currency, method)
        return rule.gateways if rule is not None else None

    def candidates(self, currency: str, method: str) -> tuple[str, ...]:
        rule = self.rule_for(currency, method)
        if rule is not None:
            return rule.gateways
        for key in ((currency, method), (currency, ANY), (ANY, method)):
            if key in self.routes:
                return self.routes[key]
        return self.default

    def to_dict(self) -> dict[str, Any]:
        """The effective configuration, JSON-ready (``GET /v1/routing``)."""
        return {
            "rules": [rule.to_dict() for rule in self.rules],
            "default": list(self.default),
            "routes": [
                {"currency": c, "method": m, "gateways": list(g)}
                for (c, m), g in self.routes.items()
            ],
        }


@dataclass(frozen=True, slots=True)
class FeeRule:
    """A gateway's price: ``percent`` of the amount plus a fixed part per currency."""

    percent: Decimal = Decimal(0)
    fixed: Mapping[str, int] = field(default_factory=dict)

    def fee(self, amount: Money) -> Money:
        variable = apply_rate(amount, self.percent / 100)
        return variable + Money(self.fixed.get(amount.currency, 0), amount.currency)


@dataclass(frozen=True, slots=True)
class FeeSchedule:
    rules: Mapping[str, FeeRule] = field(default_factory=dict)

    def fee(self, gateway: str, amount: Money) -> Money | None:
        rule = self.rules.get(gateway)
        return rule.fee(amount) if rule is not None else None

    @classmethod
    def from_settings(
        cls, percent: Mapping[str, str], fixed: Mapping[str, Mapping[str, int]] | None = None
    ) -> FeeSchedule:
        """From ``{"stripe": "2.9"}`` and ``{"stripe": {"USD": 30}}`` (config's shapes)."""
        fixed = fixed or {}
        names = set(percent) | set(fixed)
        return cls(
            {
                name: FeeRule(Decimal(percent.get(name, "0")), dict(fixed.get(name, {})))
                for name in names
            }
        )


# -- evidence ---------------------------------------------------------------------------


class SlidingWindow:
    """Successes and failures of the last ``seconds``, in ``buckets`` time buckets."""

    def __init__(self, seconds: float, buckets: int):
        if seconds <= 0 or buckets < 1:
            raise ValueError("a window needs positive seconds and at least one bucket")
        self.width = seconds / buckets
        self.buckets = buckets
        self._slots: deque[list[int]] = deque()  # [bucket index, successes, failures]
        self.successes = 0
        self.failures = 0

    def _evict(self, now: float) -> int:
        index = int(now // self.width)
        while self._slots and self._slots[0][0] <= index - self.buckets:
            _, s, f = self._slots.popleft()
            self.successes -= s
            self.failures -= f
        return index

    def add(self, success: bool, now: float) -> None:
        index = self._evict(now)
        if not self._slots or self._slots[-1][0] != index:
            self._slots.append([index, 0, 0])
        slot = self._slots[-1]
        if success:
            slot[1] += 1
            self.successes += 1
        else:
            slot[2] += 1
            self.failures += 1

    def counts(self, now: float) -> tuple[int, int]:
        self._evict(now)
        return self.successes, self.failures


# -- decisions --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CandidateEstimate:
    gateway: str
    successes: int
    failures: int
    #: Posterior mean ``(1 + s) / (2 + s + f)``.
    success_rate: float
    #: This decision's Thompson draw; ``None`` when the candidate was not eligible.
    sample: float | None
    breaker: str
    #: The fee schedule's price for this payment, in minor units.
    fee: int | None
    eligible: bool
    skipped: str | None = None


@dataclass(frozen=True, slots=True)
class RoutingDecision:
    gateway: str
    #: ``thompson_sampling``, ``exploration``, ``cost_tie_break``, ``only_candidate``,
    #: ``forced``; with another strategy, ``lowest_cost`` or ``static_priority``.
    reason: str
    currency: str
    method: str
    candidates: tuple[CandidateEstimate, ...]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready record (lists, strings, numbers, booleans and nulls only).

        Written out rather than ``dataclasses.asdict`` (which deep-copies): every
        payment stores one, so this is on the payment path.
        """
        return {
            "gateway": self.gateway,
            "reason": self.reason,
            "currency": self.currency,
            "method": self.method,
            "candidates": [
                {
                    "gateway": c.gateway,
                    "successes": c.successes,
                    "failures": c.failures,
                    "success_rate": c.success_rate,
                    "sample": c.sample,
                    "breaker": c.breaker,
                    "fee": c.fee,
                    "eligible": c.eligible,
                    "skipped": c.skipped,
                }
                for c in self.candidates
            ],
        }


def payment_method_family(payment_method: str) -> str:
    """The routing ``method`` for a payment method token (``card``, ``upi``...)."""
    token = payment_method.lower()
    for family in ("upi", "netbanking", "wallet", "card"):
        if family in token:
            return family
    return "other"


# -- the router -------------------------------------------------------------------------


class Router:
    def __init__(
        self,
        table: RoutingTable,
        *,
        breakers: Mapping[str, CircuitBreaker] | None = None,
        fees: FeeSchedule | None = None,
        window_seconds: float = 300.0,
        buckets: int = 30,
        exploration: float = 0.02,
        cost_tie_margin: float = 0.0,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        if not 0 <= exploration < 1:
            raise ValueError("exploration must be in [0, 1)")
        self.table = table
        self.breakers = dict(breakers or {})
        self.fees = fees or FeeSchedule()
        self.window_seconds = window_seconds
        self.buckets = buckets
        self.exploration = exploration
        self.cost_tie_margin = cost_tie_margin
        self.rng = rng or random.Random()
        self.clock = clock
        self._windows: dict[tuple[str, str, str], SlidingWindow] = {}

    def _window(self, gateway: str, currency: str, method: str) -> SlidingWindow:
        key = (gateway, currency, method)
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = SlidingWindow(self.window_seconds, self.buckets)
        return window

    def record(self, gateway: str, currency: str, method: str, *, success: bool) -> None:
        """One authorization's final answer (call it when a pending one settles, too)."""
        self._window(gateway, currency, method).add(success, self.clock())

    def _breaker_state(self, gateway: str) -> tuple[str, bool]:
        breaker = self.breakers.get(gateway)
        if breaker is None:
            return "none", True
        return str(breaker.state), breaker.available()

    def estimates(
        self,
        currency: str,
        method: str,
        *,
        amount: Money | None = None,
        exclude: Iterable[str] = (),
        unsupported: Iterable[str] = (),
    ) -> list[CandidateEstimate]:
        """Every configured candidate's evidence, without drawing (for metrics too).

        ``exclude`` are gateways already tried for this payment; ``unsupported`` are
        gateways that refuse its payment method. Both are listed, not eligible.
        """
        excluded = set(exclude)
        refused = set(unsupported)
        now = self.clock()
        out = []
        for gateway in self.table.candidates(currency, method):
            s, f = self._window(gateway, currency, method).counts(now)
            breaker, available = self._breaker_state(gateway)
            fee = self.fees.fee(gateway, amount) if amount is not None else None
            skipped = None
            if gateway in excluded:
                skipped = "already_tried"
            elif gateway in refused:
                skipped = "payment_method_unsupported"
            elif not available:
                skipped = f"breaker_{breaker}"
            out.append(
                CandidateEstimate(
                    gateway=gateway,
                    successes=s,
                    failures=f,
                    success_rate=(1 + s) / (2 + s + f),
                    sample=None,
                    breaker=breaker,
                    fee=fee.amount if fee is not None else None,
                    eligible=skipped is None,
                    skipped=skipped,
                )
            )
        return out

    def choose(
        self,
        currency: str,
        method: str,
        *,
        amount: Money | None = None,
        exclude: Iterable[str] = (),
        forced: str | None = None,
        unsupported: Iterable[str] = (),
        strategy: str = THOMPSON,
    ) -> RoutingDecision:
        """The gateway for the next authorization of a ``(currency, method)`` payment,
        by ``strategy`` (one of :data:`STRATEGIES`)."""
        estimates = self.estimates(
            currency, method, amount=amount, exclude=exclude, unsupported=unsupported
        )
        if forced is not None:
            return RoutingDecision(forced, "forced", currency, method, tuple(estimates))
        if not estimates:
            raise InvalidInput(
                f"no gateway is configured for {currency} payments by {method}",
                code="gateway_unavailable_for_payment",
                param="currency",
            )
        eligible = [e for e in estimates if e.eligible]
        if not eligible:
            raise NoGatewayAvailable(
                f"every gateway for {currency}/{method} is unavailable: "
                + ", ".join(f"{e.gateway} ({e.skipped})" for e in estimates)
            )
        if len(estimates) == 1:
            # One gateway configured (the sandbox alone, say): nothing to weigh, no draw.
            only = estimates[0].gateway
            return RoutingDecision(only, "only_candidate", currency, method, tuple(estimates))
        if strategy != THOMPSON:
            return _by_rule(strategy, eligible, estimates, currency, method)
        drawn = {e.gateway: self.rng.betavariate(1 + e.successes, 1 + e.failures) for e in eligible}
        final = tuple(_with_sample(e, drawn.get(e.gateway)) if e.eligible else e for e in estimates)
        if len(eligible) == 1:
            return RoutingDecision(eligible[0].gateway, "only_candidate", currency, method, final)
        if self.exploration and self.rng.random() < self.exploration:
            pick = self.rng.choice(eligible).gateway
            return RoutingDecision(pick, "exploration", currency, method, final)
        best = max(eligible, key=lambda e: drawn[e.gateway]).gateway
        tied = [
            e
            for e in eligible
            if e.fee is not None and drawn[best] - drawn[e.gateway] <= self.cost_tie_margin
        ]
        if self.cost_tie_margin > 0 and len(tied) > 1:
            cheapest = min(tied, key=lambda e: (e.fee, -drawn[e.gateway])).gateway
            if cheapest != best:
                return RoutingDecision(cheapest, "cost_tie_break", currency, method, final)
        return RoutingDecision(best, "thompson_sampling", currency, method, final)


def _by_rule(
    strategy: str,
    eligible: list[CandidateEstimate],
    estimates: list[CandidateEstimate],
    currency: str,
    method: str,
) -> RoutingDecision:
    """``lowest_cost`` or ``static_priority``: deterministic, no draw (eligible is in
    table order, so ``min`` keeps the first of equal fees)."""
    if len(eligible) == 1:
        pick, reason = eligible[0], "only_candidate"
    elif strategy == LOWEST_COST:
        pick = min(eligible, key=lambda e: e.fee if e.fee is not None else _NO_FEE)
        reason = LOWEST_COST
    elif strategy == STATIC_PRIORITY:
        pick, reason = eligible[0], STATIC_PRIORITY
    else:
        raise ValueError(f"unknown routing strategy {strategy!r} (known: {', '.join(STRATEGIES)})")
    return RoutingDecision(pick.gateway, reason, currency, method, tuple(estimates))


#: Sorts a gateway without a fee schedule after every priced one.
_NO_FEE = float("inf")


def _with_sample(estimate: CandidateEstimate, sample: float | None) -> CandidateEstimate:
    return replace(estimate, sample=sample)
