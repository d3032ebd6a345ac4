import numpy as np
import pandas as pd
import pytest

from forecaster.data.calendar import calendar_features, calendar_names, future_index, season_length


@pytest.mark.parametrize(
    ("freq", "season"), [("B", 5), ("D", 7), ("h", 24), ("H", 24), ("W", 1), ("MS", 1)]
)
def test_season_length_follows_the_frequency(freq, season):
    assert season_length(freq) == season


def test_future_business_days_skip_the_weekend():
    got = future_index(pd.Timestamp("2013-03-01"), "B", 3)  # a Friday
    assert list(got.strftime("%a %d")) == ["Mon 04", "Tue 05", "Wed 06"]


def test_future_hours_and_days():
    assert future_index(pd.Timestamp("2020-01-01 23:00"), "h", 2)[-1] == pd.Timestamp(
        "2020-01-02 01:00"
    )
    assert future_index(pd.Timestamp("2020-02-28"), "D", 2)[-1] == pd.Timestamp("2020-03-01")


def test_hourly_calendar_has_an_hour_and_daily_does_not():
    assert calendar_names("h")[:2] == ("hour_sin", "hour_cos")
    assert "hour_sin" not in calendar_names("D")
    idx = pd.date_range("2020-01-01", periods=48, freq="h")
    feats = calendar_features(idx, "h")
    assert feats.shape == (48, len(calendar_names("h"))) and feats.dtype == np.float32
    assert np.allclose(feats[0, :2], feats[24, :2])  # the same hour, a day apart
