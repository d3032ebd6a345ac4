"""The CSV source against hostile files: huge fields quoted back clipped, dates a series cannot
hold."""

from __future__ import annotations

from pathlib import Path

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
