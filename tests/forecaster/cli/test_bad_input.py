"""The `forecaster` command on bad input: one bounded line on stderr and exit 2, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from forecaster.cli.main import main


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
