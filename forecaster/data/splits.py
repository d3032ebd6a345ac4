"""Time-ordered train/validation/test borders and the window origins that belong to each split.

A window is (lookback rows, then horizon target rows); its *origin* is the row index of its first
target. A window belongs to the split holding all of its target rows. Training windows also keep
their lookback inside the training split, so nothing used for fitting lies past the train border;
validation and test windows may look back across a border (that past is known at forecast time).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

Split = Literal["train", "valid", "test"]


@dataclass(frozen=True)
class SplitBorders:
    """Row borders: train = [0, train_end), valid = [train_end, valid_end), test = [valid_end, n_rows)."""

    n_rows: int
    train_end: int
    valid_end: int

    def rows(self, split: Split) -> tuple[int, int]:
        """The [start, end) rows of one split."""
        return {
            "train": (0, self.train_end),
            "valid": (self.train_end, self.valid_end),
            "test": (self.valid_end, self.n_rows),
        }[split]


def split_borders(n_rows: int, *, val_fraction: float, test_fraction: float) -> SplitBorders:
    """Split `n_rows` time-ordered rows: the last `test_fraction` is test, the `val_fraction` before it validation."""
    if not (
        0.0 <= val_fraction < 1.0
        and 0.0 <= test_fraction < 1.0
        and val_fraction + test_fraction < 1.0
    ):
        raise ValueError(
            f"bad fractions: val_fraction={val_fraction}, test_fraction={test_fraction}"
        )
    n_test = round(n_rows * test_fraction)
    n_valid = round(n_rows * val_fraction)
    valid_end = n_rows - n_test
    return SplitBorders(n_rows=n_rows, train_end=valid_end - n_valid, valid_end=valid_end)


def all_true_runs(ok: np.ndarray, length: int) -> np.ndarray:
    """For each start s, whether ok[s : s + length] is all True (vectorized with a cumulative sum).

    Args:
        ok: bool (T,) or (T, F); with F columns every column must be True.
    Returns:
        bool (T - length + 1,), empty when T < length.
    """
    row_ok = np.asarray(ok if ok.ndim == 1 else ok.all(axis=1), dtype=bool)
    n = len(row_ok) - length + 1
    if n <= 0:
        return np.zeros(0, dtype=bool)
    bad = np.concatenate([[0], np.cumsum(~row_ok)])
    return np.asarray((bad[length:] - bad[:n]) == 0)


def window_origins(
    *,
    lookback: int,
    horizon: int,
    lo: int,
    hi: int,
    input_ok: np.ndarray,
    target_ok: np.ndarray,
    keep_lookback_inside: bool = False,
    stride: int = 1,
) -> np.ndarray:
    """Origins o whose targets [o, o + horizon) lie in [lo, hi), with finite inputs and targets.

    Args:
        lookback, horizon: window sizes L and H.
        lo, hi: the split's rows; the border `hi` is required so a caller cannot forget it.
        input_ok: bool (T,) per row: the inputs are usable (finite after the allowed filling).
        target_ok: bool (T,) per row: the targets are observed (never filled).
        keep_lookback_inside: also require o - lookback >= lo (training windows).
        stride: keep every `stride`-th candidate origin, counting from the first.
    Returns:
        int64 (N,) origins, ascending.
    """
    first = max(lookback, lo + lookback if keep_lookback_inside else lo)
    last = hi - horizon  # inclusive
    if last < first:
        return np.zeros(0, dtype=np.int64)
    origins = np.arange(first, last + 1, stride)
    inputs_fine = all_true_runs(input_ok, lookback)[origins - lookback]
    targets_fine = all_true_runs(target_ok, horizon)[origins]
    return np.asarray(origins[inputs_fine & targets_fine], dtype=np.int64)
