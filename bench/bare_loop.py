"""The bare PyTorch training loop, to measure what the library's fit() costs on top of it.

It trains the same model on the same batches as forecaster.training.fit (same seed, same
torch.Generator shuffling, the WindowSet's own gather) with nothing else: forward, MSE,
zero_grad, backward, AdamW step. No clipping, no LR schedule, no loss bookkeeping, no validation.

    .venv/bin/python bench/bare_loop.py                      # library segment GRU, 96 -> 96
    .venv/bin/python bench/bare_loop.py --model ref          # the reference SegRNN (bench/segrnn_ref.py)
    .venv/bin/python bench/bare_loop.py --compare --repeats 3   # alternate bare and fit(); ratio

Prints one JSON line per run: windows/s, where a window is one (L, 7) input with its (H, 7) target.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from collections.abc import Callable

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from ettdata import COLUMNS, protocol  # noqa: E402

from forecaster.data.windows import WindowSet  # noqa: E402
from forecaster.forecasting.factory import build_module  # noqa: E402
from forecaster.spec import ModelSpec  # noqa: E402
from forecaster.training import TrainConfig, fit  # noqa: E402


def bare_train(
    model: nn.Module,
    train: WindowSet,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    weight_decay: float,
    seed: int,
) -> dict[str, float]:
    """Train in place; the windows/s of the training passes."""
    torch.manual_seed(seed)
    order = torch.Generator().manual_seed(seed)  # as fit(): its own generator for the shuffling
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    n, seen = len(train), 0
    start = time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(n, generator=order)
        for i in range(0, n, batch_size):
            x, cal, y = train.batch(perm[i : i + batch_size])
            loss = nn.functional.mse_loss(model(x, cal), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            seen += x.shape[0]
    seconds = time.perf_counter() - start
    return {"windows_per_s": seen / seconds, "seconds": seconds, "windows": seen}


def library_segment_gru(
    lookback: int, horizon: int, *, hidden: int, segment_len: int, dropout: float
) -> ModelSpec:
    return ModelSpec(
        architecture="gru",
        strategy="direct",
        lookback=lookback,
        horizon=horizon,
        hidden_size=hidden,
        num_layers=1,
        dropout=dropout,
        segment_len=segment_len,
        normalization="none",  # SegRNN: subtract the last value (the data are z-scored already)
        calendar=False,
    )


def model_factory(args: argparse.Namespace) -> Callable[[], nn.Module]:
    def make() -> nn.Module:
        torch.manual_seed(args.seed)
        if args.model == "ref":
            from segrnn_ref import SegRNNRef

            return SegRNNRef(
                args.L,
                args.H,
                len(COLUMNS),
                segment_len=args.segment_len,
                hidden=args.hidden,
                dropout=args.dropout,
            )
        spec = library_segment_gru(
            args.L, args.H, hidden=args.hidden, segment_len=args.segment_len, dropout=args.dropout
        )
        n = len(COLUMNS)
        return build_module(spec, n_features=n, n_calendar=0, out_idx=list(range(n)))

    return make


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--model", choices=("lib", "ref"), default="lib")
    ap.add_argument("--L", type=int, default=96)
    ap.add_argument("--H", type=int, default=96)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--segment-len", type=int, default=48)
    ap.add_argument("--dropout", type=float, default=0.5)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--weight-decay", type=float, default=1e-4)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--compare", action="store_true", help="alternate with forecaster.training.fit")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    data = protocol(args.L, args.H)
    make = model_factory(args)
    bare, lib = [], []
    for r in range(args.repeats):
        res = bare_train(
            make(),
            data.train,
            epochs=args.epochs,
            batch_size=args.batch,
            lr=args.lr,
            weight_decay=args.weight_decay,
            seed=args.seed,
        )
        bare.append(res["windows_per_s"])
        print(
            json.dumps(
                {
                    "loop": "bare",
                    "repeat": r,
                    **{k: round(v, 1) for k, v in res.items()},
                    "load1": os.getloadavg()[0],
                }
            ),
            flush=True,
        )
        if args.compare:
            cfg = TrainConfig(
                epochs=args.epochs,
                batch_size=args.batch,
                lr=args.lr,
                weight_decay=args.weight_decay,
                patience=args.epochs + 1,
                threads=args.threads,
            )
            out = fit(make(), data.train, data.valid, cfg=cfg, device="cpu", seed=args.seed)
            lib.append(out.windows_per_s)
            print(
                json.dumps(
                    {
                        "loop": "fit",
                        "repeat": r,
                        "windows_per_s": round(out.windows_per_s, 1),
                        "seconds": round(out.seconds, 1),
                        "load1": os.getloadavg()[0],
                    }
                ),
                flush=True,
            )
    summary = {
        "model": args.model,
        "L": args.L,
        "H": args.H,
        "hidden": args.hidden,
        "bare_windows_per_s": round(statistics.median(bare)),
    }
    if lib:
        summary["fit_windows_per_s"] = round(statistics.median(lib))
        summary["ratio_fit_over_bare"] = round(statistics.median(lib) / statistics.median(bare), 3)
    print(json.dumps(summary))
    assert math.isfinite(summary["bare_windows_per_s"])


if __name__ == "__main__":
    main()
