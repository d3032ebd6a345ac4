"""A compact SegRNN (Lin et al., 2023) for the ETTh1 benchmark: the reference the library's
segment model is compared with (bench/bare_loop.py --model ref).

Channel-independent: (B, L, C) -> (B*C, L/w, w) segments, Linear(w, d) + ReLU, a one-layer GRU
over the segments; parallel multi-step decoding (PMF): every output segment m of channel c is one
GRU step from the encoder's final state h with input [pos_emb[m], channel_emb[c]], then
Dropout + Linear(d, w). The last lookback value is subtracted per channel and added back.

The decoder step is computed factored: W_hh h is the same for all H/w output segments of a series
and W_ih [pos; ch] the same for all series, so each is computed once and only the gate arithmetic
is broadcast over (B, C, H/w) -- bit-identical to running nn.GRU on B*C*(H/w) rows, but the
hidden matmul costs B*C rows instead of B*C*H/w.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class SegRNNRef(nn.Module):
    def __init__(
        self,
        lookback: int,
        horizon: int,
        n_channels: int = 7,
        *,
        segment_len: int = 48,
        hidden: int = 256,
        dropout: float = 0.5,
        shared: bool = True,
        factored: bool = True,
    ) -> None:
        super().__init__()
        w, d = segment_len, hidden
        if lookback % w or horizon % w:
            raise ValueError(f"lookback={lookback} and horizon={horizon} must be multiples of {w}")
        self.w, self.d, self.horizon = w, d, horizon
        self.n_in, self.n_out = lookback // w, horizon // w
        self.factored = factored
        self.embed = nn.Sequential(nn.Linear(w, d), nn.ReLU())
        self.rnn = nn.GRU(d, d, batch_first=True)
        # shared=True (SegRNN, the library): the encoder GRU also takes the decoding step
        self.dec = self.rnn if shared else nn.GRU(d, d, batch_first=True)
        self.pos_emb = nn.Parameter(torch.randn(self.n_out, d - d // 2))
        self.channel_emb = nn.Parameter(torch.randn(n_channels, d // 2))
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(d, w)

    def forward(self, x: Tensor, cal: Tensor | None = None, **_: object) -> Tensor:
        """x (B, L, C) -> (B, H, C)."""
        b, _, c = x.shape
        m, w, d = self.n_out, self.w, self.d
        last = x[:, -1:].detach()
        seg = (x - last).permute(0, 2, 1).reshape(b * c, self.n_in, w)
        _, h = self.rnn(self.embed(seg))
        h = h[0]  # (B*C, d)
        dec_in = torch.cat(
            [
                self.pos_emb.unsqueeze(0).expand(c, m, -1),
                self.channel_emb.unsqueeze(1).expand(c, m, -1),
            ],
            dim=2,
        )  # (C, M, d)
        g = self.dec
        if self.factored:
            gi = F.linear(dec_in, g.weight_ih_l0, g.bias_ih_l0).unsqueeze(0)  # (1, C, M, 3d)
            gh = F.linear(h, g.weight_hh_l0, g.bias_hh_l0).view(b, c, 1, 3 * d)  # (B, C, 1, 3d)
            r = torch.sigmoid(gi[..., :d] + gh[..., :d])
            z = torch.sigmoid(gi[..., d : 2 * d] + gh[..., d : 2 * d])
            n = torch.tanh(gi[..., 2 * d :] + r * gh[..., 2 * d :])
            out = n + z * (h.view(b, c, 1, d) - n)  # (1 - z) * n + z * h: (B, C, M, d)
        else:
            inp = dec_in.unsqueeze(0).expand(b, c, m, d).reshape(b * c * m, 1, d)
            h0 = h.repeat_interleave(m, dim=0).unsqueeze(0)  # (1, B*C*M, d)
            out, _ = g(inp, h0)
        y = self.head(self.drop(out)).reshape(b, c, m * w).permute(0, 2, 1)  # (B, H, C)
        return y + last
