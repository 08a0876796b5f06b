"""/v1/webhooks/{gateway}: events the payment gateways send us.

No API key: each request is authenticated by its signature over the **raw** body
(``X-Razorpay-Signature`` with the Razorpay webhook secret; ``Stripe-Signature`` with the
endpoint secret and a timestamp tolerance). A wrong or missing signature is 400 and a
body that is not the documented JSON is 400 (over ``PAYSTEAD_MAX_BODY_BYTES``: 413),
all before anything is stored. A verified event is stored once and applied
(``payments/inbound.py``); a redelivery answers 200 ``ignored_duplicate``.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request

from paystead.api.deps import ServicesDep
from paystead.api.schemas import Output
from paystead.errors import NotFound
from paystead.events.context import RequestContext, bound, current
from paystead.gateways.events import GatewayEvent
from paystead.gateways.razorpay import webhooks as razorpay_webhooks
from paystead.gateways.stripe import webhooks as stripe_webhooks
from paystead.payments.inbound import Received
from paystead.wiring import Services

router = APIRouter(prefix="/v1/webhooks", tags=["gateway webhooks"])


class WebhookReceipt(Output):
    object: Literal["gateway_event_receipt"] = "gateway_event_receipt"
    received: bool = True
    #: ``applied``, ``ignored_duplicate``, ``ignored_stale``, ``ignored_not_final``,
    #: ``ignored``, ``mismatch`` or ``unmatched``.
    outcome: str
    payment: str | None
    refund: str | None
    detail: str | None

    @classmethod
    def of(cls, received: Received) -> WebhookReceipt:
        return cls(
            outcome=received.outcome,
            payment=received.payment_id,
            refund=received.refund_id,
            detail=received.detail,
        )


def _secrets(secrets: list[str], gateway: str) -> list[str]:
    if not secrets:
        raise NotFound("webhook endpoint", gateway)  # not configured: nothing listens here
    return secrets


async def _receive(services: Services, event: GatewayEvent, body: bytes) -> WebhookReceipt:
    # The changes an event makes are the gateway's doing: the audit trail says so.
    context = RequestContext(request_id=current().request_id, actor=f"gateway:{event.gateway}")
    with bound(context):
        return WebhookReceipt.of(await services.inbound.receive(event, body))


@router.post("/razorpay", response_model=WebhookReceipt)
async def razorpay_webhook(request: Request, services: ServicesDep) -> WebhookReceipt:
    secrets = _secrets(services.settings.razorpay_webhook_secrets, "razorpay")
    body = await request.body()
    event = razorpay_webhooks.verify_and_parse(body, request.headers, secrets)
    return await _receive(services, event, body)


@router.post("/stripe", response_model=WebhookReceipt)
async def stripe_webhook(request: Request, services: ServicesDep) -> WebhookReceipt:
    settings = services.settings
    secrets = _secrets(settings.stripe_webhook_secrets, "stripe")
    body = await request.body()
    event = stripe_webhooks.verify_and_parse(
        body,
        request.headers,
        secrets,
        tolerance=settings.stripe_webhook_tolerance_seconds,
        clock=lambda: services.clock().timestamp(),
    )
    return await _receive(services, event, body)
