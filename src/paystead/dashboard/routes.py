"""``GET /``: the dashboard page, server-rendered (Jinja2), no build step."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Annotated, Literal

import jinja2
from fastapi import APIRouter, Path, Query, Request
from starlette.responses import HTMLResponse

from paystead.dashboard.views import STATUS_LABELS, build_dashboard, launch_time
from paystead.errors import InvalidInput
from paystead.insights.framework import Framework, load_framework
from paystead.insights.reports import format_number
from paystead.wiring import Services

router = APIRouter(include_in_schema=False)

_ENV = jinja2.Environment(
    loader=jinja2.FunctionLoader(
        lambda name: resources.files("paystead.dashboard").joinpath("templates", name).read_text()
    ),
    autoescape=True,
)


_ENV.filters["number"] = format_number


@lru_cache(maxsize=4)
def _framework(path: str | None) -> Framework:
    return load_framework(path)


@router.get("/", response_class=HTMLResponse)
async def dashboard(
    request: Request,
    phase: Annotated[str | None, Query(max_length=40)] = None,
    view: Literal["operations", "executive"] = "operations",
) -> HTMLResponse:
    services: Services = request.app.state.services
    settings = services.settings
    framework = _framework(settings.framework_file)
    if phase is not None and phase not in {p.key for p in framework.phases}:
        raise InvalidInput(f"no phase {phase!r} in the framework", param="phase")
    now = services.clock()
    launch_at = await launch_time(services.db, settings.launch_at, now)
    model = await build_dashboard(
        services.db,
        framework,
        now=now,
        launch_at=launch_at,
        base_currency=settings.base_currency,
        phase=phase,
    )
    html = _ENV.get_template("index.html").render(
        model=model, view=view, now=now, labels=STATUS_LABELS
    )
    return HTMLResponse(html)


@router.get("/experiments/{key}", response_class=HTMLResponse)
async def experiment_page(
    request: Request, key: Annotated[str, Path(max_length=100)]
) -> HTMLResponse:
    """An experiment's results page (the same template as ``paystead experiment report``)."""
    from paystead.optimize.report import render_html

    services: Services = request.app.state.services
    await services.exposures.flush(refresh=False)
    experiment, analysis = await services.experiments.results(key)
    return HTMLResponse(render_html(experiment, analysis, services.clock()))
