"""The `forecaster` command on bad input: one bounded line on stderr and exit 2, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from forecaster.cli.main import main

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def db(tmp_path: Path) -> list[str]:
    return ["--database-url", f"sqlite:///{tmp_path / 'cli.db'}"]


def test_a_huge_csv_field_is_not_echoed_whole(
    db: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "big.csv"
    path.write_text(f"date,value\n2024-01-01,1\n2024-01-02,{'x' * 3_000_000}\n2024-01-03,3\n")
    assert main([*db, "ingest", "csv", str(path), "--key", "big"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: column 'value'") and err.count("\n") == 1
    assert len(err) < 1_000 and "(3000000 characters)" in err


def test_a_date_before_1677_is_one_line_and_exit_2(
    db: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "old.csv"
    path.write_text("date,value\n1600-01-01,1\n1600-01-02,2\n1600-01-03,3\n")
    assert main([*db, "ingest", "csv", str(path), "--key", "old"]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"error: time column 'date' in '{path}' has '1600-01-01' on line 2, outside the dates a "
        "series can hold: 1677-09-22 .. 2262-04-11 (UTC); drop the rows outside it\n"
    )


@pytest.mark.usefixtures("prefect_harness")
def test_a_refused_retrain_prints_only_its_one_line(db: list[str], tmp_path: Path) -> None:
    from prefect.settings import PREFECT_API_URL

    from forecaster.app import runs
    from forecaster.db.session import make_session_factory

    path = tmp_path / "k.csv"
    days = pd.date_range("2024-01-01", periods=60, freq="D")
    path.write_text("date,value\n" + "".join(f"{d:%Y-%m-%d},{i % 7}\n" for i, d in enumerate(days)))
    assert main([*db, "ingest", "csv", str(path), "--key", "k"]) == 0
    sessions = make_session_factory(db[1])
    with sessions.begin() as session:  # a retrain of k held by another process
        held = runs.claim(
            session=session,
            kind="retrain",
            series=["k"],
            parameters={"series": ["k"]},
            policy=runs.LeasePolicy(),
            exclusive=True,
        ).id
    sessions.kw["bind"].dispose()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("FORECASTER_")},
        "PYTHONPATH": str(REPO),
        "PREFECT_API_URL": str(PREFECT_API_URL.value()),  # the harness' server: no start-up
        "FORECASTER_DATA_DIR": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "-m", "forecaster.cli", *db, "retrain", "k", "--quick"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if "retraining" not in line]
    assert lines == [
        f"error: retrain run {held} is already pending for k; wait for it to finish or cancel "
        "it, then try again"
    ], done.stderr
