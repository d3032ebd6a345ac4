"""The untrained nn.Module and the fit loop's settings a ModelSpec describes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from torch import nn

from forecaster.models.rnn import RNNConfig, build_rnn
from forecaster.models.seq2seq import Seq2SeqConfig, build_seq2seq
from forecaster.spec import ModelSpec
from forecaster.training import Loss, Schedule, TrainConfig


def build_module(
    spec: ModelSpec, *, n_features: int, n_calendar: int, out_idx: Sequence[int]
) -> nn.Module:
    """The untrained nn.Module a spec describes (initialization draws from torch's global RNG).

    The models initialize Xavier/orthogonal; spec.init == "torch" resets every layer to PyTorch's
    own default (uniform +-1/sqrt(hidden) for the cells, Kaiming-uniform for linear layers)."""
    module = _build_module(spec, n_features=n_features, n_calendar=n_calendar, out_idx=out_idx)
    if spec.init == "torch":
        for sub in module.modules():
            if isinstance(sub, nn.Linear | nn.RNNBase):
                sub.reset_parameters()
    return module


def _build_module(
    spec: ModelSpec, *, n_features: int, n_calendar: int, out_idx: Sequence[int]
) -> nn.Module:
    revin = spec.normalization in ("revin", "both")
    if spec.architecture == "seq2seq_attention":
        return build_seq2seq(
            Seq2SeqConfig(
                n_features=n_features,
                horizon=spec.horizon,
                out_idx=tuple(out_idx),
                n_calendar=n_calendar,
                hidden_size=spec.hidden_size,
                num_layers=spec.num_layers,
                dropout=spec.dropout,
                cell="gru" if spec.seq2seq_cell == "gru" else "lstm",
                attention="luong" if spec.attention == "luong" else "bahdanau",
                revin=revin,
                revin_affine=spec.revin_affine,
                lookback=spec.lookback,
                segment_len=spec.segment_len,
            )
        )
    cell = {"lstm": "lstm", "gru": "gru", "rnn": "rnn"}[spec.architecture]
    return build_rnn(
        RNNConfig(
            n_features=n_features,
            horizon=spec.model_horizon,
            out_idx=tuple(out_idx),
            n_calendar=n_calendar,
            hidden_size=spec.hidden_size,
            num_layers=spec.num_layers,
            dropout=spec.dropout,
            cell=cell,  # type: ignore[arg-type]
            bidirectional=spec.bidirectional,
            revin=revin,
            revin_affine=spec.revin_affine,
            lookback=spec.lookback,
            segment_len=spec.segment_len,
        )
    )


def train_config(spec: ModelSpec, *, threads: int | None = None) -> TrainConfig:
    """The fit loop's settings a spec asks for."""
    return TrainConfig(
        epochs=spec.epochs,
        batch_size=spec.batch_size,
        lr=spec.lr,
        weight_decay=spec.weight_decay,
        clip=spec.clip,
        patience=spec.patience,
        time_budget_s=spec.time_budget_s,
        threads=threads,
        teacher_forcing=spec.teacher_forcing if spec.architecture == "seq2seq_attention" else 0.0,
        loss=cast(Loss, spec.loss),
        schedule=cast(Schedule, spec.schedule),
    )
