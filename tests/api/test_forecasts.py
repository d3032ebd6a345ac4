"""Forecast reads: points on the series' calendar, metrics beside baselines, attention, errors,
and the caches (no reload per request; new data or a promotion is seen at once)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from api.routers import forecasts
from flows.leases import train_recorded
from forecaster.app import training
from forecaster.db import observations as observations_db
from forecaster.db import series as series_db
from forecaster.db.forecast_cache import read_forecast
from forecaster.sources.csv import load_sample
from forecaster.spec import ModelSpec
from tests.api.conftest import SEATTLE_ROWS

URL = "/api/v1/forecasts/seattle-weather"
METRICS = {"mae", "rmse", "mape", "smape", "mase"}


def test_champion_forecast_has_points_metrics_and_baselines(
    client: TestClient, trained: dict[str, int]
) -> None:
    r = client.get(URL, params={"horizon": 5, "level": 0.8})
    assert r.status_code == 200
    fc = r.json()
    assert fc["series"] == "seattle-weather" and fc["strategy"] == "recursive"
    assert fc["model"]["id"] == trained["gru-recursive"] and fc["model"]["status"] == "champion"
    assert fc["horizon"] == 5 and fc["level"] == 0.8
    last = load_sample("seattle-weather").index[SEATTLE_ROWS - 1]
    assert fc["issued_at"] == last.isoformat() + "Z"  # UTC, with its offset
    days = pd.date_range(last, periods=6, freq="D")[1:]
    assert [p["ts"] for p in fc["points"]] == [d.isoformat() + "Z" for d in days]
    assert [p["step"] for p in fc["points"]] == [1, 2, 3, 4, 5]
    for p in fc["points"]:
        assert p["variable"] == "tmax" and p["lower"] < p["value"] < p["upper"]
    assert fc["metrics_split"] == "backtest"
    steps = {m["step"]: m for m in fc["metrics"] if m["variable"] == "tmax"}
    assert sorted(steps) == [0, 1, 2, 3, 4, 5]  # 0: all steps pooled
    for m in steps.values():
        assert METRICS <= set(m["model"]) and METRICS <= set(m["naive"])
        assert METRICS <= set(m["seasonal_naive"])
    ours, naive = steps[0]["model"]["mase"], steps[0]["naive"]["mase"]
    verdict = "beats" if ours < naive else "does not beat"
    assert fc["skill"].startswith(
        f"tmax: MASE {ours:.3f} {verdict} the naive forecast's {naive:.3f}"
    )
    assert fc["attention"] is None and fc["model"]["has_attention"] is False

    # recursive goes past the model's H; the default horizon is the model's own H
    assert len(client.get(URL, params={"horizon": 12}).json()["points"]) == 12
    assert len(client.get(URL).json()["points"]) == 5


def test_stock_forecasts_step_over_weekends(client: TestClient, trained: dict[str, int]) -> None:
    fc = client.get("/api/v1/forecasts/IBM", params={"horizon": 10}).json()
    assert fc["model"]["id"] == trained["ibm-recursive"]
    stamps = pd.DatetimeIndex([p["ts"] for p in fc["points"]])
    assert stamps[0] > pd.Timestamp(fc["issued_at"])
    assert set(stamps.dayofweek) <= {0, 1, 2, 3, 4}  # business days only
    assert list(stamps) == list(
        pd.bdate_range(pd.Timestamp(fc["issued_at"]) + pd.offsets.BDay(), periods=10)
    )


def test_attention_weights_come_with_a_seq2seq_model(
    client: TestClient, trained: dict[str, int]
) -> None:
    fc = client.get(URL, params={"model": trained["seq2seq-direct"]}).json()
    assert fc["model"]["has_attention"] is True and fc["strategy"] == "direct"
    weights = fc["attention"]["weights"]
    assert len(weights) == 5 and all(len(row) == 14 for row in weights)  # (H, L)
    for row in weights:
        assert sum(row) == pytest.approx(1.0, abs=1e-4)
    lookback = fc["attention"]["lookback_ts"]
    assert len(lookback) == 14 and lookback[-1] == fc["issued_at"]
    a = fc["attention"]
    assert a["resolution"] == "step" and a["segment_len"] == 1
    assert a["uniform"] == pytest.approx(1 / 14)
    assert a["row_steps"] == [[h, h] for h in range(1, 6)]
    assert a["column_start_ts"] == a["column_end_ts"] == lookback
    assert len(a["row_entropy"]) == 5 and all(0.0 <= e <= 1.0 + 1e-6 for e in a["row_entropy"])


@pytest.mark.parametrize(
    ("params", "status", "detail"),
    [
        # a direct model cannot go past its H; recursive can
        (
            {"strategy": "direct", "horizon": 6},
            422,
            "horizon=6 exceeds this direct model's H=5; use strategy=recursive or horizon<=5",
        ),
        (
            {"strategy": "sideways"},
            422,
            "query parameter 'strategy': Input should be 'recursive' or 'direct' (got 'sideways')",
        ),
        (
            {"horizon": 0},
            422,
            "query parameter 'horizon': Input should be greater than or equal to 1 (got '0')",
        ),
        # bounded: recursive forecasts cost work per step (FORECASTER_FORECAST_MAX_HORIZON)
        (
            {"horizon": 1001},
            422,
            "horizon=1001 exceeds the limit of 1000 steps for a recursive forecast; "
            "give horizon between 1 and 1000",
        ),
        # past any cap a setting could give: refused before any query
        (
            {"horizon": 99999999999999999999},
            422,
            "query parameter 'horizon': Input should be less than or equal to 100000 "
            "(got '99999999999999999999')",
        ),
        ({"level": 1.5}, 422, "query parameter 'level': level=1.5 must be in (0, 1)"),
        (
            {"horizon": "soon"},
            422,
            "query parameter 'horizon': Input should be a valid integer, unable to parse string "
            "as an integer (got 'soon')",
        ),
        (
            {"model": "best"},
            422,
            "query parameter 'model': model must be 'champion' or a model version id "
            "(1..2147483647; GET /api/v1/models) (got 'best')",
        ),
        ({"model": 9999}, 404, "unknown model version 9999; GET /api/v1/models lists the versions"),
    ],
)
@pytest.mark.usefixtures("trained")
def test_bad_forecast_requests_say_what_is_valid(
    client: TestClient, params: dict[str, Any], status: int, detail: str
) -> None:
    r = client.get(URL, params=params)
    assert r.status_code == status
    assert r.json() == {"detail": detail}


def test_unknown_series_and_missing_champion(client: TestClient, trained: dict[str, int]) -> None:
    r = client.get("/api/v1/forecasts/MSFT")
    assert r.status_code == 404
    assert r.json() == {
        "detail": "unknown series 'MSFT'; known series: IBM, seattle-weather "
        "(GET /api/v1/series lists them)"
    }
    r = client.get("/api/v1/forecasts/IBM", params={"strategy": "direct"})
    assert r.status_code == 409
    assert r.json() == {
        "detail": "series 'IBM' has no direct champion yet; train one with `forecaster train IBM "
        '--strategy direct` or POST /api/v1/runs {"kind": "retrain", "series": ["IBM"]}'
    }
    # a version of another series is not this series' model
    r = client.get("/api/v1/forecasts/IBM", params={"model": trained["gru-recursive"]})
    assert r.status_code == 404
    assert r.json()["detail"] == (
        f"model version {trained['gru-recursive']} belongs to another series, not 'IBM'; "
        "GET /api/v1/models?series=IBM lists this series' versions"
    )


def _cache_count(client: TestClient, result: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(f'forecaster_forecast_cache_total{{result="{result}"}}'):
            return float(line.split()[-1])
    return 0.0


@pytest.mark.usefixtures("trained")  # before `client`: the app starts with champions stored
def test_reads_are_cached_and_new_data_from_elsewhere_is_seen_within_fresh_s(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    loaded = client.get("/health").json()["models_loaded"]
    assert loaded == 3  # the champions, loaded at start-up
    first = client.get(URL, params={"horizon": 7})
    hits, misses = _cache_count(client, "hit"), _cache_count(client, "miss")
    again = client.get(URL, params={"horizon": 7})
    assert again.content == first.content
    assert _cache_count(client, "hit") == hits + 1 and _cache_count(client, "miss") == misses
    assert client.get("/health").json()["models_loaded"] == loaded  # nothing reloaded

    # one more day of data: the next read is issued from it
    nxt = load_sample("seattle-weather").iloc[SEATTLE_ROWS : SEATTLE_ROWS + 1]
    with session_factory.begin() as session:
        sid = series_db.get_series(session=session, key="seattle-weather").id
        observations_db.upsert_observations(session=session, series_id=sid, frame=nxt)
    # written behind the app's back (another process): trusted cache keys expire after FRESH_S
    time.sleep(forecasts.FRESH_S + 0.05)
    fresh = client.get(URL, params={"horizon": 7}).json()
    assert fresh["issued_at"] == nxt.index[0].isoformat() + "Z"
    assert _cache_count(client, "miss") == misses + 1


@pytest.mark.usefixtures("trained")
def test_points_carry_coverage_at_the_requested_level_and_the_reach_is_enforced(
    client: TestClient,
) -> None:
    low = client.get(URL, params={"horizon": 5, "level": 0.5}).json()
    high = client.get(URL, params={"horizon": 5, "level": 0.95}).json()
    assert low["coverage_origins"] > 0 and high["coverage_origins"] > 0
    cov_low = [p["coverage"] for p in low["points"]]
    cov_high = [p["coverage"] for p in high["points"]]
    assert all(c is not None and 0 <= c <= 1 for c in cov_low + cov_high)
    assert cov_low != cov_high and sum(cov_low) < sum(cov_high)
    for p in high["points"]:
        assert p["width"] == pytest.approx(p["upper"] - p["lower"])
    top = high["max_horizon"]
    assert top >= 5
    far = client.get(URL, params={"horizon": top}).json()
    assert len(far["points"]) == top
    assert all(p["lower"] is not None and p["coverage"] is not None for p in far["points"])
    r = client.get(URL, params={"horizon": top + 1})
    assert r.status_code == 422
    assert r.json()["detail"].startswith(
        f"horizon={top + 1} exceeds this recursive model's maximum horizon {top} ("
    )


@pytest.mark.usefixtures("trained")
def test_skill_and_figures_cover_only_the_requested_steps(client: TestClient) -> None:
    full = client.get(URL, params={"horizon": 5}).json()
    short = client.get(URL, params={"horizon": 2}).json()
    assert (full["metrics_steps"], short["metrics_steps"]) == (5, 2)
    steps = {m["step"]: m for m in full["metrics"] if m["variable"] == "tmax"}
    cut = {m["step"]: m for m in short["metrics"] if m["variable"] == "tmax"}
    assert sorted(cut) == [0, 1, 2]  # steps 3..5 were not asked for
    for who in ("model", "naive", "seasonal_naive"):
        for metric in ("mae", "mase", "smape"):
            want = (steps[1][who][metric] + steps[2][who][metric]) / 2
            assert cut[0][who][metric] == pytest.approx(want)
        rmse = ((steps[1][who]["rmse"] ** 2 + steps[2][who]["rmse"] ** 2) / 2) ** 0.5
        assert cut[0][who]["rmse"] == pytest.approx(rmse)
    assert cut[0]["model"]["mase"] != pytest.approx(steps[0]["model"]["mase"])
    ours, naive = cut[0]["model"]["mase"], cut[0]["naive"]["mase"]
    verdict = "beats" if ours < naive else "does not beat"
    assert short["skill"].startswith(
        f"tmax: MASE {ours:.3f} {verdict} the naive forecast's {naive:.3f}"
    )
    assert "on the backtest (steps 1-2)" in short["skill"]
    assert short["has_skill"] is (ours < naive) and short["baseline_served"] is False


def test_a_baseline_champion_is_served_over_http_with_intervals(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    rng = np.random.default_rng(0)
    index = pd.date_range("2020-01-01", periods=500, freq="D", name="ts")
    walk = pd.DataFrame({"y": 100.0 + rng.normal(size=500).cumsum()}, index=index)
    with session_factory.begin() as session:
        sid = series_db.register_series(session=session, key="walk", source="csv", frequency="D").id
        observations_db.upsert_observations(session=session, series_id=sid, frame=walk)
    spec = ModelSpec(
        architecture="gru", strategy="direct", lookback=14, horizon=5, hidden_size=4, epochs=2
    )
    decision = train_recorded(session_factory, training.TrainRequest("walk", spec), threads=1)
    assert not decision.promoted and decision.baseline_served
    with session_factory.begin() as session:  # the forecast flow's precompute works for it too
        done = training.precompute_forecasts(session=session, series_key="walk")
        assert done == {"direct": decision.served_id}
        stored = read_forecast(
            session=session,
            version_id=decision.served_id,
            issued_at=index[-1],
            data_revision=series_db.get_series(session=session, key="walk").revision,
        )
        assert stored is not None and list(stored.points["step"]) == [1, 2, 3, 4, 5]

    r = client.get("/api/v1/forecasts/walk", params={"strategy": "direct", "horizon": 3})
    assert r.status_code == 200
    fc = r.json()
    assert fc["model"]["id"] == decision.served_id and fc["model"]["status"] == "champion"
    assert fc["model"]["architecture"] == decision.baseline
    assert fc["baseline_served"] is True and fc["has_skill"] is False
    assert fc["skill"].startswith(
        "No skill: no trained model beat the naive baselines on the backtest (steps 1-3), so the "
    )
    assert [p["step"] for p in fc["points"]] == [1, 2, 3]
    for p in fc["points"]:
        assert p["lower"] is not None and p["lower"] < p["value"] < p["upper"]
    if decision.baseline == "naive":
        assert {p["value"] for p in fc["points"]} == {walk["y"].iloc[-1]}
    assert fc["metrics_steps"] == 3
    assert sorted({m["step"] for m in fc["metrics"]}) == [0, 1, 2, 3]
    # the default horizon is the baseline's calibrated one, served from the precomputed rows
    default = client.get("/api/v1/forecasts/walk", params={"strategy": "direct"}).json()
    assert [p["value"] for p in default["points"]] == stored.points["value"].tolist()
    assert [p["upper"] for p in default["points"]] == stored.points["upper"].tolist()
