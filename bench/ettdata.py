"""The ETTh1 long-horizon protocol (Informer/Autoformer) on the library's data pieces.

ETTh1 hourly, 7 variables in and out. Borders 12/4/4 months of 30 days: train rows [0, 8640),
validation [8640, 11520), test [11520, 14400); validation and test windows look back L rows across
their border, so the first target of each split is its first row. Every column is z-scored with
the training rows' mean and std (the library's GlobalScaler, fitted on rows before 8640 only).
Stride 1, every window of each split counted.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from forecaster.data.scaling import GlobalScaler
from forecaster.data.splits import window_origins
from forecaster.data.windows import WindowSet, make_window_set

CSV = os.environ.get(
    "ETTH1_CSV", str(Path(__file__).resolve().parents[1] / "data" / "ett" / "ETTh1.csv")
)
COLUMNS = ("HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT")
TRAIN_END, VALID_END, TEST_END = 12 * 30 * 24, 16 * 30 * 24, 20 * 30 * 24  # 8640, 11520, 14400


@dataclass(frozen=True)
class Protocol:
    values: np.ndarray  # (14400, 7) float32, z-scored with training statistics
    train: WindowSet
    valid: WindowSet
    test: WindowSet


def load_values(csv: str = CSV) -> np.ndarray:
    """(14400, 7) float32 model-space values."""
    frame = pd.read_csv(csv)
    raw = frame.loc[: TEST_END - 1, list(COLUMNS)].to_numpy(dtype=np.float64)
    if raw.shape != (TEST_END, len(COLUMNS)):
        raise ValueError(f"{csv}: expected {TEST_END} rows of {COLUMNS}, got {raw.shape}")
    scaler = GlobalScaler.fit(raw, border=TRAIN_END)
    return scaler.transform(raw).astype(np.float32)


def protocol(lookback: int, horizon: int, *, values: np.ndarray | None = None) -> Protocol:
    """Train/validation/test WindowSets (lookback L, horizon H) under the protocol."""
    v = load_values() if values is None else values
    ok = np.ones(len(v), dtype=bool)
    out_idx = list(range(v.shape[1]))

    def windows(lo: int, hi: int, inside: bool) -> WindowSet:
        origins = window_origins(
            lookback=lookback,
            horizon=horizon,
            lo=lo,
            hi=hi,
            input_ok=ok,
            target_ok=ok,
            keep_lookback_inside=inside,
        )
        return make_window_set(
            v, None, origins, lookback=lookback, horizon=horizon, out_idx=out_idx
        )

    return Protocol(
        values=v,
        train=windows(0, TRAIN_END, True),
        valid=windows(TRAIN_END, VALID_END, False),
        test=windows(VALID_END, TEST_END, False),
    )
