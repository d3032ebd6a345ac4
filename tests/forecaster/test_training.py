import numpy as np
import pytest
import torch
from torch import nn

from forecaster.data.windows import WindowSet, make_window_set
from forecaster.models.rnn import RNNConfig, build_rnn
from forecaster.training import (
    TrainConfig,
    fit,
    loss_fn,
    lr_at,
    resolve_device,
    step_lr_at,
    teacher_forcing_at,
    validation_loss,
)
from tests.forecaster.data.real_series import weather

torch.set_num_threads(1)


def _windows(lookback: int = 14, horizon: int = 3) -> tuple[WindowSet, WindowSet]:
    tmax = weather(columns=("tmax",), rows=300).to_numpy()
    values = ((tmax - tmax[:200].mean()) / tmax[:200].std()).astype(np.float32)  # (T, 1)
    train_o = np.arange(lookback, 200 - horizon + 1)
    valid_o = np.arange(200, 300 - horizon + 1)
    train = make_window_set(values, None, train_o, lookback=lookback, horizon=horizon, out_idx=[0])
    valid = make_window_set(values, None, valid_o, lookback=lookback, horizon=horizon, out_idx=[0])
    return train, valid


def _model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return build_rnn(RNNConfig(n_features=1, horizon=3, hidden_size=8, num_layers=1, cell="gru"))


def test_lr_warms_up_then_decays_along_a_cosine():
    lrs = [lr_at(s, total_steps=100, base_lr=1.0, warmup_steps=10, min_lr=0.1) for s in range(101)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:], strict=False))  # never rises after warmup
    assert lrs[55] == pytest.approx(0.55) and lrs[100] == pytest.approx(0.1)


def test_step_schedule_holds_three_epochs_then_decays_by_a_tenth_each():
    assert [round(step_lr_at(e, base_lr=1.0), 4) for e in range(6)] == [1, 1, 1, 1, 0.9, 0.81]


def test_fit_follows_the_step_schedule():
    train, valid = _windows()
    seen: list[dict[str, float]] = []
    cfg = TrainConfig(epochs=5, batch_size=32, lr=1e-2, schedule="step", patience=10)
    fit(_model(), train, valid, cfg=cfg, device="cpu", seed=0, progress=seen.append)
    assert [round(p["lr"], 6) for p in seen] == [0.01, 0.01, 0.01, 0.01, 0.009]


def test_teacher_forcing_decays_to_zero_over_the_epochs():
    assert [teacher_forcing_at(e, epochs=5, start=0.8) for e in range(5)] == pytest.approx(
        [0.8, 0.6, 0.4, 0.2, 0.0]
    )


def test_same_seed_gives_bit_identical_weights():
    train, valid = _windows()
    cfg = TrainConfig(epochs=2, batch_size=32)
    states = []
    for _ in range(2):
        model = _model(seed=7)
        fit(model, train, valid, cfg=cfg, device="cpu", seed=7)
        states.append(model.state_dict())
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])
    other = _model(seed=8)
    fit(other, train, valid, cfg=cfg, device="cpu", seed=8)
    assert not torch.equal(states[0]["head.weight"], other.state_dict()["head.weight"])


def test_fit_restores_the_best_weights_and_reports_progress():
    train, valid = _windows()
    seen: list[dict[str, float]] = []
    model = _model()
    result = fit(
        model,
        train,
        valid,
        cfg=TrainConfig(epochs=4, batch_size=32, lr=3e-2),
        device="cpu",
        seed=0,
        progress=seen.append,
    )
    assert [p["epoch"] for p in seen] == [1, 2, 3, 4]
    assert set(seen[0]) >= {
        "epoch",
        "epochs",
        "train_loss",
        "val_loss",
        "best_val_loss",
        "lr",
        "windows_per_s",
    }
    assert result.best_val_loss == min(result.val_losses)
    assert validation_loss(model, valid) == pytest.approx(result.best_val_loss, rel=1e-6)
    assert result.windows_per_s > 0 and result.steps == 4 * 6 and result.device == "cpu"


def test_early_stopping_stops_after_patience_epochs_without_improvement():
    train, valid = _windows()
    result = fit(
        _model(),
        train,
        valid,
        cfg=TrainConfig(epochs=50, patience=1, batch_size=16, lr=0.5),
        device="cpu",
        seed=0,
    )
    assert result.stopped == "early_stopping" and result.epochs_run < 50
    assert result.epochs_run == result.best_epoch + 1


def test_time_budget_stops_training_and_keeps_the_best_weights():
    train, valid = _windows()
    result = fit(
        _model(), train, valid, cfg=TrainConfig(epochs=50, time_budget_s=0.0), device="cpu", seed=0
    )
    assert result.stopped == "time_budget" and result.epochs_run == 1 and result.steps == 1
    assert result.cut_short and (result.epochs_planned, result.time_budget_s) == (50, 0.0)
    recorded = result.to_dict()
    assert (recorded["stopped"], recorded["cut_short"], recorded["epochs_planned"]) == (
        "time_budget",
        True,
        50,
    )


def test_a_budget_that_outlasts_the_epochs_is_not_a_cut():
    train, valid = _windows()
    result = fit(
        _model(), train, valid, cfg=TrainConfig(epochs=2, time_budget_s=600), device="cpu", seed=0
    )
    assert (result.stopped, result.cut_short, result.epochs_run) == ("completed", False, 2)


def test_threads_are_set_for_the_fit_and_restored():
    before = torch.get_num_threads()
    train, valid = _windows()
    seen: list[int] = []
    fit(
        _model(),
        train,
        valid,
        cfg=TrainConfig(epochs=1, threads=1),
        device="cpu",
        seed=0,
        progress=lambda _: seen.append(torch.get_num_threads()),
    )
    assert seen == [1] and torch.get_num_threads() == before


def test_device_defaults_to_the_cpu_without_a_gpu():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device(None).type == expected
    assert resolve_device("cpu").type == "cpu"


@pytest.mark.parametrize("loss", ["l1", "huber"])
def test_fit_trains_and_early_stops_on_the_chosen_loss(loss):
    train, valid = _windows()
    model = _model()
    result = fit(
        model,
        train,
        valid,
        cfg=TrainConfig(epochs=3, batch_size=32, loss=loss),
        device="cpu",
        seed=0,
    )
    # the best validation value is the chosen loss of the restored weights, not their MSE
    assert result.best_val_loss == pytest.approx(validation_loss(model, valid, loss=loss))
    assert result.best_val_loss != pytest.approx(validation_loss(model, valid))


def test_an_unknown_loss_names_the_valid_ones():
    with pytest.raises(ValueError, match="loss='mape' is not valid; valid: mse, l1, huber"):
        loss_fn("mape")  # type: ignore[arg-type]


def test_the_device_comes_from_settings_and_cuda_without_a_gpu_is_a_clear_error() -> None:
    from forecaster.errors import InvalidRequest
    from forecaster.training import resolve_device

    assert resolve_device("cpu") == torch.device("cpu")
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: auto picks it and cuda is valid")
    assert resolve_device("auto") == torch.device("cpu")  # no GPU here
    with pytest.raises(InvalidRequest) as info:
        resolve_device("cuda")
    assert str(info.value) == (
        f"device='cuda' but torch {torch.__version__} sees no CUDA GPU (its CUDA: "
        f"{torch.version.cuda or 'none (a CPU-only build)'}); set FORECASTER_DEVICE=auto or "
        "cpu, or run on a GPU worker built with the CUDA torch (docker build --build-arg "
        "TORCH_INDEX=https://download.pytorch.org/whl/cu128)"
    )
