"""Global models: one network trained across a group of series of one frequency (all tracked
stocks, all weather stations), with windows from every member, per-window normalization (RevIN)
and a learned series embedding (forecaster.models.group).

Each member keeps its own pipeline (transforms and scaling fitted on its own training split), its
own splits, calibration, intervals and figures: only the network is shared. The result is one
TrainOutcome per member, so a member's version is scored and served like any other.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
import torch

from forecaster.data.windows import WindowSet, make_window_set
from forecaster.errors import InvalidData, InvalidRequest
from forecaster.forecasting.factory import build_module, train_config
from forecaster.forecasting.prepare import TrainingData, prepare_data, screen_frame
from forecaster.forecasting.train import TrainOutcome, finish_training
from forecaster.models.group import GlobalModule
from forecaster.seeding import rng_kept, seeded
from forecaster.spec import ModelSpec
from forecaster.training import FitResult, fit

DEFAULT_EMBEDDING_DIM = 4


@dataclass
class GlobalOutcome:
    spec: ModelSpec  # with the inputs every member shares
    members: tuple[str, ...]  # in embedding order
    embedding_dim: int
    net: GlobalModule
    fit: FitResult
    outcomes: dict[str, TrainOutcome]  # per member: its view of the network, its figures

    def weights(self) -> dict[str, torch.Tensor]:
        """The network's tensors once (embedding included), ready for safetensors."""
        return {k: v.detach().cpu().contiguous().clone() for k, v in self.net.state_dict().items()}


def shared_inputs(frames: Mapping[str, pd.DataFrame], spec: ModelSpec) -> tuple[str, ...]:
    """The inputs every member would train on (in the first member's order): a variable that is
    missing or left out for any member is left out for all."""
    kept: list[str] | None = None
    for key, frame in frames.items():
        try:
            inputs = screen_frame(frame, spec).inputs
        except (InvalidData, InvalidRequest) as exc:
            raise type(exc)(f"group member {key!r}: {exc}") from exc
        kept = inputs if kept is None else [v for v in kept if v in inputs]
    return tuple(kept or ())


def _stack(parts: list[TrainingData], split: str) -> WindowSet:
    """One window set over every member: their encoded rows end to end, the member's index as
    the calendar's last channel, origins shifted by each member's offset. Windows never span
    two members (each member's origins keep their lookback and targets inside its own rows)."""
    values, calendars, origins = [], [], []
    offset = 0
    for i, d in enumerate(parts):
        n = len(d.enc.index)
        cal = d.enc.calendar if d.enc.calendar is not None else np.zeros((n, 0), np.float32)
        values.append(d.enc.values)
        calendars.append(np.concatenate([cal, np.full((n, 1), float(i), np.float32)], axis=1))
        origins.append(d.origins[split] + offset)
        offset += n
    first = parts[0]
    return make_window_set(
        np.concatenate(values),
        np.concatenate(calendars),
        np.concatenate(origins),
        lookback=first.spec.lookback,
        horizon=first.spec.model_horizon,
        out_idx=first.out_idx,
    )


@dataclass
class GlobalFit:
    """The shared network fitted, before any member is calibrated and scored."""

    spec: ModelSpec  # with the inputs every member shares
    members: tuple[str, ...]  # in embedding order
    embedding_dim: int
    net: GlobalModule
    fit: FitResult
    parts: dict[str, TrainingData]

    def member_job(self, key: str) -> MemberJob:
        """What finishing one member needs, and nothing of the other members (small to send to
        another process: the member's data and the network's weights)."""
        return MemberJob(
            key, self.members.index(key), len(self.members), self.embedding_dim,
            {k: v.detach().cpu().clone() for k, v in self.net.state_dict().items()},
            self.parts[key], self.fit,
        )  # fmt: skip


@dataclass(frozen=True)
class MemberJob:
    key: str
    index: int
    n_series: int
    embedding_dim: int
    weights: dict[str, torch.Tensor]
    data: TrainingData
    fit: FitResult


def finish_member(job: MemberJob) -> TrainOutcome:
    """One member's view of the fitted network, calibrated and scored on its own splits
    (`finish_training`); runs in any thread or process, one task per member."""
    with seeded(None):  # building draws initial weights, then overwritten: keep the state
        net = _build_net(job.data, n_series=job.n_series, embedding_dim=job.embedding_dim)
    net.load_state_dict(job.weights, strict=True)
    return finish_training(job.data, net.eval().member(job.index), job.fit)


def _build_net(data: TrainingData, *, n_series: int, embedding_dim: int) -> GlobalModule:
    """A global network for members shaped like `data` (its initial weights from torch's
    current random state)."""
    inner = build_module(
        data.spec,
        n_features=len(data.inputs),
        n_calendar=data.pipeline.n_calendar + embedding_dim,
        out_idx=data.out_idx,
    )
    return GlobalModule(inner, n_series=n_series, dim=embedding_dim)


def fit_global_model(
    frames: Mapping[str, pd.DataFrame],
    spec: ModelSpec,
    *,
    freq: str,
    embedding_dim: int = DEFAULT_EMBEDDING_DIM,
    device: str | None = None,
    threads: int | None = None,
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> GlobalFit:
    """Fit one network on the training windows of every member (early stopping on all their
    validation windows); `finish_member` then calibrates and scores each member.

    Args:
        frames: member key -> frame (as `train_model` takes), in embedding order.
    Raises:
        InvalidRequest, InvalidData: fewer than two members, a segment model (it reads no
            covariates, so no embedding), a member too short for the spec; the message names it.
    """
    _check_group(frames, spec, embedding_dim)
    spec = replace(spec, inputs=shared_inputs(frames, spec))
    parts = _prepare_members(frames, spec, freq)
    first = parts[0]
    cfg = train_config(spec, threads=threads)
    with seeded(spec.seed):  # its own seed's initial weights, whatever other threads do
        net = _build_net(first, n_series=len(parts), embedding_dim=embedding_dim)
    with rng_kept():  # the caller's random state is left alone
        result = fit(
            net,
            _stack(parts, "training"),
            _stack(parts, "validation"),
            cfg=cfg,
            device=device,
            seed=spec.seed,
            progress=progress,
        )
    net = net.cpu().eval()
    members = tuple(frames)
    return GlobalFit(
        spec, members, embedding_dim, net, result, dict(zip(members, parts, strict=True))
    )


def _check_group(frames: Mapping[str, pd.DataFrame], spec: ModelSpec, embedding_dim: int) -> None:
    """A global model needs two members or more, a model that reads covariates and an embedding."""
    if len(frames) < 2:
        raise InvalidRequest(
            f"a global model needs at least two series, got {len(frames)}: {', '.join(frames)}"
        )
    if spec.segment_len is not None:
        raise InvalidRequest(
            "a global model needs a model that reads covariates (its series embedding joins "
            "them): leave segment_len unset"
        )
    if embedding_dim < 1:
        raise InvalidRequest(f"embedding_dim={embedding_dim} must be at least 1")


def _prepare_members(
    frames: Mapping[str, pd.DataFrame], spec: ModelSpec, freq: str
) -> list[TrainingData]:
    """Each member's training data, in order; every member must train on the first's inputs and
    calendar (an error names the member)."""
    parts = []
    for key, frame in frames.items():
        try:
            parts.append(prepare_data(frame, spec, freq=freq))
        except (InvalidData, InvalidRequest) as exc:
            raise type(exc)(f"group member {key!r}: {exc}") from exc
    first = parts[0]
    for key, d in zip(frames, parts, strict=True):
        if d.inputs != first.inputs or d.pipeline.n_calendar != first.pipeline.n_calendar:
            raise InvalidData(
                f"group member {key!r} trains on {d.inputs}, the first member on {first.inputs}; "
                "give the group's inputs explicitly"
            )
    return parts


def train_global_model(
    frames: Mapping[str, pd.DataFrame],
    spec: ModelSpec,
    *,
    freq: str,
    embedding_dim: int = DEFAULT_EMBEDDING_DIM,
    device: str | None = None,
    threads: int | None = None,
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> GlobalOutcome:
    """`fit_global_model`, then every member finished here, one after another (a flow that
    fans members out to workers calls `finish_member` per member itself)."""
    shared = fit_global_model(
        frames,
        spec,
        freq=freq,
        embedding_dim=embedding_dim,
        device=device,
        threads=threads,
        progress=progress,
    )
    outcomes = {
        key: finish_training(d, shared.net.member(i), shared.fit)
        for i, (key, d) in enumerate(shared.parts.items())
    }
    return GlobalOutcome(
        shared.spec, shared.members, shared.embedding_dim, shared.net, shared.fit, outcomes
    )
