"""/v1/routing: the effective routing configuration, read-only."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from paystead.api.deps import CurrentKey, ServicesDep

router = APIRouter(prefix="/v1/routing", tags=["routing"])


@router.get("")
async def get_routing(services: ServicesDep, api_key: CurrentKey) -> dict[str, Any]:
    """``PAYSTEAD_ROUTING_RULES`` as loaded (first match wins), the default order used
    when no rule matches, and the enabled gateways."""
    stack = services.gateways
    router_ = stack.router
    return {
        "object": "routing",
        **router_.table.to_dict(),
        "gateways": sorted(stack.gateways),
        "exploration": router_.exploration,
        "window_seconds": router_.window_seconds,
        "cost_tie_margin": router_.cost_tie_margin,
    }
