import json

import numpy as np
import pytest
import torch
from sklearn.preprocessing import StandardScaler

from forecaster.data.pipeline import Pipeline
from forecaster.data.scaling import GlobalScaler, RevIN, levels_from_log_returns, log_returns
from tests.forecaster.data.real_series import stock, weather


def test_global_scaler_sees_only_rows_before_the_border():
    values = np.random.default_rng(0).normal(size=(100, 3))
    scaler = GlobalScaler.fit(values, border=60)
    changed = values.copy()
    changed[60:] *= 1000.0  # the future changes; the scaler must not notice
    assert GlobalScaler.fit(changed, border=60) == scaler
    sk = StandardScaler().fit(values[:60])
    assert np.allclose(scaler.mean, sk.mean_) and np.allclose(scaler.scale, sk.scale_)


def test_global_scaler_round_trips_values_and_json_state():
    values = np.random.default_rng(1).normal(5.0, 3.0, size=(50, 2))
    scaler = GlobalScaler.fit(values, border=40)
    restored = GlobalScaler.from_state(json.loads(json.dumps(scaler.state())))
    assert restored == scaler
    assert np.allclose(scaler.inverse(scaler.transform(values)), values)
    assert np.allclose(scaler.inverse(scaler.transform(values)[:, [1]], [1]), values[:, [1]])


@pytest.mark.parametrize("affine", [False, True])
def test_revin_denormalize_inverts_normalize(affine):
    torch.manual_seed(0)
    revin = RevIN(3, affine=affine)
    if affine:
        with torch.no_grad():
            revin.weight.uniform_(0.5, 2.0)
            revin.bias.uniform_(-1.0, 1.0)
    x = torch.randn(4, 12, 3) * 10 + 5
    stats = revin.stats(x)
    z = revin.normalize(x, stats)
    if not affine:
        assert torch.allclose(z.mean(dim=1), torch.zeros(4, 3), atol=1e-5)
    assert torch.allclose(revin.denormalize(z, stats), x, atol=1e-4)
    idx = torch.tensor([2])
    assert torch.allclose(revin.denormalize(z[:, :, [2]], stats, idx), x[:, :, [2]], atol=1e-4)


def test_log_returns_round_trip_to_levels():
    levels = stock(rows=30)[["close"]].to_numpy()
    r = log_returns(levels)
    assert np.isnan(r[0]).all()
    rebuilt = levels_from_log_returns(levels[[9]], r[None, 10:])  # from the level at row 9 onward
    assert np.allclose(rebuilt[0], levels[10:])


@pytest.mark.parametrize(
    ("transform", "global_scale"),
    [
        ("level", False),  # identity
        ("level", True),  # global scaler
        ("log_return", True),  # returns, then scaled
    ],
)
def test_pipeline_encode_then_decode_gives_the_levels_back(transform, global_scale):
    frame = stock(rows=120)
    pipe = Pipeline.fit(
        frame,
        border=80,
        variables=("close", "volume"),
        freq="B",
        transform=transform,
        global_scale=global_scale,
        fill_limit=3,
        calendar=True,
    )
    enc = pipe.encode(frame)
    origins = np.array([90, 100])
    rows = origins[:, None] + np.arange(5)  # (N, H)
    decoded = pipe.decode(
        enc.values[rows].astype(np.float64), anchor=enc.anchor[origins - 1], idx=[0, 1]
    )
    assert np.allclose(decoded, enc.raw[rows], rtol=1e-5)
    restored = Pipeline.from_state(json.loads(json.dumps(pipe.state())))
    assert restored == pipe


def test_pipeline_scaler_is_fitted_on_the_training_split_only():
    frame = weather(rows=200)
    pipe = Pipeline.fit(
        frame,
        border=120,
        variables=("tmax",),
        freq="D",
        transform="level",
        global_scale=True,
        fill_limit=3,
        calendar=False,
    )
    assert pipe.scaler is not None
    assert pipe.scaler.mean[0] == pytest.approx(frame["tmax"].iloc[:120].mean())
    later = frame.copy()
    later.iloc[120:] = 99.0
    assert (
        Pipeline.fit(
            later,
            border=120,
            variables=("tmax",),
            freq="D",
            transform="level",
            global_scale=True,
            fill_limit=3,
            calendar=False,
        )
        == pipe
    )


def test_inputs_are_forward_filled_within_the_limit_and_targets_never():
    frame = weather(columns=("tmax",), rows=30).copy()
    frame.iloc[10:15, 0] = np.nan  # a 5-row gap
    pipe = Pipeline.fit(
        frame,
        border=30,
        variables=("tmax",),
        freq="D",
        transform="level",
        global_scale=False,
        fill_limit=3,
        calendar=False,
    )
    enc = pipe.encode(frame)
    assert np.isfinite(enc.values[10:13, 0]).all() and np.isnan(enc.values[13:15, 0]).all()
    assert not enc.observed([0])[10:15].any()
    assert (enc.anchor[10:15, 0] == frame.iloc[9, 0]).all()
