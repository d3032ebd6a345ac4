"""Forecast flow: precompute each champion's forecast into the `forecast` table (after an ingest
or a promotion), so reads are instant even right after a restart."""

from __future__ import annotations

from typing import Any

from prefect import flow

from flows.common import HOOKS, close_run, guarded, open_run, session_factory
from forecaster.db import repo
from forecaster.service import precompute_forecasts


@flow(name="forecast", **HOOKS)
def forecast(
    series: list[str] | None = None, database_url: str | None = None, run_id: int | None = None
) -> dict[str, Any]:
    factory = session_factory(database_url)
    run_id = open_run(factory, "forecast", run_id, {"series": series or []})

    def body() -> dict[str, Any]:
        with factory.begin() as session:
            keys = series or [s.key for s in repo.list_series(session=session)]
        done = {}
        for key in keys:
            with factory.begin() as session:
                done[key] = precompute_forecasts(session=session, series_key=key)
        close_run(factory, run_id, ok=True, result={"forecasts": done}, error=None)
        return {"run_id": run_id, "forecasts": done}

    out: dict[str, Any] = guarded(factory, run_id, body)
    return out
