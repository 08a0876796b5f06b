"""Bodies of /v1/events, /v1/webhook_endpoints and /v1/audit_logs (inputs and outputs
separate; the signing secret appears only in :class:`WebhookEndpointWithSecret`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from paystead.api.schemas import LAST_SECOND, Input, Metadata, Output, StrictBool, unix
from paystead.audit.chain import Verification
from paystead.audit.store import AuditRecord
from paystead.events.delivery import AttemptView, DeliveryView
from paystead.events.outbox import Event
from paystead.webhooks.endpoints import Replay, WebhookEndpoint

Timestamp = Annotated[int, Field(strict=True, ge=0, le=LAST_SECOND)]
EventTypeName = Annotated[str, StringConstraints(min_length=1, max_length=64)]


def before_end_of(ts: int | None) -> datetime | None:
    """``created[lte]=T`` (whole seconds) as an exclusive bound: before T + 1."""
    return None if ts is None or ts >= LAST_SECOND else datetime.fromtimestamp(ts + 1, UTC)


def _unix_or_none(moment: datetime | None) -> int | None:
    return None if moment is None else unix(moment)


# -- events -----------------------------------------------------------------------------


class EventData(Output):
    object: dict[str, Any]
    previous_attributes: dict[str, Any] | None = Field(
        description="The changed fields' values before the event; null for a creation"
    )


class EventRequest(Output):
    id: str


class EventOut(Output):
    id: str
    object: Literal["event"] = "event"
    type: str
    created: int
    timestamp: str = Field(description="RFC 3339, as Standard Webhooks payloads carry it")
    data: EventData
    request: EventRequest | None

    @classmethod
    def of(cls, event: Event) -> EventOut:
        return cls.model_validate(event.body())


class EventList(Output):
    object: Literal["list"] = "list"
    data: list[EventOut]
    has_more: bool
    url: str = "/v1/events"


# -- webhook endpoints ------------------------------------------------------------------

EndpointUrl = Annotated[str, StringConstraints(min_length=1, max_length=2048)]
EventList_ = Annotated[list[EventTypeName], Field(min_length=1, max_length=100)]
Description = Annotated[str, StringConstraints(max_length=500)]


class WebhookEndpointCreate(Input):
    url: EndpointUrl = Field(description="https://...; http only to loopback when allowed")
    events: EventList_ = Field(description="Event types to receive, or ['*'] for all")
    description: Description | None = None
    metadata: Metadata = Field(default_factory=dict)


class WebhookEndpointUpdate(Input):
    url: EndpointUrl | None = None
    events: EventList_ | None = None
    description: Description | None = None
    disabled: StrictBool | None = Field(default=None, description="true stops deliveries")
    metadata: Metadata | None = None


class RotateSecretRequest(Input):
    expires_in: Annotated[int, Field(strict=True, ge=0, le=7 * 86400)] | None = Field(
        default=None,
        description="Seconds the old secret keeps signing (default: the configured grace)",
    )


class ReplayRequest(Input):
    start: Timestamp = Field(alias="from", description="Unix seconds, inclusive")
    end: Timestamp = Field(alias="to", description="Unix seconds, inclusive")
    only_failed: StrictBool = Field(default=False, description="Only dead-lettered deliveries")


class WebhookEndpointOut(Output):
    id: str
    object: Literal["webhook_endpoint"] = "webhook_endpoint"
    url: str
    events: list[str]
    description: str | None
    status: Literal["enabled", "failing", "disabled"]
    metadata: dict[str, Any]
    created: int
    updated: int
    previous_secret_expires: int | None = Field(
        description="While set, deliveries also carry a signature with the previous secret"
    )

    @classmethod
    def of(cls, e: WebhookEndpoint) -> WebhookEndpointOut:
        return cls(**_endpoint_fields(e))


class WebhookEndpointWithSecret(WebhookEndpointOut):
    secret: str = Field(description="whsec_...: shown by create and rotate only")

    @classmethod
    def of(cls, e: WebhookEndpoint) -> WebhookEndpointWithSecret:
        return cls(**_endpoint_fields(e), secret=e.secret)


def _endpoint_fields(e: WebhookEndpoint) -> dict[str, Any]:
    return {
        "id": e.id,
        "url": e.url,
        "events": list(e.enabled_events),
        "description": e.description,
        "status": e.status,
        "metadata": dict(e.metadata),
        "created": unix(e.created_at),
        "updated": unix(e.updated_at),
        "previous_secret_expires": _unix_or_none(e.previous_secret_expires_at),
    }


class WebhookEndpointList(Output):
    object: Literal["list"] = "list"
    data: list[WebhookEndpointOut]
    has_more: bool
    url: str = "/v1/webhook_endpoints"


class WebhookEndpointDeleted(Output):
    id: str
    object: Literal["webhook_endpoint"] = "webhook_endpoint"
    deleted: Literal[True] = True


class WebhookReplayOut(BaseModel):
    model_config = ConfigDict(serialize_by_alias=True, validate_by_name=True)

    id: str
    object: Literal["webhook_replay"] = "webhook_replay"
    endpoint: str
    start: int = Field(alias="from")
    end: int = Field(alias="to")
    only_failed: bool
    count: int = Field(description="Events queued again")
    created: int

    @classmethod
    def of(cls, r: Replay) -> WebhookReplayOut:
        return cls(
            id=r.id,
            endpoint=r.endpoint_id,
            start=unix(r.start),
            end=unix(r.end),
            only_failed=r.only_failed,
            count=r.count,
            created=unix(r.created_at),
        )


class DeliveryOut(Output):
    id: str
    object: Literal["webhook_delivery"] = "webhook_delivery"
    endpoint: str | None
    event: str
    event_type: str
    status: Literal["pending", "succeeded", "dead", "canceled"]
    attempts: int
    next_attempt: int | None
    last_error: str | None
    created: int
    completed: int | None

    @classmethod
    def of(cls, d: DeliveryView) -> DeliveryOut:
        return cls(
            id=d.id,
            endpoint=d.endpoint_id,
            event=d.event_id,
            event_type=d.event_type,
            status=d.status,
            attempts=d.attempts,
            next_attempt=_unix_or_none(d.next_attempt_at),
            last_error=d.last_error,
            created=unix(d.created_at),
            completed=_unix_or_none(d.completed_at),
        )


class DeliveryList(Output):
    object: Literal["list"] = "list"
    data: list[DeliveryOut]
    has_more: bool
    url: str


class AttemptOut(Output):
    id: int
    object: Literal["webhook_attempt"] = "webhook_attempt"
    delivery: str
    event: str
    attempt: int
    succeeded: bool
    status_code: int | None
    latency_ms: int
    response_snippet: str | None
    error: str | None
    created: int

    @classmethod
    def of(cls, a: AttemptView) -> AttemptOut:
        return cls(
            id=a.id,
            delivery=a.delivery_id,
            event=a.event_id,
            attempt=a.attempt,
            succeeded=a.succeeded,
            status_code=a.status_code,
            latency_ms=a.latency_ms,
            response_snippet=a.response_snippet,
            error=a.error,
            created=unix(a.attempted_at),
        )


class AttemptList(Output):
    object: Literal["list"] = "list"
    data: list[AttemptOut]
    has_more: bool
    url: str


# -- audit logs -------------------------------------------------------------------------


class AuditLogOut(Output):
    id: str
    object: Literal["audit_log"] = "audit_log"
    seq: int
    actor: str = Field(description="The API key id, 'cli' or 'system'; never a secret")
    request_id: str | None
    action: str
    object_type: str
    object_id: str
    event: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    created: int
    prev_hash: str
    hash: str

    @classmethod
    def of(cls, r: AuditRecord) -> AuditLogOut:
        return cls(
            id=r.id,
            seq=r.seq,
            actor=r.actor,
            request_id=r.request_id,
            action=r.action,
            object_type=r.object_type,
            object_id=r.object_id,
            event=r.event_id,
            before=r.before,
            after=r.after,
            created=unix(r.occurred_at),
            prev_hash=r.prev_hash,
            hash=r.hash,
        )


class AuditLogList(Output):
    object: Literal["list"] = "list"
    data: list[AuditLogOut]
    has_more: bool
    url: str = "/v1/audit_logs"


class AuditVerificationOut(Output):
    object: Literal["audit_verification"] = "audit_verification"
    ok: bool
    checked: int
    head_seq: int
    head_hash: str
    bad_seq: int | None
    bad_id: str | None
    reason: str | None

    @classmethod
    def of(cls, v: Verification) -> AuditVerificationOut:
        return cls(
            ok=v.ok,
            checked=v.checked,
            head_seq=v.head_seq,
            head_hash=v.head_hash,
            bad_seq=v.bad_seq,
            bad_id=v.bad_id,
            reason=v.reason,
        )
