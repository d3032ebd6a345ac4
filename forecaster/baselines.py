"""Naive (last value) and seasonal-naive forecasters as registered versions: no weights, JSON state,
split conformal intervals from their own validation residuals, scored on the models' windows.

They compete with the learned models for the champion seat: a series whose models cannot beat
carrying the last value forward is served the baseline, with intervals, and says so.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from forecaster.architectures import BASELINES, is_baseline
from forecaster.backtest import EvaluationReport, last_origins, report_rows, rolling_origin
from forecaster.checks import check_level, positive_horizon
from forecaster.data.calendar import future_index, normalize_freq, season_length
from forecaster.data.splits import split_borders, window_origins
from forecaster.errors import InvalidData, InvalidRequest
from forecaster.forecasting.calibration import CALIBRATION_LEVELS, Calibration, IntervalSetup
from forecaster.forecasting.predictor import Forecast
from forecaster.metrics import naive_forecast, seasonal_naive_forecast

STATE_KIND = "baseline"
STATE_FORMAT = 1


@dataclass(frozen=True)
class BaselineSpec:
    """What a baseline version is: which rule, for which targets, calibrated for how many steps."""

    architecture: str  # "naive" | "seasonal_naive"
    strategy: str  # the champion seat it competes for: "recursive" | "direct"
    targets: tuple[str, ...]
    horizon: int  # steps with calibrated intervals (and the default forecast length)
    season: int = 1
    level: float = 0.9
    val_fraction: float = 0.15
    test_fraction: float = 0.15

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "targets": list(self.targets)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BaselineSpec:
        return cls(**{**data, "targets": tuple(data["targets"])})


class BaselineModel:
    """A baseline with the forecasting surface of TrainedModel (a Predictor)."""

    def __init__(
        self,
        *,
        spec: BaselineSpec,
        freq: str,
        calibration: Calibration | None = None,
        data_range: dict[str, str] | None = None,
    ) -> None:
        if not is_baseline(spec.architecture):
            raise InvalidRequest(
                f"baseline architecture={spec.architecture!r} is not one of {', '.join(BASELINES)}"
            )
        self.spec = spec
        self.freq = freq
        self.calibration = calibration
        self.intervals: IntervalSetup | None = None  # split conformal half-widths only
        self.data_range = data_range or {}
        self.targets: list[str] = list(spec.targets)
        self.variables: list[str] = list(spec.targets)  # a baseline reads only its targets

    def __repr__(self) -> str:
        return (
            f"BaselineModel({self.spec.architecture}/{self.spec.strategy}, targets={self.targets})"
        )

    @property
    def max_horizon(self) -> int | None:
        """None: a baseline repeats values to any horizon, no limit of its own."""
        return None

    def check_horizon(self, horizon: int | None) -> int:
        """Any positive horizon: a baseline repeats values; past `spec.horizon` steps its
        intervals are NaN, as a recursive model's are past its calibrated steps."""
        return positive_horizon(horizon, self.spec.horizon)

    def forecast_origins(self, known: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
        """(N, horizon, V) forecasts from each origin (row of the first step).

        Args:
            known: (T, V) target levels with gaps carried forward.
        """
        if self.spec.architecture == "naive":
            return naive_forecast(known[origins - 1], horizon=horizon)
        return seasonal_naive_forecast(known, origins, horizon=horizon, season=self.spec.season)

    def half_widths(self, level: float, horizon: int) -> np.ndarray:
        """(horizon, V) interval half-widths; NaN for steps past the calibrated horizon."""
        out = np.full((horizon, len(self.targets)), np.nan)
        if self.calibration is not None:
            widths = self.calibration.at(level)
            n = min(horizon, widths.shape[0])
            out[:n] = widths[:n]
        return out

    def predict(
        self, history: pd.DataFrame, *, horizon: int | None = None, level: float | None = None
    ) -> Forecast:
        """Forecast the `horizon` steps after the history's last row, with split conformal intervals.

        Raises:
            InvalidRequest: horizon <= 0, level outside (0, 1).
            InvalidData: missing targets, no observed value to carry forward, too short a history.
        """
        h = self.check_horizon(horizon)
        lv = check_level(self.spec.level if level is None else level)
        known = _known(history, self.targets)
        need = self.spec.season if self.spec.architecture == "seasonal_naive" else 1
        if len(history) < need:
            raise InvalidData(
                f"history has {len(history)} rows; the {self.spec.architecture} forecast needs {need}"
            )
        value = self.forecast_origins(known, np.array([len(history)]), h)[0]  # (H, V)
        if not np.isfinite(value).all():
            raise InvalidData(
                f"no observed value of {self.targets} to carry forward before {history.index[-1]}"
            )
        width = self.half_widths(lv, h)
        n_var = len(self.targets)
        ts = future_index(pd.Timestamp(history.index[-1]), self.freq, h)
        points = pd.DataFrame(
            {
                "step": np.repeat(np.arange(1, h + 1), n_var),
                "ts": np.repeat(ts.to_numpy(), n_var),
                "variable": np.tile(np.array(self.targets, dtype=object), h),
                "value": value.reshape(-1),
                "lower": (value - width).reshape(-1),
                "upper": (value + width).reshape(-1),
            }
        )
        return Forecast(pd.Timestamp(history.index[-1]), points, None, lv)

    # --- persistence -----------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """JSON-safe state; a baseline has no weights, so this alone restores it."""
        return {
            "format": STATE_FORMAT,
            "kind": STATE_KIND,
            "spec": self.spec.to_dict(),
            "freq": self.freq,
            "variables": list(self.variables),
            "targets": list(self.targets),
            "normalization": {},
            "calibration": None if self.calibration is None else self.calibration.state(),
            "data_range": dict(self.data_range),
            "fit": None,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> BaselineModel:
        if state.get("kind") != STATE_KIND or state.get("format") != STATE_FORMAT:
            raise InvalidData(
                f"baseline state kind={state.get('kind')!r} format={state.get('format')!r} is not "
                f"supported; expected {STATE_KIND!r} format {STATE_FORMAT}"
            )
        calibration = state.get("calibration")
        return cls(
            spec=BaselineSpec.from_dict(state["spec"]),
            freq=state["freq"],
            calibration=None if calibration is None else Calibration.from_state(calibration),
            data_range=state.get("data_range"),
        )


def _known(frame: pd.DataFrame, targets: list[str]) -> np.ndarray:
    missing = [t for t in targets if t not in frame.columns]
    if missing:
        raise InvalidData(f"the frame lacks targets {missing}; it has {list(frame.columns)}")
    # the last known level, gaps carried forward without limit (as the models' anchor)
    return frame[targets].ffill().to_numpy(dtype=np.float64)


def _origins(
    model: BaselineModel, frame: pd.DataFrame, *, horizon: int, lo: int, hi: int
) -> np.ndarray:
    """Origins in [lo, hi) whose `horizon` targets were all observed and with a value to repeat."""
    raw = frame[model.targets].to_numpy(dtype=np.float64)
    known = _known(frame, model.targets)
    need = model.spec.season if model.spec.architecture == "seasonal_naive" else 1
    origins = window_origins(
        lookback=need,
        horizon=horizon,
        lo=max(lo, need),
        hi=hi,
        input_ok=np.ones(len(frame), dtype=bool),
        target_ok=np.isfinite(raw).all(axis=1),
    )
    return np.asarray(origins[np.isfinite(known[origins - 1]).all(axis=1)])


def _rows(
    model: BaselineModel,
    frame: pd.DataFrame,
    origins: np.ndarray,
    *,
    split: str,
    horizon: int,
    insample: np.ndarray,
    coverage: bool,
) -> tuple[list[Any], np.ndarray]:
    raw = frame[model.targets].to_numpy(dtype=np.float64)
    known = _known(frame, model.targets)
    season = season_length(model.freq)
    bt = rolling_origin(
        lambda o, h: model.forecast_origins(known, o, h),
        origins=origins,
        horizon=horizon,
        actual=raw,
        known=known,
        season=season,
    )
    width = model.half_widths(model.spec.level, horizon) if coverage else None
    rows = report_rows(split, model.targets, bt, insample=insample, season=season, half_width=width)
    return rows, np.abs(bt.actual - bt.model)


def fit_baseline(
    frame: pd.DataFrame,
    *,
    architecture: str,
    strategy: str,
    targets: tuple[str, ...],
    horizon: int,
    freq: str,
    level: float = 0.9,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
) -> BaselineModel:
    """A baseline whose intervals are calibrated like a model's: split conformal half-widths
    (Calibration.fit) from its |residuals| on the validation split of the same borders."""
    freq = normalize_freq(freq)
    spec = BaselineSpec(
        architecture=architecture,
        strategy=strategy,
        targets=tuple(targets),
        horizon=horizon,
        season=season_length(freq),
        level=level,
        val_fraction=val_fraction,
        test_fraction=test_fraction,
    )
    borders = split_borders(len(frame), val_fraction=val_fraction, test_fraction=test_fraction)
    idx = frame.index
    model = BaselineModel(
        spec=spec,
        freq=freq,
        data_range={
            "start": idx[0].isoformat(),
            "end": idx[-1].isoformat(),
            "train_end": idx[borders.train_end - 1].isoformat(),
            "valid_end": idx[borders.valid_end - 1].isoformat(),
        },
    )
    valid_o = _origins(model, frame, horizon=horizon, lo=borders.train_end, hi=borders.valid_end)
    if len(valid_o):
        raw = frame[model.targets].to_numpy(dtype=np.float64)
        _, abs_res = _rows(
            model,
            frame,
            valid_o,
            split="valid",
            horizon=horizon,
            insample=raw[: borders.train_end],
            coverage=False,
        )
        finite = np.isfinite(abs_res).all(axis=(1, 2))
        model.calibration = Calibration.fit(abs_res[finite], levels=(*CALIBRATION_LEVELS, level))
    return model


def evaluate_baseline(
    model: BaselineModel, frame: pd.DataFrame, *, origins: int, horizon: int | None = None
) -> EvaluationReport:
    """Rolling-origin backtest on the last `origins` origins, as evaluate_model does for a model:
    rows split="backtest", MASE and MAPE scaled by the frame's part before the first origin."""
    h = model.check_horizon(horizon)
    if origins <= 0:
        raise InvalidRequest(f"origins={origins} must be at least 1")
    chosen = last_origins(_origins(model, frame, horizon=h, lo=0, hi=len(frame)), origins)
    if len(chosen) == 0:
        raise InvalidData(
            f"no origin in the frame ({len(frame)} rows) has {h} observed target steps after it"
        )
    raw = frame[model.targets].to_numpy(dtype=np.float64)
    rows, _ = _rows(
        model,
        frame,
        chosen,
        split="backtest",
        horizon=h,
        insample=raw[: chosen[0]],
        coverage=True,
    )
    return EvaluationReport(rows)
