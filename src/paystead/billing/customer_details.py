"""Validation of a customer's billing details: address, tax id (GSTIN), locale (no I/O).

* ``address`` {line1, line2?, city, state_code, postal_code, country}: ``country`` is
  ISO 3166 alpha-2; for India ``state_code`` must be a GST state code ("29") or an ISO
  3166-2:IN code ("KA", "IN-KA"), stored as the GST code; a PIN code has 6 digits.
* ``tax_id``: for buyers in India (or with no country), a GSTIN verified with its check
  character. Its state may differ from the address's (a registration elsewhere); the
  place of supply follows the GSTIN (``invoice_service.buyer_party``). Other
  countries: 2-32 letters and digits (VAT ids and the like).
"""

from __future__ import annotations

import re
from typing import Any

from paystead.billing.tax.gstin import gst_state_code, validate_gstin
from paystead.errors import InvalidInput

_COUNTRY = re.compile(r"^[A-Z]{2}$")
_FOREIGN_TAX_ID = re.compile(r"^[A-Z0-9][A-Z0-9 .-]{1,31}$")
_LOCALE = re.compile(r"^[a-z]{2,3}([_-][A-Za-z]{2,4})?$")
_PIN = re.compile(r"^[1-9][0-9]{5}$")


def validate_address(address: dict[str, Any] | None) -> dict[str, Any] | None:
    if address is None:
        return None
    country = str(address.get("country") or "").strip().upper()
    if not _COUNTRY.match(country):
        raise InvalidInput("country must be an ISO 3166 alpha-2 code", param="address.country")
    line1 = str(address.get("line1") or "").strip()
    if not line1:
        raise InvalidInput("line1 is required", param="address.line1")
    state = address.get("state_code")
    postal = address.get("postal_code")
    if country == "IN":
        code = gst_state_code(str(state)) if state else None
        if code is None:
            raise InvalidInput(
                "state_code must be a GST state code (e.g. 29) or ISO 3166-2:IN code (e.g. KA)",
                param="address.state_code",
            )
        state = code
        if postal is not None and not _PIN.match(str(postal).strip()):
            raise InvalidInput("an Indian PIN code has 6 digits", param="address.postal_code")
    return {
        "line1": line1,
        "line2": (str(address["line2"]).strip() or None) if address.get("line2") else None,
        "city": str(address.get("city") or "").strip() or None,
        "state_code": str(state).strip().upper() if state else None,
        "postal_code": str(postal).strip() if postal else None,
        "country": country,
    }


def validate_tax_id(tax_id: str | None, address: dict[str, Any] | None) -> str | None:
    if tax_id is None or tax_id == "":
        return None
    country = (address or {}).get("country") or "IN"
    if country == "IN":
        return validate_gstin(tax_id, param="tax_id")
    value = tax_id.strip().upper()
    if not _FOREIGN_TAX_ID.match(value):
        raise InvalidInput("tax_id must be 2-32 letters and digits", param="tax_id")
    return value


def validate_locale(locale: str | None) -> str | None:
    if locale is None:
        return None
    if not _LOCALE.match(locale):
        raise InvalidInput("locale must look like en_IN or hi-IN", param="locale")
    return locale.replace("-", "_")


def validate_payment_method(method: str | None) -> str | None:
    if method is None:
        return None
    if not 1 <= len(method) <= 64 or not method.isprintable():
        raise InvalidInput("payment_method must be 1-64 characters", param="payment_method")
    return method
