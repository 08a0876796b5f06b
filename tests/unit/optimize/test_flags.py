"""Flag definitions and evaluation (no I/O): validation, rules, reasons, stable buckets."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from openfeature import api
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import Reason

from paystead.errors import InvalidInput
from paystead.optimize.flags import features_client, release_client
from paystead.optimize.flags.cache import FlagCache
from paystead.optimize.flags.evaluate import (
    DEFAULT,
    DISABLED,
    ERROR,
    SPLIT,
    STATIC,
    TARGETING_KEY_MISSING,
    TARGETING_MATCH,
    bucket,
    evaluate,
    pick,
)
from paystead.optimize.flags.model import Flag, parse_definition, with_enabled, with_weights

AT = datetime(2026, 4, 1, 12, tzinfo=UTC)


def flag(raw: dict[str, Any], key: str = "payments.routing_strategy") -> Flag:
    return Flag("flag_1", key, parse_definition(raw), 1, AT, AT)


ROUTING = {
    "type": "string",
    "variants": {"thompson": "thompson", "lowest_cost": "lowest_cost", "static": "static"},
    "off_variant": "thompson",
    "default": {"split": {"thompson": 5000, "lowest_cost": 5000}},
    "rules": [
        {
            "name": "indian cards",
            "conditions": [
                {"attribute": "country", "operator": "in", "value": ["IN"]},
                {"attribute": "amount", "operator": "gte", "value": 100_000},
            ],
            "serve": {"variant": "static"},
        },
        {
            "conditions": [
                {"attribute": "customer", "operator": "starts_with", "value": "cus_vip"}
            ],
            "serve": {"variant": "lowest_cost"},
        },
    ],
}


# -- hashing ----------------------------------------------------------------------------


def test_the_bucket_is_the_documented_sha256_formula() -> None:
    digest = hashlib.sha256(b"payments.routing_strategy/s1/cus_42").digest()
    assert bucket("payments.routing_strategy", "s1", "cus_42") == (
        int.from_bytes(digest[:8], "big") % 10_000
    )
    assert 0 <= bucket("k", "", "x") < 10_000


def test_pick_walks_the_cumulative_weights() -> None:
    split = (("a", 1000), ("b", 0), ("c", 9000))
    assert pick(split, 0) == "a"
    assert pick(split, 999) == "a"
    assert pick(split, 1000) == "c"
    assert pick(split, 9999) == "c"


def test_a_split_lands_within_tolerance_of_its_weights() -> None:
    f = flag(
        {
            "type": "string",
            "variants": {"a": "a", "b": "b", "c": "c"},
            "off_variant": "a",
            "default": {"split": {"a": 1000, "b": 2500, "c": 6500}},
        }
    )
    n = 40_000
    counts = Counter(evaluate(f, f"cus_{i}").variant for i in range(n))
    for variant, share in (("a", 0.10), ("b", 0.25), ("c", 0.65)):
        # 4 standard deviations of a binomial proportion: fails by chance ~1 in 16,000
        sd = (share * (1 - share) / n) ** 0.5
        assert abs(counts[variant] / n - share) < 4 * sd, counts


def test_moving_weights_only_moves_the_subjects_it_must() -> None:
    """Growing a canary from 10% to 25% keeps everyone already in it (monotone ramps)."""
    base = {
        "type": "string",
        "variants": {"canary": "c", "control": "k"},
        "off_variant": "control",
    }
    small = flag({**base, "default": {"split": {"canary": 1000, "control": 9000}}})
    large = flag({**base, "default": {"split": {"canary": 2500, "control": 7500}}})
    subjects = [f"cus_{i}" for i in range(5000)]
    in_small = {s for s in subjects if evaluate(small, s).variant == "canary"}
    in_large = {s for s in subjects if evaluate(large, s).variant == "canary"}
    assert in_small < in_large


def test_the_same_subject_gets_the_same_variant_in_another_process() -> None:
    subjects = [f"cus_{i}" for i in range(50)]
    here = [bucket("exp.key", "salt", s) for s in subjects]
    code = (
        "from paystead.optimize.flags.evaluate import bucket;"
        f"print([bucket('exp.key', 'salt', s) for s in {subjects!r}])"
    )
    # A fresh interpreter with a different hash seed: Python's hash() would differ.
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "12345", "PATH": ""},
    )
    assert out.stdout.strip() == str(here)


def test_the_salt_reshuffles_subjects() -> None:
    subjects = [f"cus_{i}" for i in range(200)]
    assert [bucket("k", "a", s) for s in subjects] != [bucket("k", "b", s) for s in subjects]


# -- rules and reasons --------------------------------------------------------------------


def test_rules_are_evaluated_in_order_and_all_conditions_must_hold() -> None:
    f = flag(ROUTING)
    hit = evaluate(f, "cus_1", {"country": "IN", "amount": 100_000})
    assert (hit.variant, hit.reason, hit.rule) == ("static", TARGETING_MATCH, 0)
    # one condition fails: the first rule does not match, the split serves
    miss = evaluate(f, "cus_1", {"country": "IN", "amount": 99_999})
    assert miss.reason == SPLIT and miss.rule is None
    vip = evaluate(f, "cus_2", {"customer": "cus_vip_9", "country": "US"})
    assert (vip.variant, vip.rule) == ("lowest_cost", 1)
    # the first matching rule wins even when a later one matches too
    both = evaluate(f, "cus_3", {"customer": "cus_vip_9", "country": "IN", "amount": 200_000})
    assert both.rule == 0


@pytest.mark.parametrize(
    ("operator", "value", "actual", "expected"),
    [
        ("eq", "INR", "INR", True),
        ("eq", "INR", "USD", False),
        ("eq", 1, True, False),  # a boolean is not the number 1
        ("neq", "INR", "USD", True),
        ("in", ["IN", "US"], "US", True),
        ("not_in", ["IN", "US"], "GB", True),
        ("not_in", ["IN", "US"], "IN", False),
        ("lt", 500, 499, True),
        ("lte", 500, 500, True),
        ("gt", 500, 500, False),
        ("gte", 500, 500, True),
        ("gt", 5, "9", False),  # a string is never compared as a number
        ("starts_with", "cus_", "cus_1", True),
        ("ends_with", "@example.com", "a@example.com", True),
        ("contains", "pro", "enterprise-pro-plan", True),
        ("contains", "pro", 7, False),
        ("exists", None, "x", True),
        ("not_exists", None, "x", False),
    ],
)
def test_operators(operator: str, value: Any, actual: Any, expected: bool) -> None:
    f = flag(
        {
            "type": "boolean",
            "rules": [
                {
                    "conditions": [{"attribute": "a", "operator": operator, "value": value}],
                    "serve": {"variant": "on"},
                }
            ],
        }
    )
    assert (evaluate(f, "s", {"a": actual}).value is True) is expected


def test_a_missing_attribute_matches_only_not_exists() -> None:
    for operator, value in (("neq", "x"), ("not_in", ["x"]), ("exists", None)):
        f = flag(
            {
                "rules": [
                    {
                        "conditions": [{"attribute": "a", "operator": operator, "value": value}],
                        "serve": {"variant": "on"},
                    }
                ]
            }
        )
        assert evaluate(f, "s", {}).reason == DEFAULT
    f = flag(
        {
            "rules": [
                {
                    "conditions": [{"attribute": "a", "operator": "not_exists"}],
                    "serve": {"variant": "on"},
                }
            ]
        }
    )
    assert evaluate(f, "s", {}).value is True


def test_rules_can_target_the_targeting_key() -> None:
    f = flag(
        {
            "rules": [
                {
                    "conditions": [
                        {"attribute": "targeting_key", "operator": "in", "value": ["cus_1"]}
                    ],
                    "serve": {"variant": "on"},
                }
            ]
        }
    )
    assert evaluate(f, "cus_1").value is True
    assert evaluate(f, "cus_2").value is False


def test_reasons_static_default_disabled_and_missing_key() -> None:
    plain = flag(
        {"type": "number", "variants": {"low": 1, "high": 2.5}, "default": {"variant": "high"}}
    )
    assert (evaluate(plain).value, evaluate(plain).reason) == (2.5, STATIC)
    assert evaluate(flag(ROUTING), "s", {"country": "GB"}).reason == SPLIT
    with_rules = flag({**ROUTING, "default": {"variant": "thompson"}})
    assert evaluate(with_rules, "s", {"country": "GB"}).reason == DEFAULT
    off = Flag("flag_1", "k", with_enabled(parse_definition(ROUTING), False), 2, AT, AT)
    result = evaluate(off, "cus_1", {"country": "IN", "amount": 10**6})
    assert (result.variant, result.reason) == ("thompson", DISABLED)
    missing = evaluate(flag(ROUTING), None, {"country": "GB"})
    assert missing.reason == ERROR and missing.error_code == TARGETING_KEY_MISSING
    assert missing.variant == "thompson"  # the off variant: a safe value


def test_object_flags_serve_their_json() -> None:
    f = flag(
        {
            "type": "object",
            "variants": {"a": {"retries": 1}, "b": [1, 2]},
            "default": {"variant": "a"},
        }
    )
    assert evaluate(f).value == {"retries": 1}


def test_boolean_defaults() -> None:
    d = parse_definition({})
    assert dict(d.variants) == {"on": True, "off": False}
    assert (d.default.variant, d.off_variant, d.enabled) == ("off", "off", True)


# -- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "param"),
    [
        ({"type": "colour"}, "type"),
        ({"type": "string", "variants": {"a": 1}, "default": {"variant": "a"}}, "variants.a"),
        ({"type": "number", "variants": {"a": True}, "default": {"variant": "a"}}, "variants.a"),
        ({"type": "string", "variants": {}}, "variants"),
        ({"type": "string", "variants": {"bad name": "x"}}, "variants.bad name"),
        ({"type": "string", "variants": {"a": "x"}}, "default"),
        ({"default": {"variant": "maybe"}}, "default.variant"),
        ({"default": {"variant": "on", "split": {"on": 10_000}}}, "default"),
        ({"default": {"split": {"on": 5000, "off": 4999}}}, "default.split"),
        ({"default": {"split": {"on": 5000, "nope": 5000}}}, "default.split.nope"),
        ({"default": {"split": {"on": 5000.0, "off": 5000}}}, "default.split.on"),
        ({"default": {"split": {"on": -1, "off": 10_001}}}, "default.split.on"),
        (
            {"type": "string", "variants": {"a": "x"}, "default": {"split": {"a": 10_000}}},
            "off_variant",
        ),
        ({"off_variant": "nope"}, "off_variant"),
        ({"rules": [{"conditions": [], "serve": {"variant": "on"}}]}, "rules.0.conditions"),
        (
            {
                "rules": [
                    {
                        "conditions": [{"attribute": "a", "operator": "like"}],
                        "serve": {"variant": "on"},
                    }
                ]
            },
            "rules.0.conditions.0.operator",
        ),
        (
            {
                "rules": [
                    {
                        "conditions": [{"attribute": "a", "operator": "in", "value": "IN"}],
                        "serve": {"variant": "on"},
                    }
                ]
            },
            "rules.0.conditions.0.value",
        ),
        (
            {
                "rules": [
                    {
                        "conditions": [{"attribute": "a", "operator": "lt", "value": "5"}],
                        "serve": {"variant": "on"},
                    }
                ]
            },
            "rules.0.conditions.0.value",
        ),
        (
            {
                "rules": [
                    {
                        "conditions": [{"attribute": "a", "operator": "eq", "value": "x"}],
                        "serve": {"split": {"on": 1}},
                    }
                ]
            },
            "rules.0.serve.split",
        ),
        ({"enabled": "yes"}, "enabled"),
    ],
)
def test_invalid_definitions_name_the_field(raw: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_definition(raw)
    assert caught.value.param == param


def test_weights_are_checked_against_the_variants() -> None:
    d = parse_definition(ROUTING)
    moved = with_weights(d, {"thompson": 9000, "lowest_cost": 500, "static": 500})
    assert moved.default.split == (("thompson", 9000), ("lowest_cost", 500), ("static", 500))
    with pytest.raises(InvalidInput) as caught:
        with_weights(d, {"thompson": 9000})
    assert caught.value.param == "weights"


def test_the_stored_form_round_trips() -> None:
    d = parse_definition(ROUTING)
    assert parse_definition(d.to_json()) == d


# -- the OpenFeature provider over a snapshot ----------------------------------------------


class _Snapshot(FlagCache):
    """A cache holding given flags (no database): the provider only reads ``get``."""

    def __init__(self, *flags: Flag):
        self._flags = {f.key: f for f in flags}


def test_the_provider_serves_the_snapshot_through_the_standard_client() -> None:
    routing = flag(ROUTING)
    client = features_client(_Snapshot(routing, flag({}, key="checkout.new_page")))
    try:
        ctx = EvaluationContext(
            targeting_key="cus_7", attributes={"country": "IN", "amount": 10**6}
        )
        details = client.get_string_details("payments.routing_strategy", "thompson", ctx)
        assert (details.value, details.variant, details.reason) == (
            "static",
            "static",
            Reason.TARGETING_MATCH,
        )
        assert details.flag_metadata["rule"] == 0
        split_ctx = EvaluationContext(targeting_key="cus_8")
        expected = evaluate(routing, "cus_8")
        assert (
            client.get_string_value("payments.routing_strategy", "x", split_ctx) == expected.value
        )
        assert client.get_boolean_value("checkout.new_page", True) is False
        missing = client.get_string_details("nope", "fallback")
        assert (missing.value, missing.error_code) == ("fallback", ErrorCode.FLAG_NOT_FOUND)
        wrong = client.get_boolean_details("payments.routing_strategy", True, split_ctx)
        assert (wrong.value, wrong.error_code) == (True, ErrorCode.TYPE_MISMATCH)
        no_key = client.get_string_details("payments.routing_strategy", "fallback")
        assert (no_key.value, no_key.error_code) == ("fallback", ErrorCode.TARGETING_KEY_MISSING)
    finally:
        release_client(client)


def test_each_client_has_its_own_provider() -> None:
    a = features_client(_Snapshot(flag({"default": {"variant": "on"}}, key="k")))
    b = features_client(_Snapshot(flag({"default": {"variant": "off"}}, key="k")))
    try:
        assert a.get_boolean_value("k", False) is True
        assert b.get_boolean_value("k", True) is False
        assert api.get_provider_metadata(a.domain).name == "paystead"
    finally:
        release_client(a)
        release_client(b)
