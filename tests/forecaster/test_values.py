"""The shared value rules: a figure that may be undefined, a moment as the database keeps it."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from forecaster.values import finite_or_none, naive_utc, naive_utc_index


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1.5, 1.5),
        (3, 3.0),
        (np.float32(0.25), 0.25),
        (None, None),
        (math.nan, None),
        (np.float64("nan"), None),
        (math.inf, None),
        (-math.inf, None),
    ],
)
def test_finite_or_none(value, expected):
    got = finite_or_none(value)
    assert got == expected and (got is None or type(got) is float)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (datetime(2024, 1, 1, 10), datetime(2024, 1, 1, 10)),  # naive: UTC already
        (datetime(2024, 1, 1, 10, tzinfo=UTC), datetime(2024, 1, 1, 10)),
        (datetime(2024, 1, 1, 3, tzinfo=timezone(timedelta(hours=5))), datetime(2023, 12, 31, 22)),
        (pd.Timestamp("2024-01-01 10:00", tz="America/New_York"), datetime(2024, 1, 1, 15)),
        (pd.Timestamp("2024-01-01 10:00"), datetime(2024, 1, 1, 10)),
    ],
)
def test_naive_utc(moment, expected):
    got = naive_utc(moment)
    assert got == expected and got.tzinfo is None and type(got) is datetime


def test_naive_utc_overflows_past_year_one():
    with pytest.raises(OverflowError):
        naive_utc(datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5))))


def test_naive_utc_index():
    aware = pd.DatetimeIndex(["2024-01-01 10:00", "2024-07-01 10:00"], tz="Europe/Berlin")
    assert naive_utc_index(aware).equals(pd.DatetimeIndex(["2024-01-01 09:00", "2024-07-01 08:00"]))
    naive = pd.DatetimeIndex(["2024-01-01"])
    assert naive_utc_index(naive) is naive
