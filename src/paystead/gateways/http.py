"""HTTP plumbing shared by the connectors: explicit timeouts and transport errors.

Every connector talks to its provider through one ``httpx.AsyncClient`` with explicit
timeouts (never httpx's defaults), and turns a failure to get an answer into the two
retryable errors of :mod:`paystead.gateways.base`:

==========================================  ===================================
what happened                               raised
==========================================  ===================================
connection refused, connect or pool timeout  ``GatewayTransient`` (not sent: safe
                                            to try another gateway)
read or write timeout, connection dropped   ``GatewayOutcomeUnknown`` (may have
mid-request                                 acted: retry with the same key)
==========================================  ===================================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from paystead.errors import GatewayError, GatewayTransient
from paystead.gateways.base import GatewayOutcomeUnknown


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds allowed for each phase of one gateway call."""

    connect: float = 5.0
    read: float = 30.0
    write: float = 10.0
    pool: float = 5.0

    def to_httpx(self) -> httpx.Timeout:
        return httpx.Timeout(connect=self.connect, read=self.read, write=self.write, pool=self.pool)


def build_client(
    base_url: str,
    timeouts: Timeouts,
    *,
    headers: dict[str, str] | None = None,
    auth: httpx.Auth | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=base_url.rstrip("/"),
        timeout=timeouts.to_httpx(),
        headers=headers,
        auth=auth,
        transport=transport,
        follow_redirects=False,
    )


async def send(
    client: httpx.AsyncClient, request: httpx.Request, *, gateway: str
) -> httpx.Response:
    """Send ``request``; a failure to get any HTTP answer raises a retryable error."""
    try:
        return await client.send(request)
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
        raise GatewayTransient(
            f"{gateway} could not be reached: {type(exc).__name__}", code="gateway_unreachable"
        ) from exc
    except httpx.TimeoutException as exc:
        raise GatewayOutcomeUnknown(
            f"{gateway} did not answer in time ({type(exc).__name__}); the call may have "
            "taken effect: retry with the same idempotency key or fetch the status",
            code="gateway_timeout",
        ) from exc
    except httpx.TransportError as exc:
        raise GatewayOutcomeUnknown(
            f"the connection to {gateway} failed mid-request ({type(exc).__name__})",
            code="gateway_connection_lost",
        ) from exc


def json_body(response: httpx.Response, *, gateway: str) -> dict[str, Any]:
    """The response's JSON object, or ``GatewayError`` if it is not one."""
    try:
        body = response.json()
    except ValueError as exc:
        raise GatewayError(
            f"{gateway} answered HTTP {response.status_code} with a body that is not JSON",
            code="gateway_response_invalid",
        ) from exc
    if not isinstance(body, dict):
        raise GatewayError(
            f"{gateway} answered HTTP {response.status_code} with JSON that is not an object",
            code="gateway_response_invalid",
        )
    return body
