"""``GET /flags``: the feature flags page (state, variants, weights, recent changes)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse

from paystead.dashboard.routes import _ENV
from paystead.optimize.flags.model import Flag
from paystead.wiring import Services

router = APIRouter(include_in_schema=False)

#: Split bar colours (contrast-checked against white).
PALETTE = ("#0a4fb4", "#b35900", "#1a7f37", "#8250df", "#cf222e", "#57606a")


@dataclass(frozen=True, slots=True)
class FlagRow:
    key: str
    description: str | None
    enabled: bool
    type: str
    variants: list[tuple[str, str]]
    off_variant: str
    variant: str | None
    split: list[tuple[str, int]] | None
    rules: int
    version: int
    updated: str
    updated_by: str | None
    change_reason: str | None


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return text if len(text) <= 60 else text[:57] + "..."


def flag_row(flag: Flag) -> FlagRow:
    d = flag.definition
    return FlagRow(
        key=flag.key,
        description=flag.description,
        enabled=d.enabled,
        type=d.type.value,
        variants=[(name, _short(value)) for name, value in d.variants.items()],
        off_variant=d.off_variant,
        variant=d.default.variant,
        split=list(d.default.split) if d.default.split is not None else None,
        rules=len(d.rules),
        version=flag.version,
        updated=flag.updated_at.strftime("%Y-%m-%d %H:%M"),
        updated_by=flag.updated_by,
        change_reason=flag.change_reason,
    )


@router.get("/flags", response_class=HTMLResponse)
async def flags_page(request: Request) -> HTMLResponse:
    services: Services = request.app.state.services
    found, _ = await services.flags.list(limit=100)
    changes = await services.flags.history(limit=20)
    html = _ENV.get_template("flags.html").render(
        flags=[flag_row(f) for f in found],
        changes=changes,
        now=services.clock(),
        refresh_seconds=services.settings.flags_refresh_seconds,
        palette=PALETTE,
    )
    return HTMLResponse(html)
