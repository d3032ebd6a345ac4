"""Argument plumbing the commands share: the parser and its help layout, types that turn a typed
word into a value or one clear line, the --version action."""

from __future__ import annotations

import argparse
from datetime import date
from typing import Any

FILE = "file"  # an argument's `complete`: `forecaster completion` makes it shtab.FILE


def names_a_file(action: argparse.Action) -> None:
    """The shell completes this argument with file names (marked here; shtab is imported by
    `forecaster completion` alone, so start-up does not pay for it)."""
    action.complete = FILE  # type: ignore[attr-defined]  # shtab's convention


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Each option's default after its help (none for an option off by default or unset), and
    descriptions and examples laid out as written."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


class Parser(argparse.ArgumentParser):
    """The top-level parser and every command's (argparse makes subparsers of the same class)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)


def command(sub: Any, name: str, summary: str, epilog: str | None = None) -> Parser:
    """A command whose own --help starts with the summary the command list shows."""
    parser: Parser = sub.add_parser(
        name, help=summary, description=summary[0].upper() + summary[1:] + ".", epilog=epilog
    )
    return parser


def json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; use YYYY-MM-DD") from None


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return value


def lat_lon(text: str) -> tuple[float, float]:
    try:
        lat, lon = (float(p) for p in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not LAT,LON (e.g. 47.61,-122.33)") from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise argparse.ArgumentTypeError(
            f"{text!r}: latitude must be in [-90, 90], longitude in [-180, 180]"
        )
    return lat, lon


class Version(argparse.Action):
    """`--version`: the installed package's version, looked up only when asked (start-up)."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        kwargs.setdefault("help", "print the installed version and exit")
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            installed = version("forecaster")
        except PackageNotFoundError:
            installed = "unknown (not installed; `make install` installs it)"
        print(f"forecaster {installed}")  # stdout, as argparse's own version action
        parser.exit()
