import pytest
import torch

from forecaster.models.seq2seq import Seq2Seq, Seq2SeqConfig, Seq2SeqOutput

torch.set_num_threads(1)


@pytest.mark.parametrize("attention", ["bahdanau", "luong"])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_seq2seq_returns_forecast_and_attention_weights(attention, cell):
    cfg = Seq2SeqConfig(
        n_features=3,
        horizon=4,
        out_idx=(1,),
        n_calendar=2,
        hidden_size=8,
        cell=cell,
        attention=attention,
    )
    out = Seq2Seq(cfg)(torch.randn(2, 10, 3), torch.randn(2, 14, 2))
    assert isinstance(out, Seq2SeqOutput)
    assert out.y_hat.shape == (2, 4, 1)
    assert out.attention.shape == (2, 4, 10)  # (B, H, L)
    assert torch.allclose(out.attention.sum(dim=2), torch.ones(2, 4))


def test_teacher_forcing_feeds_the_truth_only_while_training():
    torch.manual_seed(0)
    model = Seq2Seq(Seq2SeqConfig(n_features=1, horizon=5, hidden_size=8, dropout=0.0, revin=False))
    x, target = torch.randn(3, 6, 1), torch.randn(3, 5, 1)
    model.train()
    free = model(x).y_hat
    forced = model(x, target=target, teacher_forcing=1.0).y_hat
    assert torch.equal(free[:, 0], forced[:, 0])  # step 1 sees the last observed value either way
    assert not torch.allclose(free[:, 1:], forced[:, 1:])  # later steps see the truth
    model.eval()
    assert torch.equal(model(x, target=target, teacher_forcing=1.0).y_hat, model(x).y_hat)


def test_scheduled_sampling_ratio_mixes_truth_and_predictions():
    torch.manual_seed(0)
    model = Seq2Seq(
        Seq2SeqConfig(n_features=1, horizon=3, hidden_size=8, dropout=0.0, revin=False)
    ).train()
    x, target = torch.randn(64, 6, 1), torch.randn(64, 3, 1)
    free = model(x).y_hat
    forced = model(x, target=target, teacher_forcing=1.0).y_hat
    half = model(x, target=target, teacher_forcing=0.5).y_hat
    like_forced = torch.isclose(half[:, 1], forced[:, 1]).float().mean().item()
    like_free = torch.isclose(half[:, 1], free[:, 1]).float().mean().item()
    assert 0.2 < like_forced < 0.8 and like_forced + like_free == pytest.approx(1.0)
