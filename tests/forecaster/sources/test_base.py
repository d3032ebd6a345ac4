"""The normalized frame contract and the source registry."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecaster.errors import InvalidData, SourceError
from forecaster.sources.base import (
    SourceUnavailable,
    get_source,
    normalize_frame,
    variable_name,
)
from forecaster.sources.csv import CsvSource, load_sample
from forecaster.sources.meteostat import MeteostatSource
from forecaster.sources.yahoo import YahooSource


def assert_normalized(frame: pd.DataFrame) -> None:
    """The contract every source's frame meets (reused by the other source tests)."""
    assert isinstance(frame.index, pd.DatetimeIndex)
    assert frame.index.name == "ts"
    assert frame.index.tz is None
    assert frame.index.dtype == "datetime64[ns]"
    assert frame.index.is_monotonic_increasing
    assert frame.index.is_unique
    assert all(dtype == np.float64 for dtype in frame.dtypes)
    assert all(c == c.lower() for c in frame.columns)


@pytest.fixture
def ibm_rows() -> pd.DataFrame:
    """Five real IBM trading days, as a source might hand them over."""
    return load_sample("IBM").iloc[:5]


def test_tz_aware_timestamps_become_naive_utc(ibm_rows):
    frame = ibm_rows.copy()
    frame.index = (frame.index + pd.Timedelta(hours=9, minutes=30)).tz_localize("America/New_York")
    out = normalize_frame(frame)
    assert pd.DatetimeIndex(out.index).tz is None
    assert out.index[0] == pd.Timestamp("2000-03-01 14:30")  # 09:30 EST in UTC
    assert_normalized(out)


def test_daily_timestamps_are_normalized_to_midnight(ibm_rows):
    frame = ibm_rows.copy()
    frame.index = (frame.index + pd.Timedelta(hours=14, minutes=30)).tz_localize("UTC")
    out = normalize_frame(frame, daily=True)
    assert list(out.index) == list(ibm_rows.index)


def test_duplicates_last_wins_and_rows_are_sorted(ibm_rows):
    revised = ibm_rows.iloc[[1]] * 1.01  # a source's revised bar, sent after the original
    frame = pd.concat([ibm_rows.iloc[::-1], revised])
    out = normalize_frame(frame)
    assert_normalized(out)
    assert len(out) == 5
    assert out.loc[ibm_rows.index[1], "close"] == pytest.approx(ibm_rows["close"].iloc[1] * 1.01)


def test_columns_become_lower_case_float64_and_gaps_stay(ibm_rows):
    frame = ibm_rows.rename(columns={"adj_close": "Adj Close", "volume": "Volume"})
    frame["Volume"] = frame["Volume"].astype("Int64")
    frame.iloc[2] = pd.NA  # a listed date with every value missing
    frame = frame.astype({"close": "Float64"})
    out = normalize_frame(frame)
    assert list(out.columns) == ["open", "high", "low", "close", "adj_close", "volume"]
    assert_normalized(out)
    assert len(out) == 5
    assert out.iloc[2].isna().all()


def test_text_column_is_invalid(ibm_rows):
    frame = ibm_rows.assign(events="Rain")
    with pytest.raises(InvalidData, match=r"^column 'events' is not numeric"):
        normalize_frame(frame)


def test_missing_timestamp_is_invalid(ibm_rows):
    frame = ibm_rows.copy()
    frame.index = pd.DatetimeIndex([frame.index[0], pd.NaT, *frame.index[2:]])
    with pytest.raises(InvalidData) as excinfo:
        normalize_frame(frame)
    assert str(excinfo.value) == "1 row(s) have no timestamp: every row needs one"


def test_two_columns_with_one_name_are_invalid(ibm_rows):
    frame = ibm_rows[["close", "open"]].set_axis(["Close", "close"], axis=1)
    with pytest.raises(InvalidData) as excinfo:
        normalize_frame(frame)
    assert str(excinfo.value) == (
        "columns ['Close', 'close'] give the same variable name twice (close): rename one"
    )


@pytest.mark.parametrize(
    ("column", "name"),
    [
        ("Adj Close", "adj_close"),  # yfinance's column
        ("OT", "ot"),  # ETT's oil temperature
        (" tmax ", "tmax"),  # stray spaces
    ],
)
def test_variable_name(column, name):
    assert variable_name(column) == name


@pytest.mark.parametrize(
    ("name", "cls"),
    [("yahoo", YahooSource), ("meteostat", MeteostatSource), ("csv", CsvSource)],
)
def test_get_source(name, cls):
    assert isinstance(get_source(name), cls)


def test_get_source_unknown_names_the_valid_ones():
    with pytest.raises(InvalidData) as excinfo:
        get_source("quandl")
    assert str(excinfo.value) == (
        "unknown source 'quandl': valid sources are csv, meteostat, yahoo"
    )


def test_source_unavailable_is_a_source_error():
    assert issubclass(SourceUnavailable, SourceError)
