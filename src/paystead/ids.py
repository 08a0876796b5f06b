"""Object ids: a type prefix plus a time-ordered random part (``pay_01jf...``).

The random part is a ULID in lower-case Crockford base32: 48 bits of milliseconds then
80 random bits, so ids sort by creation time. Cursor pagination and B-tree locality
both rely on that order.
"""

from __future__ import annotations

import os
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


def _ulid(now_ms: int | None = None) -> str:
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    value = (ms << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_id(prefix: str) -> str:
    return f"{prefix}_{_ulid()}"
