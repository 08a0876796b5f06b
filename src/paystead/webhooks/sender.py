"""Attempting one webhook delivery: sign, POST, time it, keep a snippet of the answer.

Any 2xx is a success; anything else (3xx included: redirects are never followed, to
another host or the same one), a timeout or a connection error is a failure worth
retrying on the schedule. The body is the event exactly as ``GET /v1/events/{id}``
shows it, and ``webhook-id`` is the event id, so every retry and replay of an event
carries the same id and receivers can de-duplicate on it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

import httpx
import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from paystead import __version__
from paystead.events.delivery import AttemptResult, Channel, Job
from paystead.webhooks import signing
from paystead.webhooks.endpoints import DISABLED, ENABLED, FAILING, set_status

SNIPPET_BYTES = 1000


def event_bytes(job: Job) -> bytes:
    return orjson.dumps(job.event.body())


class WebhookChannel:
    """The ``webhook`` channel of the worker."""

    channel = Channel.WEBHOOK

    def __init__(
        self,
        *,
        clock: Callable[[], datetime],
        schedule: list[float],
        timeout_seconds: float = 5.0,
        client: httpx.AsyncClient | None = None,
    ):
        self.clock = clock
        self.schedule = schedule
        self._owned = client is None
        self.client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_seconds),
            follow_redirects=False,
            headers={"user-agent": f"paystead-webhooks/{__version__}"},
            # A merchant's endpoint is not ours to proxy through: ignore *_PROXY variables.
            trust_env=False,
        )

    async def attempt(self, job: Job) -> AttemptResult:
        endpoint = job.endpoint
        if endpoint is None or endpoint["deleted_at"] is not None or endpoint["status"] == DISABLED:
            return AttemptResult(
                False, "", cancel=True, error="the endpoint was disabled or deleted"
            )
        destination = str(endpoint["id"])
        now = self.clock()
        secrets = [endpoint["secret"]]
        expires = endpoint["previous_secret_expires_at"]
        if endpoint["previous_secret"] and expires is not None and expires > now:
            secrets.append(endpoint["previous_secret"])
        body = event_bytes(job)
        headers = signing.headers(secrets, job.event.id, now, body)
        headers["content-type"] = "application/json"
        started = time.perf_counter()
        try:
            async with self.client.stream(
                "POST", endpoint["url"], content=body, headers=headers
            ) as response:
                snippet = b""
                async for chunk in response.aiter_bytes():
                    snippet += chunk
                    if len(snippet) >= SNIPPET_BYTES:
                        break
        except httpx.TimeoutException:
            return AttemptResult(
                False, destination, _ms(started), error="timed out waiting for the endpoint"
            )
        except httpx.HTTPError as exc:
            return AttemptResult(
                False, destination, _ms(started), error=f"{type(exc).__name__}: {exc}"[:500]
            )
        text = snippet[:SNIPPET_BYTES].decode("utf-8", errors="replace")
        ok = 200 <= response.status_code < 300
        error = None
        if not ok:
            error = f"the endpoint answered HTTP {response.status_code}"
            if response.is_redirect:
                error += " (a redirect: webhooks do not follow redirects)"
        return AttemptResult(ok, destination, _ms(started), response.status_code, text, error)

    async def succeeded(self, conn: AsyncConnection, job: Job) -> None:
        if job.endpoint is not None:
            await set_status(conn, job.endpoint["id"], ENABLED)

    async def dead_lettered(self, conn: AsyncConnection, job: Job) -> None:
        if job.endpoint is not None:
            await set_status(conn, job.endpoint["id"], FAILING)

    async def close(self) -> None:
        if self._owned:
            await self.client.aclose()


def _ms(started: float) -> int:
    return max(0, round((time.perf_counter() - started) * 1000))
