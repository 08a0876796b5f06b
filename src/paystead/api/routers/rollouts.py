"""/v1/rollouts: canary rollouts of a flag variant, promoted or rolled back automatically."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path
from starlette.responses import JSONResponse

from paystead.api.deps import CurrentKey, ServicesDep
from paystead.api.schemas import unix
from paystead.api.schemas_experiments import RolloutAction, RolloutCreate
from paystead.optimize.rollouts import Rollout, rollout_object

router = APIRouter(prefix="/v1/rollouts", tags=["experiments"])

IdPath = Annotated[str, Path(min_length=1, max_length=40)]


def _out(rollout: Rollout, decisions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    shown = rollout_object(rollout)
    if decisions is not None:
        shown["decisions"] = [{**d, "decided_at": unix(d["decided_at"])} for d in decisions]
    return shown


@router.post("", status_code=201)
async def create_rollout(
    body: RolloutCreate, services: ServicesDep, api_key: CurrentKey
) -> JSONResponse:
    """Start a canary at its first step. One active rollout per flag (else 409)."""
    created = await services.rollouts.create(body.command(), actor=f"api_key:{api_key.id}")
    return JSONResponse(_out(created), status_code=201)


@router.get("")
async def list_rollouts(
    services: ServicesDep,
    api_key: CurrentKey,
    status: Literal["running", "paused", "completed", "rolled_back", "aborted"] | None = None,
) -> dict[str, Any]:
    found = await services.rollouts.all(status)
    return {"object": "list", "data": [_out(r) for r in found], "has_more": False}


@router.get("/{rollout_id}")
async def get_rollout(
    rollout_id: IdPath, services: ServicesDep, api_key: CurrentKey
) -> dict[str, Any]:
    """The rollout with every decision it took and why."""
    rollout = await services.rollouts.get(rollout_id)
    return _out(rollout, await services.rollouts.decisions(rollout_id))


@router.post("/{rollout_id}/tick")
async def tick_rollout(
    rollout_id: IdPath, services: ServicesDep, api_key: CurrentKey
) -> dict[str, Any]:
    """Evaluate the rollout now (the server also does so every minute)."""
    decision = await services.rollouts.tick(rollout_id, actor=f"api_key:{api_key.id}")
    rollout = await services.rollouts.get(rollout_id)
    shown = _out(rollout)
    shown["decision"] = {**asdict(decision), "action": decision.action.value}
    return shown


async def _action(
    verb: Literal["pause", "resume", "abort"],
    rollout_id: str,
    body: RolloutAction | None,
    services: ServicesDep,
) -> dict[str, Any]:
    reason = body.reason if body is not None and body.reason else None
    method = getattr(services.rollouts, verb)
    rollout: Rollout = await (method(rollout_id, reason) if reason else method(rollout_id))
    return _out(rollout)


@router.post("/{rollout_id}/pause")
async def pause_rollout(
    rollout_id: IdPath,
    services: ServicesDep,
    api_key: CurrentKey,
    body: RolloutAction | None = None,
) -> dict[str, Any]:
    """Stop ticking; the weights stay where they are."""
    return await _action("pause", rollout_id, body, services)


@router.post("/{rollout_id}/resume")
async def resume_rollout(
    rollout_id: IdPath,
    services: ServicesDep,
    api_key: CurrentKey,
    body: RolloutAction | None = None,
) -> dict[str, Any]:
    """Tick again; the current step's minimum duration starts over."""
    return await _action("resume", rollout_id, body, services)


@router.post("/{rollout_id}/abort")
async def abort_rollout(
    rollout_id: IdPath,
    services: ServicesDep,
    api_key: CurrentKey,
    body: RolloutAction | None = None,
) -> dict[str, Any]:
    """Send all traffic back to control and end the rollout."""
    return await _action("abort", rollout_id, body, services)
