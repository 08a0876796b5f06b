"""paystead's experiment results against GrowthBook's engine (``gbstats``) on the same data.

Tolerances (stated in docs/experiments.md):

- means (order value, revenue per customer, latency): Welch difference, interval and
  p-value, the delta-method relative interval, CUPED-adjusted difference and interval,
  and the Bayesian chance to beat control and both expected losses equal gbstats'
  ``TwoSidedTTest`` / ``EffectBayesianABTest`` (flat prior) to 1e-9 relative;
- rates: gbstats tests a proportion with an unpooled t-test, paystead with the pooled
  z-test, so the absolute interval's ends agree to 0.1% of its width (t vs z quantile
  at large df) and the p-value to 0.01; chance to beat control (Beta posteriors by Monte Carlo vs
  gbstats' normal approximation) to 0.01.
"""

from __future__ import annotations

import numpy as np
import pytest
from gbstats.bayesian.tests import (  # type: ignore[import-untyped]
    EffectBayesianABTest,
    EffectBayesianConfig,
)
from gbstats.frequentist.tests import (  # type: ignore[import-untyped]
    FrequentistConfig,
    TwoSidedTTest,
)
from gbstats.models.statistics import (  # type: ignore[import-untyped]
    ProportionStatistic,
    RegressionAdjustedStatistic,
    SampleMeanStatistic,
)

from paystead.optimize.analysis import Arm, analyze
from tests.unit.optimize.experiment_data import simulate_arm

EXACT = 1e-9


def _mean_stat(values: list[float]) -> SampleMeanStatistic:
    data = np.asarray(values, float)
    return SampleMeanStatistic(
        n=data.size, sum=float(data.sum()), sum_squares=float((data**2).sum())
    )


def _cuped_stat(y: list[float], x: list[float]) -> RegressionAdjustedStatistic:
    ya, xa = np.asarray(y, float), np.asarray(x, float)
    return RegressionAdjustedStatistic(
        n=ya.size,
        post_statistic=_mean_stat(y),
        pre_statistic=_mean_stat(x),
        post_pre_sum_of_products=float((ya * xa).sum()),
        theta=0,
    )


@pytest.fixture(scope="module")
def arms() -> tuple[Arm, Arm]:
    rng = np.random.default_rng(42)
    control = simulate_arm(rng, "thompson", 3000, success=0.80, order_mean=8.0)
    variant = simulate_arm(rng, "lowest_cost", 3000, success=0.82, order_mean=8.05)
    return control, variant


@pytest.mark.parametrize("metric", ["average_order_value", "latency"])
def test_welch_and_bayesian_means_equal_gbstats(arms: tuple[Arm, Arm], metric: str) -> None:
    control, variant = arms
    ours = analyze([control, variant], primary_metric=metric).result(metric, variant.variant)
    assert ours is not None and ours.comparison is not None and ours.bayesian is not None
    values = {"average_order_value": "order_values", "latency": "latencies_ms"}[metric]
    a, b = _mean_stat(getattr(control, values)), _mean_stat(getattr(variant, values))

    absolute = TwoSidedTTest(a, b, FrequentistConfig(difference_type="absolute")).compute_result()
    assert ours.comparison.absolute_lift == pytest.approx(absolute.expected, rel=EXACT)
    assert ours.comparison.absolute_ci == pytest.approx(tuple(absolute.ci), rel=EXACT)
    assert ours.comparison.p_value == pytest.approx(absolute.p_value, rel=1e-6, abs=1e-12)

    relative = TwoSidedTTest(a, b, FrequentistConfig(difference_type="relative")).compute_result()
    assert ours.comparison.relative_lift == pytest.approx(relative.expected, rel=EXACT)
    assert ours.comparison.relative_ci == pytest.approx(tuple(relative.ci), rel=EXACT)

    bayes = EffectBayesianABTest(
        a, b, EffectBayesianConfig(difference_type="absolute")
    ).compute_result()
    assert ours.bayesian.chance_to_beat_control == pytest.approx(bayes.chance_to_win, rel=EXACT)
    # gbstats' risk is [choosing control, choosing the treatment].
    assert ours.bayesian.expected_loss_control == pytest.approx(bayes.risk[0], rel=1e-9)
    assert ours.bayesian.expected_loss_variant == pytest.approx(bayes.risk[1], rel=1e-9)


def test_cuped_equals_gbstats_regression_adjustment(arms: tuple[Arm, Arm]) -> None:
    control, variant = arms
    assert control.pre_revenue is not None and variant.pre_revenue is not None
    ours = analyze([control, variant], primary_metric="revenue_per_customer").result(
        "revenue_per_customer", variant.variant
    )
    assert ours is not None and ours.comparison is not None and ours.cuped_reduction
    a = _cuped_stat(control.revenue, control.pre_revenue)
    b = _cuped_stat(variant.revenue, variant.pre_revenue)
    theirs = TwoSidedTTest(a, b, FrequentistConfig(difference_type="absolute")).compute_result()
    assert ours.comparison.absolute_lift == pytest.approx(theirs.expected, rel=EXACT)
    assert ours.comparison.absolute_ci == pytest.approx(tuple(theirs.ci), rel=EXACT)
    assert ours.comparison.p_value == pytest.approx(theirs.p_value, rel=1e-6, abs=1e-12)


@pytest.mark.parametrize("metric", ["success_rate", "conversion", "refund_rate"])
def test_rates_agree_with_gbstats(arms: tuple[Arm, Arm], metric: str) -> None:
    control, variant = arms
    ours = analyze([control, variant], primary_metric=metric).result(metric, variant.variant)
    assert ours is not None and ours.comparison is not None and ours.bayesian is not None
    counts = {
        "success_rate": ("succeeded", "payments"),
        "conversion": ("converted_subjects", "subjects"),
        "refund_rate": ("refunded", "succeeded"),
    }[metric]
    a = ProportionStatistic(n=getattr(control, counts[1]), sum=getattr(control, counts[0]))
    b = ProportionStatistic(n=getattr(variant, counts[1]), sum=getattr(variant, counts[0]))
    theirs = TwoSidedTTest(a, b, FrequentistConfig(difference_type="absolute")).compute_result()
    assert ours.comparison.absolute_lift == pytest.approx(theirs.expected, rel=EXACT)
    width = theirs.ci[1] - theirs.ci[0]
    assert ours.comparison.absolute_ci == pytest.approx(tuple(theirs.ci), abs=1e-3 * width)
    assert ours.comparison.p_value == pytest.approx(theirs.p_value, abs=0.01)
    bayes = EffectBayesianABTest(
        a, b, EffectBayesianConfig(difference_type="absolute")
    ).compute_result()
    assert ours.bayesian.chance_to_beat_control == pytest.approx(bayes.chance_to_win, abs=0.01)
