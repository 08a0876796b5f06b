"""Request bodies for experiments and canary rollouts (``/v1/experiments``, ``/v1/rollouts``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from paystead.api.schemas import CurrencyCode, Input
from paystead.optimize.experiments import DEFAULT_GUARDRAILS, NewExperiment
from paystead.optimize.rollouts import DEFAULT_STEPS, Guardrails, NewRollout

MetricKey = Literal[
    "conversion",
    "success_rate",
    "average_order_value",
    "revenue_per_customer",
    "refund_rate",
    "error_rate",
    "latency",
    "churn",
]
ExperimentKey = Annotated[
    str, StringConstraints(min_length=1, max_length=100, pattern=r"^[a-z0-9][a-z0-9_.\-]*$")
]
FlagKey = Annotated[str, StringConstraints(min_length=1, max_length=200)]
VariantKey = Annotated[str, StringConstraints(min_length=1, max_length=100)]
BasisPoints = Annotated[int, Field(strict=True, ge=0, le=10_000)]


class VariantIn(Input):
    key: VariantKey
    weight: BasisPoints


class ExperimentCreate(Input):
    key: ExperimentKey
    flag_key: FlagKey
    hypothesis: Annotated[str, StringConstraints(min_length=1, max_length=2000)]
    #: Control first; weights in basis points summing to 10,000.
    variants: Annotated[list[VariantIn], Field(min_length=2, max_length=10)]
    primary_metric: MetricKey = "success_rate"
    guardrails: Annotated[
        list[MetricKey], Field(max_length=8, default_factory=lambda: list(DEFAULT_GUARDRAILS))
    ]
    #: Money metrics count payments in this currency (default: the base currency).
    currency: CurrencyCode | None = None

    def command(self) -> NewExperiment:
        return NewExperiment(
            key=self.key,
            flag_key=self.flag_key,
            hypothesis=self.hypothesis,
            variants=[(v.key, v.weight) for v in self.variants],
            primary_metric=self.primary_metric,
            guardrails=tuple(self.guardrails),
            currency=self.currency,
        )


class GuardrailsIn(Input):
    alpha: Annotated[float, Field(gt=0, lt=0.5)] = 0.05
    #: Roll back when the canary's p95 latency exceeds control's times this, plus the slack.
    max_latency_ratio: Annotated[float, Field(ge=1, le=100)] = 1.5
    latency_slack_ms: Annotated[float, Field(ge=0, le=600_000)] = 50.0
    #: Roll back when the canary's error rate exceeds control's by more than this.
    max_error_increase: Annotated[float, Field(ge=0, le=1)] = 0.01
    #: mSPRT mixing variance for success-rate differences.
    tau2: Annotated[float, Field(gt=0, le=1)] = 0.0025


class RolloutCreate(Input):
    flag_key: FlagKey
    canary: VariantKey
    control: VariantKey
    #: The canary's weight at each step, basis points, rising, ending at 10,000.
    steps: Annotated[
        list[BasisPoints],
        Field(min_length=2, max_length=20, default_factory=lambda: list(DEFAULT_STEPS)),
    ]
    min_step_seconds: Annotated[int, Field(strict=True, ge=0, le=30 * 86_400)] = 300
    min_sample: Annotated[int, Field(strict=True, ge=1, le=10_000_000)] = 100
    guardrails: GuardrailsIn | None = None

    def command(self) -> NewRollout:
        g = self.guardrails or GuardrailsIn()
        return NewRollout(
            flag_key=self.flag_key,
            canary=self.canary,
            control=self.control,
            steps=tuple(self.steps),
            min_step_seconds=self.min_step_seconds,
            min_sample=self.min_sample,
            guardrails=Guardrails(**g.model_dump()),
        )


class RolloutAction(Input):
    reason: Annotated[str, StringConstraints(min_length=1, max_length=500)] | None = None
