"""The deployments: their names and schedules, shared by the worker that serves them
(flows/deploy.py) and the dispatcher that starts their flow runs (flows/dispatch.py)."""

from __future__ import annotations

from typing import Any

from forecaster.config import Settings
from forecaster.errors import InvalidData
from forecaster.retrain_config import load_retrain_config

# Deployment names ("flow name/deployment name") by run kind.
DEPLOYMENTS = {
    "ingest": "ingest/ingest",
    "retrain": "retrain/retrain",
    "forecast": "forecast/forecast",
}


def crons(settings: Settings) -> dict[str, str]:
    """Each deployment's cron string (FORECASTER_INGEST_CRON, _RETRAIN_CRON, _FORECAST_CRON)."""
    return {
        "ingest": settings.ingest_cron,
        "retrain": settings.retrain_cron,
        "forecast": settings.forecast_cron,
    }


def schedule_parameters(settings: Settings) -> dict[str, dict[str, Any]]:
    """The parameters each scheduled run gets, by run kind: its series (FORECASTER_*_SCHEDULE_
    SERIES; [] is every series), and for the retrain its quick flag and retrain config
    (FORECASTER_RETRAIN_SCHEDULE_QUICK, _CONFIG), which the forecast's policy retrains use too.

    Called when the worker starts: a schedule config that cannot be read or is invalid stops it
    there (InvalidData naming the setting), not on Sunday night. Series keys are checked when a
    run starts, against the series stored then (they may be ingested after the worker starts).

    Raises:
        InvalidData: FORECASTER_RETRAIN_SCHEDULE_CONFIG is unreadable or not a valid config.
    """
    config = settings.retrain_schedule_config
    if config is not None:
        try:
            load_retrain_config(config)
        except InvalidData as exc:
            raise InvalidData(f"FORECASTER_RETRAIN_SCHEDULE_CONFIG: {exc}") from exc
    path = str(config) if config is not None else None
    return {
        "ingest": {"series": list(settings.ingest_schedule_series)},
        "retrain": {
            "series": list(settings.retrain_schedule_series),
            "quick": settings.retrain_schedule_quick,
            "config_path": path,
        },
        "forecast": {"series": list(settings.forecast_schedule_series), "config_path": path},
    }


def scheduled_deployment(
    flow: Any, kind: str, cron: str, parameters: dict[str, Any] | None = None
) -> Any:
    """`flow`'s deployment for run kind `kind` on schedule `cron` (a prefect RunnerDeployment),
    whose scheduled runs get `parameters` (`schedule_parameters`).

    The parameters belong to the schedule, not the deployment: Prefect merges a deployment's
    default parameters into every run of it, so an API-triggered full retrain (it passes no
    `quick`) would have become quick with FORECASTER_RETRAIN_SCHEDULE_QUICK=true.

    The entrypoint is a module path ("flows.retrain.retrain"), not Prefect's default file path
    ("flows/retrain.py:retrain"): loaded by path, the flow's module is named `retrain`, and the
    tasks it sends to a Dask worker reference a module no other process can import (every
    retrain on the compose cluster failed with "ModuleNotFoundError: No module named
    'retrain'"). A module path imports the installed package the same way in every process.
    """
    from prefect.schedules import Cron
    from prefect.types.entrypoint import EntrypointType

    return flow.to_deployment(
        name=kind,
        schedule=Cron(cron, timezone="UTC", parameters=parameters or {}),
        entrypoint_type=EntrypointType.MODULE_PATH,
    )
