"""The screener: a payment's facts in, an :class:`Assessment` out.

It keeps the velocity windows (payments per customer and per fingerprint, failures per
customer) for this process; the payment service tells it what happened
(:meth:`Screener.observe_payment` after a screened payment is recorded,
:meth:`Screener.observe_failure` when one fails or is declined).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from paystead.ids import new_id
from paystead.risk.config import RiskConfig
from paystead.risk.rules import Decision, Mode, PaymentFacts, Recent, RuleHit, decide, evaluate
from paystead.risk.velocity import EventWindow

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


class Screener:
    def __init__(self, config: RiskConfig, *, clock: Callable[[], float] = time.monotonic):
        self.config = config
        self.clock = clock
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
        hits = tuple(evaluate(facts, self.recent(facts), self.config))
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
