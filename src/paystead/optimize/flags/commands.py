"""``paystead flags ...``: list, show, create, set weights, the kill switch.

Changes are made as actor ``cli`` with the ``--reason`` given, audited like API changes.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer

from paystead.config import get_settings
from paystead.errors import PaysteadError
from paystead.events.context import RequestContext, bound
from paystead.optimize.flags.model import Flag, parse_definition
from paystead.optimize.flags.store import FlagStore, flag_object

flags_app = typer.Typer(help="Feature flags: list, show, create, set weights, enable, disable.")

T = TypeVar("T")
ACTOR = "cli"


def _run(work: Callable[[FlagStore], Awaitable[T]]) -> T:
    from paystead.wiring import build_services

    async def run() -> T:
        services = build_services(get_settings())
        try:
            with bound(RequestContext(actor=ACTOR)):
                return await work(services.flags)
        finally:
            await services.close()

    try:
        return asyncio.run(run())
    except PaysteadError as exc:
        where = f" ({exc.param})" if exc.param else ""
        typer.echo(f"error{where}: {exc.detail}", err=True)
        raise typer.Exit(1) from None


def _serves(flag: Flag) -> str:
    serve = flag.definition.default
    if serve.split is not None:
        return " ".join(f"{name}={weight}" for name, weight in serve.split)
    return str(serve.variant)


def parse_weights(pairs: list[str]) -> dict[str, int]:
    """``["a=5000", "b=5000"]`` (or one ``"a=5000,b=5000"``) -> ``{"a": 5000, "b": 5000}``."""
    weights: dict[str, int] = {}
    for part in ",".join(pairs).split(","):
        name, sep, value = part.strip().partition("=")
        if not sep or not value.strip().isdigit():
            raise typer.BadParameter(f"{part!r}: give VARIANT=BASIS_POINTS, e.g. on=1000")
        weights[name.strip()] = int(value)
    return weights


@flags_app.command("list")
def list_flags() -> None:
    """Every flag: key, type, state, what it serves by default, version."""

    async def work(store: FlagStore) -> list[Flag]:
        found, _ = await store.list(limit=1000)
        return found

    for flag in _run(work):
        state = "enabled" if flag.enabled else "DISABLED"
        rules = len(flag.definition.rules)
        typer.echo(
            f"{flag.key}\t{flag.type.value}\t{state}\tserves {_serves(flag)}\t"
            f"{rules} rule(s)\tv{flag.version}"
        )


@flags_app.command()
def show(key: str) -> None:
    """One flag as JSON, with its latest changes (who, when, why)."""

    async def work(store: FlagStore) -> dict[str, Any]:
        flag = await store.get(key)
        history = await store.history(key, limit=10)
        return {
            **flag_object(flag),
            "history": [
                {
                    "type": c.type,
                    "version": c.version,
                    "actor": c.actor,
                    "reason": c.reason,
                    "at": c.at.isoformat(),
                    "previous": c.previous,
                }
                for c in history
            ],
        }

    typer.echo(json.dumps(_run(work), indent=2, sort_keys=True))


@flags_app.command()
def create(
    key: str,
    type_: Annotated[
        str, typer.Option("--type", help="boolean, string, number or object")
    ] = "boolean",
    variants: Annotated[
        str | None, typer.Option(help='JSON object: name -> value, e.g. {"a": "x", "b": "y"}')
    ] = None,
    default: Annotated[str | None, typer.Option(help="The variant served by default")] = None,
    split: Annotated[
        str | None, typer.Option(help="Serve a split by default instead: a=5000,b=5000")
    ] = None,
    off_variant: Annotated[str | None, typer.Option(help="Served while disabled")] = None,
    rules: Annotated[str | None, typer.Option(help="JSON list of targeting rules")] = None,
    description: Annotated[str | None, typer.Option()] = None,
    disabled: Annotated[bool, typer.Option("--disabled", help="Create it switched off")] = False,
    reason: Annotated[str | None, typer.Option(help="Why (kept in the audit trail)")] = None,
) -> None:
    """Create a flag (a boolean flag needs only its key: on/off, serving off)."""
    raw: dict[str, Any] = {"type": type_, "enabled": not disabled}
    try:
        if variants is not None:
            raw["variants"] = json.loads(variants)
        if rules is not None:
            raw["rules"] = json.loads(rules)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"not valid JSON: {exc}") from None
    if default is not None and split is not None:
        raise typer.BadParameter("give --default or --split, not both")
    if default is not None:
        raw["default"] = {"variant": default}
    if split is not None:
        raw["default"] = {"split": parse_weights([split])}
    if off_variant is not None:
        raw["off_variant"] = off_variant

    async def work(store: FlagStore) -> Flag:
        definition = parse_definition(raw)
        return await store.create(
            key, definition, description=description, actor=ACTOR, reason=reason
        )

    flag = _run(work)
    typer.echo(f"created {flag.key} (v{flag.version}), serving {_serves(flag)}")


@flags_app.command("set-weights")
def set_weights(
    key: str,
    weights: Annotated[list[str], typer.Argument(help="VARIANT=BASIS_POINTS ..., sum 10000")],
    reason: Annotated[str, typer.Option(help="Why (kept in the audit trail)")] = "",
) -> None:
    """Serve a percentage split by default (basis points summing to 10,000)."""
    parsed = parse_weights(weights)

    async def work(store: FlagStore) -> Flag:
        return await store.set_weights(key, parsed, actor=ACTOR, reason=reason or "set-weights")

    flag = _run(work)
    typer.echo(f"{flag.key} v{flag.version} serves {_serves(flag)}")


def _switch(key: str, enabled: bool, reason: str | None) -> None:
    async def work(store: FlagStore) -> Flag:
        return await store.set_enabled(key, enabled, actor=ACTOR, reason=reason)

    flag = _run(work)
    state = "enabled" if flag.enabled else f"disabled (serving {flag.definition.off_variant})"
    typer.echo(f"{flag.key} v{flag.version} {state}")


@flags_app.command()
def enable(
    key: str, reason: Annotated[str | None, typer.Option(help="Why (audited)")] = None
) -> None:
    """Switch a flag on: its rules and default serve again."""
    _switch(key, True, reason)


@flags_app.command()
def disable(
    key: str, reason: Annotated[str | None, typer.Option(help="Why (audited)")] = None
) -> None:
    """The kill switch: every subject gets the off variant."""
    _switch(key, False, reason)
