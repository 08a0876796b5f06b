"""Request metrics as a pure ASGI middleware (Starlette's BaseHTTPMiddleware is slow).

Outermost in the stack, so the time covers everything the server does for a request.
The route label is the template of the route the router matched (Starlette leaves it in
``scope["route"]``, the same dict this middleware holds), so ids in paths never make new
series; a path no route matched is ``unmatched``. The status is the one sent; a request
that raised before sending counts as 500.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paystead.telemetry.recorder import UNMATCHED, Telemetry


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, telemetry: Telemetry):
        self.app = app
        self.telemetry = telemetry

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        def send_with_status(message: Message) -> Awaitable[None]:  # no coroutine of its own
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            return send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            route = scope.get("route")
            self.telemetry.request(
                scope["method"],
                getattr(route, "path", None) or UNMATCHED,
                status,
                time.perf_counter() - started,
            )
