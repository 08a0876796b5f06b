"""The screener: a payment's facts in, an :class:`Assessment` out.

It keeps the velocity windows (payments per customer and per fingerprint, failures per
customer) for this process; the payment service tells it what happened
(:meth:`Screener.observe_payment` after a screened payment is recorded,
:meth:`Screener.observe_failure` when one fails or is declined).

With ``shared`` windows (:class:`~paystead.risk.velocity_redis.RedisVelocity`, when
``PAYSTEAD_REDIS_URL`` is set) every process counts every process's payments: the
payment path then calls the async :meth:`Screener.screen` (count and record in one
round trip), :meth:`Screener.payment_recorded` and :meth:`Screener.payment_failed`,
which use the in-process windows when there is no Redis, or when Redis fails (a
warning is logged; screening goes on with this process's counts rather than fail the
payment, and Redis is left alone for a few seconds so no payment waits on its
timeouts).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from paystead.ids import new_id
from paystead.risk.config import RiskConfig
from paystead.risk.rules import Decision, Mode, PaymentFacts, Recent, RuleHit, decide, evaluate
from paystead.risk.velocity import EventWindow
from paystead.risk.velocity_redis import RedisVelocity

log = logging.getLogger(__name__)

#: Seconds between two warnings about the shared windows being unreachable.
_WARN_EVERY = 60.0
#: After a failure the shared windows are left alone this long (no payment waits on a
#: connect timeout while Redis is down); this process's windows count meanwhile.
_SHARED_PAUSE = 5.0

#: The payment ``failure_code`` of a payment blocked in ``enforce`` mode.
FRAUD_SUSPECTED = "fraud_suspected"


@dataclass(frozen=True, slots=True)
class Assessment:
    id: str
    payment_id: str
    customer_id: str | None
    score: int
    decision: Decision
    mode: Mode
    rules: tuple[RuleHit, ...]
    created_at: datetime
    #: Facts that fed the velocity windows (not stored; the windows need them).
    facts: PaymentFacts = field(compare=False, repr=False)

    @property
    def blocks(self) -> bool:
        """Whether this assessment stops the payment (``block`` in ``enforce`` mode)."""
        return self.mode is Mode.ENFORCE and self.decision is Decision.BLOCK

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "payment_id": self.payment_id,
            "score": self.score,
            "decision": self.decision.value,
            "mode": self.mode.value,
            "rules": [hit.to_dict() for hit in self.rules],
            "created_at": self.created_at,
        }


def payment_facts(
    *,
    payment_id: str,
    amount: int,
    currency: str,
    payment_method: str,
    customer_id: str | None,
    metadata: Mapping[str, Any],
    email: str | None,
    config: RiskConfig,
) -> PaymentFacts:
    """A payment's facts: ``metadata`` may carry ``card_fingerprint``, ``email``,
    ``country`` and ``ip_country``; without a fingerprint the payment method token
    stands in unless it is a shared one (a bare method name, a test token)."""
    fingerprint = _text(metadata.get("card_fingerprint"))
    if fingerprint is None and payment_method not in config.shared_tokens:
        fingerprint = payment_method
    return PaymentFacts(
        payment_id=payment_id,
        amount=amount,
        currency=currency,
        payment_method=payment_method,
        customer_id=customer_id,
        fingerprint=fingerprint,
        email=_text(metadata.get("email")) or email,
        country=_text(metadata.get("country")),
        ip_country=_text(metadata.get("ip_country")),
    )


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


class FraudModel(Protocol):
    """A trained fraud model (``paystead.models.fraud.FraudScorer``): a probability from
    the facts and windows screening already has, with no I/O (docs/models.md)."""

    version: str

    def __call__(self, facts: PaymentFacts, recent: Recent, at: datetime) -> float: ...


def model_hit(probability: float, version: str, config: RiskConfig) -> RuleHit | None:
    """The ``model`` rule: fires at ``config.model.threshold``; 0 points in shadow."""
    rule = config.model
    if probability < rule.threshold:
        return None
    return RuleHit(
        "model",
        rule.score if rule.mode == "enforce" else 0,
        f"fraud model {version}: probability {probability:.3f} >= {rule.threshold:g} ({rule.mode})",
    )


class Screener:
    #: The fraud model, when one is loaded (``build_services``): its rule runs last.
    model: FraudModel | None = None

    def __init__(
        self,
        config: RiskConfig,
        *,
        clock: Callable[[], float] = time.monotonic,
        shared: RedisVelocity | None = None,
    ):
        self.config = config
        self.clock = clock
        #: Windows shared by every process (None: this process's own, below).
        self.shared = shared
        self._warned_at: float | None = None
        self._paused_until = float("-inf")
        self._payments_by_customer = EventWindow(config.velocity.window_minutes * 60)
        self._payments_by_fingerprint = EventWindow(config.velocity.window_minutes * 60)
        self._failures_by_customer = EventWindow(config.failures.window_minutes * 60)

    def recent(self, facts: PaymentFacts) -> Recent:
        now = self.clock()
        return Recent(
            customer_payments=self._payments_by_customer.count(facts.customer_id, now)
            if facts.customer_id is not None
            else 0,
            fingerprint_payments=self._payments_by_fingerprint.count(facts.fingerprint, now)
            if facts.fingerprint is not None
            else 0,
            customer_failures=self._failures_by_customer.count(facts.customer_id, now)
            if facts.customer_id is not None
            else 0,
        )

    def assess(self, facts: PaymentFacts, mode: Mode, at: datetime) -> Assessment:
        """Score ``facts`` (``mode`` is recorded; only ``enforce`` makes a block stop it)."""
        return self._assessment(facts, self.recent(facts), mode, at)

    async def screen(self, facts: PaymentFacts, mode: Mode, at: datetime) -> Assessment:
        """:meth:`assess` against the shared windows when there are some; there the
        payment is recorded in the same round trip (:meth:`payment_recorded` is then
        a no-op)."""
        shared = self._shared_now()
        if shared is not None:
            try:
                recent = await shared.count_and_record(facts)
            except Exception:  # Redis down or slow: screen with this process's counts
                self._failed("counting")
            else:
                return self._assessment(facts, recent, mode, at)
        assessment = self.assess(facts, mode, at)
        if self.shared is not None:  # fell back: count it here (payment_recorded won't)
            self.observe_payment(facts)
        return assessment

    async def payment_recorded(self, facts: PaymentFacts) -> None:
        """A screened payment was recorded (after its transaction committed)."""
        if self.shared is None:
            self.observe_payment(facts)

    async def payment_failed(self, customer_id: str, payment_id: str | None = None) -> None:
        """A customer's payment failed or was declined."""
        shared = self._shared_now()
        if shared is not None:
            try:
                await shared.record_failure(customer_id, payment_id)
                return
            except Exception:
                self._failed("recording a failure")
        self.observe_failure(customer_id)

    def _shared_now(self) -> RedisVelocity | None:
        """The shared windows, unless there are none or they failed a moment ago."""
        return self.shared if self.clock() >= self._paused_until else None

    def _failed(self, doing: str) -> None:
        now = self.clock()
        self._paused_until = now + _SHARED_PAUSE
        if self._warned_at is None or now - self._warned_at >= _WARN_EVERY:
            self._warned_at = now
            log.warning(
                "shared velocity windows failed while %s; using this process's counts",
                doing,
                exc_info=True,
            )

    def _assessment(
        self, facts: PaymentFacts, recent: Recent, mode: Mode, at: datetime
    ) -> Assessment:
        hits = tuple(evaluate(facts, recent, self.config))
        if self.model is not None:
            hit = model_hit(self.model(facts, recent, at), self.model.version, self.config)
            if hit is not None:
                hits = (*hits, hit)
        score = sum(hit.score for hit in hits)
        return Assessment(
            id=new_id("risk"),
            payment_id=facts.payment_id,
            customer_id=facts.customer_id,
            score=score,
            decision=decide(score, self.config),
            mode=mode,
            rules=hits,
            created_at=at,
            facts=facts,
        )

    def observe_payment(self, facts: PaymentFacts) -> None:
        """A screened payment was recorded (blocked ones too: they are attempts)."""
        now = self.clock()
        if facts.customer_id is not None:
            self._payments_by_customer.add(facts.customer_id, now)
        if facts.fingerprint is not None:
            self._payments_by_fingerprint.add(facts.fingerprint, now)

    def observe_failure(self, customer_id: str) -> None:
        """A customer's payment failed or was declined."""
        self._failures_by_customer.add(customer_id, self.clock())
