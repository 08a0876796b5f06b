"""/v1/events: the event log, newest first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from paystead.api.deps import CurrentKey, PageLimit, ServicesDep
from paystead.api.event_schemas import (
    EventList,
    EventOut,
    EventTypeName,
    before_end_of,
)
from paystead.api.schemas import LAST_SECOND, at
from paystead.events.outbox import EventFilter

router = APIRouter(prefix="/v1/events", tags=["events"])


@router.get("", response_model=EventList)
async def list_events(
    services: ServicesDep,
    api_key: CurrentKey,
    limit: PageLimit = 10,
    starting_after: Annotated[str | None, Query(max_length=40)] = None,
    type: Annotated[
        EventTypeName | None,
        Query(description="An event type, or a family such as payment.*"),
    ] = None,
    object_id: Annotated[
        str | None, Query(max_length=40, description="Events about this object")
    ] = None,
    created_gte: Annotated[int | None, Query(alias="created[gte]", ge=0, le=LAST_SECOND)] = None,
    created_lte: Annotated[int | None, Query(alias="created[lte]", ge=0, le=LAST_SECOND)] = None,
) -> EventList:
    found, has_more = await services.events.list(
        EventFilter(
            type=type,
            object_id=object_id,
            created_gte=at(created_gte),
            created_before=before_end_of(created_lte),
        ),
        limit=limit,
        starting_after=starting_after,
    )
    return EventList(data=[EventOut.of(e) for e in found], has_more=has_more)


@router.get("/{event_id}", response_model=EventOut)
async def get_event(event_id: str, services: ServicesDep, api_key: CurrentKey) -> EventOut:
    return EventOut.of(await services.events.get(event_id))
