"""Binds a request id and the caller's API key id for the duration of each request.

The outbox reads them when an event is recorded (``events.context``), which is how the
audit trail knows who did what in which request. The id is the caller's
``X-Request-Id`` when it is a sane token, a fresh ``req_...`` otherwise, and is sent
back as ``Request-Id`` on every response.
"""

from __future__ import annotations

import logging
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paystead.events.context import RequestContext, bound
from paystead.ids import new_id

log = logging.getLogger(__name__)

_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = None
        secret = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                candidate = value.decode("latin-1")
                request_id = candidate if _SANE_ID.match(candidate) else None
            elif name == b"authorization":
                scheme, _, token = value.decode("latin-1").partition(" ")
                secret = token.strip() if scheme.lower() == "bearer" else None
        context = RequestContext(request_id=request_id or new_id("req"))
        if secret:
            context.actor = await _actor(scope, secret) or context.actor
        header = (b"request-id", context.request_id.encode() if context.request_id else b"")

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), header]}
            await send(message)

        with bound(context):
            await self.app(scope, receive, send_with_id)


async def _actor(scope: Scope, secret: str) -> str | None:
    """The API key id behind ``secret``, if it is valid (the router rejects it otherwise).
    The verifier caches keys, so the router's own check costs nothing more."""
    services = getattr(scope["app"].state, "services", None)
    if services is None:
        return None
    try:
        key = await services.api_keys.verify(secret)
    except Exception:  # an invalid key: the router answers 401
        return None
    return str(key.id)
