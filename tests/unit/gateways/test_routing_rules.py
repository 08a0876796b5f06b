"""PAYSTEAD_ROUTING_RULES: validation on load, first-match rule lookup, startup checks."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from pydantic_settings import SettingsError

from paystead.config import Settings
from paystead.gateways.assembly import RoutingConfigError, build_gateway_stack
from paystead.gateways.routing import RoutingRule, RoutingTable
from paystead.gateways.sandbox import SandboxGateway

TABLE = RoutingTable(
    default=("razorpay", "stripe"),
    rules=(
        RoutingRule("INR", "upi", ("razorpay",)),
        RoutingRule("INR", "*", ("razorpay", "stripe")),
        RoutingRule("*", "card", ("stripe", "razorpay")),
    ),
)


@pytest.mark.parametrize(
    ("currency", "method", "expected"),
    [
        ("INR", "upi", ("razorpay",)),  # exact rule
        ("INR", "card", ("razorpay", "stripe")),  # the first match wins, not the most specific
        ("USD", "card", ("stripe", "razorpay")),  # currency "*"
        ("USD", "upi", ("razorpay", "stripe")),  # no rule: the default order
    ],
)
def test_the_first_matching_rule_gives_the_candidates(
    currency: str, method: str, expected: tuple[str, ...]
) -> None:
    assert TABLE.candidates(currency, method) == expected


def test_allowed_is_none_without_a_matching_rule() -> None:
    assert TABLE.allowed("INR", "upi") == ("razorpay",)
    assert TABLE.allowed("USD", "wallet") is None
    assert RoutingTable(default=("a",)).allowed("INR", "card") is None


def test_without_rules_the_routes_still_apply() -> None:
    table = RoutingTable(default=("a",), routes={("INR", "*"): ("b",)})
    assert table.candidates("INR", "card") == ("b",)
    assert table.to_dict() == {
        "rules": [],
        "default": ["a"],
        "routes": [{"currency": "INR", "method": "*", "gateways": ["b"]}],
    }


def test_rules_are_parsed_from_json_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "PAYSTEAD_ROUTING_RULES",
        '[{"currency": "inr", "method": "UPI", "gateways": ["Razorpay"]},'
        ' {"currency": "*", "method": "card", "gateways": ["stripe", "razorpay"]}]',
    )
    rules = Settings().routing_rules
    assert [(r.currency, r.method, r.gateways) for r in rules] == [
        ("INR", "upi", ["razorpay"]),
        ("*", "card", ["stripe", "razorpay"]),
    ]


def test_bad_json_is_refused_naming_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYSTEAD_ROUTING_RULES", '[{"currency": "INR",')
    with pytest.raises(SettingsError, match="routing_rules"):
        Settings()


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"currency": "RUPEE", "method": "card", "gateways": ["a"]}, "ISO 4217"),
        ({"currency": "INR", "method": "cheque", "gateways": ["a"]}, "method must be one of"),
        ({"currency": "INR", "method": "card", "gateways": []}, "at least 1 item"),
        ({"currency": "INR", "method": "card", "gateways": ["a", "A"]}, "listed twice"),
        ({"currency": "INR", "method": "card"}, "gateways"),
        ({"currency": "INR", "method": "card", "gateways": ["a"], "x": 1}, "Extra inputs"),
    ],
)
def test_malformed_rules_are_refused_with_a_clear_error(rule: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings(routing_rules=[rule])


def test_an_unknown_or_disabled_gateway_fails_startup() -> None:
    settings = Settings(
        routing_rules=[{"currency": "INR", "method": "card", "gateways": ["a", "stripe"]}]
    )
    with pytest.raises(RoutingConfigError, match=r"ROUTING_RULES\[0\].*'stripe'.*enabled: a, b"):
        build_gateway_stack(
            settings, connectors={"a": SandboxGateway(name="a"), "b": SandboxGateway(name="b")}
        )


def test_the_stack_routes_by_the_configured_rules() -> None:
    settings = Settings(routing_rules=[{"currency": "*", "method": "upi", "gateways": ["b"]}])
    stack = build_gateway_stack(
        settings, connectors={"a": SandboxGateway(name="a"), "b": SandboxGateway(name="b")}
    )
    assert stack.router.table.candidates("INR", "upi") == ("b",)
    assert stack.router.table.candidates("INR", "card") == ("a", "b")
