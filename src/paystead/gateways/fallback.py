"""Routing with one fallback: try the router's choice, and on a retryable failure the
gateway certainly did not act on, the next gateway, once.

Each gateway tried becomes an :class:`Attempt` (gateway, key, decision, answer), the
record a payment keeps as ``attempts``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from paystead.errors import GatewayError, GatewayTransient
from paystead.gateways.base import (
    AuthorizeRequest,
    Gateway,
    GatewayOutcomeUnknown,
    GatewayResult,
    Outcome,
)
from paystead.gateways.routing import THOMPSON, NoGatewayAvailable, Router, RoutingDecision


@dataclass(frozen=True, slots=True)
class Attempt:
    """One gateway tried for a payment, for the payment's ``attempts``."""

    number: int
    gateway: str
    idempotency_key: str
    decision: RoutingDecision
    outcome: str | None
    failure_code: str | None = None
    retryable: bool = False
    reference: str | None = None
    #: The error code when the gateway gave no answer (``gateway_timeout``...).
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready record, the decision included (written out: payment path)."""
        return {
            "number": self.number,
            "gateway": self.gateway,
            "idempotency_key": self.idempotency_key,
            "decision": self.decision.to_dict(),
            "outcome": self.outcome,
            "failure_code": self.failure_code,
            "retryable": self.retryable,
            "reference": self.reference,
            "error": self.error,
        }


@dataclass(frozen=True, slots=True)
class RoutedAuthorization:
    """What :func:`authorize_with_fallback` ends with.

    ``result`` is the last gateway's answer, or ``None`` when the last gateway gave
    none (then ``error`` says why and the payment stays ``processing`` at
    ``attempts[-1].gateway``, to be settled by a status fetch or a webhook).
    """

    result: GatewayResult | None
    attempts: tuple[Attempt, ...]
    error: GatewayError | None = None

    @property
    def gateway(self) -> str:
        return self.attempts[-1].gateway


#: Answers that count as an authorization success for routing.
SUCCESS = frozenset({Outcome.AUTHORIZED, Outcome.CAPTURED})
#: Answers that are not final yet: recorded when they settle (``Router.record``).
UNSETTLED = frozenset({Outcome.PENDING, Outcome.REQUIRES_ACTION})


def may_fall_back(result: GatewayResult | None, error: GatewayError | None) -> bool:
    """A retryable failure the gateway certainly did not act on (never a decline)."""
    if result is not None:
        return result.outcome is Outcome.FAILED and result.retryable
    return isinstance(error, GatewayTransient) and not isinstance(error, GatewayOutcomeUnknown)


async def authorize_with_fallback(
    router: Router,
    gateways: Mapping[str, Gateway],
    request: AuthorizeRequest,
    *,
    method: str,
    forced: str | None = None,
    max_attempts: int = 2,
    unsupported: Iterable[str] = (),
    first: RoutingDecision | None = None,
    strategy: str = THOMPSON,
) -> RoutedAuthorization:
    """Route ``request``; on a retryable failure try the next gateway, at most once more.

    The first attempt uses ``request.idempotency_key`` unchanged; attempt ``n > 1`` uses
    ``f"{key}:{n}"`` (a different gateway, so a different key space; never reused). A
    forced gateway is never fallen back from. Each final answer is recorded with the
    router (declines count as failures: the gateway's approval rate is what routing
    optimizes); ``PENDING``/``REQUIRES_ACTION`` are left for the caller to record when
    they settle. ``unsupported`` gateways (they refuse the payment method) are never
    chosen. ``first`` is a decision already made (and stored) for the first attempt, so a
    payment resumed after a crash goes back to the gateway it was sent to. ``strategy``
    is the routing strategy of every choice made here (``Router.choose``);
    ``max_attempts=1`` never falls back (the ``single_attempt`` retry policy).
    """
    currency = request.amount.currency
    attempts: list[Attempt] = []
    tried: list[str] = []
    result: GatewayResult | None = None
    error: GatewayError | None = None
    for number in range(1, (1 if forced else max_attempts) + 1):
        try:
            decision = (
                first
                if number == 1 and first is not None
                else router.choose(
                    currency,
                    method,
                    amount=request.amount,
                    exclude=tried,
                    forced=forced,
                    unsupported=unsupported,
                    strategy=strategy,
                )
            )
        except NoGatewayAvailable as exc:
            if not attempts:
                raise
            error = error or exc
            break
        gateway = gateways[decision.gateway]
        key = request.idempotency_key if number == 1 else f"{request.idempotency_key}:{number}"
        attempt_request = _rekeyed(request, key)
        result, error = None, None
        try:
            result = await gateway.authorize(attempt_request)
        except GatewayError as exc:
            error = exc
        attempts.append(
            Attempt(
                number=number,
                gateway=decision.gateway,
                idempotency_key=key,
                decision=decision,
                outcome=str(result.outcome) if result is not None else None,
                failure_code=result.failure_code if result is not None else None,
                retryable=result.retryable if result is not None else True,
                reference=result.reference if result is not None else None,
                error=error.code if error is not None else None,
            )
        )
        if result is None or result.outcome not in UNSETTLED:
            success = result is not None and result.outcome in SUCCESS
            if not isinstance(error, GatewayOutcomeUnknown):
                router.record(decision.gateway, currency, method, success=success)
        tried.append(decision.gateway)
        if not may_fall_back(result, error):
            break
    return RoutedAuthorization(result, tuple(attempts), error)


def _rekeyed(request: AuthorizeRequest, key: str) -> AuthorizeRequest:
    return request if key == request.idempotency_key else replace(request, idempotency_key=key)


def summarize(attempts: Sequence[Attempt]) -> list[dict[str, Any]]:
    """The attempts as JSON-ready dicts (what ``GET /v1/payments/{id}`` shows)."""
    return [a.to_dict() for a in attempts]
