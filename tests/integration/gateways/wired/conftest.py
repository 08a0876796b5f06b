"""paystead wired to the fake Razorpay and Stripe servers (real HTTP on loopback), on
SQLite and PostgreSQL, with the API in-process.

Webhook and Checkout signatures in these tests are computed here with ``hmac``, never
with paystead's own helpers.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from paystead.api.app import create_app
from paystead.config import Settings
from paystead.platform.apikeys import create_api_key
from paystead.wiring import Services, build_services
from tests.fakes.razorpay import FakeRazorpay
from tests.fakes.server import LiveServer
from tests.fakes.stripe import FakeStripe
from tests.integration.gateways.conftest import READ_TIMEOUT

RAZORPAY_WEBHOOK_SECRET = "rzp_webhook_secret_for_tests"
STRIPE_WEBHOOK_SECRET = "whsec_stripe_endpoint_secret_for_tests"


@pytest.fixture
def wired_settings(
    database_url: str,
    razorpay_fake: FakeRazorpay,
    razorpay_server: tuple[FakeRazorpay, LiveServer],
    stripe_fake: FakeStripe,
    stripe_server: tuple[FakeStripe, LiveServer],
) -> Settings:
    return Settings(
        database_url=database_url,
        razorpay_key_id=razorpay_fake.key_id,
        razorpay_key_secret=SecretStr(razorpay_fake.key_secret),
        razorpay_webhook_secret=SecretStr(RAZORPAY_WEBHOOK_SECRET),
        razorpay_api_url=razorpay_server[1].url,
        stripe_secret_key=SecretStr(stripe_fake.secret_key),
        stripe_webhook_secret=SecretStr(STRIPE_WEBHOOK_SECRET),
        stripe_api_url=stripe_server[1].url,
        gateway_read_timeout_seconds=READ_TIMEOUT,
        gateway_connect_timeout_seconds=2.0,
        routing_seed=2026,
        worker_embedded="off",
    )


@pytest.fixture
async def wired(wired_settings: Settings) -> AsyncIterator[Services]:
    services = build_services(wired_settings)
    try:
        yield services
    finally:
        await services.close()


async def api_client(services: Services) -> httpx.AsyncClient:
    _key, secret = await create_api_key(services.db, "wired-tests")
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(services.settings, services)),
        base_url="http://paystead.test",
        headers={"Authorization": f"Bearer {secret}"},
    )


@pytest.fixture
async def api(wired: Services) -> AsyncIterator[httpx.AsyncClient]:
    async with await api_client(wired) as client:
        yield client


# -- signatures, computed here with the standard library ----------------------------------


def hmac_hex(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def razorpay_headers(body: bytes, event_id: str, secret: str = RAZORPAY_WEBHOOK_SECRET) -> dict:
    return {
        "Content-Type": "application/json",
        "X-Razorpay-Signature": hmac_hex(secret, body),
        "x-razorpay-event-id": event_id,
    }


def stripe_headers(
    body: bytes, *, at: int | None = None, secret: str = STRIPE_WEBHOOK_SECRET
) -> dict:
    t = int(time.time()) if at is None else at
    signature = hmac_hex(secret, f"{t}.".encode() + body)
    return {"Content-Type": "application/json", "Stripe-Signature": f"t={t},v1={signature}"}


def body_of(envelope: dict[str, Any]) -> bytes:
    return json.dumps(envelope).encode()


async def browser_checkout(
    fake_url: str, order_id: str, outcome: str = "success"
) -> dict[str, str]:
    """What Razorpay Checkout hands the browser (the fake stands in for the browser)."""
    async with httpx.AsyncClient(base_url=fake_url) as browser:
        response = await browser.post(
            "/_test/checkout", json={"order_id": order_id, "outcome": outcome}
        )
    response.raise_for_status()
    return dict(response.json())
