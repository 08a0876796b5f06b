"""Every error leaves the API as RFC 9457 problem details (``application/problem+json``).

Members: ``type``, ``title``, ``status``, ``detail``, plus our extensions ``code`` (stable,
machine-readable) and ``param`` (the input field to blame, when there is one). The
status of a domain error is decided here, by its family in ``paystead.errors``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from paystead import errors
from paystead.gateways.base import GatewayOutcomeUnknown
from paystead.gateways.events import InvalidSignature, InvalidWebhookPayload
from paystead.platform.idempotency import ReplayStoredResponse

log = logging.getLogger(__name__)

PROBLEM_TYPE_BASE = "https://paystead.dev/problems/"
MEDIA_TYPE = "application/problem+json"

#: First match wins, so the more specific families come first.
_STATUS: list[tuple[type[errors.PaysteadError], int]] = [
    (errors.Unauthenticated, 401),
    (errors.NotFound, 404),
    (errors.Conflict, 409),
    (errors.IdempotencyKeyReused, 422),
    # A forged or unreadable signature, a webhook body that is not the documented JSON:
    # the request itself is malformed (as with bad JSON), not one parameter's value.
    (InvalidSignature, 400),
    (InvalidWebhookPayload, 400),
    (errors.InvalidInput, 422),
    # The gateway may have acted: the payment stays processing; retry or fetch.
    (GatewayOutcomeUnknown, 502),
    # It certainly did not act (unreachable, 429/503, open circuit, none available):
    # retry later with the same Idempotency-Key.
    (errors.GatewayTransient, 503),
    (errors.GatewayError, 502),
]


def status_for(exc: errors.PaysteadError) -> int:
    for family, status in _STATUS:
        if isinstance(exc, family):
            return status
    return 500


def problem(
    status: int,
    code: str,
    title: str,
    detail: str,
    *,
    param: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if param is not None:
        body["param"] = param
    return Response(orjson.dumps(body), status_code=status, media_type=MEDIA_TYPE, headers=headers)


def _param_of(loc: tuple[Any, ...]) -> str | None:
    parts = (
        [str(p) for p in loc[1:]] if loc and loc[0] in ("body", "query", "path", "header") else []
    )
    return ".".join(parts) or None


async def _domain_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, errors.PaysteadError)
    status = status_for(exc)
    if status >= 500:
        log.error("domain error %s: %s", exc.code, exc.detail)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if status == 503:
        headers = {"Retry-After": "1"}
    return problem(status, exc.code, exc.title, exc.detail, param=exc.param, headers=headers)


async def _validation_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems = exc.errors()
    first = problems[0] if problems else {"loc": (), "msg": "invalid request", "type": ""}
    if first.get("type") == "json_invalid":
        return problem(
            400, "body_malformed", "Malformed JSON", "the request body is not valid JSON"
        )
    param = _param_of(tuple(first.get("loc", ())))
    message = str(first.get("msg", "invalid value"))
    detail = f"{param}: {message}" if param else message
    if len(problems) > 1:
        detail += f" (and {len(problems) - 1} more problem(s))"
    return problem(422, "parameter_invalid", "Invalid parameter", detail, param=param)


async def _http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    codes = {404: "route_not_found", 405: "method_not_allowed", 413: "body_too_large"}
    code = codes.get(exc.status_code, f"http_{exc.status_code}")
    title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "HTTP error")
    return problem(exc.status_code, code, title, str(exc.detail), headers=exc.headers)


async def _replay(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ReplayStoredResponse)
    return Response(
        exc.response.body,
        status_code=exc.response.status,
        media_type="application/json",
        headers={"Idempotent-Replayed": "true"},
    )


async def _unexpected(_request: Request, exc: Exception) -> Response:
    log.exception("unhandled error", exc_info=exc)
    return problem(500, "internal_error", "Internal error", "an unexpected error occurred")


def install(app: FastAPI) -> None:
    app.add_exception_handler(ReplayStoredResponse, _replay)
    app.add_exception_handler(errors.PaysteadError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
