"""A small wide frame (two variables, one gap) for the storage tests."""

from __future__ import annotations

import numpy as np
import pandas as pd


def wide_frame(days: int = 10, start: str = "2024-01-01") -> pd.DataFrame:
    idx = pd.date_range(start, periods=days, freq="D", name="ts")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"close": rng.normal(100, 5, days), "volume": rng.normal(1e6, 1e4, days)},
        index=idx,
    )
    frame.iloc[3, 0] = np.nan  # a gap the source reported
    return frame
