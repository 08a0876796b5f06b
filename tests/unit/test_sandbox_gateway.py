"""The sandbox gateway: documented test tokens, fees, idempotent references, seeded failures."""

from __future__ import annotations

import math
import types
from decimal import Decimal

import pytest

import paystead.gateways.sandbox as sandbox_module
from paystead.errors import InvalidInput
from paystead.gateways.base import AuthorizeRequest, GatewayResult, Outcome
from paystead.gateways.sandbox import TEST_PAYMENT_METHODS, SandboxGateway
from paystead.money import Money

INR_100 = Money(10_000, "INR")

# token -> (outcome, failure code), written out from the module's documentation.
DOCUMENTED: dict[str, tuple[Outcome, str | None]] = {
    "pm_card_visa": (Outcome.CAPTURED, None),
    "pm_card_mastercard": (Outcome.CAPTURED, None),
    "pm_upi_success": (Outcome.CAPTURED, None),
    "pm_card_delayed": (Outcome.CAPTURED, None),
    "pm_card_declined": (Outcome.DECLINED, "card_declined"),
    "pm_card_insufficient_funds": (Outcome.DECLINED, "insufficient_funds"),
    "pm_card_expired": (Outcome.DECLINED, "expired_card"),
    "pm_card_fraudulent": (Outcome.DECLINED, "fraudulent"),
    "pm_card_processing_error": (Outcome.FAILED, "processing_error"),
}
SUCCESS_TOKENS = [t for t, (o, _) in DOCUMENTED.items() if o is Outcome.CAPTURED]
UNSUCCESSFUL_TOKENS = [t for t, (o, _) in DOCUMENTED.items() if o is not Outcome.CAPTURED]


def gateway(**kwargs: object) -> SandboxGateway:
    kwargs.setdefault("delay_ms", 0)  # pm_card_delayed would otherwise wait 2 s
    return SandboxGateway(**kwargs)  # type: ignore[arg-type]


def request(
    payment_method: str = "pm_card_visa",
    *,
    amount: Money = INR_100,
    capture: bool = True,
    key: str = "pay_1:authorize",
) -> AuthorizeRequest:
    return AuthorizeRequest(
        amount=amount, payment_method=payment_method, capture=capture, idempotency_key=key
    )


def test_every_test_token_is_documented() -> None:
    assert set(TEST_PAYMENT_METHODS) == set(DOCUMENTED)


@pytest.mark.parametrize("token", list(DOCUMENTED))
@pytest.mark.parametrize("capture", [True, False])
async def test_each_token_gives_its_documented_outcome(token: str, capture: bool) -> None:
    outcome, failure_code = DOCUMENTED[token]
    result = await gateway().authorize(request(token, capture=capture))
    assert isinstance(result, GatewayResult)
    assert result.reference is not None
    if outcome is Outcome.CAPTURED:
        assert result.outcome is (Outcome.CAPTURED if capture else Outcome.AUTHORIZED)
        assert result.failure_code is None
        assert result.failure_message is None
        assert result.retryable is False
    else:
        assert result.outcome is outcome
        assert result.failure_code == failure_code
        assert result.failure_message
        assert result.fee is None
        # Only a processing error may be retried; a decline is final.
        assert result.retryable is (failure_code == "processing_error")


@pytest.mark.parametrize("token", SUCCESS_TOKENS)
async def test_automatic_capture_charges_a_fee(token: str) -> None:
    result = await gateway().authorize(request(token, capture=True))
    assert result.outcome is Outcome.CAPTURED
    assert result.fee == Money(200, "INR")  # 2 % of 10000


async def test_manual_capture_authorizes_then_captures() -> None:
    gw = gateway()
    auth = await gw.authorize(request(capture=False))
    assert auth.outcome is Outcome.AUTHORIZED
    assert auth.fee is None  # nothing taken yet
    assert auth.reference is not None
    captured = await gw.capture(
        auth.reference, Money(4_000, "INR"), idempotency_key="pay_1:capture"
    )
    assert captured.outcome is Outcome.CAPTURED
    assert captured.reference == auth.reference
    assert captured.fee == Money(80, "INR")  # the fee is on the captured amount only


@pytest.mark.parametrize(
    ("amount", "fee"),
    [
        (Money(12_345, "INR"), Money(247, "INR")),  # 246.9 -> 247
        (Money(10_000, "INR"), Money(200, "INR")),
        (Money(125, "INR"), Money(3, "INR")),  # 2.5 -> 3: half up, not half even
        (Money(25, "INR"), Money(1, "INR")),  # 0.5 -> 1
        (Money(24, "INR"), Money(0, "INR")),  # 0.48 -> 0
        (Money(1, "INR"), Money(0, "INR")),
        (Money(1_234, "JPY"), Money(25, "JPY")),  # 24.68 -> 25
        (Money(75, "KWD"), Money(2, "KWD")),  # 1.5 -> 2
    ],
)
async def test_fee_is_two_percent_rounded_half_up(amount: Money, fee: Money) -> None:
    gw = gateway()
    assert (await gw.authorize(request(amount=amount))).fee == fee
    assert (await gw.capture("sbx_ch_x", amount, idempotency_key="k")).fee == fee


async def test_fee_percent_is_configurable() -> None:
    gw = gateway(fee_percent=Decimal("2.9"))
    assert (await gw.authorize(request(amount=Money(10_050, "INR")))).fee == Money(291, "INR")
    # 291.45 -> 291


@pytest.mark.parametrize("token", ["pm_card_unknown", "", "PM_CARD_VISA", "card_visa"])
async def test_unknown_token_is_invalid_input(token: str) -> None:
    gw = gateway()
    with pytest.raises(InvalidInput) as excinfo:
        gw.check_payment_method(token)
    assert excinfo.value.param == "payment_method"
    assert excinfo.value.code == "payment_method_invalid"
    with pytest.raises(InvalidInput) as excinfo:
        await gw.authorize(request(token))
    assert excinfo.value.param == "payment_method"


@pytest.mark.parametrize("token", list(DOCUMENTED))
def test_known_tokens_pass_the_check(token: str) -> None:
    gateway().check_payment_method(token)


async def test_same_idempotency_key_gives_same_reference() -> None:
    first = await gateway().authorize(request(key="pay_1:authorize"))
    again = await gateway().authorize(request(key="pay_1:authorize"))  # another instance
    other = await gateway().authorize(request(key="pay_2:authorize"))
    assert first.reference == again.reference
    assert first.reference != other.reference
    declined = await gateway().authorize(request("pm_card_declined", key="pay_1:authorize"))
    assert declined.reference == first.reference


async def test_refund_references_are_stable_per_key() -> None:
    gw = gateway()
    first = await gw.refund("sbx_ch_x", Money(100, "INR"), idempotency_key="re_1")
    again = await gateway().refund("sbx_ch_x", Money(100, "INR"), idempotency_key="re_1")
    other = await gw.refund("sbx_ch_x", Money(100, "INR"), idempotency_key="re_2")
    charge = await gw.authorize(request(key="re_1"))
    assert first.outcome is Outcome.REFUNDED
    assert first.reference == again.reference
    assert first.reference != other.reference
    assert first.reference != charge.reference  # refunds and charges never share references


async def test_void() -> None:
    result = await gateway().void("sbx_ch_x", idempotency_key="pay_1:void")
    assert result.outcome is Outcome.VOIDED
    assert result.reference == "sbx_ch_x"


async def _outcomes(gw: SandboxGateway, n: int) -> list[Outcome]:
    return [(await gw.authorize(request(key=f"pay_{i}"))).outcome for i in range(n)]


async def test_seeded_failure_rate_is_reproducible() -> None:
    first = await _outcomes(gateway(failure_rate=0.3, seed=42), 300)
    second = await _outcomes(gateway(failure_rate=0.3, seed=42), 300)
    assert first == second
    assert set(first) == {Outcome.CAPTURED, Outcome.FAILED}
    other_seed = await _outcomes(gateway(failure_rate=0.3, seed=43), 300)
    assert other_seed != first


@pytest.mark.parametrize(("rate", "seed"), [(0.3, 1), (0.05, 2), (0.5, 3)])
async def test_observed_failure_rate_matches_the_configured_one(rate: float, seed: int) -> None:
    n = 2000
    outcomes = await _outcomes(gateway(failure_rate=rate, seed=seed), n)
    failures = outcomes.count(Outcome.FAILED)
    # Binomial(n, rate): allow five standard deviations either side.
    sigma = math.sqrt(n * rate * (1 - rate))
    assert abs(failures - n * rate) <= 5 * sigma


async def test_random_failures_are_retryable_processing_errors() -> None:
    gw = gateway(failure_rate=1.0, seed=0)
    for result in (
        await gw.authorize(request()),
        await gw.capture("sbx_ch_x", INR_100, idempotency_key="c"),
        await gw.refund("sbx_ch_x", INR_100, idempotency_key="r"),
    ):
        assert result.outcome is Outcome.FAILED
        assert result.failure_code == "processing_error"
        assert result.retryable is True
        assert result.fee is None
    # Voids are not subject to random failure.
    assert (await gw.void("sbx_ch_x", idempotency_key="v")).outcome is Outcome.VOIDED


@pytest.mark.parametrize("token", UNSUCCESSFUL_TOKENS)
async def test_declines_are_not_masked_by_random_failures(token: str) -> None:
    result = await gateway(failure_rate=1.0, seed=0).authorize(request(token))
    assert (result.outcome, result.failure_code) == DOCUMENTED[token]


async def test_zero_failure_rate_never_fails() -> None:
    outcomes = await _outcomes(gateway(failure_rate=0.0, seed=0), 500)
    assert set(outcomes) == {Outcome.CAPTURED}


async def test_latency_and_delay_are_requested_from_asyncio_sleep(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No timing assertions: only which sleeps the sandbox asks asyncio for."""
    requested: list[float] = []

    async def record(seconds: float) -> None:
        requested.append(seconds)

    monkeypatch.setattr(sandbox_module, "asyncio", types.SimpleNamespace(sleep=record))

    await SandboxGateway().authorize(request())
    assert requested == []  # no latency configured: no sleep at all

    await SandboxGateway(latency_ms=5).authorize(request())
    assert requested == [0.005]

    requested.clear()
    await SandboxGateway(latency_ms=5, delay_ms=1500).authorize(request("pm_card_delayed"))
    assert requested == [0.005, 1.5]

    requested.clear()
    gw = SandboxGateway(latency_ms=7)
    await gw.capture("sbx_ch_x", INR_100, idempotency_key="c")
    await gw.void("sbx_ch_x", idempotency_key="v")
    await gw.refund("sbx_ch_x", INR_100, idempotency_key="r")
    assert requested == [0.007, 0.007, 0.007]
