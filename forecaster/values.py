"""Value rules every layer shares: a figure that may be undefined, a moment as the database keeps it."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import SupportsFloat

import pandas as pd


def finite_or_none(value: SupportsFloat | None) -> float | None:
    """The figure as a float, or None where it is missing or undefined (NaN, infinite): what
    JSON and the database can hold."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def naive_utc(moment: datetime) -> datetime:
    """The moment as the naive UTC datetime the database stores: an offset is honoured, then
    dropped; a naive moment is UTC already. A pandas Timestamp comes back as a plain datetime.

    Raises OverflowError where an offset pushes the moment past year 1 or 9999.
    """
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.to_pydatetime() if isinstance(moment, pd.Timestamp) else moment


def naive_utc_index(index: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """`naive_utc` for a whole index: tz-aware stamps converted to UTC, then the zone dropped."""
    return index.tz_convert("UTC").tz_localize(None) if index.tz is not None else index
