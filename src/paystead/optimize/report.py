"""An experiment's results as JSON (API), HTML (dashboard page, report) and PDF.

One Jinja2 template (``optimize/templates/experiment.html``) renders the page and the
report; WeasyPrint prints the same HTML to PDF, as ``insights/reports.py`` does.
"""

from __future__ import annotations

import math
from datetime import datetime
from importlib import resources
from typing import Any

import jinja2

from paystead.optimize.analysis import METRICS, Analysis, Result
from paystead.optimize.experiments import Experiment

_ENV = jinja2.Environment(
    loader=jinja2.FunctionLoader(
        lambda name: resources.files("paystead.optimize").joinpath("templates", name).read_text()
    ),
    autoescape=True,
)


def _num(value: float | None) -> float | None:
    """JSON has no NaN or infinity: an undefined number is null."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def _pair(values: tuple[float, float]) -> list[float | None]:
    return [_num(values[0]), _num(values[1])]


def _comparison(result: Result) -> dict[str, Any]:
    c, b = result.comparison, result.bayesian
    return {
        "variant": result.variant,
        "note": result.note,
        "control_value": _num(c.control) if c else None,
        "variant_value": _num(c.variant) if c else None,
        "absolute_lift": _num(c.absolute_lift) if c else None,
        "absolute_ci": _pair(c.absolute_ci) if c else None,
        "relative_lift": _num(c.relative_lift) if c else None,
        "relative_ci": _pair(c.relative_ci) if c else None,
        "p_value": _num(c.p_value) if c else None,
        "adjusted_p_value": _num(result.adjusted_p),
        "significant": result.significant,
        "sequential_p_value": _num(result.sequential_p),
        "chance_to_beat_control": _num(b.chance_to_beat_control) if b else None,
        "expected_loss_variant": _num(b.expected_loss_variant) if b else None,
        "expected_loss_control": _num(b.expected_loss_control) if b else None,
        "cuped_variance_reduction": _num(result.cuped_reduction),
    }


def results_json(experiment: Experiment, analysis: Analysis, now: datetime) -> dict[str, Any]:
    """The results as the API returns them (datetimes left to the caller)."""
    metrics = []
    for key, per_variant in analysis.summaries.items():
        spec = METRICS[key]
        metrics.append(
            {
                "metric": key,
                "name": spec.name,
                "kind": spec.kind.value,
                "unit": spec.unit,
                "higher_is_better": spec.higher_is_better,
                "role": "primary"
                if key == analysis.primary_metric
                else "guardrail"
                if key in analysis.guardrails
                else "secondary",
                "arms": {
                    variant: {
                        "value": _num(s.value),
                        "units": s.units,
                        "p50": _num(s.p50),
                        "p95": _num(s.p95),
                    }
                    for variant, s in per_variant.items()
                },
                "comparisons": [_comparison(r) for r in analysis.results if r.metric == key],
            }
        )
    return {
        "object": "experiment_results",
        "experiment": experiment.key,
        "status": experiment.status,
        "computed_at": now,
        "alpha": analysis.alpha,
        "control": analysis.control,
        "arms": [
            {
                "variant": a.variant,
                "weight": a.weight,
                "subjects": a.subjects,
                "payments": a.payments,
            }
            for a in analysis.arms
        ],
        "sample_ratio": {
            "p_value": _num(analysis.srm.p_value),
            "mismatch": analysis.srm.mismatch,
            "observed": list(analysis.srm.observed),
            "expected": [_num(e) for e in analysis.srm.expected],
        },
        "guidance": {
            "action": analysis.guidance.action,
            "winner": analysis.guidance.winner,
            "reasons": list(analysis.guidance.reasons),
        },
        "correction": "holm",
        "metrics": metrics,
    }


def _fmt(value: float | None, kind: str, *, signed: bool = False, pct: bool = False) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    if pct or kind == "proportion":
        return f"{value * 100:+.2f}%" if signed else f"{value * 100:.2f}%"
    return f"{value:+,.1f}" if signed else f"{value:,.1f}"


_ENV.filters["fmt"] = _fmt


def render_html(experiment: Experiment, analysis: Analysis, now: datetime) -> str:
    return _ENV.get_template("experiment.html").render(
        experiment=experiment,
        results=results_json(experiment, analysis, now),
        now=now,
    )


def render_pdf(experiment: Experiment, analysis: Analysis, now: datetime) -> bytes:
    from weasyprint import HTML

    pdf = HTML(string=render_html(experiment, analysis, now)).write_pdf()
    assert pdf is not None
    return bytes(pdf)
