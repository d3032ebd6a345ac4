"""The deployments: their names and schedules, shared by the worker that serves them
(flows/deploy.py) and the dispatcher that starts their flow runs (flows/dispatch.py)."""

from __future__ import annotations

import os
from typing import Any

# Deployment names ("flow name/deployment name") by run kind.
DEPLOYMENTS = {
    "ingest": "ingest/ingest",
    "retrain": "retrain/retrain",
    "forecast": "forecast/forecast",
}

# Cron strings come from the environment so an operator changes the schedule without code.
INGEST_CRON = os.environ.get("FORECASTER_INGEST_CRON", "30 22 * * 1-5")  # 22:30 UTC, after 16:00 ET
RETRAIN_CRON = os.environ.get("FORECASTER_RETRAIN_CRON", "0 3 * * 0")  # Sundays 03:00 UTC
FORECAST_CRON = os.environ.get("FORECASTER_FORECAST_CRON", "0 23 * * 1-5")  # after each ingest
CRONS = {"ingest": INGEST_CRON, "retrain": RETRAIN_CRON, "forecast": FORECAST_CRON}


def scheduled_deployment(flow: Any, kind: str) -> Any:
    """`flow`'s deployment for run kind `kind`, on its schedule (a prefect RunnerDeployment)."""
    return flow.to_deployment(name=kind, cron=CRONS[kind])
