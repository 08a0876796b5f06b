"""Simulated experiment arms for the analysis tests (no database)."""

from __future__ import annotations

import numpy as np

from paystead.optimize.analysis import Arm


def simulate_arm(
    rng: np.random.Generator,
    variant: str,
    subjects: int,
    *,
    weight: int = 5_000,
    success: float = 0.8,
    order_mean: float = 8.0,  # log of minor units
    refund: float = 0.05,
    error: float = 0.02,
    latency_log_mean: float = 5.5,  # ~250 ms
    pre_correlation: float = 0.7,
) -> Arm:
    """One arm: each subject makes 1 + Poisson(0.6) payments; order values are
    log-normal; the pre-period revenue is correlated with the in-experiment revenue."""
    per_subject = 1 + rng.poisson(0.6, subjects)
    total = int(per_subject.sum())
    owner = np.repeat(np.arange(subjects), per_subject)
    succeeded = rng.random(total) < success
    errors = ~succeeded & (rng.random(total) < error / (1 - success))
    values = np.round(rng.lognormal(order_mean, 0.8, total))
    refunded = succeeded & (rng.random(total) < refund)
    revenue = np.bincount(
        owner, weights=np.where(succeeded & ~refunded, values, 0), minlength=subjects
    )
    noise = rng.lognormal(order_mean, 0.8, subjects) * (1 + rng.poisson(0.6, subjects))
    pre = pre_correlation * revenue + (1 - pre_correlation) * noise
    converted = np.bincount(owner, weights=succeeded, minlength=subjects) > 0
    return Arm(
        variant=variant,
        weight=weight,
        subjects=subjects,
        converted_subjects=int(converted.sum()),
        payments=total,
        succeeded=int(succeeded.sum()),
        errors=int(errors.sum()),
        refunded=int(refunded.sum()),
        order_values=values[succeeded].tolist(),
        latencies_ms=rng.lognormal(latency_log_mean, 0.5, total).tolist(),
        revenue=revenue.tolist(),
        pre_revenue=pre.tolist(),
    )
