"""Experiment statistics checked against independent implementations (scipy,
statsmodels, numerical integration) and by simulation: over 1,000 A/A tests each test's
false-positive rate stays within its nominal alpha (peeking included, for the
sequential one)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

from paystead.optimize.stats import (
    Proportion,
    Sample,
    SequentialTest,
    bayesian_means,
    bayesian_proportions,
    benjamini_hochberg,
    cuped,
    holm,
    sample_ratio,
    two_proportions,
    welch,
)

TOL = 1e-9


@pytest.mark.parametrize(
    ("c", "v"),
    [((120, 1000), (150, 1000)), ((45, 800), (38, 760)), ((9800, 10000), (9850, 10000))],
)
def test_two_proportions_match_statsmodels(c: tuple[int, int], v: tuple[int, int]) -> None:
    ours = two_proportions(Proportion(*c), Proportion(*v))
    _, p = proportions_ztest([v[0], c[0]], [v[1], c[1]])  # pooled SE, two-sided
    low, high = confint_proportions_2indep(v[0], v[1], c[0], c[1], method="wald", compare="diff")
    assert math.isclose(ours.p_value, float(p), rel_tol=1e-9)
    assert math.isclose(ours.absolute_ci[0], float(low), rel_tol=1e-9)
    assert math.isclose(ours.absolute_ci[1], float(high), rel_tol=1e-9)
    assert math.isclose(ours.absolute_lift, v[0] / v[1] - c[0] / c[1], abs_tol=TOL)


def test_relative_lift_interval_by_the_delta_method_worked_by_hand() -> None:
    ours = two_proportions(Proportion(100, 1000), Proportion(120, 1000))
    var_c, var_v = 0.1 * 0.9 / 1000, 0.12 * 0.88 / 1000
    se = math.sqrt(var_v / 0.1**2 + 0.12**2 * var_c / 0.1**4)
    assert math.isclose(ours.relative_lift, 0.2, rel_tol=1e-12)
    assert math.isclose(ours.relative_ci[0], 0.2 - 1.959963984540054 * se, rel_tol=1e-9)


def test_welch_matches_scipy_on_raw_data() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(100, 15, 400), rng.normal(103, 25, 350)
    ours = welch(Sample.of(a), Sample.of(b))
    reference = stats.ttest_ind(b, a, equal_var=False)
    assert math.isclose(ours.p_value, float(reference.pvalue), rel_tol=1e-9)
    ci = reference.confidence_interval(0.95)
    assert math.isclose(ours.absolute_ci[0], float(ci.low), rel_tol=1e-9)
    assert math.isclose(ours.absolute_ci[1], float(ci.high), rel_tol=1e-9)


def test_chance_to_beat_control_matches_numerical_integration() -> None:
    c, v = Proportion(80, 1000), Proportion(95, 1000)
    ours = bayesian_proportions(c, v, draws=400_000, seed=7)
    post_c = stats.beta(1 + 80, 1 + 920)
    post_v = stats.beta(1 + 95, 1 + 905)
    exact, _ = integrate.quad(lambda x: post_v.pdf(x) * post_c.cdf(x), 0, 1, limit=200)
    assert math.isclose(ours.chance_to_beat_control, exact, abs_tol=0.005)  # P(C < V)
    assert ours.expected_loss_variant < ours.expected_loss_control


def test_bayesian_means_normal_approximation() -> None:
    c, v = Sample(10.0, 4.0, 400), Sample(10.3, 4.0, 400)
    ours = bayesian_means(c, v)
    se = math.sqrt(4 / 400 + 4 / 400)
    assert math.isclose(ours.chance_to_beat_control, float(stats.norm.cdf(0.3 / se)), rel_tol=1e-12)
    rng = np.random.default_rng(3)
    d = rng.normal(0.3, se, 1_000_000)
    assert math.isclose(ours.expected_loss_variant, float(np.maximum(-d, 0).mean()), abs_tol=2e-4)
    assert math.isclose(ours.expected_loss_control, float(np.maximum(d, 0).mean()), abs_tol=2e-4)


def test_sample_ratio_matches_scipy_and_flags_a_mismatch() -> None:
    fine = sample_ratio([5030, 4970], [1, 1])
    assert math.isclose(fine.p_value, float(stats.chisquare([5030, 4970]).pvalue), rel_tol=1e-9)
    assert not fine.mismatch
    skewed = sample_ratio([5300, 4700], [1, 1])
    assert skewed.mismatch
    weighted = sample_ratio([900, 2100], [30, 70])
    expected = float(stats.chisquare([900, 2100], f_exp=[900, 2100]).pvalue)
    assert math.isclose(weighted.p_value, expected, rel_tol=1e-9)


@pytest.mark.parametrize("p_values", [[0.01, 0.04, 0.03, 0.005, 0.2], [0.5, 0.001, 0.049]])
def test_corrections_match_statsmodels(p_values: list[float]) -> None:
    assert np.allclose(holm(p_values), multipletests(p_values, method="holm")[1])
    assert np.allclose(benjamini_hochberg(p_values), multipletests(p_values, method="fdr_bh")[1])


def test_cuped_removes_the_predictable_variance_and_keeps_the_effect() -> None:
    rng = np.random.default_rng(11)
    n = 4000
    x_c, x_v = rng.normal(50, 10, n), rng.normal(50, 10, n)
    y_c = 0.9 * x_c + rng.normal(0, 5, n)
    y_v = 0.9 * x_v + rng.normal(0, 5, n) + 1.0  # true effect +1
    adjusted = cuped(y_c, x_c, y_v, x_v)
    rho2 = 81 / (81 + 25)  # corr(x, y)² by construction
    assert math.isclose(adjusted.variance_reduction, rho2, abs_tol=0.03)
    assert math.isclose(adjusted.theta, 0.9, abs_tol=0.03)
    plain = welch(Sample.of(y_c), Sample.of(y_v))
    better = welch(adjusted.control, adjusted.variant)
    assert (better.absolute_ci[1] - better.absolute_ci[0]) < 0.6 * (
        plain.absolute_ci[1] - plain.absolute_ci[0]
    )
    assert better.absolute_ci[0] < 1.0 < better.absolute_ci[1]


# -- A/A simulations: 1,000 experiments with no true difference --------------------------

SIMULATIONS = 1000
ALPHA = 0.05
# 1,000 Bernoulli(0.05) trials: sd 0.0069; allow ~3 sd either side.
LOW, HIGH = 0.03, 0.071


def test_two_proportion_test_false_positive_rate_within_alpha() -> None:
    rng = np.random.default_rng(2026)
    n = 2000
    hits = rng.binomial(n, 0.1, size=(SIMULATIONS, 2))
    rate = np.mean(
        [two_proportions(Proportion(int(c), n), Proportion(int(v), n)).significant for c, v in hits]
    )
    assert LOW <= rate <= HIGH, rate


def test_welch_false_positive_rate_within_alpha() -> None:
    rng = np.random.default_rng(2027)
    fp = 0
    for _ in range(SIMULATIONS):
        a, b = rng.lognormal(3, 0.8, 300), rng.lognormal(3, 0.8, 300)  # skewed order values
        fp += welch(Sample.of(a), Sample.of(b)).significant
    assert LOW <= fp / SIMULATIONS <= HIGH, fp


def test_cuped_false_positive_rate_within_alpha() -> None:
    rng = np.random.default_rng(2028)
    fp = 0
    for _ in range(SIMULATIONS):
        x = rng.normal(50, 10, (2, 300))
        y = 0.8 * x + rng.normal(0, 6, (2, 300))
        adjusted = cuped(y[0], x[0], y[1], x[1])
        fp += welch(adjusted.control, adjusted.variant).significant
    assert LOW <= fp / SIMULATIONS <= HIGH, fp


def test_peeking_breaks_the_z_test_but_not_the_sequential_test() -> None:
    rng = np.random.default_rng(2029)
    looks, batch = 20, 200
    naive = sequential = 0
    for _ in range(SIMULATIONS):
        c = rng.binomial(1, 0.1, looks * batch).cumsum()
        v = rng.binomial(1, 0.1, looks * batch).cumsum()
        test = SequentialTest(tau2=0.02**2, alpha=ALPHA)
        stopped_naive = stopped_seq = False
        for k in range(1, looks + 1):
            n = k * batch
            control, variant = Proportion(int(c[n - 1]), n), Proportion(int(v[n - 1]), n)
            stopped_naive |= two_proportions(control, variant).significant
            stopped_seq |= test.look_proportions(control, variant)
        naive += stopped_naive
        sequential += stopped_seq
    assert naive / SIMULATIONS > 0.12  # peeking at a fixed-horizon test inflates errors
    assert sequential / SIMULATIONS <= ALPHA + 0.01  # mSPRT stays within alpha


def test_the_sequential_test_finds_a_real_effect() -> None:
    rng = np.random.default_rng(5)
    test = SequentialTest(tau2=0.02**2, alpha=ALPHA)
    c = v = 0
    for k in range(1, 200):
        c += int(rng.binomial(500, 0.10))
        v += int(rng.binomial(500, 0.13))
        if test.look_proportions(Proportion(c, 500 * k), Proportion(v, 500 * k)):
            break
    assert test.p_value < ALPHA
    assert test.looks < 199
