import json

import numpy as np
import pytest

from forecaster.backtest import (
    EvalRow,
    EvaluationReport,
    conformal_quantiles,
    coverage,
    last_origins,
    report_rows,
    rolling_origin,
)


@pytest.mark.parametrize(
    ("n", "level", "k"),
    [
        (9, 0.9, 9),  # ceil(10 * 0.9) = 9: the largest of 9
        (19, 0.9, 18),  # ceil(20 * 0.9) = 18
        (99, 0.8, 80),  # ceil(100 * 0.8) = 80
    ],
)
def test_conformal_quantile_is_the_finite_sample_corrected_order_statistic(n, level, k):
    res = np.arange(1.0, n + 1.0)[::-1].reshape(n, 1, 1)  # |residuals| n..1
    assert conformal_quantiles(res, level)[0, 0] == k


def test_too_few_calibration_windows_give_no_interval():
    assert np.isnan(conformal_quantiles(np.ones((8, 2, 1)), 0.9)).all()  # ceil(9 * 0.9) = 9 > 8


def test_conformal_intervals_cover_new_data_at_their_level():
    rng = np.random.default_rng(0)
    cal = np.abs(rng.normal(size=(500, 3, 2)))
    q = conformal_quantiles(cal, 0.9)
    y_hat = np.zeros((4000, 3, 2))
    cov = coverage(rng.normal(size=(4000, 3, 2)), y_hat, q)
    assert cov.shape == (4, 2)
    assert np.all(np.abs(cov - 0.9) < 0.03)


def test_coverage_skips_uncalibrated_steps():
    y = np.zeros((4, 2, 1))
    cov = coverage(y, y + 0.5, np.array([[1.0], [np.nan]]))
    assert cov[:, 0].tolist()[:2] == [1.0, 1.0] and np.isnan(cov[2, 0])


def test_rolling_origin_scores_model_and_baselines_on_the_same_windows():
    series = np.arange(40.0)[:, None]  # a trend: the naive forecast lags, a perfect model does not
    origins = last_origins(np.arange(10, 37), 5)
    assert origins.tolist() == [32, 33, 34, 35, 36]

    def perfect(o: np.ndarray, h: int) -> np.ndarray:
        return series[o[:, None] + np.arange(h)]

    bt = rolling_origin(perfect, origins=origins, horizon=3, actual=series, known=series, season=2)
    assert bt.naive[0, :, 0].tolist() == [31.0, 31.0, 31.0]
    # the last season repeated: rows 30, 31, then 30 again
    assert bt.seasonal_naive[0, :, 0].tolist() == [30.0, 31.0, 30.0]
    rows = report_rows(
        "backtest", ["x"], bt, insample=series[:30], season=2, half_width=np.ones((3, 1))
    )
    report = EvaluationReport(rows)
    assert report.score("mae", split="backtest") == 0.0
    naive_mae = report.score("mae", model="naive", split="backtest")
    assert naive_mae == pytest.approx(2.0)  # errors 1, 2, 3
    naive_mase = report.score("mase", model="naive", split="backtest")
    assert naive_mase == pytest.approx(1.0)  # in-sample scale 2
    assert report.score("coverage", split="backtest") == 1.0
    table = report.table()
    assert list(table.columns) == ["model", "naive", "seasonal_naive"]
    assert table.loc[("backtest", "x", 3, "mae"), "naive"] == pytest.approx(3.0)
    json.dumps(report.to_records(), allow_nan=False)


def test_score_of_a_missing_figure_says_what_there_is():
    report = EvaluationReport([EvalRow("test", "model", "x", 0, "mae", 1.0)])
    with pytest.raises(KeyError, match="no 'mase' for model='model' split='test'"):
        report.score("mase")
