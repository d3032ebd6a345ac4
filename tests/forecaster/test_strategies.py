import pytest
import torch
from torch import Tensor, nn

from forecaster.errors import HorizonTooLong, InvalidRequest
from forecaster.models.rnn import RNNConfig, build_rnn
from forecaster.models.seq2seq import SegmentSeq2Seq, Seq2Seq, Seq2SeqConfig
from forecaster.strategies import check_supported, direct, forecast, recursive, supported_strategies

torch.set_num_threads(1)

SUPPORTED = (
    "supported: lstm: recursive, direct; gru: recursive, direct; rnn: recursive, direct; "
    "seq2seq_attention: direct; segment_len models: direct"
)


class PlusOne(nn.Module):
    """A one-step model: next value = last value + 1, plus the next step's calendar value."""

    def forward(self, x: Tensor, cal: Tensor | None = None, **_: object) -> Tensor:
        step = x[:, -1:] + 1.0
        return step if cal is None else step + cal[:, -1:, :1]


def test_recursive_feeds_its_predictions_back_for_any_horizon():
    x = torch.zeros(2, 4, 3)  # (B, L, F)
    out = recursive(PlusOne(), x, None, horizon=6)
    assert out.y_hat.shape == (2, 6, 3) and out.attention is None
    assert out.y_hat[0, :, 0].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]


def test_recursive_sees_each_future_steps_calendar():
    x = torch.zeros(1, 4, 1)
    cal = torch.zeros(1, 4 + 3, 1)
    cal[0, 4:, 0] = torch.tensor([10.0, 20.0, 30.0])  # known future covariates
    out = recursive(PlusOne(), x, cal, horizon=3)
    assert out.y_hat[0, :, 0].tolist() == [11.0, 32.0, 63.0]


def test_direct_model_asked_past_its_horizon_says_what_to_do():
    model = build_rnn(RNNConfig(n_features=1, horizon=24))
    with pytest.raises(HorizonTooLong) as err:
        direct(model, torch.zeros(1, 8, 1), None, horizon=48)
    assert (
        str(err.value)
        == "horizon=48 exceeds this direct model's H=24; use strategy=recursive or horizon<=24"
    )


def test_direct_keeps_the_first_steps_and_the_attention():
    model = Seq2Seq(Seq2SeqConfig(n_features=2, horizon=5, hidden_size=4))
    out = direct(model, torch.randn(3, 8, 2), None, horizon=2)
    assert out.y_hat.shape == (3, 2, 2)
    assert out.attention is not None and out.attention.shape == (3, 2, 8)
    assert out.unit == 1


def test_direct_keeps_the_attention_rows_of_the_segments_that_reach_the_horizon():
    cfg = Seq2SeqConfig(n_features=2, horizon=12, hidden_size=4, lookback=8, segment_len=4)
    model = SegmentSeq2Seq(cfg)
    out = direct(model, torch.randn(3, 8, 2), None, horizon=5)  # steps 1-4 and 5: 2 segments
    assert out.y_hat.shape == (3, 5, 2) and out.unit == 4
    assert out.attention is not None and out.attention.shape == (3, 2, 2)


@pytest.mark.parametrize(
    ("architecture", "strategy", "segment_len", "message"),
    [
        # seq2seq decodes a whole horizon: no one-step model to roll forward
        (
            "seq2seq_attention",
            "recursive",
            None,
            f"architecture='seq2seq_attention' does not support strategy='recursive'; {SUPPORTED}",
        ),
        # segment models decode segments in parallel
        (
            "gru",
            "recursive",
            24,
            f"architecture='gru' with segment_len=24 does not support strategy='recursive'; {SUPPORTED}",
        ),
        (
            "transformer",
            "direct",
            None,
            "unknown architecture='transformer'; valid: lstm, gru, rnn, seq2seq_attention",
        ),
        ("lstm", "mimo", None, "unknown strategy='mimo'; valid: recursive, direct"),
    ],
)
def test_unsupported_combinations_list_what_is_supported(
    architecture, strategy, segment_len, message
):
    with pytest.raises(InvalidRequest) as err:
        check_supported(architecture, strategy, segment_len=segment_len)
    assert str(err.value) == message


def test_every_rnn_supports_both_strategies():
    for arch in ("lstm", "gru", "rnn"):
        assert supported_strategies(arch) == ("recursive", "direct")
        check_supported(arch, "recursive")


def test_forecast_in_batches_matches_one_batch_and_restores_the_mode():
    torch.manual_seed(0)
    model = build_rnn(RNNConfig(n_features=2, horizon=1, hidden_size=8)).train()
    x = torch.randn(7, 6, 2)
    whole = forecast(model, x, None, strategy="recursive", horizon=3)
    parts = forecast(model, x, None, strategy="recursive", horizon=3, batch_size=3)
    assert torch.allclose(whole.y_hat, parts.y_hat, atol=1e-6)
    assert model.training
    with pytest.raises(InvalidRequest, match=r"^horizon=0 must be a positive number of steps$"):
        forecast(model, x, None, strategy="recursive", horizon=0)
