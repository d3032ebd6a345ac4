"""Live accuracy over HTTP: a forecast served by the API is logged, scored when the actuals are
ingested, and reported beside the naive forecast and the backtest; Prometheus gauges follow."""

from __future__ import annotations

import math
import time

import numpy as np
import pandas as pd
import pytest
from sqlalchemy.orm import Session, sessionmaker

from api.routers import forecasts
from forecaster.app.ingest import store_frame
from forecaster.sources.csv import load_sample
from tests.api.conftest import SEATTLE_ROWS, TestClient


def test_a_served_forecast_is_scored_when_its_actuals_arrive(
    client: TestClient, session_factory: sessionmaker[Session], trained: dict[str, int]
) -> None:
    served = client.get("/api/v1/forecasts/seattle-weather", params={"horizon": 5}).json()
    before = client.get("/api/v1/series/seattle-weather/accuracy").json()
    (champion,) = [v for v in before["versions"] if v["version_id"] == trained["gru-recursive"]]
    assert champion["status"] == "champion" and champion["origins"] == 0  # nothing happened yet
    assert champion["backtest_split"] == "backtest"
    step0 = next(f for f in champion["figures"] if f["step"] == 0)
    assert step0["live"]["n"] == 0 and step0["backtest"]["mae"] > 0

    # the next days arrive; day 3 is a gap the station reported
    sample = load_sample("seattle-weather")[["tmax", "tmin", "prcp", "wspd"]]
    new = sample.iloc[SEATTLE_ROWS : SEATTLE_ROWS + 5].copy()
    new.iloc[2, new.columns.get_loc("tmax")] = np.nan
    with session_factory.begin() as session:
        store_frame(session=session, series_key="seattle-weather", frame=new)
    # written behind the app's back (another process): a looked-up report expires after FRESH_S
    time.sleep(forecasts.FRESH_S + 0.05)

    report = client.get("/api/v1/series/seattle-weather/accuracy").json()
    assert report["champion_id"] == trained["gru-recursive"] and report["count"] >= 1
    champion = report["versions"][0]
    assert champion["version_id"] == trained["gru-recursive"] and champion["origins"] == 1
    live = {f["step"]: f["live"] for f in champion["figures"] if f["variable"] == "tmax"}
    forecast = pd.Series({p["step"]: p["value"] for p in served["points"]})
    actual = pd.Series(new["tmax"].to_numpy(), index=range(1, 6))
    last = float(sample["tmax"].iloc[SEATTLE_ROWS - 1])  # the naive forecast of that origin
    errors = (actual - forecast).dropna()
    assert live[0]["n"] == 4 and live[3]["n"] == 0  # the gap is not scored
    assert math.isclose(live[0]["mae"], errors.abs().mean())
    assert math.isclose(live[0]["rmse"], math.sqrt((errors**2).mean()))
    naive_mae = (actual - last).abs().dropna().mean()
    assert math.isclose(live[0]["naive_mae"], naive_mae)
    assert math.isclose(live[0]["mase"], errors.abs().mean() / naive_mae)
    inside = [
        p["lower"] <= actual[p["step"]] <= p["upper"]
        for p in served["points"]
        if not math.isnan(actual[p["step"]])
    ]
    assert math.isclose(live[0]["coverage"], sum(inside) / len(inside))

    two = client.get("/api/v1/series/seattle-weather/accuracy", params={"steps": 2}).json()
    assert sorted({f["step"] for f in two["versions"][0]["figures"]}) == [0, 1, 2]

    past = client.get("/api/v1/series/seattle-weather/forecast-log").json()
    assert past["count"] == 5 and [p["actual"] for p in past["data"]][2] is None
    assert [p["value"] for p in past["data"]] == forecast.tolist()

    metrics = client.get("/metrics").text
    line = next(
        m
        for m in metrics.splitlines()
        if m.startswith('forecaster_live_mase_ratio{series="seattle-weather",strategy="recursive"}')
    )
    assert math.isclose(float(line.split()[-1]), live[0]["mase"])
    assert 'forecaster_live_interval_coverage{series="seattle-weather"' in metrics
    assert 'forecaster_live_last_scored_age_seconds{series="seattle-weather"' in metrics


@pytest.mark.usefixtures("trained")
def test_bad_accuracy_requests_say_what_is_valid(client: TestClient) -> None:
    r = client.get("/api/v1/series/nope/accuracy")
    assert r.status_code == 404 and "nope" in r.json()["detail"]
    assert client.get("/api/v1/series/IBM/accuracy", params={"steps": 0}).status_code == 422
    r = client.get("/api/v1/series/IBM/accuracy", params={"strategy": "sideways"})
    assert r.status_code == 422
    r = client.get("/api/v1/series/IBM/accuracy", params={"since": "yesterday"})
    assert r.status_code == 422
