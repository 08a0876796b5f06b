"""Response schemas for fraud screening (``GET /v1/payments/{id}/risk``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from paystead.api.schemas import unix
from paystead.risk.store import StoredAssessment


class RuleHitOut(BaseModel):
    rule: str = Field(description="e.g. amount_over_limit, customer_velocity, blocklisted")
    score: int
    reason: str


class RiskAssessmentOut(BaseModel):
    object: Literal["risk_assessment"] = "risk_assessment"
    id: str
    payment: str
    score: int = Field(description="sum of the fired rules' scores")
    decision: Literal["allow", "review", "block"]
    mode: Literal["shadow", "enforce"] = Field(
        description="shadow: recorded only; enforce: a block failed the payment"
    )
    rules: list[RuleHitOut]
    created: int = Field(description="Unix seconds")

    @classmethod
    def of(cls, a: StoredAssessment) -> RiskAssessmentOut:
        return cls(
            id=a.id,
            payment=a.payment_id,
            score=a.score,
            decision=a.decision.value,
            mode=a.mode.value,
            rules=[RuleHitOut(**hit) for hit in a.rules],
            created=unix(a.created_at),
        )
