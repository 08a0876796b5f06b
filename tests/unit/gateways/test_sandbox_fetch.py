"""The sandbox's status fetches replay its last answer per reference (this process)."""

from __future__ import annotations

import pytest

from paystead.errors import GatewayError
from paystead.gateways.base import AuthorizeRequest, Outcome
from paystead.gateways.sandbox import SandboxGateway
from paystead.money import Money

INR = Money(10_000, "INR")


async def test_fetch_follows_the_payment_through_its_states() -> None:
    gw = SandboxGateway(delay_ms=0)
    auth = await gw.authorize(AuthorizeRequest(INR, "pm_card_visa", False, "pay_1:authorize"))
    assert auth.reference is not None
    assert (await gw.fetch_payment(auth.reference)).outcome is Outcome.AUTHORIZED
    await gw.capture(auth.reference, INR, idempotency_key="pay_1:capture")
    fetched = await gw.fetch_payment(auth.reference)
    assert fetched.outcome is Outcome.CAPTURED
    assert fetched.fee == Money(200, "INR")
    refund = await gw.refund(auth.reference, INR, idempotency_key="re_1")
    assert refund.reference is not None
    assert (await gw.fetch_refund(refund.reference)).outcome is Outcome.REFUNDED


async def test_a_decline_is_fetched_as_declined() -> None:
    gw = SandboxGateway(delay_ms=0)
    declined = await gw.authorize(
        AuthorizeRequest(INR, "pm_card_declined", True, "pay_2:authorize")
    )
    assert declined.reference is not None
    fetched = await gw.fetch_payment(declined.reference)
    assert (fetched.outcome, fetched.failure_code) == (Outcome.DECLINED, "card_declined")


async def test_an_unknown_reference_is_an_error() -> None:
    with pytest.raises(GatewayError) as excinfo:
        await SandboxGateway().fetch_payment("sbx_ch_unknown")
    assert excinfo.value.code == "gateway_resource_missing"


async def test_the_memo_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(SandboxGateway, "MEMO_SIZE", 3)
    gw = SandboxGateway(delay_ms=0)
    refs = []
    for i in range(5):
        result = await gw.authorize(AuthorizeRequest(INR, "pm_card_visa", True, f"pay_m{i}"))
        refs.append(result.reference)
    with pytest.raises(GatewayError):
        await gw.fetch_payment(str(refs[0]))
    assert (await gw.fetch_payment(str(refs[-1]))).outcome is Outcome.CAPTURED
