"""Series on a real SQLite file and a real PostgreSQL server: registration rules, look-ups
and summaries."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy.orm import Session, sessionmaker

from forecaster.db import observations as observations_db
from forecaster.db import series as series_db
from forecaster.errors import InvalidData, UnknownSeries
from tests.forecaster.db.frames import wide_frame


def test_summaries_report_variables_range_timestamps_and_values(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory.begin() as session:
        sid = series_db.register_series(
            session=session, key="AAPL", source="yahoo", frequency="B"
        ).id
        series_db.register_series(session=session, key="empty", source="csv")
        observations_db.upsert_observations(session=session, series_id=sid, frame=wide_frame())
        summaries = {s["key"]: s for s in series_db.series_summaries(session=session)}
        one = series_db.series_summary(session=session, key="AAPL")
    assert one == summaries["AAPL"]
    assert summaries["AAPL"]["variables"] == ["close", "volume"]
    assert (summaries["AAPL"]["timestamps"], summaries["AAPL"]["values"]) == (10, 20)
    assert summaries["AAPL"]["first"] == datetime(2024, 1, 1)
    assert summaries["empty"]["values"] == summaries["empty"]["timestamps"] == 0
    assert summaries["empty"]["last"] is None


def test_unknown_series_message_lists_known_keys(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory.begin() as session:
        series_db.register_series(session=session, key="AAPL", source="yahoo")
        with pytest.raises(UnknownSeries) as err:
            series_db.get_series(session=session, key="MSFT")
    assert (err.value.key, err.value.known) == ("MSFT", ("AAPL",))
    assert str(err.value) == "unknown series 'MSFT'; known series: AAPL"


@pytest.mark.parametrize(
    ("key", "source"),
    [
        ("bad key", "csv"),  # space
        ("", "csv"),  # empty
        ("ok", "ftp"),  # unknown source
    ],
)
def test_register_rejects_bad_input(
    session_factory: sessionmaker[Session], key: str, source: str
) -> None:
    with session_factory.begin() as session, pytest.raises(InvalidData):
        series_db.register_series(session=session, key=key, source=source)
