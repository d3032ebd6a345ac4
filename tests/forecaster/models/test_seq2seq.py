"""Seq2seq with attention, step-wise and segment-wise: shapes, teacher forcing, attention."""

import numpy as np
import pytest
import torch

from forecaster.data.windows import make_window_set
from forecaster.models.attention import relative_entropy, season_column
from forecaster.models.seq2seq import SegmentSeq2Seq, Seq2Seq, Seq2SeqConfig, Seq2SeqOutput
from forecaster.training import TrainConfig, fit

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


# --- segment-wise seq2seq ------------------------------------------------------------------


def _segment(**kw) -> SegmentSeq2Seq:
    base = {"n_features": 3, "horizon": 10, "hidden_size": 8, "lookback": 12, "segment_len": 4}
    return SegmentSeq2Seq(Seq2SeqConfig(**{**base, **kw}))


@pytest.mark.parametrize("attention", ["bahdanau", "luong"])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("revin", [True, False])
def test_segment_seq2seq_decodes_segments_and_attends_over_the_lookback_segments(
    attention, cell, revin
):
    torch.manual_seed(0)
    model = _segment(out_idx=(0, 2), cell=cell, attention=attention, revin=revin).eval()
    out = model(torch.randn(5, 12, 3))
    assert out.y_hat.shape == (5, 10, 2)  # H = 10 is cut from 3 output segments of 4
    assert out.unit == 4
    # rows: the 3 output segments; columns: the 3 lookback segments, which cover all 12 steps
    assert out.attention.shape == (5, 3, 3)
    assert out.attention.shape[-1] * out.unit == 12
    assert out.channel_attention is not None and out.channel_attention.shape == (5, 2, 3, 3)
    assert torch.allclose(out.channel_attention.sum(dim=-1), torch.ones(5, 2, 3))
    assert torch.allclose(out.attention.sum(dim=-1), torch.ones(5, 3))
    assert (out.attention >= 0).all()


def test_segment_seq2seq_is_channel_independent():
    torch.manual_seed(0)
    model = _segment(out_idx=(0, 1)).eval()
    x = torch.randn(2, 12, 3)
    changed = x.clone()
    changed[:, :, 1] += torch.randn(2, 12)  # another variable's inputs
    changed[:, :, 2] = 7.0  # an input that is not predicted
    a, b = model(x).y_hat, model(changed).y_hat
    assert torch.allclose(a[..., 0], b[..., 0], atol=1e-6)
    assert not torch.allclose(a[..., 1], b[..., 1])


@pytest.mark.parametrize("attention", ["bahdanau", "luong"])
def test_segment_teacher_forcing_changes_training_but_not_inference(attention):
    torch.manual_seed(0)
    model = _segment(n_features=1, dropout=0.0, attention=attention)
    x, target = torch.randn(4, 12, 1), torch.randn(4, 10, 1)
    model.train()
    free = model(x).y_hat
    forced = model(x, target=target, teacher_forcing=1.0).y_hat
    # the first output segment is decoded from the last observed one either way
    assert torch.equal(free[:, :4], forced[:, :4])
    assert not torch.allclose(free[:, 4:], forced[:, 4:])  # later segments see the truth
    model.eval()
    assert torch.equal(model(x, target=target, teacher_forcing=1.0).y_hat, model(x).y_hat)


def test_season_column_is_the_most_recent_step_of_the_same_phase():
    # steps: row h (0-based) one season of 24 back is lookback offset h - 24, column L - 24 + h
    assert [season_column(r, unit=1, lookback=48, season=24) for r in (0, 5, 23, 24)] == [
        24,
        29,
        47,
        24,
    ]
    # segments of 6 over 48 steps (8 columns): output segment m's season back is column 4 + m % 4
    assert [season_column(m, unit=6, lookback=48, season=24) for m in range(6)] == [
        4,
        5,
        6,
        7,
        4,
        5,
    ]
    assert season_column(0, unit=1, lookback=12, season=24) is None


def test_relative_entropy_is_one_for_uniform_and_zero_for_one_hot():
    w = torch.tensor([[0.25, 0.25, 0.25, 0.25], [1.0, 0.0, 0.0, 0.0]])
    assert relative_entropy(w).tolist() == pytest.approx([1.0, 0.0], abs=1e-9)


def _drifting_seasons(n_seasons: int, *, season: int, seed: int) -> np.ndarray:
    """Each season's shape is the last one's times 0.9 plus a fresh draw, with a little noise: the
    best guess of the next season is the last one, so the right answer is to attend one season back."""
    rng = np.random.default_rng(seed)
    shape = rng.normal(size=season)
    out = []
    for _ in range(n_seasons):
        shape = 0.9 * shape + np.sqrt(1 - 0.81) * rng.normal(size=season)
        out.append(shape + 0.05 * rng.normal(size=season))
    return np.concatenate(out).astype(np.float32)[:, None]  # (T, 1)


@pytest.mark.parametrize("attention", ["bahdanau", "luong"])
def test_segment_seq2seq_learns_to_attend_one_season_back(attention):
    season, lookback, horizon, w = 24, 48, 24, 6
    values = _drifting_seasons(160, season=season, seed=1)
    n_train = 120 * season
    origins = np.arange(lookback, n_train - horizon + 1)
    val_origins = np.arange(n_train, len(values) - horizon + 1)
    train = make_window_set(values, None, origins, lookback=lookback, horizon=horizon, out_idx=[0])
    valid = make_window_set(
        values, None, val_origins, lookback=lookback, horizon=horizon, out_idx=[0]
    )
    torch.manual_seed(0)
    model = SegmentSeq2Seq(
        Seq2SeqConfig(
            n_features=1,
            horizon=horizon,
            hidden_size=32,
            num_layers=1,
            dropout=0.0,
            cell="gru",
            attention=attention,
            revin=False,
            lookback=lookback,
            segment_len=w,
        )
    )
    cfg = TrainConfig(epochs=12, batch_size=64, lr=3e-3, patience=12, teacher_forcing=0.5)
    fit(model, train, valid, cfg=cfg, device="cpu", seed=0)
    x, _, y = valid.batch(torch.arange(len(valid)))
    with torch.no_grad():
        out = model.eval()(x)
    naive = (x[:, -1:] - y).abs().mean()
    assert (out.y_hat - y).abs().mean() < 0.6 * naive  # it learned the seasons
    mean = out.attention.mean(dim=0)  # (4 output segments, 8 lookback segments)
    want = [season_column(m, unit=w, lookback=lookback, season=season) for m in range(4)]
    assert mean.argmax(dim=1).tolist() == want  # each output segment peaks one season back
    uniform = 1.0 / mean.shape[1]
    assert all(float(mean[m, c]) > 2 * uniform for m, c in enumerate(want))
    assert float(relative_entropy(out.attention).mean()) < 0.8  # far from attending evenly
