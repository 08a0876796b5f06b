"""The OpenFeature Remote Evaluation Protocol (OFREP) over paystead's flags.

``POST /ofrep/v1/evaluate/flags/{key}`` and the bulk ``POST /ofrep/v1/evaluate/flags``
take ``{"context": {"targetingKey": ..., <attributes>}}`` and answer
``{key, value, reason, variant, metadata}`` from the same in-process snapshot and the
same buckets as ``services.features``. Errors carry OFREP's ``{key, errorCode,
errorDetails}`` *and* our problem+json members in one body, so an OFREP client and a
problem+json client both read it. The bulk answer has an ``ETag``; a request whose
``If-None-Match`` names it gets ``304 Not Modified``.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Request
from starlette.responses import Response

from paystead.api.deps import CurrentKey, ServicesDep
from paystead.api.problems import MEDIA_TYPE, PROBLEM_TYPE_BASE
from paystead.optimize.flags.evaluate import ERROR, FLAG_NOT_FOUND, evaluate
from paystead.optimize.flags.model import Flag
from paystead.optimize.flags.provider import resolution_metadata

router = APIRouter(prefix="/ofrep/v1/evaluate", tags=["ofrep"])

PARSE_ERROR, INVALID_CONTEXT, GENERAL = "PARSE_ERROR", "INVALID_CONTEXT", "GENERAL"

_REQUEST_BODY = {
    "requestBody": {
        "required": False,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "context": {
                            "type": "object",
                            "properties": {"targetingKey": {"type": "string"}},
                            "additionalProperties": True,
                        }
                    },
                }
            }
        },
    }
}


class _Context:
    def __init__(self, targeting_key: str | None, attributes: dict[str, Any]):
        self.targeting_key = targeting_key
        self.attributes = attributes


class _BadRequest(Exception):
    def __init__(self, code: str, details: str):
        self.code = code
        self.details = details


def _error(status: int, key: str | None, code: str, details: str) -> Response:
    body: dict[str, Any] = {
        "errorCode": code,
        "errorDetails": details,
        "type": PROBLEM_TYPE_BASE + code.lower(),
        "title": "Flag not found" if code == FLAG_NOT_FOUND else "Invalid evaluation request",
        "status": status,
        "detail": details,
        "code": code.lower(),
    }
    if key is not None:
        body = {"key": key, **body}
    if code == INVALID_CONTEXT:
        body["param"] = "context"
    return Response(orjson.dumps(body), status_code=status, media_type=MEDIA_TYPE)


async def _context(request: Request) -> _Context:
    raw = await request.body()
    if not raw.strip():
        return _Context(None, {})
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise _BadRequest(PARSE_ERROR, "the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise _BadRequest(PARSE_ERROR, 'the request body is {"context": {...}}')
    context = body.get("context", {})
    if context is None:
        context = {}
    if not isinstance(context, dict):
        raise _BadRequest(INVALID_CONTEXT, "context must be an object")
    attributes = dict(context)
    targeting_key = attributes.pop("targetingKey", None)
    if targeting_key is not None and not isinstance(targeting_key, str):
        raise _BadRequest(INVALID_CONTEXT, "context.targetingKey must be a string")
    return _Context(targeting_key, attributes)


def _evaluation(flag: Flag, context: _Context) -> tuple[bool, dict[str, Any]]:
    resolution = evaluate(flag, context.targeting_key, context.attributes)
    if resolution.reason == ERROR:
        return False, {
            "key": flag.key,
            "errorCode": resolution.error_code or GENERAL,
            "errorDetails": resolution.error_message or "evaluation failed",
        }
    return True, {
        "key": flag.key,
        "value": resolution.value,
        "reason": resolution.reason,
        "variant": resolution.variant,
        "metadata": dict(resolution_metadata(flag, resolution)),
    }


@router.post("/flags/{key}", openapi_extra=_REQUEST_BODY)
async def ofrep_evaluate_flag(
    key: str, request: Request, services: ServicesDep, api_key: CurrentKey
) -> Response:
    """Evaluate one flag for the context (OFREP single flag evaluation)."""
    try:
        context = await _context(request)
    except _BadRequest as bad:
        return _error(400, key, bad.code, bad.details)
    flag = services.flags.cache.get(key)
    if flag is None:
        return _error(404, key, FLAG_NOT_FOUND, f"flag {key!r} was not found")
    ok, body = _evaluation(flag, context)
    if not ok:
        return _error(400, key, body["errorCode"], body["errorDetails"])
    return Response(orjson.dumps(body), media_type="application/json")


def _etag_matches(header: str | None, etag: str) -> bool:
    if header is None:
        return False
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return "*" in tags or etag in tags


@router.post("/flags", openapi_extra=_REQUEST_BODY)
async def ofrep_evaluate_flags(
    request: Request,
    services: ServicesDep,
    api_key: CurrentKey,
    if_none_match: Annotated[str | None, Header(alias="If-None-Match")] = None,
) -> Response:
    """Evaluate every flag for the context (OFREP bulk evaluation), with an ETag."""
    try:
        context = await _context(request)
    except _BadRequest as bad:
        return _error(400, None, bad.code, bad.details)
    results = [_evaluation(flag, context)[1] for flag in services.flags.cache.all()]
    body = orjson.dumps({"flags": results}, option=orjson.OPT_SORT_KEYS)
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    if _etag_matches(if_none_match, etag):
        return Response(status_code=304, headers={"ETag": etag})
    return Response(body, media_type="application/json", headers={"ETag": etag})
