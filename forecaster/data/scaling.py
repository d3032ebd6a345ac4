"""Scalers: a global StandardScaler fitted on the train split, per-window RevIN, and log returns.

Every piece records JSON-able state (RevIN's learnable affine lives in the model's weights),
so a loaded model reproduces its predictions exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from sklearn.preprocessing import StandardScaler
from torch import Tensor, nn


@dataclass(frozen=True)
class GlobalScaler:
    """Per-variable (x - mean) / scale, fitted on the rows before the train border only."""

    mean: tuple[float, ...]
    scale: tuple[float, ...]

    @classmethod
    def fit(cls, values: np.ndarray, *, border: int) -> GlobalScaler:
        """Fit on values[:border]; NaN is ignored, a constant column gets scale 1.

        The border is required: a scaler fitted past it would leak the future into training.

        Args:
            values: (T, F) float.
        """
        # C order: the same rows in another memory layout would be summed in another order
        train = np.ascontiguousarray(values[:border], dtype=np.float64)
        if train.shape[0] == 0 or np.isnan(train).all(axis=0).any():
            raise ValueError("every column needs at least one finite value before the border")
        sk = StandardScaler().fit(train)
        assert sk.mean_ is not None and sk.scale_ is not None
        return cls(
            mean=tuple(float(v) for v in sk.mean_),
            scale=tuple(float(v) for v in sk.scale_),
        )

    def transform(self, values: np.ndarray) -> np.ndarray:
        """(..., F) -> (..., F), float64."""
        centered = np.asarray(values, dtype=np.float64) - np.asarray(self.mean)
        return np.asarray(centered / np.asarray(self.scale))

    def inverse(self, values: np.ndarray, idx: list[int] | None = None) -> np.ndarray:
        """Undo `transform` on (..., V) where V are columns `idx` (all when None)."""
        mean, scale = np.asarray(self.mean), np.asarray(self.scale)
        if idx is not None:
            mean, scale = mean[idx], scale[idx]
        return np.asarray(np.asarray(values, dtype=np.float64) * scale + mean)

    def state(self) -> dict[str, Any]:
        return {"mean": list(self.mean), "scale": list(self.scale)}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> GlobalScaler:
        return cls(
            mean=tuple(float(v) for v in state["mean"]),
            scale=tuple(float(v) for v in state["scale"]),
        )


def log_returns(levels: np.ndarray) -> np.ndarray:
    """r_t = log x_t - log x_(t-1); the first row is NaN (no previous level).

    Args:
        levels: (T, F), positive where finite.
    """
    logs = np.log(np.asarray(levels, dtype=np.float64))
    out = np.full_like(logs, np.nan)
    out[1:] = logs[1:] - logs[:-1]
    return out


def levels_from_log_returns(anchor: np.ndarray, returns: np.ndarray) -> np.ndarray:
    """Invert `log_returns` forward from the last known level.

    Args:
        anchor: (N, V) last observed level before each forecast.
        returns: (N, H, V) predicted log returns.
    Returns:
        (N, H, V) levels: anchor * exp(cumulative sum of returns).
    """
    growth = np.exp(np.cumsum(np.asarray(returns, dtype=np.float64), axis=1))
    return np.asarray(np.asarray(anchor, dtype=np.float64)[:, None, :] * growth)


class RevIN(nn.Module):
    """Reversible instance normalization (Kim et al., 2022): each lookback window is standardized
    by its own mean and std, and the model's outputs are mapped back with the same statistics.

    With `affine`, a learnable per-variable weight and bias are applied after normalizing
    (and removed before denormalizing); they are ordinary parameters, saved with the weights.
    """

    def __init__(self, n_features: int, *, affine: bool = False, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.affine = affine
        if affine:
            self.weight = nn.Parameter(torch.ones(n_features))
            self.bias = nn.Parameter(torch.zeros(n_features))

    def stats(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Mean and std over time of each window: (B, L, F) -> 2 x (B, 1, F)."""
        mean = x.mean(dim=1, keepdim=True).detach()
        std = torch.sqrt(x.var(dim=1, keepdim=True, unbiased=False) + self.eps).detach()
        return mean, std

    def normalize(
        self, x: Tensor, stats: tuple[Tensor, Tensor], idx: Tensor | None = None
    ) -> Tensor:
        """(B, T, V) -> (B, T, V), V the columns `idx` of the statistics (all when None)."""
        mean, std = stats
        if idx is not None:
            mean, std = mean.index_select(2, idx), std.index_select(2, idx)
        x = (x - mean) / std
        if self.affine:
            w, b = (self.weight, self.bias) if idx is None else (self.weight[idx], self.bias[idx])
            x = x * w + b
        return x

    def denormalize(
        self, y: Tensor, stats: tuple[Tensor, Tensor], idx: Tensor | None = None
    ) -> Tensor:
        """Inverse of `normalize` for outputs (B, H, V)."""
        mean, std = stats
        if idx is not None:
            mean, std = mean.index_select(2, idx), std.index_select(2, idx)
        if self.affine:
            w, b = (self.weight, self.bias) if idx is None else (self.weight[idx], self.bias[idx])
            y = (y - b) / (w + self.eps * self.eps)
        return y * std + mean
