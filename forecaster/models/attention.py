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
