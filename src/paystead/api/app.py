"""The ASGI application: routers, problem+json errors, a body size limit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paystead import __version__
from paystead.api import problems
from paystead.api.routers import customers, ledger, payments, refunds
from paystead.config import Settings, get_settings
from paystead.wiring import Services, build_services


class BodySizeLimit:
    """Answer 413 before parsing a body larger than the limit (declared or streamed)."""

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await self._reject(send)
                return
        seen = 0
        too_large = False

        async def limited_receive() -> Message:
            nonlocal seen, too_large
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    too_large = True
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _BodyTooLarge:
            await self._reject(send)

    async def _reject(self, send: Send) -> None:
        body = problems.problem(
            413,
            "body_too_large",
            "Request body too large",
            f"the request body exceeds {self.max_bytes} bytes",
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", problems.MEDIA_TYPE.encode()),
                    (b"content-length", str(len(body.body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": bytes(body.body)})


class _BodyTooLarge(Exception):
    pass


def create_app(settings: Settings | None = None, services: Services | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = services is None
        app.state.services = services or build_services(settings)
        try:
            yield
        finally:
            if owned:
                await app.state.services.close()

    app = FastAPI(
        title="paystead",
        version=__version__,
        description="Payments and billing with the post-launch optimization loop built in.",
        lifespan=lifespan,
    )
    if services is not None:
        app.state.services = services
    problems.install(app)
    for router in (customers.router, payments.router, refunds.router, ledger.router):
        app.include_router(router)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    return app
