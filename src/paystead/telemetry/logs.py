"""Structured logs: one JSON object per line, with the request id (``PAYSTEAD_LOG_FORMAT=json``).

Each line carries ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message``, the
``request_id`` and ``actor`` bound by the API's request context (absent outside a
request), ``exception`` when there is one, and any ``extra={...}`` fields given to the
logging call. uvicorn's own loggers get the same formatter.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import orjson

from paystead.events import context

_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",  # uvicorn's ANSI-coloured copy of the message
}
_UVICORN = ("uvicorn", "uvicorn.error", "uvicorn.access")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        bound = context.current()
        if bound.request_id is not None:
            entry["request_id"] = bound.request_id
            entry["actor"] = bound.actor
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def use_json_logs(level: str) -> None:
    """JSON on stderr for the root logger and uvicorn's loggers, at ``level``."""
    formatter = JsonFormatter()
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
    root.setLevel(level.upper())
    for logger in (root, *(logging.getLogger(name) for name in _UVICORN)):
        for handler in logger.handlers:
            handler.setFormatter(formatter)
