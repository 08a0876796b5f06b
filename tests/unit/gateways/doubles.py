"""Test doubles for the gateway tests: a hand-moved clock and a scripted gateway."""

from __future__ import annotations

from paystead.gateways.base import AuthorizeRequest, GatewayResult
from paystead.money import Money


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Scripted:
    """A stand-in gateway answering from a script (the collaborator, not the subject)."""

    name = "scripted"

    def __init__(self, *answers: GatewayResult | Exception):
        self.answers = list(answers)
        self.calls = 0

    def check_payment_method(self, payment_method: str) -> None:
        pass

    async def _next(self) -> GatewayResult:
        self.calls += 1
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def authorize(self, request: AuthorizeRequest) -> GatewayResult:
        return await self._next()

    async def capture(
        self, reference: str, amount: Money, *, idempotency_key: str
    ) -> GatewayResult:
        return await self._next()

    async def void(self, reference: str, *, idempotency_key: str) -> GatewayResult:
        return await self._next()

    async def refund(self, reference: str, amount: Money, *, idempotency_key: str) -> GatewayResult:
        return await self._next()

    async def fetch_payment(self, reference: str) -> GatewayResult:
        return await self._next()

    async def fetch_refund(self, reference: str) -> GatewayResult:
        return await self._next()
