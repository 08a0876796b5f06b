"""Screening rules and decisions: each rule fires on its own condition and not below it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from paystead.risk.config import RiskConfig, RiskConfigError, load_risk_config
from paystead.risk.rules import Decision, Mode, PaymentFacts, Recent, decide, evaluate
from paystead.risk.screening import Screener, payment_facts
from paystead.risk.velocity import EventWindow

CONFIG = RiskConfig()
AT = datetime(2026, 11, 26, tzinfo=UTC)


def facts(**overrides: object) -> PaymentFacts:
    base: dict[str, object] = {
        "payment_id": "pay_1",
        "amount": 10_000,
        "currency": "USD",
        "payment_method": "pm_card_visa",
        "customer_id": "cus_1",
        "fingerprint": "fp_1",
        "email": "ann@example.com",
    }
    base.update(overrides)
    return PaymentFacts(**base)  # type: ignore[arg-type]


def fired(f: PaymentFacts, recent: Recent = Recent(), config: RiskConfig = CONFIG) -> list[str]:
    return [hit.rule for hit in evaluate(f, recent, config)]


def test_an_ordinary_payment_fires_nothing_and_is_allowed() -> None:
    assert fired(facts()) == []
    assert decide(0, CONFIG) is Decision.ALLOW


def test_amount_over_the_currency_limit() -> None:
    limit = CONFIG.amount_limits["USD"]
    assert fired(facts(amount=limit)) == []
    assert fired(facts(amount=limit + 1)) == ["amount_over_limit"]
    # A currency without a configured limit has none.
    assert fired(facts(amount=10**12, currency="JPY")) == []


def test_velocity_by_customer_and_by_fingerprint() -> None:
    most = CONFIG.velocity.max_per_customer
    assert fired(facts(), Recent(customer_payments=most - 1)) == []
    assert fired(facts(), Recent(customer_payments=most)) == ["customer_velocity"]
    assert fired(facts(customer_id=None), Recent(customer_payments=most)) == []
    most_fp = CONFIG.velocity.max_per_fingerprint
    assert fired(facts(), Recent(fingerprint_payments=most_fp)) == ["fingerprint_velocity"]
    assert fired(facts(fingerprint=None), Recent(fingerprint_payments=most_fp)) == []


def test_recent_failures_of_the_customer() -> None:
    most = CONFIG.failures.max
    assert fired(facts(), Recent(customer_failures=most - 1)) == []
    assert fired(facts(), Recent(customer_failures=most)) == ["recent_failures"]


def test_disposable_email_domain_case_insensitive() -> None:
    assert fired(facts(email="x@Mailinator.COM")) == ["disposable_email"]
    assert fired(facts(email="x@gmail.com")) == []
    assert fired(facts(email="not-an-email")) == []


def test_country_and_currency_mismatch() -> None:
    assert fired(facts(country="US")) == []
    [hit] = evaluate(facts(country="in"), Recent(), CONFIG)
    assert hit.rule == "country_mismatch" and "IN pays in INR" in hit.reason
    assert fired(facts(country="US", ip_country="RU")) == ["country_mismatch"]
    assert fired(facts(country="ZZ")) == []  # unknown country: no opinion


def test_blocklist_customer_email_fingerprint() -> None:
    config = RiskConfig.model_validate(
        {
            "blocklist": {
                "customers": ["cus_bad"],
                "emails": ["Bad@Ex.com"],
                "fingerprints": ["fp_x"],
            }
        }
    )
    assert fired(facts(customer_id="cus_bad"), config=config) == ["blocklisted"]
    assert fired(facts(email="bad@ex.com"), config=config) == ["blocklisted"]
    assert fired(facts(fingerprint="fp_x"), config=config) == ["blocklisted"]
    assert fired(facts(), config=config) == []


def test_decisions_follow_the_thresholds() -> None:
    config = RiskConfig.model_validate({"thresholds": {"review": 40, "block": 70}})
    assert [decide(s, config) for s in (39, 40, 69, 70, 500)] == [
        Decision.ALLOW,
        Decision.REVIEW,
        Decision.REVIEW,
        Decision.BLOCK,
        Decision.BLOCK,
    ]
    # The scores add up: a disposable email (20) and a mismatch (15) make 35, allowed;
    # with a limit breach (30) too, 65, review.
    screener = Screener(CONFIG, clock=lambda: 0.0)
    two = screener.assess(facts(email="a@yopmail.com", country="GB"), Mode.SHADOW, AT)
    assert (two.score, two.decision) == (35, Decision.ALLOW)
    three = screener.assess(
        facts(email="a@yopmail.com", country="GB", amount=600_000), Mode.SHADOW, AT
    )
    assert (three.score, three.decision) == (65, Decision.REVIEW)
    assert not three.blocks


def test_only_a_block_in_enforce_mode_blocks() -> None:
    config = RiskConfig.model_validate({"blocklist": {"customers": ["cus_1"]}})
    screener = Screener(config, clock=lambda: 0.0)
    shadow = screener.assess(facts(), Mode.SHADOW, AT)
    enforce = screener.assess(facts(), Mode.ENFORCE, AT)
    assert shadow.decision is enforce.decision is Decision.BLOCK
    assert (shadow.blocks, enforce.blocks) == (False, True)


def test_the_screener_counts_payments_and_failures_in_its_windows() -> None:
    now = [0.0]
    screener = Screener(CONFIG, clock=lambda: now[0])
    f = facts()
    for _ in range(CONFIG.velocity.max_per_customer):
        assert "customer_velocity" not in [
            h.rule for h in screener.assess(f, Mode.SHADOW, AT).rules
        ]
        screener.observe_payment(f)
        now[0] += 1
    assert "customer_velocity" in [h.rule for h in screener.assess(f, Mode.SHADOW, AT).rules]
    now[0] += CONFIG.velocity.window_minutes * 60  # the burst ages out
    assert screener.recent(f).customer_payments == 0
    for _ in range(CONFIG.failures.max):
        screener.observe_failure("cus_1")
    assert screener.recent(f).customer_failures == CONFIG.failures.max
    assert screener.recent(facts(customer_id="cus_2")).customer_failures == 0


def test_event_window_ages_out_and_bounds_its_keys() -> None:
    window = EventWindow(10, max_keys=2)
    window.add("a", 0)
    window.add("a", 5)
    assert window.count("a", 9) == 2
    assert window.count("a", 10) == 1  # (0, 10]: the event at 0 is out
    assert window.count("a", 15) == 0
    assert len(window) == 0  # an empty key is dropped
    for key in ("x", "y", "z"):
        window.add(key, 20)
    assert len(window) == 2 and window.count("x", 20) == 0  # least recent evicted


def test_facts_from_metadata_and_shared_tokens() -> None:
    made = payment_facts(
        payment_id="pay_1",
        amount=1,
        currency="INR",
        payment_method="card",
        customer_id=None,
        metadata={
            "card_fingerprint": " fp_9 ",
            "country": "IN",
            "email": "m@x.io",
            "ip_country": 3,
        },
        email="customer@x.io",
        config=CONFIG,
    )
    assert (made.fingerprint, made.country, made.email, made.ip_country) == (
        "fp_9",
        "IN",
        "m@x.io",
        None,
    )
    bare = payment_facts(
        payment_id="pay_2",
        amount=1,
        currency="INR",
        payment_method="upi",
        customer_id=None,
        metadata={},
        email="customer@x.io",
        config=CONFIG,
    )
    assert (bare.fingerprint, bare.email) == (None, "customer@x.io")
    token = payment_facts(
        payment_id="pay_3",
        amount=1,
        currency="INR",
        payment_method="pm_1Abc",
        customer_id=None,
        metadata={},
        email=None,
        config=CONFIG,
    )
    assert token.fingerprint == "pm_1Abc"


def test_config_file_overrides_and_validation(tmp_path: Path) -> None:
    path = tmp_path / "risk.yaml"
    path.write_text("thresholds: {review: 10, block: 20}\namount_limits: {usd: 100}\n")
    config = load_risk_config(path)
    assert (config.thresholds.review, config.amount_limits) == (10, {"USD": 100})
    assert config.scores == RiskConfig().scores
    path.write_text("thresholds: {review: 30, block: 20}\n")
    with pytest.raises(RiskConfigError, match="block must be >= "):
        load_risk_config(path)
    path.write_text("unknown_key: 1\n")
    with pytest.raises(RiskConfigError, match="unknown_key"):
        load_risk_config(path)
    assert load_risk_config(None) == RiskConfig()


def test_sandbox_test_tokens_are_not_fingerprints() -> None:
    made = payment_facts(
        payment_id="pay_1",
        amount=1,
        currency="USD",
        payment_method="pm_card_visa",
        customer_id=None,
        metadata={},
        email=None,
        config=CONFIG,
    )
    assert made.fingerprint is None
