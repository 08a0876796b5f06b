"""Feature flags: the definition and its validation (no I/O).

A flag has a type (``boolean``, ``string``, ``number``, ``object``), named variants
holding values of that type, an ``off_variant`` served while the flag is disabled (the
kill switch), ordered targeting ``rules`` and a ``default`` served when no rule matches.
A rule and the default each *serve* either one variant or a percentage ``split``:
weights in basis points (0..10,000) that sum to exactly 10,000.

:func:`parse_definition` turns the JSON shape (API, CLI, store) into a :class:`Definition`
and raises :class:`~paystead.errors.InvalidInput` naming the offending field
(``rules.0.serve.split``) for anything inconsistent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from paystead.errors import InvalidInput

#: Basis points in a whole split.
TOTAL_WEIGHT = 10_000
MAX_VARIANTS = 50
MAX_RULES = 100
MAX_CONDITIONS = 20
KEY_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
VARIANT_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class FlagType(StrEnum):
    BOOLEAN = "boolean"
    STRING = "string"
    NUMBER = "number"
    OBJECT = "object"


class Operator(StrEnum):
    EQ = "eq"
    NEQ = "neq"
    IN = "in"
    NOT_IN = "not_in"
    LT = "lt"
    LTE = "lte"
    GT = "gt"
    GTE = "gte"
    STARTS_WITH = "starts_with"
    ENDS_WITH = "ends_with"
    CONTAINS = "contains"
    EXISTS = "exists"
    NOT_EXISTS = "not_exists"


LIST_OPERATORS = frozenset({Operator.IN, Operator.NOT_IN})
NUMBER_OPERATORS = frozenset({Operator.LT, Operator.LTE, Operator.GT, Operator.GTE})
STRING_OPERATORS = frozenset({Operator.STARTS_WITH, Operator.ENDS_WITH, Operator.CONTAINS})
NO_VALUE_OPERATORS = frozenset({Operator.EXISTS, Operator.NOT_EXISTS})

Scalar = str | int | float | bool


@dataclass(frozen=True, slots=True)
class Condition:
    attribute: str
    operator: Operator
    value: Any = None


@dataclass(frozen=True, slots=True)
class Serve:
    """One variant, or a split: ``((variant, basis_points), ...)`` in a fixed order."""

    variant: str | None = None
    split: tuple[tuple[str, int], ...] | None = None

    def to_json(self) -> dict[str, Any]:
        if self.split is not None:
            return {"split": dict(self.split)}
        return {"variant": self.variant}


@dataclass(frozen=True, slots=True)
class Rule:
    conditions: tuple[Condition, ...]
    serve: Serve
    name: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "conditions": [
                {"attribute": c.attribute, "operator": c.operator.value, "value": c.value}
                for c in self.conditions
            ],
            "serve": self.serve.to_json(),
        }


@dataclass(frozen=True, slots=True)
class Definition:
    """What a flag serves; everything evaluation needs besides the key and version."""

    type: FlagType
    variants: Mapping[str, Any]
    off_variant: str
    default: Serve
    rules: tuple[Rule, ...] = ()
    enabled: bool = True
    salt: str = ""

    def to_json(self) -> dict[str, Any]:
        """The stored form (``flags.definition``), also the API's shape minus the key."""
        return {
            "type": self.type.value,
            "variants": dict(self.variants),
            "off_variant": self.off_variant,
            "default": self.default.to_json(),
            "rules": [r.to_json() for r in self.rules],
            "enabled": self.enabled,
            "salt": self.salt,
        }


@dataclass(frozen=True, slots=True)
class Flag:
    id: str
    key: str
    definition: Definition
    version: int
    created_at: datetime
    updated_at: datetime
    description: str | None = None
    #: Who made the last change (an API key id, ``cli``, ``system``) and why.
    updated_by: str | None = None
    change_reason: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def enabled(self) -> bool:
        return self.definition.enabled

    @property
    def type(self) -> FlagType:
        return self.definition.type


def check_key(key: object, *, param: str = "key") -> str:
    if not isinstance(key, str) or not KEY_PATTERN.match(key):
        raise InvalidInput(
            "a flag key is 1 to 100 letters, digits, '.', '_' or '-', starting with a "
            "letter or digit",
            code="flag_key_invalid",
            param=param,
        )
    return key


def value_fits(flag_type: FlagType, value: object) -> bool:
    if flag_type is FlagType.BOOLEAN:
        return isinstance(value, bool)
    if flag_type is FlagType.STRING:
        return isinstance(value, str)
    if flag_type is FlagType.NUMBER:
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, dict | list)


def _fail(detail: str, param: str) -> InvalidInput:
    return InvalidInput(detail, code="flag_invalid", param=param)


def parse_split(raw: object, variants: Mapping[str, Any], *, param: str) -> Serve:
    if not isinstance(raw, Mapping) or not raw:
        raise _fail("a split maps variant names to basis points", param)
    pairs: list[tuple[str, int]] = []
    for name, weight in raw.items():
        if name not in variants:
            raise _fail(f"the split names {name!r}, which is not a variant", f"{param}.{name}")
        if isinstance(weight, bool) or not isinstance(weight, int) or weight < 0:
            raise _fail("a weight is a whole number of basis points, 0 or more", f"{param}.{name}")
        pairs.append((str(name), weight))
    total = sum(w for _, w in pairs)
    if total != TOTAL_WEIGHT:
        raise _fail(
            f"the weights sum to {total} basis points; they must sum to {TOTAL_WEIGHT}", param
        )
    return Serve(split=tuple(pairs))


def parse_serve(raw: object, variants: Mapping[str, Any], *, param: str) -> Serve:
    if not isinstance(raw, Mapping):
        raise _fail("serve one 'variant' or a 'split'", param)
    variant, split = raw.get("variant"), raw.get("split")
    if (variant is None) == (split is None):
        raise _fail("serve exactly one of 'variant' or 'split'", param)
    if split is not None:
        return parse_split(split, variants, param=f"{param}.split")
    if not isinstance(variant, str) or variant not in variants:
        raise _fail(f"{variant!r} is not one of the variants", f"{param}.variant")
    return Serve(variant=variant)


def _is_scalar(value: object) -> bool:
    return isinstance(value, str | int | float | bool)


def parse_condition(raw: object, *, param: str) -> Condition:
    if not isinstance(raw, Mapping):
        raise _fail("a condition is {attribute, operator, value}", param)
    attribute = raw.get("attribute")
    if not isinstance(attribute, str) or not 1 <= len(attribute) <= 100:
        raise _fail("name the context attribute (1 to 100 characters)", f"{param}.attribute")
    try:
        operator = Operator(str(raw.get("operator")))
    except ValueError:
        names = ", ".join(o.value for o in Operator)
        raise _fail(f"the operator is one of {names}", f"{param}.operator") from None
    value = raw.get("value")
    vparam = f"{param}.value"
    if operator in NO_VALUE_OPERATORS:
        if value is not None:
            raise _fail(f"'{operator.value}' takes no value", vparam)
    elif operator in LIST_OPERATORS:
        if not isinstance(value, list) or not value or not all(_is_scalar(v) for v in value):
            raise _fail(f"'{operator.value}' takes a non-empty list of values", vparam)
    elif operator in NUMBER_OPERATORS:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _fail(f"'{operator.value}' compares with a number", vparam)
    elif operator in STRING_OPERATORS:
        if not isinstance(value, str):
            raise _fail(f"'{operator.value}' takes a string", vparam)
    elif not _is_scalar(value):
        raise _fail(f"'{operator.value}' compares with a string, number or boolean", vparam)
    return Condition(attribute, operator, value)


def parse_rule(raw: object, variants: Mapping[str, Any], *, param: str) -> Rule:
    if not isinstance(raw, Mapping):
        raise _fail("a rule is {name?, conditions, serve}", param)
    name = raw.get("name")
    if name is not None and (not isinstance(name, str) or len(name) > 100):
        raise _fail("a rule name is a string of at most 100 characters", f"{param}.name")
    conditions = raw.get("conditions")
    if not isinstance(conditions, list) or not 1 <= len(conditions) <= MAX_CONDITIONS:
        raise _fail(
            f"a rule has 1 to {MAX_CONDITIONS} conditions (all must hold)", f"{param}.conditions"
        )
    parsed = tuple(
        parse_condition(c, param=f"{param}.conditions.{i}") for i, c in enumerate(conditions)
    )
    serve = parse_serve(raw.get("serve"), variants, param=f"{param}.serve")
    return Rule(parsed, serve, name)


def parse_definition(raw: Mapping[str, Any]) -> Definition:
    """Validate a definition: ``{type, variants?, off_variant?, default?, rules?, enabled?,
    salt?}``. Boolean flags default to variants ``on``/``off`` serving ``off``."""
    try:
        flag_type = FlagType(raw.get("type", "boolean"))
    except ValueError:
        raise _fail("the type is boolean, string, number or object", "type") from None
    variants = raw.get("variants")
    if variants is None and flag_type is FlagType.BOOLEAN:
        variants = {"on": True, "off": False}
    if not isinstance(variants, Mapping) or not 1 <= len(variants) <= MAX_VARIANTS:
        raise _fail(f"give 1 to {MAX_VARIANTS} variants: name -> value", "variants")
    for name, value in variants.items():
        if not isinstance(name, str) or not VARIANT_PATTERN.match(name):
            raise _fail(
                "a variant name is 1 to 64 letters, digits, '.', '_' or '-'", f"variants.{name}"
            )
        if not value_fits(flag_type, value):
            raise _fail(
                f"variant {name!r} holds {type(value).__name__}, not a {flag_type.value} value",
                f"variants.{name}",
            )
    variants = dict(variants)
    default_raw = raw.get("default")
    if default_raw is None:
        if flag_type is FlagType.BOOLEAN and "off" in variants:
            default_raw = {"variant": "off"}
        else:
            raise _fail("say what the flag serves by default: a variant or a split", "default")
    default = parse_serve(default_raw, variants, param="default")
    off_variant = raw.get("off_variant")
    if off_variant is None:
        if flag_type is FlagType.BOOLEAN and "off" in variants:
            off_variant = "off"
        elif default.variant is not None:
            off_variant = default.variant
        else:
            raise _fail("name the variant served while the flag is disabled", "off_variant")
    if not isinstance(off_variant, str) or off_variant not in variants:
        raise _fail(f"{off_variant!r} is not one of the variants", "off_variant")
    rules_raw = raw.get("rules") or []
    if not isinstance(rules_raw, list) or len(rules_raw) > MAX_RULES:
        raise _fail(f"rules are a list of at most {MAX_RULES}", "rules")
    rules = tuple(parse_rule(r, variants, param=f"rules.{i}") for i, r in enumerate(rules_raw))
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        raise _fail("enabled is true or false", "enabled")
    salt = raw.get("salt", "")
    if not isinstance(salt, str) or len(salt) > 64:
        raise _fail("the salt is a string of at most 64 characters", "salt")
    return Definition(flag_type, variants, off_variant, default, rules, enabled, salt)


def with_weights(definition: Definition, weights: Mapping[str, int]) -> Definition:
    """The definition with its default split replaced by ``weights`` (basis points)."""
    serve = parse_split(dict(weights), definition.variants, param="weights")
    return replace(definition, default=serve)


def with_enabled(definition: Definition, enabled: bool) -> Definition:
    return replace(definition, enabled=enabled)
