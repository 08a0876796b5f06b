"""GSTIN validation and Indian GST state codes (no I/O).

A GSTIN is 15 characters: the 2-digit state code, the holder's 10-character PAN, an
entity number (1-9, A-Z), ``Z`` by default, and a check character. The check
character is a mod-36 Luhn-style checksum over the first 14 characters: each
character's value (0-9, then A-Z as 10-35) is multiplied by 1 and 2 alternately
(starting with 1), each product contributes ``product // 36 + product % 36``, and
the check value is ``(36 - sum % 36) % 36``. Published valid example:
``27AAPFU0939F1ZV`` (/work/shared/reference/facts.md).
"""

from __future__ import annotations

import re

from paystead.errors import InvalidInput

_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_SHAPE = re.compile(r"^[0-9]{2}[A-Z]{5}[0-9]{4}[A-Z][1-9A-Z][A-Z0-9][0-9A-Z]$")

#: GST state codes (as printed on GSTINs and as "place of supply").
STATES: dict[str, str] = {
    "01": "Jammu and Kashmir",
    "02": "Himachal Pradesh",
    "03": "Punjab",
    "04": "Chandigarh",
    "05": "Uttarakhand",
    "06": "Haryana",
    "07": "Delhi",
    "08": "Rajasthan",
    "09": "Uttar Pradesh",
    "10": "Bihar",
    "11": "Sikkim",
    "12": "Arunachal Pradesh",
    "13": "Nagaland",
    "14": "Manipur",
    "15": "Mizoram",
    "16": "Tripura",
    "17": "Meghalaya",
    "18": "Assam",
    "19": "West Bengal",
    "20": "Jharkhand",
    "21": "Odisha",
    "22": "Chhattisgarh",
    "23": "Madhya Pradesh",
    "24": "Gujarat",
    "26": "Dadra and Nagar Haveli and Daman and Diu",
    "27": "Maharashtra",
    "29": "Karnataka",
    "30": "Goa",
    "31": "Lakshadweep",
    "32": "Kerala",
    "33": "Tamil Nadu",
    "34": "Puducherry",
    "35": "Andaman and Nicobar Islands",
    "36": "Telangana",
    "37": "Andhra Pradesh",
    "38": "Ladakh",
    "97": "Other Territory",
}

#: ISO 3166-2:IN subdivision codes (current and former) -> GST state code.
ISO_TO_GST: dict[str, str] = {
    "JK": "01", "HP": "02", "PB": "03", "CH": "04", "UK": "05", "UT": "05", "HR": "06",
    "DL": "07", "RJ": "08", "UP": "09", "BR": "10", "SK": "11", "AR": "12", "NL": "13",
    "MN": "14", "MZ": "15", "TR": "16", "ML": "17", "AS": "18", "WB": "19", "JH": "20",
    "OD": "21", "OR": "21", "CG": "22", "CT": "22", "MP": "23", "GJ": "24", "DH": "26",
    "DN": "26", "DD": "26", "MH": "27", "KA": "29", "GA": "30", "LD": "31", "KL": "32",
    "TN": "33", "PY": "34", "AN": "35", "TS": "36", "TG": "36", "AP": "37", "LA": "38",
}  # fmt: skip


def check_character(first14: str) -> str:
    total = 0
    for i, char in enumerate(first14):
        product = _CHARS.index(char) * (1 if i % 2 == 0 else 2)
        total += product // 36 + product % 36
    return _CHARS[(36 - total % 36) % 36]


def is_valid_gstin(value: str) -> bool:
    value = value.upper() if isinstance(value, str) else ""
    if not _SHAPE.match(value) or value[:2] not in STATES:
        return False
    return check_character(value[:14]) == value[14]


def validate_gstin(value: str, *, param: str = "tax_id") -> str:
    """The GSTIN upper-cased, or InvalidInput naming ``param``."""
    if not isinstance(value, str) or not is_valid_gstin(value.strip()):
        raise InvalidInput(
            "not a valid GSTIN (15 characters: state code, PAN, entity, Z, check character)",
            code="tax_id_invalid",
            param=param,
        )
    return value.strip().upper()


def gst_state_code(value: str | None) -> str | None:
    """A GST state code from a 2-digit code or an ISO 3166-2:IN code ("KA", "IN-KA")."""
    if not value:
        return None
    v = value.strip().upper()
    if v.startswith("IN-"):
        v = v[3:]
    if v.isdigit() and len(v) == 2 and v in STATES:
        return v
    return ISO_TO_GST.get(v)


def place_of_supply_label(state_code: str) -> str:
    return f"{state_code}-{STATES.get(state_code, 'Unknown')}"
