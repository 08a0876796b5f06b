"""Evaluating a flag for one subject: pure, deterministic, the same in every process.

Order: a disabled flag serves its ``off_variant`` (``DISABLED``); otherwise the first
rule whose conditions all hold serves its variant (``TARGETING_MATCH``) or its split
(``SPLIT``); otherwise the default serves (``STATIC`` for a flag without rules,
``DEFAULT`` when rules exist but none matched, ``SPLIT`` for a split).

A split places the subject with :func:`bucket`::

    bucket = int.from_bytes(sha256(f"{flag_key}/{salt}/{targeting_key}".encode())
                            .digest()[:8], "big") % 10_000

and walks the weights in their stored order: the variant whose cumulative weight first
exceeds the bucket wins. Same key, salt and subject -> same variant, in every process.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from paystead.optimize.flags.model import (
    TOTAL_WEIGHT,
    Condition,
    Flag,
    Operator,
    Serve,
)

#: OpenFeature's resolution reasons (the subset we produce).
STATIC, TARGETING_MATCH, SPLIT, DISABLED, DEFAULT, ERROR = (
    "STATIC",
    "TARGETING_MATCH",
    "SPLIT",
    "DISABLED",
    "DEFAULT",
    "ERROR",
)
#: OpenFeature error codes.
FLAG_NOT_FOUND, TARGETING_KEY_MISSING = "FLAG_NOT_FOUND", "TARGETING_KEY_MISSING"

#: Context attribute names that mean the targeting key itself.
TARGETING_KEY_NAMES = frozenset({"targeting_key", "targetingKey"})


@dataclass(frozen=True, slots=True)
class Resolution:
    value: Any
    variant: str | None
    reason: str
    #: Index of the rule that matched, if one did.
    rule: int | None = None
    error_code: str | None = None
    error_message: str | None = None


def bucket(flag_key: str, salt: str, targeting_key: str) -> int:
    """The subject's bucket for this flag, 0..9999 (basis points)."""
    digest = hashlib.sha256(f"{flag_key}/{salt}/{targeting_key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % TOTAL_WEIGHT


def pick(split: tuple[tuple[str, int], ...], point: int) -> str:
    """The variant whose slice of ``[0, 10000)`` holds ``point``."""
    upper = 0
    for variant, weight in split:
        upper += weight
        if point < upper:
            return variant
    raise AssertionError("weights do not cover the whole range")  # validated on write


_MISSING: Any = object()


def _lookup(attribute: str, targeting_key: str | None, attributes: Mapping[str, Any]) -> Any:
    if attribute in TARGETING_KEY_NAMES:
        return targeting_key if targeting_key is not None else _MISSING
    return attributes.get(attribute, _MISSING)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _equal(left: Any, right: Any) -> bool:
    # True == 1 in Python; a flag rule must not confuse them.
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left is right
    return bool(left == right)


def matches(condition: Condition, targeting_key: str | None, attributes: Mapping[str, Any]) -> bool:
    """Does one condition hold? A missing attribute matches only ``not_exists``."""
    actual = _lookup(condition.attribute, targeting_key, attributes)
    op, expected = condition.operator, condition.value
    if op is Operator.NOT_EXISTS:
        return actual is _MISSING or actual is None
    if actual is _MISSING or actual is None:
        return False
    if op is Operator.EXISTS:
        return True
    if op is Operator.EQ:
        return _equal(actual, expected)
    if op is Operator.NEQ:
        return not _equal(actual, expected)
    if op is Operator.IN:
        return any(_equal(actual, e) for e in expected)
    if op is Operator.NOT_IN:
        return not any(_equal(actual, e) for e in expected)
    if op in (Operator.LT, Operator.LTE, Operator.GT, Operator.GTE):
        if not _number(actual):
            return False
        if op is Operator.LT:
            return bool(actual < expected)
        if op is Operator.LTE:
            return bool(actual <= expected)
        if op is Operator.GT:
            return bool(actual > expected)
        return bool(actual >= expected)
    if not isinstance(actual, str):
        return False
    if op is Operator.STARTS_WITH:
        return actual.startswith(expected)
    if op is Operator.ENDS_WITH:
        return actual.endswith(expected)
    return expected in actual  # CONTAINS


def _serve(
    flag: Flag, serve: Serve, targeting_key: str | None, reason: str, rule: int | None
) -> Resolution:
    definition = flag.definition
    if serve.split is None:
        assert serve.variant is not None
        return Resolution(definition.variants[serve.variant], serve.variant, reason, rule)
    if not targeting_key:
        fallback = definition.off_variant
        return Resolution(
            definition.variants[fallback],
            fallback,
            ERROR,
            rule,
            TARGETING_KEY_MISSING,
            f"flag {flag.key!r} splits by subject: give a targeting key",
        )
    variant = pick(serve.split, bucket(flag.key, definition.salt, targeting_key))
    return Resolution(definition.variants[variant], variant, SPLIT, rule)


def evaluate(
    flag: Flag, targeting_key: str | None = None, attributes: Mapping[str, Any] | None = None
) -> Resolution:
    """The value ``flag`` serves to this subject, with its variant and reason."""
    definition = flag.definition
    attributes = attributes or {}
    if not definition.enabled:
        off = definition.off_variant
        return Resolution(definition.variants[off], off, DISABLED)
    for index, rule in enumerate(definition.rules):
        if all(matches(c, targeting_key, attributes) for c in rule.conditions):
            return _serve(flag, rule.serve, targeting_key, TARGETING_MATCH, index)
    return _serve(
        flag, definition.default, targeting_key, DEFAULT if definition.rules else STATIC, None
    )
