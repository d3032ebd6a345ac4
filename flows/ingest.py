"""Ingest flow: for each series, fetch from its last stored timestamp to today, upsert, record a run."""

from __future__ import annotations

from datetime import date

import pandas as pd
from prefect import State, flow, task
from prefect.logging import get_run_logger

from flows.common import HOOKS, Cancelled, close_run, guarded, open_run, session_factory
from forecaster.app.ingest import FetchPlan, IngestResult, plan_fetch, store_frame
from forecaster.app.runs import LeasePolicy
from forecaster.config import get_settings
from forecaster.db import series as series_db
from forecaster.errors import SourceError
from forecaster.sources.base import SourceUnavailable, get_source

RETRY_DELAYS: list[float] = [2, 10, 30]


@task(retries=len(RETRY_DELAYS), retry_delay_seconds=RETRY_DELAYS)
def fetch(plan: FetchPlan) -> pd.DataFrame | str:
    """Download one range. Network failures raise (and are retried); a definite "no such
    ticker/station" comes back as its message, since retrying cannot fix it."""
    try:
        return get_source(plan.source).fetch(plan.params, plan.start, plan.end)
    except SourceUnavailable:
        raise
    except SourceError as exc:
        return str(exc)


@task
def store(database_url: str, series_key: str, frame: pd.DataFrame) -> int:
    """Upsert in one transaction: a failure writes nothing for this series."""
    with session_factory(database_url).begin() as session:
        return store_frame(session=session, series_key=series_key, frame=frame)


@flow(name="ingest", **HOOKS)
def ingest(
    series: list[str] | None = None,
    start: date | None = None,
    database_url: str | None = None,
    run_id: int | None = None,
    retry_delays: list[float] | None = None,
) -> IngestResult | State[Cancelled]:
    """Bring each series (all when `series` is empty) up to date; one failing series leaves the others intact."""
    delays = RETRY_DELAYS if retry_delays is None else retry_delays
    fetch_retrying = fetch.with_options(retries=len(delays), retry_delay_seconds=delays)
    logger = get_run_logger()
    settings = get_settings()  # once per flow run; what runs below receives plain values
    url = database_url or settings.database_url
    factory = session_factory(url)
    parameters = {"series": series or [], "start": str(start or "")}
    run_id = open_run(factory, "ingest", run_id, parameters, LeasePolicy.from_settings(settings))

    def body() -> IngestResult:
        with factory.begin() as session:
            rows = (
                [series_db.get_series(session=session, key=k) for k in series]
                if series
                else series_db.list_series(session=session)
            )
            plans = [plan_fetch(session=session, series=s, start=start) for s in rows]
        written: dict[str, int] = {}
        errors: dict[str, str] = {}
        for plan in plans:
            try:
                fetched = fetch_retrying(plan)
            except Exception as exc:  # retries exhausted: the reason goes on the run row
                errors[plan.series_key] = f"{type(exc).__name__}: {exc}"
                continue
            if isinstance(fetched, str):
                errors[plan.series_key] = fetched
                continue
            written[plan.series_key] = store(url, plan.series_key, fetched)
            logger.info("%s: %d cells upserted", plan.series_key, written[plan.series_key])
        result = IngestResult(run_id, written, errors)
        close_run(factory, run_id, ok=result.ok, result=result.record(), error=result.error)
        return result

    return guarded(factory, run_id, body)
