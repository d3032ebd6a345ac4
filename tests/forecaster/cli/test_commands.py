"""The `forecaster` command from a user's seat: exit codes and messages, real database, real flows."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecaster.cli.main import main
from tests.conftest import REPO_DATA
from tests.fixtures.yahoo import patch_yahoo

pytestmark = pytest.mark.usefixtures("prefect_harness")


@pytest.fixture
def db(tmp_path: Path) -> list[str]:
    return ["--database-url", f"sqlite:///{tmp_path / 'cli.db'}"]


def test_ingest_sample_then_series_json(db: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*db, "ingest", "sample"]) == 0
    capsys.readouterr()
    assert main([*db, "series", "--json"]) == 0
    rows = {r["key"]: r for r in json.loads(capsys.readouterr().out)}
    assert set(rows) == {"AAPL", "IBM", "seattle-weather"}
    assert rows["AAPL"]["source"] == "csv" and rows["AAPL"]["frequency"] == "B"
    assert rows["seattle-weather"]["variables"] == [
        "prcp",
        "tmax",
        "tmin",
        "wspd",
    ]  # empty columns not stored
    assert rows["seattle-weather"]["first"].startswith("2012-01-01")
    assert (rows["seattle-weather"]["timestamps"], rows["seattle-weather"]["values"]) == (
        1461,
        1461 * 4,
    )


def test_unknown_ticker_exits_non_zero_and_writes_nothing(
    db: list[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    patch_yahoo(monkeypatch, {"AAPL": REPO_DATA / "stocks" / "AAPL.csv"}, cache_dir=tmp_path)
    monkeypatch.setattr("flows.ingest.RETRY_DELAYS", [0.0])
    assert main([*db, "ingest", "yahoo", "NOPE", "--start", "2013-01-02"]) == 1
    out = capsys.readouterr()
    assert "error: NOPE: " in out.err and "NOPE" in out.err.split("error: NOPE: ")[1]
    assert "NOPE: nothing was stored, so it is not registered" in out.err
    assert main([*db, "series", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []  # no empty series left behind


def test_csv_without_time_column_is_a_clear_error(
    db: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("a,b\n1,2\n3,4\n")
    assert main([*db, "ingest", "csv", str(path), "--key", "bad"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "time column" in err and "--time-column" in err


def test_bad_date_is_rejected_by_the_parser(
    db: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([*db, "ingest", "yahoo", "AAPL", "--start", "yesterday"])
    assert exit_.value.code == 2
    assert "'yesterday' is not a date; use YYYY-MM-DD" in capsys.readouterr().err


def test_train_forecast_models_round_trip(
    db: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*db, "ingest", "sample"]) == 0
    capsys.readouterr()
    tiny = ["--lookback", "28", "--horizon", "7", "--epochs", "2", "--hidden", "8"]
    assert (
        main(
            [
                *db,
                "train",
                "seattle-weather",
                "--arch",
                "gru",
                "--strategy",
                "direct",
                "--promote",
                *tiny,
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    # --promote seats it whatever the backtest says (the rule itself: tests/forecaster/test_champion.py)
    assert out.startswith(
        "model version 1: gru/direct on seattle-weather\npromoted to champion: promoted explicitly"
    )
    assert "backtest split (the recent window the champion rule judges), steps 1-7" in out
    assert "mae naive" in out and "\ntmax      all " in out  # the figures beside the baselines
    # the skill line is the table's own pooled MASE against the table's own naive column
    header, row = (
        line.split("  ") for line in out.splitlines() if line.startswith(("variable ", "tmax "))
    )
    header, row = [c.strip() for c in header if c.strip()], [c.strip() for c in row if c.strip()]
    mase, naive = float(row[header.index("mase")]), float(row[header.index("mase naive")])
    verdict = "beats" if mase < naive else "does not beat"
    said = re.search(rf"tmax: MASE ([0-9.]+) {verdict} the naive forecast's ([0-9.]+)", out)
    assert said is not None  # the table has 4 decimals, the sentence 3
    assert abs(float(said[1]) - mase) < 6e-4 and abs(float(said[2]) - naive) < 6e-4
    assert "on the backtest (steps 1-7)" in out
    assert "No skill: " not in out  # a model is served, not a baseline

    assert main([*db, "forecast", "seattle-weather", "--strategy", "direct", "--json"]) == 0
    fc = json.loads(capsys.readouterr().out)
    assert (fc["model_version"], fc["horizon"], fc["issued_at"]) == (
        1,
        7,
        "2015-12-31T00:00:00+00:00",
    )
    assert [p["ts"][:10] for p in fc["points"]][:2] == ["2016-01-01", "2016-01-02"]
    assert all(p["lower"] <= p["value"] <= p["upper"] for p in fc["points"])

    assert (
        main([*db, "forecast", "seattle-weather", "--strategy", "direct", "--horizon", "30"]) == 2
    )
    assert capsys.readouterr().err == (
        "error: horizon=30 exceeds this direct model's H=7; use strategy=recursive or horizon<=7\n"
    )
    assert main([*db, "forecast", "seattle-weather"]) == 2
    assert "has no recursive champion yet" in capsys.readouterr().err
    # an id past any the database can hold was a traceback (OverflowError)
    assert main([*db, "forecast", "seattle-weather", "--model", "99999999999999999999"]) == 2
    assert capsys.readouterr().err == (
        "error: model='99999999999999999999' is neither 'champion' nor a model version id "
        "(1..2147483647; `forecaster models` lists them)\n"
    )

    # a recursive model rolls forward step by step: bounded (FORECASTER_FORECAST_MAX_HORIZON)
    assert main([*db, "train", "seattle-weather", "--arch", "gru", *tiny]) == 0
    capsys.readouterr()
    assert main([*db, "forecast", "seattle-weather", "--horizon", "1000000"]) == 2
    assert capsys.readouterr().err == (
        "error: horizon=1000000 exceeds the limit of 1000 steps for a recursive forecast; "
        "give horizon between 1 and 1000\n"
    )
    assert main([*db, "forecast", "seattle-weather", "--horizon", "40", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["points"]) == 40

    # an unknown key is one line before any flow starts, not a Prefect traceback
    assert main([*db, "retrain", "UNKNOWN", "IBM"]) == 2
    assert capsys.readouterr().err == (
        "error: unknown series 'UNKNOWN'; known series: AAPL, IBM, seattle-weather "
        "(`forecaster series` lists them)\n"
    )

    assert main([*db, "models", "seattle-weather", "--json"]) == 0
    versions = {v["architecture"]: v for v in json.loads(capsys.readouterr().out)}
    assert set(versions) == {"gru", "naive", "seasonal_naive"}  # the baselines are versions too
    assert (versions["gru"]["status"], versions["gru"]["metric"]) == ("champion", "mase")
    assert versions["naive"]["status"] == versions["seasonal_naive"]["status"] == "candidate"


def test_a_series_without_skill_is_served_the_baseline_and_says_so(
    db: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = np.random.default_rng(0)
    days = pd.date_range("2020-01-01", periods=500, freq="D")
    walk = pd.DataFrame(
        {"date": days.strftime("%Y-%m-%d"), "y": 100 + rng.normal(size=500).cumsum()}
    )
    walk.to_csv(tmp_path / "walk.csv", index=False)
    assert main([*db, "ingest", "csv", str(tmp_path / "walk.csv"), "--key", "walk"]) == 0
    capsys.readouterr()
    tiny = ["--lookback", "14", "--horizon", "5", "--epochs", "2", "--hidden", "4"]
    assert main([*db, "train", "walk", "--strategy", "direct", *tiny]) == 0
    out = capsys.readouterr().out
    assert "kept as candidate: mase " in out and "no skill" in out
    assert "y: MASE " in out and "does not beat the naive forecast's" in out
    assert "on the backtest (steps 1-5): no skill over a random walk here" in out
    served = [line for line in out.splitlines() if line.startswith("No skill: ")]
    assert len(served) == 1 and served[0].endswith("is the direct champion.")
    assert "on the backtest (steps 1-5)" in served[0]

    assert main([*db, "forecast", "walk", "--strategy", "direct", "--horizon", "3"]) == 0
    text = capsys.readouterr().out.splitlines()
    assert text[1].startswith(
        "No skill: no trained model beat the naive baselines on the backtest (steps 1-3), so the "
    )
    assert main([*db, "forecast", "walk", "--strategy", "direct", "--horizon", "3", "--json"]) == 0
    fc = json.loads(capsys.readouterr().out)
    assert fc["baseline_served"] is True and fc["has_skill"] is False
    assert fc["architecture"] in ("naive", "seasonal_naive") and fc["metrics_steps"] == 3
    assert all(p["lower"] < p["value"] < p["upper"] for p in fc["points"])


def test_train_unknown_target_is_a_clear_error(
    db: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*db, "ingest", "sample"]) == 0
    capsys.readouterr()
    assert main([*db, "train", "IBM", "--targets", "price", "--epochs", "1"]) == 2
    assert capsys.readouterr().err == (
        "error: unknown target 'price' for series 'IBM'; its variables are "
        "adj_close, close, high, low, open, volume\n"
    )


def test_time_budget_is_checked_and_a_cut_is_said(
    db: list[str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for bad in ("-1", "0"):
        assert main([*db, "train", "IBM", "--time-budget", bad]) == 2
        assert capsys.readouterr().err == (
            f"error: --time-budget {bad} is not valid; give a positive number of seconds "
            "(a safety cap, e.g. 300) or leave it out for no cap\n"
        )
    assert main([*db, "ingest", "sample"]) == 0
    capsys.readouterr()
    tiny = ["--lookback", "28", "--horizon", "7", "--epochs", "3", "--hidden", "8"]
    args = ["train", "seattle-weather", "--arch", "gru", "--strategy", "direct", *tiny]
    assert main([*db, *args, "--time-budget", "0.000001"]) == 0
    out = capsys.readouterr().out
    assert "\nnote: training cut short by the time budget (1e-06 s) after 1 of 3 epochs\n" in out

    config = tmp_path / "cut.yaml"
    config.write_text(
        "defaults: {lookback: 28, horizon: 7, hidden_size: 8, num_layers: 1, epochs: 3,"
        " time_budget_s: 0.000001}\ncandidates:\n  - {architecture: gru, strategy: recursive}\n"
    )
    assert main([*db, "retrain", "seattle-weather", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert re.search(
        r"note: version \d+ \(seattle-weather gru/recursive\): training cut short by the time "
        r"budget \(1e-06 s\) after 1 of 3 epochs\n",
        out,
    )
    assert (
        "0 failed, 1 cut short by the time budget (their weights depend on machine speed)\n"
    ) in out


def test_recursive_forecast_shows_coverage_and_refuses_past_its_reach_in_one_line(
    db: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*db, "ingest", "sample"]) == 0
    tiny = ["--lookback", "14", "--horizon", "3", "--epochs", "2", "--hidden", "8"]
    # --promote: served even where this tiny model does not beat the naive baselines
    assert main([*db, "train", "seattle-weather", "--arch", "gru", *tiny, "--promote"]) == 0
    capsys.readouterr()
    assert main([*db, "forecast", "seattle-weather", "--json", "--level", "0.8"]) == 0
    fc = json.loads(capsys.readouterr().out)
    top = fc["max_horizon"]
    assert top >= 3 and fc["coverage_origins"] > 0
    assert all(0 <= p["coverage"] <= 1 for p in fc["points"])
    assert main([*db, "forecast", "seattle-weather", "--horizon", str(top)]) == 0
    out = capsys.readouterr().out
    assert "coverage: measured at 90% over the last" in out
    assert any(line.startswith("step") and "coverage" in line for line in out.splitlines())
    assert main([*db, "forecast", "seattle-weather", "--horizon", str(top + 1)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(
        f"error: horizon={top + 1} exceeds this recursive model's maximum horizon {top} ("
    )
