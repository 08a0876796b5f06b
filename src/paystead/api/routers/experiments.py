"""/v1/experiments: A/B experiments on flags and their results (``optimize/``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from starlette.responses import JSONResponse

from paystead.api.deps import CurrentKey, ServicesDep
from paystead.api.schemas import with_unix_times
from paystead.api.schemas_experiments import ExperimentCreate
from paystead.optimize.experiments import Experiment, experiment_object
from paystead.optimize.report import results_json

router = APIRouter(prefix="/v1/experiments", tags=["experiments"])

KeyPath = Annotated[str, Path(min_length=1, max_length=100)]


def _out(experiment: Experiment) -> dict[str, Any]:
    return experiment_object(experiment)


@router.post("", status_code=201)
async def create_experiment(
    body: ExperimentCreate, services: ServicesDep, api_key: CurrentKey
) -> JSONResponse:
    """Draft an experiment on a flag: variants (control first) with weights, hypothesis,
    primary metric and guardrails. A key already used is a 409."""
    created = await services.experiments.create(body.command(), actor=f"api_key:{api_key.id}")
    return JSONResponse(_out(created), status_code=201)


@router.get("")
async def list_experiments(
    services: ServicesDep,
    api_key: CurrentKey,
    status: Literal["draft", "running", "stopped"] | None = None,
) -> dict[str, Any]:
    found = await services.experiments.all(status)
    return {"object": "list", "data": [_out(e) for e in found], "has_more": False}


@router.get("/{key}")
async def get_experiment(
    key: KeyPath, services: ServicesDep, api_key: CurrentKey
) -> dict[str, Any]:
    return _out(await services.experiments.get(key))


@router.post("/{key}/start")
async def start_experiment(
    key: KeyPath, services: ServicesDep, api_key: CurrentKey
) -> dict[str, Any]:
    """Set the flag's weights to the experiment's and log exposures from now on."""
    started = await services.experiments.start(key, actor=f"api_key:{api_key.id}")
    await services.exposures.refresh()
    return _out(started)


@router.post("/{key}/stop")
async def stop_experiment(
    key: KeyPath, services: ServicesDep, api_key: CurrentKey
) -> dict[str, Any]:
    """Stop logging exposures; results keep the window started..stopped."""
    stopped = await services.experiments.stop(key, actor=f"api_key:{api_key.id}")
    await services.exposures.refresh()
    return _out(stopped)


@router.get("/{key}/results")
async def experiment_results(
    key: KeyPath,
    services: ServicesDep,
    api_key: CurrentKey,
    alpha: Annotated[float, Query(gt=0, lt=0.5)] = 0.05,
) -> dict[str, Any]:
    """Every metric for every variant against control: lifts with intervals, Holm-adjusted
    and always-valid p-values, chance to beat control, SRM check, decision guidance."""
    await services.exposures.flush(refresh=False)
    experiment, analysis = await services.experiments.results(key, alpha=alpha)
    return with_unix_times(
        results_json(experiment, analysis, services.clock()), "experiment_results"
    )
