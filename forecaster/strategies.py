"""Multi-step strategies over any model: recursive (a one-step model rolled forward, feeding its
predictions back) and direct (one forward pass emitting all H steps)."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from forecaster.checks import positive_horizon
from forecaster.errors import HorizonTooLong, InvalidRequest
from forecaster.models.seq2seq import Seq2SeqOutput

ARCHITECTURES = ("lstm", "gru", "rnn", "seq2seq_attention")
STRATEGIES = ("recursive", "direct")
# Which strategies make sense for which model: a recursive model must predict every input it
# feeds back, one step at a time; seq2seq and segment models decode a whole horizon at once.
SUPPORTED: dict[str, tuple[str, ...]] = {
    "lstm": ("recursive", "direct"),
    "gru": ("recursive", "direct"),
    "rnn": ("recursive", "direct"),
    "seq2seq_attention": ("direct",),
    "segment_len models": ("direct",),
}


def supported_strategies(architecture: str, *, segment_len: int | None = None) -> tuple[str, ...]:
    if architecture not in ARCHITECTURES:
        raise InvalidRequest(
            f"unknown architecture={architecture!r}; valid: {', '.join(ARCHITECTURES)}"
        )
    return SUPPORTED["segment_len models" if segment_len is not None else architecture]


def check_supported(architecture: str, strategy: str, *, segment_len: int | None = None) -> None:
    """Raise InvalidRequest, listing every supported combination, unless this one is supported."""
    if strategy not in STRATEGIES:
        raise InvalidRequest(f"unknown strategy={strategy!r}; valid: {', '.join(STRATEGIES)}")
    if strategy in supported_strategies(architecture, segment_len=segment_len):
        return
    what = f"architecture={architecture!r}" + (
        f" with segment_len={segment_len}" if segment_len is not None else ""
    )
    table = "; ".join(f"{arch}: {', '.join(strats)}" for arch, strats in SUPPORTED.items())
    raise InvalidRequest(f"{what} does not support strategy={strategy!r}; supported: {table}")


class StrategyOutput(NamedTuple):
    y_hat: Tensor  # (B, H, V) model space
    # (B, rows, cols) for seq2seq models: (B, H, L) step-wise; rows and columns of `unit` steps each
    # for a segment model (the output segments that reach the horizon, the lookback's segments)
    attention: Tensor | None
    unit: int = 1


def _y_hat(out: Tensor | Seq2SeqOutput) -> Tensor:
    return out.y_hat if isinstance(out, Seq2SeqOutput) else out


def model_horizon(model: nn.Module) -> int:
    """The H a module emits per forward pass (1 for a recursive one-step model)."""
    return int(model.cfg.horizon)  # type: ignore[union-attr, arg-type]


def recursive(model: nn.Module, x: Tensor, cal: Tensor | None, *, horizon: int) -> StrategyOutput:
    """Roll a one-step model forward `horizon` steps, any horizon.

    Each step's prediction of every input becomes the newest lookback row, beside that step's
    known calendar covariates; the oldest row drops out.

    Args:
        model: predicts (B, 1, F), all F inputs.
        x: (B, L, F); cal: (B, L + horizon, C) or None.
    Returns:
        y_hat (B, horizon, F).
    """
    length = x.shape[1]
    window, steps = x, []
    for h in range(horizon):
        # (B, L + 1, C): the window's calendar and its next step's
        c = None if cal is None else cal[:, h : h + length + 1]
        y = _y_hat(model(window, c))  # (B, 1, F)
        steps.append(y)
        window = torch.cat([window[:, 1:], y], dim=1)  # (B, L, F)
    return StrategyOutput(torch.cat(steps, dim=1), None)


def direct(model: nn.Module, x: Tensor, cal: Tensor | None, *, horizon: int) -> StrategyOutput:
    """One forward pass for all H steps; the first `horizon` of them are kept.

    Raises:
        HorizonTooLong: horizon exceeds the model's H.
    """
    h_model = model_horizon(model)
    if horizon > h_model:
        raise HorizonTooLong(horizon=horizon, cap=h_model, strategy="direct")
    out = model(x, cal)
    if isinstance(out, Seq2SeqOutput):
        rows = -(-horizon // out.unit)  # the rows that cover the steps kept
        return StrategyOutput(out.y_hat[:, :horizon], out.attention[:, :rows], out.unit)
    return StrategyOutput(out[:, :horizon], None)


@torch.no_grad()
def forecast(
    model: nn.Module,
    x: Tensor,
    cal: Tensor | None,
    *,
    strategy: str,
    horizon: int,
    batch_size: int = 1024,
) -> StrategyOutput:
    """Either strategy in eval mode, in batches of windows (B, L, F) -> (B, horizon, V).

    For a recursive model V is every input; select targets afterwards.
    """
    positive_horizon(horizon, horizon)
    if strategy not in STRATEGIES:
        raise InvalidRequest(f"unknown strategy={strategy!r}; valid: {', '.join(STRATEGIES)}")
    if x.shape[0] == 0:
        raise ValueError("no windows to forecast")
    run = recursive if strategy == "recursive" else direct
    was_training = model.training
    model.eval()
    try:
        parts = [
            run(
                model,
                x[i : i + batch_size],
                None if cal is None else cal[i : i + batch_size],
                horizon=horizon,
            )
            for i in range(0, x.shape[0], batch_size)
        ]
    finally:
        model.train(was_training)
    attention = (
        None
        if parts[0].attention is None
        else torch.cat([p.attention for p in parts if p.attention is not None])
    )
    return StrategyOutput(torch.cat([p.y_hat for p in parts]), attention, parts[0].unit)
