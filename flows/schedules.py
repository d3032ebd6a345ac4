"""The deployments: their names and schedules, shared by the worker that serves them
(flows/deploy.py) and the dispatcher that starts their flow runs (flows/dispatch.py)."""

from __future__ import annotations

from typing import Any

from forecaster.config import Settings

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


def scheduled_deployment(flow: Any, kind: str, cron: str) -> Any:
    """`flow`'s deployment for run kind `kind` on schedule `cron` (a prefect RunnerDeployment).

    The entrypoint is a module path ("flows.retrain.retrain"), not Prefect's default file path
    ("flows/retrain.py:retrain"): loaded by path, the flow's module is named `retrain`, and the
    tasks it sends to a Dask worker reference a module no other process can import (every
    retrain on the compose cluster failed with "ModuleNotFoundError: No module named
    'retrain'"). A module path imports the installed package the same way in every process.
    """
    from prefect.types.entrypoint import EntrypointType

    return flow.to_deployment(name=kind, cron=cron, entrypoint_type=EntrypointType.MODULE_PATH)
