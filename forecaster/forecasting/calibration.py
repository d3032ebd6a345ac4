"""Interval value objects fixed at training: split conformal half-widths (Calibration) and how a
version's adaptive intervals are made (IntervalSetup)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from forecaster.backtest import conformal_quantiles
from forecaster.values import finite_or_none

CALIBRATION_LEVELS = (0.5, 0.8, 0.9, 0.95, 0.99)
RECURSIVE_REACH = 4  # a recursive version is checked, and served, up to 4 x its H at most
DEGENERATE = 2.0  # a rolled-out step whose MAE / naive MAE exceeds 2 x that at H ends the reach


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
        widths = [
            [[finite_or_none(v) for v in row] for row in lv] for lv in self.half_widths.tolist()
        ]
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
