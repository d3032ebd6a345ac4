"""Open reads do not disclose the server: failure reasons are one line without paths, URLs or
hosts; a request with the valid X-API-Key sees what was stored."""

from __future__ import annotations

import traceback

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from api import redact
from forecaster.app.failures import record_failure
from forecaster.db import runs as runs_db
from forecaster.db import series as series_db
from tests.api.conftest import AUTH


def _traceback_text() -> str:
    """A real stored failure: the format flows/retrain.py records."""
    try:
        open("/srv/forecaster/secret-dir/models/weights.bin", "rb")  # noqa: SIM115
    except FileNotFoundError as exc:
        return f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=4)}"
    raise AssertionError("the file exists")


@pytest.fixture
def stored(session_factory: sessionmaker[Session], tmp_path) -> dict[str, object]:
    csv = tmp_path / "private" / "prices.csv"
    error = _traceback_text()
    with session_factory.begin() as session:
        series = series_db.register_series(
            session=session, key="mine", source="csv", params={"path": str(csv), "freq": "D"}
        )
        version = record_failure(
            session=session,
            series_id=series.id,
            architecture="gru",
            strategy="direct",
            spec={"lookback": 14},
            error=error,
            run_id=None,
        )
        run = runs_db.create_run(session=session, kind="ingest", parameters={"series": ["mine"]})
        runs_db.finish_run(
            session=session,
            run_id=run.id,
            status="failed",
            result={
                "rows": {},
                "errors": {"mine": "SourceError: GET http://10.1.2.3:8080/v8/x?k=1 failed"},
            },
            error="mine: SourceError: GET http://10.1.2.3:8080/v8/x?k=1 failed\nmore detail",
        )
    return {"csv": str(csv), "error": error, "version": version.id, "run": run.id}


def test_open_reads_show_one_sanitized_line_and_the_key_shows_it_all(
    client: TestClient, stored: dict[str, object]
) -> None:
    version, run = stored["version"], stored["run"]
    expected = "FileNotFoundError: [Errno 2] No such file or directory: '…/weights.bin'"
    for url in (f"/api/v1/models/{version}", "/api/v1/models?status=failed"):
        body = client.get(url).json()
        shown = body["error"] if "error" in body else body["data"][0]["error"]
        assert shown == expected
        keyed = client.get(url, headers=AUTH).json()
        full = keyed["error"] if "error" in keyed else keyed["data"][0]["error"]
        assert full == stored["error"] and "/srv/forecaster/secret-dir" in full
        assert "Traceback (most recent call last)" in full

    for url in ("/api/v1/series/mine", "/api/v1/series"):
        body = client.get(url).json()
        params = body["params"] if "params" in body else body["data"][0]["params"]
        assert params == {"path": "…/prices.csv", "freq": "D"}
        keyed = client.get(url, headers=AUTH).json()
        params = keyed["params"] if "params" in keyed else keyed["data"][0]["params"]
        assert params["path"] == stored["csv"]

    opened = client.get(f"/api/v1/runs/{run}").json()
    assert opened["error"] == "mine: SourceError: GET <url> failed"
    assert opened["result"]["errors"] == {"mine": "SourceError: GET <url> failed"}
    assert client.get("/api/v1/runs").json()["data"][0]["error"] == opened["error"]
    keyed = client.get(f"/api/v1/runs/{run}", headers=AUTH).json()
    assert keyed["error"].startswith("mine: SourceError: GET http://10.1.2.3:8080/v8/x?k=1")
    # a wrong key is anonymous, not an error: reads are open
    wrong = client.get(f"/api/v1/runs/{run}", headers={"X-API-Key": "guess"})
    assert wrong.status_code == 200 and wrong.json()["error"] == opened["error"]
    assert "10.1.2.3" not in client.get("/api/v1/runs").text
    assert "/srv/" not in client.get("/api/v1/models").text


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        # a traceback: its first line only
        (
            'ValueError: bad\nTraceback (most recent call last):\n  File "/a/b.py"',
            "ValueError: bad",
        ),
        # URLs and hosts go, words with slashes stay
        (
            'OperationalError: connection to server at "10.0.0.5", port 5432 failed: see https://sqlalche.me/e/20/e3q8',
            'OperationalError: connection to server at "<host>", port 5432 failed: see <url>',
        ),
        ("horizon 5 and/or 2024/01/02", "horizon 5 and/or 2024/01/02"),
        # host names, not only addresses; module paths and times stay
        (
            'OperationalError: connection to server at "postgres" (172.18.0.2), port 5432 failed',
            'OperationalError: connection to server at "<host>" (<host>), port 5432 failed',
        ),
        (
            "ConnectError: db-primary.prod.internal:5432 refused; dsn host=pg.corp user=f",
            "ConnectError: <host> refused; dsn host=<host> user=f",
        ),
        (
            "SourceError: query1.finance.yahoo.com timed out at 2024-01-02T10:30:00",
            "SourceError: <host> timed out at 2024-01-02T10:30:00",
        ),
        (
            "sqlalchemy.exc.OperationalError: worker prefect-worker:4200 down",
            "sqlalchemy.exc.OperationalError: worker <host> down",
        ),
        # paths: the file name only, POSIX and Windows
        (
            "InvalidData: CSV file '/home/op/data/my.csv' not found",
            "InvalidData: CSV file '…/my.csv' not found",
        ),
        ("C:\\Users\\op\\f.csv is missing", "…/f.csv is missing"),
        (None, None),
    ],
)
def test_reason_is_one_line_without_server_details(stored: str | None, shown: str | None) -> None:
    assert redact.reason(stored) == shown


def test_reason_is_bounded() -> None:
    long = redact.reason("x" * 5000)
    assert long is not None and len(long) == redact.MAX_REASON and long.endswith("…")
