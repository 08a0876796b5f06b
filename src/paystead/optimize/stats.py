"""Experiment statistics: frequentist, Bayesian and sequential, with CUPED and SRM checks.

Every function takes sufficient statistics (counts, or mean/variance/size), so the same
code serves the live results page and offline simulations. References, one per method
(``docs/experiments.md`` explains when to use which):

- Two-proportion z-test, pooled standard error for the p-value and unpooled (Wald) for
  the interval: Agresti, *Categorical Data Analysis*, 3rd ed., §3.1.
- Welch's t-test with the Welch-Satterthwaite degrees of freedom: Welch (1947),
  *Biometrika* 34.
- Relative lift and its interval by the delta method: Deng, Knoblich & Lu (2018),
  "Applying the Delta Method in Metric Analytics", KDD.
- Bayesian A/B for proportions with Beta posteriors, chance to beat control and expected
  loss: Stucchio (2015), "Bayesian A/B Testing at VWO".
- Sequential testing safe to peek at: the mixture SPRT (mSPRT) with a normal mixing
  distribution and its always-valid p-values: Johari, Pekelis & Walsh (2017), "Always
  Valid Inference", KDD.
- CUPED variance reduction with a pre-period covariate: Deng, Xu, Kohavi & Walker
  (2013), "Improving the Sensitivity of Online Controlled Experiments", WSDM.
- Sample-ratio mismatch: Pearson's χ² goodness of fit against the configured weights,
  flagged below p < 0.001: Fabijan et al. (2019), "Diagnosing Sample Ratio Mismatch", KDD.
- Multiple comparisons: Holm (1979) step-down for the family-wise error rate and
  Benjamini & Hochberg (1995) for the false discovery rate.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats

SRM_THRESHOLD = 0.001


@dataclass(frozen=True, slots=True)
class Proportion:
    """Conversions out of units in one arm."""

    successes: int
    n: int

    def __post_init__(self) -> None:
        if not 0 <= self.successes <= self.n or self.n <= 0:
            raise ValueError("need 0 <= successes <= n and n > 0")

    @property
    def rate(self) -> float:
        return self.successes / self.n


@dataclass(frozen=True, slots=True)
class Sample:
    """A continuous metric in one arm, summarised: mean, sample variance (ddof=1), size."""

    mean: float
    variance: float
    n: int

    def __post_init__(self) -> None:
        if self.n < 2 or self.variance < 0:
            raise ValueError("need n >= 2 and a non-negative variance")

    @classmethod
    def of(cls, values: Sequence[float] | npt.NDArray[np.float64]) -> Sample:
        data = np.asarray(values, dtype=float)
        return cls(float(data.mean()), float(data.var(ddof=1)), int(data.size))


@dataclass(frozen=True, slots=True)
class Comparison:
    """Variant against control: absolute and relative lift with intervals, and a p-value."""

    control: float
    variant: float
    absolute_lift: float
    absolute_ci: tuple[float, float]
    relative_lift: float
    relative_ci: tuple[float, float]
    p_value: float
    alpha: float

    @property
    def significant(self) -> bool:
        return self.p_value < self.alpha


def _z(alpha: float) -> float:
    return float(stats.norm.ppf(1 - alpha / 2))


def _relative(
    mean_c: float, var_mean_c: float, mean_v: float, var_mean_v: float, crit: float
) -> tuple[float, tuple[float, float]]:
    """Relative lift v/c - 1 and its delta-method interval."""
    if mean_c == 0:
        return math.nan, (math.nan, math.nan)
    lift = mean_v / mean_c - 1
    se = math.sqrt(var_mean_v / mean_c**2 + mean_v**2 * var_mean_c / mean_c**4)
    return lift, (lift - crit * se, lift + crit * se)


def two_proportions(control: Proportion, variant: Proportion, alpha: float = 0.05) -> Comparison:
    p_c, p_v = control.rate, variant.rate
    pooled = (control.successes + variant.successes) / (control.n + variant.n)
    se_pooled = math.sqrt(pooled * (1 - pooled) * (1 / control.n + 1 / variant.n))
    diff = p_v - p_c
    p_value = 1.0 if se_pooled == 0 else float(2 * stats.norm.sf(abs(diff) / se_pooled))
    var_c, var_v = p_c * (1 - p_c) / control.n, p_v * (1 - p_v) / variant.n
    crit = _z(alpha)
    se = math.sqrt(var_c + var_v)
    relative, relative_ci = _relative(p_c, var_c, p_v, var_v, crit)
    return Comparison(
        p_c, p_v, diff, (diff - crit * se, diff + crit * se), relative, relative_ci, p_value, alpha
    )


def welch(control: Sample, variant: Sample, alpha: float = 0.05) -> Comparison:
    var_c, var_v = control.variance / control.n, variant.variance / variant.n
    se = math.sqrt(var_c + var_v)
    diff = variant.mean - control.mean
    if se == 0:
        return Comparison(
            control.mean, variant.mean, diff, (diff, diff), 0.0, (0.0, 0.0), 1.0, alpha
        )
    df = (var_c + var_v) ** 2 / (var_c**2 / (control.n - 1) + var_v**2 / (variant.n - 1))
    p_value = float(2 * stats.t.sf(abs(diff) / se, df))
    crit = float(stats.t.ppf(1 - alpha / 2, df))
    relative, relative_ci = _relative(control.mean, var_c, variant.mean, var_v, crit)
    return Comparison(
        control.mean,
        variant.mean,
        diff,
        (diff - crit * se, diff + crit * se),
        relative,
        relative_ci,
        p_value,
        alpha,
    )


@dataclass(frozen=True, slots=True)
class Bayesian:
    chance_to_beat_control: float
    #: Expected shortfall of choosing the variant, in the metric's units.
    expected_loss_variant: float
    #: Expected shortfall of staying with control.
    expected_loss_control: float


def bayesian_proportions(
    control: Proportion,
    variant: Proportion,
    *,
    prior: tuple[float, float] = (1.0, 1.0),
    draws: int = 200_000,
    seed: int = 0,
) -> Bayesian:
    """Beta(prior + successes, prior + failures) posteriors, compared by Monte Carlo."""
    rng = np.random.default_rng(seed)
    a, b = prior
    c = rng.beta(a + control.successes, b + control.n - control.successes, draws)
    v = rng.beta(a + variant.successes, b + variant.n - variant.successes, draws)
    return Bayesian(
        float((v > c).mean()),
        float(np.maximum(c - v, 0).mean()),
        float(np.maximum(v - c, 0).mean()),
    )


def bayesian_means(control: Sample, variant: Sample) -> Bayesian:
    """Normal approximation of the difference of means (flat prior)."""
    diff = variant.mean - control.mean
    se = math.sqrt(control.variance / control.n + variant.variance / variant.n)
    if se == 0:
        return Bayesian(0.5, 0.0, 0.0)
    z = diff / se
    # E[max(-D, 0)] and E[max(D, 0)] for D ~ N(diff, se²).
    loss_variant = se * float(stats.norm.pdf(z)) - diff * float(stats.norm.cdf(-z))
    loss_control = se * float(stats.norm.pdf(z)) + diff * float(stats.norm.cdf(z))
    return Bayesian(float(stats.norm.cdf(z)), loss_variant, loss_control)


def msprt_p_value(estimate: float, variance: float, tau2: float) -> float:
    """The mSPRT's p-value at one look: 1 / Λ, with Λ the normal-mixture likelihood ratio

        Λ = sqrt(V / (V + τ²)) · exp(τ² θ̂² / (2 V (V + τ²)))

    for an estimate θ̂ with variance V. The always-valid p-value of a sequence of looks is
    the running minimum of these (:class:`SequentialTest`).
    """
    if variance <= 0:
        return 1.0
    log_lambda = 0.5 * math.log(variance / (variance + tau2)) + tau2 * estimate**2 / (
        2 * variance * (variance + tau2)
    )
    return float(min(1.0, math.exp(-log_lambda)))


@dataclass
class SequentialTest:
    """Always-valid inference: peek after every batch; stop when ``p_value < alpha``.

    ``tau2`` is the mixing variance: roughly the squared size of the effects worth
    detecting (in the estimate's units). The false-positive rate stays at most ``alpha``
    however often the test is looked at.
    """

    tau2: float
    alpha: float = 0.05
    p_value: float = 1.0
    looks: int = 0

    def look(self, estimate: float, variance: float) -> bool:
        self.looks += 1
        self.p_value = min(self.p_value, msprt_p_value(estimate, variance, self.tau2))
        return self.p_value < self.alpha

    def look_proportions(self, control: Proportion, variant: Proportion) -> bool:
        var = (
            control.rate * (1 - control.rate) / control.n
            + variant.rate * (1 - variant.rate) / variant.n
        )
        return self.look(variant.rate - control.rate, var)


@dataclass(frozen=True, slots=True)
class Cuped:
    control: Sample
    variant: Sample
    theta: float
    variance_reduction: float  # share of variance removed, 0..1


def cuped(
    control_y: Sequence[float] | npt.NDArray[np.float64],
    control_x: Sequence[float] | npt.NDArray[np.float64],
    variant_y: Sequence[float] | npt.NDArray[np.float64],
    variant_x: Sequence[float] | npt.NDArray[np.float64],
) -> Cuped:
    """Adjust each unit's metric by its pre-period value: y - θ (x - mean x), θ pooled."""
    yc, xc = np.asarray(control_y, float), np.asarray(control_x, float)
    yv, xv = np.asarray(variant_y, float), np.asarray(variant_x, float)
    if yc.shape != xc.shape or yv.shape != xv.shape:
        raise ValueError("each unit needs its pre-period value")
    y, x = np.concatenate([yc, yv]), np.concatenate([xc, xv])
    var_x = float(x.var(ddof=1))
    theta = 0.0 if var_x == 0 else float(np.cov(y, x, ddof=1)[0, 1] / var_x)
    mean_x = float(x.mean())
    adj_c, adj_v = yc - theta * (xc - mean_x), yv - theta * (xv - mean_x)
    before = float(np.concatenate([yc, yv]).var(ddof=1))
    after = float(np.concatenate([adj_c, adj_v]).var(ddof=1))
    reduction = 0.0 if before == 0 else 1 - after / before
    return Cuped(Sample.of(adj_c), Sample.of(adj_v), theta, reduction)


@dataclass(frozen=True, slots=True)
class SampleRatio:
    observed: tuple[int, ...]
    expected: tuple[float, ...]
    p_value: float

    @property
    def mismatch(self) -> bool:
        return self.p_value < SRM_THRESHOLD


def sample_ratio(counts: Sequence[int], weights: Sequence[float]) -> SampleRatio:
    """χ² goodness of fit of the units per arm against the configured weights."""
    if len(counts) != len(weights) or len(counts) < 2:
        raise ValueError("one count per arm, at least two arms")
    total, weight = sum(counts), float(sum(weights))
    expected = tuple(total * w / weight for w in weights)
    if total == 0:
        return SampleRatio(tuple(counts), expected, 1.0)
    chi2 = sum((o - e) ** 2 / e for o, e in zip(counts, expected, strict=True))
    p_value = float(stats.chi2.sf(chi2, len(counts) - 1))
    return SampleRatio(tuple(counts), expected, p_value)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm step-down adjusted p-values (family-wise error rate)."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (false discovery rate)."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i], reverse=True)
    adjusted = [0.0] * m
    running = 1.0
    for position, i in enumerate(order):
        rank = m - position
        running = min(running, p_values[i] * m / rank)
        adjusted[i] = min(1.0, running)
    return adjusted
