"""paystead's OpenFeature provider: evaluates against the in-process snapshot.

Callers use only the standard OpenFeature client (``services.features``), so the same
code can later run on another vendor's provider. Resolution never touches the
database: it reads :class:`~paystead.optimize.flags.cache.FlagCache`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import FlagMetadata, FlagResolutionDetails, FlagValueType, Reason
from openfeature.hook import Hook
from openfeature.provider import AbstractProvider, Metadata

from paystead.optimize.flags.cache import FlagCache
from paystead.optimize.flags.evaluate import ERROR, Resolution, evaluate
from paystead.optimize.flags.model import Flag, FlagType

_ERROR_CODES = {code.value: code for code in ErrorCode}


def resolution_metadata(flag: Flag, resolution: Resolution) -> FlagMetadata:
    """What OFREP and the provider add to a result: the flag's version and the rule."""
    meta: dict[str, bool | int | float | str] = {"version": flag.version}
    if resolution.rule is not None:
        meta["rule"] = resolution.rule
        name = flag.definition.rules[resolution.rule].name
        if name:
            meta["rule_name"] = name
    return meta


def evaluate_in_context(flag: Flag, context: EvaluationContext | None) -> Resolution:
    context = context or EvaluationContext()
    return evaluate(flag, context.targeting_key, context.attributes)


class PaysteadProvider(AbstractProvider):
    def __init__(self, cache: FlagCache):
        super().__init__()
        self.cache = cache

    def get_metadata(self) -> Metadata:
        return Metadata(name="paystead")

    def get_provider_hooks(self) -> list[Hook]:
        return []

    def knows(self, flag_key: str) -> bool:
        """Whether the snapshot holds ``flag_key`` (``payments.flags`` skips absent
        flags rather than pay OpenFeature's error path for their defaults)."""
        return self.cache.get(flag_key) is not None

    def _resolve(
        self,
        flag_key: str,
        default_value: Any,
        context: EvaluationContext | None,
        accepts: tuple[FlagType, ...],
        convert: Any = None,
    ) -> FlagResolutionDetails[Any]:
        flag = self.cache.get(flag_key)
        if flag is None:
            return FlagResolutionDetails(
                value=default_value,
                reason=Reason.ERROR,
                error_code=ErrorCode.FLAG_NOT_FOUND,
                error_message=f"no flag {flag_key!r}",
            )
        if flag.type not in accepts:
            return FlagResolutionDetails(
                value=default_value,
                reason=Reason.ERROR,
                error_code=ErrorCode.TYPE_MISMATCH,
                error_message=f"flag {flag_key!r} is a {flag.type.value} flag",
            )
        resolution = evaluate_in_context(flag, context)
        if resolution.reason == ERROR:
            return FlagResolutionDetails(
                value=default_value,
                variant=resolution.variant,
                reason=Reason.ERROR,
                error_code=_ERROR_CODES.get(resolution.error_code or "", ErrorCode.GENERAL),
                error_message=resolution.error_message,
                flag_metadata=resolution_metadata(flag, resolution),
            )
        value = resolution.value
        if convert is not None:
            value = convert(value)
        return FlagResolutionDetails(
            value=value,
            variant=resolution.variant,
            reason=Reason(resolution.reason),
            flag_metadata=resolution_metadata(flag, resolution),
        )

    def resolve_boolean_details(
        self,
        flag_key: str,
        default_value: bool,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[bool]:
        return self._resolve(flag_key, default_value, evaluation_context, (FlagType.BOOLEAN,))

    def resolve_string_details(
        self,
        flag_key: str,
        default_value: str,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[str]:
        return self._resolve(flag_key, default_value, evaluation_context, (FlagType.STRING,))

    def resolve_integer_details(
        self,
        flag_key: str,
        default_value: int,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[int]:
        return self._resolve(flag_key, default_value, evaluation_context, (FlagType.NUMBER,))

    def resolve_float_details(
        self,
        flag_key: str,
        default_value: float,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[float]:
        return self._resolve(flag_key, default_value, evaluation_context, (FlagType.NUMBER,), float)

    def resolve_object_details(
        self,
        flag_key: str,
        default_value: Sequence[FlagValueType] | Mapping[str, FlagValueType],
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[Sequence[FlagValueType] | Mapping[str, FlagValueType]]:
        return self._resolve(flag_key, default_value, evaluation_context, (FlagType.OBJECT,))
