"""Response schemas for the models (``/v1/customers/{id}/churn_risk``, ``/lifetime_value``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from paystead.api.schemas import unix
from paystead.models.churn import Prediction
from paystead.models.ltv import Segment


class ChurnRiskOut(BaseModel):
    object: Literal["churn_risk"] = "churn_risk"
    subscription: str
    probability: float = Field(description="probability the subscription ends by horizon_end")
    predicted_churn: bool = Field(description="probability at or above the model's threshold")
    model_version: str
    horizon_end: int = Field(description="Unix seconds")

    @classmethod
    def of(cls, p: Prediction) -> ChurnRiskOut:
        return cls(
            subscription=p.subscription_id,
            probability=round(p.probability, 4),
            predicted_churn=p.predicted_churn,
            model_version=p.model_version,
            horizon_end=unix(p.horizon_end),
        )


class ChurnRiskList(BaseModel):
    object: Literal["list"] = "list"
    customer: str
    data: list[ChurnRiskOut]


class LifetimeValueOut(BaseModel):
    object: Literal["lifetime_value"] = "lifetime_value"
    currency: str
    arpu_per_month: str = Field(description="minor units per month, decimal string")
    gross_margin: str | None
    monthly_churn: str | None
    ltv: int | None = Field(description="minor units; null when there is no churn to divide by")
    reason: str | None

    @classmethod
    def of(cls, s: Segment) -> LifetimeValueOut:
        d = s.to_dict()
        return cls(
            currency=s.currency,
            arpu_per_month=d["arpu_per_month"],
            gross_margin=d["gross_margin"],
            monthly_churn=d["monthly_churn"],
            ltv=s.ltv,
            reason=s.reason,
        )


class LifetimeValueList(BaseModel):
    object: Literal["list"] = "list"
    customer: str
    data: list[LifetimeValueOut]
