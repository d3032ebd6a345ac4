"""`forecaster completion SHELL`: the shell's completion script, made from the parser by shtab."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

from forecaster.cli.args import FILE
from forecaster.config import Settings

SHELLS = ("bash", "zsh", "tcsh")

INSTALL = """examples:
  forecaster completion bash > ~/.local/share/bash-completion/completions/forecaster
  forecaster completion zsh > "${fpath[1]}/_forecaster"   (then start a new shell)"""


def cmd_completion(args: argparse.Namespace, _settings: Settings) -> int:
    import shtab  # here, not at start-up: it costs every other command ~60 ms

    parser: argparse.ArgumentParser = args.root_parser
    for action in _actions(parser):
        if getattr(action, "complete", None) == FILE:
            action.complete = shtab.FILE  # type: ignore[attr-defined]
    print(shtab.complete(parser, shell=args.shell), end="")
    return 0


def _actions(parser: argparse.ArgumentParser) -> Iterator[argparse.Action]:
    for action in parser._actions:
        yield action
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _actions(sub)
