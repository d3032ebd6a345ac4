"""The `forecast` table: a champion's precomputed forecast, so reads need no model at all, and
the key (version, status, data revision) a cached forecast read is valid for."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

import pandas as pd
from sqlalchemy import bindparam, delete, select
from sqlalchemy.orm import Session

from forecaster.db.models import ForecastPoint, ModelVersion, Series

COLUMNS = ["step", "ts", "variable", "value", "lower", "upper"]
COVERAGE = ["coverage", "width"]  # adaptive intervals: measured coverage and width per step


class StoredForecast(NamedTuple):
    points: pd.DataFrame  # COLUMNS, plus COVERAGE when the version's intervals are adaptive
    coverage_origins: int | None  # None: stored without coverage


def _float(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def store_forecast(
    *,
    session: Session,
    version_id: int,
    issued_at: datetime,
    points: pd.DataFrame,
    data_revision: int,
    coverage_origins: int | None = None,
) -> int:
    """Replace the version's cached forecast with `points` (step, ts, variable, value, lower,
    upper[, coverage, width]), made from the series' data at `data_revision`; the coverage
    columns are kept (with `coverage_origins`) when the points have them."""
    session.execute(delete(ForecastPoint).where(ForecastPoint.model_version_id == version_id))
    covered = all(c in points for c in COVERAGE)
    rows = [
        ForecastPoint(
            model_version_id=version_id,
            issued_at=issued_at,
            data_revision=data_revision,
            step=int(r["step"]),
            ts=pd.Timestamp(r["ts"]).to_pydatetime(),
            variable=str(r["variable"]),
            value=float(r["value"]),
            lower=_float(r["lower"]),
            upper=_float(r["upper"]),
            coverage=_float(r["coverage"]) if covered else None,
            width=_float(r["width"]) if covered else None,
            coverage_origins=coverage_origins if covered else None,
        )
        for r in points.to_dict("records")
    ]
    session.add_all(rows)
    session.flush()
    return len(rows)


def read_forecast(
    *, session: Session, version_id: int, issued_at: datetime, data_revision: int
) -> StoredForecast | None:
    """The cached forecast issued from `issued_at` on the data at `data_revision`, or None when
    there is none (new data, or a revision of any stored value since it was made)."""
    rows = session.execute(
        select(
            ForecastPoint.step,
            ForecastPoint.ts,
            ForecastPoint.variable,
            ForecastPoint.value,
            ForecastPoint.lower,
            ForecastPoint.upper,
            ForecastPoint.coverage,
            ForecastPoint.width,
            ForecastPoint.coverage_origins,
        )
        .where(
            ForecastPoint.model_version_id == version_id,
            ForecastPoint.issued_at == issued_at,
            ForecastPoint.data_revision == data_revision,
        )
        .order_by(ForecastPoint.step, ForecastPoint.variable)
    ).all()
    if not rows:
        return None
    frame = pd.DataFrame(rows, columns=[*COLUMNS, *COVERAGE, "origins"])
    origins = frame["origins"].iloc[0]
    covered = not pd.isna(origins)
    frame = frame[[*COLUMNS, *COVERAGE] if covered else COLUMNS]
    points = frame.astype(
        {c: "float64" for c in frame.columns if c in ("lower", "upper", *COVERAGE)}
    )
    return StoredForecast(points, int(origins) if covered else None)


_CHAMPION_KEY = (
    select(ModelVersion.id, ModelVersion.status, Series.revision)
    .join(Series, ModelVersion.series_id == Series.id)
    .where(
        Series.key == bindparam("key"),
        ModelVersion.strategy == bindparam("strategy"),
        ModelVersion.status == "champion",
    )
    .limit(1)
)


_VERSION_KEY = (
    select(ModelVersion.id, ModelVersion.status, Series.revision, ModelVersion.strategy)
    .join(Series, ModelVersion.series_id == Series.id)
    .where(Series.key == bindparam("key"), ModelVersion.id == bindparam("version_id"))
)


def forecast_key(
    *, session: Session, series_key: str, strategy: str | None, version_id: int | None = None
) -> tuple[int, str, int] | None:
    """(version id, status, series.revision) of the model a forecast read would use, in one
    query: the strategy's champion (None: recursive), or `version_id` when it belongs to the
    series and has that strategy (None: any).

    Every ingest that adds or changes a value bumps `revision`, so the triple changes with new
    or revised data or a new champion: a cache keyed by it needs no other invalidation. None when there is no such
    model (the caller then raises the precise error). Built once and run on the session's
    connection (Core, not ORM): this is the whole database cost of a cached forecast read.
    """
    conn = session.connection()
    if version_id is None:
        params = {"key": series_key, "strategy": strategy or "recursive"}
        row = conn.execute(_CHAMPION_KEY, params).first()
        return None if row is None else (row[0], row[1], row[2])
    found = conn.execute(_VERSION_KEY, {"key": series_key, "version_id": version_id}).first()
    if found is None or (strategy is not None and found[3] != strategy):
        return None  # none, or a strategy that contradicts it: the caller raises the precise error
    return (found[0], found[1], found[2])
