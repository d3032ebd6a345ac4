"""Encoder-decoder (LSTM or GRU) with Bahdanau or Luong attention, teacher forcing with a
scheduled-sampling ratio, returning its attention weights."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

import torch
from torch import Tensor, nn

from forecaster.data.scaling import RevIN
from forecaster.models.attention import AdditiveAttention, DotAttention
from forecaster.models.base import init_weights, recurrent_layer

State = Tensor | tuple[Tensor, Tensor]


@dataclass(frozen=True)
class Seq2SeqConfig:
    n_features: int  # F input variables
    horizon: int  # H decoder steps
    out_idx: tuple[int, ...] | None = None  # the inputs to predict; None: all
    n_calendar: int = (
        0  # C calendar covariates: past ones feed the encoder, future ones the decoder
    )
    hidden_size: int = 64
    num_layers: int = 2
    dropout: float = 0.1
    cell: Literal["lstm", "gru"] = "lstm"
    attention: Literal["bahdanau", "luong"] = "bahdanau"
    revin: bool = True
    revin_affine: bool = False

    @property
    def outputs(self) -> tuple[int, ...]:
        return tuple(range(self.n_features)) if self.out_idx is None else self.out_idx


class Seq2SeqOutput(NamedTuple):
    y_hat: Tensor  # (B, H, V)
    attention: Tensor  # (B, H, L): decoder step h's weights over the lookback


def _top(state: State) -> Tensor:
    """The last layer's hidden state (B, hidden)."""
    return state[0][-1] if isinstance(state, tuple) else state[-1]


class Seq2Seq(nn.Module):
    """Bahdanau: the context comes from the previous decoder state and is an input of the step.
    Luong: the step runs first; its output queries the encoder and an attentional layer
    tanh(W [context; state]) feeds the head."""

    out_idx: Tensor

    def __init__(self, cfg: Seq2SeqConfig) -> None:
        super().__init__()
        self.cfg = cfg
        n_out, h = len(cfg.outputs), cfg.hidden_size
        self.register_buffer(
            "out_idx", torch.tensor(cfg.outputs, dtype=torch.int64), persistent=False
        )
        self.revin = RevIN(cfg.n_features, affine=cfg.revin_affine) if cfg.revin else None
        self.encoder = recurrent_layer(
            cfg.cell,
            cfg.n_features + cfg.n_calendar,
            h,
            num_layers=cfg.num_layers,
            dropout=cfg.dropout,
        )
        additive = cfg.attention == "bahdanau"
        self.attn: AdditiveAttention | DotAttention = (
            AdditiveAttention(h) if additive else DotAttention()
        )
        dec_in = n_out + cfg.n_calendar + (h if additive else 0)
        self.decoder = recurrent_layer(
            cfg.cell, dec_in, h, num_layers=cfg.num_layers, dropout=cfg.dropout
        )
        # Luong's attentional layer; Bahdanau uses it as the head's hidden layer
        self.combine = nn.Linear(2 * h, h)
        self.drop = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(h, n_out)
        init_weights(self)

    def forward(
        self,
        x: Tensor,
        cal: Tensor | None = None,
        target: Tensor | None = None,
        teacher_forcing: float = 0.0,
    ) -> Seq2SeqOutput:
        """Encode the lookback, decode H steps.

        Args:
            x: (B, L, F) inputs; cal: (B, L + H, C) calendar or None.
            target: (B, H, V) true outputs; with `teacher_forcing` > 0 in training, each sample's
                next decoder input is the truth with that probability, else its own prediction.
        """
        b, length, _ = x.shape
        stats = None
        if self.revin is not None:
            stats = self.revin.stats(x)
            x = self.revin.normalize(x, stats)
            if target is not None:
                target = self.revin.normalize(target, stats, self.out_idx)
        enc_in = x if cal is None else torch.cat([x, cal[:, :length]], dim=2)  # (B, L, F + C)
        memory, state = self.encoder(enc_in)  # (B, L, hidden)
        keys = self.attn.keys(memory)
        force = self.training and target is not None and teacher_forcing > 0.0
        y_prev = x[:, -1].index_select(1, self.out_idx)  # (B, V): the last observed values
        outputs, weights = [], []
        for t in range(
            self.cfg.horizon
        ):  # the one loop over H: each step needs the previous output
            parts = [y_prev] if cal is None else [y_prev, cal[:, length + t]]
            if isinstance(self.attn, AdditiveAttention):
                context, w = self.attn(_top(state), keys, memory)
                out, state = self.decoder(torch.cat([*parts, context], dim=1).unsqueeze(1), state)
            else:
                out, state = self.decoder(torch.cat(parts, dim=1).unsqueeze(1), state)
                context, w = self.attn(out[:, 0], keys, memory)
            hidden = torch.tanh(self.combine(torch.cat([context, out[:, 0]], dim=1)))  # (B, hidden)
            y_t = self.head(self.drop(hidden))  # (B, V)
            outputs.append(y_t)
            weights.append(w)
            if force and target is not None:
                # scheduled sampling, drawn on the device: no host sync
                use_truth = torch.rand(b, 1, device=x.device) < teacher_forcing
                y_prev = torch.where(use_truth, target[:, t], y_t)
            else:
                y_prev = y_t
        y_hat = torch.stack(outputs, dim=1)  # (B, H, V)
        if stats is not None and self.revin is not None:
            y_hat = self.revin.denormalize(y_hat, stats, self.out_idx)
        return Seq2SeqOutput(y_hat, torch.stack(weights, dim=1))  # (B, H, V), (B, H, L)
