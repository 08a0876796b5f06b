"""What every fake shares: a request log and scripted faults.

``script`` queues faults for the next matching requests:

* ``status=...`` answers with a canned status and body **without acting** (a 503 the
  provider sent before doing anything);
* ``delay=...`` alone lets the provider **act at once** and holds the answer back for
  ``delay`` seconds, past the client's timeout: the work was done but the answer was
  lost, which is how the idempotency tests prove a retry does not act twice.
"""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send


@dataclass
class Fault:
    method: str | None
    path_prefix: str | None
    status: int | None = None
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    times: int = 1

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or method == self.method) and (
            self.path_prefix is None or path.startswith(self.path_prefix)
        )


@dataclass
class LoggedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    query: str


class FakeProvider:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.faults: list[Fault] = []
        self.requests: list[LoggedRequest] = []

    def script(
        self,
        *,
        method: str | None = None,
        path_prefix: str | None = None,
        status: int | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
        delay: float = 0.0,
        times: int = 1,
    ) -> None:
        with self._lock:
            self.faults.append(
                Fault(method, path_prefix, status, body, headers or {}, delay, times)
            )

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.matches(method, path):
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                    return fault
        return None

    async def log(self, request: Request) -> None:
        self.requests.append(
            LoggedRequest(
                request.method,
                request.url.path,
                {k.lower(): v for k, v in request.headers.items()},
                await request.body(),
                request.url.query,
            )
        )

    def with_faults(self, app: ASGIApp) -> ASGIApp:
        """``app`` behind the scripted faults (an ASGI middleware)."""

        async def faulty(scope: Scope, receive: Receive, send: Send) -> None:
            fault = (
                self._take_fault(scope["method"], scope["path"])
                if scope["type"] == "http"
                else None
            )
            if fault is None:
                await app(scope, receive, send)
                return
            if fault.status is not None:
                await self.log(Request(scope, receive))
                await asyncio.sleep(fault.delay)
                body = (
                    fault.body if isinstance(fault.body, bytes) else json.dumps(fault.body).encode()
                )
                headers = [(b"content-type", b"application/json")] + [
                    (k.lower().encode(), v.encode()) for k, v in fault.headers.items()
                ]
                await send(
                    {"type": "http.response.start", "status": fault.status, "headers": headers}
                )
                await send({"type": "http.response.body", "body": body})
                return
            held: list[Message] = []

            async def hold(message: Message) -> None:
                held.append(message)

            await app(scope, receive, hold)  # the provider acts now...
            await asyncio.sleep(fault.delay)  # ...and the answer comes too late
            for message in held:
                await send(message)

        return faulty

    def requests_to(self, method: str, path_prefix: str) -> list[LoggedRequest]:
        return [r for r in self.requests if r.method == method and r.path.startswith(path_prefix)]
