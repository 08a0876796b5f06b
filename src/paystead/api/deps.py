"""Typed dependencies shared by the routers: services, the caller's API key, idempotency."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Depends, Header, Query, Request
from pydantic import BaseModel
from starlette.responses import Response

from paystead.errors import InvalidInput
from paystead.platform.apikeys import ApiKey
from paystead.platform.idempotency import (
    Idempotency,
    IdempotencyClaim,
    NoIdempotency,
    StoredResponse,
    fingerprint,
)
from paystead.wiring import Services


async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def current_api_key(
    services: ServicesDep,
    authorization: Annotated[str | None, Header()] = None,
) -> ApiKey:
    secret = None
    if authorization is not None:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer":
            secret = value.strip()
    return await services.api_keys.verify(secret)


CurrentKey = Annotated[ApiKey, Depends(current_api_key)]
IdempotencyKeyHeader = Annotated[str | None, Header(alias="Idempotency-Key")]


def json_response(status: int, body: BaseModel) -> StoredResponse:
    return StoredResponse(status, body.model_dump_json().encode())


def idempotency(
    request: Request,
    services: Services,
    api_key: ApiKey,
    key: str | None,
    params: BaseModel | None,
    render: Callable[[Any], StoredResponse],
) -> Idempotency:
    """A claim on ``Idempotency-Key`` for this request, or a no-op without the header."""
    if key is None:
        return NoIdempotency()
    if not 1 <= len(key) <= 255 or not key.isprintable():
        raise InvalidInput(
            "Idempotency-Key must be 1 to 255 printable characters", param="Idempotency-Key"
        )
    payload = params.model_dump(mode="json", exclude_unset=True) if params is not None else {}
    return IdempotencyClaim(
        api_key_id=api_key.id,
        key=key,
        fingerprint=fingerprint(request.method, request.scope["path"], payload),
        render=render,
        lock_timeout=timedelta(seconds=services.settings.idempotency_lock_seconds),
        now=services.clock,
    )


def respond(idem: Idempotency, fresh: Callable[[], StoredResponse]) -> Response:
    """The response the claim recorded (so the first answer equals every replay)."""
    stored = idem.response if isinstance(idem, IdempotencyClaim) and idem.response else fresh()
    return Response(stored.body, status_code=stored.status, media_type="application/json")


#: ``?limit=`` of every list endpoint: 1 to 100 objects a page.
PageLimit = Annotated[int, Query(ge=1, le=100)]
#: ``?starting_after=`` of cursor-paginated lists: the last id of the previous page.
StartingAfter = Annotated[str | None, Query(max_length=40)]
