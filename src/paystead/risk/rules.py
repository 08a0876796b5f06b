"""The screening rules, pure functions of a payment's facts, recent counts and config.

Each rule that fires adds its configured points and a reason; the total decides
``allow`` / ``review`` / ``block`` against the config's thresholds.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from paystead.risk.config import RiskConfig


class Mode(StrEnum):
    """``payments.fraud_screening``'s variants."""

    OFF = "off"
    SHADOW = "shadow"
    ENFORCE = "enforce"


class Decision(StrEnum):
    ALLOW = "allow"
    REVIEW = "review"
    BLOCK = "block"


@dataclass(frozen=True, slots=True)
class PaymentFacts:
    """What screening knows about a payment before a gateway sees it."""

    payment_id: str
    amount: int
    currency: str
    payment_method: str
    customer_id: str | None = None
    #: The card fingerprint (``metadata.card_fingerprint``) or a per-payer token.
    fingerprint: str | None = None
    email: str | None = None
    #: Billing country (``metadata.country``), ISO 3166 alpha-2.
    country: str | None = None
    #: Where the request came from (``metadata.ip_country``), ISO 3166 alpha-2.
    ip_country: str | None = None


@dataclass(frozen=True, slots=True)
class Recent:
    """Counts from the velocity windows, this payment excluded."""

    customer_payments: int = 0
    fingerprint_payments: int = 0
    customer_failures: int = 0


@dataclass(frozen=True, slots=True)
class RuleHit:
    rule: str
    score: int
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "score": self.score, "reason": self.reason}


def email_domain(email: str | None) -> str | None:
    if not email or "@" not in email:
        return None
    return email.rsplit("@", 1)[1].strip().lower() or None


def evaluate(facts: PaymentFacts, recent: Recent, config: RiskConfig) -> list[RuleHit]:
    """Every rule that fires for ``facts``, in a fixed order."""
    scores = config.scores
    hits: list[RuleHit] = []
    limit = config.amount_limits.get(facts.currency)
    if limit is not None and facts.amount > limit:
        hits.append(
            RuleHit(
                "amount_over_limit",
                scores.amount_over_limit,
                f"amount {facts.amount} exceeds the {facts.currency} limit of {limit}",
            )
        )
    velocity = config.velocity
    minutes = f"{velocity.window_minutes:g} minutes"
    if facts.customer_id is not None and recent.customer_payments >= velocity.max_per_customer:
        hits.append(
            RuleHit(
                "customer_velocity",
                scores.customer_velocity,
                f"{recent.customer_payments} payments by this customer in the last {minutes}",
            )
        )
    if (
        facts.fingerprint is not None
        and recent.fingerprint_payments >= velocity.max_per_fingerprint
    ):
        hits.append(
            RuleHit(
                "fingerprint_velocity",
                scores.fingerprint_velocity,
                f"{recent.fingerprint_payments} payments with this payment method in the "
                f"last {minutes}",
            )
        )
    failures = config.failures
    if facts.customer_id is not None and recent.customer_failures >= failures.max:
        hits.append(
            RuleHit(
                "recent_failures",
                scores.recent_failures,
                f"{recent.customer_failures} failed or declined payments by this customer "
                f"in the last {failures.window_minutes:g} minutes",
            )
        )
    domain = email_domain(facts.email)
    if domain is not None and domain in config.disposable_domains:
        hits.append(
            RuleHit(
                "disposable_email",
                scores.disposable_email,
                f"email domain {domain} is a disposable mailbox",
            )
        )
    mismatch = _country_mismatch(facts, config)
    if mismatch is not None:
        hits.append(RuleHit("country_mismatch", scores.country_mismatch, mismatch))
    listed = _blocklisted(facts, config)
    if listed is not None:
        hits.append(RuleHit("blocklisted", scores.blocklisted, listed))
    return hits


def _country_mismatch(facts: PaymentFacts, config: RiskConfig) -> str | None:
    country = facts.country.upper() if facts.country else None
    if country is not None:
        expected = config.country_currency.get(country)
        if expected is not None and expected != facts.currency:
            return f"billing country {country} pays in {expected}, not {facts.currency}"
    ip_country = facts.ip_country.upper() if facts.ip_country else None
    if country is not None and ip_country is not None and ip_country != country:
        return f"request from {ip_country}, billing country {country}"
    return None


def _blocklisted(facts: PaymentFacts, config: RiskConfig) -> str | None:
    listed = config.blocklist
    if facts.customer_id is not None and facts.customer_id in listed.customers:
        return f"customer {facts.customer_id} is blocklisted"
    if facts.email and facts.email.strip().lower() in listed.emails:
        return "email is blocklisted"
    if facts.fingerprint is not None and facts.fingerprint in listed.fingerprints:
        return "payment method fingerprint is blocklisted"
    return None


def decide(score: int, config: RiskConfig) -> Decision:
    if score >= config.thresholds.block:
        return Decision.BLOCK
    if score >= config.thresholds.review:
        return Decision.REVIEW
    return Decision.ALLOW
