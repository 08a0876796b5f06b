"""The models' figures on generated data (docs/models.md, "Measured"), and the fraud
model's scoring cost per payment. A hand-run measurement, not a test (the tests assert
bars, not these numbers).

    .venv/bin/python bench/models.py
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.unit.models.generated import payments
from tests.unit.models.test_churn_forecast_ltv import _rows, _series

from paystead.models import artifacts, churn, forecast, fraud
from paystead.models.features import FRAUD_FEATURES
from paystead.risk.config import RiskConfig
from paystead.risk.rules import Recent


def main() -> None:
    config = RiskConfig()
    dataset = fraud.replay(payments(), config)
    trained = fraud.train(dataset, config)
    print("fraud", json.dumps({**trained.metadata["metrics"], "rows": trained.metadata["rows"]}))
    root = Path(tempfile.mkdtemp())
    artifacts.save(root, fraud.KIND, "20260101T000000Z", trained.booster, trained.metadata)
    scorer = fraud.FraudScorer(artifacts.load(root, fraud.KIND, FRAUD_FEATURES), config)
    sample = payments(2000, seed=4)
    started = time.perf_counter()
    for record in sample:
        scorer(record.facts, Recent(), record.at)
    per = (time.perf_counter() - started) / len(sample) * 1e6
    print(f"fraud scoring: {per:.0f} us per payment (one row, one thread)")
    print("churn", json.dumps(churn.train(_rows()).metadata["metrics"]))
    print("forecast", json.dumps(forecast.backtest("INR", _series(), 14).to_dict()))


if __name__ == "__main__":
    main()
