"""Registering sources: what each source registers, and a failed first ingest leaving no series."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy.orm import Session, sessionmaker

from forecaster.app import ingest
from forecaster.app.ingest import Registration
from forecaster.db import observations as observations_db
from forecaster.db import series as series_db
from forecaster.errors import Conflict, InvalidData


@pytest.mark.parametrize(
    ("made", "expected"),
    [
        (
            lambda: ingest.yahoo("AAPL", " aapl "),
            Registration("AAPL", "yahoo", {"ticker": "AAPL"}, "B", "America/New_York"),
        ),
        (
            lambda: ingest.meteostat("boston", station="72509"),
            Registration("boston", "meteostat", {"station": "72509"}, "D"),
        ),
        (
            lambda: ingest.meteostat("here", lat=47.61, lon=-122.33),
            Registration("here", "meteostat", {"lat": 47.61, "lon": -122.33}, "D"),
        ),
        (
            lambda: ingest.sample("ibm", key="mine"),
            Registration("mine", "csv", {"sample": "IBM.csv"}, "B"),
        ),
    ],
)
def test_each_source_registers_its_params_and_calendar(made, expected) -> None:
    assert made() == expected


def test_samples_are_registered_under_their_own_keys() -> None:
    assert [r.key for r in ingest.samples()] == ["AAPL", "IBM", "seattle-weather"]
    with pytest.raises(InvalidData, match="bundled samples are AAPL, IBM, seattle-weather"):
        ingest.sample("TSLA")


def test_a_csv_file_is_read_before_it_is_registered(tmp_path: Path) -> None:
    good = tmp_path / "walk.csv"
    good.write_text("date,y\n2020-01-01,1\n2020-01-02,2\n2020-01-03,3\n")
    assert ingest.csv_file("walk", str(good)) == Registration(
        "walk", "csv", {"path": str(good)}, "D"
    )
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(InvalidData, match="time column"):
        ingest.csv_file("bad", str(bad))


def test_exclusive_registration_refuses_a_taken_key(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        ingest.register(session=session, registrations=[ingest.yahoo("AAPL", "AAPL")])
    with session_factory.begin() as session:  # not exclusive: the source is updated
        (series,) = ingest.register(session=session, registrations=[ingest.yahoo("AAPL", "MSFT")])
        assert series.params == {"ticker": "MSFT"}
    with pytest.raises(Conflict), session_factory.begin() as session:
        ingest.register(
            session=session, registrations=[ingest.yahoo("AAPL", "AAPL")], exclusive=True
        )


def test_a_first_ingest_that_stores_nothing_leaves_no_series(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory.begin() as session:  # registered before: kept even when empty
        ingest.register(session=session, registrations=[ingest.yahoo("OLD", "OLD")])
    frame = pd.DataFrame({"close": [1.0]}, index=pd.DatetimeIndex(["2020-01-02"], name="ts"))

    def fetch(keys: list[str]) -> str:
        with session_factory.begin() as session:  # only IBM's fetch stores something
            series = series_db.get_series(session=session, key="IBM")
            observations_db.upsert_observations(session=session, series_id=series.id, frame=frame)
        return ",".join(keys)

    wanted = [ingest.yahoo(k, k) for k in ("OLD", "IBM", "NOPE")]
    result, removed = ingest.ingest_sources(session_factory, wanted, fetch)
    assert (result, removed) == ("OLD,IBM,NOPE", ["NOPE"])
    with session_factory.begin() as session:
        assert sorted(s.key for s in series_db.list_series(session=session)) == ["IBM", "OLD"]
