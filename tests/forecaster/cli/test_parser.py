"""The command line's surface, no database needed: version, help, aliases, completion."""

from __future__ import annotations

import argparse
import dataclasses
import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import version

import pytest

from forecaster.cli.main import main
from forecaster.cli.parser import build_parser
from forecaster.cli.train import model_spec
from forecaster.spec import (
    ATTENTIONS,
    INITS,
    NORMALIZATIONS,
    SEQ2SEQ_CELLS,
    TRANSFORMS,
    ModelSpec,
)
from forecaster.training import LOSSES, SCHEDULES


def test_version_prints_the_installed_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out == f"forecaster {version('forecaster')}\n"


def _help(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    with pytest.raises(SystemExit) as done:
        main([*args, "--help"])
    assert done.value.code == 0
    return " ".join(capsys.readouterr().out.split())  # unwrapped: argparse wraps at the width


def test_top_level_help_is_for_users_with_examples(capsys: pytest.CaptureFixture[str]) -> None:
    text = _help(capsys)
    assert "examples: forecaster demo" in text and "--version" in text
    assert "Start-up matters" not in text and "test_reads.py" not in text  # for developers


@pytest.mark.parametrize(
    ("command", "shown"),
    [
        (["train"], ["(default: lstm)", "(default: 60)", "(default: revin)", "examples:"]),
        (["forecast"], ["(default: champion)", "(default: the model's own horizon)", "examples:"]),
        (["runs"], ["(default: 20)"]),
        (["replay"], ["(default: policy)", "examples:"]),
        (["serve"], ["(default: 127.0.0.1)", "(default: 8000)"]),
        (["retrain"], ["(default: all)", "examples:"]),
        (["ingest"], ["examples:"]),
    ],
)
def test_help_shows_defaults_and_examples(
    capsys: pytest.CaptureFixture[str], command: list[str], shown: list[str]
) -> None:
    text = _help(capsys, *command)
    assert [s for s in shown if s not in text] == []
    assert "(default: None)" not in text and "(default: False)" not in text


def _parsers(
    parser: argparse.ArgumentParser, path: str = ""
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """The parser and every command's, named by their command path ("" for the top)."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, f"{path} {name}".strip())


def test_every_option_has_help() -> None:
    missing = [
        f"{path} {'/'.join(a.option_strings) or a.dest}"
        for path, parser in _parsers(build_parser())
        for a in parser._actions
        if not isinstance(a, argparse._SubParsersAction) and not a.help
    ]
    assert missing == []


def test_models_series_and_key_are_one_choice(capsys: pytest.CaptureFixture[str]) -> None:
    assert build_parser().parse_args(["models", "--series", "AAPL"]).series == "AAPL"
    with pytest.raises(SystemExit) as done:
        main(["models", "AAPL", "--series", "IBM"])
    assert done.value.code == 2
    assert "argument --series: not allowed with argument KEY" in capsys.readouterr().err


def _train_spec(*options: str) -> ModelSpec:
    return model_spec(build_parser().parse_args(["train", "AAPL", *options]))


def test_train_defaults_are_the_model_specs() -> None:
    """Only the size of the network is the CLI's own (small and quick at a terminal)."""
    assert _train_spec() == ModelSpec(
        architecture="lstm",
        strategy="recursive",
        lookback=60,
        horizon=10,
        hidden_size=32,
        num_layers=1,
    )


# (options, the ModelSpec field they set, its value): every field of the spec has a row
TRAIN_OPTIONS = [
    (["--arch", "seq2seq"], "architecture", "seq2seq_attention"),
    (["--strategy", "direct"], "strategy", "direct"),
    (["--lookback", "30"], "lookback", 30),
    (["--horizon", "5"], "horizon", 5),
    (["--targets", "close,open"], "targets", ("close", "open")),
    (["--inputs", "close,open,volume"], "inputs", ("close", "open", "volume")),
    (["--hidden", "16"], "hidden_size", 16),
    (["--layers", "3"], "num_layers", 3),
    (["--dropout", "0.3"], "dropout", 0.3),
    (["--bidirectional"], "bidirectional", True),
    (["--attention", "luong"], "attention", "luong"),
    (["--teacher-forcing", "0.2"], "teacher_forcing", 0.2),
    (["--seq2seq-cell", "gru"], "seq2seq_cell", "gru"),
    (["--segment-len", "5"], "segment_len", 5),
    (["--normalization", "global"], "normalization", "global"),
    (["--revin-affine"], "revin_affine", True),
    (["--transform", "log1p"], "transform", "log1p"),
    (["--no-calendar"], "calendar", False),
    (["--fill-limit", "0"], "fill_limit", 0),
    (["--stride", "2"], "stride", 2),
    (["--epochs", "3"], "epochs", 3),
    (["--batch-size", "32"], "batch_size", 32),
    (["--lr", "0.01"], "lr", 0.01),
    (["--weight-decay", "0"], "weight_decay", 0.0),
    (["--patience", "2"], "patience", 2),
    (["--clip", "0.5"], "clip", 0.5),
    (["--loss", "huber"], "loss", "huber"),
    (["--schedule", "step"], "schedule", "step"),
    (["--init", "torch"], "init", "torch"),
    (["--time-budget", "60"], "time_budget_s", 60.0),
    (["--seed", "7"], "seed", 7),
    (["--val-fraction", "0.2"], "val_fraction", 0.2),
    (["--test-fraction", "0.1"], "test_fraction", 0.1),
    (["--level", "0.8"], "level", 0.8),
]


def test_every_model_spec_field_has_a_train_option() -> None:
    assert sorted(name for _, name, _ in TRAIN_OPTIONS) == sorted(
        f.name for f in dataclasses.fields(ModelSpec)
    )


@pytest.mark.parametrize(("options", "field", "value"), TRAIN_OPTIONS)
def test_a_train_option_reaches_the_spec(options: list[str], field: str, value: object) -> None:
    spec = _train_spec(*options)
    assert getattr(spec, field) == value
    others = {f.name for f in dataclasses.fields(ModelSpec)} - {field}
    assert all(getattr(spec, f) == getattr(_train_spec(), f) for f in others)


@pytest.mark.parametrize(
    ("option", "valid"),
    [
        ("--transform", TRANSFORMS),
        ("--normalization", NORMALIZATIONS),
        ("--attention", ATTENTIONS),
        ("--seq2seq-cell", SEQ2SEQ_CELLS),
        ("--init", INITS),
        ("--loss", LOSSES),
        ("--schedule", SCHEDULES),
    ],
)
def test_train_choices_are_the_specs(option: str, valid: tuple[str, ...]) -> None:
    train = next(p for path, p in _parsers(build_parser()) if path == "train")
    (action,) = [a for a in train._actions if option in a.option_strings]
    assert tuple(action.choices or ()) == valid


@pytest.mark.parametrize(("shell", "first"), [("bash", "# AUTOMATICALLY"), ("zsh", "#compdef")])
def test_completion_prints_a_script_for_the_shell(
    capsys: pytest.CaptureFixture[str], shell: str, first: str
) -> None:
    assert main(["completion", shell]) == 0
    script = capsys.readouterr().out
    assert script.startswith(first) and "forecaster" in script
    assert "--bidirectional" in script and "--series" in script  # every command's options
    if shell == "bash":  # a CSV path and a retrain config complete as file names
        assert "_shtab_forecaster_ingest_csv_pos_0_COMPGEN=_shtab_compgen_files" in script
        assert "_shtab_forecaster_retrain___config_COMPGEN=_shtab_compgen_files" in script


def test_start_up_does_not_import_the_completion_tool() -> None:
    probe = (
        "import sys; from forecaster.cli.parser import build_parser; build_parser(); "
        "print('shtab' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
