"""One series made ready to train on: frame and value checks, input screening, the pipeline fitted
on the training split, and the training and validation window origins.

Frames are the storage layer's: a DatetimeIndex named "ts" (naive UTC), one float column per
variable, NaN for gaps. Inputs are forward-filled over gaps of at most `spec.fill_limit` rows;
training and scoring never use a window whose targets are unobserved; a forecast from a lookback
that still has gaps carries values across them inside the window, and refuses a variable whose
whole lookback is empty.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import cast

import numpy as np
import pandas as pd

from forecaster.data.calendar import normalize_freq
from forecaster.data.pipeline import Encoded, Pipeline, Transform, screen_inputs
from forecaster.data.splits import SplitBorders, split_borders, window_origins
from forecaster.data.windows import WindowSet, make_window_set
from forecaster.errors import InvalidData, InvalidRequest
from forecaster.spec import ModelSpec


def check_frame(frame: pd.DataFrame, variables: Sequence[str] | None = None) -> None:
    """Refuse a frame without a unique ascending DatetimeIndex, or lacking any of `variables`."""
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


@dataclass(frozen=True)
class Screening:
    """A spec's variables for one frame: the inputs it would train on, its targets, why each
    other input is left out, and the frame's split borders."""

    inputs: list[str]
    targets: list[str]
    dropped: dict[str, str]
    borders: SplitBorders


def screen_frame(frame: pd.DataFrame, spec: ModelSpec) -> Screening:
    """Check the frame and the spec against it, and screen the inputs on the training split.

    Raises:
        InvalidRequest, InvalidData: with a message saying what to change.
    """
    check_frame(frame)
    spec.validate([str(c) for c in frame.columns], len(frame))
    inputs, targets = spec.resolve([str(c) for c in frame.columns])
    borders = split_borders(
        len(frame), val_fraction=spec.val_fraction, test_fraction=spec.test_fraction
    )
    # constant and mostly-missing inputs carry nothing to learn from: left out, with the reason
    inputs, dropped = screen_inputs(frame, border=borders.train_end, inputs=inputs, targets=targets)
    return Screening(inputs, targets, dropped, borders)


def prepare_data(frame: pd.DataFrame, spec: ModelSpec, *, freq: str) -> TrainingData:
    """Validate, screen the inputs, fit the pipeline on the training split and find the windows.

    Raises:
        InvalidRequest, InvalidData: with a message saying what to change.
    """
    freq = _freq(freq)
    screening = screen_frame(frame, spec)
    inputs, targets = screening.inputs, screening.targets
    dropped, borders = screening.dropped, screening.borders
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
