"""Known-future calendar covariates (hour, day of week, month, day of year) and future timestamps."""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset
from pandas.tseries.offsets import Tick

# Seasonal period per frequency: a trading week, a week, a day.
SEASONS = {"B": 5, "D": 7, "h": 24}
_DAY_NS = 86_400 * 10**9


def normalize_freq(freq: str) -> str:
    """The pandas alias in its current spelling ("H" -> "h"); ValueError if pandas does not know it."""
    alias = "h" if freq == "H" else freq
    to_offset(alias)  # raises ValueError for an unknown alias
    return alias


def season_length(freq: str) -> int:
    """Seasonal period used by MASE and the seasonal-naive baseline: B->5, D->7, h->24, else 1."""
    return SEASONS.get(normalize_freq(freq), 1)


def _sub_daily(freq: str) -> bool:
    offset = to_offset(normalize_freq(freq))
    if not isinstance(offset, Tick):  # only fixed-length offsets can be shorter than a day
        return False
    return bool(offset.nanos < _DAY_NS)


def _daily_or_finer(freq: str) -> bool:
    return normalize_freq(freq) in ("B", "D", "C") or _sub_daily(freq)


def calendar_names(freq: str) -> tuple[str, ...]:
    """Names of the covariate columns `calendar_features` returns for this frequency."""
    names: list[str] = []
    if _sub_daily(freq):
        names += ["hour_sin", "hour_cos"]
    if _daily_or_finer(freq):
        names += ["dow_sin", "dow_cos"]
    names += ["month_sin", "month_cos", "doy_sin", "doy_cos"]
    return tuple(names)


def calendar_features(index: pd.DatetimeIndex, freq: str) -> np.ndarray:
    """Cyclical (sin, cos) encodings of the timestamps, known in advance for any future step.

    Returns:
        float32 array (T, C), columns as in `calendar_names(freq)`.
    """
    cols: list[np.ndarray] = []

    def cyclic(value: np.ndarray, period: float) -> None:
        angle = 2.0 * np.pi * value / period
        cols.extend([np.sin(angle), np.cos(angle)])

    if _sub_daily(freq):
        cyclic(np.asarray(index.hour, dtype=np.float64), 24.0)
    if _daily_or_finer(freq):
        cyclic(np.asarray(index.dayofweek, dtype=np.float64), 7.0)
    cyclic(np.asarray(index.month, dtype=np.float64) - 1.0, 12.0)
    cyclic(np.asarray(index.dayofyear, dtype=np.float64) - 1.0, 366.0)
    if not cols:
        return np.zeros((len(index), 0), dtype=np.float32)
    return np.stack(cols, axis=1).astype(np.float32)


def future_index(last: pd.Timestamp, freq: str, horizon: int) -> pd.DatetimeIndex:
    """The `horizon` timestamps after `last` on the series' calendar (business days for "B")."""
    stamps = pd.date_range(start=last, periods=horizon + 1, freq=normalize_freq(freq))
    if (
        stamps[0] != last
    ):  # `last` is off the calendar (a Saturday on "B"): date_range rolled forward
        return stamps[:horizon]
    return stamps[1:]
