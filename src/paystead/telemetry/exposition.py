"""``GET /metrics``: the Prometheus text format (every worker's, in multi-process mode).

Open by default, like most exporters (bind the port to the scraper's network);
``PAYSTEAD_METRICS_REQUIRE_API_KEY=true`` asks for ``Authorization: Bearer sk_...``.
The multi-process directory: ``paystead serve --workers N`` makes a fresh one per run
(:func:`fresh_multiprocess_dir`) so counters never carry over from an earlier run.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.responses import Response

from paystead.errors import Unauthenticated

router = APIRouter(include_in_schema=False)

ENV = "PROMETHEUS_MULTIPROC_DIR"


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    state = request.app.state
    services = state.services
    if services.settings.metrics_require_api_key:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            raise Unauthenticated("send a valid API key as 'Authorization: Bearer sk_...'")
        await services.api_keys.verify(token.strip())
    telemetry = state.telemetry
    telemetry.cache_totals("api_keys", services.api_keys.hits, services.api_keys.misses)
    return Response(telemetry.exposition(), media_type=CONTENT_TYPE_LATEST)


def fresh_multiprocess_dir(workers: int) -> str | None:
    """For ``workers > 1`` without a directory set: a fresh one for this run, removed at
    exit. prometheus-client reads it when imported, so the CLI calls this before uvicorn
    starts the workers (which inherit the environment). This and the CLI are the only
    writers of the variable; ``Settings.prometheus_multiproc_dir`` reads it."""
    current = os.environ.get(ENV)
    if workers <= 1 or current:
        return current
    path = tempfile.mkdtemp(prefix="paystead-prometheus-")
    os.environ[ENV] = path
    atexit.register(shutil.rmtree, path, True)
    return path
