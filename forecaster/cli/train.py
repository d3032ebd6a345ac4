"""`forecaster train`: train one model on a stored series, register it, print its figures."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from forecaster.cli.args import command
from forecaster.cli.context import open_sessions
from forecaster.cli.render import METRIC_COLUMNS, metrics_rows, print_table
from forecaster.config import Settings
from forecaster.errors import InvalidRequest

if TYPE_CHECKING:
    from forecaster.spec import ModelSpec


TRAIN_EXAMPLES = """examples:
  forecaster train AAPL                                  an LSTM forecasting one step at a time
  forecaster train AAPL --arch gru --strategy direct --horizon 10
  forecaster train seattle-weather --arch seq2seq --strategy direct --segment-len 5
  forecaster train AAPL --epochs 5 --promote             quick, and serve it whatever its score"""


def add_train(sub: Any) -> None:
    """The `train` command: an option for every ModelSpec field (tests/forecaster/cli/
    test_parser.py checks each reaches the spec, with the spec's default unless said here)."""
    t = command(sub, "train", "train one model on a stored series and register it", TRAIN_EXAMPLES)
    t.add_argument("key", metavar="KEY", help="a stored series (`forecaster series` lists them)")
    t.add_argument(
        "--promote", action="store_true", help="make it champion even if it does not win"
    )
    _model_options(t.add_argument_group("model"))
    _data_options(t.add_argument_group("data"))
    _training_options(t.add_argument_group("training"))
    t.set_defaults(handler=cmd_train)


def _model_options(g: Any) -> None:
    g.add_argument(
        "--arch", choices=["lstm", "gru", "rnn", "seq2seq"], default="lstm", help="architecture"
    )
    g.add_argument(
        "--strategy",
        choices=["recursive", "direct"],
        default="recursive",
        help="recursive: one step at a time, fed back; direct: all HORIZON steps at once",
    )
    g.add_argument("--lookback", type=int, default=60, help="input window, in time steps")
    g.add_argument("--horizon", type=int, default=10, help="steps ahead to forecast")
    g.add_argument("--hidden", type=int, default=32, help="hidden units per layer")
    g.add_argument("--layers", type=int, default=1, help="recurrent layers")
    g.add_argument("--dropout", type=float, default=0.1, help="dropout between layers, in [0, 1)")
    g.add_argument(
        "--bidirectional",
        action="store_true",
        help="read the lookback both ways (lstm, gru or rnn; direct strategy; no segments)",
    )
    g.add_argument(
        "--segment-len",
        type=int,
        help="SegRNN-style segments of this many steps (direct strategy; divides --lookback)",
    )
    g.add_argument(
        "--attention",
        choices=["bahdanau", "luong"],
        default="bahdanau",
        help="seq2seq: additive (bahdanau) or dot-product (luong) attention",
    )
    g.add_argument(
        "--seq2seq-cell", choices=["lstm", "gru"], default="lstm", help="seq2seq: its cells"
    )
    g.add_argument(
        "--teacher-forcing",
        type=float,
        default=0.5,
        help="seq2seq: the first epoch's scheduled-sampling ratio, decaying to 0",
    )
    g.add_argument("--level", type=float, default=0.9, help="prediction-interval level, in (0, 1)")


def _data_options(g: Any) -> None:
    g.add_argument("--targets", help="comma-separated target variables (default: close / tmax)")
    g.add_argument(
        "--inputs",
        help="comma-separated input variables, the targets among them (default: all)",
    )
    g.add_argument(
        "--transform",
        choices=["level", "log_return", "log1p"],
        default="level",
        help="per variable: the level, log returns or log(1 + x); one that cannot apply to a "
        "variable falls back (a note says why)",
    )
    g.add_argument(
        "--normalization",
        choices=["revin", "global", "both", "none"],
        default="revin",
        help="revin: each window by its own mean and scale; global: by the training split's; "
        "both: global, then revin",
    )
    g.add_argument(
        "--revin-affine", action="store_true", help="RevIN's learnable per-variable weight and bias"
    )
    g.add_argument(
        "--calendar",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="known-future calendar covariates (segment models ignore them)",
    )
    g.add_argument(
        "--fill-limit",
        type=int,
        default=3,
        help="forward-fill input gaps of at most this many rows",
    )
    g.add_argument("--stride", type=int, default=1, help="training windows start every STRIDE rows")
    g.add_argument("--val-fraction", type=float, default=0.15, help="share of rows for validation")
    g.add_argument(
        "--test-fraction", type=float, default=0.15, help="share of rows held out for the test"
    )


def _training_options(g: Any) -> None:
    g.add_argument("--epochs", type=int, default=30, help="most passes over the training data")
    g.add_argument("--batch-size", type=int, default=64, help="windows per batch")
    g.add_argument("--lr", type=float, default=1e-3, help="learning rate")
    g.add_argument("--weight-decay", type=float, default=1e-4, help="AdamW weight decay")
    g.add_argument(
        "--patience", type=int, default=5, help="epochs without improvement before stopping"
    )
    g.add_argument("--clip", type=float, default=1.0, help="gradient-norm clip (0: none)")
    g.add_argument(
        "--loss",
        choices=["mse", "l1", "huber"],
        default="mse",
        help="training loss, also used on validation for early stopping",
    )
    g.add_argument(
        "--schedule",
        choices=["cosine", "step"],
        default="cosine",
        help="learning rate: warmup then cosine, or hold 3 epochs then x0.9 per epoch",
    )
    g.add_argument(
        "--init",
        choices=["xavier", "torch"],
        default="xavier",
        help="weights: Xavier/orthogonal, or PyTorch's default",
    )
    g.add_argument(
        "--time-budget",
        type=float,
        metavar="SECONDS",
        help="safety cap on training seconds (positive); epochs bound the fit, a cut is reported",
    )
    g.add_argument("--seed", type=int, default=0, help="random seed (same seed, same weights)")


# ModelSpec fields whose option has the field's own name (dest) and value
SAME_NAME = (
    "strategy lookback horizon dropout bidirectional attention seq2seq_cell teacher_forcing level "
    "transform normalization revin_affine calendar fill_limit stride val_fraction test_fraction "
    "epochs batch_size lr weight_decay patience clip loss schedule init seed segment_len"
).split()


def model_spec(args: argparse.Namespace) -> ModelSpec:
    """The ModelSpec the arguments ask for (InvalidRequest for a bad --time-budget)."""
    from forecaster.spec import ModelSpec

    fields: dict[str, Any] = {name: getattr(args, name) for name in SAME_NAME}
    fields |= {
        "architecture": architecture(args),
        "hidden_size": args.hidden,
        "num_layers": args.layers,
        "targets": tuple(args.targets.split(",")) if args.targets else None,
        "inputs": tuple(args.inputs.split(",")) if args.inputs else None,
    }
    if args.time_budget is not None:
        if not args.time_budget > 0:  # also NaN
            raise InvalidRequest(
                f"--time-budget {args.time_budget:g} is not valid; give a positive number of "
                "seconds (a safety cap, e.g. 300) or leave it out for no cap"
            )
        fields["time_budget_s"] = args.time_budget
    return ModelSpec(**fields)


def architecture(args: argparse.Namespace) -> str:
    return "seq2seq_attention" if args.arch == "seq2seq" else str(args.arch)


@contextmanager
def epoch_bar(desc: str, total: int) -> Iterator[Callable[[dict[str, Any]], None]]:
    """A progress callback whose bar is made on the first epoch (an invalid request prints none)."""
    from tqdm import tqdm

    bars: list[Any] = []

    def progress(info: dict[str, Any]) -> None:
        if not bars:
            bars.append(tqdm(total=total, desc=desc, unit="epoch", file=sys.stderr))
        bar = bars[0]
        bar.n = int(info.get("epoch", bar.n))
        bar.set_postfix({k: f"{v:.4f}" for k, v in info.items() if k in ("train_loss", "val_loss")})
        bar.refresh()

    try:
        yield progress
    finally:
        for bar in bars:
            bar.close()


def cmd_train(args: argparse.Namespace, settings: Settings) -> int:
    from flows.leases import train_recorded
    from forecaster.app.catalog import metrics_table
    from forecaster.app.training import TrainRequest

    spec = model_spec(args)
    arch = architecture(args)
    request = TrainRequest(args.key, spec, promote=args.promote)
    with open_sessions(settings) as sessions:
        with epoch_bar(f"train {args.key} {arch}/{args.strategy}", spec.epochs) as progress:
            decision = train_recorded(
                sessions,
                request,
                threads=settings.torch_threads or None,
                device=settings.device,
                progress=progress,
            )
        with sessions.begin() as session:
            # the table and the skill line are both the backtest the champion rule judged
            split, metrics = metrics_table(
                session=session, version_id=decision.version_id, splits=("backtest", "test")
            )
    print_decision(args, decision, split, metrics)
    return 0


def print_decision(
    args: argparse.Namespace, decision: Any, split: str, metrics: list[dict[str, Any]]
) -> None:
    """The new version, the champion rule's verdict, its figures beside the baselines', skill."""
    from forecaster.skill import skill_sentence

    arch = architecture(args)
    steps = max((int(m["step"]) for m in metrics), default=0)
    print(f"model version {decision.version_id}: {arch}/{args.strategy} on {args.key}")
    print(
        f"{'promoted to champion' if decision.promoted else 'kept as candidate'}: {decision.reason}"
    )
    for notice in decision.extra.get("notices", []):
        print(f"note: {notice}")
    span = "step 1" if steps == 1 else f"steps 1-{steps}"
    windows = "" if split != "backtest" else " (the recent window the champion rule judges)"
    print(
        f"\n{split} split{windows}, {span}, original scale "
        "(naive = last value; snaive = seasonal naive):"
    )
    print_table(metrics_rows(metrics), METRIC_COLUMNS)
    sentence = skill_sentence(metrics, architecture=arch, split=split, steps=steps)
    if sentence:
        print(f"\n{sentence}")
    if decision.baseline_served and decision.served_architecture is not None:
        # the served baseline's figures on these very windows: its column of the table
        served = [{**m, "model": m[decision.served_architecture]} for m in metrics]
        line = skill_sentence(
            served, architecture=decision.served_architecture, split=split, steps=steps
        )
        print(f"{line} Version {decision.served_id} is the {args.strategy} champion.")
