"""Rolling-origin evaluation without refitting, per-step errors beside the baselines, and split
conformal prediction intervals with their measured coverage."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from forecaster.metrics import (
    mae,
    mape,
    mase,
    naive_forecast,
    per_step,
    rmse,
    seasonal_naive_forecast,
    smape,
)
from forecaster.values import finite_or_none

METRICS = ("mae", "rmse", "mape", "smape", "mase", "coverage")
MODELS = ("model", "naive", "seasonal_naive")


@dataclass(frozen=True)
class EvalRow:
    split: str  # "valid" | "test" | "backtest"
    model: str  # "model" | "naive" | "seasonal_naive"
    variable: str
    step: int  # 1..H; 0 = all steps pooled
    metric: str  # mae rmse mape smape mase coverage
    value: float  # NaN where undefined (MASE of a constant series, coverage without calibration)


@dataclass
class EvaluationReport:
    """Every figure with its yardsticks: the model's rows beside the naive and seasonal-naive ones."""

    rows: list[EvalRow] = field(default_factory=list)

    def score(
        self,
        metric: str = "mase",
        variable: str | None = None,
        model: str = "model",
        split: str = "test",
    ) -> float:
        """A metric pooled over steps (step 0); averaged over the variables when `variable` is None.

        Raises:
            KeyError: no such figure in this report (the message lists what there is).
        """
        values = [
            r.value
            for r in self.rows
            if r.step == 0
            and r.metric == metric
            and r.model == model
            and r.split == split
            and (variable is None or r.variable == variable)
        ]
        if not values:
            have = sorted({(r.split, r.model, r.metric) for r in self.rows})
            raise KeyError(
                f"no {metric!r} for model={model!r} split={split!r} variable={variable!r}; have {have}"
            )
        return float(np.mean(values))

    def table(self) -> pd.DataFrame:
        """One row per (split, variable, step, metric), one column per model: each figure beside its baselines."""
        long = pd.DataFrame(
            [asdict(r) for r in self.rows], columns=list(EvalRow.__dataclass_fields__)
        )
        if long.empty:
            return pd.DataFrame(columns=list(MODELS))
        wide = long.pivot_table(
            index=["split", "variable", "step", "metric"],
            columns="model",
            values="value",
            dropna=False,
        )
        wide.columns.name = None
        return wide.reindex(columns=[m for m in MODELS if m in wide.columns])

    def to_records(self) -> list[dict[str, Any]]:
        """Rows as JSON-safe dicts (NaN -> None), ready for the evaluation table."""
        return [{**asdict(r), "value": finite_or_none(r.value)} for r in self.rows]


def last_origins(candidates: np.ndarray, n: int) -> np.ndarray:
    """The last `n` of ascending candidate origins."""
    return candidates[-n:] if n > 0 else candidates[:0]


def conformal_quantiles(abs_residuals: np.ndarray, level: float) -> np.ndarray:
    """Split conformal half-widths per step and variable.

    The k-th smallest |residual| with k = ceil((n + 1) * level) (the finite-sample correction),
    so that a new residual is within it with probability >= level. NaN where n is too small
    (k > n: the interval would be unbounded).

    Args:
        abs_residuals: (N, H, V) |y - y_hat| on calibration (validation) windows.
    Returns:
        (H, V).
    """
    n = abs_residuals.shape[0]
    k = math.ceil((n + 1) * level)
    if n == 0 or k > n:
        return np.full(abs_residuals.shape[1:], np.nan)
    return np.asarray(np.sort(abs_residuals, axis=0)[k - 1])


def coverage(y: np.ndarray, y_hat: np.ndarray, half_width: np.ndarray) -> np.ndarray:
    """Share of actuals inside y_hat +- half_width, per step (rows 1..H) and pooled (row 0).

    Args:
        y, y_hat: (N, H, V); half_width: (H, V), NaN for uncalibrated steps.
    Returns:
        (H + 1, V) in [0, 1]; NaN where the width is NaN (pooled over the calibrated steps).
    """
    inside = (np.abs(y - y_hat) <= half_width[None]).astype(np.float64)  # (N, H, V)
    inside[:, np.isnan(half_width)] = np.nan
    with warnings.catch_warnings():  # an all-NaN column (uncalibrated step) is expected
        warnings.simplefilter("ignore", RuntimeWarning)
        steps = np.nanmean(inside, axis=0)  # (H, V)
        pooled = np.nanmean(inside.reshape(-1, inside.shape[2]), axis=0)  # (V,)
    return np.concatenate([pooled[None], steps], axis=0)


@dataclass(frozen=True)
class Backtest:
    """Forecasts from many origins, all on the original scale, (N, H, V)."""

    origins: np.ndarray  # (N,) row of each first target
    actual: np.ndarray
    model: np.ndarray
    naive: np.ndarray
    seasonal_naive: np.ndarray


def rolling_origin(
    predict: Callable[[np.ndarray, int], np.ndarray],
    *,
    origins: np.ndarray,
    horizon: int,
    actual: np.ndarray,
    known: np.ndarray,
    season: int,
) -> Backtest:
    """Forecast from every origin with a fitted model (no refitting) and with both baselines.

    Args:
        predict: (origins, horizon) -> (N, horizon, V) model forecasts on the original scale.
        actual: (T, V) observed levels of the targets; known: (T, V) the same, gaps carried forward.
    """
    rows = origins[:, None] + np.arange(horizon)[None, :]  # (N, H)
    return Backtest(
        origins=origins,
        actual=actual[rows],
        model=predict(origins, horizon),
        naive=naive_forecast(known[origins - 1], horizon=horizon),
        seasonal_naive=seasonal_naive_forecast(known, origins, horizon=horizon, season=season),
    )


def report_rows(
    split: str,
    variables: list[str],
    bt: Backtest,
    *,
    insample: np.ndarray,
    season: int,
    half_width: np.ndarray | None = None,
    coverage_table: np.ndarray | None = None,
) -> list[EvalRow]:
    """Every metric per variable and step for the model and both baselines on the same windows.

    Args:
        insample: (T, V) the training part, which scales MASE and MAPE.
        half_width: (H, V) fixed conformal half-widths; adds the model's coverage.
        coverage_table: (H + 1, V) coverage measured elsewhere (pooled, then per step), e.g.
            of adaptive intervals (forecaster.intervals); used instead of half_width.
    """
    scale = np.nanmean(np.abs(insample), axis=0)
    metrics: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
        "mae": mae,
        "rmse": rmse,
        "mape": partial(mape, scale=scale),
        "smape": smape,
        "mase": partial(mase, insample=insample, season=season),
    }
    rows: list[EvalRow] = []

    def emit(model: str, metric: str, table: np.ndarray) -> None:
        for step in range(table.shape[0]):
            for j, var in enumerate(variables):
                rows.append(EvalRow(split, model, var, step, metric, float(table[step, j])))

    for model, pred in (
        ("model", bt.model),
        ("naive", bt.naive),
        ("seasonal_naive", bt.seasonal_naive),
    ):
        # a baseline short of a season skips those windows
        usable = np.isfinite(pred).all(axis=(1, 2))
        for name, fn in metrics.items():
            if usable.any():
                emit(model, name, per_step(fn, bt.actual[usable], pred[usable]))
            else:
                emit(model, name, np.full((pred.shape[1] + 1, len(variables)), np.nan))
    if coverage_table is not None:
        emit("model", "coverage", coverage_table)
    elif half_width is not None:
        emit("model", "coverage", coverage(bt.actual, bt.model, half_width))
    return rows
