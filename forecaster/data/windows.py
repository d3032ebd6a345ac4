"""Sliding windows as tensor views: batches are gathered by index tensors, never built window by window."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import Tensor


def sliding_windows(values: Tensor, *, size: int, stride: int = 1) -> Tensor:
    """All windows of `size` rows as a view (no copy).

    Args:
        values: (T, F).
    Returns:
        (N, size, F) with N = (T - size) // stride + 1; window i starts at row i * stride.
    """
    return values.unfold(0, size, stride).transpose(1, 2)  # (N, F, size) -> (N, size, F)


def fill_window_gaps(x: Tensor) -> Tensor:
    """Forward-fill, then back-fill, NaN along time inside each window; all-NaN columns stay NaN.

    Args:
        x: (N, L, F).
    """
    if not bool(torch.isnan(x).any()):
        return x
    n, length, f = x.shape
    steps = torch.arange(length, device=x.device).view(1, length, 1).expand(n, length, f)
    seen = ~torch.isnan(x)
    last_seen = torch.where(seen, steps, torch.zeros_like(steps)).cummax(dim=1).values
    filled = torch.gather(x, 1, last_seen)  # forward fill; rows before the first value stay NaN
    first_seen = (
        torch.where(seen, steps, torch.full_like(steps, length - 1))
        .flip(1)
        .cummin(dim=1)
        .values.flip(1)
    )
    backward = torch.gather(x, 1, first_seen)
    return torch.where(torch.isnan(filled), backward, filled)


@dataclass(frozen=True)
class WindowSet:
    """Windows over one model-space series, each (lookback inputs, horizon targets).

    `values` may hold NaN outside the windows listed in `origins`; the windows themselves are
    finite by construction (see `data.splits.window_origins`).
    """

    values: Tensor  # (T, F) float32, model space
    calendar: Tensor | None  # (T, C) float32 or None
    origins: Tensor  # (N,) int64: row of each window's first target
    lookback: int
    horizon: int
    out_idx: Tensor  # (V,) int64: the input columns the model predicts

    def __len__(self) -> int:
        return int(self.origins.shape[0])

    def to(self, device: torch.device | str) -> WindowSet:
        cal = None if self.calendar is None else self.calendar.to(device)
        return replace(
            self,
            values=self.values.to(device),
            calendar=cal,
            origins=self.origins.to(device),
            out_idx=self.out_idx.to(device),
        )

    def batch(self, idx: Tensor) -> tuple[Tensor, Tensor | None, Tensor]:
        """Gather windows `idx` (positions in `origins`).

        Returns:
            x (B, L, F), cal (B, L + H, C) or None, y (B, H, V).
        """
        size = self.lookback + self.horizon
        starts = self.origins[idx] - self.lookback
        win = sliding_windows(self.values, size=size)[starts]  # (B, L + H, F), one gather
        x = win[:, : self.lookback]
        y = win[:, self.lookback :].index_select(2, self.out_idx)
        cal = None
        if self.calendar is not None:
            cal = sliding_windows(self.calendar, size=size)[starts]  # (B, L + H, C)
        return x, cal, y


def make_window_set(
    values: np.ndarray,
    calendar: np.ndarray | None,
    origins: np.ndarray,
    *,
    lookback: int,
    horizon: int,
    out_idx: list[int] | tuple[int, ...],
) -> WindowSet:
    """A WindowSet over numpy arrays (copied once into tensors)."""
    return WindowSet(
        values=torch.as_tensor(values, dtype=torch.float32),
        calendar=None if calendar is None else torch.as_tensor(calendar, dtype=torch.float32),
        origins=torch.as_tensor(origins, dtype=torch.int64),
        lookback=lookback,
        horizon=horizon,
        out_idx=torch.as_tensor(list(out_idx), dtype=torch.int64),
    )


def gather_lookbacks(values: Tensor, origins: Tensor, *, lookback: int) -> Tensor:
    """The lookback windows ending just before each origin, gaps filled inside each window.

    Args:
        values: (T, F); origins: (N,) with lookback <= origin <= T.
    Returns:
        (N, L, F).
    """
    return fill_window_gaps(sliding_windows(values, size=lookback)[origins - lookback])
