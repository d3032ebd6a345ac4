"""train_model and evaluate_model: every architecture and strategy trains, predicts and round
trips; no leakage past the training split; seeds; gaps; time budgets; backtests."""

import os
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.preprocessing import StandardScaler

from forecaster.errors import HorizonTooLong
from forecaster.forecasting.train import evaluate_model, train_model
from forecaster.spec import ModelSpec
from tests.forecaster.data.real_series import stock, weather
from tests.forecaster.forecasting.common import TINY, round_trip

torch.set_num_threads(1)

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

    restored = round_trip(model)
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
