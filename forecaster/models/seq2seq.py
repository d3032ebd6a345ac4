"""Encoder-decoder (LSTM or GRU) with Bahdanau or Luong attention, teacher forcing with a
scheduled-sampling ratio, returning its attention weights: step-wise (`Seq2Seq`, one decoder step
per horizon step) or segment-wise (`SegmentSeq2Seq`, one decoder step per output segment)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

import torch
from torch import Tensor, nn

from forecaster.data.scaling import RevIN
from forecaster.models.attention import AdditiveAttention, DotAttention
from forecaster.models.base import init_weights, recurrent_layer, segment_counts

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
    lookback: int | None = None  # required with segment_len
    segment_len: int | None = None  # SegmentSeq2Seq: segments of this many steps

    @property
    def outputs(self) -> tuple[int, ...]:
        return tuple(range(self.n_features)) if self.out_idx is None else self.out_idx


class Seq2SeqOutput(NamedTuple):
    y_hat: Tensor  # (B, H, V)
    # (B, rows, cols): decoder step r's weights over the lookback; each row covers `unit` forecast
    # steps and each column `unit` lookback steps (1 step-wise: (B, H, L); a segment model's rows
    # are its output segments, averaged over the variables, and its columns the input segments)
    attention: Tensor
    unit: int = 1
    channel_attention: Tensor | None = None  # (B, V, rows, cols) per variable (segment models)


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


class SegmentSeq2Seq(nn.Module):
    """Seq2seq over segments, channel-independent as SegRNN (Lin et al., 2023): each variable's
    lookback is cut into L/w segments of w steps, embedded (Linear + ReLU, plus a learned position)
    and encoded by the RNN; the decoder emits one w-step output segment per step, ceil(H/w) steps,
    attending over the encoder's segment states (Bahdanau or Luong, as `Seq2Seq`). Its next input is
    the segment it just emitted, or under teacher forcing the true one. Without RevIN each window's
    last value is subtracted (SegRNN's normalization).
    """

    out_idx: Tensor

    def __init__(self, cfg: Seq2SeqConfig) -> None:
        super().__init__()
        self.n_in, self.n_out_segments = segment_counts(cfg, "SegmentSeq2Seq")
        self.cfg = cfg
        w, d = int(cfg.segment_len or 0), cfg.hidden_size
        n_out = len(cfg.outputs)
        self.register_buffer(
            "out_idx", torch.tensor(cfg.outputs, dtype=torch.int64), persistent=False
        )
        self.revin = RevIN(n_out, affine=cfg.revin_affine) if cfg.revin else None
        self.embed = nn.Sequential(nn.Linear(w, d), nn.ReLU())  # a segment of values -> (d,)
        self.in_pos = nn.Parameter(0.1 * torch.randn(self.n_in, d))  # where a lookback segment is
        self.out_pos = nn.Parameter(0.1 * torch.randn(self.n_out_segments, d))
        self.channel_emb = nn.Parameter(0.1 * torch.randn(n_out, d))
        self.rnn = recurrent_layer(
            cfg.cell, d, d, num_layers=cfg.num_layers, dropout=cfg.dropout
        )  # shared by the encoder and the decoder, as SegRNN's
        additive = cfg.attention == "bahdanau"
        self.attn: AdditiveAttention | DotAttention = (
            AdditiveAttention(d) if additive else DotAttention()
        )
        # Bahdanau's context joins the decoder input (added, so the shared cell keeps width d)
        self.context_in = nn.Linear(d, d, bias=False) if additive else None
        self.combine = nn.Linear(2 * d, d)  # the attentional layer tanh(W [context; state])
        self.drop = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(d, w)
        init_weights(self)

    def forward(
        self,
        x: Tensor,
        cal: Tensor | None = None,
        target: Tensor | None = None,
        teacher_forcing: float = 0.0,
    ) -> Seq2SeqOutput:
        """x (B, L, F) -> y_hat (B, H, V), attention (B, M, N): M output, N input segments.

        `cal` is unused (segment models take no calendar); with `teacher_forcing` > 0 in training,
        each series' next decoder input is its true segment with that probability.
        """
        x = x.index_select(2, self.out_idx)  # (B, L, V): channel-independent
        b, _, v = x.shape
        w, m_out = self.cfg.segment_len or 1, self.n_out_segments
        x, target, stats, last = self._normalize(x, target)
        seg = x.permute(0, 2, 1).reshape(b * v, self.n_in, w)  # (B, L, V) -> (B*V, N, w)
        memory, state = self.rnn(self.embed(seg) + self.in_pos)  # (B*V, N, d)
        keys = self.attn.keys(memory)
        channel = self.channel_emb.repeat(b, 1)  # (B*V, d), series i is variable i % V
        truth = None
        force = self.training and target is not None and teacher_forcing > 0.0
        if force and target is not None:
            truth = target.permute(0, 2, 1).reshape(b * v, -1)  # (B*V, H)
        y_prev = seg[:, -1]  # (B*V, w): the last observed segment
        outputs, weights = [], []
        for m in range(m_out):  # one decoder step per output segment
            y_m, a, state = self._step(m, y_prev, state, keys, memory, channel)  # (B*V, w)
            outputs.append(y_m)
            weights.append(a)
            if truth is not None and m + 1 < m_out:
                # scheduled sampling per series, drawn on the device: no host sync
                use_truth = torch.rand(b * v, 1, device=x.device) < teacher_forcing
                y_prev = torch.where(use_truth, truth[:, m * w : (m + 1) * w], y_m)
            else:
                y_prev = y_m
        y = torch.cat(outputs, dim=1)[:, : self.cfg.horizon]  # (B*V, H)
        y = y.view(b, v, -1).permute(0, 2, 1)  # (B, H, V)
        if stats is not None and self.revin is not None:
            y = self.revin.denormalize(y, stats)
        elif last is not None:
            y = y + last
        per_channel = torch.stack(weights, dim=1).view(b, v, m_out, self.n_in)  # (B, V, M, N)
        return Seq2SeqOutput(y, per_channel.mean(dim=1), w, per_channel)

    def _normalize(
        self, x: Tensor, target: Tensor | None
    ) -> tuple[Tensor, Tensor | None, tuple[Tensor, Tensor] | None, Tensor | None]:
        """x (B, L, V) and target (B, H, V) scaled by RevIN's statistics of x (stats), or without
        RevIN less each window's last value (last, (B, 1, V)): SegRNN's normalization."""
        stats, last = None, None
        if self.revin is not None:
            stats = self.revin.stats(x)
            x = self.revin.normalize(x, stats)
            if target is not None:
                target = self.revin.normalize(target, stats)
        else:
            last = x[:, -1:].detach()
            x = x - last
            if target is not None:
                target = target - last
        return x, target, stats, last

    def _step(
        self, m: int, y_prev: Tensor, state: State, keys: Tensor, memory: Tensor, channel: Tensor
    ) -> tuple[Tensor, Tensor, State]:
        """One decoder step: y_prev (B*V, w) -> the m-th output segment (B*V, w), its attention
        over the input segments (B*V, N) and the new state."""
        inp = self.embed(y_prev) + self.out_pos[m] + channel  # (B*V, d)
        if self.context_in is not None:  # Bahdanau: attend from the previous state
            context, a = self.attn(_top(state), keys, memory)
            out, state = self.rnn((inp + self.context_in(context)).unsqueeze(1), state)
        else:  # Luong: step, then attend from the new state
            out, state = self.rnn(inp.unsqueeze(1), state)
            context, a = self.attn(out[:, 0], keys, memory)
        hidden = torch.tanh(self.combine(torch.cat([context, out[:, 0]], dim=1)))  # (B*V, d)
        return self.head(self.drop(hidden)), a, state


def build_seq2seq(cfg: Seq2SeqConfig) -> nn.Module:
    """SegmentSeq2Seq when segment_len is set, else the step-wise Seq2Seq."""
    return SegmentSeq2Seq(cfg) if cfg.segment_len is not None else Seq2Seq(cfg)
