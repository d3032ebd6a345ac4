"""Ingest logic shared by the ingest flow, the CLI and the API: plan a fetch, store it atomically."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from forecaster.db import forecast_log
from forecaster.db import observations as observations_db
from forecaster.db import series as series_db
from forecaster.db.models import Series

logger = logging.getLogger(__name__)

DEFAULT_OVERLAP_DAYS = 7  # re-fetch a little: sources revise the last bars


@dataclass(frozen=True)
class FetchPlan:
    series_key: str
    source: str
    params: dict[str, Any]
    start: date | None  # None: the source's full history
    end: date | None


@dataclass
class IngestResult:
    rows: dict[str, int] = field(default_factory=dict)  # series key -> cells written
    errors: dict[str, str] = field(default_factory=dict)  # series key -> reason

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "errors": self.errors}


def plan_fetch(
    *,
    session: Session,
    series: Series,
    start: date | None = None,
    today: date | None = None,
    overlap_days: int = DEFAULT_OVERLAP_DAYS,
) -> FetchPlan:
    """From `start` if given, else from the last stored timestamp less an overlap, to today."""
    if start is None:
        latest = observations_db.latest_timestamp(session=session, series_id=series.id)
        if latest is not None:
            start = (latest - timedelta(days=overlap_days)).date()
    end: date | None = today or datetime.now().date()
    if series.source == "csv":
        end = None  # a file has no "today": read it to its end
    return FetchPlan(series.key, series.source, dict(series.params), start, end)


def store_frame(*, session: Session, series_key: str, frame: pd.DataFrame) -> int:
    """Upsert one fetched frame; the caller's transaction makes it all-or-nothing.

    A variable with no value at all in the fetch (a column the source lacks, such as `pres`
    for a station without a barometer) is not stored; gaps inside a variable are stored as NULL.
    """
    series = series_db.get_series(session=session, key=series_key)
    frame = frame.dropna(axis=1, how="all")
    written = observations_db.upsert_observations(session=session, series_id=series.id, frame=frame)
    if len(frame.index):  # the served forecasts whose targets this fetch covered, (re)scored
        ts = pd.DatetimeIndex(frame.index)
        forecast_log.score(
            session=session,
            series_id=series.id,
            ts_from=_naive(ts.min()),
            ts_to=_naive(ts.max()),
        )
    return written


def _naive(ts: pd.Timestamp) -> datetime:
    """Naive UTC, as the database stores timestamps."""
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts.to_pydatetime()
