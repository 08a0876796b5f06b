"""Phone numbers: parsed and validated with ``phonenumbers`` (libphonenumber), sent as E.164."""

from __future__ import annotations

import phonenumbers

from paystead.errors import InvalidInput


def to_e164(number: str, *, region: str | None = None, param: str = "phone") -> str:
    """``+919876543210`` for any valid way of writing it; ``region`` (ISO 3166 alpha-2)
    is assumed for numbers written without a country code."""
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        raise InvalidInput(
            f"{number!r} is not a phone number", code="phone_invalid", param=param
        ) from None
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidInput(
            f"{number!r} is not a valid phone number", code="phone_invalid", param=param
        )
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def masked(e164: str) -> str:
    """For logs: the country code and the last two digits only."""
    return e164[:3] + "*" * max(0, len(e164) - 5) + e164[-2:]
