"""/v1/flags: manage feature flags (every change audited) and debug an evaluation."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from paystead.api.deps import CurrentKey, PageLimit, ServicesDep
from paystead.api.schemas_flags import (
    EvaluateIn,
    EvaluationOut,
    FlagChangeOut,
    FlagCreate,
    FlagHistory,
    FlagList,
    FlagOut,
    FlagUpdate,
)
from paystead.optimize.flags.evaluate import bucket, evaluate
from paystead.optimize.flags.model import Definition, check_key, parse_definition

router = APIRouter(prefix="/v1/flags", tags=["flags"])


def _merged(patch: dict[str, Any]) -> Any:
    def change(current: Definition) -> Definition:
        return parse_definition({**current.to_json(), **patch})

    return change


@router.post("", status_code=201, response_model=FlagOut)
async def create_flag(body: FlagCreate, services: ServicesDep, api_key: CurrentKey) -> FlagOut:
    """A boolean flag needs only a key: variants ``on``/``off``, serving ``off``."""
    key = check_key(body.key)
    definition = parse_definition(body.definition_patch())
    flag = await services.flags.create(
        key,
        definition,
        description=body.description,
        metadata=body.metadata,
        reason=body.reason,
    )
    return FlagOut.of(flag)


@router.get("", response_model=FlagList)
async def list_flags(
    services: ServicesDep,
    api_key: CurrentKey,
    limit: PageLimit = 100,
    starting_after: Annotated[str | None, Query(max_length=100)] = None,
) -> FlagList:
    found, has_more = await services.flags.list(limit=limit, starting_after=starting_after)
    return FlagList(data=[FlagOut.of(f) for f in found], has_more=has_more)


@router.get("/{key}", response_model=FlagOut)
async def get_flag(key: str, services: ServicesDep, api_key: CurrentKey) -> FlagOut:
    return FlagOut.of(await services.flags.get(key))


async def _update(key: str, body: FlagUpdate, services: ServicesDep) -> FlagOut:
    changes: dict[str, Any] = {}
    if "description" in body.model_fields_set:
        changes["description"] = body.description
    patch = body.definition_patch()
    flag = await services.flags.update(
        key,
        change=_merged(patch) if patch else None,
        metadata=body.metadata,
        reason=body.reason,
        **changes,
    )
    return FlagOut.of(flag)


@router.post("/{key}", response_model=FlagOut)
async def update_flag(
    key: str, body: FlagUpdate, services: ServicesDep, api_key: CurrentKey
) -> FlagOut:
    """Only the fields sent change; the definition is validated again as a whole."""
    return await _update(key, body, services)


@router.patch("/{key}", response_model=FlagOut)
async def patch_flag(
    key: str, body: FlagUpdate, services: ServicesDep, api_key: CurrentKey
) -> FlagOut:
    """The same as ``POST /v1/flags/{key}``."""
    return await _update(key, body, services)


@router.delete("/{key}", response_model=FlagOut)
async def delete_flag(
    key: str,
    services: ServicesDep,
    api_key: CurrentKey,
    reason: Annotated[str | None, Query(max_length=500)] = None,
) -> FlagOut:
    flag = await services.flags.delete(key, reason=reason)
    return FlagOut.of(flag, deleted=True)


@router.get("/{key}/history", response_model=FlagHistory)
async def flag_history(
    key: str,
    services: ServicesDep,
    api_key: CurrentKey,
    limit: PageLimit = 20,
) -> FlagHistory:
    """The flag's audit trail, newest first: who changed what, when and why."""
    changes = await services.flags.history(key, limit=limit)
    return FlagHistory(data=[FlagChangeOut.of(c) for c in changes])


@router.post("/{key}/evaluate", response_model=EvaluationOut)
async def evaluate_flag(
    key: str, services: ServicesDep, api_key: CurrentKey, body: EvaluateIn | None = None
) -> EvaluationOut:
    """Debug: what the flag as stored now serves this subject, why, and its bucket."""
    body = body or EvaluateIn()
    flag = await services.flags.get(key)
    resolution = evaluate(flag, body.targeting_key, body.attributes)
    point = (
        bucket(flag.key, flag.definition.salt, body.targeting_key) if body.targeting_key else None
    )
    return EvaluationOut.of(flag, resolution, point)
