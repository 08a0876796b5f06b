"""Fraud screening configuration: rule scores, limits, lists and decision thresholds.

The defaults below are what runs when ``PAYSTEAD_RISK_CONFIG`` is unset; a YAML file
(same shape, every key optional) replaces any of them. Money limits are minor units per
ISO 4217 currency (a currency not listed has no amount limit).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from paystead.gateways.sandbox import TEST_PAYMENT_METHODS

#: Throwaway-mailbox domains screened by default (extend in the config file).
DEFAULT_DISPOSABLE_DOMAINS = (
    "10minutemail.com",
    "discard.email",
    "dispostable.com",
    "getnada.com",
    "guerrillamail.com",
    "maildrop.cc",
    "mailinator.com",
    "mintemail.com",
    "sharklasers.com",
    "temp-mail.org",
    "tempmail.com",
    "throwawaymail.com",
    "trashmail.com",
    "yopmail.com",
)

#: Country (ISO 3166 alpha-2) -> its currency, for the country/currency mismatch rule.
DEFAULT_COUNTRY_CURRENCY = {
    "IN": "INR",
    "US": "USD",
    "GB": "GBP",
    "CA": "CAD",
    "AU": "AUD",
    "JP": "JPY",
    "SG": "SGD",
    "AE": "AED",
    "CH": "CHF",
    "DE": "EUR",
    "FR": "EUR",
    "ES": "EUR",
    "IT": "EUR",
    "NL": "EUR",
    "IE": "EUR",
    "BE": "EUR",
    "AT": "EUR",
    "PT": "EUR",
    "FI": "EUR",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Thresholds(_Strict):
    """A score at or above ``review`` is ``review``; at or above ``block``, ``block``."""

    review: int = Field(default=50, ge=0)
    block: int = Field(default=80, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if self.block < self.review:
            raise ValueError("thresholds.block must be >= thresholds.review")
        return self


class Scores(_Strict):
    """Points each rule adds when it fires."""

    amount_over_limit: int = Field(default=30, ge=0)
    customer_velocity: int = Field(default=30, ge=0)
    fingerprint_velocity: int = Field(default=30, ge=0)
    recent_failures: int = Field(default=25, ge=0)
    disposable_email: int = Field(default=20, ge=0)
    country_mismatch: int = Field(default=15, ge=0)
    blocklisted: int = Field(default=100, ge=0)


class Velocity(_Strict):
    """At most ``max_per_customer`` / ``max_per_fingerprint`` payments in the window:
    the one beyond fires the rule."""

    window_minutes: float = Field(default=10, gt=0)
    max_per_customer: int = Field(default=5, ge=1)
    max_per_fingerprint: int = Field(default=5, ge=1)


class Failures(_Strict):
    """``max`` failed or declined payments of one customer in the window fire the rule."""

    window_minutes: float = Field(default=60, gt=0)
    max: int = Field(default=3, ge=1)


class Blocklist(_Strict):
    customers: frozenset[str] = frozenset()
    emails: frozenset[str] = frozenset()
    fingerprints: frozenset[str] = frozenset()

    @field_validator("emails")
    @classmethod
    def _lower(cls, value: frozenset[str]) -> frozenset[str]:
        return frozenset(v.strip().lower() for v in value)


class ModelRule(_Strict):
    """The fraud model's rule (docs/models.md): it fires when the model's probability is
    at least ``threshold``. In ``shadow`` (the default) it is recorded with 0 points, so
    it never changes a decision; in ``enforce`` it adds ``score`` points."""

    mode: Literal["shadow", "enforce"] = "shadow"
    threshold: float = Field(default=0.8, gt=0, le=1)
    score: int = Field(default=80, ge=0)


class RiskConfig(_Strict):
    thresholds: Thresholds = Thresholds()
    model: ModelRule = ModelRule()
    scores: Scores = Scores()
    #: Amounts above these (minor units) fire ``amount_over_limit``.
    amount_limits: dict[str, int] = Field(
        default_factory=lambda: {
            "USD": 500_000,
            "EUR": 500_000,
            "GBP": 400_000,
            "INR": 50_000_000,
        }
    )
    velocity: Velocity = Velocity()
    failures: Failures = Failures()
    disposable_domains: frozenset[str] = frozenset(DEFAULT_DISPOSABLE_DOMAINS)
    country_currency: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_COUNTRY_CURRENCY))
    blocklist: Blocklist = Blocklist()
    #: Payment method tokens shared by many payers (bare method names, the sandbox's
    #: test tokens): never used as a card fingerprint.
    shared_tokens: frozenset[str] = frozenset(
        {
            "card",
            "upi",
            "netbanking",
            "wallet",
            "emi",
            "paylater",
            "razorpay_checkout",
            *TEST_PAYMENT_METHODS,
        }
    )

    @field_validator("amount_limits")
    @classmethod
    def _limits(cls, value: dict[str, int]) -> dict[str, int]:
        out = {}
        for currency, limit in value.items():
            code = currency.strip().upper()
            if len(code) != 3 or not code.isalpha():
                raise ValueError(f"amount_limits: {currency!r} is not an ISO 4217 code")
            if limit <= 0:
                raise ValueError(f"amount_limits.{code} must be positive")
            out[code] = limit
        return out

    @field_validator("disposable_domains")
    @classmethod
    def _domains(cls, value: frozenset[str]) -> frozenset[str]:
        return frozenset(v.strip().lower() for v in value)


class RiskConfigError(ValueError):
    """The risk config file is unreadable or invalid (fails startup, loudly)."""


def load_risk_config(path: Path | None) -> RiskConfig:
    """The defaults, or ``path``'s YAML over them."""
    if path is None:
        return RiskConfig()
    try:
        data = yaml.safe_load(path.read_text()) or {}
        if not isinstance(data, dict):
            raise RiskConfigError(f"{path}: the top level must be a mapping")
        return RiskConfig.model_validate(data)
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise RiskConfigError(f"{path}: {exc}") from exc
