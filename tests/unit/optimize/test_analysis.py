"""The experiment analysis pipeline (``optimize/analysis.py``): decisions, SRM, Holm,
and 1,000 simulated A/A experiments run through :func:`analyze` itself."""

from __future__ import annotations

import numpy as np
import pytest

from paystead.optimize import stats
from paystead.optimize.analysis import METRICS, Arm, analyze, compare
from tests.unit.optimize.experiment_data import simulate_arm

ALPHA = 0.05
#: About three binomial standard deviations around 0.05 for 1,000 trials.
FPR_LOW, FPR_HIGH = 0.03, 0.071


def test_a_real_improvement_is_shipped_with_reasons() -> None:
    rng = np.random.default_rng(1)
    control = simulate_arm(rng, "thompson", 4000, success=0.78)
    better = simulate_arm(rng, "lowest_cost", 4000, success=0.83)
    result = analyze([control, better], primary_metric="success_rate", guardrails=["error_rate"])
    assert result.guidance.action == "ship"
    assert result.guidance.winner == "lowest_cost"
    assert "improves Payment success rate" in result.guidance.reasons[0]
    found = result.result("success_rate", "lowest_cost")
    assert found is not None and found.comparison is not None and found.bayesian is not None
    assert found.comparison.absolute_ci[0] > 0
    assert found.bayesian.chance_to_beat_control > 0.99
    assert found.adjusted_p is not None and found.adjusted_p >= found.comparison.p_value


def test_a_harmed_guardrail_stops_the_experiment() -> None:
    rng = np.random.default_rng(2)
    control = simulate_arm(rng, "off", 4000, error=0.01)
    worse = simulate_arm(rng, "enforce", 4000, error=0.08)
    result = analyze([control, worse], primary_metric="conversion", guardrails=["error_rate"])
    assert result.guidance.action == "stop"
    assert any("harms guardrail Error rate" in r for r in result.guidance.reasons)


def test_sample_ratio_mismatch_overrides_everything() -> None:
    rng = np.random.default_rng(3)
    control = simulate_arm(rng, "a", 5000, success=0.7)
    variant = simulate_arm(rng, "b", 4500, success=0.9)  # 50/50 configured
    result = analyze([control, variant], primary_metric="success_rate")
    assert result.srm.mismatch
    assert result.guidance.action == "stop"
    assert "sample ratio mismatch" in result.guidance.reasons[0]


def test_too_little_data_keeps_running_and_churn_says_no_data() -> None:
    rng = np.random.default_rng(4)
    result = analyze(
        [simulate_arm(rng, "a", 10), simulate_arm(rng, "b", 10)], primary_metric="conversion"
    )
    assert result.guidance.action == "keep running"
    assert result.result("conversion", "b") is not None
    assert result.result("churn", "b").note == "no data"  # type: ignore[union-attr]
    assert result.summaries["churn"]["a"].value is None


def test_holm_adjusts_over_every_metric_and_variant() -> None:
    rng = np.random.default_rng(5)
    arms = [simulate_arm(rng, k, 2000, weight=3334 if k == "a" else 3333) for k in "abc"]
    result = analyze(arms, primary_metric="success_rate")
    tested = [r for r in result.results if r.comparison is not None]
    raw = [r.comparison.p_value for r in tested if r.comparison]
    assert len(tested) == 2 * 7  # every metric but churn, for two treatments
    assert [r.adjusted_p for r in tested] == pytest.approx(stats.holm(raw))


def test_cuped_is_used_when_pre_period_data_exists() -> None:
    rng = np.random.default_rng(6)
    control, variant = simulate_arm(rng, "a", 3000), simulate_arm(rng, "b", 3000)
    adjusted = compare(control, variant, "revenue_per_customer")
    control.pre_revenue = variant.pre_revenue = None
    plain = compare(control, variant, "revenue_per_customer")
    assert adjusted.cuped_reduction is not None and adjusted.cuped_reduction > 0.3
    assert plain.cuped_reduction is None
    assert adjusted.comparison is not None and plain.comparison is not None
    width = adjusted.comparison.absolute_ci[1] - adjusted.comparison.absolute_ci[0]
    assert width < plain.comparison.absolute_ci[1] - plain.comparison.absolute_ci[0]


def test_a_a_false_positive_rates_through_the_pipeline() -> None:
    """1,000 A/A experiments, each analysed by :func:`analyze` as the results page does:
    every reported test's unadjusted false-positive rate stays within its alpha; the
    always-valid (mSPRT) p-value and the Holm-adjusted family stay at or below it."""
    rng = np.random.default_rng(20261126)
    tested = ("conversion", "success_rate", "average_order_value", "revenue_per_customer")
    positives = dict.fromkeys(tested, 0)
    sequential = dict.fromkeys(tested, 0)
    family = 0
    ships = 0
    runs = 1000
    for _ in range(runs):
        arms = [simulate_arm(rng, "a", 400), simulate_arm(rng, "b", 400)]
        result = analyze(arms, primary_metric="success_rate", metrics=tested, draws=2000)
        for metric in tested:
            found = result.result(metric, "b")
            assert found is not None and found.comparison is not None
            positives[metric] += found.comparison.p_value < ALPHA
            sequential[metric] += (found.sequential_p or 1.0) < ALPHA
        family += any(r.significant for r in result.results)
        ships += result.guidance.action == "ship"
    for metric in tested:
        rate = positives[metric] / runs
        assert FPR_LOW <= rate <= FPR_HIGH, (metric, rate)
        assert sequential[metric] / runs <= ALPHA + 0.01, (metric, sequential[metric])
    assert family / runs <= ALPHA + 0.015  # Holm holds the family-wise error rate
    assert ships / runs <= ALPHA


def test_a_a_with_peeking_the_always_valid_p_value_holds() -> None:
    """Ten looks per A/A test on the payment success rate: stopping at the first look
    with an always-valid p below alpha keeps the false-positive rate at most alpha."""
    rng = np.random.default_rng(7)
    runs, looks, per_look = 1000, 10, 100
    stopped = 0
    for _ in range(runs):
        outcomes = rng.random((2, looks * per_look)) < 0.8
        for k in range(1, looks + 1):
            n = k * per_look
            arms = [
                Arm("a", 5000, payments=n, succeeded=int(outcomes[0, :n].sum())),
                Arm("b", 5000, payments=n, succeeded=int(outcomes[1, :n].sum())),
            ]
            seq = compare(arms[0], arms[1], "success_rate", draws=100).sequential_p
            if seq is not None and seq < ALPHA:
                stopped += 1
                break
    assert stopped / runs <= ALPHA + 0.01


def test_every_metric_is_described() -> None:
    assert {m.kind.value for m in METRICS.values()} == {"proportion", "mean"}
    assert not METRICS["refund_rate"].higher_is_better
    assert not METRICS["latency"].higher_is_better


def test_zero_weight_arms_in_the_sample_ratio_check() -> None:
    rng = np.random.default_rng(8)
    arms = [
        simulate_arm(rng, "a", 500, weight=5000),
        simulate_arm(rng, "b", 500, weight=5000),
        Arm("c", 0),
    ]
    assert not analyze(arms, primary_metric="success_rate").srm.mismatch
    arms[2] = simulate_arm(rng, "c", 3, weight=0)  # served although it weighs nothing
    result = analyze(arms, primary_metric="success_rate")
    assert result.srm.mismatch and result.guidance.action == "stop"
    lone = [simulate_arm(rng, "a", 50, weight=10_000), Arm("b", 0)]
    assert analyze(lone, primary_metric="success_rate").srm.p_value == 1.0
