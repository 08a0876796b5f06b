"""/v1/payments/{id}/risk: the fraud screening assessment of a payment."""

from __future__ import annotations

from fastapi import APIRouter

from paystead.api.deps import CurrentKey, ServicesDep
from paystead.api.schemas_risk import RiskAssessmentOut

router = APIRouter(prefix="/v1/payments", tags=["risk"])


@router.get("/{payment_id}/risk", response_model=RiskAssessmentOut)
async def get_payment_risk(
    payment_id: str, services: ServicesDep, api_key: CurrentKey
) -> RiskAssessmentOut:
    """Score, fired rules, decision and mode of the payment's screening; 404 when the
    payment does not exist or was not screened (``payments.fraud_screening`` off)."""
    return RiskAssessmentOut.of(await services.risk.for_payment(payment_id))
