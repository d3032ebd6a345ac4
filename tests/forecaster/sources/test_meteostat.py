"""The Meteostat source through meteostat's real daily provider, reading recorded rows from file://."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from forecaster.errors import InvalidData, SourceError
from forecaster.sources.base import SourceUnavailable, get_source
from forecaster.sources.csv import read_csv
from forecaster.sources.meteostat import _chunks
from tests.fixtures.meteostat import (
    CHICAGO_CSV,
    CHICAGO_STATION,
    GAINESVILLE_CSV,
    GAINESVILLE_STATION,
)
from tests.forecaster.sources.test_base import assert_normalized

COLUMNS = [
    "tavg",
    "tmin",
    "tmax",
    "rhum",
    "prcp",
    "snwd",
    "wspd",
    "wpgt",
    "pres",
    "tsun",
    "cldc",
]
WINTER = (date(2016, 12, 20), date(2017, 1, 10))  # across a year boundary: two files

pytestmark = pytest.mark.usefixtures("fake_meteostat")  # every test talks to the fake


def test_station_fetch_parses_recorded_rows(fake_meteostat):
    frame = get_source("meteostat").fetch({"station": CHICAGO_STATION}, *WINTER)
    assert_normalized(frame)
    assert list(frame.columns) == COLUMNS  # temp renamed tavg
    assert len(frame) == 22
    assert (frame.index[0], frame.index[-1]) == (
        pd.Timestamp(WINTER[0]),
        pd.Timestamp(WINTER[1]),
    )
    recorded, _ = read_csv(CHICAGO_CSV)
    expected = recorded.loc["2016-12-20":"2017-01-10"]
    for column in ["tavg", "tmin", "tmax", "prcp", "wspd", "pres", "rhum"]:
        pd.testing.assert_series_equal(frame[column], expected[column], check_freq=False)
    assert fake_meteostat.requested[-2:] == [
        f"{fake_meteostat.root.resolve().as_uri()}/{year}/{CHICAGO_STATION}.csv.gz"
        for year in (2016, 2017)
    ]


def test_station_metadata_params_are_accepted():
    params = {
        "station": CHICAGO_STATION,
        "latitude": 41.9786,
        "longitude": -87.9048,
        "elevation": 201,
        "timezone": "America/Chicago",
    }
    assert len(get_source("meteostat").fetch(params, *WINTER)) == 22


def test_gaps_stay_nan():
    frame = get_source("meteostat").fetch(
        {"station": GAINESVILLE_STATION}, date(2013, 1, 1), date(2013, 6, 30)
    )
    assert len(frame) == 181
    assert frame.loc[:"2013-03-31", "tavg"].isna().all()  # not observed until April
    assert frame.loc["2013-04-01", "tavg"] == 21.1
    assert frame.loc[["2013-01-12"], "wpgt"].isna().all()
    assert frame.loc["2013-02-26", "wpgt"] == 78.9
    assert frame["cldc"].isna().all()  # a parameter this station never reports


def test_no_start_fetches_recent_years():
    frame = get_source("meteostat").fetch({"station": CHICAGO_STATION}, None, date(2017, 12, 31))
    assert len(frame) == 731  # 2008..2017 asked; the recorded 2016-2017 came back


def test_point_is_interpolated_from_nearby_stations():
    frame = get_source("meteostat").fetch({"lat": 41.88, "lon": -87.63}, *WINTER)
    assert_normalized(frame)
    assert len(frame) == 22
    assert frame.loc["2016-12-20", "tmax"] == -2.2  # one station near: its values


def test_point_without_stations_is_a_source_error():
    with pytest.raises(SourceError) as excinfo:
        get_source("meteostat").fetch({"lat": -45.0, "lon": 170.0}, *WINTER)
    assert str(excinfo.value) == (
        "meteostat has no station within 50 km of point (-45.0, 170.0): check the "
        "coordinates (lat -90..90, lon -180..180) or give a station id"
    )


def test_unknown_station_is_a_source_error():
    with pytest.raises(SourceError) as excinfo:
        get_source("meteostat").fetch({"station": "00000"}, *WINTER)
    assert type(excinfo.value) is SourceError  # not worth retrying
    assert str(excinfo.value) == (
        "meteostat returned no data for station '00000' between 2016-12-20 and 2017-01-10: "
        "check the station id (a Meteostat id such as '72530', see meteostat.net) or the "
        "date range"
    )


def test_network_error_is_source_unavailable_then_retry_works(fake_meteostat):
    source = get_source("meteostat")
    fake_meteostat.fail_next(1)  # the 2016 file fails, the 2017 file arrives
    with pytest.raises(SourceUnavailable) as excinfo:
        source.fetch({"station": CHICAGO_STATION}, *WINTER)
    assert str(excinfo.value) == (
        f"meteostat could not be reached for station '{CHICAGO_STATION}' between "
        "2016-12-20 and 2017-01-10: <urlopen error [Errno 111] Connection refused>"
    )
    assert len(source.fetch({"station": CHICAGO_STATION}, *WINTER)) == 22


@pytest.mark.parametrize(
    ("params", "message"),
    [
        # nothing to locate
        (
            {},
            "meteostat source needs params {'station': ID} (e.g. {'station': '72530'}) or "
            "{'lat': LATITUDE, 'lon': LONGITUDE}; got {}",
        ),
        # out of range
        (
            {"lat": 91, "lon": 0},
            "meteostat point lat=91, lon=0 is not valid (Latitude must be between -90 and "
            "90): latitude -90..90 and longitude -180..180 in degrees",
        ),
        # not a number
        (
            {"station": "72530", "latitude": "north"},
            "meteostat param 'latitude'='north' is not a number",
        ),
    ],
)
def test_bad_params_are_invalid(params, message):
    with pytest.raises(InvalidData) as excinfo:
        get_source("meteostat").fetch(params, *WINTER)
    assert str(excinfo.value) == message


def test_long_ranges_are_split_into_chunks_meteostat_accepts():
    assert list(_chunks(date(1980, 6, 1), date(2024, 2, 1))) == [
        (date(1980, 6, 1), date(1999, 12, 31)),
        (date(2000, 1, 1), date(2019, 12, 31)),
        (date(2020, 1, 1), date(2024, 2, 1)),
    ]


def test_gainesville_fixture_is_the_recorded_file():
    frame, freq = read_csv(GAINESVILLE_CSV)
    assert (freq, len(frame)) == ("D", 181)
