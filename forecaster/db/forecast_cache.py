"""The `forecast` table: a champion's precomputed forecast, so reads need no model at all."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from forecaster.db.models import ForecastPoint

COLUMNS = ["step", "ts", "variable", "value", "lower", "upper"]


def store_forecast(
    *,
    session: Session,
    version_id: int,
    issued_at: datetime,
    points: pd.DataFrame,
    data_revision: int,
) -> int:
    """Replace the version's cached forecast with `points` (step, ts, variable, value, lower,
    upper), made from the series' data at `data_revision`."""
    session.execute(delete(ForecastPoint).where(ForecastPoint.model_version_id == version_id))
    rows = [
        ForecastPoint(
            model_version_id=version_id,
            issued_at=issued_at,
            data_revision=data_revision,
            step=int(r["step"]),
            ts=pd.Timestamp(r["ts"]).to_pydatetime(),
            variable=str(r["variable"]),
            value=float(r["value"]),
            lower=None if pd.isna(r["lower"]) else float(r["lower"]),
            upper=None if pd.isna(r["upper"]) else float(r["upper"]),
        )
        for r in points.to_dict("records")
    ]
    session.add_all(rows)
    session.flush()
    return len(rows)


def read_forecast(
    *, session: Session, version_id: int, issued_at: datetime, data_revision: int
) -> pd.DataFrame | None:
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
    return pd.DataFrame(rows, columns=COLUMNS).astype({"lower": "float64", "upper": "float64"})
