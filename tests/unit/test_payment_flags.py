"""The payment path's flags through OpenFeature: the context it sends, what each value
selects, and the fall-backs for missing flags and unknown values."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from openfeature import api
from openfeature.client import OpenFeatureClient
from openfeature.evaluation_context import EvaluationContext
from openfeature.flag_evaluation import FlagResolutionDetails
from openfeature.provider.in_memory_provider import InMemoryFlag, InMemoryProvider
from openfeature.provider.no_op_provider import NoOpProvider

from paystead.payments import flags
from paystead.payments.model import CaptureMethod, Payment, PaymentStatus
from paystead.risk.rules import Mode

NOW = datetime(2026, 11, 26, tzinfo=UTC)


def payment(customer: str | None = "cus_7", **metadata: Any) -> Payment:
    return Payment(
        id="pay_1",
        amount=2_500,
        currency="INR",
        payment_method="pm_upi_success",
        capture_method=CaptureMethod.AUTOMATIC,
        status=PaymentStatus.PROCESSING,
        gateway="sandbox",
        created_at=NOW,
        updated_at=NOW,
        customer_id=customer,
        metadata=metadata,
    )


@pytest.fixture
def provider_domain() -> Iterator[str]:
    domain = f"test-{uuid.uuid4().hex}"
    yield domain
    api.set_provider(NoOpProvider(), domain=domain)


def client(domain: str, values: dict[str, InMemoryFlag[Any]]) -> OpenFeatureClient:
    api.set_provider(InMemoryProvider(values), domain=domain)
    return api.get_client(domain=domain)


def fixed(value: str) -> InMemoryFlag[Any]:
    return InMemoryFlag("on", {"on": value})


def test_the_context_follows_the_contract() -> None:
    context = flags.evaluation_context(payment(country="in", channel="mobile"))
    assert context.targeting_key == "cus_7"
    assert context.attributes == {
        "payment_id": "pay_1",
        "customer": "cus_7",
        "currency": "INR",
        "amount": 2_500,
        "payment_method": "upi",
        "country": "IN",
        "channel": "mobile",
    }
    anonymous = flags.evaluation_context(payment(customer=None))
    assert anonymous.targeting_key == "pay_1"
    assert "customer" not in anonymous.attributes and "country" not in anonymous.attributes
    assert anonymous.attributes["channel"] == "api"


def test_missing_flags_give_todays_routing_and_shadow_screening(provider_domain: str) -> None:
    got = flags.evaluate(client(provider_domain, {}), payment())
    assert got == flags.PathFlags("thompson", "fallback", Mode.SHADOW, evaluated=True)
    assert got.max_attempts == 2
    assert flags.TODAY.fraud_screening is Mode.OFF and not flags.TODAY.evaluated


def test_flag_values_select_strategy_policy_and_mode(provider_domain: str) -> None:
    features = client(
        provider_domain,
        {
            flags.ROUTING_STRATEGY: fixed("lowest_cost"),
            flags.RETRY_POLICY: fixed("single_attempt"),
            flags.FRAUD_SCREENING: fixed("enforce"),
        },
    )
    got = flags.evaluate(features, payment())
    assert (got.routing_strategy, got.retry_policy, got.fraud_screening) == (
        "lowest_cost",
        "single_attempt",
        Mode.ENFORCE,
    )
    assert got.max_attempts == 1
    assert got.to_dict() == {
        "routing_strategy": "lowest_cost",
        "retry_policy": "single_attempt",
        "fraud_screening": "enforce",
    }


def test_unknown_values_fall_back(provider_domain: str, caplog: pytest.LogCaptureFixture) -> None:
    features = client(
        provider_domain,
        {
            flags.ROUTING_STRATEGY: fixed("random"),
            flags.RETRY_POLICY: fixed("forever"),
            flags.FRAUD_SCREENING: fixed("paranoid"),
        },
    )
    got = flags.evaluate(features, payment())
    assert (got.routing_strategy, got.retry_policy, got.fraud_screening) == (
        "thompson",
        "fallback",
        Mode.SHADOW,
    )
    assert "unknown variant value 'random'" in caplog.text


def test_targeting_sees_the_payment_attributes(provider_domain: str) -> None:
    """A provider that targets on the context (here: INR payments get static_priority)."""

    def by_currency(
        flag: InMemoryFlag[Any], context: EvaluationContext
    ) -> FlagResolutionDetails[Any]:
        variant = "inr" if context.attributes.get("currency") == "INR" else "other"
        return FlagResolutionDetails(flag.variants[variant], variant=variant)

    features = client(
        provider_domain,
        {
            flags.ROUTING_STRATEGY: InMemoryFlag(
                "other",
                {"inr": "static_priority", "other": "thompson"},
                context_evaluator=by_currency,
            )
        },
    )
    assert flags.evaluate(features, payment()).routing_strategy == "static_priority"


class KnowingProvider(InMemoryProvider):
    """An in-memory provider that says which flags it holds and counts resolutions."""

    def __init__(self, values: dict[str, InMemoryFlag[Any]]):
        super().__init__(values)
        self.held = set(values)
        self.resolved: list[str] = []

    def knows(self, flag_key: str) -> bool:
        return flag_key in self.held

    def resolve_string_details(
        self,
        flag_key: str,
        default_value: str,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[str]:
        self.resolved.append(flag_key)
        return super().resolve_string_details(flag_key, default_value, evaluation_context)


def test_a_provider_that_knows_its_flags_is_asked_only_for_those(provider_domain: str) -> None:
    empty = KnowingProvider({})
    api.set_provider(empty, domain=provider_domain)
    got = flags.evaluate(api.get_client(domain=provider_domain), payment())
    assert got == flags.DEFAULTS == flags.PathFlags("thompson", "fallback", Mode.SHADOW, True)
    assert empty.resolved == []  # no OpenFeature error path for absent flags

    one = KnowingProvider({flags.FRAUD_SCREENING: fixed("enforce")})
    api.set_provider(one, domain=provider_domain)
    got = flags.evaluate(api.get_client(domain=provider_domain), payment())
    assert got == flags.PathFlags("thompson", "fallback", Mode.ENFORCE, evaluated=True)
    assert one.resolved == [flags.FRAUD_SCREENING]
