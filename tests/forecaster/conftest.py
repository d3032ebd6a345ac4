"""Shared by the version tests of app/ and db/: one tiny GRU on Seattle's weather, trained once
per test module."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from forecaster.forecasting.train import TrainOutcome, train_model
from forecaster.sources.csv import load_sample
from forecaster.spec import ModelSpec

SPEC = ModelSpec(
    architecture="gru",
    strategy="recursive",
    lookback=28,
    horizon=7,
    targets=("tmax",),
    inputs=("tmax", "tmin"),
    hidden_size=16,
    num_layers=1,
    epochs=4,
    seed=1,
)


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return load_sample("seattle-weather")[["tmax", "tmin"]]


@pytest.fixture(scope="module")
def trained(frame: pd.DataFrame) -> TrainOutcome:
    torch.set_num_threads(1)
    return train_model(frame, SPEC, freq="D")
