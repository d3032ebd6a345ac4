"""Data preparation as train_model meets it: bad specs and frames refused with what to change,
inputs screened and transformed where they apply."""

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

from forecaster.errors import InvalidData, InvalidRequest
from forecaster.forecasting.train import train_model
from forecaster.spec import ModelSpec
from tests.conftest import REPO_DATA
from tests.forecaster.data.real_series import weather
from tests.forecaster.forecasting.common import TINY, round_trip

torch.set_num_threads(1)

FRAME_COLUMNS = "tmin, tmax, prcp, wspd"


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        # lookback longer than the history
        ({"lookback": 500}, InvalidData, "lookback=500 is longer than the history (300 rows); use a shorter lookback or provide more data"),
        # horizon <= 0
        ({"horizon": 0}, InvalidRequest, "horizon=0 must be a positive number of steps"),
        # an unknown target
        ({"targets": ("tavg2",)}, InvalidRequest, f"unknown target 'tavg2'; variables are: {FRAME_COLUMNS}"),
        # targets outside the inputs
        ({"inputs": ("tmin",)}, InvalidRequest, "target 'tmax' is not among inputs (tmin); targets must be a subset of inputs"),
        # an unsupported architecture x strategy
        ({"architecture": "seq2seq_attention", "strategy": "recursive"}, InvalidRequest,
         "architecture='seq2seq_attention' does not support strategy='recursive'; supported: lstm: recursive, direct; "
         "gru: recursive, direct; rnn: recursive, direct; seq2seq_attention: direct; segment_len models: direct"),
        # a bidirectional encoder cannot be rolled forward
        ({"bidirectional": True, "strategy": "recursive"}, InvalidRequest,
         "bidirectional=True needs strategy='direct' with architecture lstm, gru or rnn and no segment_len"),
        ({"segment_len": 4, "strategy": "direct"}, InvalidRequest, "lookback=14 must be a multiple of segment_len=4"),
        ({"normalization": "minmax"}, InvalidRequest, "normalization='minmax' is not valid; valid: revin, global, both, none"),
        ({"loss": "mape"}, InvalidRequest, "loss='mape' is not valid; valid: mse, l1, huber"),
        ({"schedule": "linear"}, InvalidRequest, "schedule='linear' is not valid; valid: cosine, step"),
        ({"init": "he"}, InvalidRequest, "init='he' is not valid; valid: xavier, torch"),
        # too little training data for the window
        ({"lookback": 205, "strategy": "direct"}, InvalidData,
         "the training split has 210 of 300 rows but lookback=205 and horizon=7 need 212; use a shorter lookback, "
         "smaller val_fraction/test_fraction or more data"),
        ({"horizon": 50, "strategy": "direct"}, InvalidData,
         "the validation split has 45 rows (val_fraction=0.15 of 300 rows) but horizon=50 needs 50; raise val_fraction or provide more data"),
        # a time budget must be a positive number of seconds
        ({"time_budget_s": -1.0}, InvalidRequest,
         "time_budget_s=-1.0 must be a positive number of seconds (or unset for no cap)"),
        ({"time_budget_s": 0}, InvalidRequest,
         "time_budget_s=0 must be a positive number of seconds (or unset for no cap)"),
    ],
)  # fmt: skip
def test_bad_specs_say_what_is_wrong(changes, error, message):
    frame = weather("chicago", rows=300)
    spec = replace(
        ModelSpec("gru", "recursive", lookback=14, horizon=7, targets=("tmax",), **TINY), **changes
    )
    with pytest.raises(error) as err:
        train_model(frame, spec, freq="D")
    assert str(err.value) == message


def test_an_all_nan_variable_is_named():
    frame = weather("seattle", columns=("tmax", "tavg"), rows=200)  # Seattle reports no tavg
    with pytest.raises(InvalidData) as err:
        train_model(frame, ModelSpec("gru", "direct", lookback=7, horizon=3, **TINY), freq="D")
    assert str(err.value) == (
        "variable 'tavg' has no values in the training split (2015-06-15 00:00:00 .. 2015-11-01 00:00:00); "
        "leave it out of inputs"
    )


def _ohlcv_with_no_trade_days() -> pd.DataFrame:
    """Real AAPL OHLCV around its 2005-02-28 2:1 split (the close is unadjusted, so it halves),
    with no-trade days (volume 0), a week missing, a NaN run in the close and a constant
    dividends column as yfinance reports it."""
    frame = pd.read_csv(REPO_DATA / "stocks" / "AAPL.csv", parse_dates=["date"], index_col="date")
    frame.index.name = "ts"
    frame = frame.loc["2004-06-01":"2005-12-30", ["open", "high", "low", "close", "volume"]]
    frame = frame.astype("float64").drop(frame.index[200:205])  # a week the feed lost
    frame.iloc[[10, 11, 50, 120, 300, 350], 4] = 0.0  # no-trade days
    frame.iloc[230:233, 3] = np.nan  # three closes missing
    frame["dividends"] = 0.0
    return frame


def test_zero_volume_stock_trains_on_log_returns_where_they_apply_and_round_trips():
    frame = _ohlcv_with_no_trade_days()
    spec = ModelSpec(
        "gru", "direct", lookback=20, horizon=5, targets=("close",), transform="log_return",
        normalization="both", hidden_size=16, num_layers=1, epochs=6, batch_size=32,
    )  # fmt: skip
    outcome = train_model(frame, spec, freq="B", threads=1)
    model = outcome.model
    assert model.variables == ["open", "high", "low", "close", "volume"]
    assert model.spec.inputs == ("open", "high", "low", "close", "volume")
    normalization = json.loads(json.dumps(model.state(), allow_nan=False))["normalization"]
    assert normalization["transforms"] == {
        "open": "log_return", "high": "log_return", "low": "log_return", "close": "log_return",
        "volume": "log1p",
    }  # fmt: skip
    assert normalization["transform_notes"] == {
        "volume": "log_return needs values > 0 but 'volume' has 4 value(s) <= 0 in the training "
        "split (min 0); log1p instead"
    }
    assert normalization["dropped"] == {"dividends": "constant (0) in the training split"}
    assert outcome.fit.train_losses[-1] < outcome.fit.train_losses[0]  # it learned something
    assert np.isfinite(outcome.report.score("mase", split="test"))
    history = frame.iloc[:-3]
    forecast = model.predict(history)
    assert (forecast.points["value"] > 0).all()  # levels rebuilt from returns
    again = round_trip(model)
    assert again.pipeline == model.pipeline
    pd.testing.assert_frame_equal(again.predict(history).points, forecast.points, check_exact=True)
