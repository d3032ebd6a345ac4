"""What the forecasting tests share: a tiny training budget and a strict save/restore."""

from __future__ import annotations

import json
from typing import Any

from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from forecaster.forecasting.predictor import TrainedModel

TINY: dict[str, Any] = {"hidden_size": 8, "num_layers": 1, "epochs": 2, "batch_size": 32}


def round_trip(model: TrainedModel) -> TrainedModel:
    """The model through its state and weights as the registry stores them: strict JSON and
    safetensors."""
    state = json.loads(json.dumps(model.state(), allow_nan=False))
    weights = load_safetensors(save_safetensors(model.weights()))
    return TrainedModel.from_state(state, weights)
