"""build_module: the module a spec describes, with the initialization it asks for."""

from dataclasses import replace

import torch

from forecaster.forecasting.factory import build_module
from forecaster.spec import ModelSpec


def test_init_torch_keeps_pytorchs_default_initialization():
    spec = ModelSpec("gru", "direct", lookback=14, horizon=7, hidden_size=16, num_layers=1)
    xavier = build_module(spec, n_features=2, n_calendar=0, out_idx=[0])
    default = build_module(replace(spec, init="torch"), n_features=2, n_calendar=0, out_idx=[0])
    bound = 1 / 16**0.5  # torch's GRU: uniform(-1/sqrt(hidden), 1/sqrt(hidden)), biases too
    for name, param in default.rnn.named_parameters():
        assert param.abs().max() <= bound and torch.count_nonzero(param) == param.numel(), name
    assert torch.count_nonzero(xavier.rnn.bias_ih_l0) == 0  # the house init zeroes biases
