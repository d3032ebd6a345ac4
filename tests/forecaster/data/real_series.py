"""Small slices of the real series in the repository's data/ folder, as storage-layer frames."""

from __future__ import annotations

import pandas as pd

from tests.conftest import REPO_DATA


def weather(
    station: str = "seattle",
    *,
    columns: tuple[str, ...] = ("tmin", "tmax", "prcp", "wspd"),
    rows: int = 400,
) -> pd.DataFrame:
    """The last `rows` days of a station: DatetimeIndex "ts", float columns, NaN for gaps."""
    frame = pd.read_csv(
        REPO_DATA / "weather" / f"{station}_daily.csv", parse_dates=["time"], index_col="time"
    )
    frame.index.name = "ts"
    return frame.loc[:, list(columns)].astype("float64").iloc[-rows:]


def stock(
    ticker: str = "AAPL", *, columns: tuple[str, ...] = ("close", "volume"), rows: int = 300
) -> pd.DataFrame:
    """The last `rows` trading days of a ticker (business-day calendar, holidays absent)."""
    frame = pd.read_csv(
        REPO_DATA / "stocks" / f"{ticker}.csv", parse_dates=["date"], index_col="date"
    )
    frame.index.name = "ts"
    return frame.loc[:, list(columns)].astype("float64").iloc[-rows:]
