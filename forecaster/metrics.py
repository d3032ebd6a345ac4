"""Error metrics per variable and per horizon step on the original scale, and the naive and
seasonal-naive baselines every model figure is reported beside.

Arrays are (n, k): n samples, k columns (a variable, or a (step, variable) pair); each metric
returns (k,). `per_step` applies one to forecasts (N, H, V) and gives (H + 1, V), row 0 pooled.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.metrics import mean_absolute_error, root_mean_squared_error

from forecaster.data.calendar import season_length

__all__ = [
    "mae",
    "rmse",
    "mape",
    "smape",
    "mase",
    "seasonal_scale",
    "per_step",
    "naive_forecast",
    "seasonal_naive_forecast",
    "season_length",
    "MAPE_EPS",
]

MAPE_EPS = 0.01  # denominators never drop below 1% of the variable's typical magnitude


def mae(y: np.ndarray, y_hat: np.ndarray) -> np.ndarray:
    """Mean absolute error per column (sklearn)."""
    return np.asarray(mean_absolute_error(y, y_hat, multioutput="raw_values"))


def rmse(y: np.ndarray, y_hat: np.ndarray) -> np.ndarray:
    """Root mean squared error per column (sklearn)."""
    return np.asarray(root_mean_squared_error(y, y_hat, multioutput="raw_values"))


def mape(
    y: np.ndarray, y_hat: np.ndarray, *, scale: np.ndarray, eps: float = MAPE_EPS
) -> np.ndarray:
    """Mean absolute percentage error per column, in percent, well defined near zero.

    MAPE = 100 * mean(|y - y_hat| / max(|y|, eps * scale)). `scale` is the variable's typical
    magnitude, mean |y| over the in-sample (training) part: an actual near zero (a temperature
    crossing 0 °C) is measured against eps * scale instead of dividing by ~0. Far from zero it is
    the textbook MAPE. (sklearn's version floors the denominator at machine epsilon, so one
    actual near zero makes it explode.)

    Args:
        scale: (k,) or scalar, > 0.
    """
    floor = eps * np.asarray(scale, dtype=np.float64)
    denom = np.maximum(np.abs(y), floor)
    return np.asarray(100.0 * np.mean(np.abs(y - y_hat) / denom, axis=0))


def smape(y: np.ndarray, y_hat: np.ndarray) -> np.ndarray:
    """Symmetric MAPE per column, in percent (0..200): 200 * mean(|y - y_hat| / (|y| + |y_hat|)),
    a term with y = y_hat = 0 counting as 0."""
    num = np.abs(y - y_hat)
    den = np.abs(y) + np.abs(y_hat)
    ratio = np.divide(num, den, out=np.zeros_like(num, dtype=np.float64), where=den > 0)
    return np.asarray(200.0 * np.mean(ratio, axis=0))


def seasonal_scale(insample: np.ndarray, *, season: int) -> np.ndarray:
    """MASE's denominator: the in-sample MAE of the seasonal-naive forecast, per column.

    Pairs with a NaN are skipped; with too short a history the season falls back to 1.

    Args:
        insample: (T, k) the training part.
    """
    m = season if insample.shape[0] > season else 1
    diffs = np.abs(insample[m:] - insample[:-m])
    with np.errstate(all="ignore"):
        counts = np.isfinite(diffs).sum(axis=0)
        sums = np.nansum(diffs, axis=0)
        return np.asarray(np.where(counts > 0, sums / np.maximum(counts, 1), np.nan))


def mase(y: np.ndarray, y_hat: np.ndarray, *, insample: np.ndarray, season: int = 1) -> np.ndarray:
    """Mean absolute scaled error per column: MAE / in-sample seasonal-naive MAE.

    Below 1: better than the seasonal-naive forecast was in sample. A constant training
    part (scale 0) gives NaN rather than infinity.

    Args:
        insample: (T, k) the training part; season: from `season_length(freq)`.
    """
    scale = seasonal_scale(insample, season=season)
    with np.errstate(all="ignore"):
        return np.asarray(np.where(scale > 0, mae(y, y_hat) / scale, np.nan))


def per_step(
    metric: Callable[[np.ndarray, np.ndarray], np.ndarray],
    y: np.ndarray,
    y_hat: np.ndarray,
) -> np.ndarray:
    """A metric per horizon step and per variable, with all steps pooled in row 0.

    Args:
        metric: (n, k) x 2 -> (k,), with any per-variable arguments bound already.
        y, y_hat: (N, H, V).
    Returns:
        (H + 1, V): row 0 pooled over steps, row h the h-th step.
    """
    n, h, v = y.shape
    pooled = metric(y.reshape(n * h, v), y_hat.reshape(n * h, v))  # (V,)
    steps = np.stack([metric(y[:, i], y_hat[:, i]) for i in range(h)])  # (H, V)
    return np.concatenate([pooled[None, :], steps], axis=0)


def naive_forecast(last: np.ndarray, *, horizon: int) -> np.ndarray:
    """Tomorrow is today: the last observed value repeated. (N, V) -> (N, H, V)."""
    return np.repeat(np.asarray(last, dtype=np.float64)[:, None, :], horizon, axis=1)


def seasonal_naive_forecast(
    history: np.ndarray, origins: np.ndarray, *, horizon: int, season: int
) -> np.ndarray:
    """Each step repeats the value one season earlier: y_hat[o + h] = y[o + h - m * ceil((h + 1) / m)].

    Args:
        history: (T, V) known levels (gaps carried forward); origins: (N,) first target rows.
    Returns:
        (N, H, V); NaN where the series is too short for a season.
    """
    steps = np.arange(horizon)
    # (H,): how far back each step looks, always at least one step before the origin
    back = season * ((steps // season) + 1)
    rows = origins[:, None] + steps[None, :] - back[None, :]  # (N, H)
    out = history[np.clip(rows, 0, None)]  # (N, H, V)
    out[rows < 0] = np.nan
    return np.asarray(out, dtype=np.float64)
