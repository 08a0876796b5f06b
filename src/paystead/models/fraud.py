"""The fraud model: labelled past payments in, a LightGBM classifier out.

**Labels** are our own outcomes (docs/models.md): a payment is fraudulent when its
gateway declined it with ``failure_code = "fraudulent"`` or when it was later refunded
with ``reason = "fraudulent"`` (a refund that did not fail). Every other payment with a
gateway answer is legitimate. Payments with no answer yet, and payments blocked by
screening in ``enforce`` mode (``fraud_suspected``: no gateway ever saw them, so their
truth is unknown), are not labelled and not used.

**Features** come from :func:`paystead.models.features.fraud_features`, the function the
screener calls online; :func:`replay` rebuilds the screener's sliding windows by
replaying the payments in time order through a real :class:`Screener` on a replay
clock.

**Holdout** is by time: the model is trained on the earliest ``1 - holdout_share`` of
the rows and measured on the rest (AUC, and precision/recall at the configured
threshold), beside the rule score's AUC on the same rows as the baseline. The shipped
model is the one measured (it is not refitted on the holdout).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from paystead.models.artifacts import Artifact
from paystead.models.features import FRAUD_FEATURES, fraud_features
from paystead.risk.config import RiskConfig
from paystead.risk.rules import PaymentFacts, Recent, evaluate
from paystead.risk.screening import Screener

KIND = "fraud"

#: LightGBM settings: small trees, fixed seeds, one thread (deterministic, and training
#: must not starve the server when run beside it).
PARAMS: dict[str, Any] = {
    "objective": "binary",
    "learning_rate": 0.05,
    "num_leaves": 15,
    "min_data_in_leaf": 20,
    "feature_fraction": 0.9,
    "bagging_fraction": 0.9,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "seed": 7,
    "deterministic": True,
    "num_threads": 1,
    "verbose": -1,
}
ROUNDS = 200


class TrainingError(ValueError):
    """Not enough labelled data to train or to measure a model honestly."""


@dataclass(frozen=True, slots=True)
class PaymentRecord:
    """One past payment, as screening saw it, with what happened to it."""

    facts: PaymentFacts
    at: datetime
    #: Failed or declined at the gateway (feeds the failure window, as online).
    failed: bool
    fraudulent: bool


@dataclass(frozen=True, slots=True)
class Dataset:
    rows: list[list[float]]
    labels: list[int]
    #: The rules' total score for each row (the baseline the model must beat).
    rule_scores: list[int]
    times: list[datetime]


def replay(records: Iterable[PaymentRecord], config: RiskConfig) -> Dataset:
    """Features for every record, its history rebuilt as the screener would have had it."""
    ordered = sorted(records, key=lambda r: r.at)
    now = [0.0]
    screener = Screener(config, clock=lambda: now[0])
    rows: list[list[float]] = []
    labels: list[int] = []
    scores: list[int] = []
    for record in ordered:
        now[0] = record.at.timestamp()
        recent = screener.recent(record.facts)
        rows.append(fraud_features(record.facts, recent, record.at, config))
        labels.append(int(record.fraudulent))
        scores.append(sum(hit.score for hit in evaluate(record.facts, recent, config)))
        screener.observe_payment(record.facts)
        if record.failed and record.facts.customer_id is not None:
            screener.observe_failure(record.facts.customer_id)
    return Dataset(rows, labels, scores, [r.at for r in ordered])


def _classes(labels: Sequence[int], where: str) -> None:
    positives = sum(labels)
    if positives < 5 or len(labels) - positives < 5:
        raise TrainingError(
            f"the {where} rows need at least 5 fraudulent and 5 legitimate payments "
            f"({positives} fraudulent of {len(labels)})"
        )


def binary_metrics(
    labels: Sequence[int], scores: Sequence[float], threshold: float
) -> dict[str, Any]:
    """AUC, and precision / recall / false-positive rate at ``threshold``."""
    from sklearn.metrics import roc_auc_score

    predicted = [s >= threshold for s in scores]
    tp = sum(1 for p, y in zip(predicted, labels, strict=True) if p and y)
    fp = sum(1 for p, y in zip(predicted, labels, strict=True) if p and not y)
    fn = sum(1 for p, y in zip(predicted, labels, strict=True) if not p and y)
    tn = len(labels) - tp - fp - fn
    return {
        "auc": round(float(roc_auc_score(labels, scores)), 4),
        "threshold": threshold,
        "precision": round(tp / (tp + fp), 4) if tp + fp else None,
        "recall": round(tp / (tp + fn), 4) if tp + fn else None,
        "false_positive_rate": round(fp / (fp + tn), 4) if fp + tn else None,
        "accuracy": round((tp + tn) / len(labels), 4),
        "rows": len(labels),
        "positives": tp + fn,
    }


@dataclass(frozen=True, slots=True)
class Trained:
    booster: Any  # lightgbm.Booster
    metadata: dict[str, Any]


def train(dataset: Dataset, config: RiskConfig, *, holdout_share: float = 0.2) -> Trained:
    """Fit on the earliest rows, measure on the latest; ``TrainingError`` if either
    part lacks fraudulent or legitimate payments."""
    import lightgbm

    if not 0 < holdout_share < 1:
        raise TrainingError("holdout_share must be between 0 and 1")
    n = len(dataset.rows)
    cut = int(n * (1 - holdout_share))
    _classes(dataset.labels[:cut], "training")
    _classes(dataset.labels[cut:], "holdout")
    x = np.asarray(dataset.rows, dtype=np.float64)
    train_set = lightgbm.Dataset(
        x[:cut], label=dataset.labels[:cut], feature_name=list(FRAUD_FEATURES), free_raw_data=True
    )
    booster = lightgbm.train(PARAMS, train_set, num_boost_round=ROUNDS)
    scores = [float(p) for p in booster.predict(x[cut:])]
    holdout = dataset.labels[cut:]
    threshold = config.model.threshold
    rule_threshold = config.thresholds.block
    metadata = {
        "features": list(FRAUD_FEATURES),
        "params": PARAMS,
        "rounds": ROUNDS,
        "label": "gateway decline 'fraudulent' or refund reason 'fraudulent'",
        "window": {
            "start": dataset.times[0].isoformat(),
            "end": dataset.times[-1].isoformat(),
            "holdout_start": dataset.times[cut].isoformat(),
        },
        "rows": {"train": cut, "holdout": n - cut, "fraudulent": sum(dataset.labels)},
        "metrics": {
            "model": binary_metrics(holdout, scores, threshold),
            "rules_baseline": binary_metrics(
                holdout, [float(s) for s in dataset.rule_scores[cut:]], float(rule_threshold)
            ),
        },
    }
    return Trained(booster, metadata)


class FraudScorer:
    """The online scorer the screener calls: same features, one row, no I/O."""

    def __init__(self, artifact: Artifact, config: RiskConfig):
        self.artifact = artifact
        self.config = config
        self.version = artifact.version

    def __call__(self, facts: PaymentFacts, recent: Recent, at: datetime) -> float:
        row = np.asarray([fraud_features(facts, recent, at, self.config)], dtype=np.float64)
        return float(self.artifact.booster.predict(row, num_threads=1)[0])
