"""A global model: one network trained across a group of series, told which series a window
comes from by a learned series embedding that joins the known-future (calendar) covariates, and
by a learned gain per series and calendar channel.

Training windows carry the member's index as the calendar's last channel (so the fit loop and
the window sets stay those of a single series); a `MemberModule` is one member's view of the
shared network, with the calendar a single-series model gets, so strategies, backtests,
intervals and serving run unchanged for each member.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

EMBEDDING_STD = 1.0  # codes as large as the calendar's: told apart from the first step


class GlobalModule(nn.Module):
    """`inner` (built with n_calendar = C + dim) over calendars of C + 1 channels, the last one
    the series index of each window.

    The calendar's effect differs by series (the seasons of Auckland run opposite to Chicago's),
    which a calendar shared by all members and one embedding concatenated beside it reach only
    through the recurrent state; a gain per series and calendar channel (1 + g, g starting at 0)
    gives each member its own calendar coefficients in the head, as a per-series model has.
    """

    def __init__(self, inner: nn.Module, *, n_series: int, dim: int) -> None:
        super().__init__()
        self.inner = inner
        self.n_series, self.dim = n_series, dim
        self.embedding = nn.Embedding(n_series, dim)
        nn.init.normal_(self.embedding.weight, std=EMBEDDING_STD)
        n_calendar = int(inner.cfg.n_calendar) - dim  # type: ignore[union-attr,arg-type]
        self.calendar_gain = nn.Parameter(torch.zeros(n_series, n_calendar))

    def _load_from_state_dict(
        self, state_dict: dict[str, Tensor], prefix: str, *args: object
    ) -> None:
        # a global model stored before the calendar gain: its members' gains are 1 (g = 0)
        state_dict.setdefault(prefix + "calendar_gain", torch.zeros_like(self.calendar_gain))
        super()._load_from_state_dict(state_dict, prefix, *args)

    @property
    def cfg(self) -> object:
        """The inner model's config (strategies read its horizon)."""
        return self.inner.cfg

    def forward(
        self,
        x: Tensor,
        cal: Tensor | None = None,
        target: Tensor | None = None,
        teacher_forcing: float = 0.0,
    ) -> object:
        """x (B, L, F); cal (B, T, C + 1) with the series index in the last channel."""
        if cal is None:
            raise ValueError("a global model's windows carry the series index in the calendar")
        series = cal[:, 0, -1].round().long()  # (B,)
        emb = self.embedding(series)[:, None, :].expand(-1, cal.shape[1], -1)  # (B, T, dim)
        gain = 1.0 + self.calendar_gain[series][:, None, :]  # (B, 1, C)
        joined = torch.cat([cal[..., :-1] * gain, emb], dim=2)  # (B, T, C + dim)
        return self.inner(x, joined, target=target, teacher_forcing=teacher_forcing)

    def member(self, index: int) -> MemberModule:
        if not 0 <= index < self.n_series:
            raise ValueError(f"member index {index} outside 0..{self.n_series - 1}")
        return MemberModule(self, index)


class MemberModule(nn.Module):
    """One member's view of a GlobalModule: takes the calendar a single-series model takes."""

    def __init__(self, net: GlobalModule, index: int) -> None:
        super().__init__()
        self.net = net
        self.index = index

    @property
    def cfg(self) -> object:
        return self.net.cfg

    def forward(
        self,
        x: Tensor,
        cal: Tensor | None = None,
        target: Tensor | None = None,
        teacher_forcing: float = 0.0,
    ) -> object:
        """x (B, L, F), cal (B, T, C) or None -> the inner model's output for this member."""
        b = x.shape[0]
        if cal is None:  # no calendar covariates: T is what the inner model reads (L + its H)
            steps = x.shape[1] + int(self.net.cfg.horizon)  # type: ignore[attr-defined]
            cal = x.new_zeros((b, steps, 0))
        index = cal.new_full((b, cal.shape[1], 1), float(self.index))
        return self.net(x, torch.cat([cal, index], dim=2), target, teacher_forcing)
