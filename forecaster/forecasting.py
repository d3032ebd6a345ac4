"""The forecasting API the registry, flows, API and CLI call: train a model on a frame, forecast
with intervals, evaluate against the baselines, and save/restore exactly (JSON state + weights).

Frames are the storage layer's: a DatetimeIndex named "ts" (naive UTC), one float column per
variable, NaN for gaps. Inputs are forward-filled over gaps of at most `spec.fill_limit` rows;
training and scoring never use a window whose targets are unobserved; a forecast from a lookback
that still has gaps carries values across them inside the window, and refuses a variable whose
whole lookback is empty.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, cast

import numpy as np
import pandas as pd
import torch
from torch import nn

from forecaster.backtest import (
    EvalRow,
    EvaluationReport,
    conformal_quantiles,
    last_origins,
    report_rows,
    rolling_origin,
)
from forecaster.checks import NO_REACH, HorizonLimits, check_horizon, check_level
from forecaster.data.calendar import (
    calendar_features,
    future_index,
    normalize_freq,
    season_length,
)
from forecaster.data.pipeline import Encoded, Pipeline, Transform, screen_inputs
from forecaster.data.splits import SplitBorders, split_borders, window_origins
from forecaster.data.windows import WindowSet, fill_window_gaps, make_window_set, sliding_windows
from forecaster.errors import InvalidData, InvalidRequest
from forecaster.intervals import (
    CAL_WINDOW,
    COVERAGE_ORIGINS,
    MIN_SCORES,
    Intervals,
    adaptive_intervals,
    choose_scale,
    covered,
    floor_scale,
    naive_scale,
    nanmean,
    online_multipliers,
    scale_floor,
)
from forecaster.models.group import GlobalModule, MemberModule
from forecaster.models.rnn import RNNConfig, build_rnn
from forecaster.models.seq2seq import Seq2SeqConfig, build_seq2seq
from forecaster.models.spec import ModelSpec
from forecaster.strategies import forecast as run_strategy
from forecaster.training import FitResult, Loss, Schedule, TrainConfig, fit, rng_kept, seeded

__all__ = [
    "Calibration",
    "EvalRow",
    "EvaluationReport",
    "FitResult",
    "Forecast",
    "IntervalSetup",
    "ModelSpec",
    "TrainOutcome",
    "TrainedModel",
    "build_module",
    "evaluate_model",
    "train_model",
]

logger = logging.getLogger(__name__)

STATE_FORMAT = 1
CALIBRATION_LEVELS = (0.5, 0.8, 0.9, 0.95, 0.99)
RECURSIVE_REACH = 4  # a recursive version is checked, and served, up to 4 x its H at most
DEGENERATE = 2.0  # a rolled-out step whose MAE / naive MAE exceeds 2 x that at H ends the reach


def build_module(
    spec: ModelSpec, *, n_features: int, n_calendar: int, out_idx: Sequence[int]
) -> nn.Module:
    """The untrained nn.Module a spec describes (initialization draws from torch's global RNG).

    The models initialize Xavier/orthogonal; spec.init == "torch" resets every layer to PyTorch's
    own default (uniform +-1/sqrt(hidden) for the cells, Kaiming-uniform for linear layers)."""
    module = _build_module(spec, n_features=n_features, n_calendar=n_calendar, out_idx=out_idx)
    if spec.init == "torch":
        for sub in module.modules():
            if isinstance(sub, nn.Linear | nn.RNNBase):
                sub.reset_parameters()
    return module


def _build_module(
    spec: ModelSpec, *, n_features: int, n_calendar: int, out_idx: Sequence[int]
) -> nn.Module:
    revin = spec.normalization in ("revin", "both")
    if spec.architecture == "seq2seq_attention":
        return build_seq2seq(
            Seq2SeqConfig(
                n_features=n_features,
                horizon=spec.horizon,
                out_idx=tuple(out_idx),
                n_calendar=n_calendar,
                hidden_size=spec.hidden_size,
                num_layers=spec.num_layers,
                dropout=spec.dropout,
                cell="gru" if spec.seq2seq_cell == "gru" else "lstm",
                attention="luong" if spec.attention == "luong" else "bahdanau",
                revin=revin,
                revin_affine=spec.revin_affine,
                lookback=spec.lookback,
                segment_len=spec.segment_len,
            )
        )
    cell = {"lstm": "lstm", "gru": "gru", "rnn": "rnn"}[spec.architecture]
    return build_rnn(
        RNNConfig(
            n_features=n_features,
            horizon=spec.model_horizon,
            out_idx=tuple(out_idx),
            n_calendar=n_calendar,
            hidden_size=spec.hidden_size,
            num_layers=spec.num_layers,
            dropout=spec.dropout,
            cell=cell,  # type: ignore[arg-type]
            bidirectional=spec.bidirectional,
            revin=revin,
            revin_affine=spec.revin_affine,
            lookback=spec.lookback,
            segment_len=spec.segment_len,
        )
    )


def train_config(spec: ModelSpec, *, threads: int | None = None) -> TrainConfig:
    """The fit loop's settings a spec asks for."""
    return TrainConfig(
        epochs=spec.epochs,
        batch_size=spec.batch_size,
        lr=spec.lr,
        weight_decay=spec.weight_decay,
        clip=spec.clip,
        patience=spec.patience,
        time_budget_s=spec.time_budget_s,
        threads=threads,
        teacher_forcing=spec.teacher_forcing if spec.architecture == "seq2seq_attention" else 0.0,
        loss=cast(Loss, spec.loss),
        schedule=cast(Schedule, spec.schedule),
    )


@dataclass(frozen=True)
class Calibration:
    """Split conformal half-widths per step and target at a few levels, from validation residuals."""

    n: int  # calibration windows
    levels: tuple[float, ...]  # ascending
    half_widths: np.ndarray  # (len(levels), H, V), NaN where n is too small for the level

    @classmethod
    def fit(cls, abs_residuals: np.ndarray, *, levels: Sequence[float]) -> Calibration:
        """abs_residuals: (N, H, V) |actual - forecast| on the validation split."""
        ordered = tuple(sorted(set(levels)))
        widths = np.stack([conformal_quantiles(abs_residuals, lv) for lv in ordered])
        return cls(n=int(abs_residuals.shape[0]), levels=ordered, half_widths=widths)

    def at(self, level: float) -> np.ndarray:
        """(H, V) half-widths at `level`; a level between the stored ones uses the next higher
        (wider, so still valid); above the highest stored level, NaN."""
        for i, stored in enumerate(self.levels):
            if stored >= level - 1e-12:
                return np.asarray(self.half_widths[i])
        return np.full(self.half_widths.shape[1:], np.nan)

    def state(self) -> dict[str, Any]:
        widths = [[[_json_float(v) for v in row] for row in lv] for lv in self.half_widths.tolist()]
        return {"n": self.n, "levels": list(self.levels), "half_widths": widths}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Calibration:
        widths = np.array(
            [
                [[np.nan if v is None else v for v in row] for row in lv]
                for lv in state["half_widths"]
            ],
            dtype=np.float64,
        )
        return cls(n=int(state["n"]), levels=tuple(state["levels"]), half_widths=widths)


def _json_float(v: float) -> float | None:
    return v if math.isfinite(v) else None


@dataclass(frozen=True)
class IntervalSetup:
    """How a version's adaptive intervals are made (forecaster.intervals), fixed at training.

    The scale per target ("dy": mean |dy| over the 30 rows before the origin, or "none") is the
    one whose online intervals came nearest the level, narrowest first, on the validation split;
    `max_horizon` is the longest horizon the version serves: its H for a direct model; for a
    recursive one the longest rolled-out horizon its backtest (validation and test origins) could
    check, at most RECURSIVE_REACH x H, cut where the rollout degenerates (its MAE over the
    naive forecast's at that step above DEGENERATE x the same ratio at H, or x 1 if lower).
    """

    scales: tuple[str, ...]  # per target
    floor: tuple[float, ...]  # per target, original scale
    max_horizon: int
    reason: str = ""  # why max_horizon is what it is

    def state(self) -> dict[str, Any]:
        return {
            "scales": list(self.scales),
            "floor": [float(v) for v in self.floor],
            "max_horizon": self.max_horizon,
            "reason": self.reason,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> IntervalSetup:
        return cls(
            scales=tuple(state["scales"]),
            floor=tuple(float(v) for v in state["floor"]),
            max_horizon=int(state["max_horizon"]),
            reason=str(state.get("reason", "")),
        )


@dataclass
class Forecast:
    issued_at: pd.Timestamp  # last timestamp of the history used
    # step (1..H), ts, variable, value, lower, upper, and for a version with adaptive intervals
    # coverage (measured at this level on the most recent origins, per step) and width
    points: pd.DataFrame
    # seq2seq_attention: (rows, cols), each row and column `attention_unit` steps: (H, L) for the
    # step-wise decoder, (ceil(H / w), L / w) segments for a segment one; else None
    attention: np.ndarray | None
    level: float = 0.9
    coverage_origins: int = 0  # how many recent origins the coverage column was measured over
    max_horizon: int | None = None  # the longest horizon this version serves
    attention_unit: int = 1  # steps per attention row and column


class TrainedModel:
    """A fitted module with everything needed to reproduce its predictions."""

    def __init__(
        self,
        *,
        spec: ModelSpec,
        freq: str,
        pipeline: Pipeline,
        module: nn.Module,
        calibration: Calibration | None = None,
        data_range: dict[str, str] | None = None,
        fit_summary: dict[str, Any] | None = None,
        intervals: IntervalSetup | None = None,
    ) -> None:
        self.spec = spec
        self.intervals = intervals
        self.freq = freq
        self.pipeline = pipeline
        self.module = module.cpu().eval()
        self.calibration = calibration
        self.data_range = data_range or {}
        self.fit_summary = fit_summary
        self.variables: list[str] = list(pipeline.variables)
        self.targets: list[str] = (
            list(spec.targets) if spec.targets is not None else list(self.variables)
        )
        self.target_idx: list[int] = [self.variables.index(t) for t in self.targets]

    def __repr__(self) -> str:
        s = self.spec
        return f"TrainedModel({s.architecture}/{s.strategy}, L={s.lookback}, H={s.horizon}, targets={self.targets})"

    # --- forecasting -------------------------------------------------------------------------

    @property
    def attention_unit(self) -> int:
        """Steps per attention row and column: the segment length of a segment seq2seq, else 1."""
        segmented = self.spec.architecture == "seq2seq_attention" and self.spec.segment_len
        return int(self.spec.segment_len or 1) if segmented else 1

    @property
    def limits(self) -> HorizonLimits:
        """What bounds this model's forecasts (the same facts its stored version gives)."""
        return HorizonLimits(
            strategy=self.spec.strategy,
            horizon=self.spec.horizon,
            level=self.spec.level,
            reach=None if self.intervals is None else self.intervals.max_horizon,
            reach_reason=NO_REACH if self.intervals is None else self.intervals.reason,
        )

    @property
    def max_horizon(self) -> int:
        """The longest horizon served: H for a direct model, the recorded reach for a recursive
        one (H for a version trained before reaches were recorded)."""
        return self.limits.max_horizon or self.spec.horizon

    def check_horizon(self, horizon: int | None) -> int:
        return check_horizon(horizon, self.limits)

    def _calendar_windows(
        self, enc: Encoded, origins: np.ndarray, steps: int
    ) -> torch.Tensor | None:
        """(N, L + steps, C) calendar rows around each origin, extended past the frame's end."""
        if enc.calendar is None:
            return None
        future = calendar_features(future_index(enc.index[-1], self.freq, steps), self.freq)
        extended = torch.from_numpy(np.concatenate([enc.calendar, future]))
        length = self.spec.lookback
        return sliding_windows(extended, size=length + steps)[torch.from_numpy(origins - length)]

    def forecast_origins(
        self, enc: Encoded, origins: np.ndarray, horizon: int
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Forecast the targets from each origin (row of the first forecast step).

        Returns:
            levels (N, horizon, V) on the original scale; attention (N, horizon, L) or None.
        Raises:
            InvalidData: a variable's whole lookback is NaN.
        """
        length = self.spec.lookback
        x = sliding_windows(torch.from_numpy(enc.values), size=length)[
            torch.from_numpy(origins - length)
        ]
        empty = torch.isnan(x).all(dim=1)  # (N, F)
        if bool(empty.any()):
            i, j = (int(v) for v in empty.nonzero()[0])
            o = int(origins[i])
            raise InvalidData(
                f"the lookback of {self.variables[j]!r} ({enc.index[o - length]} .. {enc.index[o - 1]}, "
                f"lookback={length} rows) is all NaN; nothing to forecast from"
            )
        x = fill_window_gaps(x)
        # a direct head reads the calendar of all its H steps, however many are kept
        steps = max(horizon, self.spec.model_horizon)
        cal = self._calendar_windows(enc, origins, steps)
        out = run_strategy(self.module, x, cal, strategy=self.spec.strategy, horizon=horizon)
        y = out.y_hat.numpy()
        if self.spec.strategy == "recursive":  # a recursive model predicts every input
            y = y[:, :, self.target_idx]
        anchor = enc.anchor[origins - 1][:, self.target_idx]
        levels = self.pipeline.decode(y, anchor=anchor, idx=self.target_idx)
        attention = None if out.attention is None else out.attention.numpy()
        return levels, attention

    def half_widths(self, level: float, horizon: int) -> np.ndarray:
        """(horizon, V) interval half-widths; NaN for steps past the calibrated horizon."""
        out = np.full((horizon, len(self.targets)), np.nan)
        if self.calibration is not None:
            widths = self.calibration.at(level)
            n = min(horizon, widths.shape[0])
            out[:n] = widths[:n]
        return out

    def scales(self, enc: Encoded, origins: np.ndarray) -> np.ndarray:
        """(N, V) the interval scale of each origin's forecast (ones where the scale is "none")."""
        assert self.intervals is not None
        known = enc.anchor[:, self.target_idx]
        dy = floor_scale(naive_scale(known, origins), np.asarray(self.intervals.floor))
        use = np.array([s == "dy" for s in self.intervals.scales])
        return np.where(use[None], dy, 1.0)

    def train_rows(self, index: pd.DatetimeIndex) -> int:
        """Rows of `index` up to the end of this version's training split (0 when unknown)."""
        end = self.data_range.get("train_end")
        return 0 if end is None else int(index.searchsorted(pd.Timestamp(end), side="right"))

    def scores(
        self, enc: Encoded, origins: np.ndarray, horizon: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Forecasts, normalized scores |y - y_hat| / scale and scales from each origin.

        Returns:
            y_hat (N, H, V); scores (N, H, V), NaN where the actual is past the frame or a gap;
            scale (N, V).
        """
        y_hat = self.forecast_origins(enc, origins, horizon)[0]
        rows = origins[:, None] + np.arange(horizon)[None]  # (N, H)
        inside = rows < len(enc.index)
        actual = np.full(y_hat.shape, np.nan)
        actual[inside] = enc.raw[rows[inside]][:, self.target_idx]
        scale = self.scales(enc, origins)
        return y_hat, np.abs(actual - y_hat) / scale[:, None, :], scale

    def online_coverage(
        self, enc: Encoded, origins: np.ndarray, horizon: int, level: float
    ) -> np.ndarray:
        """Coverage of the intervals these origins would have been served, fed online from the
        origins after training before them. (H + 1, V): pooled (row 0), then per step."""
        lo = min(
            max(self.train_rows(enc.index), int(origins[0]) - CAL_WINDOW - horizon), origins[0]
        )
        feed = _eval_origins(enc, self, horizon=horizon, lo=lo, hi=int(origins[-1]) + 1)
        feed = np.union1d(feed, origins)
        _, scores, _ = self.scores(enc, feed, horizon)
        mult = online_multipliers(scores, feed, [level])  # (N, H, V, 1)
        inside = covered(scores, mult)[..., 0][np.isin(feed, origins)]  # (n, H, V)
        pooled = nanmean(inside.reshape(-1, inside.shape[2]), 0)
        return np.concatenate([pooled[None], nanmean(inside, 0)], axis=0)

    def predict(
        self,
        history: pd.DataFrame,
        *,
        horizon: int | None = None,
        level: float | None = None,
    ) -> Forecast:
        """Forecast the `horizon` steps after the history's last row, with split conformal intervals.

        Raises:
            InvalidRequest: horizon <= 0, level outside (0, 1).
            HorizonTooLong: a direct model asked for more than its H.
            InvalidData: missing variables, too short a history, an all-NaN lookback.
        """
        h = self.check_horizon(horizon)
        lv = check_level(self.spec.level if level is None else level)
        _check_frame(history, self.variables)
        need = self.spec.lookback + (1 if self.pipeline.needs_previous_row else 0)
        if len(history) < need:
            raise InvalidData(
                f"history has {len(history)} rows but lookback={self.spec.lookback} needs at least {need}"
            )
        enc = self.pipeline.encode(history)
        end = np.array([len(history)])
        levels, attention = self.forecast_origins(enc, end, h)
        ts = future_index(enc.index[-1], self.freq, h)
        n_var = len(self.targets)
        value = levels[0]  # (H, V)
        columns: dict[str, Any] = {
            "step": np.repeat(np.arange(1, h + 1), n_var),
            "ts": np.repeat(ts.to_numpy(), n_var),
            "variable": np.tile(np.array(self.targets, dtype=object), h),
            "value": value.reshape(-1),
        }
        measured = 0
        if self.intervals is None:  # a version from before adaptive intervals
            width = self.half_widths(lv, h)  # (H, V)
            columns |= {"lower": (value - width).reshape(-1), "upper": (value + width).reshape(-1)}
        else:
            iv = self._adaptive(enc, h, lv)
            columns |= {
                "lower": (value - iv.half_width).reshape(-1),
                "upper": (value + iv.half_width).reshape(-1),
                "coverage": iv.coverage.reshape(-1),
                "width": (2 * iv.half_width).reshape(-1),
            }
            measured = iv.origins
        return Forecast(
            issued_at=pd.Timestamp(enc.index[-1]),
            points=pd.DataFrame(columns),
            attention=None if attention is None else attention[0],
            attention_unit=self.attention_unit,
            level=lv,
            coverage_origins=measured,
            max_horizon=self.max_horizon,
        )

    def _adaptive(self, enc: Encoded, horizon: int, level: float) -> Intervals:
        """Intervals for a forecast from the frame's end, from the most recent origins after
        training (forecaster.intervals.adaptive_intervals)."""
        n_rows = len(enc.index)
        lo = max(self.train_rows(enc.index), n_rows - CAL_WINDOW - COVERAGE_ORIGINS - 2 * horizon)
        recent = _eval_origins(enc, self, horizon=1, lo=lo, hi=n_rows)
        origins = np.append(recent, n_rows)  # the forecast's own origin last
        _, scores, scale = self.scores(enc, origins, horizon)
        return adaptive_intervals(scores, origins, scale[-1], level)

    # --- persistence -------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """JSON-safe state (no NaN or infinity); with `weights()` it restores the model exactly."""
        return {
            "format": STATE_FORMAT,
            "spec": self.spec.to_dict(),
            "freq": self.freq,
            "variables": list(self.variables),
            "targets": list(self.targets),
            "normalization": {
                **self.pipeline.state(),
                "revin": self.spec.normalization in ("revin", "both"),
                "revin_affine": self.spec.revin_affine,
            },
            "module": {
                "class": type(self.module).__name__,
                "n_features": len(self.variables),
                "n_calendar": self.pipeline.n_calendar,
                "out_idx": self._out_idx(),
                **self._member_state(),
            },
            "calibration": None if self.calibration is None else self.calibration.state(),
            "intervals": None if self.intervals is None else self.intervals.state(),
            "data_range": dict(self.data_range),
            "fit": self.fit_summary,
        }

    def weights(self) -> dict[str, torch.Tensor]:
        """The module's tensors, contiguous and unshared on the CPU (ready for safetensors)."""
        return {
            k: v.detach().cpu().contiguous().clone() for k, v in self.module.state_dict().items()
        }

    def _member_state(self) -> dict[str, Any]:
        """For a member of a global model: which member it is of how many, and the embedding's
        size (its weights are the global model's, stored once)."""
        if not isinstance(self.module, MemberModule):
            return {}
        net = self.module.net
        return {"global": {"n_series": net.n_series, "dim": net.dim, "index": self.module.index}}

    def _out_idx(self) -> list[int]:
        return (
            list(range(len(self.variables)))
            if self.spec.strategy == "recursive"
            else list(self.target_idx)
        )

    @classmethod
    def from_state(cls, state: dict[str, Any], weights: dict[str, torch.Tensor]) -> TrainedModel:
        """Rebuild from `state()` and `weights()`: the same predictions, bit for bit.

        Leaves torch's global random state untouched.
        """
        if state.get("format") != STATE_FORMAT:
            raise InvalidData(
                f"model state format={state.get('format')!r} is not supported; expected {STATE_FORMAT}"
            )
        spec = ModelSpec.from_dict(state["spec"])
        pipeline = Pipeline.from_state(state["normalization"])
        meta = state["module"]
        member = meta.get("global")  # a member of a global model: `weights` are the network's
        with seeded(None):  # building draws initial weights (then overwritten): keep the state
            module = build_module(
                spec,
                n_features=int(meta["n_features"]),
                n_calendar=int(meta["n_calendar"]) + (int(member["dim"]) if member else 0),
                out_idx=meta["out_idx"],
            )
            if member:
                net = GlobalModule(module, n_series=int(member["n_series"]), dim=int(member["dim"]))
        if member:
            net.load_state_dict(weights, strict=True)
            module = net.member(int(member["index"]))
        else:
            module.load_state_dict(weights, strict=True)
        calibration = (
            None
            if state.get("calibration") is None
            else Calibration.from_state(state["calibration"])
        )
        return cls(
            spec=spec,
            freq=state["freq"],
            pipeline=pipeline,
            module=module,
            calibration=calibration,
            data_range=state.get("data_range"),
            fit_summary=state.get("fit"),
            intervals=(
                None
                if state.get("intervals") is None
                else IntervalSetup.from_state(state["intervals"])
            ),
        )


@dataclass
class TrainOutcome:
    model: TrainedModel
    report: EvaluationReport
    fit: FitResult
    train_range: tuple[pd.Timestamp, pd.Timestamp]  # first and last row of the training split


def _check_frame(frame: pd.DataFrame, variables: Sequence[str] | None = None) -> None:
    if not isinstance(frame.index, pd.DatetimeIndex):
        raise InvalidData(f"the frame needs a DatetimeIndex, got {type(frame.index).__name__}")
    if not frame.index.is_monotonic_increasing or not frame.index.is_unique:
        raise InvalidData("the frame's timestamps must be unique and in ascending order")
    if variables is not None:
        missing = [v for v in variables if v not in frame.columns]
        if missing:
            raise InvalidData(
                f"the frame lacks variables {missing}; this model needs {list(variables)}, "
                f"the frame has {[str(c) for c in frame.columns]}"
            )


def _check_values(frame: pd.DataFrame, inputs: list[str], train_end: int) -> None:
    train = frame.iloc[:train_end]
    for var in inputs:
        if not train[var].notna().any():
            raise InvalidData(
                f"variable {var!r} has no values in the training split ({train.index[0]} .. {train.index[-1]}); "
                "leave it out of inputs"
            )


def _freq(freq: str) -> str:
    try:
        return normalize_freq(freq)
    except ValueError as exc:
        raise InvalidRequest(f"freq={freq!r} is not a pandas frequency (e.g. B, D, h)") from exc


def _usable_lookbacks(enc: Encoded, origins: np.ndarray, lookback: int) -> np.ndarray:
    """bool (N,): every variable has at least one value in the origin's lookback."""
    if len(origins) == 0:
        return np.zeros(0, dtype=bool)
    x = sliding_windows(torch.from_numpy(enc.values), size=lookback)[
        torch.from_numpy(origins - lookback)
    ]
    return np.asarray((~torch.isnan(x).all(dim=1)).all(dim=1).numpy())


def _eval_origins(
    enc: Encoded, model: TrainedModel, *, horizon: int, lo: int, hi: int
) -> np.ndarray:
    """Origins in [lo, hi) whose `horizon` targets were all observed and whose lookback has data."""
    first = model.spec.lookback + (1 if model.pipeline.needs_previous_row else 0)
    origins = window_origins(
        lookback=model.spec.lookback,
        horizon=horizon,
        lo=max(lo, first),
        hi=hi,
        input_ok=np.ones(len(enc.index), dtype=bool),
        target_ok=enc.observed(model.target_idx),
    )
    return np.asarray(origins[_usable_lookbacks(enc, origins, model.spec.lookback)])


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
    tgt = model.target_idx
    bt = rolling_origin(
        lambda o, h: model.forecast_origins(enc, o, h)[0],
        origins=origins,
        horizon=horizon,
        actual=enc.raw[:, tgt],
        known=enc.anchor[:, tgt],
        season=season_length(model.freq),
    )
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
        origins = _eval_origins(enc, model, horizon=reach, lo=train_end, hi=len(enc.index))
        if len(origins) >= 2 * MIN_SCORES or reach <= spec.horizon:
            break
        reach = max(spec.horizon, reach // 2)
    reason = f"the longest rollout its backtest of {len(origins)} origins checked"
    if len(origins):
        tgt = model.target_idx
        bt = rolling_origin(
            lambda o, h: model.forecast_origins(enc, o, h)[0],
            origins=origins,
            horizon=reach,
            actual=enc.raw[:, tgt],
            known=enc.anchor[:, tgt],
            season=season_length(model.freq),
        )
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


@dataclass
class TrainingData:
    """One series made ready to train on: the fitted pipeline, the encoded frame, the split
    borders and the training and validation window origins (rows of each window's first target)."""

    frame: pd.DataFrame
    spec: ModelSpec  # with the inputs actually used (screened ones left out)
    freq: str
    pipeline: Pipeline
    enc: Encoded
    borders: SplitBorders
    inputs: list[str]
    targets: list[str]
    out_idx: list[int]
    origins: dict[str, np.ndarray]  # "training", "validation"

    def windows(self, split: str) -> WindowSet:
        return make_window_set(
            self.enc.values,
            self.enc.calendar,
            self.origins[split],
            lookback=self.spec.lookback,
            horizon=self.spec.model_horizon,
            out_idx=self.out_idx,
        )


def screened_inputs(frame: pd.DataFrame, spec: ModelSpec) -> tuple[list[str], dict[str, str]]:
    """The inputs a spec would train on for this frame, and why each other one is left out."""
    _check_frame(frame)
    spec.validate([str(c) for c in frame.columns], len(frame))
    inputs, targets = spec.resolve([str(c) for c in frame.columns])
    borders = split_borders(
        len(frame), val_fraction=spec.val_fraction, test_fraction=spec.test_fraction
    )
    return screen_inputs(frame, border=borders.train_end, inputs=inputs, targets=targets)


def prepare_data(frame: pd.DataFrame, spec: ModelSpec, *, freq: str) -> TrainingData:
    """Validate, screen the inputs, fit the pipeline on the training split and find the windows.

    Raises:
        InvalidRequest, InvalidData: with a message saying what to change.
    """
    freq = _freq(freq)
    _check_frame(frame)
    spec.validate([str(c) for c in frame.columns], len(frame))
    inputs, targets = spec.resolve([str(c) for c in frame.columns])
    borders = split_borders(
        len(frame), val_fraction=spec.val_fraction, test_fraction=spec.test_fraction
    )
    # constant and mostly-missing inputs carry nothing to learn from: left out, with the reason
    inputs, dropped = screen_inputs(frame, border=borders.train_end, inputs=inputs, targets=targets)
    if dropped:
        spec = replace(spec, inputs=tuple(inputs))
    _check_values(frame, inputs, borders.train_end)
    pipeline = Pipeline.fit(
        frame,
        border=borders.train_end,  # the scaler sees the training split only: anything later leaks
        variables=tuple(inputs),
        freq=freq,
        transform=cast(Transform, spec.transform),
        dropped=dropped,
        global_scale=spec.normalization in ("global", "both"),
        fill_limit=spec.fill_limit,
        calendar=spec.uses_calendar,
    )
    enc = pipeline.encode(frame)
    tgt = [inputs.index(t) for t in targets]
    out_idx = list(range(len(inputs))) if spec.strategy == "recursive" else tgt
    h_model = spec.model_horizon
    observed = enc.observed(out_idx)
    origins = {}
    for split, (lo, hi) in (
        ("training", borders.rows("train")),
        ("validation", borders.rows("valid")),
    ):
        found = window_origins(
            lookback=spec.lookback,
            horizon=h_model,
            lo=lo,
            hi=hi,
            input_ok=enc.input_ok,
            target_ok=observed,
            keep_lookback_inside=split == "training",  # training windows never cross the border
            stride=spec.stride if split == "training" else 1,
        )
        if len(found) == 0:
            nan_share = {v: round(float(frame[v].iloc[lo:hi].isna().mean()), 3) for v in inputs}
            raise InvalidData(
                f"no {split} window of lookback={spec.lookback} and horizon={h_model} has finite inputs "
                f"(gaps filled up to fill_limit={spec.fill_limit} rows) and observed targets; "
                f"NaN share per variable in that split: {nan_share}"
            )
        origins[split] = np.asarray(found)
    return TrainingData(
        frame, spec, freq, pipeline, enc, borders, inputs, targets, out_idx, origins
    )


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
    spec, enc, borders = data.spec, data.enc, data.borders
    tgt = [data.inputs.index(t) for t in data.targets]
    idx = enc.index
    data_range = {
        "start": idx[0].isoformat(),
        "end": idx[-1].isoformat(),
        "train_end": idx[borders.train_end - 1].isoformat(),
        "valid_end": idx[borders.valid_end - 1].isoformat(),
    }
    model = TrainedModel(
        spec=spec,
        freq=data.freq,
        pipeline=data.pipeline,
        module=module,
        data_range=data_range,
        fit_summary=result.to_dict(),
    )
    insample = enc.raw[: borders.train_end, tgt]
    valid_o = _eval_origins(
        enc, model, horizon=spec.horizon, lo=borders.train_end, hi=borders.valid_end
    )
    rows: list[EvalRow] = []
    if len(valid_o):
        valid_rows, abs_res = _backtest_rows(
            model,
            enc,
            valid_o,
            split="valid",
            horizon=spec.horizon,
            insample=insample,
            coverage=False,
        )
        rows += valid_rows
        finite = np.isfinite(abs_res).all(axis=(1, 2))
        model.calibration = Calibration.fit(
            abs_res[finite], levels=(*CALIBRATION_LEVELS, spec.level)
        )
        model.intervals = _setup_intervals(
            model, enc, valid_o, abs_res, train_end=borders.train_end
        )
    test_o = _eval_origins(
        enc, model, horizon=spec.horizon, lo=borders.valid_end, hi=borders.n_rows
    )
    if len(test_o):
        test_rows, _ = _backtest_rows(
            model,
            enc,
            test_o,
            split="test",
            horizon=spec.horizon,
            insample=insample,
            coverage=True,
        )
        rows += test_rows
    return TrainOutcome(
        model=model,
        report=EvaluationReport(rows),
        fit=result,
        train_range=(pd.Timestamp(idx[0]), pd.Timestamp(idx[borders.train_end - 1])),
    )


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
    _check_frame(frame, model.variables)
    enc = model.pipeline.encode(frame)
    chosen = last_origins(_eval_origins(enc, model, horizon=h, lo=0, hi=len(frame)), origins)
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
