"""Tidy CSV files as a source: one time column plus numeric columns, one row per timestamp.

Rules (each is tested, and each error says what was wrong and how to fix it):

- Time column: the one named by `time_column`, else the first column named date, time,
  timestamp, ts or datetime (any case), else the first column if its values parse as dates.
  Timestamps with an offset are converted to UTC; naive ones are taken as UTC. A column that
  mixes offsets (Z and +05:00, or +01:00 and +02:00 across a daylight-saving change) is read the
  same way, and a warning names the offsets: rows a local day apart may then be 19 hours apart
  in UTC, and the inferred frequency follows the UTC times. A date outside
  1677-09-22 .. 2262-04-11 (forecaster.errors.TS_RANGE) is an error naming its line.
- Gaps: an empty field (or NA, N/A, NaN, null) is a NaN gap and is kept, as is a row whose
  values are all gaps. Lines that are entirely blank are skipped. An infinite value (inf,
  -Infinity, 1e309) is an error naming its column and line.
- A column whose non-empty values are text (all, or most, of them: a weather `events`
  column such as "Rain;Fog") cannot be a forecasting variable: it is dropped, logged, and
  listed in `CsvTable.dropped`. A numeric column with some stray text is an error instead:
  that is a broken file, and guessing would hide it. A file left with no numeric column is
  an error too.
- Duplicate timestamps: the last row wins (a later line revises an earlier one).
- The frequency is the one given, or inferred: pandas' infer_freq, else the most common
  spacing ("B" when the rows are daily but never fall on a weekend: trading days with
  holidays missing).
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from forecaster.errors import TS_MAX, TS_MIN, TS_RANGE, InvalidData, clip, echo
from forecaster.sources.base import normalize_frame
from forecaster.sources.samples import Sample, get_sample, sample_path

logger = logging.getLogger(__name__)

TIME_COLUMN_NAMES = ("date", "time", "timestamp", "ts", "datetime")
# a time of day, then its UTC offset: Z, +05:00, +0500 or +05
_OFFSET = r"\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)$"
NA_VALUES = ["", "NA", "N/A", "NaN", "nan", "null", "NULL"]
_FIRST_DATA_LINE = 2  # line 1 is the header


@dataclass(frozen=True)
class CsvTable:
    """A CSV file read into a normalized frame, with what was learnt on the way."""

    frame: pd.DataFrame
    freq: str
    time_column: str
    dropped: tuple[str, ...]  # text-only columns left out of the frame


def read_csv(
    path: str | Path, *, time_column: str | None = None, freq: str | None = None
) -> tuple[pd.DataFrame, str]:
    """Read a tidy CSV into the normalized frame and its frequency (given, or inferred).

    Text-only columns are dropped and logged; `read_table` also returns their names.

    Raises:
        InvalidData: the file is missing or empty, has no time column, has a bad date or a
            bad number (the message names the column, the value and its line).
    """
    table = read_table(path, time_column=time_column, freq=freq)
    return table.frame, table.freq


def read_table(
    path: str | Path,
    *,
    time_column: str | None = None,
    freq: str | None = None,
    name: str | None = None,
) -> CsvTable:
    """Like `read_csv`, returning a CsvTable (frame, freq, time column, dropped columns).

    `name`: how errors and warnings call the file (default: its path), e.g. "request body" for
    an upload's temporary copy.
    """
    path = Path(path)
    where = name or str(path)
    raw = _read_raw(path, where)
    # Blank lines come through as all-NaN rows so that row i is on line i + 2: skip them here.
    raw = raw[~raw.isna().all(axis=1)]
    if raw.empty:
        raise InvalidData(f"CSV file '{where}' has no rows: it has a header only")
    column = _find_time_column(raw, where, time_column)

    timestamps = _parse_times(raw[column], where, column)
    values: dict[str, Any] = {}
    dropped: list[str] = []
    for name in raw.columns:
        if name == column:
            continue
        parsed = _parse_numbers(raw[name], where, str(name))
        if parsed is None:
            dropped.append(str(name))
        else:
            values[str(name)] = parsed.to_numpy()
    if dropped:
        logger.warning(
            "%s: dropped text-only column(s) %s: only numeric columns are forecast",
            where,
            ", ".join(map(clip, dropped)),
        )

    if not values:
        text = f" (text columns dropped: {', '.join(map(clip, dropped))})" if dropped else ""
        raise InvalidData(
            f"CSV file '{where}' has no numeric column besides its time column {echo(column)}"
            f"{text}: a series needs at least one numeric variable"
        )
    frame = pd.DataFrame(values, index=pd.DatetimeIndex(timestamps.to_numpy()))
    frame = normalize_frame(frame)
    return CsvTable(
        frame=frame,
        freq=_check_freq(freq)
        if freq
        else infer_frequency(pd.DatetimeIndex(frame.index), path=where),
        time_column=str(column),
        dropped=tuple(dropped),
    )


def infer_frequency(index: pd.DatetimeIndex, *, path: str | Path = "data") -> str:
    """The pandas frequency alias of a sorted index: "B", "D", "h", "15min", "MS", ...

    pandas' infer_freq needs perfectly regular data; real data has holes (a station's missing
    day, an exchange holiday), so the fallback is the most common spacing, with daily rows that
    never fall on a weekend read as business days.
    """
    if len(index) < 2:
        raise InvalidData(
            f"cannot infer the frequency of '{path}' from {len(index)} row(s): "
            "pass the frequency (e.g. freq='D' or --freq D)"
        )
    if len(index) >= 3:
        with warnings.catch_warnings():
            # pandas 3 announces that infer_freq will return an offset; either is handled
            warnings.simplefilter("ignore")
            inferred: Any = pd.infer_freq(index)
        if inferred is not None:
            return inferred if isinstance(inferred, str) else str(inferred.freqstr)
    try:
        step = pd.Series(index).diff().dropna().mode().iloc[0]
    except OverflowError:  # two rows over 292 years apart: no nanosecond spacing holds that
        raise InvalidData(
            f"cannot infer the frequency of '{path}': its rows are centuries apart; "
            "pass the frequency (e.g. freq='D' or --freq D)"
        ) from None
    if step == pd.Timedelta(days=1) and not (index.day_of_week >= 5).any():
        return "B"
    if step % pd.Timedelta(days=1) == pd.Timedelta(0):
        days = step // pd.Timedelta(days=1)
        return "D" if days == 1 else f"{days}D"  # to_offset would say "24h"
    return str(to_offset(step).freqstr)


class CsvSource:
    """The Source for CSV files: params {"path": ..., "time_column": ..., "freq": ...}.

    {"sample": "AAPL.csv"} (a bundled sample's file name or key) reads a bundled sample;
    {"upload": true} (a CSV uploaded through the API) has nothing to fetch: an empty frame.
    `start` and `end` are inclusive dates; the frequency is not part of the fetch (see
    `read_csv`).
    """

    name = "csv"

    def fetch(self, params: dict[str, Any], start: date | None, end: date | None) -> pd.DataFrame:
        if params.get("upload"):  # an uploaded CSV changes by uploading again: nothing to fetch
            return pd.DataFrame(index=pd.DatetimeIndex([], name="ts"), dtype="float64")
        if params.get("sample"):
            frame = load_sample(str(params["sample"]))
        elif params.get("path"):
            frame, _ = read_csv(
                params["path"],
                time_column=params.get("time_column"),
                freq=params.get("freq"),
            )
        else:
            raise InvalidData(
                f"csv source needs params {{'path': FILE}} or {{'sample': NAME}}; got {params!r}"
            )
        return clip_dates(frame, start, end)


def load_sample(sample: Sample | str) -> pd.DataFrame:
    """A bundled sample as a normalized frame (index "ts", float64 columns)."""
    if isinstance(sample, str):
        sample = get_sample(sample)
    frame, _ = read_csv(sample_path(sample), freq=sample.frequency)
    return frame


def clip_dates(frame: pd.DataFrame, start: date | None, end: date | None) -> pd.DataFrame:
    """Rows from `start` 00:00 up to the end of day `end` (both inclusive; None: open)."""
    if start is not None:
        frame = frame[frame.index >= pd.Timestamp(start)]
    if end is not None:
        frame = frame[frame.index < pd.Timestamp(end + timedelta(days=1))]
    return frame


# --- parsing -----------------------------------------------------------------------------


def _read_raw(path: Path, where: str) -> pd.DataFrame:
    if not path.is_file():
        raise InvalidData(f"CSV file '{where}' not found: give the path to an existing file")
    try:
        return pd.read_csv(
            path,
            dtype=str,
            keep_default_na=False,
            na_values=NA_VALUES,
            skip_blank_lines=False,
            skipinitialspace=True,
        )
    except pd.errors.EmptyDataError:
        raise InvalidData(f"CSV file '{where}' has no rows: it is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InvalidData(f"CSV file '{where}' cannot be read as CSV: {clip(str(exc))}") from exc


def _find_time_column(raw: pd.DataFrame, where: str, given: str | None) -> str:
    columns = [str(c) for c in raw.columns]
    found = ", ".join(clip(c) for c in columns)
    if given is not None:
        matches = [c for c in columns if c == given] or [
            c for c in columns if c.strip().lower() == given.strip().lower()
        ]
        if not matches:
            raise InvalidData(f"time column {echo(given)} not in '{where}': found columns {found}")
        return matches[0]
    for column in columns:
        if column.strip().lower() in TIME_COLUMN_NAMES:
            return column
    if columns and _looks_like_dates(raw[columns[0]]):
        return columns[0]
    raise InvalidData(
        f"no time column in '{where}': found columns {found}; none is named "
        f"{'/'.join(TIME_COLUMN_NAMES)} and the first does not hold dates. Name it with "
        "--time-column NAME (time_column=NAME in Python)"
    )


def _to_datetime(values: pd.Series) -> pd.Series:
    """UTC timestamps, NaT where a value is not a date.

    pandas infers one format from the first value; ISO 8601 files may still mix dates and
    date-times, so when that leaves failures, ISO 8601 parsing gets a second try.
    """
    with warnings.catch_warnings():
        # "Could not infer format": each value is then parsed alone, which is what we want
        warnings.simplefilter("ignore", UserWarning)
        parsed: pd.Series = pd.to_datetime(values, errors="coerce", utc=True)
        if parsed.isna().sum() > values.isna().sum():
            iso: pd.Series = pd.to_datetime(values, errors="coerce", utc=True, format="ISO8601")
            if iso.isna().sum() < parsed.isna().sum():
                parsed = iso
    return parsed


def _looks_like_dates(values: pd.Series) -> bool:
    present = values.dropna()
    if present.empty or present.str.fullmatch(r"[+-]?\d+(\.\d*)?").any():
        return False  # plain numbers are values, not dates
    return bool(_to_datetime(present).notna().all())


def _parse_times(values: pd.Series, where: str, column: str) -> pd.Series:
    parsed = _to_datetime(values)
    bad = parsed.isna()
    if bad.any():
        row = int(bad.to_numpy().nonzero()[0][0])
        value = values.iloc[row]
        shown = "an empty value" if pd.isna(value) else echo(value)
        raise InvalidData(
            f"time column {echo(column)} in '{where}' has {shown} that is not a date, on line "
            f"{int(values.index[row]) + _FIRST_DATA_LINE}: use ISO dates such as 2024-01-31 "
            "or 2024-01-31 13:00:00"
        )
    outside = (parsed < pd.Timestamp(TS_MIN, tz="UTC")) | (parsed > pd.Timestamp(TS_MAX, tz="UTC"))
    if outside.any():  # a series holds nanosecond timestamps: 1600-01-01 cannot be stored
        row = int(outside.to_numpy().nonzero()[0][0])
        raise InvalidData(
            f"time column {echo(column)} in '{where}' has {echo(values.iloc[row])} on line "
            f"{int(values.index[row]) + _FIRST_DATA_LINE}, outside the dates a series can hold: "
            f"{TS_RANGE}; drop the rows outside it"
        )
    _warn_mixed_offsets(values, where, column)
    naive: pd.Series = parsed.dt.tz_localize(None)
    return naive


def _warn_mixed_offsets(values: pd.Series, where: str, column: str) -> None:
    """Log a warning when the time column mixes UTC offsets (or offsets and none)."""
    found = values.str.extract(_OFFSET, expand=False)
    if found.isna().all():
        return
    minutes = {_offset_minutes(str(o)) for o in found.dropna().unique()}
    naive = bool((found.isna() & values.notna()).any())
    if len(minutes) + naive < 2:
        return
    shown = [
        f"{'-' if m < 0 else '+'}{abs(m) // 60:02d}:{abs(m) % 60:02d}" for m in sorted(minutes)
    ]
    logger.warning(
        "%s: time column %s mixes UTC offsets (%s): every timestamp was converted to UTC%s, so "
        "rows at one local hour may fall at different UTC hours; give every timestamp the same "
        "offset if that is not what the file means",
        where,
        echo(column),
        ", ".join(shown + ["none"] * naive),
        " (one without an offset is taken as UTC)" if naive else "",
    )


def _offset_minutes(offset: str) -> int:
    if offset == "Z":
        return 0
    digits = offset[1:].replace(":", "")
    minutes = int(digits[:2]) * 60 + int(digits[2:] or 0)
    return -minutes if offset[0] == "-" else minutes


def _parse_numbers(values: pd.Series, where: str, column: str) -> pd.Series | None:
    """Floats with NaN gaps; None for a text column (to drop); InvalidData for stray text.

    A column is text when most of its non-empty values are not numbers; a numeric column
    with some text in it is a broken file.
    """
    parsed = pd.to_numeric(values.str.strip(), errors="coerce")
    present = values.notna()
    bad = present & parsed.isna()
    if not bad.any():
        numbers = parsed.to_numpy(dtype="float64")
        infinite = np.isinf(numbers)
        if infinite.any():  # "inf", "-Infinity", "1e309": no model or metric can use them
            row = int(infinite.nonzero()[0][0])
            raise InvalidData(
                f"column {echo(column)} in '{where}' has {echo(values.iloc[row])} on line "
                f"{int(values.index[row]) + _FIRST_DATA_LINE}, which is infinite: use a finite "
                "number, or empty that field (an empty field is a gap)"
            )
        return pd.Series(numbers, index=values.index)
    if 2 * int(bad.sum()) > int(present.sum()):
        return None
    row = int(bad.to_numpy().nonzero()[0][0])
    raise InvalidData(
        f"column {echo(column)} in '{where}' is numeric but has the text {echo(values.iloc[row])} on "
        f"line {int(values.index[row]) + _FIRST_DATA_LINE}: fix or empty that field "
        "(an empty field is a gap)"
    )


def _check_freq(freq: str) -> str:
    try:
        to_offset(freq)
    except ValueError:
        raise InvalidData(
            f"frequency {echo(freq)} is not a pandas frequency: use e.g. B (business days), "
            "D (days), h (hours), 15min, W, MS (month start)"
        ) from None
    return freq
