import numpy as np
import pytest

from forecaster.metrics import (
    mae,
    mape,
    mase,
    naive_forecast,
    per_step,
    rmse,
    seasonal_naive_forecast,
    seasonal_scale,
    smape,
)

Y = np.array([[1.0], [2.0], [4.0]])
Y_HAT = np.array([[2.0], [2.0], [1.0]])  # errors 1, 0, -3


def test_mae_and_rmse_by_hand():
    assert mae(Y, Y_HAT) == pytest.approx([4.0 / 3.0])
    assert rmse(Y, Y_HAT) == pytest.approx([np.sqrt(10.0 / 3.0)])


def test_mape_by_hand_far_from_zero():
    # |1/1| + 0 + |3/4| = 1.75 over 3 -> 58.33 %, the floor (1% of scale 2) not reached
    assert mape(Y, Y_HAT, scale=np.array([2.0])) == pytest.approx([100.0 * 1.75 / 3.0])


def test_mape_stays_finite_near_zero():
    y = np.array([[1e-12], [10.0]])
    y_hat = np.array([[0.5], [10.0]])
    # the near-zero actual is measured against 1% of the scale (10): 0.5 / 0.1 = 500 %
    assert mape(y, y_hat, scale=np.array([10.0])) == pytest.approx([(500.0 + 0.0) / 2.0])


def test_smape_by_hand_with_an_exact_zero():
    y = np.array([[0.0], [1.0], [3.0]])
    y_hat = np.array([[0.0], [3.0], [1.0]])
    # 0 (both zero), 2/4, 2/4 -> 200 * 1/3
    assert smape(y, y_hat) == pytest.approx([200.0 / 3.0])


def test_mase_uses_the_seasonal_naive_error_in_sample():
    insample = np.array([[1.0], [5.0], [2.0], [6.0], [3.0], [7.0]])  # season 2: diffs 1, 1, 1, 1
    assert seasonal_scale(insample, season=2) == pytest.approx([1.0])
    assert seasonal_scale(insample, season=1) == pytest.approx([3.6])  # diffs 4, 3, 4, 3, 4
    assert mase(Y, Y_HAT, insample=insample, season=2) == pytest.approx([4.0 / 3.0])


def test_mase_of_a_constant_history_is_nan_not_infinite():
    assert np.isnan(mase(Y, Y_HAT, insample=np.ones((10, 1)), season=1)[0])


def test_per_step_pools_in_row_zero():
    y = np.zeros((2, 3, 1))
    y_hat = np.array([[[1.0], [2.0], [3.0]], [[1.0], [2.0], [5.0]]])  # (N=2, H=3, V=1)
    table = per_step(mae, y, y_hat)
    assert table[:, 0].tolist() == pytest.approx([14.0 / 6.0, 1.0, 2.0, 4.0])


def test_baselines_repeat_the_last_value_or_the_last_season():
    history = np.arange(10.0)[:, None]  # (T, 1): 0..9
    assert naive_forecast(history[[4, 6]], horizon=2)[:, :, 0].tolist() == [[4.0, 4.0], [6.0, 6.0]]
    # origin 6, season 3: steps 6, 7, 8, 9 repeat rows 3, 4, 5, 3
    got = seasonal_naive_forecast(history, np.array([6]), horizon=4, season=3)
    assert got[0, :, 0].tolist() == [3.0, 4.0, 5.0, 3.0]
    assert np.isnan(seasonal_naive_forecast(history, np.array([1]), horizon=1, season=3)).all()
