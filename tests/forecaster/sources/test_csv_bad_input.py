"""The CSV source against hostile files: huge fields quoted back clipped, dates a series cannot
hold, a time column that mixes UTC offsets."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from forecaster.errors import MAX_ECHO, TS_RANGE, InvalidData, echo
from forecaster.sources.csv import read_csv

HUGE = "x" * 3_000_000  # a 3 MB field: enough to prove the cap (a user met 200 MB)
MESSAGE_CAP = 1_000  # an error quoting a huge field, path and advice stays well under this


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "data.csv"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "text",
    [
        f"date,value\n2024-01-01,1\n2024-01-02,{HUGE}\n2024-01-03,3\n",  # stray text
        f"date,value\n2024-01-01,1\n{HUGE},2\n2024-01-03,3\n",  # not a date
        f"{HUGE},value\n1,1\n2,2\n",  # a header naming no time column
        f"date,{HUGE}\n2024-01-01,1\n2024-01-02,x\n2024-01-03,3\n",  # the column's name
    ],
    ids=["value", "date", "header", "column-name"],
)
def test_a_huge_field_is_quoted_clipped_with_its_length(tmp_path: Path, text: str) -> None:
    with pytest.raises(InvalidData) as err:
        read_csv(write(tmp_path, text))
    message = str(err.value)
    assert len(message) < MESSAGE_CAP
    assert "x" * (MAX_ECHO - 1) in message and "... (3000000 characters)" in message


def test_a_given_time_column_is_quoted_clipped(tmp_path: Path) -> None:
    path = write(tmp_path, "date,value\n2024-01-01,1\n2024-01-02,2\n")
    with pytest.raises(InvalidData) as err:
        read_csv(path, time_column=HUGE)
    assert len(str(err.value)) < MESSAGE_CAP


def test_echo_keeps_short_values_and_clips_long_ones() -> None:
    assert echo("AAPL") == "'AAPL'" and echo(5) == "5"
    assert echo("k" * 5000) == f"'{'k' * (MAX_ECHO - 1)}... (5000 characters)"
    assert echo("a\nb") == "'a\\nb'"  # one line, whatever the value holds


@pytest.mark.parametrize(
    ("first", "bad", "line"),
    [
        ("1600-01-01", "1600-01-01", 2),
        ("2262-04-10", "2262-04-12", 3),
        ("1677-09-21", "1677-09-21", 2),
    ],
)
def test_a_date_outside_the_timestamp_range_names_its_line_and_the_range(
    tmp_path: Path, first: str, bad: str, line: int
) -> None:
    path = write(tmp_path, f"date,value\n{first},1\n{bad if line == 3 else '2000-01-01'},2\n")
    with pytest.raises(InvalidData) as err:
        read_csv(path)
    assert str(err.value) == (
        f"time column 'date' in '{path}' has '{bad}' on line {line}, outside the dates a series "
        f"can hold: {TS_RANGE}; drop the rows outside it"
    )


def test_the_range_ends_are_valid_and_a_span_of_centuries_needs_its_frequency(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, "date,value\n1677-09-22,1\n2262-04-11,2\n")
    frame, _ = read_csv(path, freq="D")
    assert len(frame) == 2
    with pytest.raises(InvalidData, match="rows are centuries apart; pass the frequency"):
        read_csv(path)  # their spacing overflows a nanosecond timedelta


def test_mixed_utc_offsets_are_read_as_utc_and_said(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    lines = ["2024-01-01T00:00:00Z", "2024-01-02T00:00:00+05:00", "2024-01-03T00:00:00Z"]
    path = write(tmp_path, "date,value\n" + "".join(f"{t},{i}\n" for i, t in enumerate(lines)))
    with caplog.at_level("WARNING", logger="forecaster.sources.csv"):
        frame, freq = read_csv(path)
    assert list(frame.index) == [
        pd.Timestamp("2024-01-01 00:00"),
        pd.Timestamp("2024-01-01 19:00"),
        pd.Timestamp("2024-01-03 00:00"),
    ]
    assert freq == "19h"  # the UTC spacing, as the warning explains
    assert [r.getMessage() for r in caplog.records] == [
        f"{path}: time column 'date' mixes UTC offsets (+00:00, +05:00): every timestamp was "
        "converted to UTC, so rows at one local hour may fall at different UTC hours; give every "
        "timestamp the same offset if that is not what the file means"
    ]


def test_a_daylight_saving_change_reads_as_regular_utc_hours(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Berlin, 2024-03-31: 02:00 local does not exist, the offset goes from +01:00 to +02:00
    times = ["00:00:00+01:00", "01:00:00+01:00", "03:00:00+02:00", "04:00:00+02:00"]
    text = "time,load\n" + "".join(f"2024-03-31 {t},{i}\n" for i, t in enumerate(times))
    with caplog.at_level("WARNING", logger="forecaster.sources.csv"):
        frame, freq = read_csv(write(tmp_path, text))
    assert freq == "h" and frame.index[0] == pd.Timestamp("2024-03-30 23:00")
    assert "mixes UTC offsets (+01:00, +02:00)" in caplog.text


def test_offsets_and_none_mixed_are_said(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    text = "date,value\n2024-01-01 00:00,1\n2024-01-01 01:00+0100,2\n2024-01-01 02:00,3\n"
    with caplog.at_level("WARNING", logger="forecaster.sources.csv"):
        read_csv(write(tmp_path, text), freq="h")
    assert "(+01:00, none)" in caplog.text and "without an offset is taken as UTC" in caplog.text


@pytest.mark.parametrize(
    "times",
    [
        ["2024-01-01", "2024-01-02", "2024-01-03"],  # dates: "-02" is no offset
        ["2024-01-01 00:00", "2024-01-01 01:00", "2024-01-01 02:00"],
        ["2024-01-01T00:00Z", "2024-01-01T01:00+00:00", "2024-01-01T02:00:00.5Z"],
        ["2024-01-01T00:00-05:00", "2024-01-01T01:00-0500", "2024-01-01T02:00-05:00"],
    ],
)
def test_one_offset_or_none_says_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, times: list[str]
) -> None:
    text = "date,value\n" + "".join(f"{t},{i}\n" for i, t in enumerate(times))
    with caplog.at_level("WARNING", logger="forecaster.sources.csv"):
        read_csv(write(tmp_path, text), freq="h")
    assert caplog.records == []
