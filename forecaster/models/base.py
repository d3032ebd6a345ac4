"""What every forecasting module shares: the recurrent layer classes and weight initialization."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, Protocol

from torch import nn

Cell = Literal["lstm", "gru", "rnn"]
RECURRENT: dict[str, Callable[..., nn.RNNBase]] = {
    "lstm": nn.LSTM,
    "gru": nn.GRU,
    "rnn": nn.RNN,
}


def recurrent_layer(
    cell: str,
    input_size: int,
    hidden_size: int,
    *,
    num_layers: int,
    dropout: float,
    bidirectional: bool = False,
) -> nn.RNNBase:
    """A batch-first cuDNN-style stacked recurrent layer; dropout only acts between layers."""
    return RECURRENT[cell](
        input_size,
        hidden_size,
        num_layers=num_layers,
        batch_first=True,
        dropout=dropout if num_layers > 1 else 0.0,
        bidirectional=bidirectional,
    )


class SegmentConfig(Protocol):
    @property
    def segment_len(self) -> int | None: ...
    @property
    def lookback(self) -> int | None: ...
    @property
    def horizon(self) -> int: ...


def segment_counts(cfg: SegmentConfig, model: str) -> tuple[int, int]:
    """A segment model's (lookback segments, output segments); the last output segment is cut
    to H. Raises when the config has no segment length or L is not a multiple of it."""
    w, lookback = cfg.segment_len, cfg.lookback
    if w is None or lookback is None:
        raise ValueError(f"{model} needs segment_len and lookback")
    if lookback % w:
        raise ValueError(f"lookback={lookback} is not a multiple of segment_len={w}")
    return lookback // w, -(-cfg.horizon // w)


def init_weights(module: nn.Module) -> None:
    """Xavier for input and linear weights, orthogonal for recurrent weights, zero biases
    (an LSTM's forget-gate bias starts at 1 so early gradients flow through time)."""
    for sub in module.modules():
        if isinstance(sub, nn.Linear):
            nn.init.xavier_uniform_(sub.weight)
            if sub.bias is not None:
                nn.init.zeros_(sub.bias)
        elif isinstance(sub, nn.RNNBase):
            for name, param in sub.named_parameters():
                if name.startswith("weight_ih"):
                    nn.init.xavier_uniform_(param)
                elif name.startswith("weight_hh"):
                    nn.init.orthogonal_(param)
                elif name.startswith("bias"):
                    nn.init.zeros_(param)
                    if isinstance(sub, nn.LSTM) and name.startswith("bias_ih"):
                        h = sub.hidden_size
                        nn.init.ones_(param[h : 2 * h])  # gate order: input, forget, cell, output
