"""Train a model on a frame's training split, calibrate its intervals on the validation split and
score it beside the baselines; evaluate a trained model on a frame's last origins."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from torch import nn

from forecaster.backtest import (
    Backtest,
    EvalRow,
    EvaluationReport,
    last_origins,
    report_rows,
    rolling_origin,
)
from forecaster.data.calendar import season_length
from forecaster.data.pipeline import Encoded
from forecaster.errors import InvalidData, InvalidRequest
from forecaster.forecasting.calibration import (
    CALIBRATION_LEVELS,
    DEGENERATE,
    RECURSIVE_REACH,
    Calibration,
    IntervalSetup,
)
from forecaster.forecasting.factory import build_module, train_config
from forecaster.forecasting.predictor import TrainedModel, eval_origins
from forecaster.forecasting.prepare import TrainingData, check_frame, prepare_data
from forecaster.intervals import (
    MIN_SCORES,
    choose_scale,
    floor_scale,
    naive_scale,
    nanmean,
    scale_floor,
)
from forecaster.seeding import rng_kept, seeded
from forecaster.spec import ModelSpec
from forecaster.training import FitResult, fit


@dataclass
class TrainOutcome:
    model: TrainedModel
    report: EvaluationReport
    fit: FitResult
    train_range: tuple[pd.Timestamp, pd.Timestamp]  # first and last row of the training split


def _backtest(model: TrainedModel, enc: Encoded, origins: np.ndarray, horizon: int) -> Backtest:
    """The model's and both baselines' forecasts from these origins, beside the actuals."""
    tgt = model.target_idx
    return rolling_origin(
        lambda o, h: model.forecast_origins(enc, o, h)[0],
        origins=origins,
        horizon=horizon,
        actual=enc.raw[:, tgt],
        known=enc.anchor[:, tgt],
        season=season_length(model.freq),
    )


def _backtest_rows(
    model: TrainedModel,
    enc: Encoded,
    origins: np.ndarray,
    *,
    split: str,
    horizon: int,
    insample: np.ndarray,
    coverage: bool,
) -> tuple[list[EvalRow], np.ndarray]:
    """Report rows for these origins, and the model's |residuals| (N, H, V)."""
    bt = _backtest(model, enc, origins, horizon)
    width, table = None, None
    if coverage and model.intervals is not None:
        table = model.online_coverage(enc, origins, horizon, model.spec.level)
    elif coverage:
        width = model.half_widths(model.spec.level, horizon)
    rows = report_rows(
        split,
        model.targets,
        bt,
        insample=insample,
        season=season_length(model.freq),
        half_width=width,
        coverage_table=table,
    )
    return rows, np.abs(bt.actual - bt.model)


def _setup_intervals(
    model: TrainedModel,
    enc: Encoded,
    valid_o: np.ndarray,
    abs_res: np.ndarray,
    *,
    train_end: int,
) -> IntervalSetup:
    """Choose the scale per target on the validation origins and record the served reach.

    Args:
        valid_o: validation origins; abs_res: (N, H, V) their |residuals| at the spec's H.
    """
    spec = model.spec
    known = enc.anchor[:, model.target_idx]
    floor = scale_floor(known[:train_end])
    dy = floor_scale(naive_scale(known, valid_o), floor)
    chosen = choose_scale(abs_res, valid_o, {"dy": dy, "none": np.ones_like(dy)}, level=spec.level)
    setup = IntervalSetup(tuple(chosen), tuple(float(v) for v in floor), spec.horizon, "its H")
    if spec.strategy == "direct":
        return setup
    reach = RECURSIVE_REACH * spec.horizon
    while True:  # the backtest must hold enough origins with every rolled-out step observed
        origins = eval_origins(enc, model, horizon=reach, lo=train_end, hi=len(enc.index))
        if len(origins) >= 2 * MIN_SCORES or reach <= spec.horizon:
            break
        reach = max(spec.horizon, reach // 2)
    reason = f"the longest rollout its backtest of {len(origins)} origins checked"
    if len(origins):
        bt = _backtest(model, enc, origins, reach)
        mae_model = nanmean(np.abs(bt.actual - bt.model), (0, 2))  # (reach,)
        mae_naive = nanmean(np.abs(bt.actual - bt.naive), (0, 2))
        ratio = mae_model / np.maximum(mae_naive, 1e-12)  # (reach,)
        # against the model's own ratio at its H: a weak model is not cut at once, a collapse is
        limit = DEGENERATE * max(1.0, float(ratio[spec.horizon - 1]))
        bad = np.flatnonzero(~(ratio <= limit))
        bad = bad[bad >= spec.horizon]  # the trained H is always served
        if len(bad):
            reach = int(bad[0])
            reason = (
                f"past step {reach} its rolled-out backtest error exceeds {limit:.3g}x the "
                f"naive forecast's, {DEGENERATE:g}x its ratio at H={spec.horizon}"
            )
    return replace(setup, max_horizon=reach, reason=reason)


def train_model(
    frame: pd.DataFrame,
    spec: ModelSpec,
    *,
    freq: str,
    device: str | None = None,
    threads: int | None = None,
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> TrainOutcome:
    """Fit a model on the frame's training split, calibrate its intervals on the validation split
    and score it beside the baselines on the validation and test splits.

    The scaler sees only the training split; training windows lie wholly inside it; early
    stopping and calibration use the validation split; the test split is only scored.

    Args:
        frame: DatetimeIndex "ts", float columns per variable, NaN for gaps.
        freq: pandas alias of the series' calendar ("B", "D", "h").
        device: "auto" (or None: a GPU when present), "cpu", "cuda", ...
        threads: torch.set_num_threads during training.
        progress: called once per epoch (see training.fit).
    Raises:
        InvalidRequest, InvalidData: with a message saying what to change.
    """
    data = prepare_data(frame, spec, freq=freq)
    spec = data.spec
    cfg = train_config(spec, threads=threads)
    with seeded(spec.seed):  # its own seed's initial weights, whatever other threads do
        module = build_module(
            spec,
            n_features=len(data.inputs),
            n_calendar=data.pipeline.n_calendar,
            out_idx=data.out_idx,
        )
    with rng_kept():  # the caller's random state is left alone
        result = fit(
            module,
            data.windows("training"),
            data.windows("validation"),
            cfg=cfg,
            device=device,
            seed=spec.seed,
            progress=progress,
        )
    return finish_training(data, module, result)


def finish_training(data: TrainingData, module: nn.Module, result: FitResult) -> TrainOutcome:
    """The fitted module as a TrainedModel of this series: intervals calibrated and the figures
    scored on its own validation and test splits, beside the baselines."""
    model = _trained_model(data, module, result)
    borders, idx = data.borders, data.enc.index
    insample = data.enc.raw[: borders.train_end, [data.inputs.index(t) for t in data.targets]]
    rows = _calibrate(model, data, insample)  # first: the test split's coverage uses it
    rows += _score_test(model, data, insample)
    return TrainOutcome(
        model=model,
        report=EvaluationReport(rows),
        fit=result,
        train_range=(pd.Timestamp(idx[0]), pd.Timestamp(idx[borders.train_end - 1])),
    )


def _trained_model(data: TrainingData, module: nn.Module, result: FitResult) -> TrainedModel:
    """The fitted module with its spec, pipeline, data range and fit summary (not calibrated)."""
    idx, borders = data.enc.index, data.borders
    data_range = {
        "start": idx[0].isoformat(),
        "end": idx[-1].isoformat(),
        "train_end": idx[borders.train_end - 1].isoformat(),
        "valid_end": idx[borders.valid_end - 1].isoformat(),
    }
    return TrainedModel(
        spec=data.spec,
        freq=data.freq,
        pipeline=data.pipeline,
        module=module,
        data_range=data_range,
        fit_summary=result.to_dict(),
    )


def _calibrate(model: TrainedModel, data: TrainingData, insample: np.ndarray) -> list[EvalRow]:
    """Score the validation split and calibrate the model's intervals on its residuals (left
    uncalibrated when the split has no origin); returns the validation rows."""
    spec, enc, borders = data.spec, data.enc, data.borders
    valid_o = eval_origins(
        enc, model, horizon=spec.horizon, lo=borders.train_end, hi=borders.valid_end
    )
    if not len(valid_o):
        return []
    valid_rows, abs_res = _backtest_rows(
        model,
        enc,
        valid_o,
        split="valid",
        horizon=spec.horizon,
        insample=insample,
        coverage=False,
    )
    finite = np.isfinite(abs_res).all(axis=(1, 2))
    model.calibration = Calibration.fit(abs_res[finite], levels=(*CALIBRATION_LEVELS, spec.level))
    model.intervals = _setup_intervals(model, enc, valid_o, abs_res, train_end=borders.train_end)
    return valid_rows


def _score_test(model: TrainedModel, data: TrainingData, insample: np.ndarray) -> list[EvalRow]:
    """The test split's rows, coverage included (none when the split has no origin)."""
    spec, enc, borders = data.spec, data.enc, data.borders
    test_o = eval_origins(enc, model, horizon=spec.horizon, lo=borders.valid_end, hi=borders.n_rows)
    if not len(test_o):
        return []
    test_rows, _ = _backtest_rows(
        model,
        enc,
        test_o,
        split="test",
        horizon=spec.horizon,
        insample=insample,
        coverage=True,
    )
    return test_rows


def evaluate_model(
    model: TrainedModel,
    frame: pd.DataFrame,
    *,
    origins: int,
    horizon: int | None = None,
) -> EvaluationReport:
    """Rolling-origin backtest on the last `origins` origins of `frame`, without refitting.

    Origins are the last ones whose `horizon` targets were all observed, so a challenger and the
    champion with the same targets and horizon are scored on the same windows. MASE and MAPE are
    scaled by the frame's part before the first origin. Rows have split="backtest"; coverage
    uses the model's calibrated intervals at spec.level.
    """
    h = model.check_horizon(horizon)
    if origins <= 0:
        raise InvalidRequest(f"origins={origins} must be at least 1")
    check_frame(frame, model.variables)
    enc = model.pipeline.encode(frame)
    chosen = last_origins(eval_origins(enc, model, horizon=h, lo=0, hi=len(frame)), origins)
    if len(chosen) == 0:
        raise InvalidData(
            f"no origin in the frame ({len(frame)} rows) has a lookback of {model.spec.lookback} rows "
            f"and {h} observed target steps after it"
        )
    insample = enc.raw[: chosen[0], model.target_idx]
    rows, _ = _backtest_rows(
        model,
        enc,
        chosen,
        split="backtest",
        horizon=h,
        insample=insample,
        coverage=True,
    )
    return EvaluationReport(rows)
