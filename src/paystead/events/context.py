"""Who is acting, and in which request: read when an event is recorded.

The API binds a :class:`RequestContext` per request (request id, then the API key id once
the key is known); the CLI binds ``actor="cli"``. Code outside any binding acts as
``system`` (the worker, background jobs). This is how the audit trail learns *who* and
*which request* without every use case passing them along.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

SYSTEM = "system"


@dataclass
class RequestContext:
    request_id: str | None = None
    #: An API key id (``key_...``), ``cli`` or ``system``; never a secret.
    actor: str = SYSTEM


_current: ContextVar[RequestContext | None] = ContextVar("paystead_request_context", default=None)
_SYSTEM = RequestContext()


def current() -> RequestContext:
    return _current.get() or _SYSTEM


@contextmanager
def bound(context: RequestContext) -> Iterator[RequestContext]:
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)
