"""The forecast log on a real SQLite file and a real PostgreSQL server: served forecasts kept once,
scored as actuals arrive, re-scored by late data and revisions, gaps left unscored."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from forecaster.app.accuracy import accuracy, live_figures
from forecaster.app.ingest import store_frame
from forecaster.db import forecast_log, forecast_log_reads
from forecaster.db import series as series_db
from forecaster.db.models import ForecastLogPoint, ModelVersion

DAY = timedelta(days=1)
ORIGIN = datetime(2024, 1, 10)


def _setup(factory: sessionmaker[Session]) -> tuple[int, int]:
    """A daily series observed up to ORIGIN (close = 100) and one champion version."""
    idx = pd.date_range("2024-01-01", ORIGIN, freq="D", name="ts")
    with factory.begin() as session:
        sid = series_db.register_series(
            session=session, key="S", source="csv", params={}, frequency="D"
        ).id
        store_frame(
            session=session, series_key="S", frame=pd.DataFrame({"close": 100.0}, index=idx)
        )
        version = ModelVersion(
            series_id=sid, architecture="lstm", strategy="recursive", status="champion"
        )
        session.add(version)
        session.flush()
        return sid, version.id


def _points(values: list[float], half: float = 2.0) -> pd.DataFrame:
    steps = np.arange(1, len(values) + 1)
    return pd.DataFrame(
        {
            "step": steps,
            "ts": [ORIGIN + int(s) * DAY for s in steps],
            "variable": "close",
            "value": values,
            "lower": [v - half for v in values],
            "upper": [v + half for v in values],
        }
    )


def _log(factory: sessionmaker[Session], sid: int, vid: int, values: list[float]) -> int:
    with factory.begin() as session:
        naive = forecast_log.naive_values(
            session=session, series_id=sid, variables=["close"], origin=ORIGIN
        )
        return forecast_log.log_forecast(
            session=session,
            series_id=sid,
            version_id=vid,
            strategy="recursive",
            origin=ORIGIN,
            points=_points(values),
            level=0.9,
            naive=naive,
        )


def _actuals(factory: sessionmaker[Session]) -> dict[int, float | None]:
    with factory.begin() as session:
        rows = session.execute(
            select(ForecastLogPoint.step, ForecastLogPoint.actual).order_by(ForecastLogPoint.step)
        ).all()
    return {int(s): a for s, a in rows}


def _ingest(factory: sessionmaker[Session], values: dict[int, float]) -> None:
    idx = pd.DatetimeIndex([ORIGIN + s * DAY for s in values], name="ts")
    frame = pd.DataFrame({"close": list(values.values())}, index=idx)
    with factory.begin() as session:
        store_frame(session=session, series_key="S", frame=frame)


def test_forecasts_are_scored_as_actuals_arrive_and_rescored_by_revisions(
    session_factory: sessionmaker[Session],
) -> None:
    sid, vid = _setup(session_factory)
    assert _log(session_factory, sid, vid, [101.0, 102.0, 103.0]) == 3
    assert _actuals(session_factory) == {1: None, 2: None, 3: None}  # nothing happened yet

    _ingest(session_factory, {1: 104.0, 2: float("nan")})  # step 2's day is a reported gap
    assert _actuals(session_factory) == {1: 104.0, 2: None, 3: None}

    _ingest(session_factory, {2: 99.0, 3: 103.5})  # late data fills the gap
    assert _actuals(session_factory) == {1: 104.0, 2: 99.0, 3: 103.5}

    _ingest(session_factory, {1: 101.5})  # the source revised day 1
    assert _actuals(session_factory) == {1: 101.5, 2: 99.0, 3: 103.5}

    _ingest(session_factory, {1: 101.5, 3: float("nan")})  # revised into a gap: unscored
    assert _actuals(session_factory) == {1: 101.5, 2: 99.0, 3: None}
    with session_factory.begin() as session:
        scored = session.scalars(
            select(ForecastLogPoint.scored_at).order_by(ForecastLogPoint.step)
        ).all()
    assert scored[0] is not None and scored[2] is None


def test_a_forecast_is_logged_once_per_version_origin_and_step(
    session_factory: sessionmaker[Session],
) -> None:
    sid, vid = _setup(session_factory)
    assert _log(session_factory, sid, vid, [101.0, 102.0]) == 2
    # the same origin asked again, longer: only the new step is added, the first answer stays
    assert _log(session_factory, sid, vid, [555.0, 555.0, 103.0]) == 1
    with session_factory.begin() as session:
        values = session.scalars(
            select(ForecastLogPoint.value).order_by(ForecastLogPoint.step)
        ).all()
        naive = set(session.scalars(select(ForecastLogPoint.naive)).all())
    assert values == [101.0, 102.0, 103.0]
    assert naive == {100.0}  # the last value at the origin: the naive forecast


def test_live_figures_beside_the_naive_forecast_of_the_same_origin(
    session_factory: sessionmaker[Session],
) -> None:
    sid, vid = _setup(session_factory)
    _log(session_factory, sid, vid, [101.0, 102.0, 103.0, 104.0])
    # actuals: errors of the model 1, -3, 0.5, (gap); of the naive forecast (100) 2, -1, 3.5
    _ingest(session_factory, {1: 102.0, 2: 99.0, 3: 103.5, 4: float("nan")})
    with session_factory.begin() as session:
        cells = forecast_log_reads.live_cells(session=session, series_id=sid, strategy="recursive")
        report = accuracy(session=session, series_key="S", strategy="recursive", steps=2)
    pooled = live_figures(cells)
    assert pooled["n"] == 3  # the gap is not a point
    assert math.isclose(pooled["mae"], (1 + 3 + 0.5) / 3)
    assert math.isclose(pooled["rmse"], math.sqrt((1 + 9 + 0.25) / 3))
    assert math.isclose(pooled["naive_mae"], (2 + 1 + 3.5) / 3)
    assert math.isclose(pooled["mase"], 4.5 / 6.5)
    assert math.isclose(pooled["coverage"], 2 / 3)  # |-3| is outside +-2
    assert pooled["level"] == 0.9
    # the route's figures, restricted to steps 1-2
    (version,) = report["versions"]
    assert version["version_id"] == vid and version["status"] == "champion"
    step0 = next(f for f in version["figures"] if f["step"] == 0)
    assert step0["live"]["n"] == 2 and math.isclose(step0["live"]["mae"], 2.0)
    assert [f["step"] for f in version["figures"]] == [0, 1, 2]


def test_retention_keeps_recent_origins_in_data_time(
    session_factory: sessionmaker[Session],
) -> None:
    sid, vid = _setup(session_factory)
    rows = [
        {
            "model_version_id": vid,
            "origin": ORIGIN - k * DAY,
            "step": 1,
            "variable": "close",
            "series_id": sid,
            "strategy": "recursive",
            "ts": ORIGIN - (k - 1) * DAY,
            "value": 1.0,
            "logged_at": datetime(2030, 1, 1),  # the wall clock does not matter
        }
        for k in range(10)
    ]
    with session_factory.begin() as session:
        assert forecast_log.log_rows(session=session, rows=rows) == 10
        assert forecast_log.purge(session=session, keep_days=3) == 6
        assert forecast_log.count_points(session=session, series_id=sid) == 4
