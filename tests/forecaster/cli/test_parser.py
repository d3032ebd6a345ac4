"""The command line's surface, no database needed: version, help, aliases, completion."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from importlib.metadata import version

import pytest

from forecaster.cli.main import main
from forecaster.cli.parser import build_parser


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


def _options(parser: argparse.ArgumentParser) -> Iterator[tuple[str, argparse.Action]]:
    """Every argument of every command (and subcommand), named by its command path."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                for path, inner in _options(sub):
                    yield f"{name} {path}".strip(), inner
        else:
            yield "", action


def test_every_option_has_help() -> None:
    missing = [
        f"{path} {'/'.join(a.option_strings) or a.dest}"
        for path, a in _options(build_parser())
        if not a.help
    ]
    assert missing == []


def test_models_series_and_key_are_one_choice(capsys: pytest.CaptureFixture[str]) -> None:
    assert build_parser().parse_args(["models", "--series", "AAPL"]).series == "AAPL"
    with pytest.raises(SystemExit) as done:
        main(["models", "AAPL", "--series", "IBM"])
    assert done.value.code == 2
    assert "argument --series: not allowed with argument KEY" in capsys.readouterr().err
