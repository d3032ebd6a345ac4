"""The `forecaster` command from a user's seat: exit codes and messages, real database, real flows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from forecaster.cli import main
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
    assert rows["seattle-weather"]["rows"] == 1461 * 4


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
    assert "NOPE" in out.out and " 0 " in out.out  # registered, nothing stored


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
        main([*db, "train", "seattle-weather", "--arch", "gru", "--strategy", "direct", *tiny]) == 0
    )
    out = capsys.readouterr().out
    assert out.startswith(
        "model version 1: gru/direct on seattle-weather\npromoted to champion: first direct model"
    )
    assert "mae naive" in out and "\ntmax      all " in out  # the figures beside the baselines

    assert main([*db, "forecast", "seattle-weather", "--strategy", "direct", "--json"]) == 0
    fc = json.loads(capsys.readouterr().out)
    assert (fc["model_version"], fc["horizon"], fc["issued_at"]) == (1, 7, "2015-12-31T00:00:00")
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
        "(1..2147483647; `forecaster models` or GET /api/v1/models lists them)\n"
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
    version = next(v for v in json.loads(capsys.readouterr().out) if v["id"] == 1)
    assert (version["status"], version["architecture"], version["metric"]) == (
        "champion",
        "gru",
        "mase",
    )


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
