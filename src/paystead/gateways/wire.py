"""Typed reads from a provider's JSON, so a malformed body fails loudly and early.

Each reader takes the error to raise, because the same malformation is the provider's
fault in a response (``GatewayError``) and the sender's in a webhook (``InvalidInput``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from paystead.errors import PaysteadError

ErrorFactory = Callable[[str], PaysteadError]


def obj(data: Mapping[str, Any], key: str, error: ErrorFactory) -> dict[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise error(f"{key!r} must be an object")
    return value


def opt_obj(data: Mapping[str, Any], key: str, error: ErrorFactory) -> dict[str, Any] | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise error(f"{key!r} must be an object or null")
    return value


def string(data: Mapping[str, Any], key: str, error: ErrorFactory) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise error(f"{key!r} must be a non-empty string")
    return value


def opt_string(data: Mapping[str, Any], key: str, error: ErrorFactory) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise error(f"{key!r} must be a string or null")
    return value or None


def integer(data: Mapping[str, Any], key: str, error: ErrorFactory) -> int:
    value = data.get(key)
    if type(value) is not int:
        raise error(f"{key!r} must be an integer")
    return value


def opt_integer(data: Mapping[str, Any], key: str, error: ErrorFactory) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if type(value) is not int:
        raise error(f"{key!r} must be an integer or null")
    return value


def str_map(data: Mapping[str, Any], key: str) -> dict[str, str]:
    """String-valued entries of ``data[key]`` (Razorpay sends ``notes: []`` when empty)."""
    value = data.get(key)
    if not isinstance(value, dict):
        return {}
    return {str(k): v for k, v in value.items() if isinstance(v, str)}
