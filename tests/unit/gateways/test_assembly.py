"""Gateways are enabled by their keys, each behind its own breaker, routed by settings."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from paystead.config import Settings
from paystead.gateways.assembly import build_gateway_stack
from paystead.gateways.razorpay import RazorpayGateway
from paystead.gateways.resilience import GuardedGateway
from paystead.gateways.stripe import StripeGateway


async def test_only_the_sandbox_without_keys() -> None:
    stack = build_gateway_stack(Settings())
    assert set(stack.gateways) == {"sandbox"}
    assert stack.router.table.default == ("sandbox",)
    await stack.aclose()


async def test_keys_enable_gateways_with_their_settings() -> None:
    settings = Settings(
        razorpay_key_id="rzp_test_x",
        razorpay_key_secret=SecretStr("s"),
        razorpay_refund_speed="optimum",
        stripe_secret_key=SecretStr("sk_test_x"),
        gateway_fee_percent={"stripe": "2.9", "razorpay": "2"},
        gateway_read_timeout_seconds=7,
        breaker_failure_threshold=9,
        routing_exploration=0.05,
    )
    stack = build_gateway_stack(settings)
    try:
        assert set(stack.gateways) == {"sandbox", "razorpay", "stripe"}
        assert all(isinstance(g, GuardedGateway) for g in stack.gateways.values())
        assert stack.gateways["razorpay"].breaker is stack.breakers["razorpay"]
        assert stack.breakers["stripe"].config.failure_threshold == 9
        assert stack.router.table.default == ("razorpay", "stripe")
        assert stack.router.exploration == 0.05
        razorpay = stack.connectors["razorpay"]
        assert isinstance(razorpay, RazorpayGateway)
        assert razorpay.refund_speed == "optimum"
        assert razorpay.client._http.timeout.read == 7
        assert isinstance(stack.connectors["stripe"], StripeGateway)
    finally:
        await stack.aclose()


@pytest.mark.parametrize("secret", ["", "  "])
def test_blank_keys_do_not_enable(secret: str) -> None:
    settings = Settings(razorpay_key_id="rzp_test_x", razorpay_key_secret=SecretStr(secret))
    assert not settings.razorpay_enabled


async def test_the_sandbox_can_be_left_out() -> None:
    alone = build_gateway_stack(Settings(sandbox_enabled=False))
    assert alone.gateways == {} and alone.router.table.default == ()
    settings = Settings(
        sandbox_enabled=False, razorpay_key_id="rzp_test_x", razorpay_key_secret=SecretStr("s")
    )
    stack = build_gateway_stack(settings)
    try:
        assert set(stack.gateways) == {"razorpay"}
        assert stack.router.table.default == ("razorpay",)
    finally:
        await stack.aclose()
