"""Real servers on loopback for the outbound tests: a webhook receiver, a fake Twilio
speaking its Messages API wire format, and an SMTP sink (aiosmtpd) to read mail back.

Each runs in a thread of the test process, so the code under test talks to it over
real sockets exactly as it would to the outside world.
"""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs

from aiosmtpd.controller import Controller


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


Reply = tuple[int, dict[str, str], bytes]


class LoopbackHTTP:
    """A threaded HTTP server on 127.0.0.1 whose every answer comes from ``answer``."""

    def __init__(self, answer: Callable[[Received, int], Reply], *, delay: float = 0.0):
        self.answer = answer
        self.delay = delay
        self.received: list[Received] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                request = Received(
                    "POST",
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length),
                )
                with outer.lock:
                    index = len(outer.received)
                    outer.received.append(request)
                if outer.delay:
                    time.sleep(outer.delay)
                status, headers, body = outer.answer(request, index)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def snapshot(self) -> list[Received]:
        with self.lock:
            return list(self.received)


class WebhookReceiver(LoopbackHTTP):
    """Answers 200, or ``fail_status`` for the first ``fail_first`` requests (or while
    ``failing`` is set), or redirects everything when ``redirect_to`` is given."""

    def __init__(
        self,
        *,
        fail_first: int = 0,
        fail_status: int = 500,
        delay: float = 0.0,
        redirect_to: str | None = None,
    ):
        self.fail_first = fail_first
        self.fail_status = fail_status
        self.failing = False
        self.redirect_to = redirect_to
        super().__init__(self._answer, delay=delay)

    @property
    def url(self) -> str:
        return self.base_url + "/hooks"

    def _answer(self, request: Received, index: int) -> Reply:
        if self.redirect_to is not None:
            return 307, {"location": self.redirect_to}, b""
        if self.failing or index < self.fail_first:
            return self.fail_status, {"content-type": "text/plain"}, b"receiver says no"
        return 200, {"content-type": "application/json"}, b'{"received":true}'

    def webhook_ids(self) -> list[str]:
        return [r.headers["webhook-id"] for r in self.snapshot()]


@dataclass
class FakeTwilio(LoopbackHTTP):
    """Twilio's ``POST /2010-04-01/Accounts/{sid}/Messages.json``: form-encoded ``To``,
    ``From`` or ``MessagingServiceSid``, ``Body``, HTTP basic auth; 201 with a message
    resource, or Twilio's JSON error. ``replies`` scripts the first answers."""

    account_sid: str = "AC" + "0" * 32
    replies: list[tuple[int, dict[str, Any]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(self._answer)

    def _answer(self, request: Received, index: int) -> Reply:
        expected = f"/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        if request.path != expected:
            return 404, {"content-type": "application/json"}, b'{"code": 20404, "status": 404}'
        if index < len(self.replies):
            status, body = self.replies[index]
        else:
            form = self.form(request)
            status, body = (
                201,
                {
                    "sid": f"SM{index:032d}",
                    "account_sid": self.account_sid,
                    "to": form["To"],
                    "from": form.get("From"),
                    "body": form["Body"],
                    "status": "queued",
                },
            )
        return status, {"content-type": "application/json"}, json.dumps(body).encode()

    @staticmethod
    def form(request: Received) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(request.body.decode()).items()}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SmtpSink:
    """A real SMTP server (aiosmtpd) on loopback that keeps every message it accepts;
    with ``refuse`` it answers ``550`` to every recipient instead."""

    def __init__(self, *, refuse: bool = False):
        self.refuse = refuse
        self.messages: list[bytes] = []
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if self.refuse:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(bytes(envelope.original_content or envelope.content))
        return "250 Message accepted for delivery"

    def __enter__(self) -> SmtpSink:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()

    def parsed(self) -> list[EmailMessage]:
        return [email.message_from_bytes(raw, policy=email.policy.default) for raw in self.messages]
