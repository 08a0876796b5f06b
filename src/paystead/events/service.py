"""Reading the event log (``GET /v1/events``)."""

from __future__ import annotations

from paystead.events.outbox import Event, EventFilter, get_event, list_events
from paystead.platform.db import Database


class EventLog:
    def __init__(self, db: Database):
        self.db = db

    async def get(self, event_id: str) -> Event:
        async with self.db.transaction() as conn:
            return await get_event(conn, event_id)

    async def list(
        self, filters: EventFilter, *, limit: int, starting_after: str | None
    ) -> tuple[list[Event], bool]:
        async with self.db.transaction() as conn:
            return await list_events(conn, filters, limit=limit, starting_after=starting_after)
