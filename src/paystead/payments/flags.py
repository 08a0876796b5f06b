"""The payment path's feature flags, evaluated in-process through OpenFeature.

Three string flags choose how a payment is routed, retried and screened (docs/risk.md,
docs/gateways.md). A flag that does not exist, an evaluation error, or a value this
code does not know gives today's behaviour for routing and retries and ``shadow`` for
screening. With no OpenFeature client at all (:data:`TODAY`) nothing is evaluated,
nothing is screened: the payment path is exactly what it was before flags.

The evaluation context (docs/flags.md, the flags contract): ``targeting_key`` is the
customer id when the payment has one, else the payment id; attributes ``payment_id``,
``customer``, ``currency``, ``amount`` (minor units), ``payment_method`` (its family:
``card``, ``upi``...), ``country`` (``metadata.country``, when given) and ``channel``
(``metadata.channel``, default ``api``).

OpenFeature stays the evaluation API, but a flag that does not exist costs it an error
path (hooks, an exception, details) of some 30 µs per flag. A provider that can say
cheaply which flags its snapshot holds (:class:`KnowsFlags`, paystead's own) lets
:func:`evaluate` skip absent flags and take their defaults directly, which is what
OpenFeature would have returned; only flags that exist are evaluated through it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from openfeature.client import OpenFeatureClient
from openfeature.evaluation_context import EvaluationContext

from paystead.gateways.routing import STRATEGIES, THOMPSON, payment_method_family
from paystead.payments.model import Payment
from paystead.risk.rules import Mode

log = logging.getLogger(__name__)

ROUTING_STRATEGY = "payments.routing_strategy"
FRAUD_SCREENING = "payments.fraud_screening"
RETRY_POLICY = "payments.retry_policy"

#: Retry policies (``payments.retry_policy``) and the gateways each may try per payment:
#: ``fallback`` is today's one fallback on a retryable failure the gateway certainly did
#: not act on; ``single_attempt`` never falls back; ``fallback_twice`` may try a third
#: gateway (same rules; only differs with three or more candidates).
RETRY_POLICIES: dict[str, int] = {"fallback": 2, "single_attempt": 1, "fallback_twice": 3}
DEFAULT_RETRY_POLICY = "fallback"
#: Screening's mode when the flag is absent (a client is configured).
DEFAULT_SCREENING = Mode.SHADOW


@dataclass(frozen=True, slots=True)
class PathFlags:
    """What one payment runs with; recorded on each of its attempts as ``flags``."""

    routing_strategy: str = THOMPSON
    retry_policy: str = DEFAULT_RETRY_POLICY
    fraud_screening: Mode = Mode.OFF
    #: Whether these came from a flags client (``False``: :data:`TODAY`, not recorded).
    evaluated: bool = False

    @property
    def max_attempts(self) -> int:
        return RETRY_POLICIES[self.retry_policy]

    def to_dict(self) -> dict[str, Any]:
        return {
            "routing_strategy": self.routing_strategy,
            "retry_policy": self.retry_policy,
            "fraud_screening": self.fraud_screening.value,
        }


#: No flags client: today's payment path, no screening.
TODAY = PathFlags()
#: A flags client, none of the three flags defined: every default.
DEFAULTS = PathFlags(THOMPSON, DEFAULT_RETRY_POLICY, DEFAULT_SCREENING, evaluated=True)


@runtime_checkable
class KnowsFlags(Protocol):
    """A provider that can tell, without evaluating, whether a flag exists."""

    def knows(self, flag_key: str) -> bool: ...


def evaluation_context(payment: Payment) -> EvaluationContext:
    attributes: dict[str, Any] = {
        "payment_id": payment.id,
        "currency": payment.currency,
        "amount": payment.amount,
        "payment_method": payment_method_family(payment.payment_method),
        "channel": _text(payment.metadata.get("channel")) or "api",
    }
    if payment.customer_id is not None:
        attributes["customer"] = payment.customer_id
    country = _text(payment.metadata.get("country"))
    if country is not None:
        attributes["country"] = country.upper()
    return EvaluationContext(targeting_key=payment.customer_id or payment.id, attributes=attributes)


def evaluate(client: OpenFeatureClient, payment: Payment) -> PathFlags:
    """The three flags for ``payment`` (unknown values fall back to the defaults)."""
    provider = client.provider
    exists = provider.knows if isinstance(provider, KnowsFlags) else _maybe
    if not (exists(ROUTING_STRATEGY) or exists(RETRY_POLICY) or exists(FRAUD_SCREENING)):
        return DEFAULTS
    context = evaluation_context(payment)
    strategy = THOMPSON
    if exists(ROUTING_STRATEGY):
        strategy = client.get_string_value(ROUTING_STRATEGY, THOMPSON, context)
    if strategy not in STRATEGIES:
        log.warning("%s: unknown variant value %r, using %s", ROUTING_STRATEGY, strategy, THOMPSON)
        strategy = THOMPSON
    retry = DEFAULT_RETRY_POLICY
    if exists(RETRY_POLICY):
        retry = client.get_string_value(RETRY_POLICY, DEFAULT_RETRY_POLICY, context)
    if retry not in RETRY_POLICIES:
        log.warning("%s: unknown variant value %r, using %s", RETRY_POLICY, retry, "fallback")
        retry = DEFAULT_RETRY_POLICY
    screening = DEFAULT_SCREENING.value
    if exists(FRAUD_SCREENING):
        screening = client.get_string_value(FRAUD_SCREENING, DEFAULT_SCREENING.value, context)
    try:
        mode = Mode(screening)
    except ValueError:
        log.warning("%s: unknown variant value %r, using shadow", FRAUD_SCREENING, screening)
        mode = DEFAULT_SCREENING
    return PathFlags(strategy, retry, mode, evaluated=True)


def _maybe(flag_key: str) -> bool:
    """Any flag may exist (a provider that cannot tell): evaluate it."""
    return True


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None
