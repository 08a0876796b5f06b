"""/v1/customers/{id}/churn_risk and /lifetime_value: the models' answers for a customer."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from paystead.api.deps import CurrentKey, ServicesDep
from paystead.api.schemas_models import (
    ChurnRiskList,
    ChurnRiskOut,
    LifetimeValueList,
    LifetimeValueOut,
)

router = APIRouter(prefix="/v1/customers", tags=["models"])


@router.get("/{customer_id}/churn_risk", response_model=ChurnRiskList)
async def get_churn_risk(
    customer_id: str, services: ServicesDep, api_key: CurrentKey
) -> ChurnRiskList:
    """The churn model's probability for each of the customer's active subscriptions,
    computed now (404 unknown customer; 409 ``model_unavailable`` before a churn model
    is trained)."""
    predictions = await services.models.churn_risk(customer_id)
    return ChurnRiskList(customer=customer_id, data=[ChurnRiskOut.of(p) for p in predictions])


@router.get("/{customer_id}/lifetime_value", response_model=LifetimeValueList)
async def get_lifetime_value(
    customer_id: str,
    services: ServicesDep,
    api_key: CurrentKey,
    days: Annotated[int, Query(ge=7, le=730, description="trailing window")] = 90,
) -> LifetimeValueList:
    """The customer's LTV per currency: their net revenue per month x the segment's
    gross margin / its monthly churn (docs/models.md)."""
    segments = await services.models.lifetime_value(customer_id, days)
    return LifetimeValueList(customer=customer_id, data=[LifetimeValueOut.of(s) for s in segments])
