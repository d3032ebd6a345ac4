"""End to end over real HTTP: uvicorn in a subprocess, a retrain triggered and polled over the
API, and a forecast served by the new model version afterwards."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.conftest import start_api_server

ROOT = Path(__file__).resolve().parents[2]

RETRAIN_YAML = """
metric: mase
backtest_origins: 20
defaults: {lookback: 14, horizon: 5, targets: [tmax], hidden_size: 8, num_layers: 1,
           epochs: 2, batch_size: 64}
candidates:
  - {architecture: gru, strategy: recursive}
"""


@pytest.fixture
def server(
    database_url: str,
    tmp_path: Path,
    trained: dict[str, int],  # noqa: ARG001 - data and a champion before the server starts
    prefect_harness: None,  # noqa: ARG001 - the Prefect API the server's flows report to
) -> Iterator[str]:
    """The app under uvicorn on a free loopback port, running flows against the test Prefect API."""
    from prefect.settings import PREFECT_API_URL

    config = tmp_path / "retrain.yaml"
    config.write_text(RETRAIN_YAML)
    env = {
        **os.environ,
        "FORECASTER_DATABASE_URL": database_url,
        "FORECASTER_API_KEY": "e2e",
        "FORECASTER_RETRAIN_CONFIG": str(config),
        "FORECASTER_TORCH_THREADS": "1",
        "PREFECT_API_URL": str(PREFECT_API_URL.value()),
        "PREFECT_LOGGING_LEVEL": "WARNING",
    }
    proc, base = start_api_server(env, tmp_path / "server.log", log_level="info")
    try:
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_the_access_log_outlives_an_in_process_flow_run(server: str, tmp_path: Path) -> None:
    """Importing Prefect for the first flow run reconfigured logging: uvicorn's access log went
    silent for the rest of the process's life."""
    with httpx.Client(base_url=server, timeout=30) as client:
        assert client.get("/api/v1/runs", params={"limit": 11}).status_code == 200
        r = client.post(
            "/api/v1/runs",
            json={"kind": "ingest", "series": ["seattle-weather"]},
            headers={"X-API-Key": "e2e"},
        )
        assert _wait(client, r.json()["id"])["status"] == "completed"
        assert client.get("/api/v1/runs", params={"limit": 12}).status_code == 200
    deadline = time.monotonic() + 10
    log = ""
    while '"GET /api/v1/runs?limit=12 HTTP/1.1" 200' not in log:
        assert time.monotonic() < deadline, log[-3000:]
        time.sleep(0.2)
        log = (tmp_path / "server.log").read_text()
    assert '"GET /api/v1/runs?limit=11 HTTP/1.1" 200' in log


def _wait(client: httpx.Client, run_id: int, timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run: dict[str, Any] = client.get(f"/api/v1/runs/{run_id}").json()
        if run["status"] in ("completed", "failed"):
            return run
        time.sleep(0.25)
    raise AssertionError(f"run {run_id} did not finish within {timeout} s")


def test_retrain_over_http_changes_the_model_that_serves_forecasts(
    server: str, trained: dict[str, int]
) -> None:
    auth = {"X-API-Key": "e2e"}
    with httpx.Client(base_url=server, timeout=30) as client:
        url = "/api/v1/forecasts/seattle-weather"
        before = client.get(url, params={"horizon": 5}).json()
        assert before["model"]["id"] == trained["gru-recursive"]

        r = client.post(
            "/api/v1/runs", json={"kind": "retrain", "series": ["seattle-weather"]}, headers=auth
        )
        assert r.status_code == 202
        again = client.post(
            "/api/v1/runs", json={"kind": "retrain", "series": ["seattle-weather"]}, headers=auth
        )
        if again.status_code == 409:  # the first one was still going: the lock held
            assert again.json()["detail"].startswith(f"retrain run {r.json()['id']} is already")
        else:  # it had finished already; wait for this one too so nothing runs at teardown
            _wait(client, again.json()["id"])

        run = _wait(client, r.json()["id"])
        assert run["status"] == "completed", run["error"]
        assert run["duration_s"] > 0 and run["flow_run_id"]
        (new,) = run["versions"]
        candidate = run["result"]["candidates"][0]
        if not candidate["promoted"]:  # it did not beat the champion: promote it by hand
            promoted = client.post(f"/api/v1/models/{new}/promote", headers=auth)
            assert promoted.status_code == 200

        after = client.get(url, params={"horizon": 5}).json()
        assert after["model"]["id"] == new != before["model"]["id"]
        assert after["model"]["status"] == "champion"
        assert len(after["points"]) == 5
        old = client.get(f"/api/v1/models/{before['model']['id']}").json()
        assert old["status"] == "archived"
        metrics = client.get("/metrics").text
        assert 'forecaster_last_run_timestamp_seconds{kind="retrain",series="seattle-weather"}' in (
            metrics
        )
