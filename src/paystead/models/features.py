"""The features, one definition for training and for scoring (style guide section 7).

Fraud: a payment's facts (:class:`~paystead.risk.rules.PaymentFacts`, the same ones the
rules see) and its customer's recent history (:class:`~paystead.risk.rules.Recent`,
the screener's sliding windows). Online, the screener passes what it already has, so
scoring adds no database round trip; offline, :func:`paystead.models.fraud.replay`
rebuilds the same windows by replaying past payments in time order through a
:class:`~paystead.risk.screening.Screener` on a replay clock, and calls the same
function.

Churn: one subscription's :class:`SubscriptionHistory` as of a moment, built from
time-stamped rows only (payments, meter events), so a training snapshot in the past
sees exactly what a live scoring would have seen then.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from paystead.errors import UnknownCurrency
from paystead.gateways.routing import payment_method_family
from paystead.money import currency
from paystead.risk.config import RiskConfig
from paystead.risk.rules import PaymentFacts, Recent, _country_mismatch, email_domain

_METHODS = ("card", "upi", "netbanking", "wallet")

FRAUD_FEATURES: tuple[str, ...] = (
    "amount_log_major",
    "amount_to_limit",
    *(f"method_{m}" for m in _METHODS),
    "has_customer",
    "has_fingerprint",
    "has_email",
    "disposable_email",
    "country_mismatch",
    "customer_payments_recent",
    "fingerprint_payments_recent",
    "customer_failures_recent",
    "hour_utc",
)


def fraud_features(
    facts: PaymentFacts, recent: Recent, at: datetime, config: RiskConfig
) -> list[float]:
    """One row, in the order of :data:`FRAUD_FEATURES`."""
    try:
        exponent = currency(facts.currency).exponent
    except UnknownCurrency:  # never at serving (the API validates the code)
        exponent = 2
    major = facts.amount / 10**exponent
    limit = config.amount_limits.get(facts.currency)
    family = payment_method_family(facts.payment_method)
    domain = email_domain(facts.email)
    return [
        math.log1p(major),
        facts.amount / limit if limit else 0.0,
        *(1.0 if family == m else 0.0 for m in _METHODS),
        1.0 if facts.customer_id is not None else 0.0,
        1.0 if facts.fingerprint is not None else 0.0,
        1.0 if facts.email else 0.0,
        1.0 if domain is not None and domain in config.disposable_domains else 0.0,
        1.0 if _country_mismatch(facts, config) is not None else 0.0,
        float(recent.customer_payments),
        float(recent.fingerprint_payments),
        float(recent.customer_failures),
        float(at.hour),
    ]


@dataclass(frozen=True, slots=True)
class SubscriptionHistory:
    """What is known about one subscription at a moment ``as_of``."""

    subscription_id: str
    customer_id: str
    as_of: datetime
    created_at: datetime
    #: Months per billing period (``year`` = 12, ``week`` ~ 0.23, ``day`` ~ 0.033).
    interval_months: float
    #: The licensed price per month in major units (0 for metered-only plans).
    monthly_amount_major: float
    in_trial: bool
    #: The customer's payments in the 90 days before ``as_of``.
    payments_succeeded_90d: int
    payments_failed_90d: int
    #: Meter event values in the last 30 days and the 30 before them.
    usage_last_30d: int
    usage_prev_30d: int


CHURN_FEATURES: tuple[str, ...] = (
    "tenure_days",
    "interval_months",
    "monthly_amount_log",
    "in_trial",
    "payments_succeeded_90d",
    "payments_failed_90d",
    "failed_share_90d",
    "usage_last_30d_log",
    "usage_trend",
)


def churn_features(h: SubscriptionHistory) -> list[float]:
    """One row, in the order of :data:`CHURN_FEATURES`. ``usage_trend`` is the change
    of usage between the two 30-day windows over their sum (-1 stopped using, +1
    started, 0 steady or no usage)."""
    tenure = max((h.as_of - h.created_at).total_seconds(), 0.0) / 86400
    attempts = h.payments_succeeded_90d + h.payments_failed_90d
    both = h.usage_last_30d + h.usage_prev_30d
    return [
        tenure,
        h.interval_months,
        math.log1p(max(h.monthly_amount_major, 0.0)),
        1.0 if h.in_trial else 0.0,
        float(h.payments_succeeded_90d),
        float(h.payments_failed_90d),
        h.payments_failed_90d / attempts if attempts else 0.0,
        math.log1p(max(h.usage_last_30d, 0)),
        (h.usage_last_30d - h.usage_prev_30d) / both if both else 0.0,
    ]
