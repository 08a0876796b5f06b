"""Request and response bodies of ``/v1/flags`` (the shape; the meaning is checked by
``optimize/flags/model.py``, which names the field at fault)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from paystead.optimize.flags.evaluate import Resolution
from paystead.optimize.flags.model import Flag
from paystead.optimize.flags.store import FlagChange, flag_object

JsonValue = Any


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ServeIn(_Input):
    """Exactly one of ``variant`` or ``split`` (variant -> basis points, sum 10,000)."""

    variant: str | None = Field(default=None, max_length=64)
    split: dict[str, JsonValue] | None = Field(default=None, max_length=50)


class ConditionIn(_Input):
    attribute: str = Field(max_length=100, examples=["country"])
    operator: str = Field(
        max_length=16,
        description="eq, neq, in, not_in, lt, lte, gt, gte, starts_with, ends_with, "
        "contains, exists, not_exists",
        examples=["in"],
    )
    value: JsonValue = None


class RuleIn(_Input):
    name: str | None = Field(default=None, max_length=100)
    conditions: list[ConditionIn] = Field(max_length=20)
    serve: ServeIn


_DEFINITION_FIELDS = ("type", "variants", "off_variant", "default", "rules", "enabled", "salt")


class _DefinitionIn(_Input):
    variants: dict[str, JsonValue] | None = Field(default=None, max_length=50)
    off_variant: str | None = Field(default=None, max_length=64)
    default: ServeIn | None = None
    rules: list[RuleIn] | None = Field(default=None, max_length=100)
    enabled: bool | None = None
    salt: str | None = Field(default=None, max_length=64)
    description: str | None = Field(default=None, max_length=500)
    metadata: dict[str, str] | None = Field(default=None, max_length=50)
    #: Why the change was made: kept on the flag and in its audit trail.
    reason: str | None = Field(default=None, max_length=500)

    def definition_patch(self) -> dict[str, Any]:
        """The definition fields the caller sent, as the domain parser takes them."""
        sent = self.model_dump(mode="json", exclude_unset=True)
        patch = {k: v for k, v in sent.items() if k in _DEFINITION_FIELDS}
        return {k: _without_nulls(v) for k, v in patch.items() if v is not None}


def _without_nulls(value: Any) -> Any:
    """``{"variant": "a", "split": null}`` means ``{"variant": "a"}``."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


class FlagCreate(_DefinitionIn):
    key: str = Field(max_length=100, examples=["payments.routing_strategy"])
    type: Literal["boolean", "string", "number", "object"] = "boolean"


class FlagUpdate(_DefinitionIn):
    """Only the fields sent change (the definition is validated again as a whole)."""


class EvaluateIn(_Input):
    targeting_key: str | None = Field(default=None, max_length=255)
    attributes: dict[str, JsonValue] = Field(default_factory=dict, max_length=100)


class FlagOut(BaseModel):
    id: str
    object: Literal["flag"] = "flag"
    key: str
    description: str | None
    type: str
    variants: dict[str, JsonValue]
    off_variant: str
    default: dict[str, JsonValue]
    rules: list[dict[str, JsonValue]]
    enabled: bool
    salt: str
    version: int
    metadata: dict[str, JsonValue]
    created: int
    updated: int
    updated_by: str | None
    change_reason: str | None
    deleted: bool = False

    @classmethod
    def of(cls, flag: Flag, *, deleted: bool = False) -> FlagOut:
        return cls(**flag_object(flag, deleted=deleted))


class FlagList(BaseModel):
    object: Literal["list"] = "list"
    url: str = "/v1/flags"
    data: list[FlagOut]
    has_more: bool


class FlagChangeOut(BaseModel):
    event: str
    type: str
    key: str
    version: int
    actor: str
    reason: str | None
    previous_attributes: dict[str, JsonValue] | None
    created: int

    @classmethod
    def of(cls, change: FlagChange) -> FlagChangeOut:
        return cls(
            event=change.event_id,
            type=change.type,
            key=change.key,
            version=change.version,
            actor=change.actor,
            reason=change.reason,
            previous_attributes=change.previous,
            created=int(change.at.timestamp()),
        )


class FlagHistory(BaseModel):
    object: Literal["list"] = "list"
    data: list[FlagChangeOut]


class EvaluationOut(BaseModel):
    key: str
    value: JsonValue
    variant: str | None
    reason: str
    rule: int | None
    error_code: str | None
    error_message: str | None
    version: int
    #: The subject's bucket (0..9999) for this flag, when a targeting key was given.
    bucket: int | None

    @classmethod
    def of(cls, flag: Flag, r: Resolution, bucket: int | None) -> EvaluationOut:
        return cls(
            key=flag.key,
            value=r.value,
            variant=r.variant,
            reason=r.reason,
            rule=r.rule,
            error_code=r.error_code,
            error_message=r.error_message,
            version=flag.version,
            bucket=bucket,
        )
