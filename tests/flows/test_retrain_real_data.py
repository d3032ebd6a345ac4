"""The default retrain config on real files with their real flaws: every candidate trains."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sqlalchemy.orm import Session, sessionmaker

from flows.retrain import retrain
from forecaster.app import catalog, forecasts
from forecaster.db import observations as observations_db
from forecaster.db import runs as runs_db
from forecaster.db import series as series_db
from tests.conftest import REPO_DATA

pytestmark = pytest.mark.usefixtures("prefect_harness")


def _ohlcv() -> pd.DataFrame:
    """Real AAPL OHLCV around its 2005-02-28 2:1 split (unadjusted close), with no-trade days,
    a lost week, missing closes and a constant dividends column."""
    frame = pd.read_csv(REPO_DATA / "stocks" / "AAPL.csv", parse_dates=["date"], index_col="date")
    frame.index.name = "ts"
    frame = frame.loc["2004-06-01":"2005-12-30", ["open", "high", "low", "close", "volume"]]
    frame = frame.astype("float64").drop(frame.index[200:205])
    frame.iloc[[10, 11, 50, 120, 300, 350], 4] = 0.0
    frame.iloc[230:233, 3] = np.nan
    frame["dividends"] = 0.0
    return frame


def _station() -> pd.DataFrame:
    """The real Seattle file as Meteostat gives it: tavg, snow, wdir, wpgt, pres and tsun empty,
    with a sensor outage (a NaN run) in the wind and a shorter one in the target."""
    frame = pd.read_csv(REPO_DATA / "weather" / "seattle_daily.csv", parse_dates=["time"])
    frame = frame.set_index("time").rename_axis("ts").astype("float64").iloc[-420:].copy()
    frame.loc[frame.index[100:125], "wspd"] = np.nan
    frame.loc[frame.index[150:154], "tmax"] = np.nan
    return frame


def _store(factory: sessionmaker[Session], key: str, frame: pd.DataFrame, freq: str) -> int:
    with factory.begin() as session:
        series = series_db.register_series(
            session=session, key=key, source="csv", params={}, frequency=freq
        )
        observations_db.upsert_observations(session=session, series_id=series.id, frame=frame)
        return series.id


def test_default_config_trains_every_candidate_on_a_flawed_stock_and_station(
    database_url: str, session_factory: sessionmaker[Session]
) -> None:
    stock_id = _store(session_factory, "aapl-flawed", _ohlcv(), "B")
    _store(session_factory, "seattle-flawed", _station(), "D")
    out = retrain(
        series=["aapl-flawed", "seattle-flawed"], database_url=database_url, quick=True
    ).to_json()  # the bundled forecaster/retrain.yaml, its quick settings
    assert out["failed"] == [] and len(out["versions"]) == 12, out["candidates"]
    assert out["cut_short"] == []
    with session_factory.begin() as session:
        run = runs_db.get_run(session=session, run_id=out["run_id"])
        assert (run.status, run.error) == ("completed", None)
        stock_versions = [  # the learned candidates (the naive baselines are versions too)
            v
            for v in catalog.list_versions(session=session, series_id=stock_id)
            if v.weights is not None
        ]
        assert len(stock_versions) == 6
        for version in stock_versions:
            norm = version.normalization
            assert norm["transform"] == "log_return"
            assert norm["transforms"] == {
                "close": "log_return", "open": "log_return", "high": "log_return",
                "low": "log_return", "volume": "log1p",
            }  # fmt: skip
            assert norm["dropped"] == {"dividends": "constant (0) in the training split"}
            assert "dividends" not in version.hyperparameters["inputs"]
    stock_results = [c for c in out["candidates"] if c["series"] == "aapl-flawed"]
    for c in stock_results:
        assert "dividends dropped: constant (0) in the training split" in c["notices"]
        assert c["stopped"] in ("completed", "early_stopping") and not c["cut_short"]
    # the stored champion forecasts from the reloaded model, on the stock's calendar
    with session_factory.begin() as session:
        fc = forecasts.forecast_series(session=session, series_key="aapl-flawed", strategy="direct")
    assert len(fc.points) == 10 and (fc.points["value"] > 0).all()
    assert (fc.points["ts"].dt.dayofweek <= 4).all()
