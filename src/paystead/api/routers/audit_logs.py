"""/v1/audit_logs: the hash-chained audit trail, newest first, and its verification."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from paystead.api.deps import CurrentKey, PageLimit, ServicesDep
from paystead.api.event_schemas import (
    AuditLogList,
    AuditLogOut,
    AuditVerificationOut,
    EventTypeName,
    before_end_of,
)
from paystead.api.schemas import LAST_SECOND, at
from paystead.audit.store import AuditFilter

router = APIRouter(prefix="/v1/audit_logs", tags=["audit"])


@router.get("", response_model=AuditLogList)
async def list_audit_logs(
    services: ServicesDep,
    api_key: CurrentKey,
    limit: PageLimit = 10,
    starting_after: Annotated[str | None, Query(max_length=40)] = None,
    actor: Annotated[
        str | None, Query(max_length=64, description="An API key id, cli or system")
    ] = None,
    action: Annotated[
        EventTypeName | None, Query(description="An action, or a family such as refund.*")
    ] = None,
    object_id: Annotated[str | None, Query(max_length=40)] = None,
    request_id: Annotated[str | None, Query(max_length=64)] = None,
    created_gte: Annotated[int | None, Query(alias="created[gte]", ge=0, le=LAST_SECOND)] = None,
    created_lte: Annotated[int | None, Query(alias="created[lte]", ge=0, le=LAST_SECOND)] = None,
) -> AuditLogList:
    found, has_more = await services.audit.list(
        AuditFilter(
            actor=actor,
            action=action,
            object_id=object_id,
            request_id=request_id,
            occurred_gte=at(created_gte),
            occurred_before=before_end_of(created_lte),
        ),
        limit=limit,
        starting_after=starting_after,
    )
    return AuditLogList(data=[AuditLogOut.of(r) for r in found], has_more=has_more)


@router.get("/verify", response_model=AuditVerificationOut)
async def verify_audit_logs(services: ServicesDep, api_key: CurrentKey) -> AuditVerificationOut:
    """Walk the whole hash chain; name the first record that was edited, deleted or moved."""
    return AuditVerificationOut.of(await services.audit.verify())
