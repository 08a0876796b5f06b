"""Experiment analysis: per-arm data in, every metric compared with control out.

Pure functions over :class:`Arm` (no I/O), so the results page, the report, the
rollout guardrails and the A/A simulations run the same code. Each metric is tested
with ``stats.py``: rates with the two-proportion z-test and Beta posteriors, means with
Welch and the normal posterior, both with an mSPRT always-valid p-value; revenue per
customer is CUPED-adjusted when every arm has pre-period values; p-values are
Holm-adjusted across metrics x variants; the split is checked for sample-ratio mismatch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from paystead.optimize import stats

#: Below this many units in an arm, no metric is tested (the normal approximations
#: need some data); the guidance says "keep running".
MIN_UNITS = 30


class Kind(StrEnum):
    PROPORTION = "proportion"
    MEAN = "mean"


@dataclass(frozen=True, slots=True)
class Metric:
    key: str
    name: str
    kind: Kind
    higher_is_better: bool
    unit: str  # "payment", "customer", "succeeded payment"


METRICS: dict[str, Metric] = {
    m.key: m
    for m in (
        Metric("conversion", "Payment conversion", Kind.PROPORTION, True, "subject"),
        Metric("success_rate", "Payment success rate", Kind.PROPORTION, True, "payment"),
        Metric("average_order_value", "Average order value", Kind.MEAN, True, "payment"),
        Metric("revenue_per_customer", "Revenue per customer", Kind.MEAN, True, "subject"),
        Metric("refund_rate", "Refund rate", Kind.PROPORTION, False, "succeeded payment"),
        Metric("error_rate", "Error rate", Kind.PROPORTION, False, "payment"),
        Metric("latency", "Payment latency (ms)", Kind.MEAN, False, "payment"),
        Metric("churn", "Churn", Kind.PROPORTION, False, "subscriber"),
    )
}


@dataclass
class Arm:
    """One variant's units. Lists hold one value per unit (payment or subject)."""

    variant: str
    weight: int  # basis points
    subjects: int = 0
    converted_subjects: int = 0
    payments: int = 0
    succeeded: int = 0
    errors: int = 0
    refunded: int = 0  # succeeded payments with any amount refunded
    order_values: list[float] = field(default_factory=list)  # succeeded, minor units
    latencies_ms: list[float] = field(default_factory=list)
    revenue: list[float] = field(default_factory=list)  # per subject, net of refunds
    pre_revenue: list[float] | None = None  # per subject, same order as ``revenue``
    subscribers: int = 0  # exposed subjects with a subscription (billing)
    churned: int | None = None  # of them canceled; None: no subscriptions table


@dataclass(frozen=True, slots=True)
class Summary:
    """One metric in one arm."""

    value: float | None
    units: int
    p50: float | None = None
    p95: float | None = None


@dataclass
class Result:
    metric: str
    variant: str
    comparison: stats.Comparison | None
    bayesian: stats.Bayesian | None
    sequential_p: float | None
    adjusted_p: float | None = None
    cuped_reduction: float | None = None
    note: str | None = None

    @property
    def significant(self) -> bool:
        return self.adjusted_p is not None and self.adjusted_p < (
            self.comparison.alpha if self.comparison else 0.05
        )

    def better(self, higher_is_better: bool) -> bool | None:
        """Whether the variant moved the metric the right way (None: no change)."""
        if self.comparison is None or self.comparison.absolute_lift == 0:
            return None
        return (self.comparison.absolute_lift > 0) == higher_is_better


@dataclass
class Guidance:
    action: str  # "ship", "keep running", "stop"
    reasons: list[str]
    winner: str | None = None


@dataclass
class Analysis:
    control: str
    arms: list[Arm]
    summaries: dict[str, dict[str, Summary]]  # metric -> variant -> summary
    results: list[Result]
    srm: stats.SampleRatio
    primary_metric: str
    guardrails: list[str]
    guidance: Guidance
    alpha: float

    def result(self, metric: str, variant: str) -> Result | None:
        for r in self.results:
            if r.metric == metric and r.variant == variant:
                return r
        return None


def _proportion(arm: Arm, metric: str) -> tuple[int, int] | None:
    if metric == "conversion":
        return arm.converted_subjects, arm.subjects
    if metric == "success_rate":
        return arm.succeeded, arm.payments
    if metric == "refund_rate":
        return arm.refunded, arm.succeeded
    if metric == "error_rate":
        return arm.errors, arm.payments
    if metric == "churn":
        return None if arm.churned is None else (arm.churned, arm.subscribers)
    raise ValueError(metric)


def _values(arm: Arm, metric: str) -> list[float]:
    if metric == "average_order_value":
        return arm.order_values
    if metric == "revenue_per_customer":
        return arm.revenue
    if metric == "latency":
        return arm.latencies_ms
    raise ValueError(metric)


def summarize(arm: Arm, metric: str) -> Summary:
    spec = METRICS[metric]
    if spec.kind is Kind.PROPORTION:
        counts = _proportion(arm, metric)
        if counts is None or counts[1] == 0:
            return Summary(None, 0 if counts is None else counts[1])
        return Summary(counts[0] / counts[1], counts[1])
    values = _values(arm, metric)
    if not values:
        return Summary(None, 0)
    data = np.asarray(values, float)
    return Summary(
        float(data.mean()),
        int(data.size),
        float(np.percentile(data, 50)),
        float(np.percentile(data, 95)),
    )


def _tau2(control_mean: float, variance: float) -> float:
    """mSPRT mixing variance: effects of about 5% of the control mean are worth finding."""
    scale = 0.05 * abs(control_mean)
    return scale**2 if scale > 0 else max(variance, 1e-12)


def compare(
    control: Arm,
    variant: Arm,
    metric: str,
    *,
    alpha: float = 0.05,
    seed: int = 0,
    draws: int = 50_000,
) -> Result:
    """One metric, one variant against control (unadjusted p-values)."""
    spec = METRICS[metric]
    if spec.kind is Kind.PROPORTION:
        c_counts, v_counts = _proportion(control, metric), _proportion(variant, metric)
        if c_counts is None or v_counts is None:
            return Result(metric, variant.variant, None, None, None, note="no data")
        if min(c_counts[1], v_counts[1]) < MIN_UNITS:
            return Result(metric, variant.variant, None, None, None, note="not enough data")
        c, v = stats.Proportion(*c_counts), stats.Proportion(*v_counts)
        comparison = stats.two_proportions(c, v, alpha)
        bayes = stats.bayesian_proportions(c, v, draws=draws, seed=seed)
        var = c.rate * (1 - c.rate) / c.n + v.rate * (1 - v.rate) / v.n
        seq = stats.msprt_p_value(v.rate - c.rate, var, _tau2(c.rate, var))
        return Result(metric, variant.variant, comparison, bayes, seq)
    yc, yv = _values(control, metric), _values(variant, metric)
    if min(len(yc), len(yv)) < MIN_UNITS:
        return Result(metric, variant.variant, None, None, None, note="not enough data")
    reduction = None
    if (
        metric == "revenue_per_customer"
        and control.pre_revenue is not None
        and variant.pre_revenue is not None
        and np.var(np.concatenate([control.pre_revenue, variant.pre_revenue])) > 0
    ):
        adjusted = stats.cuped(yc, control.pre_revenue, yv, variant.pre_revenue)
        sc, sv = adjusted.control, adjusted.variant
        reduction = adjusted.variance_reduction
    else:
        sc, sv = stats.Sample.of(yc), stats.Sample.of(yv)
    comparison = stats.welch(sc, sv, alpha)
    bayes = stats.bayesian_means(sc, sv)
    var = sc.variance / sc.n + sv.variance / sv.n
    seq = stats.msprt_p_value(sv.mean - sc.mean, var, _tau2(sc.mean, var))
    return Result(metric, variant.variant, comparison, bayes, seq, cuped_reduction=reduction)


def analyze(
    arms: Sequence[Arm],
    *,
    primary_metric: str,
    guardrails: Sequence[str] = (),
    alpha: float = 0.05,
    metrics: Sequence[str] | None = None,
    draws: int = 50_000,
) -> Analysis:
    """Every metric for every treatment against the first arm (control)."""
    if len(arms) < 2:
        raise ValueError("an experiment needs control and at least one treatment")
    control, treatments = arms[0], list(arms[1:])
    chosen = list(metrics) if metrics is not None else list(METRICS)
    for key in (primary_metric, *guardrails):
        if key not in chosen:
            chosen.append(key)
    summaries = {m: {a.variant: summarize(a, m) for a in arms} for m in chosen}
    results = [
        compare(control, t, m, alpha=alpha, seed=i, draws=draws)
        for i, (m, t) in enumerate((m, t) for m in chosen for t in treatments)
    ]
    tested = [r for r in results if r.comparison is not None]
    # Holm across every metric x variant that was tested (family-wise error rate).
    if tested:
        for r, p in zip(
            tested, stats.holm([r.comparison.p_value for r in tested if r.comparison]), strict=True
        ):
            r.adjusted_p = p
    srm = _sample_ratio(arms)
    analysis = Analysis(
        control.variant,
        list(arms),
        summaries,
        results,
        srm,
        primary_metric,
        list(guardrails),
        Guidance("keep running", []),
        alpha,
    )
    analysis.guidance = guide(analysis)
    return analysis


def _sample_ratio(arms: Sequence[Arm]) -> stats.SampleRatio:
    """χ² against the weights over arms with weight; a unit in a zero-weight arm is a
    mismatch by itself."""
    weighted = [a for a in arms if a.weight > 0]
    observed = tuple(a.subjects for a in arms)
    expected_total = sum(a.subjects for a in weighted)
    if any(a.subjects for a in arms if a.weight <= 0):
        return stats.SampleRatio(observed, tuple(0.0 for _ in arms), 0.0)
    if len(weighted) < 2:
        weights = [float(a.weight) for a in arms]
        total_weight = sum(weights) or 1.0
        expected = tuple(expected_total * w / total_weight for w in weights)
        return stats.SampleRatio(observed, expected, 1.0)
    found = stats.sample_ratio([a.subjects for a in weighted], [a.weight for a in weighted])
    by_arm = dict(zip((a.variant for a in weighted), found.expected, strict=True))
    return stats.SampleRatio(
        observed, tuple(by_arm.get(a.variant, 0.0) for a in arms), found.p_value
    )


def _pct(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value * 100:+.1f}%"


def guide(analysis: Analysis) -> Guidance:
    """Ship, keep running or stop, with the reasons."""
    if analysis.srm.mismatch:
        return Guidance(
            "stop",
            [
                f"sample ratio mismatch (χ² p = {analysis.srm.p_value:.2g}): the split "
                "does not match the weights, so no result can be trusted; fix the "
                "assignment or exposure logging and restart"
            ],
        )
    reasons: list[str] = []
    harmed: list[str] = []
    for name in analysis.guardrails:
        spec = METRICS[name]
        for r in analysis.results:
            if r.metric == name and r.significant and r.better(spec.higher_is_better) is False:
                assert r.comparison is not None
                harmed.append(r.variant)
                reasons.append(
                    f"{r.variant} harms guardrail {spec.name} "
                    f"({_pct(r.comparison.relative_lift)}, adjusted p = {r.adjusted_p:.3g})"
                )
    primary = METRICS[analysis.primary_metric]
    winners: list[Result] = []
    losers: list[Result] = []
    waiting: list[Result] = []
    for r in analysis.results:
        if r.metric != primary.key:
            continue
        if r.comparison is None:
            reasons.append(f"{r.variant}: {primary.name} has {r.note}")
            waiting.append(r)
        elif r.significant and r.better(primary.higher_is_better):
            winners.append(r)
        elif r.significant:
            losers.append(r)
            reasons.append(
                f"{r.variant} is worse on {primary.name} "
                f"({_pct(r.comparison.relative_lift)}, adjusted p = {r.adjusted_p:.3g})"
            )
        else:
            waiting.append(r)
            seq = "" if r.sequential_p is None else f", always-valid p = {r.sequential_p:.3g}"
            reasons.append(
                f"{r.variant}: no significant difference on {primary.name} yet "
                f"({_pct(r.comparison.relative_lift)}, adjusted p = {r.adjusted_p:.3g}{seq})"
            )
    winners = [w for w in winners if w.variant not in harmed]
    if winners:
        best = max(winners, key=lambda w: w.bayesian.chance_to_beat_control if w.bayesian else 0)
        assert best.comparison is not None and best.bayesian is not None
        reasons.insert(
            0,
            f"{best.variant} improves {primary.name} by {_pct(best.comparison.relative_lift)} "
            f"(adjusted p = {best.adjusted_p:.3g}, chance to beat control "
            f"{best.bayesian.chance_to_beat_control:.1%}) without harming a guardrail",
        )
        return Guidance("ship", reasons, best.variant)
    treatments = {a.variant for a in analysis.arms[1:]}
    if (harmed and set(harmed) >= treatments) or (losers and not waiting):
        return Guidance("stop", reasons)
    return Guidance("keep running", reasons)
