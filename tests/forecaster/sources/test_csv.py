"""The CSV source: every rule on real rows (bundled stocks, recorded weather), broken on purpose."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from forecaster.errors import InvalidData
from forecaster.sources.csv import CsvSource, infer_frequency, read_csv, read_table
from forecaster.sources.samples import sample_path
from tests.fixtures.meteostat import CHICAGO_CSV, GAINESVILLE_CSV
from tests.forecaster.sources.test_base import assert_normalized

AAPL_LINES = sample_path("AAPL").read_text().splitlines()  # header + real trading days


def write(tmp_path: Path, lines: list[str], name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def test_reads_stock_prices_on_business_days():
    frame, freq = read_csv(sample_path("AAPL"))
    assert freq == "B"  # trading days: weekdays with holidays missing
    assert_normalized(frame)
    assert list(frame.columns) == [
        "open",
        "high",
        "low",
        "close",
        "adj_close",
        "volume",
    ]
    assert len(frame) == 2015
    first = frame.iloc[0]
    assert frame.index[0] == pd.Timestamp("2005-03-01")
    assert (first["open"], first["close"], first["volume"]) == (44.99, 44.5, 16721000.0)


def test_reads_hourly_data_and_infers_h(tmp_path):
    # ETTh1's first hours (Zhou et al., Informer), as in data/ett/ETTh1.csv
    lines = [
        "date,HUFL,HULL,MUFL,MULL,LUFL,LULL,OT",
        "2016-07-01 00:00:00,5.827000141143799,2.009000062942505,1.5989999771118164,0.4620000123977661,4.203000068664552,1.3400000333786009,30.5310001373291",
        "2016-07-01 01:00:00,5.692999839782715,2.075999975204468,1.4919999837875366,0.4259999990463257,4.142000198364259,1.371000051498413,27.78700065612793",
        "2016-07-01 02:00:00,5.1570000648498535,1.741000056266785,1.2790000438690186,0.35499998927116394,3.776999950408936,1.218000054359436,27.78700065612793",
    ]
    frame, freq = read_csv(write(tmp_path, lines))
    assert freq == "h"
    assert list(frame.columns) == ["hufl", "hull", "mufl", "mull", "lufl", "lull", "ot"]


def test_given_frequency_wins():
    _, freq = read_csv(sample_path("AAPL"), freq="D")
    assert freq == "D"


def test_bad_frequency_is_invalid():
    with pytest.raises(InvalidData) as excinfo:
        read_csv(sample_path("AAPL"), freq="fortnightly")
    assert str(excinfo.value) == (
        "frequency 'fortnightly' is not a pandas frequency: use e.g. B (business days), "
        "D (days), h (hours), 15min, W, MS (month start)"
    )


def test_frequency_falls_back_on_the_most_common_spacing():
    # a station's daily record with one day missing: not regular, still daily
    index = pd.DatetimeIndex(["2016-01-01", "2016-01-02", "2016-01-04", "2016-01-05"])
    assert infer_frequency(index) == "D"


def test_one_row_has_no_frequency(tmp_path):
    path = write(tmp_path, AAPL_LINES[:2])
    with pytest.raises(InvalidData) as excinfo:
        read_csv(path)
    assert str(excinfo.value) == (
        f"cannot infer the frequency of '{path}' from 1 row(s): "
        "pass the frequency (e.g. freq='D' or --freq D)"
    )
    frame, freq = read_csv(path, freq="B")
    assert (len(frame), freq) == (1, "B")


def test_text_only_column_is_dropped_and_reported(caplog):
    caplog.set_level(logging.WARNING, logger="forecaster.sources.csv")
    table = read_table(CHICAGO_CSV)
    assert table.dropped == ("events",)
    assert "events" not in table.frame.columns
    assert "dwpt" in table.frame.columns
    assert (table.freq, table.time_column) == ("D", "time")
    assert "dropped text-only column(s) events" in caplog.text


def test_empty_fields_are_nan_gaps_and_kept():
    frame, _ = read_csv(GAINESVILLE_CSV)
    assert len(frame) == 181  # every listed date, gaps or not
    assert frame.loc[["2013-01-12"], "tavg"].isna().all()
    assert frame.loc["2013-01-12", "tmax"] == 27.8
    assert frame["tavg"].isna().sum() == 90  # missing until 2013-03-31
    assert frame["snow"].isna().all()  # a column the source lacks: kept, all NaN
    assert_normalized(frame)


def test_row_with_only_gaps_is_kept(tmp_path):
    date_only = AAPL_LINES[1].split(",")[0] + ",,,,,,"
    frame, _ = read_csv(write(tmp_path, [AAPL_LINES[0], date_only, *AAPL_LINES[2:5]]))
    assert len(frame) == 4
    assert frame.iloc[0].isna().all()


def test_duplicate_timestamps_last_wins(tmp_path):
    # the same day twice: the later line (a correction) wins
    first, second = AAPL_LINES[1], AAPL_LINES[2]
    corrected = ",".join([first.split(",")[0], *second.split(",")[1:]])
    frame, _ = read_csv(
        write(tmp_path, [AAPL_LINES[0], first, second, corrected, *AAPL_LINES[3:6]])
    )
    assert frame.index.is_unique
    assert len(frame) == 5
    assert frame.iloc[0]["close"] == float(second.split(",")[4])


def test_rows_are_sorted(tmp_path):
    frame, _ = read_csv(write(tmp_path, [AAPL_LINES[0], *reversed(AAPL_LINES[1:6])]))
    assert frame.index.is_monotonic_increasing


def test_blank_lines_are_skipped(tmp_path):
    frame, _ = read_csv(write(tmp_path, [AAPL_LINES[0], AAPL_LINES[1], "", *AAPL_LINES[2:5]]))
    assert len(frame) == 4


def test_time_column_detected_by_name_in_any_position(tmp_path):
    header, *rows = AAPL_LINES[:6]
    swapped = [",".join([*line.split(",")[1:], line.split(",")[0]]) for line in [header, *rows]]
    table = read_table(write(tmp_path, [swapped[0].replace("date", "Date"), *swapped[1:]]))
    assert table.time_column == "Date"
    assert table.frame.index[0] == pd.Timestamp("2005-03-01")


def test_time_column_detected_as_first_column_holding_dates(tmp_path):
    lines = [AAPL_LINES[0].replace("date", "day"), *AAPL_LINES[1:6]]
    assert read_table(write(tmp_path, lines)).time_column == "day"


def test_given_time_column(tmp_path):
    lines = [AAPL_LINES[0].replace("date", "session"), *AAPL_LINES[1:6]]
    table = read_table(write(tmp_path, lines), time_column="session")
    assert table.time_column == "session"
    assert len(table.frame) == 5


def test_given_time_column_not_found_is_invalid():
    path = sample_path("AAPL")
    with pytest.raises(InvalidData) as excinfo:
        read_csv(path, time_column="when")
    assert str(excinfo.value) == (
        f"time column 'when' not in '{path}': found columns "
        "date, open, high, low, close, adj_close, volume"
    )


def test_no_time_column_is_invalid(tmp_path):
    # the price columns alone: nothing names or holds a date
    lines = [",".join(line.split(",")[1:]) for line in AAPL_LINES[:6]]
    path = write(tmp_path, lines)
    with pytest.raises(InvalidData) as excinfo:
        read_csv(path)
    assert str(excinfo.value) == (
        f"no time column in '{path}': found columns open, high, low, close, adj_close, "
        "volume; none is named date/time/timestamp/ts/datetime and the first does not hold "
        "dates. Name it with --time-column NAME (time_column=NAME in Python)"
    )


def test_unparseable_date_names_value_and_line(tmp_path):
    bad = "2005-02-30" + AAPL_LINES[3][len("2005-03-03") :]
    path = write(tmp_path, [*AAPL_LINES[:3], bad, *AAPL_LINES[4:6]])
    with pytest.raises(InvalidData) as excinfo:
        read_csv(path)
    assert str(excinfo.value) == (
        f"time column 'date' in '{path}' has '2005-02-30' that is not a date, on line 4: "
        "use ISO dates such as 2024-01-31 or 2024-01-31 13:00:00"
    )


def test_empty_date_names_line(tmp_path):
    missing = AAPL_LINES[2][len("2005-03-02") :]
    path = write(tmp_path, [*AAPL_LINES[:2], missing, *AAPL_LINES[3:5]])
    with pytest.raises(InvalidData) as excinfo:
        read_csv(path)
    assert str(excinfo.value) == (
        f"time column 'date' in '{path}' has an empty value that is not a date, on line 3: "
        "use ISO dates such as 2024-01-31 or 2024-01-31 13:00:00"
    )


def test_stray_text_in_numeric_column_names_value_and_line(tmp_path):
    fields = AAPL_LINES[4].split(",")
    fields[4] = "n/a?"  # close
    path = write(tmp_path, [*AAPL_LINES[:4], ",".join(fields), *AAPL_LINES[5:7]])
    with pytest.raises(InvalidData) as excinfo:
        read_csv(path)
    assert str(excinfo.value) == (
        f"column 'close' in '{path}' is numeric but has the text 'n/a?' on line 5: "
        "fix or empty that field (an empty field is a gap)"
    )


@pytest.mark.parametrize(
    "spelled",
    [
        "inf",  # numpy's spelling
        "-inf",
        "Infinity",  # JavaScript's
        "1e309",  # a finite-looking number past the float range
    ],
)
def test_infinite_value_names_column_and_line(tmp_path, spelled):
    fields = AAPL_LINES[3].split(",")
    fields[4] = spelled  # close
    path = write(tmp_path, [*AAPL_LINES[:3], ",".join(fields), *AAPL_LINES[4:7]])
    with pytest.raises(InvalidData) as excinfo:
        read_csv(path)
    assert str(excinfo.value) == (
        f"column 'close' in '{path}' has {spelled!r} on line 4, which is infinite: use a finite "
        "number, or empty that field (an empty field is a gap)"
    )


def test_nan_spelled_out_is_a_gap(tmp_path):
    fields = AAPL_LINES[3].split(",")
    fields[4] = "nan"
    frame, _ = read_csv(write(tmp_path, [*AAPL_LINES[:3], ",".join(fields), *AAPL_LINES[4:7]]))
    assert frame["close"].isna().tolist() == [False, False, True, False, False, False]


def test_no_numeric_column_is_invalid(tmp_path):
    # Chicago's dates and weather events only
    lines = CHICAGO_CSV.read_text().splitlines()[:8]
    path = write(tmp_path, [f"{line.split(',')[0]},{line.split(',')[-1]}" for line in lines])
    with pytest.raises(InvalidData) as excinfo:
        read_csv(path)
    assert str(excinfo.value) == (
        f"CSV file '{path}' has no numeric column besides its time column 'time' (text "
        "columns dropped: events): a series needs at least one numeric variable"
    )


def test_header_only_has_no_rows(tmp_path):
    path = write(tmp_path, AAPL_LINES[:1])
    with pytest.raises(InvalidData) as excinfo:
        read_csv(path)
    assert str(excinfo.value) == f"CSV file '{path}' has no rows: it has a header only"


def test_empty_file_has_no_rows(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(InvalidData) as excinfo:
        read_csv(path)
    assert str(excinfo.value) == f"CSV file '{path}' has no rows: it is empty"


def test_missing_file_is_invalid(tmp_path):
    path = tmp_path / "nowhere.csv"
    with pytest.raises(InvalidData) as excinfo:
        read_csv(path)
    assert str(excinfo.value) == f"CSV file '{path}' not found: give the path to an existing file"


def test_timestamps_with_offsets_become_naive_utc(tmp_path):
    rows = [line.split(",", 1) for line in AAPL_LINES[1:4]]
    lines = ["date," + AAPL_LINES[0].split(",", 1)[1]]
    lines += [f"{day}T09:30:00-05:00,{rest}" for day, rest in rows]
    frame, _ = read_csv(write(tmp_path, lines), freq="B")
    assert frame.index[0] == pd.Timestamp("2005-03-01 14:30")


def test_source_fetch_filters_dates_inclusively():
    frame = CsvSource().fetch(
        {"path": str(sample_path("AAPL"))}, date(2013, 2, 1), date(2013, 2, 28)
    )
    assert_normalized(frame)
    assert frame.index[0] == pd.Timestamp("2013-02-01")
    assert frame.index[-1] == pd.Timestamp("2013-02-28")
    assert len(frame) == 19  # February 2013's trading days (Presidents' Day closed)


def test_source_fetch_reads_a_bundled_sample():
    frame = CsvSource().fetch({"sample": "seattle_daily.csv"}, None, None)
    assert len(frame) == 1461


def test_source_fetch_without_path_is_invalid():
    with pytest.raises(InvalidData) as excinfo:
        CsvSource().fetch({}, None, None)
    assert str(excinfo.value) == (
        "csv source needs params {'path': FILE} or {'sample': NAME}; got {}"
    )
