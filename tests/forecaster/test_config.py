"""Settings from the environment: what production refuses, said in one line by the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from forecaster.config import MIN_PRODUCTION_KEY, Settings

REPO = Path(__file__).resolve().parents[2]
GOOD_KEY = "k" * MIN_PRODUCTION_KEY


@pytest.mark.parametrize(
    ("key", "given"),
    [(None, "not set"), ("", "empty"), ("   ", "empty"), ("short-key", "9 characters long")],
)
def test_production_refuses_a_missing_or_short_api_key(key: str | None, given: str) -> None:
    with pytest.raises(ValidationError) as err:
        Settings(_env_file=None, production=True, api_key=None if key is None else SecretStr(key))
    assert (
        f"FORECASTER_PRODUCTION is set and FORECASTER_API_KEY is {given}: production needs a key "
        f"of at least {MIN_PRODUCTION_KEY} characters" in str(err.value)
    )


def test_production_takes_a_long_key_and_development_any() -> None:
    assert Settings(_env_file=None, production=True, api_key=SecretStr(GOOD_KEY)).production
    assert Settings(_env_file=None, api_key=SecretStr("")).api_key is not None
    assert Settings(_env_file=None).api_key is None


@pytest.mark.parametrize("key", ["", "only-fifteen-ch"])
def test_serve_in_production_with_a_short_key_exits_2_in_one_line(tmp_path: Path, key: str) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("FORECASTER_")},
        "PYTHONPATH": str(REPO),
        "FORECASTER_PRODUCTION": "1",
        "FORECASTER_API_KEY": key,
        "FORECASTER_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
    }
    done = subprocess.run(
        [sys.executable, "-m", "forecaster.cli", "serve", "--port", "1"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    given = f"{len(key)} characters long" if key else "empty"
    assert done.stderr == (
        f"error: FORECASTER_PRODUCTION is set and FORECASTER_API_KEY is {given}: production needs "
        f"a key of at least {MIN_PRODUCTION_KEY} characters, e.g. the output of python -c "
        "'import secrets; print(secrets.token_urlsafe(32))'\n"
    )
    assert not (tmp_path / "serve.db").exists()  # refused before anything was touched
