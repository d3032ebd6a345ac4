"""The ingest flow as a real Prefect flow: idempotent, retried, failing per series without harm."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from flows.ingest import ingest
from forecaster.db import observations as observations_db
from forecaster.db import runs as runs_db
from forecaster.db import series as series_db
from tests.conftest import REPO_DATA
from tests.fixtures.meteostat import patch_meteostat
from tests.fixtures.yahoo import patch_yahoo

pytestmark = pytest.mark.usefixtures("prefect_harness")

AAPL = REPO_DATA / "stocks" / "AAPL.csv"
IBM = REPO_DATA / "stocks" / "IBM.csv"
CHICAGO = REPO_DATA / "weather" / "chicago_daily.csv"
NO_WAIT = [0.0, 0.0, 0.0]


def _register(factory: sessionmaker[Session], *tickers: str) -> None:
    with factory.begin() as session:
        for t in tickers:
            series_db.register_series(
                session=session,
                key=t,
                source="yahoo",
                params={"ticker": t},
                frequency="B",
            )


def _snapshot(factory: sessionmaker[Session], key: str):  # type: ignore[no-untyped-def]
    with factory.begin() as session:
        series = series_db.get_series(session=session, key=key)
        return observations_db.read_frame(session=session, series_id=series.id)


def test_ingest_twice_is_idempotent(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    database_url: str,
    session_factory: sessionmaker[Session],
) -> None:
    patch_yahoo(monkeypatch, {"AAPL": AAPL}, cache_dir=tmp_path)
    _register(session_factory, "AAPL")
    first = ingest(series=["AAPL"], start=date(2012, 1, 1), database_url=database_url)
    stored = _snapshot(session_factory, "AAPL")
    second = ingest(series=["AAPL"], start=date(2012, 1, 1), database_url=database_url)
    assert first.errors == second.errors == {}
    assert first.rows["AAPL"] == second.rows["AAPL"] == stored.size
    assert list(stored.columns) == [
        "adj_close",
        "close",
        "high",
        "low",
        "open",
        "volume",
    ]
    assert stored.index[0].date() == date(2012, 1, 3)  # first trading day of 2012
    assert _snapshot(session_factory, "AAPL").equals(stored)
    with session_factory.begin() as session:
        run = runs_db.get_run(session=session, run_id=second.run_id)
        assert (run.kind, run.status, run.result["rows"]) == (
            "ingest",
            "completed",
            {"AAPL": stored.size},
        )
        assert run.result == second.record() == {"rows": {"AAPL": stored.size}, "errors": {}}
        assert run.flow_run_id
    assert second.to_json() == {"run_id": run.id, **run.result}  # what the CLI reads


def test_incremental_ingest_continues_from_last_stored_day(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    database_url: str,
    session_factory: sessionmaker[Session],
) -> None:
    fake = patch_yahoo(monkeypatch, {"AAPL": AAPL}, cache_dir=tmp_path)
    _register(session_factory, "AAPL")
    ingest(series=["AAPL"], start=date(2013, 1, 2), database_url=database_url)
    fake.calls.clear()
    out = ingest(
        series=["AAPL"], database_url=database_url
    )  # no start: last stored day less the overlap
    assert out.errors == {}
    assert 0 < out.rows["AAPL"] <= 6 * 6  # only the overlap week is fetched again
    assert len(_snapshot(session_factory, "AAPL")) == 41  # 2013-01-02 .. 2013-03-01 trading days


def test_unknown_ticker_fails_its_run_and_leaves_other_series_intact(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    database_url: str,
    session_factory: sessionmaker[Session],
) -> None:
    patch_yahoo(monkeypatch, {"IBM": IBM}, cache_dir=tmp_path)
    _register(session_factory, "IBM", "NOPE")
    out = ingest(
        series=["NOPE", "IBM"],
        start=date(2013, 1, 2),
        database_url=database_url,
        retry_delays=NO_WAIT,
    )
    assert out.rows["IBM"] > 0 and "NOPE" not in out.rows
    assert "NOPE" in out.errors["NOPE"]
    with session_factory.begin() as session:
        run = runs_db.get_run(session=session, run_id=out.run_id)
        assert run.status == "failed" and run.error.startswith("NOPE: ")
        assert (
            observations_db.count_observations(
                session=session,
                series_id=series_db.get_series(session=session, key="NOPE").id,
            )
            == 0
        )


def test_network_errors_are_retried(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    database_url: str,
    session_factory: sessionmaker[Session],
) -> None:
    fake = patch_yahoo(monkeypatch, {"AAPL": AAPL}, cache_dir=tmp_path)
    _register(session_factory, "AAPL")
    fake.fail_next(2)
    out = ingest(
        series=["AAPL"],
        start=date(2013, 1, 2),
        database_url=database_url,
        retry_delays=NO_WAIT,
    )
    assert out.errors == {} and out.rows["AAPL"] == 41 * 6


def test_network_down_marks_run_failed_and_keeps_earlier_data(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    database_url: str,
    session_factory: sessionmaker[Session],
) -> None:
    fake = patch_yahoo(monkeypatch, {"AAPL": AAPL}, cache_dir=tmp_path)
    _register(session_factory, "AAPL")
    ingest(series=["AAPL"], start=date(2013, 1, 2), database_url=database_url)
    before = _snapshot(session_factory, "AAPL")
    fake.fail_next(100)
    out = ingest(
        series=["AAPL"],
        start=date(2012, 1, 1),
        database_url=database_url,
        retry_delays=NO_WAIT,
    )
    assert out.rows == {}
    assert "SourceUnavailable" in out.errors["AAPL"]
    with session_factory.begin() as session:
        run = runs_db.get_run(session=session, run_id=out.run_id)
        assert run.status == "failed" and "AAPL: SourceUnavailable" in run.error
    assert _snapshot(session_factory, "AAPL").equals(before)


def test_weather_station_ingest_keeps_gaps(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    database_url: str,
    session_factory: sessionmaker[Session],
) -> None:
    patch_meteostat(monkeypatch, tmp_path, {"72530": CHICAGO})
    with session_factory.begin() as session:
        series_db.register_series(
            session=session,
            key="chicago",
            source="meteostat",
            params={"station": "72530"},
        )
    out = ingest(series=["chicago"], start=date(2016, 1, 1), database_url=database_url)
    assert out.errors == {}
    stored = _snapshot(session_factory, "chicago")
    assert len(stored) == 731  # 2016-01-01 .. 2017-12-31, every day
    assert {"tavg", "tmin", "tmax", "prcp"} <= set(stored.columns)
    assert stored["tmax"].notna().sum() > 700
