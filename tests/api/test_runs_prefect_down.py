"""POST /runs while the Prefect server the runs need is down: 503 with the reason and
Retry-After, and no run row (not a 202 and a run that fails within seconds)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from api.main import create_app
from forecaster.config import Settings
from tests.api.conftest import AUTH, store_sample
from tests.flows.procs import api_url, start_prefect_server
from tests.pg import free_port

INGEST = {"kind": "ingest", "series": ["seattle-weather"]}


def _register_ingest(url: str) -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.deploy import deployments

    (ingest,) = [d for d in deployments() if d.flow_name == "ingest"]
    with temporary_settings({PREFECT_API_URL: url}):
        ingest.apply()


def test_a_run_asked_for_while_the_prefect_server_is_down_is_503_and_not_recorded(
    tmp_path: Path, settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    store_sample(session_factory, rows=10)
    port = free_port()
    server = start_prefect_server(tmp_path / "prefect", port, tmp_path / "server.log")
    try:
        _register_ingest(api_url(port))
        settings = settings.model_copy(update={"prefect_api_url": api_url(port)})
        with TestClient(create_app(settings)) as client:
            accepted = client.post("/api/v1/runs", json=INGEST, headers=AUTH)
            assert accepted.status_code == 202, accepted.text  # up: a worker would run it

            server.kill()  # kill -9
            server.wait(timeout=10)
            refused = client.post("/api/v1/runs", json=INGEST, headers=AUTH)
            assert refused.status_code == 503
            assert refused.headers["Retry-After"] == "10"
            assert refused.json() == {
                "detail": "the Prefect server that runs flows is unavailable right now (not "
                "answering, or its database is down; the embedded one restarts by itself); no "
                "run was created: retry in 10 seconds"
            }
            listed = client.get("/api/v1/runs", headers=AUTH).json()
            assert [r["id"] for r in listed["data"]] == [accepted.json()["id"]]  # no new row
    finally:
        server.kill()
        server.wait(timeout=10)
