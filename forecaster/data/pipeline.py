"""From a storage frame to model-space arrays and back: gap filling, level/log-return transform,
the global scaler and calendar covariates, with JSON-able state.

Gaps: inputs are forward-filled for at most `fill_limit` rows; targets are never filled, and no
window with an unobserved target is used for training or scoring.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from forecaster.data.calendar import calendar_features, calendar_names
from forecaster.data.scaling import GlobalScaler, levels_from_log_returns, log_returns

Transform = Literal["level", "log_return"]


@dataclass(frozen=True)
class Encoded:
    """One frame in every form the models and metrics need (T rows, F input variables)."""

    index: pd.DatetimeIndex
    raw: np.ndarray  # (T, F) float64, NaN = gap, as stored
    levels: np.ndarray  # (T, F) float64, forward-filled up to fill_limit rows
    anchor: np.ndarray  # (T, F) float64, forward-filled without limit: the last known level
    values: np.ndarray  # (T, F) float32, model space (transformed, scaled); NaN where unknown
    calendar: np.ndarray | None  # (T, C) float32

    @property
    def input_ok(self) -> np.ndarray:
        """bool (T,): every input usable at this row."""
        return np.asarray(np.isfinite(self.values).all(axis=1))

    def observed(self, idx: list[int]) -> np.ndarray:
        """bool (T,): the variables `idx` were all observed (not filled) at this row."""
        return np.asarray(np.isfinite(self.raw[:, idx]).all(axis=1))


@dataclass(frozen=True)
class Pipeline:
    """How a model sees its data; fitted on the training split only."""

    variables: tuple[str, ...]
    freq: str
    transform: Transform = "level"
    scaler: GlobalScaler | None = None
    fill_limit: int = 3
    calendar: bool = True

    @classmethod
    def fit(
        cls,
        frame: pd.DataFrame,
        *,
        border: int,
        variables: tuple[str, ...],
        freq: str,
        transform: Transform,
        global_scale: bool,
        fill_limit: int,
        calendar: bool,
    ) -> Pipeline:
        """Fit on frame rows [0, border): the border is required, nothing after it is read."""
        unfitted = cls(
            variables=variables,
            freq=freq,
            transform=transform,
            fill_limit=fill_limit,
            calendar=calendar,
        )
        if not global_scale:
            return unfitted
        train = unfitted._transformed(frame.iloc[:border])
        return cls(
            variables=variables,
            freq=freq,
            transform=transform,
            scaler=GlobalScaler.fit(train, border=border),
            fill_limit=fill_limit,
            calendar=calendar,
        )

    @property
    def n_calendar(self) -> int:
        return len(calendar_names(self.freq)) if self.calendar else 0

    def _levels(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        sub = frame.loc[:, list(self.variables)].astype("float64")
        # C order whatever the frame's block layout, so every reduction sums in one order
        raw = np.ascontiguousarray(sub.to_numpy(dtype=np.float64))
        filled = sub.ffill(limit=self.fill_limit) if self.fill_limit > 0 else sub
        return raw, np.ascontiguousarray(filled.to_numpy(dtype=np.float64))

    def _transformed(self, frame: pd.DataFrame) -> np.ndarray:
        _, levels = self._levels(frame)
        return log_returns(levels) if self.transform == "log_return" else levels

    def encode(self, frame: pd.DataFrame) -> Encoded:
        """Arrays for a whole frame (rows in time order, DatetimeIndex)."""
        raw, levels = self._levels(frame)
        transformed = log_returns(levels) if self.transform == "log_return" else levels
        scaled = self.scaler.transform(transformed) if self.scaler is not None else transformed
        index = pd.DatetimeIndex(frame.index)
        anchor = pd.DataFrame(raw).ffill().to_numpy(dtype=np.float64)
        return Encoded(
            index=index,
            raw=raw,
            levels=levels,
            anchor=anchor,
            values=scaled.astype(np.float32),
            calendar=calendar_features(index, self.freq) if self.calendar else None,
        )

    def decode(self, y: np.ndarray, *, anchor: np.ndarray, idx: list[int]) -> np.ndarray:
        """Model-space outputs back to levels on the original scale.

        Args:
            y: (N, H, V) model-space outputs for the input columns `idx`.
            anchor: (N, V) last known level of those variables before each forecast.
        Returns:
            (N, H, V) float64.
        """
        y64 = np.asarray(y, dtype=np.float64)
        unscaled = self.scaler.inverse(y64, idx) if self.scaler is not None else y64
        if self.transform == "log_return":
            return levels_from_log_returns(anchor, unscaled)
        return unscaled

    def state(self) -> dict[str, Any]:
        return {
            "variables": list(self.variables),
            "freq": self.freq,
            "transform": self.transform,
            "global_scaler": None if self.scaler is None else self.scaler.state(),
            "fill_limit": self.fill_limit,
            "calendar": list(calendar_names(self.freq)) if self.calendar else [],
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Pipeline:
        scaler = state["global_scaler"]
        return cls(
            variables=tuple(state["variables"]),
            freq=state["freq"],
            transform=state["transform"],
            scaler=None if scaler is None else GlobalScaler.from_state(scaler),
            fill_limit=int(state["fill_limit"]),
            calendar=bool(state["calendar"]),
        )
