"""From a storage frame to model-space arrays and back: gap filling, a transform per variable
(level, log return, log1p), the global scaler and calendar covariates, with JSON-able state.

Gaps: inputs are forward-filled for at most `fill_limit` rows; targets are never filled, and no
window with an unobserved target is used for training or scoring.

Transforms are chosen per variable on the training split: a transform asked for that cannot
apply to a variable (a log return of a volume with zero days) falls back for that variable, with
the reason recorded. A value the chosen transform cannot take later on (a zero under a log
return) is treated as a gap, never as -inf.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, cast

import numpy as np
import pandas as pd

from forecaster.data.calendar import calendar_features, calendar_names
from forecaster.data.scaling import GlobalScaler, levels_from_log_returns, log_returns

logger = logging.getLogger(__name__)

Transform = Literal["level", "log_return", "log1p"]
TRANSFORMS: tuple[Transform, ...] = ("level", "log_return", "log1p")
MAX_TRAIN_NAN_SHARE = 0.5  # an input missing on more of the training split than this is dropped


def choose_transforms(
    train: np.ndarray, variables: Sequence[str], requested: Transform
) -> tuple[tuple[Transform, ...], dict[str, str]]:
    """The transform each variable gets, and why for those that did not get `requested`.

    log_return needs values > 0 (prices); a variable with zeros but none negative (a volume with
    no-trade days) gets log1p instead, anything else stays at level. log1p needs values >= 0.

    Args:
        train: (T, F) float64 levels of the training split only (NaN = gap).
    """
    chosen: list[Transform] = []
    reasons: dict[str, str] = {}
    for j, var in enumerate(variables):
        col = train[:, j]
        finite = col[np.isfinite(col)]
        low = float(finite.min()) if finite.size else float("nan")
        t: Transform = requested
        if requested == "log_return" and not (finite.size and low > 0):
            t = "log1p" if finite.size and low >= 0 else "level"
            n_bad = int((finite <= 0).sum())
            reasons[var] = (
                f"log_return needs values > 0 but {var!r} has {n_bad} value(s) <= 0 in the "
                f"training split (min {low:g}); {t} instead"
            )
        elif requested == "log1p" and not (finite.size and low >= 0):
            t = "level"
            reasons[var] = (
                f"log1p needs values >= 0 but {var!r} has negative values in the training split "
                f"(min {low:g}); level instead"
            )
        chosen.append(t)
    return tuple(chosen), reasons


def screen_inputs(
    frame: pd.DataFrame, *, border: int, inputs: Sequence[str], targets: Sequence[str]
) -> tuple[list[str], dict[str, str]]:
    """Inputs worth keeping, and why each other one was dropped, judged on rows [0, border).

    An input that is not a target is dropped when more than half of the training split is
    missing or when it is constant there (zero variance: it carries nothing to learn from).
    Targets are never dropped.
    """
    train = frame.iloc[:border]
    kept: list[str] = []
    dropped: dict[str, str] = {}
    for var in inputs:
        if var in targets:
            kept.append(var)
            continue
        col = train[var].astype("float64")
        nan_share = float(col.isna().mean()) if len(col) else 1.0
        finite = col.dropna()
        if nan_share > MAX_TRAIN_NAN_SHARE:
            dropped[var] = f"{nan_share:.0%} of the training split is missing"
        elif finite.nunique() <= 1:
            value = f" ({float(finite.iloc[0]):g})" if len(finite) else ""
            dropped[var] = f"constant{value} in the training split"
        else:
            kept.append(var)
    for var, why in dropped.items():
        logger.warning("input %r dropped: %s", var, why)
    return kept, dropped


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
    transform: Transform = "level"  # the transform asked for
    scaler: GlobalScaler | None = None
    fill_limit: int = 3
    calendar: bool = True
    transforms: tuple[Transform, ...] | None = None  # per variable; None: `transform` for all
    notes: tuple[tuple[str, str], ...] = ()  # (variable, why it did not get `transform`)
    dropped: tuple[tuple[str, str], ...] = ()  # (input, why it was left out)

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
        dropped: dict[str, str] | None = None,
    ) -> Pipeline:
        """Fit on frame rows [0, border): the border is required, nothing after it is read."""
        train_raw = frame.iloc[:border].loc[:, list(variables)].astype("float64")
        per_var, reasons = choose_transforms(
            np.ascontiguousarray(train_raw.to_numpy(dtype=np.float64)), variables, transform
        )
        for var, why in reasons.items():
            logger.info("transform of %r: %s", var, why)
        unfitted = cls(
            variables=variables,
            freq=freq,
            transform=transform,
            fill_limit=fill_limit,
            calendar=calendar,
            transforms=per_var,
            notes=tuple(reasons.items()),
            dropped=tuple((dropped or {}).items()),
        )
        if not global_scale:
            return unfitted
        train = unfitted._transformed(unfitted._levels(frame.iloc[:border])[1])
        return replace(unfitted, scaler=GlobalScaler.fit(train, border=border))

    @property
    def per_variable(self) -> tuple[Transform, ...]:
        """The transform of each variable, in `variables` order."""
        if self.transforms is not None:
            return self.transforms
        return tuple(self.transform for _ in self.variables)

    @property
    def needs_previous_row(self) -> bool:
        """A log return needs the row before the first one it is computed for."""
        return "log_return" in self.per_variable

    @property
    def n_calendar(self) -> int:
        return len(calendar_names(self.freq)) if self.calendar else 0

    def _domain_mask(self, values: np.ndarray) -> np.ndarray:
        """bool (T, F): values outside their transform's domain (<= 0 for a log return, < 0 for
        log1p), which are treated as gaps rather than turned into -inf or NaN silently."""
        per_var = self.per_variable
        lr = np.array([t == "log_return" for t in per_var], dtype=bool)
        l1 = np.array([t == "log1p" for t in per_var], dtype=bool)
        with np.errstate(invalid="ignore"):
            return np.asarray((lr & (values <= 0)) | (l1 & (values < 0)))

    def _levels(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        sub = frame.loc[:, list(self.variables)].astype("float64")
        # C order whatever the frame's block layout, so every reduction sums in one order
        raw = np.ascontiguousarray(sub.to_numpy(dtype=np.float64))
        bad = self._domain_mask(raw)
        usable = pd.DataFrame(np.where(bad, np.nan, raw)) if bad.any() else sub
        filled = usable.ffill(limit=self.fill_limit) if self.fill_limit > 0 else usable
        return raw, np.ascontiguousarray(filled.to_numpy(dtype=np.float64))

    def _transformed(self, levels: np.ndarray) -> np.ndarray:
        per_var = self.per_variable
        if all(t == "level" for t in per_var):
            return levels
        out = levels.copy()
        lr = [j for j, t in enumerate(per_var) if t == "log_return"]
        l1 = [j for j, t in enumerate(per_var) if t == "log1p"]
        if lr:
            out[:, lr] = log_returns(levels[:, lr])
        if l1:
            out[:, l1] = np.log1p(levels[:, l1])
        return out

    def encode(self, frame: pd.DataFrame) -> Encoded:
        """Arrays for a whole frame (rows in time order, DatetimeIndex)."""
        raw, levels = self._levels(frame)
        transformed = self._transformed(levels)
        scaled = self.scaler.transform(transformed) if self.scaler is not None else transformed
        index = pd.DatetimeIndex(frame.index)
        # the last level a forecast grows from: one its transform can take
        bad = self._domain_mask(raw)
        anchor = pd.DataFrame(np.where(bad, np.nan, raw)).ffill().to_numpy(dtype=np.float64)
        return Encoded(
            index=index,
            raw=raw,
            levels=levels,
            anchor=anchor,
            values=scaled.astype(np.float32),
            calendar=calendar_features(index, self.freq) if self.calendar else None,
        )

    def decode(self, y: np.ndarray, *, anchor: np.ndarray, idx: list[int]) -> np.ndarray:
        """Model-space outputs back to levels on the original scale, each with its own transform.

        Args:
            y: (N, H, V) model-space outputs for the input columns `idx`.
            anchor: (N, V) last known level of those variables before each forecast.
        Returns:
            (N, H, V) float64.
        """
        y64 = np.asarray(y, dtype=np.float64)
        unscaled = self.scaler.inverse(y64, idx) if self.scaler is not None else y64
        per_var = [self.per_variable[j] for j in idx]
        if all(t == "level" for t in per_var):
            return unscaled
        out = unscaled.copy()
        lr = [k for k, t in enumerate(per_var) if t == "log_return"]
        l1 = [k for k, t in enumerate(per_var) if t == "log1p"]
        if lr:
            out[:, :, lr] = levels_from_log_returns(anchor[:, lr], unscaled[:, :, lr])
        if l1:
            out[:, :, l1] = np.expm1(unscaled[:, :, l1])
        return out

    def state(self) -> dict[str, Any]:
        return {
            "variables": list(self.variables),
            "freq": self.freq,
            "transform": self.transform,
            "transforms": dict(zip(self.variables, self.per_variable, strict=True)),
            "transform_notes": dict(self.notes),
            "dropped": dict(self.dropped),
            "global_scaler": None if self.scaler is None else self.scaler.state(),
            "fill_limit": self.fill_limit,
            "calendar": list(calendar_names(self.freq)) if self.calendar else [],
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Pipeline:
        """Rebuild from `state()`; a state from before per-variable transforms uses `transform`
        for every variable."""
        scaler = state["global_scaler"]
        variables = tuple(state["variables"])
        per_var = state.get("transforms")
        transforms = None
        if per_var is not None:
            transforms = tuple(cast(Transform, per_var[v]) for v in variables)
            unknown = sorted({t for t in transforms if t not in TRANSFORMS})
            if unknown:
                raise ValueError(f"unknown transform(s) {unknown}; valid: {', '.join(TRANSFORMS)}")
        return cls(
            variables=variables,
            freq=state["freq"],
            transform=state["transform"],
            scaler=None if scaler is None else GlobalScaler.from_state(scaler),
            fill_limit=int(state["fill_limit"]),
            calendar=bool(state["calendar"]),
            transforms=transforms,
            notes=tuple((state.get("transform_notes") or {}).items()),
            dropped=tuple((state.get("dropped") or {}).items()),
        )
