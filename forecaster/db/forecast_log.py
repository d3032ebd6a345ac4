"""The `forecast_log` table: every forecast a champion served, scored in SQL as actuals arrive.

One row per (model version, origin, step, variable): the forecast, its interval and level, the
naive forecast of the same origin (the last observed value: live skill's yardstick) and the
actual once it is ingested. Scoring is one set-based UPDATE per ingest (the actual is looked up
by the observation primary key), so late data and revisions re-score what they touch and a gap
(a NULL or missing observation) leaves the point unscored, never zero. Its reads (live sums,
past forecasts, the champions' gauges) are in forecast_log_reads.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import case, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from forecaster.db.models import ForecastLogPoint, Observation, utcnow
from forecaster.values import finite_or_none

CHUNK = 2000  # rows per INSERT (SQLite allows 32766 bound parameters; 13 columns a row)
LOG = ForecastLogPoint


def naive_values(
    *, session: Session, series_id: int, variables: Sequence[str], origin: datetime
) -> dict[str, float]:
    """The last observed value of each variable at or before `origin` (the naive forecast)."""
    out: dict[str, float] = {}
    for var in variables:
        value = session.scalar(
            select(Observation.value)
            .where(
                Observation.series_id == series_id,
                Observation.variable == var,
                Observation.ts <= origin,
                Observation.value.is_not(None),
            )
            .order_by(Observation.ts.desc())
            .limit(1)
        )
        if value is not None:
            out[var] = float(value)
    return out


def _insert(session: Session) -> Any:
    name = session.get_bind().dialect.name
    return (postgresql.insert if name == "postgresql" else sqlite.insert)(LOG)


def log_forecast(
    *,
    session: Session,
    series_id: int,
    version_id: int,
    strategy: str,
    origin: datetime,
    points: pd.DataFrame,
    level: float | None,
    naive: dict[str, float] | None = None,
) -> int:
    """Keep a served forecast (step, ts, variable, value[, lower, upper]); a point already logged
    for this version, origin, step and variable stays as first served. Returns rows written.

    The new points are scored at once against what is already stored (a forecast logged after
    its targets were ingested, as in a replay)."""
    if points.empty:
        return 0
    naive = naive or {}
    now = utcnow()
    rows = [
        {
            "model_version_id": version_id,
            "origin": origin,
            "step": int(r["step"]),
            "variable": str(r["variable"]),
            "series_id": series_id,
            "strategy": strategy,
            "ts": pd.Timestamp(r["ts"]).to_pydatetime(),
            "value": float(r["value"]),
            "lower": finite_or_none(r.get("lower")),
            "upper": finite_or_none(r.get("upper")),
            "level": level,
            "naive": naive.get(str(r["variable"])),
            "logged_at": now,
        }
        for r in points.to_dict("records")
        if np.isfinite(float(r["value"]))
    ]
    written = log_rows(session=session, rows=rows)
    score(session=session, series_id=series_id, version_id=version_id, origin=origin)
    return written


def log_rows(*, session: Session, rows: Sequence[dict[str, Any]]) -> int:
    """Bulk insert of already-shaped rows (bench and replay); duplicates are skipped."""
    written = 0
    for i in range(0, len(rows), CHUNK):
        stmt = (
            _insert(session)
            .values(list(rows[i : i + CHUNK]))
            .on_conflict_do_nothing()
            .returning(LOG.step)  # rowcount is not reliable for multi-row inserts on psycopg
        )
        written += len(session.execute(stmt).all())
    return written


def score(
    *,
    session: Session,
    series_id: int,
    ts_from: datetime | None = None,
    ts_to: datetime | None = None,
    version_id: int | None = None,
    origin: datetime | None = None,
) -> int:
    """Set each logged point's actual from the stored observation of its target timestamp.

    Covers the points whose target lies in [ts_from, ts_to] (all when None) and, when given, of
    one version and origin. A point whose observation is NULL gets NULL again (a revision into a
    gap unscores it); one with no observation yet stays unscored. One UPDATE that writes only the
    points whose actual changes (a re-fetch of unchanged data writes nothing). Returns the
    points (re)scored.
    """
    # UPDATE ... FROM observation (SQLite >= 3.33 and PostgreSQL): one primary-key lookup per
    # point. Observation rows are never deleted (a gap is a NULL value), so a point without a
    # row has never been scored and needs nothing written.
    obs = Observation
    where = [
        LOG.series_id == series_id,
        obs.series_id == LOG.series_id,
        obs.variable == LOG.variable,
        obs.ts == LOG.ts,
        LOG.actual.is_distinct_from(obs.value),
    ]
    if ts_from is not None:
        where.append(LOG.ts >= ts_from)
    if ts_to is not None:
        where.append(LOG.ts <= ts_to)
    if version_id is not None:
        where.append(LOG.model_version_id == version_id)
    if origin is not None:
        where.append(LOG.origin == origin)
    result = session.execute(
        update(LOG)
        .where(*where)
        .values(actual=obs.value, scored_at=case((obs.value.is_(None), None), else_=utcnow()))
        .execution_options(synchronize_session=False)
    )
    return max(int(getattr(result, "rowcount", 0) or 0), 0)


def purge(*, session: Session, keep_days: int) -> int:
    """Forget the points of origins more than `keep_days` before the newest origin logged (data
    time, not the wall clock, so a replay of old history keeps what it logs)."""
    newest = session.scalar(select(func.max(LOG.origin)))
    if newest is None or keep_days <= 0:
        return 0
    result = session.execute(delete(LOG).where(LOG.origin < newest - timedelta(days=keep_days)))
    return max(int(getattr(result, "rowcount", 0) or 0), 0)


def count_points(*, session: Session, series_id: int | None = None) -> int:
    q = select(func.count()).select_from(LOG)
    if series_id is not None:
        q = q.where(LOG.series_id == series_id)
    return int(session.scalar(q) or 0)
