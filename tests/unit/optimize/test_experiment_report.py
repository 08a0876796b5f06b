"""The results page / report template and the API's JSON view (no I/O)."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np

from paystead.optimize.analysis import analyze
from paystead.optimize.experiments import Experiment
from paystead.optimize.metrics import VariantWeight
from paystead.optimize.report import render_html, render_pdf, results_json
from tests.unit.optimize.experiment_data import simulate_arm

NOW = datetime(2026, 4, 2, 12, 0, tzinfo=UTC)


def _experiment() -> Experiment:
    return Experiment(
        id="exp_1",
        key="routing-lowest-cost",
        flag_key="payments.routing_strategy",
        status="running",
        hypothesis="Lowest cost keeps <success> & cuts fees",
        primary_metric="success_rate",
        guardrails=["error_rate"],
        variants=[VariantWeight("thompson", 5000), VariantWeight("lowest_cost", 5000)],
        currency="INR",
        created_at=NOW,
        updated_at=NOW,
        started_at=NOW,
        stopped_at=None,
    )


def test_the_page_shows_lift_intervals_guidance_and_the_srm_warning() -> None:
    rng = np.random.default_rng(11)
    arms = [
        simulate_arm(rng, "thompson", 5000, success=0.78),
        simulate_arm(rng, "lowest_cost", 4400, success=0.84),
    ]
    analysis = analyze(arms, primary_metric="success_rate", guardrails=["error_rate"])
    html = render_html(_experiment(), analysis, NOW)
    assert "Sample ratio mismatch" in html and "Do not trust these results" in html
    assert "Decision guidance: stop" in html
    assert "&lt;success&gt; &amp; cuts fees" in html  # escaped
    found = analysis.result("success_rate", "lowest_cost")
    assert found is not None and found.comparison is not None
    assert f"{found.comparison.absolute_lift * 100:+.2f}%" in html
    assert "CUPED" in html and "p95 (ms)" in html
    assert render_pdf(_experiment(), analysis, NOW).startswith(b"%PDF")


def test_the_json_has_no_undefined_numbers() -> None:
    rng = np.random.default_rng(12)
    control = simulate_arm(rng, "thompson", 200)
    control.refunded = 0  # control's refund rate is 0: relative lift is undefined
    variant = simulate_arm(rng, "lowest_cost", 200)
    body = results_json(
        _experiment(), analyze([control, variant], primary_metric="refund_rate"), NOW
    )
    refund = next(m for m in body["metrics"] if m["metric"] == "refund_rate")
    assert refund["role"] == "primary"
    comparison = refund["comparisons"][0]
    assert comparison["relative_lift"] is None and comparison["relative_ci"] == [None, None]

    def finite(value: object) -> bool:
        if isinstance(value, float):
            return math.isfinite(value)
        if isinstance(value, dict):
            return all(finite(v) for v in value.values())
        if isinstance(value, list):
            return all(finite(v) for v in value)
        return True

    assert finite(body)
    churn = next(m for m in body["metrics"] if m["metric"] == "churn")
    assert churn["comparisons"][0]["note"] == "no data"
