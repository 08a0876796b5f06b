"""A deterministic simulated gateway, behind the same interface as the real connectors.

The payment method token decides the answer (see ``TEST_PAYMENT_METHODS``), so tests
and demos can ask for any outcome. Optional latency and a seeded random failure rate
make load tests and the demo look like production. The sandbox needs no state to
answer: its reference is derived from the idempotency key, so the same key gives the
same reference in every process, as a real gateway's idempotency would. It remembers
the last answer per reference in this process only (a bounded memo), so
``fetch_payment`` and ``fetch_refund`` can replay it; a reference issued by another
process is unknown to it and fetching one raises ``GatewayError``.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections import OrderedDict
from dataclasses import dataclass
from decimal import Decimal

from paystead.errors import GatewayError, InvalidInput
from paystead.gateways.base import AuthorizeRequest, GatewayResult, Outcome
from paystead.money import Money, apply_rate


@dataclass(frozen=True, slots=True)
class _Behaviour:
    outcome: Outcome
    failure_code: str | None = None
    failure_message: str | None = None
    delayed: bool = False


#: Test payment methods, documented in the README.
TEST_PAYMENT_METHODS: dict[str, _Behaviour] = {
    "pm_card_visa": _Behaviour(Outcome.CAPTURED),
    "pm_card_mastercard": _Behaviour(Outcome.CAPTURED),
    "pm_upi_success": _Behaviour(Outcome.CAPTURED),
    "pm_card_declined": _Behaviour(Outcome.DECLINED, "card_declined", "The card was declined."),
    "pm_card_insufficient_funds": _Behaviour(
        Outcome.DECLINED, "insufficient_funds", "The card has insufficient funds."
    ),
    "pm_card_expired": _Behaviour(Outcome.DECLINED, "expired_card", "The card has expired."),
    "pm_card_fraudulent": _Behaviour(
        Outcome.DECLINED, "fraudulent", "The payment was declined as suspected fraud."
    ),
    "pm_card_processing_error": _Behaviour(
        Outcome.FAILED, "processing_error", "The gateway could not process the card; retry."
    ),
    "pm_card_delayed": _Behaviour(Outcome.CAPTURED, delayed=True),
}


class SandboxGateway:
    name = "sandbox"

    def __init__(
        self,
        *,
        latency_ms: int = 0,
        failure_rate: float = 0.0,
        seed: int | None = None,
        delay_ms: int = 2000,
        fee_percent: Decimal = Decimal("2"),
        name: str = "sandbox",
    ):
        self.name = name  # several sandboxes may be routed as several gateways
        self.latency_ms = latency_ms
        self.failure_rate = failure_rate
        self.delay_ms = delay_ms
        self.fee_rate = fee_percent / 100
        self._random = random.Random(seed)
        self._memo: OrderedDict[str, GatewayResult] = OrderedDict()

    #: How many references the fetch memo keeps (oldest forgotten first).
    MEMO_SIZE = 100_000

    def _remember(self, result: GatewayResult) -> GatewayResult:
        if result.reference is not None:
            self._memo[result.reference] = result
            self._memo.move_to_end(result.reference)
            while len(self._memo) > self.MEMO_SIZE:
                self._memo.popitem(last=False)
        return result

    def _recall(self, reference: str) -> GatewayResult:
        known = self._memo.get(reference)
        if known is None:
            raise GatewayError(
                f"the sandbox has no record of {reference!r} in this process",
                code="gateway_resource_missing",
            )
        return known

    def check_payment_method(self, payment_method: str) -> None:
        if payment_method not in TEST_PAYMENT_METHODS:
            known = ", ".join(sorted(TEST_PAYMENT_METHODS))
            raise InvalidInput(
                f"unknown sandbox payment method {payment_method!r}; use one of {known}",
                code="payment_method_invalid",
                param="payment_method",
            )

    async def _network(self) -> None:
        if self.latency_ms:
            await asyncio.sleep(self.latency_ms / 1000)

    def _random_failure(self) -> GatewayResult | None:
        if self.failure_rate and self._random.random() < self.failure_rate:
            return GatewayResult(
                Outcome.FAILED,
                failure_code="processing_error",
                failure_message="Simulated gateway failure.",
                retryable=True,
            )
        return None

    @staticmethod
    def _reference(prefix: str, idempotency_key: str) -> str:
        digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]
        return f"{prefix}_{digest}"

    def _fee(self, amount: Money) -> Money:
        return apply_rate(amount, self.fee_rate)

    async def authorize(self, request: AuthorizeRequest) -> GatewayResult:
        self.check_payment_method(request.payment_method)
        behaviour = TEST_PAYMENT_METHODS[request.payment_method]
        await self._network()
        if behaviour.delayed:
            await asyncio.sleep(self.delay_ms / 1000)
        reference = self._reference("sbx_ch", request.idempotency_key)
        if behaviour.outcome is not Outcome.CAPTURED:
            return self._remember(
                GatewayResult(
                    behaviour.outcome,
                    reference=reference,
                    failure_code=behaviour.failure_code,
                    failure_message=behaviour.failure_message,
                    retryable=behaviour.outcome is Outcome.FAILED,
                )
            )
        failure = self._random_failure()
        if failure is not None:
            return failure
        if not request.capture:
            return self._remember(GatewayResult(Outcome.AUTHORIZED, reference=reference))
        return self._remember(
            GatewayResult(Outcome.CAPTURED, reference=reference, fee=self._fee(request.amount))
        )

    async def capture(
        self, reference: str, amount: Money, *, idempotency_key: str
    ) -> GatewayResult:
        await self._network()
        failure = self._random_failure()
        if failure is not None:
            return failure
        return self._remember(
            GatewayResult(Outcome.CAPTURED, reference=reference, fee=self._fee(amount))
        )

    async def void(self, reference: str, *, idempotency_key: str) -> GatewayResult:
        await self._network()
        return self._remember(GatewayResult(Outcome.VOIDED, reference=reference))

    async def refund(self, reference: str, amount: Money, *, idempotency_key: str) -> GatewayResult:
        await self._network()
        failure = self._random_failure()
        if failure is not None:
            return failure
        return self._remember(
            GatewayResult(Outcome.REFUNDED, reference=self._reference("sbx_re", idempotency_key))
        )

    async def fetch_payment(self, reference: str) -> GatewayResult:
        """The last answer this process gave for the payment ``reference``."""
        await self._network()
        return self._recall(reference)

    async def fetch_refund(self, reference: str) -> GatewayResult:
        """The last answer this process gave for the refund ``reference``."""
        await self._network()
        return self._recall(reference)
