"""Attention over encoder states: additive (Bahdanau) and dot-product (Luong)."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class AdditiveAttention(nn.Module):
    """score(q, k_j) = v' tanh(W q + U k_j) (Bahdanau et al., 2015)."""

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.query = nn.Linear(hidden_size, hidden_size, bias=False)
        self.key = nn.Linear(hidden_size, hidden_size)
        self.v = nn.Linear(hidden_size, 1, bias=False)

    def keys(self, memory: Tensor) -> Tensor:
        """Project the encoder states once per sequence: (B, L, hidden) -> (B, L, hidden)."""
        keys: Tensor = self.key(memory)
        return keys

    def forward(self, query: Tensor, keys: Tensor, memory: Tensor) -> tuple[Tensor, Tensor]:
        """query (B, hidden), keys/memory (B, L, hidden) -> context (B, hidden), weights (B, L)."""
        scores = self.v(torch.tanh(keys + self.query(query).unsqueeze(1))).squeeze(2)  # (B, L)
        weights = torch.softmax(scores, dim=1)
        return torch.bmm(weights.unsqueeze(1), memory).squeeze(1), weights


class DotAttention(nn.Module):
    """score(q, k_j) = q . k_j (Luong et al., 2015, "dot")."""

    def keys(self, memory: Tensor) -> Tensor:
        return memory

    def forward(self, query: Tensor, keys: Tensor, memory: Tensor) -> tuple[Tensor, Tensor]:
        """query (B, hidden), keys/memory (B, L, hidden) -> context (B, hidden), weights (B, L)."""
        scores = torch.bmm(keys, query.unsqueeze(2)).squeeze(2)  # (B, L)
        weights = torch.softmax(scores, dim=1)
        return torch.bmm(weights.unsqueeze(1), memory).squeeze(1), weights


def relative_entropy(weights: Tensor) -> Tensor:
    """Each row's entropy over its last axis divided by that of the uniform weights, log(n):
    1 is uniform (attends to nothing in particular), 0 all weight on one column. (..., n) -> (...)."""
    n = weights.shape[-1]
    if n < 2:
        return torch.zeros(weights.shape[:-1], dtype=weights.dtype)
    p = weights.clamp_min(0)
    ent = -(p * torch.log(p.clamp_min(1e-12))).sum(dim=-1)
    return ent / torch.log(torch.tensor(float(n), dtype=weights.dtype))


def season_column(row: int, *, unit: int, lookback: int, season: int) -> int | None:
    """The lookback column holding the most recent step one season (or a whole number of seasons)
    before the first forecast step of attention row `row`, or None when a season is longer than the
    lookback. Rows and columns cover `unit` steps each; column 0 starts at the lookback's first step."""
    if season > lookback:
        return None
    first = row * unit  # offset of the row's first forecast step from the origin (0 = step 1)
    back = first % season - season  # the same phase, before the origin: -season <= back < 0
    return (back + lookback) // unit


def season_peak_share(weights: Tensor, *, unit: int, lookback: int, season: int) -> float:
    """Share of attention rows whose largest weight falls on `season_column` (chance: 1 / columns).

    weights: (..., rows, cols)."""
    rows = weights.shape[-2]
    target = [season_column(r, unit=unit, lookback=lookback, season=season) for r in range(rows)]
    if any(t is None for t in target):
        return float("nan")
    want = torch.tensor(target, dtype=torch.int64)
    return float((weights.argmax(dim=-1) == want).double().mean())
