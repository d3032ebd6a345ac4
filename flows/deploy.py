"""Deployments and schedules: ingest daily after the US market close, retrain weekly.

    python -m flows.deploy            # serve them on a Prefect server (PREFECT_API_URL)
    python -m flows.deploy --once     # run ingest -> retrain -> forecast now, in-process

Cron strings come from the environment (FORECASTER_INGEST_CRON, FORECASTER_RETRAIN_CRON) so an
operator changes the schedule without touching code.
"""

from __future__ import annotations

import argparse
import os

from prefect import serve

from flows.forecast import forecast
from flows.ingest import ingest
from flows.retrain import retrain

INGEST_CRON = os.environ.get("FORECASTER_INGEST_CRON", "30 22 * * 1-5")  # 22:30 UTC, after 16:00 ET
RETRAIN_CRON = os.environ.get("FORECASTER_RETRAIN_CRON", "0 3 * * 0")  # Sundays 03:00 UTC
FORECAST_CRON = os.environ.get("FORECASTER_FORECAST_CRON", "0 23 * * 1-5")  # after each ingest


def deployments() -> list:  # type: ignore[type-arg]
    """The three deployments; flows/dispatch.py starts "ingest/ingest" and "retrain/retrain"."""
    return [
        ingest.to_deployment(name="ingest", cron=INGEST_CRON),
        retrain.to_deployment(name="retrain", cron=RETRAIN_CRON),
        forecast.to_deployment(name="forecast", cron=FORECAST_CRON),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--once", action="store_true", help="run the chain now, in-process, and exit"
    )
    args = parser.parse_args()
    if args.once:
        ingest()
        retrain()
        forecast()
        return
    serve(*deployments())


if __name__ == "__main__":
    main()
