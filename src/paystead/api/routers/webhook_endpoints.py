"""/v1/webhook_endpoints: endpoints, secret rotation, replay, deliveries and attempts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from paystead.api.deps import (
    CurrentKey,
    IdempotencyKeyHeader,
    PageLimit,
    ServicesDep,
    idempotency,
    json_response,
    respond,
)
from paystead.api.event_schemas import (
    AttemptList,
    AttemptOut,
    DeliveryList,
    DeliveryOut,
    ReplayRequest,
    RotateSecretRequest,
    WebhookEndpointCreate,
    WebhookEndpointDeleted,
    WebhookEndpointList,
    WebhookEndpointOut,
    WebhookEndpointUpdate,
    WebhookEndpointWithSecret,
    WebhookReplayOut,
)
from paystead.api.schemas import at
from paystead.events.delivery import DeliveryStatus
from paystead.platform.idempotency import StoredResponse
from paystead.webhooks.endpoints import Replay, WebhookEndpoint

router = APIRouter(prefix="/v1/webhook_endpoints", tags=["webhooks"])


def _render(status: int, model: Callable[[Any], Any]) -> Callable[[Any], StoredResponse]:
    def render(result: Any) -> StoredResponse:
        return json_response(status, model(result))

    return render


def _with_secret(status: int) -> Callable[[WebhookEndpoint], StoredResponse]:
    return _render(status, WebhookEndpointWithSecret.of)


@router.post("", status_code=201, response_model=WebhookEndpointWithSecret)
async def create_webhook_endpoint(
    body: WebhookEndpointCreate,
    request: Request,
    services: ServicesDep,
    api_key: CurrentKey,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    """Returns the ``whsec_...`` signing secret: the only time it is shown (with rotate)."""
    render = _with_secret(201)
    idem = idempotency(request, services, api_key, idempotency_key, body, render)
    endpoint = await services.webhooks.create(
        url=body.url,
        enabled_events=body.events,
        description=body.description,
        metadata=body.metadata,
        idem=idem,
    )
    return respond(idem, lambda: render(endpoint))


@router.get("", response_model=WebhookEndpointList)
async def list_webhook_endpoints(
    services: ServicesDep,
    api_key: CurrentKey,
    limit: PageLimit = 10,
    starting_after: Annotated[str | None, Query(max_length=40)] = None,
) -> WebhookEndpointList:
    found, has_more = await services.webhooks.list(limit=limit, starting_after=starting_after)
    return WebhookEndpointList(data=[WebhookEndpointOut.of(e) for e in found], has_more=has_more)


@router.get("/{endpoint_id}", response_model=WebhookEndpointOut)
async def get_webhook_endpoint(
    endpoint_id: str, services: ServicesDep, api_key: CurrentKey
) -> WebhookEndpointOut:
    return WebhookEndpointOut.of(await services.webhooks.get(endpoint_id))


@router.post("/{endpoint_id}", response_model=WebhookEndpointOut)
async def update_webhook_endpoint(
    endpoint_id: str,
    body: WebhookEndpointUpdate,
    request: Request,
    services: ServicesDep,
    api_key: CurrentKey,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    render = _render(200, WebhookEndpointOut.of)
    idem = idempotency(request, services, api_key, idempotency_key, body, render)
    changes: dict[str, Any] = {}
    if "url" in body.model_fields_set and body.url is not None:
        changes["url"] = body.url
    if "description" in body.model_fields_set:
        changes["description"] = body.description
    endpoint = await services.webhooks.update(
        endpoint_id,
        enabled_events=body.events,
        disabled=body.disabled,
        metadata=body.metadata,
        idem=idem,
        **changes,
    )
    return respond(idem, lambda: render(endpoint))


@router.delete("/{endpoint_id}", response_model=WebhookEndpointDeleted)
async def delete_webhook_endpoint(
    endpoint_id: str, services: ServicesDep, api_key: CurrentKey
) -> WebhookEndpointDeleted:
    endpoint = await services.webhooks.delete(endpoint_id)
    return WebhookEndpointDeleted(id=endpoint.id)


@router.post("/{endpoint_id}/rotate_secret", response_model=WebhookEndpointWithSecret)
async def rotate_webhook_secret(
    endpoint_id: str,
    request: Request,
    services: ServicesDep,
    api_key: CurrentKey,
    body: RotateSecretRequest | None = None,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    """A new secret; the old one keeps signing too until ``previous_secret_expires``."""
    render = _with_secret(200)
    idem = idempotency(request, services, api_key, idempotency_key, body, render)
    grace = None
    if body is not None and body.expires_in is not None:
        grace = timedelta(seconds=body.expires_in)
    endpoint = await services.webhooks.rotate_secret(endpoint_id, grace=grace, idem=idem)
    return respond(idem, lambda: render(endpoint))


@router.post("/{endpoint_id}/replay", status_code=201, response_model=WebhookReplayOut)
async def replay_webhooks(
    endpoint_id: str,
    body: ReplayRequest,
    request: Request,
    services: ServicesDep,
    api_key: CurrentKey,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    """Queue the events of ``[from, to]`` again for this endpoint, same ``webhook-id``s."""
    render: Callable[[Replay], StoredResponse] = _render(201, WebhookReplayOut.of)
    idem = idempotency(request, services, api_key, idempotency_key, body, render)
    start, end = at(body.start), at(body.end)
    assert start is not None and end is not None
    replay = await services.webhooks.replay(
        endpoint_id, start=start, end=end, only_failed=body.only_failed, idem=idem
    )
    return respond(idem, lambda: render(replay))


@router.get("/{endpoint_id}/deliveries", response_model=DeliveryList)
async def list_webhook_deliveries(
    endpoint_id: str,
    services: ServicesDep,
    api_key: CurrentKey,
    limit: PageLimit = 10,
    starting_after: Annotated[str | None, Query(max_length=40)] = None,
    status: Annotated[
        DeliveryStatus | None, Query(description="dead: the dead-letter list")
    ] = None,
    event: Annotated[str | None, Query(max_length=40)] = None,
) -> DeliveryList:
    found, has_more = await services.webhooks.deliveries(
        endpoint_id, status=status, event_id=event, limit=limit, starting_after=starting_after
    )
    return DeliveryList(
        data=[DeliveryOut.of(d) for d in found],
        has_more=has_more,
        url=f"/v1/webhook_endpoints/{endpoint_id}/deliveries",
    )


@router.get("/{endpoint_id}/attempts", response_model=AttemptList)
async def list_webhook_attempts(
    endpoint_id: str,
    services: ServicesDep,
    api_key: CurrentKey,
    limit: PageLimit = 10,
    starting_after: Annotated[int | None, Query(ge=0, le=2**62)] = None,
    delivery: Annotated[str | None, Query(max_length=40)] = None,
) -> AttemptList:
    """Every attempt: HTTP status, latency and the first kilobyte of the answer."""
    found, has_more = await services.webhooks.attempts(
        endpoint_id, delivery_id=delivery, limit=limit, starting_after=starting_after
    )
    return AttemptList(
        data=[AttemptOut.of(a) for a in found],
        has_more=has_more,
        url=f"/v1/webhook_endpoints/{endpoint_id}/attempts",
    )
