"""ModelSpec: every hyperparameter needed to rebuild and retrain a model, checked with clear messages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

from forecaster.checks import check_level
from forecaster.data.splits import split_borders
from forecaster.errors import InvalidData, InvalidRequest
from forecaster.strategies import check_supported
from forecaster.training import LOSSES, SCHEDULES

NORMALIZATIONS = ("revin", "global", "both", "none")
TRANSFORMS = ("level", "log_return", "log1p")
ATTENTIONS = ("bahdanau", "luong")
SEQ2SEQ_CELLS = ("lstm", "gru")
INITS = ("xavier", "torch")


@dataclass(frozen=True)
class ModelSpec:
    """Architecture, data and training choices of one model; to_dict()/from_dict() round-trip JSON."""

    architecture: str  # "lstm" | "gru" | "rnn" | "seq2seq_attention"
    strategy: str  # "recursive" | "direct"
    lookback: int
    horizon: int  # the direct model's H; for recursive, the default/evaluation horizon
    targets: tuple[str, ...] | None = None  # None: all inputs
    inputs: tuple[str, ...] | None = None  # None: all variables (targets must be a subset)
    hidden_size: int = 64
    num_layers: int = 2
    dropout: float = 0.1
    bidirectional: bool = False  # lstm/gru/rnn with strategy=direct only
    attention: str = "bahdanau"  # seq2seq: "bahdanau" (additive) | "luong" (dot product)
    teacher_forcing: float = 0.5  # seq2seq: initial scheduled-sampling ratio, decays to 0
    seq2seq_cell: str = "lstm"  # seq2seq encoder/decoder: "lstm" | "gru"
    segment_len: int | None = None  # SegRNN-style segments (lstm/gru/rnn, direct)
    normalization: str = "revin"  # "revin" | "global" | "both" | "none"
    revin_affine: bool = False  # RevIN's learnable per-variable weight and bias
    # "level" | "log_return" | "log1p"; per variable, one that cannot apply falls back (recorded)
    transform: str = "level"
    calendar: bool = True  # known-future calendar covariates (segment models ignore them)
    fill_limit: int = 3  # inputs are forward-filled over gaps of at most this many rows
    stride: int = (
        1  # training windows start every `stride` rows (evaluation always uses every origin)
    )
    epochs: int = 30
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    patience: int = 5
    clip: float = 1.0
    loss: str = "mse"  # training loss, also early stopping's: mse | l1 | huber
    schedule: str = "cosine"  # learning rate: "cosine" (warmup + cosine) | "step" (hold 3, x0.9)
    init: str = "xavier"  # "xavier" (Xavier/orthogonal) | "torch" (PyTorch's default init)
    time_budget_s: float | None = None  # a safety cap on training seconds; epochs bound a fit
    seed: int = 0
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    level: float = 0.9  # prediction-interval level

    def __post_init__(self) -> None:
        for name in (
            "targets",
            "inputs",
        ):  # JSON gives lists; keep the value hashable and immutable
            value = getattr(self, name)
            if value is not None and not isinstance(value, tuple):
                object.__setattr__(self, name, tuple(value))

    @property
    def model_horizon(self) -> int:
        """Steps per forward pass: 1 for a recursive (one-step) model, else H."""
        return 1 if self.strategy == "recursive" else self.horizon

    @property
    def uses_calendar(self) -> bool:
        return self.calendar and self.segment_len is None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for name in ("targets", "inputs"):
            if out[name] is not None:
                out[name] = list(out[name])
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelSpec:
        """Rebuild from `to_dict()` output; unknown keys are an error, missing ones take defaults."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidRequest(
                f"unknown ModelSpec fields {unknown}; valid: {', '.join(sorted(known))}"
            )
        return cls(**data)

    def check(self) -> None:
        """Everything that can be checked without data. Raises InvalidRequest."""
        self._check_model()
        self._check_numbers()

    def _check_model(self) -> None:
        """The architecture and strategy, the named choices and the shape options agree."""
        check_supported(self.architecture, self.strategy, segment_len=self.segment_len)
        if self.horizon <= 0:
            raise InvalidRequest(f"horizon={self.horizon} must be a positive number of steps")
        if self.lookback <= 0:
            raise InvalidRequest(f"lookback={self.lookback} must be a positive number of steps")
        choices = {
            "normalization": NORMALIZATIONS,
            "transform": TRANSFORMS,
            "attention": ATTENTIONS,
            "seq2seq_cell": SEQ2SEQ_CELLS,
            "loss": LOSSES,
            "schedule": SCHEDULES,
            "init": INITS,
        }
        for name, valid in choices.items():
            if getattr(self, name) not in valid:
                raise InvalidRequest(
                    f"{name}={getattr(self, name)!r} is not valid; valid: {', '.join(valid)}"
                )
        if self.bidirectional and (
            self.strategy != "direct"
            or self.architecture == "seq2seq_attention"
            or self.segment_len is not None
        ):
            raise InvalidRequest(
                "bidirectional=True needs strategy='direct' with architecture lstm, gru or rnn and no segment_len"
            )
        if self.segment_len is not None:
            if self.segment_len <= 0:
                raise InvalidRequest(f"segment_len={self.segment_len} must be positive")
            if self.lookback % self.segment_len:
                raise InvalidRequest(
                    f"lookback={self.lookback} must be a multiple of segment_len={self.segment_len}"
                )

    def _check_numbers(self) -> None:
        """Sizes, rates, fractions and budgets lie in their ranges."""
        positive = {
            "hidden_size": self.hidden_size,
            "num_layers": self.num_layers,
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "patience": self.patience,
            "stride": self.stride,
        }
        for name, value in positive.items():
            if value < 1:
                raise InvalidRequest(f"{name}={value} must be at least 1")
        if self.time_budget_s is not None and not (
            isinstance(self.time_budget_s, int | float) and self.time_budget_s > 0
        ):
            raise InvalidRequest(
                f"time_budget_s={self.time_budget_s!r} must be a positive number of seconds "
                "(or unset for no cap)"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise InvalidRequest(f"dropout={self.dropout} must be in [0, 1)")
        if not 0.0 <= self.teacher_forcing <= 1.0:
            raise InvalidRequest(f"teacher_forcing={self.teacher_forcing} must be in [0, 1]")
        check_level(self.level)
        if self.lr <= 0 or self.weight_decay < 0 or self.clip < 0 or self.fill_limit < 0:
            raise InvalidRequest(
                f"need lr > 0, weight_decay >= 0, clip >= 0, fill_limit >= 0; got lr={self.lr}, "
                f"weight_decay={self.weight_decay}, clip={self.clip}, fill_limit={self.fill_limit}"
            )
        if not (0.0 < self.val_fraction < 1.0 and 0.0 <= self.test_fraction < 1.0) or (
            self.val_fraction + self.test_fraction >= 1.0
        ):
            raise InvalidRequest(
                f"val_fraction={self.val_fraction} and test_fraction={self.test_fraction} must satisfy "
                "0 < val_fraction, 0 <= test_fraction and val_fraction + test_fraction < 1"
            )

    def resolve(self, frame_columns: Sequence[str]) -> tuple[list[str], list[str]]:
        """(inputs, targets) for a frame's columns. Raises InvalidRequest for unknown names."""
        columns = [str(c) for c in frame_columns]
        for kind, names in (("input", self.inputs), ("target", self.targets)):
            for name in names or ():
                if name not in columns:
                    raise InvalidRequest(
                        f"unknown {kind} {name!r}; variables are: {', '.join(columns)}"
                    )
        inputs = list(self.inputs) if self.inputs is not None else columns
        targets = list(self.targets) if self.targets is not None else inputs
        for name in targets:
            if name not in inputs:
                raise InvalidRequest(
                    f"target {name!r} is not among inputs ({', '.join(inputs)}); targets must be a subset of inputs"
                )
        if not targets:
            raise InvalidRequest("no targets: give at least one variable")
        return inputs, targets

    def validate(self, frame_columns: Sequence[str], n_rows: int) -> None:
        """Check the spec against a frame's columns and length.

        Raises:
            InvalidRequest: a bad or unsupported hyperparameter, an unknown variable.
            InvalidData: too little history for the lookback, horizon and splits.
        """
        self.check()
        self.resolve(frame_columns)
        if self.lookback >= n_rows:
            raise InvalidData(
                f"lookback={self.lookback} is longer than the history ({n_rows} rows); "
                "use a shorter lookback or provide more data"
            )
        borders = split_borders(
            n_rows, val_fraction=self.val_fraction, test_fraction=self.test_fraction
        )
        first_row = 1 if self.transform == "log_return" else 0  # a log return needs the row before
        need = first_row + self.lookback + self.model_horizon
        if borders.train_end < need:
            raise InvalidData(
                f"the training split has {borders.train_end} of {n_rows} rows but lookback={self.lookback} "
                f"and horizon={self.model_horizon} need {need}; use a shorter lookback, smaller "
                "val_fraction/test_fraction or more data"
            )
        checks = (
            ("validation", "val_fraction", borders.rows("valid")),
            ("test", "test_fraction", borders.rows("test")),
        )
        for split, name, (lo, hi) in checks:
            if (split == "validation" or self.test_fraction > 0) and hi - lo < self.horizon:
                raise InvalidData(
                    f"the {split} split has {hi - lo} rows ({name}={getattr(self, name)} of {n_rows} rows) "
                    f"but horizon={self.horizon} needs {self.horizon}; raise {name} or provide more data"
                )
