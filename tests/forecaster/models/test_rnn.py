import pytest
import torch
from torch import nn

from forecaster.models.rnn import RNNConfig, RNNForecaster, SegmentRNN, build_rnn

torch.set_num_threads(1)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_rnn_emits_all_horizon_steps_for_the_chosen_outputs(cell, bidirectional):
    cfg = RNNConfig(
        n_features=3,
        horizon=5,
        out_idx=(2,),
        n_calendar=2,
        hidden_size=8,
        cell=cell,
        bidirectional=bidirectional,
    )
    model = build_rnn(cfg)
    assert isinstance(model, RNNForecaster)
    y = model(torch.randn(4, 12, 3), torch.randn(4, 17, 2))
    assert y.shape == (4, 5, 1)


def test_rnn_initialization_is_xavier_and_orthogonal():
    torch.manual_seed(0)
    model = RNNForecaster(RNNConfig(n_features=2, hidden_size=16, cell="gru", num_layers=1))
    params = dict(model.rnn.named_parameters())
    w_hh = params["weight_hh_l0"]  # (3 * hidden, hidden)
    assert torch.allclose(w_hh.T @ w_hh, torch.eye(16), atol=1e-5)
    assert torch.count_nonzero(params["bias_ih_l0"]) == 0


def test_lstm_forget_gate_bias_starts_at_one():
    model = RNNForecaster(RNNConfig(n_features=2, hidden_size=4, cell="lstm", num_layers=1))
    assert dict(model.rnn.named_parameters())["bias_ih_l0"][4:8].tolist() == [1.0] * 4


def test_revin_makes_the_model_equivariant_to_shifting_each_window():
    torch.manual_seed(0)
    model = RNNForecaster(RNNConfig(n_features=2, horizon=3, hidden_size=8, dropout=0.0)).eval()
    x = torch.randn(2, 10, 2)
    with torch.no_grad():
        assert torch.allclose(model(x + 100.0), model(x) + 100.0, atol=1e-3)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
# H a multiple of w, and not
@pytest.mark.parametrize(("lookback", "horizon"), [(24, 12), (24, 10)])
def test_segment_rnn_decodes_every_segment_in_parallel(cell, lookback, horizon):
    cfg = RNNConfig(
        n_features=3,
        horizon=horizon,
        out_idx=(0, 2),
        hidden_size=8,
        num_layers=2,
        cell=cell,
        lookback=lookback,
        segment_len=4,
    )
    model = build_rnn(cfg)
    assert isinstance(model, SegmentRNN)
    assert model.n_in == 6 and model.n_out_segments == -(-horizon // 4)
    y = model(torch.randn(5, lookback, 3))
    assert y.shape == (5, horizon, 2)


def test_segment_rnn_is_channel_independent():
    torch.manual_seed(0)
    cfg = RNNConfig(
        n_features=2, horizon=4, hidden_size=8, lookback=8, segment_len=4, dropout=0.0, revin=True
    )
    model = SegmentRNN(cfg).eval()
    x = torch.randn(1, 8, 2)
    other = x.clone()
    other[:, :, 1] = torch.randn(8)  # change only the second variable
    with torch.no_grad():
        assert torch.allclose(model(x)[:, :, 0], model(other)[:, :, 0])


@pytest.mark.parametrize("num_layers", [1, 2])
def test_segment_rnn_loops_over_neither_time_steps_nor_segments(num_layers):
    cfg = RNNConfig(
        n_features=1, horizon=48, hidden_size=8, lookback=96, segment_len=12, num_layers=num_layers
    )
    model = SegmentRNN(cfg)
    calls = []
    model.rnn.register_forward_hook(lambda *_: calls.append(1))
    model(torch.randn(2, 96, 1))
    # one cell call encodes; one layer decodes with a factored step, a stack with one more call
    assert len(calls) == num_layers


@pytest.mark.parametrize("cell", ["gru", "lstm", "rnn"])
def test_segment_rnn_factored_decoder_step_equals_the_cell_run_over_every_segment(cell):
    torch.manual_seed(0)
    cfg = RNNConfig(
        n_features=3,
        horizon=20,
        hidden_size=16,
        lookback=24,
        segment_len=6,
        cell=cell,
        num_layers=1,
        dropout=0.0,
    )
    model = SegmentRNN(cfg)
    x = torch.randn(5, 24, 3)
    x_seg = model.embed(x.permute(0, 2, 1).reshape(15, 4, 6))
    _, state = model.rnn(x_seg)
    dec_in = torch.randn(3, model.n_out_segments, 16, requires_grad=True)
    fast = model._decode_step(dec_in, state)
    slow = model._decode_batched(dec_in, state)
    assert fast.shape == slow.shape == (5, 3, model.n_out_segments, 16)
    assert torch.allclose(fast, slow, atol=1e-6)
    (g_fast,) = torch.autograd.grad(fast.square().sum(), dec_in, retain_graph=True)
    (g_slow,) = torch.autograd.grad(slow.square().sum(), dec_in)
    assert torch.allclose(g_fast, g_slow, atol=1e-5)


def test_segment_rnn_rejects_a_lookback_not_made_of_whole_segments():
    with pytest.raises(ValueError, match="lookback=10 is not a multiple of segment_len=4"):
        SegmentRNN(RNNConfig(n_features=1, horizon=4, lookback=10, segment_len=4))


def test_models_are_plain_modules_on_the_cpu():
    model = build_rnn(RNNConfig(n_features=1))
    assert isinstance(model, nn.Module)
    assert all(p.device.type == "cpu" for p in model.parameters())
