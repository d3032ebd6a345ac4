"""One fit loop for every model: AdamW, gradient clipping, warmup + cosine LR, early stopping with
best-weights restore, seeds, a time budget and a progress callback.

A fit is bounded by its epochs and early stopping, so the same seed and data give the same weights
on a busy machine and an idle one. The time budget is only a safety cap: when it cuts a fit short
the result says so (stopped="time_budget", cut_short), since such weights depend on the machine.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import torch
from torch import Tensor, nn

from forecaster.data.windows import WindowSet
from forecaster.errors import InvalidRequest
from forecaster.models.seq2seq import Seq2SeqOutput
from forecaster.seeding import seed_process
from forecaster.values import finite_or_none

Progress = Callable[[dict[str, Any]], None]
Loss = Literal["mse", "l1", "huber"]
LOSSES: tuple[Loss, ...] = ("mse", "l1", "huber")
Schedule = Literal["cosine", "step"]
SCHEDULES: tuple[Schedule, ...] = ("cosine", "step")
Stopped = Literal["completed", "early_stopping", "time_budget"]


def loss_fn(name: Loss) -> Callable[..., Tensor]:
    """The torch loss for a name: "mse", "l1" (mean absolute error) or "huber" (delta 1)."""
    if name == "mse":
        return nn.functional.mse_loss
    if name == "l1":
        return nn.functional.l1_loss
    if name == "huber":
        return nn.functional.huber_loss
    raise ValueError(f"loss={name!r} is not valid; valid: {', '.join(LOSSES)}")


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 30
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    clip: float = 1.0  # max gradient norm
    patience: int = 5  # epochs without a better validation loss before stopping
    warmup_frac: float = 0.05  # share of all steps spent warming the LR up linearly
    min_lr_frac: float = 0.1  # the cosine decays to lr * min_lr_frac
    # safety cap: stop (keeping the best weights) after this many seconds; recorded when it bites
    time_budget_s: float | None = None
    threads: int | None = None  # torch.set_num_threads for the fit; None leaves it alone
    teacher_forcing: float = 0.0  # scheduled sampling: starts here, decays linearly to 0
    loss: Loss = "mse"  # trained on this; early stopping and best weights use its validation value
    # "cosine": warmup then cosine per step (lr_at); "step": lr for 3 epochs, then x0.9 per epoch
    schedule: Schedule = "cosine"


@dataclass(frozen=True)
class FitResult:
    epochs_run: int
    best_epoch: int  # 1-based; 0 if no epoch finished
    best_val_loss: float
    train_losses: tuple[float, ...]
    val_losses: tuple[float, ...]
    stopped: Stopped
    seconds: float
    windows_per_s: float  # training windows per second of the training passes (validation excluded)
    steps: int
    device: str
    epochs_planned: int = 0  # cfg.epochs
    time_budget_s: float | None = None  # the cap the fit ran under

    @property
    def cut_short(self) -> bool:
        """The time budget, not the epochs or early stopping, ended this fit."""
        return self.stopped == "time_budget"

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: a non-finite loss (a diverged run) becomes None."""

        out = asdict(self)
        out["best_val_loss"] = finite_or_none(self.best_val_loss)
        out["train_losses"] = [finite_or_none(v) for v in self.train_losses]
        out["val_losses"] = [finite_or_none(v) for v in self.val_losses]
        out["cut_short"] = self.cut_short
        return out


def lr_at(
    step: int, *, total_steps: int, base_lr: float, warmup_steps: int, min_lr: float
) -> float:
    """Linear warmup to base_lr, then cosine decay to min_lr at total_steps (as nanoGPT's get_lr)."""
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    if step >= total_steps:
        return min_lr
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (base_lr - min_lr)


def step_lr_at(epoch: int, *, base_lr: float, hold: int = 3, gamma: float = 0.9) -> float:
    """base_lr for the first `hold` epochs (0-based), then decayed by `gamma` each epoch (SegRNN's
    and Autoformer's "type3" adjustment)."""
    return base_lr if epoch < hold else base_lr * gamma ** (epoch - hold)


def teacher_forcing_at(epoch: int, *, epochs: int, start: float) -> float:
    """Scheduled sampling ratio for a 0-based epoch: `start` decaying linearly to 0 at the last epoch."""
    return start * max(0.0, 1.0 - epoch / max(1, epochs - 1)) if epochs > 1 else start


DEVICES = ("auto", "cpu", "cuda")


def resolve_device(device: str | torch.device | None) -> torch.device:
    """The device asked for; "auto" (or None) takes a GPU when torch sees one, else the CPU.

    Raises:
        InvalidRequest: "cuda" on a machine (or a torch build) without a CUDA GPU.
    """
    if isinstance(device, torch.device):
        return device
    if device not in (None, "auto"):
        dev = torch.device(device)  # "cpu", "cuda", "cuda:1", "mps"
        if dev.type == "cuda" and not torch.cuda.is_available():
            build = torch.version.cuda or "none (a CPU-only build)"
            raise InvalidRequest(
                f"device={device!r} but torch {torch.__version__} sees no CUDA GPU (its CUDA: "
                f"{build}); set FORECASTER_DEVICE=auto or cpu, or run on a GPU worker built with "
                "the CUDA torch (docker build --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu128)"
            )
        return dev
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def _y_hat(out: Tensor | Seq2SeqOutput) -> Tensor:
    return out.y_hat if isinstance(out, Seq2SeqOutput) else out


@torch.no_grad()
def validation_loss(
    model: nn.Module, windows: WindowSet, *, batch_size: int = 1024, loss: Loss = "mse"
) -> float:
    """The mean loss (MSE by default) over all windows, in eval mode (one host sync at the end)."""
    criterion = loss_fn(loss)
    was_training = model.training
    model.eval()
    device = windows.values.device
    total = torch.zeros((), device=device)
    for i in range(0, len(windows), batch_size):
        idx = torch.arange(i, min(i + batch_size, len(windows)), device=device)
        x, cal, y = windows.batch(idx)
        total += criterion(_y_hat(model(x, cal)), y, reduction="sum")
    model.train(was_training)
    return float(total.item()) / max(
        1, len(windows) * windows.horizon * int(windows.out_idx.numel())
    )


def fit(
    model: nn.Module,
    train: WindowSet,
    valid: WindowSet,
    *,
    cfg: TrainConfig,
    device: str | torch.device | None,
    seed: int,
    progress: Progress | None = None,
) -> FitResult:
    """Train `model` in place on `train`, keeping the weights with the best loss on `valid`.

    Same seed, same data, same device -> bit-identical weights. The loss is accumulated on the
    device and read once per epoch, so no step waits for the host.

    Args:
        progress: called after each epoch with epoch, epochs, train_loss, val_loss,
            best_val_loss, lr, elapsed_s, windows_per_s.
    """
    if len(train) == 0 or len(valid) == 0:
        raise ValueError(f"need training and validation windows, got {len(train)} and {len(valid)}")
    dev = resolve_device(device)
    old_threads = torch.get_num_threads()
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    try:
        return _fit(
            model,
            train.to(dev),
            valid.to(dev),
            cfg=cfg,
            device=dev,
            seed=seed,
            progress=progress,
        )
    finally:
        torch.set_num_threads(old_threads)


@dataclass
class _Run:
    """A fit's running state, carried from epoch to epoch: counters, losses, the best weights."""

    cfg: TrainConfig
    total_steps: int
    start: float
    lr: float
    step: int = 0
    seen: int = 0
    train_seconds: float = 0.0
    stopped: Stopped = "completed"
    best_val: float = math.inf
    best_epoch: int = 0
    bad_epochs: int = 0
    best_state: dict[str, Tensor] = field(default_factory=dict)
    train_losses: list[float] = field(default_factory=list)
    val_losses: list[float] = field(default_factory=list)

    def lr_now(self, epoch: int) -> float:
        """The learning rate of the next step under the configured schedule."""
        cfg = self.cfg
        if cfg.schedule == "step":
            return step_lr_at(epoch, base_lr=cfg.lr)
        return lr_at(
            self.step,
            total_steps=self.total_steps,
            base_lr=cfg.lr,
            warmup_steps=int(cfg.warmup_frac * self.total_steps),
            min_lr=cfg.lr * cfg.min_lr_frac,
        )

    def keep_best(self, model: nn.Module, epoch: int, val: float) -> None:
        """Record the epoch's validation loss; keep the weights when it is the best so far."""
        self.val_losses.append(val)
        if val < self.best_val:
            self.best_val, self.best_epoch, self.bad_epochs = val, epoch + 1, 0
            self.best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            self.bad_epochs += 1

    def progress_row(self, epoch: int, elapsed: float) -> dict[str, Any]:
        """What the progress callback gets after a 0-based epoch (see fit)."""
        return {
            "epoch": epoch + 1,
            "epochs": self.cfg.epochs,
            "train_loss": self.train_losses[-1],
            "val_loss": self.val_losses[-1],
            "best_val_loss": self.best_val,
            "lr": self.lr,
            "elapsed_s": elapsed,
            "windows_per_s": self.windows_per_s(),
        }

    def windows_per_s(self) -> float:
        return self.seen / max(self.train_seconds, 1e-9)

    def result(self, device: torch.device) -> FitResult:
        return FitResult(
            epochs_run=len(self.train_losses),
            best_epoch=self.best_epoch,
            best_val_loss=self.best_val,
            train_losses=tuple(self.train_losses),
            val_losses=tuple(self.val_losses),
            stopped=self.stopped,
            seconds=time.monotonic() - self.start,
            windows_per_s=self.windows_per_s(),
            steps=self.step,
            device=str(device),
            epochs_planned=self.cfg.epochs,
            time_budget_s=self.cfg.time_budget_s,
        )


def _train_epoch(
    model: nn.Module,
    train: WindowSet,
    perm: Tensor,
    opt: torch.optim.Optimizer,
    criterion: Callable[..., Tensor],
    *,
    run: _Run,
    epoch: int,
    tf: float,
) -> tuple[Tensor, int]:
    """One pass over the shuffled training windows; stops early when the time budget is spent.

    Returns the summed loss (on the device, not yet read) and the windows seen.
    """
    cfg = run.cfg
    total = torch.zeros((), device=perm.device)
    epoch_seen = 0
    for i in range(0, len(train), cfg.batch_size):
        idx = perm[i : i + cfg.batch_size]
        x, cal, y = train.batch(idx)
        run.lr = run.lr_now(epoch)
        for group in opt.param_groups:
            group["lr"] = run.lr
        loss = criterion(_y_hat(model(x, cal, target=y, teacher_forcing=tf)), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]
        if cfg.clip > 0:
            nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
        opt.step()
        total += loss.detach() * idx.numel()
        run.step += 1
        epoch_seen += idx.numel()
        if cfg.time_budget_s is not None and time.monotonic() - run.start > cfg.time_budget_s:
            run.stopped = "time_budget"
            break
    return total, epoch_seen


def _fit(
    model: nn.Module,
    train: WindowSet,
    valid: WindowSet,
    *,
    cfg: TrainConfig,
    device: torch.device,
    seed: int,
    progress: Progress | None,
) -> FitResult:
    criterion = loss_fn(cfg.loss)
    seed_process(seed)  # dropout and scheduled sampling draw from the global generator
    order = torch.Generator().manual_seed(seed)  # the shuffling has its own, on the CPU
    model.to(device).train()
    opt = torch.optim.AdamW(
        model.parameters(),
        lr=cfg.lr,
        weight_decay=cfg.weight_decay,
        fused=True if device.type == "cuda" else None,  # one kernel per step on a GPU
    )
    n = len(train)
    total_steps = math.ceil(n / cfg.batch_size) * cfg.epochs
    run = _Run(cfg=cfg, total_steps=total_steps, start=time.monotonic(), lr=cfg.lr)
    run.best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    for epoch in range(cfg.epochs):
        tf = teacher_forcing_at(epoch, epochs=cfg.epochs, start=cfg.teacher_forcing)
        perm = torch.randperm(n, generator=order).to(device)
        epoch_start = time.monotonic()
        total, epoch_seen = _train_epoch(
            model, train, perm, opt, criterion, run=run, epoch=epoch, tf=tf
        )
        run.seen += epoch_seen
        run.train_losses.append(float(total.item()) / epoch_seen)  # the epoch's one host sync
        run.train_seconds += time.monotonic() - epoch_start
        run.keep_best(model, epoch, validation_loss(model, valid, loss=cfg.loss))
        elapsed = time.monotonic() - run.start
        if progress is not None:
            progress(run.progress_row(epoch, elapsed))
        if run.stopped == "time_budget":
            break
        if run.bad_epochs >= cfg.patience:
            run.stopped = "early_stopping"
            break
        last = epoch + 1 == cfg.epochs  # a fit whose epochs are all done was not cut short
        if not last and cfg.time_budget_s is not None and elapsed > cfg.time_budget_s:
            run.stopped = "time_budget"
            break
    model.load_state_dict(run.best_state)  # best-weights restore
    model.eval()
    return run.result(device)
