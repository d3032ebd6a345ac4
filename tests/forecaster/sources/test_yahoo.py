"""The Yahoo source through yfinance's real parsing, behind a fake serving recorded prices."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from forecaster.errors import InvalidData, SourceError
from forecaster.sources.base import SourceUnavailable, get_source
from forecaster.sources.csv import read_csv
from tests.fixtures.yahoo import AAPL_CSV, chart_json, patch_yahoo
from tests.forecaster.sources.test_base import assert_normalized

Q1_2012 = (date(2012, 1, 1), date(2012, 3, 31))

pytestmark = pytest.mark.usefixtures("fake_yahoo")  # every test talks to the fake


def test_fetch_parses_recorded_prices():
    frame = get_source("yahoo").fetch({"ticker": "AAPL"}, *Q1_2012)
    assert_normalized(frame)
    assert list(frame.columns) == [
        "open",
        "high",
        "low",
        "close",
        "adj_close",
        "volume",
    ]
    recorded, _ = read_csv(AAPL_CSV)
    expected = recorded.loc["2012-01-01":"2012-03-31"]
    assert list(frame.index) == list(expected.index)  # trading dates, midnight, no shift
    pd.testing.assert_frame_equal(frame, expected, check_freq=False)


def test_end_date_is_inclusive_and_ticker_case_free():
    frame = get_source("yahoo").fetch({"ticker": "ibm"}, date(2013, 2, 25), date(2013, 2, 28))
    assert list(pd.DatetimeIndex(frame.index).strftime("%Y-%m-%d")) == [
        "2013-02-25",
        "2013-02-26",
        "2013-02-27",
        "2013-02-28",
    ]


def test_no_start_fetches_the_whole_history():
    frame = get_source("yahoo").fetch({"ticker": "AAPL"}, None, None)
    assert (frame.index[0], frame.index[-1]) == (
        pd.Timestamp("2005-03-01"),
        pd.Timestamp("2013-03-01"),
    )
    assert len(frame) == 2015


def test_gap_reported_by_yahoo_stays_nan(monkeypatch, tmp_path):
    # the recorded rows with one day's close missing, as Yahoo sometimes sends a null
    lines = AAPL_CSV.read_text().splitlines()
    fields = lines[1].split(",")
    fields[4] = ""
    path = tmp_path / "AAPL.csv"
    path.write_text("\n".join([lines[0], ",".join(fields), *lines[2:30]]) + "\n")
    patch_yahoo(monkeypatch, {"AAPL": path}, cache_dir=tmp_path / "yf")
    frame = get_source("yahoo").fetch({"ticker": "AAPL"}, date(2005, 3, 1), date(2005, 3, 31))
    assert frame.index[0] == pd.Timestamp("2005-03-01")
    assert frame.loc[["2005-03-01"], "close"].isna().all()
    assert frame.loc["2005-03-01", "open"] == 44.99


def test_unknown_ticker_is_a_source_error():
    with pytest.raises(SourceError) as excinfo:
        get_source("yahoo").fetch({"ticker": "NOSUCHTICKER"}, *Q1_2012)
    assert type(excinfo.value) is SourceError  # not worth retrying
    assert str(excinfo.value) == (
        "yahoo returned no rows for ticker 'NOSUCHTICKER' between 2012-01-01 and 2012-03-31: "
        "check the symbol on finance.yahoo.com (e.g. 'AAPL', 'BRK-B', '^GSPC') or widen the "
        "date range"
    )


def test_range_without_trading_is_a_source_error():
    with pytest.raises(SourceError) as excinfo:
        get_source("yahoo").fetch({"ticker": "AAPL"}, date(2020, 1, 1), None)
    assert type(excinfo.value) is SourceError
    assert str(excinfo.value).startswith(
        "yahoo returned no rows for ticker 'AAPL' between 2020-01-01 and today: "
    )


def test_network_error_is_source_unavailable_then_retry_works(fake_yahoo):
    source = get_source("yahoo")
    fake_yahoo.fail_next(1)
    with pytest.raises(SourceUnavailable) as excinfo:
        source.fetch({"ticker": "AAPL"}, *Q1_2012)
    assert str(excinfo.value) == (
        "yahoo could not be reached for ticker 'AAPL' between 2012-01-01 and 2012-03-31: "
        "Failed to perform, curl: (6) Could not resolve host: query2.finance.yahoo.com"
    )
    assert isinstance(excinfo.value.__cause__, OSError)
    assert len(source.fetch({"ticker": "AAPL"}, *Q1_2012)) == 62


def test_missing_ticker_param_is_invalid():
    with pytest.raises(InvalidData) as excinfo:
        get_source("yahoo").fetch({"symbol": "AAPL"}, None, None)
    assert str(excinfo.value) == (
        "yahoo source needs params {'ticker': SYMBOL} (e.g. 'AAPL'); got {'symbol': 'AAPL'}"
    )


def test_chart_json_builder_holds_the_recorded_rows():
    chart = chart_json(AAPL_CSV, "2013-02-27", "2013-03-01")
    result = chart["chart"]["result"][0]
    assert result["meta"]["symbol"] == "AAPL"
    assert len(result["timestamp"]) == 3
    assert result["indicators"]["quote"][0]["close"][-1] == 430.47
