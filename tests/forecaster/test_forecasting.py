import json
import os
import subprocess
import sys
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors
from sklearn.preprocessing import StandardScaler

from forecaster.errors import HorizonTooLong, InvalidData, InvalidRequest
from forecaster.forecasting.predictor import TrainedModel
from forecaster.forecasting.train import evaluate_model, train_model
from forecaster.spec import ModelSpec
from tests.conftest import REPO_DATA
from tests.forecaster.data.real_series import stock, weather

torch.set_num_threads(1)

TINY: dict[str, Any] = {"hidden_size": 8, "num_layers": 1, "epochs": 2, "batch_size": 32}

CONTRACT = [
    # every architecture with every strategy it supports
    ("lstm", "recursive", {}),
    ("lstm", "direct", {}),
    ("gru", "recursive", {"normalization": "both"}),
    ("gru", "direct", {"normalization": "global"}),
    ("rnn", "recursive", {"normalization": "none"}),
    ("rnn", "direct", {"bidirectional": True, "num_layers": 2}),
    ("seq2seq_attention", "direct", {"attention": "bahdanau"}),
    (
        "seq2seq_attention",
        "direct",
        {"attention": "luong", "seq2seq_cell": "gru", "revin_affine": True},
    ),
    # segment-wise seq2seq: 2 lookback segments, one output segment per decoder step
    ("seq2seq_attention", "direct", {"segment_len": 7, "normalization": "none"}),
    (
        "seq2seq_attention",
        "direct",
        {"segment_len": 7, "attention": "luong", "seq2seq_cell": "gru"},
    ),
    ("gru", "direct", {"segment_len": 7}),  # SegRNN-style
    ("lstm", "direct", {"segment_len": 7, "normalization": "global"}),
]


def _round_trip(model: TrainedModel) -> TrainedModel:
    # strict JSON, as a database stores it
    state = json.loads(json.dumps(model.state(), allow_nan=False))
    weights = load_safetensors(save_safetensors(model.weights()))
    return TrainedModel.from_state(state, weights)


@pytest.mark.parametrize(("architecture", "strategy", "extra"), CONTRACT)
def test_every_architecture_and_strategy_trains_predicts_and_round_trips(
    architecture, strategy, extra
):
    frame = weather(rows=300)
    spec = ModelSpec(
        architecture,
        strategy,
        lookback=14,
        horizon=7,
        targets=("tmax", "tmin"),
        **{**TINY, **extra},
    )
    outcome = train_model(frame, spec, freq="D", threads=1)
    model = outcome.model
    forecast = model.predict(frame)
    points = forecast.points
    assert list(points.columns) == [
        "step", "ts", "variable", "value", "lower", "upper", "coverage", "width",
    ]  # fmt: skip
    assert points["coverage"].between(0, 1).all()
    assert np.allclose(points["width"], points["upper"] - points["lower"])
    assert points["step"].tolist() == [s for s in range(1, 8) for _ in range(2)]
    assert points["ts"].iloc[0] == frame.index[-1] + pd.Timedelta(days=1)
    assert np.isfinite(points["value"]).all()
    assert (points["lower"] <= points["value"]).all() and (points["value"] <= points["upper"]).all()
    assert forecast.issued_at == frame.index[-1]
    if architecture == "seq2seq_attention" and "segment_len" in extra:
        # at the resolution it attends: 1 output segment of 7 steps over 2 lookback segments
        assert model.attention_unit == forecast.attention_unit == 7
        assert forecast.attention is not None and forecast.attention.shape == (1, 2)
        assert np.allclose(forecast.attention.sum(axis=1), 1.0)
    elif architecture == "seq2seq_attention":
        assert forecast.attention_unit == 1
        assert forecast.attention is not None and forecast.attention.shape == (7, 14)
        assert np.allclose(forecast.attention.sum(axis=1), 1.0)
    else:
        assert forecast.attention is None

    restored = _round_trip(model)
    again = restored.predict(frame)
    pd.testing.assert_frame_equal(again.points, points, check_exact=True)  # bit-identical
    if forecast.attention is not None:
        assert again.attention is not None and np.array_equal(again.attention, forecast.attention)

    report = outcome.report
    for who in ("model", "naive", "seasonal_naive"):
        assert np.isfinite(report.score("mase", model=who))
    assert 0.0 <= report.score("coverage") <= 1.0
    assert outcome.fit.windows_per_s > 0
    assert outcome.train_range == (frame.index[0], frame.index[209])


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
    again = _round_trip(model).predict(frame, horizon=8)
    pd.testing.assert_frame_equal(again.points, forecast.points, check_exact=True)


def test_a_small_model_beats_seasonal_naive_on_daily_temperature():
    frame = weather("gainesville", columns=("tmax", "tmin"), rows=1500)
    spec = ModelSpec(
        "gru", "direct", lookback=28, horizon=7, targets=("tmax",), hidden_size=16, num_layers=1,
        dropout=0.0, epochs=8, batch_size=64, lr=3e-3, seed=0,
    )  # fmt: skip
    report = train_model(frame, spec, freq="D", threads=1).report
    model_mase = report.score("mase", split="test")
    assert model_mase < report.score("mase", model="seasonal_naive", split="test")
    assert model_mase < report.score("mase", model="naive", split="test")


def test_same_seed_same_weights_and_the_callers_random_state_is_untouched():
    frame = weather(rows=200)
    spec = ModelSpec("lstm", "direct", lookback=10, horizon=3, targets=("tmax",), seed=3, **TINY)
    torch.manual_seed(123)
    expected_draw = torch.rand(1)
    torch.manual_seed(123)
    first = train_model(frame, spec, freq="D").model.weights()
    assert torch.equal(torch.rand(1), expected_draw)
    second = train_model(frame, spec, freq="D").model.weights()
    assert all(torch.equal(first[k], second[k]) for k in first)
    third = train_model(frame, replace(spec, seed=4), freq="D").model.weights()
    assert not all(torch.equal(first[k], third[k]) for k in first)


def test_nothing_after_the_validation_split_reaches_training():
    frame = weather(rows=240)
    spec = ModelSpec(
        "gru", "direct", lookback=10, horizon=3, targets=("tmax",), normalization="both", **TINY
    )
    honest = train_model(frame, spec, freq="D")
    tampered_frame = frame.copy()
    tampered_frame.iloc[204:] = 1e6  # the test split (the last 15%) turned to garbage
    tampered = train_model(tampered_frame, spec, freq="D")
    w1, w2 = honest.model.weights(), tampered.model.weights()
    assert all(torch.equal(w1[k], w2[k]) for k in w1)
    assert honest.report.score("mae", split="valid") == tampered.report.score("mae", split="valid")
    scaler = honest.model.pipeline.scaler
    assert scaler is not None  # fitted on the 168 training rows only
    sk = StandardScaler().fit(frame.iloc[:168])
    assert np.allclose(scaler.mean, sk.mean_) and np.allclose(scaler.scale, sk.scale_)


def test_gaps_are_filled_for_inputs_and_never_trained_on_as_targets():
    frame = weather(rows=300).copy()
    frame.iloc[50:52, 1] = np.nan  # a short gap in tmax: filled as an input, skipped as a target
    frame.iloc[100:120, 2] = np.nan  # a long gap in prcp: windows holding it are left out
    spec = ModelSpec("gru", "direct", lookback=14, horizon=7, targets=("tmax",), **TINY)
    outcome = train_model(frame, spec, freq="D")
    assert np.isfinite(outcome.fit.best_val_loss)
    history = frame.copy()
    history.iloc[-3:, 1] = np.nan  # recent gaps: carried forward inside the window
    assert np.isfinite(outcome.model.predict(history).points["value"]).all()


def test_evaluate_model_scores_challenger_and_champion_on_the_same_windows():
    frame = weather(rows=300)
    base = ModelSpec("gru", "direct", lookback=14, horizon=7, targets=("tmax",), **TINY)
    champion = train_model(frame, base, freq="D").model
    challenger = train_model(
        frame, replace(base, architecture="lstm", strategy="recursive"), freq="D"
    ).model
    reports = [evaluate_model(m, frame, origins=30) for m in (champion, challenger)]
    for report in reports:
        assert {r.split for r in report.rows} == {"backtest"}
        assert {r.step for r in report.rows} == set(range(8))
    baselines = [[r for r in rep.rows if r.model != "model"] for rep in reports]
    assert baselines[0] == baselines[1]  # identical windows, identical yardsticks
    assert reports[0].score("mae", split="backtest") != reports[1].score("mae", split="backtest")
    with pytest.raises(HorizonTooLong):
        evaluate_model(champion, frame, origins=10, horizon=8)
    assert (
        evaluate_model(challenger, frame, origins=10, horizon=10).score("mae", split="backtest") > 0
    )


def test_spec_round_trips_through_json():
    spec = ModelSpec(
        "gru",
        "direct",
        lookback=48,
        horizon=24,
        targets=("OT",),
        segment_len=24,
        time_budget_s=60.0,
    )
    data = json.loads(json.dumps(spec.to_dict()))
    assert ModelSpec.from_dict(data) == spec
    with pytest.raises(InvalidRequest, match=r"^unknown ModelSpec fields \['colour'\]"):
        ModelSpec.from_dict({**data, "colour": "red"})


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


def test_init_torch_keeps_pytorchs_default_initialization():
    from forecaster.forecasting.factory import build_module

    spec = ModelSpec("gru", "direct", lookback=14, horizon=7, hidden_size=16, num_layers=1)
    xavier = build_module(spec, n_features=2, n_calendar=0, out_idx=[0])
    default = build_module(replace(spec, init="torch"), n_features=2, n_calendar=0, out_idx=[0])
    bound = 1 / 16**0.5  # torch's GRU: uniform(-1/sqrt(hidden), 1/sqrt(hidden)), biases too
    for name, param in default.rnn.named_parameters():
        assert param.abs().max() <= bound and torch.count_nonzero(param) == param.numel(), name
    assert torch.count_nonzero(xavier.rnn.bias_ih_l0) == 0  # the house init zeroes biases


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
    again = _round_trip(model)
    assert again.pipeline == model.pipeline
    pd.testing.assert_frame_equal(again.predict(history).points, forecast.points, check_exact=True)


def test_a_fit_cut_by_the_time_budget_says_so_in_the_version():
    spec = ModelSpec(
        "lstm", "direct", lookback=10, horizon=3, targets=("tmax",), time_budget_s=1e-6,
        **{**TINY, "epochs": 4},
    )  # fmt: skip
    outcome = train_model(weather(rows=200), spec, freq="D")
    assert outcome.fit.cut_short and outcome.fit.epochs_run == 1
    fit_info = outcome.model.state()["fit"]
    assert (fit_info["stopped"], fit_info["cut_short"]) == ("time_budget", True)
    assert (fit_info["epochs_run"], fit_info["epochs_planned"]) == (1, 4)


def _burn_cpus(n: int) -> list[subprocess.Popen[bytes]]:
    """Busy processes, one per core, so a fit runs on a loaded machine."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


def test_quick_training_gives_the_same_weights_on_an_idle_and_a_loaded_machine():
    from forecaster.retrain_config import load_retrain_config

    quick = load_retrain_config().specs("AAPL", "B", quick=True)  # the demo's settings
    spec = replace(quick[3], lookback=20, horizon=5, targets=("close",))  # gru/direct, tiny
    assert (spec.architecture, spec.strategy) == ("gru", "direct")
    frame = stock(rows=400)
    idle = train_model(frame, spec, freq="B", threads=1)
    burners = _burn_cpus(max(2, os.cpu_count() or 2))
    try:
        loaded = train_model(frame, spec, freq="B", threads=1)
    finally:
        for p in burners:
            p.kill()
            p.wait()
    for outcome in (idle, loaded):  # epochs or early stopping ended both, never the clock
        assert outcome.fit.stopped in ("completed", "early_stopping")
    assert loaded.fit.epochs_run == idle.fit.epochs_run
    a, b = idle.model.weights(), loaded.model.weights()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert idle.fit.train_losses[-1] < idle.fit.train_losses[0]  # it learned something
    # the quick time budget is a safety cap, far above what the fit takes even on a loaded machine
    assert spec.time_budget_s is not None and spec.time_budget_s > 20 * loaded.fit.seconds
