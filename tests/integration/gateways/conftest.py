"""Fake Razorpay and Stripe servers on loopback, and connectors pointed at them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from paystead.gateways.http import Timeouts
from paystead.gateways.razorpay import RazorpayGateway
from paystead.gateways.stripe import StripeGateway
from tests.fakes.razorpay import FakeRazorpay
from tests.fakes.server import LiveServer
from tests.fakes.stripe import FakeStripe

#: Short enough that the timeout tests are quick, long enough for a loaded CI machine.
READ_TIMEOUT = 1.0
#: How long a scripted slow answer takes: well past READ_TIMEOUT.
SLOW = 2.0


@pytest.fixture(scope="session")
def razorpay_server() -> Iterator[tuple[FakeRazorpay, LiveServer]]:
    fake = FakeRazorpay()
    server = LiveServer(fake.app).start()
    yield fake, server
    server.stop()


@pytest.fixture(scope="session")
def stripe_server() -> Iterator[tuple[FakeStripe, LiveServer]]:
    fake = FakeStripe()
    server = LiveServer(fake.app).start()
    yield fake, server
    server.stop()


@pytest.fixture
def razorpay_fake(razorpay_server: tuple[FakeRazorpay, LiveServer]) -> FakeRazorpay:
    fake, _ = razorpay_server
    fake.faults.clear()
    fake.requests.clear()
    fake.refund_status = "processed"
    return fake


@pytest.fixture
def stripe_fake(stripe_server: tuple[FakeStripe, LiveServer]) -> FakeStripe:
    fake, _ = stripe_server
    fake.faults.clear()
    fake.requests.clear()
    return fake


def timeouts() -> Timeouts:
    return Timeouts(connect=2.0, read=READ_TIMEOUT, write=2.0, pool=2.0)


@pytest.fixture
async def razorpay(
    razorpay_fake: FakeRazorpay, razorpay_server: tuple[FakeRazorpay, LiveServer]
) -> AsyncIterator[RazorpayGateway]:
    gateway = RazorpayGateway(
        key_id=razorpay_fake.key_id,
        key_secret=razorpay_fake.key_secret,
        api_url=razorpay_server[1].url,
        timeouts=timeouts(),
    )
    yield gateway
    await gateway.aclose()


@pytest.fixture
async def stripe(
    stripe_fake: FakeStripe, stripe_server: tuple[FakeStripe, LiveServer]
) -> AsyncIterator[StripeGateway]:
    gateway = StripeGateway(
        secret_key=stripe_fake.secret_key, api_url=stripe_server[1].url, timeouts=timeouts()
    )
    yield gateway
    await gateway.aclose()
