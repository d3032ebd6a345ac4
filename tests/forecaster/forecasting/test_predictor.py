"""TrainedModel.predict: business-day and recursive forecasts, intervals by level, and bad calls
refused with what to change."""

import numpy as np
import pandas as pd
import pytest
import torch

from forecaster.baselines import fit_baseline
from forecaster.errors import HorizonTooLong, InvalidData, InvalidRequest
from forecaster.forecasting.predictor import Predictor, TrainedModel
from forecaster.forecasting.train import train_model
from forecaster.spec import ModelSpec
from tests.forecaster.data.real_series import stock, weather
from tests.forecaster.forecasting.common import TINY, round_trip

torch.set_num_threads(1)


def test_stock_model_on_log_returns_forecasts_business_days_and_round_trips():
    frame = stock(rows=260)  # AAPL close and volume, trading days only
    spec = ModelSpec(
        "gru",
        "recursive",
        lookback=10,
        horizon=5,
        targets=("close",),
        transform="log_return",
        normalization="both",
        **TINY,
    )
    model = train_model(frame, spec, freq="B").model
    forecast = model.predict(frame, horizon=8)  # recursive: past the evaluation horizon
    assert frame.index[-1] == pd.Timestamp("2013-03-01")  # a Friday
    assert forecast.points["ts"].dt.dayofweek.max() <= 4
    assert forecast.points["ts"].iloc[0] == pd.Timestamp("2013-03-04")
    assert (forecast.points["value"] > 0).all()  # levels rebuilt from returns
    # intervals (and their measured coverage) on every step, past the trained H too
    assert forecast.max_horizon is not None and forecast.max_horizon >= 8
    assert forecast.points[["lower", "upper", "coverage"]].notna().all().all()
    again = round_trip(model).predict(frame, horizon=8)
    pd.testing.assert_frame_equal(again.points, forecast.points, check_exact=True)


@pytest.fixture(scope="module")
def direct_model() -> TrainedModel:
    spec = ModelSpec("gru", "direct", lookback=14, horizon=7, targets=("tmax",), **TINY)
    return train_model(weather(rows=300), spec, freq="D").model


def test_predict_past_a_direct_models_horizon_says_what_to_do(direct_model):
    with pytest.raises(HorizonTooLong) as err:
        direct_model.predict(weather(rows=300), horizon=48)
    assert (
        str(err.value)
        == "horizon=48 exceeds this direct model's H=7; use strategy=recursive or horizon<=7"
    )


@pytest.mark.parametrize(
    ("history", "kwargs", "error", "message"),
    [
        (weather(rows=10), {}, InvalidData, "history has 10 rows but lookback=14 needs at least 14"),
        (weather(rows=300), {"horizon": -1}, InvalidRequest, "horizon=-1 must be a positive number of steps"),
        (weather(rows=300), {"level": 1.5}, InvalidRequest, "level=1.5 must be in (0, 1)"),
        (weather(columns=("tmin", "tmax"), rows=300), {}, InvalidData,
         "the frame lacks variables ['prcp', 'wspd']; this model needs ['tmin', 'tmax', 'prcp', 'wspd'], the frame has ['tmin', 'tmax']"),
    ],
)  # fmt: skip
def test_bad_predict_calls_say_what_is_wrong(direct_model, history, kwargs, error, message):
    with pytest.raises(error) as err:
        direct_model.predict(history, **kwargs)
    assert str(err.value) == message


def test_a_nan_only_window_is_refused(direct_model):
    history = weather(rows=300).copy()
    history.iloc[-20:, 0] = np.nan  # tmin missing for the whole lookback
    with pytest.raises(InvalidData) as err:
        direct_model.predict(history)
    assert str(err.value) == (
        "the lookback of 'tmin' (2015-12-18 00:00:00 .. 2015-12-31 00:00:00, lookback=14 rows) is all NaN; "
        "nothing to forecast from"
    )


def test_intervals_follow_the_requested_level(direct_model):
    frame = weather(rows=300)
    narrow = direct_model.predict(frame, level=0.5).points
    wide = direct_model.predict(frame, level=0.95).points
    assert ((wide["upper"] - wide["lower"]) >= (narrow["upper"] - narrow["lower"])).all()
    # a level the calibration cannot back gives no interval
    assert direct_model.predict(frame, level=0.999).points["upper"].isna().all()


def test_a_learned_model_and_a_baseline_serve_as_predictors(direct_model):
    frame = weather(rows=300)
    baseline = fit_baseline(
        frame, architecture="naive", strategy="direct", targets=("tmax",), horizon=7, freq="D"
    )
    predictors: list[Predictor] = [direct_model, baseline]
    learned, base = predictors
    assert learned.max_horizon == 7 and learned.intervals is not None  # a direct model: its H
    assert base.max_horizon is None and base.intervals is None  # no limit of its own
    assert base.check_horizon(30) == 30
    for p in predictors:
        assert p.predict(frame[p.variables]).points["variable"].unique().tolist() == ["tmax"]
