"""Object ids: a type prefix plus a time-ordered random part (``pay_01jf...``).

The random part is a ULID in lower-case Crockford base32: 48 bits of milliseconds then
80 random bits, so ids sort by creation time (and, within one process, by creation
order: ids made in the same millisecond count up). Cursor pagination and B-tree locality
both rely on that order.
"""

from __future__ import annotations

import os
import threading
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


_last = 0  # the previous id's 128-bit value, for monotonic ids within this process
_lock = threading.Lock()


def _ulid(now_ms: int | None = None) -> str:
    """A ULID, monotonic within the process: an id made in the same millisecond as the
    previous one is the previous one plus one, so ids also sort by creation order."""
    global _last
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    value = (ms << 80) | int.from_bytes(os.urandom(10), "big")
    if now_ms is None:
        with _lock:
            if value >> 80 <= _last >> 80:
                value = _last + 1
            _last = value
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_id(prefix: str) -> str:
    return f"{prefix}_{_ulid()}"
