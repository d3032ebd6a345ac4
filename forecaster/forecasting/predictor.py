"""What serves a forecast: the Predictor protocol (learned models, global-model members and
baselines), the Forecast value, and TrainedModel, which forecasts from any origin, scores its
own intervals and predicts the steps after a history."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd
import torch
from torch import nn

from forecaster.checks import NO_REACH, HorizonLimits, check_horizon, check_level
from forecaster.data.calendar import calendar_features, future_index
from forecaster.data.pipeline import Encoded, Pipeline
from forecaster.data.splits import window_origins
from forecaster.data.windows import fill_window_gaps, sliding_windows
from forecaster.errors import InvalidData
from forecaster.forecasting.calibration import Calibration, IntervalSetup
from forecaster.forecasting.persist import model_state, module_weights, restore
from forecaster.forecasting.prepare import check_frame
from forecaster.intervals import (
    CAL_WINDOW,
    COVERAGE_ORIGINS,
    Intervals,
    adaptive_intervals,
    covered,
    floor_scale,
    naive_scale,
    nanmean,
    online_multipliers,
)
from forecaster.spec import ModelSpec
from forecaster.strategies import forecast as run_strategy


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


class PredictorSpec(Protocol):
    """The part of a version's spec its callers read (ModelSpec, BaselineSpec)."""

    @property
    def architecture(self) -> str: ...
    @property
    def strategy(self) -> str: ...
    @property
    def horizon(self) -> int: ...  # the default forecast length
    @property
    def level(self) -> float: ...  # the default interval level


class Predictor(Protocol):
    """A version's model as the service, registry and flows use it: TrainedModel (a global
    model's member too) or forecaster.baselines.BaselineModel."""

    freq: str
    variables: list[str]  # the columns `predict` reads from the history
    targets: list[str]  # the variables forecast

    @property
    def spec(self) -> PredictorSpec: ...
    @property
    def intervals(self) -> IntervalSetup | None: ...  # None: split conformal half-widths only
    @property
    def max_horizon(self) -> int | None: ...  # None: no limit of its own (a baseline)

    def check_horizon(self, horizon: int | None) -> int:
        """The horizon a forecast will have (the spec's when None), or the reason it cannot."""
        ...

    def predict(
        self, history: pd.DataFrame, *, horizon: int | None = None, level: float | None = None
    ) -> Forecast:
        """Forecast the `horizon` steps after the history's last row, with intervals."""
        ...

    def state(self) -> dict[str, Any]:
        """JSON-safe state, stored with the version."""
        ...


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
        feed = eval_origins(enc, self, horizon=horizon, lo=lo, hi=int(origins[-1]) + 1)
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
        check_frame(history, self.variables)
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
        recent = eval_origins(enc, self, horizon=1, lo=lo, hi=n_rows)
        origins = np.append(recent, n_rows)  # the forecast's own origin last
        _, scores, scale = self.scores(enc, origins, horizon)
        return adaptive_intervals(scores, origins, scale[-1], level)

    # --- persistence (forecaster.forecasting.persist) ----------------------------------------

    def state(self) -> dict[str, Any]:
        """JSON-safe state (no NaN or infinity); with `weights()` it restores the model exactly."""
        return model_state(self)

    def weights(self) -> dict[str, torch.Tensor]:
        """The module's tensors, contiguous and unshared on the CPU (ready for safetensors)."""
        return module_weights(self.module)

    @classmethod
    def from_state(cls, state: dict[str, Any], weights: dict[str, torch.Tensor]) -> TrainedModel:
        """Rebuild from `state()` and `weights()`: the same predictions, bit for bit.

        Leaves torch's global random state untouched.
        """
        r = restore(state, weights)
        return cls(
            spec=r.spec,
            freq=r.freq,
            pipeline=r.pipeline,
            module=r.module,
            calibration=r.calibration,
            data_range=r.data_range,
            fit_summary=r.fit_summary,
            intervals=r.intervals,
        )


def usable_lookbacks(enc: Encoded, origins: np.ndarray, lookback: int) -> np.ndarray:
    """bool (N,): every variable has at least one value in the origin's lookback."""
    if len(origins) == 0:
        return np.zeros(0, dtype=bool)
    x = sliding_windows(torch.from_numpy(enc.values), size=lookback)[
        torch.from_numpy(origins - lookback)
    ]
    return np.asarray((~torch.isnan(x).all(dim=1)).all(dim=1).numpy())


def eval_origins(
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
    return np.asarray(origins[usable_lookbacks(enc, origins, model.spec.lookback)])
