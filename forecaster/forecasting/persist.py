"""A trained model saved and restored exactly: JSON-safe state (no NaN or infinity) beside its
module's tensors, and the rebuild from both, bit for bit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import nn

from forecaster.data.pipeline import Pipeline
from forecaster.errors import InvalidData
from forecaster.forecasting.calibration import Calibration, IntervalSetup
from forecaster.forecasting.factory import build_module
from forecaster.models.group import GlobalModule, MemberModule
from forecaster.seeding import seeded
from forecaster.spec import ModelSpec

STATE_FORMAT = 1


class Saved(Protocol):
    """What a model's state is read from (TrainedModel)."""

    spec: ModelSpec
    freq: str
    pipeline: Pipeline
    module: nn.Module
    calibration: Calibration | None
    intervals: IntervalSetup | None
    data_range: dict[str, str]
    fit_summary: dict[str, Any] | None
    variables: list[str]
    targets: list[str]
    target_idx: list[int]


@dataclass(frozen=True)
class Restored:
    """The parts of a trained model rebuilt from its state and weights."""

    spec: ModelSpec
    freq: str
    pipeline: Pipeline
    module: nn.Module
    calibration: Calibration | None
    intervals: IntervalSetup | None
    data_range: dict[str, str] | None
    fit_summary: dict[str, Any] | None


def model_state(model: Saved) -> dict[str, Any]:
    """JSON-safe state (no NaN or infinity); with `module_weights` it restores the model exactly."""
    return {
        "format": STATE_FORMAT,
        "spec": model.spec.to_dict(),
        "freq": model.freq,
        "variables": list(model.variables),
        "targets": list(model.targets),
        "normalization": {
            **model.pipeline.state(),
            "revin": model.spec.normalization in ("revin", "both"),
            "revin_affine": model.spec.revin_affine,
        },
        "module": {
            "class": type(model.module).__name__,
            "n_features": len(model.variables),
            "n_calendar": model.pipeline.n_calendar,
            "out_idx": _out_idx(model),
            **_member_state(model.module),
        },
        "calibration": None if model.calibration is None else model.calibration.state(),
        "intervals": None if model.intervals is None else model.intervals.state(),
        "data_range": dict(model.data_range),
        "fit": model.fit_summary,
    }


def module_weights(module: nn.Module) -> dict[str, torch.Tensor]:
    """The module's tensors, contiguous and unshared on the CPU (ready for safetensors)."""
    return {k: v.detach().cpu().contiguous().clone() for k, v in module.state_dict().items()}


def _member_state(module: nn.Module) -> dict[str, Any]:
    """For a member of a global model: which member it is of how many, and the embedding's
    size (its weights are the global model's, stored once)."""
    if not isinstance(module, MemberModule):
        return {}
    net = module.net
    return {"global": {"n_series": net.n_series, "dim": net.dim, "index": module.index}}


def _out_idx(model: Saved) -> list[int]:
    return (
        list(range(len(model.variables)))
        if model.spec.strategy == "recursive"
        else list(model.target_idx)
    )


def restore(state: dict[str, Any], weights: dict[str, torch.Tensor]) -> Restored:
    """Rebuild from `model_state` and `module_weights`: the same predictions, bit for bit.

    Leaves torch's global random state untouched.
    """
    if state.get("format") != STATE_FORMAT:
        raise InvalidData(
            f"model state format={state.get('format')!r} is not supported; expected {STATE_FORMAT}"
        )
    spec = ModelSpec.from_dict(state["spec"])
    pipeline = Pipeline.from_state(state["normalization"])
    meta = state["module"]
    member = meta.get("global")  # a member of a global model: `weights` are the network's
    with seeded(None):  # building draws initial weights (then overwritten): keep the state
        module = build_module(
            spec,
            n_features=int(meta["n_features"]),
            n_calendar=int(meta["n_calendar"]) + (int(member["dim"]) if member else 0),
            out_idx=meta["out_idx"],
        )
        if member:
            net = GlobalModule(module, n_series=int(member["n_series"]), dim=int(member["dim"]))
    if member:
        net.load_state_dict(weights, strict=True)
        module = net.member(int(member["index"]))
    else:
        module.load_state_dict(weights, strict=True)
    calibration = (
        None if state.get("calibration") is None else Calibration.from_state(state["calibration"])
    )
    intervals = (
        None if state.get("intervals") is None else IntervalSetup.from_state(state["intervals"])
    )
    return Restored(
        spec=spec,
        freq=state["freq"],
        pipeline=pipeline,
        module=module,
        calibration=calibration,
        intervals=intervals,
        data_range=state.get("data_range"),
        fit_summary=state.get("fit"),
    )
