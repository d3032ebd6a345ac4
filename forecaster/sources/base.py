"""The contract every data source meets: the normalized frame, the Source protocol, the registry.

A normalized frame is what every source returns and what the rest of the code relies on:

- a DatetimeIndex named "ts", datetime64[ns], naive UTC: tz-aware timestamps are converted to
  UTC, then the tz is dropped; daily data is normalized to midnight (the date of the bar);
- sorted ascending and unique: when a timestamp appears twice the *last* row wins (a later
  line in a file, or a source's revised bar, replaces the earlier one);
- columns are lower-case variable names ("Adj Close" -> "adj_close"), dtype float64;
- NaN where the source reported a gap: never silently dropped. A row that is entirely NaN is
  kept, since the source listed that timestamp; timestamps the source did not list are absent
  (exchange holidays on a "B" calendar, for example), and the forecasting core handles them.
"""

from __future__ import annotations

import importlib
import re
from datetime import date
from typing import Any, Protocol

import numpy as np
import pandas as pd

from forecaster.errors import InvalidData, SourceError
from forecaster.values import naive_utc_index

INDEX_NAME = "ts"

# name -> (module, class): imported on first use, so reading a CSV never imports yfinance.
_SOURCES: dict[str, tuple[str, str]] = {
    "csv": ("forecaster.sources.csv", "CsvSource"),
    "meteostat": ("forecaster.sources.meteostat", "MeteostatSource"),
    "yahoo": ("forecaster.sources.yahoo", "YahooSource"),
}
SOURCE_NAMES: tuple[str, ...] = tuple(sorted(_SOURCES))


class SourceUnavailable(SourceError):
    """The source could not be reached (network, timeout, rate limit, server error).

    Unlike a plain SourceError ("no such ticker"), trying again later may succeed, so the
    ingest flow retries these.
    """


class Source(Protocol):
    """A data source: download one range as a normalized frame."""

    def fetch(self, params: dict[str, Any], start: date | None, end: date | None) -> pd.DataFrame:
        """Return the normalized frame for `start`..`end`, both inclusive (None: open end).

        Raises:
            InvalidData: `params` are missing or malformed.
            SourceUnavailable: the source could not be reached; retrying may help.
            SourceError: the source answered but has no data (unknown ticker or station).
        """
        ...


def get_source(name: str) -> Source:
    """The source registered under `name` ("yahoo", "meteostat" or "csv")."""
    try:
        module_name, class_name = _SOURCES[name]
    except KeyError:
        raise InvalidData(
            f"unknown source {name!r}: valid sources are {', '.join(SOURCE_NAMES)}"
        ) from None
    source: Source = getattr(importlib.import_module(module_name), class_name)()
    return source


def variable_name(column: object) -> str:
    """Lower-case snake_case variable name: "Adj Close" -> "adj_close"."""
    name = re.sub(r"[^0-9a-z]+", "_", str(column).strip().lower()).strip("_")
    return name


def normalize_frame(frame: pd.DataFrame, *, daily: bool = False) -> pd.DataFrame:
    """Bring a source's frame to the normalized contract (see the module docstring).

    Args:
        frame: indexed by anything pandas can read as timestamps; numeric columns.
        daily: normalize timestamps to midnight (the date of the bar, after conversion to UTC).

    Returns:
        A new frame: index "ts" (naive UTC, sorted, unique, last duplicate wins), lower-case
        float64 columns.

    Raises:
        InvalidData: a missing timestamp, two columns with the same name, or a column that
            is not numeric.
    """
    index = pd.DatetimeIndex(pd.to_datetime(frame.index))
    if index.hasnans:
        raise InvalidData(
            f"{int(np.count_nonzero(index.isna()))} row(s) have no timestamp: every row needs one"
        )
    index = naive_utc_index(index)
    if daily:
        index = index.normalize()
    index = index.as_unit("ns")  # one resolution for every source (pandas 3 parses to "us")

    names = [variable_name(c) for c in frame.columns]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise InvalidData(
            f"columns {list(frame.columns)} give the same variable name twice "
            f"({', '.join(repeated)}): rename one"
        )

    out = frame.copy()
    out.index = index
    out.index.name = INDEX_NAME
    out.columns = pd.Index(names)
    for column in out.columns:
        try:
            out[column] = out[column].astype("float64")
        except (TypeError, ValueError) as exc:
            raise InvalidData(
                f"column {column!r} is not numeric ({out[column].dtype}): {exc}"
            ) from exc
    out = out[~out.index.duplicated(keep="last")]  # last wins: a later revision replaces
    return out.sort_index(kind="stable")
