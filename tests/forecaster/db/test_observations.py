"""Observations on a real SQLite file and a real PostgreSQL server: idempotent upserts, gaps,
wide reads, keyset pages."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import pytest
from sqlalchemy.orm import Session, sessionmaker

from forecaster.db import observations as observations_db
from forecaster.db import series as series_db
from forecaster.db.models import Observation
from forecaster.errors import BadDateRange, InvalidData
from tests.forecaster.db.frames import wide_frame


def test_upsert_twice_gives_identical_rows(
    session_factory: sessionmaker[Session],
) -> None:
    frame = wide_frame()
    with session_factory.begin() as session:
        sid = series_db.register_series(
            session=session,
            key="AAPL",
            source="yahoo",
            params={"ticker": "AAPL"},
            frequency="B",
        ).id
        assert (
            observations_db.upsert_observations(session=session, series_id=sid, frame=frame) == 20
        )
    with session_factory.begin() as session:
        first = observations_db.read_frame(session=session, series_id=sid)
        observations_db.upsert_observations(session=session, series_id=sid, frame=frame)
    with session_factory.begin() as session:
        assert observations_db.count_observations(session=session, series_id=sid) == 20
        again = observations_db.read_frame(session=session, series_id=sid)
    pd.testing.assert_frame_equal(first, again)
    pd.testing.assert_frame_equal(again, frame, check_freq=False)


def test_gaps_are_stored_as_nulls_not_dropped(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory.begin() as session:
        sid = series_db.register_series(session=session, key="x", source="csv").id
        observations_db.upsert_observations(session=session, series_id=sid, frame=wide_frame())
        rows, more = observations_db.read_observations_page(
            session=session, series_id=sid, variables=["close"]
        )
        total = observations_db.count_in_range(session=session, series_id=sid, variables=["close"])
    assert total == 10 and len(rows) == 10 and not more
    assert rows[3] == (datetime(2024, 1, 4), "close", None)


@pytest.mark.parametrize("limit", [1, 2, 3, 4, 7, 20, 25, 40])
def test_keyset_pages_walk_every_row_once_in_ts_variable_order(
    session_factory: sessionmaker[Session], limit: int
) -> None:
    frame = wide_frame(10)
    frame["a_b"] = 1.0  # '_' sorts differently under some collations: order is code points
    sparse = pd.DataFrame({"z": [1.0, 2.0, 3.0]}, index=frame.index[[1, 2, 8]])
    with session_factory.begin() as session:
        sid = series_db.register_series(session=session, key="x", source="csv").id
        observations_db.upsert_observations(session=session, series_id=sid, frame=frame)
        observations_db.upsert_observations(
            session=session, series_id=sid, frame=sparse
        )  # stored on 3 days
    variables = ["a_b", "close", "volume", "z"]
    seen: list[tuple[datetime, str]] = []
    after = None
    with session_factory.begin() as session:
        for _ in range(100):
            rows, more = observations_db.read_observations_page(
                session=session, series_id=sid, variables=variables, after=after, limit=limit
            )
            assert len(rows) == limit or not more
            seen += [(t, v) for t, v, _x in rows]
            if not more:
                break
            after = (rows[-1][0], rows[-1][1])
        # a bare timestamp as the cursor: every variable at that ts is done
        rest, _ = observations_db.read_observations_page(
            session=session, series_id=sid, variables=variables, after=(datetime(2024, 1, 9), None)
        )
    expected = sorted(
        [(t.to_pydatetime(), v) for t in frame.index for v in variables[:3]]
        + [(t.to_pydatetime(), "z") for t in sparse.index]
    )
    assert seen == expected
    assert [(t, v) for t, v, _x in rest] == [e for e in expected if e[0] > datetime(2024, 1, 9)]


def test_infinite_values_are_refused_from_any_source(
    session_factory: sessionmaker[Session],
) -> None:
    frame = wide_frame(5)
    frame.iloc[2, 1] = -np.inf
    with session_factory.begin() as session:
        sid = series_db.register_series(session=session, key="x", source="csv").id
        with pytest.raises(InvalidData) as excinfo:
            observations_db.upsert_observations(session=session, series_id=sid, frame=frame)
        assert observations_db.count_observations(session=session, series_id=sid) == 0
    assert str(excinfo.value) == (
        "variable 'volume' has the infinite value -inf at 2024-01-03T00:00:00 (1 infinite "
        "value(s) in all): only finite numbers are stored; use NaN (a gap) where there is no value"
    )


def test_upsert_overlap_updates_values_and_extends_range(
    session_factory: sessionmaker[Session],
) -> None:
    old, new = wide_frame(10), wide_frame(10, start="2024-01-06") + 1.0
    with session_factory.begin() as session:
        sid = series_db.register_series(session=session, key="x", source="csv").id
        observations_db.upsert_observations(session=session, series_id=sid, frame=old)
        observations_db.upsert_observations(session=session, series_id=sid, frame=new)
        assert observations_db.count_observations(session=session, series_id=sid) == 2 * 15
        assert observations_db.latest_timestamp(session=session, series_id=sid) == datetime(
            2024, 1, 15
        )
        wide = observations_db.read_frame(
            session=session, series_id=sid, start=datetime(2024, 1, 6)
        )
    pd.testing.assert_frame_equal(wide, new, check_freq=False)


def test_timezone_aware_index_is_stored_as_utc(
    session_factory: sessionmaker[Session],
) -> None:
    idx = pd.DatetimeIndex(
        ["2024-01-02 00:00", "2024-01-03 00:00"], tz="America/New_York", name="ts"
    )
    with session_factory.begin() as session:
        sid = series_db.register_series(session=session, key="x", source="csv").id
        observations_db.upsert_observations(
            session=session,
            series_id=sid,
            frame=pd.DataFrame({"v": [1.0, 2.0]}, index=idx),
        )
        assert observations_db.latest_timestamp(session=session, series_id=sid) == datetime(
            2024, 1, 3, 5
        )


def test_large_upsert_is_chunked(session_factory: sessionmaker[Session]) -> None:
    idx = pd.date_range("2000-01-01", periods=6_000, freq="h", name="ts")
    frame = pd.DataFrame({"a": np.arange(6_000.0), "b": np.arange(6_000.0) * 2}, index=idx)
    with session_factory.begin() as session:
        sid = series_db.register_series(session=session, key="big", source="csv", frequency="h").id
        assert (
            observations_db.upsert_observations(session=session, series_id=sid, frame=frame)
            == 12_000
        )
    with session_factory.begin() as session:
        assert observations_db.count_observations(session=session, series_id=sid) == 12_000


def test_reversed_date_range_is_rejected(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory.begin() as session:
        sid = series_db.register_series(session=session, key="x", source="csv").id
        with pytest.raises(BadDateRange, match="start=2024-02-01 is after end=2024-01-01"):
            observations_db.read_frame(
                session=session,
                series_id=sid,
                start=datetime(2024, 2, 1),
                end=datetime(2024, 1, 1),
            )


def test_the_revision_moves_only_when_a_cell_is_added_or_changed(
    session_factory: sessionmaker[Session],
) -> None:
    frame = pd.DataFrame(
        {"a": [1.0, np.nan, 3.0]}, index=pd.date_range("2024-01-01", periods=3, freq="D")
    )
    with session_factory.begin() as session:
        sid = series_db.register_series(session=session, key="r", source="csv").id

    def upsert(values: pd.DataFrame) -> int:
        with session_factory.begin() as session:
            observations_db.upsert_observations(session=session, series_id=sid, frame=values)
            return series_db.get_series(session=session, key="r").revision

    assert upsert(frame) == 1  # new cells
    assert upsert(frame) == 1  # the same again, the gap included: nothing changed
    assert upsert(frame.iloc[:1]) == 1  # a part of it
    assert upsert(frame.fillna(2.0)) == 2  # a gap filled
    assert upsert(frame) == 3  # a value back to a gap
    assert upsert(frame.assign(a=[1.0, np.nan, 3.5])) == 4  # a value revised


def test_an_upsert_matches_rows_the_orm_wrote(session_factory: sessionmaker[Session]) -> None:
    """The bulk path binds SQLite's DateTime text itself: it must be the ORM's, to the
    microsecond, or an upsert would add a second row for a stored timestamp."""
    stamps = [datetime(2024, 1, 1), datetime(2024, 1, 1, 12, 30, 15, 250)]
    with session_factory.begin() as session:
        sid = series_db.register_series(session=session, key="o", source="csv").id
        session.add_all(Observation(series_id=sid, variable="a", ts=ts, value=1.0) for ts in stamps)
    frame = pd.DataFrame({"a": [5.0, 6.0]}, index=pd.DatetimeIndex(stamps))
    with session_factory.begin() as session:
        observations_db.upsert_observations(session=session, series_id=sid, frame=frame)
        stored = observations_db.read_frame(session=session, series_id=sid)
    assert stored["a"].tolist() == [5.0, 6.0] and list(stored.index) == stamps
