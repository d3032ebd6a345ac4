"""The command line's surface, no database needed: version, help, aliases, completion."""

from __future__ import annotations

from importlib.metadata import version

import pytest

from forecaster.cli.main import main


def test_version_prints_the_installed_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out == f"forecaster {version('forecaster')}\n"
