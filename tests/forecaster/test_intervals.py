"""Adaptive intervals: a volatility change the old split conformal misses, the level honoured
after it, coverage that follows the requested level, and the recursive reach refused past it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from forecaster.errors import HorizonTooLong
from forecaster.forecasting.predictor import TrainedModel
from forecaster.forecasting.train import train_model
from forecaster.intervals import (
    covered,
    floor_scale,
    naive_scale,
    nanmean,
    online_multipliers,
    scale_floor,
    split_multipliers,
)
from forecaster.spec import ModelSpec
from tests.forecaster.data.real_series import weather

torch.set_num_threads(1)

TINY = {"hidden_size": 8, "num_layers": 1, "epochs": 2, "batch_size": 32}
H = 3
CHANGE = 1500  # the random walk's step sd goes from 1 to 4 here


def _regime_change() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A random walk whose volatility quadruples half-way, forecast naively.

    Returns:
        known (T, 1), origins (N,), |residuals| (N, H, 1).
    """
    rng = np.random.default_rng(0)
    sd = np.where(np.arange(3000) < CHANGE, 1.0, 4.0)
    known = np.cumsum(rng.normal(scale=sd))[:, None]
    origins = np.arange(100, len(known) - H + 1)
    actual = known[origins[:, None] + np.arange(H)[None]]  # (N, H, 1)
    naive = known[origins - 1][:, None, :]
    return known, origins, np.abs(actual - naive)


def test_after_a_volatility_change_the_adaptive_interval_recovers_its_level_the_old_does_not():
    known, origins, res = _regime_change()
    calib = origins < CHANGE - H  # the old method: fixed widths from the calm half
    old = split_multipliers(res[calib], [0.9])  # (H, 1, 1)
    scale = floor_scale(naive_scale(known, origins), scale_floor(known[:1000]))  # (N, 1)
    mult = online_multipliers(res / scale[:, None], origins, [0.9])
    late = origins >= len(known) - 600  # long after the change
    cov_old = float(nanmean(covered(res[late], old[None]), (0, 1, 2, 3)))
    cov_new = float(
        nanmean(covered(res[late], mult[late] * scale[late][:, None, :, None]), 0).mean()
    )
    assert cov_old < 0.6  # widths of the calm half: roughly a quarter of what is needed
    assert 0.86 <= cov_new <= 0.94
    # before the change both are near the level
    calm = (origins > 600) & (origins < CHANGE - 100)
    cov_calm = nanmean(covered(res[calm], mult[calm] * scale[calm][:, None, :, None]), 0)
    assert 0.86 <= float(cov_calm.mean()) <= 0.94


def test_without_a_scale_aci_and_the_rolling_window_still_recover():
    known, origins, res = _regime_change()
    slow = online_multipliers(res, origins, [0.9], gamma=0.0)
    fast = online_multipliers(res, origins, [0.9], gamma=0.02)
    after = (origins >= CHANGE) & (origins < CHANGE + 150)  # right after the change
    cov_slow = float(nanmean(covered(res[after], slow[after]), (0, 1, 2, 3)))
    cov_fast = float(nanmean(covered(res[after], fast[after]), (0, 1, 2, 3)))
    assert cov_fast > cov_slow + 0.05  # ACI widens on the run of misses
    late = origins >= len(known) - 600
    assert 0.86 <= float(nanmean(covered(res[late], fast[late]), (0, 1, 2, 3))) <= 0.94


def test_online_multipliers_never_look_ahead():
    _, origins, res = _regime_change()
    first = online_multipliers(res, origins, [0.9])
    spoiled = res.copy()
    spoiled[1200:] *= 100.0  # what happens from origin row 1300 on
    again = online_multipliers(spoiled, origins, [0.9])
    # origin i sees step-h scores of origins <= origin_i - h only
    assert np.array_equal(first[: 1200 + 1], again[: 1200 + 1], equal_nan=True)
    assert not np.array_equal(first[1200 + H + 1 :], again[1200 + H + 1 :], equal_nan=True)


@pytest.fixture(scope="module")
def recursive_model() -> TrainedModel:
    spec = ModelSpec("gru", "recursive", lookback=14, horizon=4, targets=("tmax",), **TINY)
    return train_model(weather(rows=400), spec, freq="D").model


def test_coverage_is_measured_at_the_requested_level(recursive_model):
    frame = weather(rows=400)
    low = recursive_model.predict(frame, level=0.5).points
    high = recursive_model.predict(frame, level=0.95).points
    assert low["coverage"].notna().all() and high["coverage"].notna().all()
    assert not np.allclose(low["coverage"], high["coverage"])
    assert low["coverage"].mean() < high["coverage"].mean()
    assert (low["width"] < high["width"]).all()


def test_intervals_on_every_step_up_to_the_recorded_reach_and_a_clear_refusal_past_it(
    recursive_model,
):
    frame = weather(rows=400)
    top = recursive_model.max_horizon
    assert top >= recursive_model.spec.horizon
    points = recursive_model.predict(frame, horizon=top).points
    assert len(points) == top
    assert points[["lower", "upper", "coverage", "width"]].notna().all().all()
    assert (points["lower"] < points["value"]).all() and (points["value"] < points["upper"]).all()
    with pytest.raises(HorizonTooLong) as err:
        recursive_model.predict(frame, horizon=top + 1)
    message = str(err.value)
    assert message.startswith(
        f"horizon={top + 1} exceeds this recursive model's maximum horizon {top} ("
    )
    assert message.endswith(f"); use horizon<={top}")
