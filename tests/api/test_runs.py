"""Runs: 202 and background execution, polling, one retrain per series at a time, auth."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from api.main import create_app
from flows.dispatch import Dispatcher
from forecaster.config import Settings
from forecaster.db import runs as runs_db
from forecaster.errors import Unavailable
from tests.api.conftest import AUTH, store_sample, wait_for_run


@pytest.mark.usefixtures("prefect_harness")
def test_ingest_run_is_202_and_completes_in_the_background(client: TestClient) -> None:
    created = client.post(
        "/api/v1/series",
        json={"key": "seattle", "source": "csv", "sample": "seattle-weather"},
        headers=AUTH,
    )
    assert created.status_code == 201 and created.json()["values"] == 0

    r = client.post("/api/v1/runs", json={"kind": "ingest", "series": ["seattle"]}, headers=AUTH)
    assert r.status_code == 202
    run = r.json()
    assert run["kind"] == "ingest" and run["status"] in ("pending", "running", "completed")
    assert run["parameters"]["series"] == ["seattle"]

    done = wait_for_run(client, run["id"])
    assert done["status"] == "completed", done["error"]
    assert done["error"] is None
    assert done["result"]["rows"] == {"seattle": 1461 * 4}  # tmin, tmax, prcp, wspd
    listed = client.get("/api/v1/series/seattle").json()
    assert (listed["timestamps"], listed["values"]) == (1461, 1461 * 4)
    assert done["flow_run_id"]  # a real Prefect flow run, of the deployment the schedule uses
    # the run row is closed inside the flow body; Prefect marks the flow run Completed just after
    deadline = time.monotonic() + 30
    while True:
        flow_run, deployment = _flow_run_and_deployment(done["flow_run_id"])
        if flow_run.state.is_final() or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert deployment == "ingest/ingest" and flow_run.state.is_completed()
    assert "database_url" not in flow_run.parameters  # may hold a password; Prefect shows it
    assert done["started_at"] and done["finished_at"] and done["duration_s"] >= 0
    series = client.get("/api/v1/series/seattle").json()
    assert series["first"] == "2012-01-01T00:00:00Z" and series["last"] == "2015-12-31T00:00:00Z"

    listed = client.get("/api/v1/runs", params={"kind": "ingest"}).json()
    assert [x["id"] for x in listed["data"]] == [run["id"]] and listed["count"] == 1
    assert client.get("/api/v1/runs", params={"kind": "retrain"}).json()["count"] == 0
    metrics = client.get("/metrics").text
    assert 'forecaster_last_run_timestamp_seconds{kind="ingest",series="seattle"}' in metrics


def test_second_retrain_of_a_series_is_409_naming_the_running_one(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    store_sample(session_factory, rows=10)
    store_sample(session_factory, key="IBM", rows=10)
    with session_factory.begin() as session:
        running = runs_db.create_run(
            session=session, kind="retrain", parameters={"series": ["seattle-weather"]}
        ).id
        runs_db.start_run(session=session, run_id=running)

    for series in (["seattle-weather"], ["IBM", "seattle-weather"], []):
        r = client.post("/api/v1/runs", json={"kind": "retrain", "series": series}, headers=AUTH)
        assert r.status_code == 409
        assert r.json() == {
            "detail": f"retrain run {running} is already running for seattle-weather; wait for it "
            "to finish or cancel it, then try again"
        }
    assert client.get("/api/v1/runs").json()["count"] == 1  # nothing was created


def test_a_retrain_of_every_series_blocks_any_other_retrain(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    store_sample(session_factory, key="IBM", rows=10)
    with session_factory.begin() as session:
        pending = runs_db.create_run(session=session, kind="retrain", parameters={"series": []}).id
    r = client.post("/api/v1/runs", json={"kind": "retrain", "series": ["IBM"]}, headers=AUTH)
    assert r.status_code == 409
    assert r.json()["detail"] == (
        f"retrain run {pending} is already pending for every series; wait for it to finish "
        "or cancel it, then try again"
    )


def test_runs_for_unknown_series_or_kind_are_rejected(client: TestClient) -> None:
    r = client.post("/api/v1/runs", json={"kind": "ingest", "series": ["NOPE"]}, headers=AUTH)
    assert r.status_code == 404
    assert r.json() == {
        "detail": "unknown series 'NOPE'; no series are stored yet (GET /api/v1/series lists them)"
    }
    r = client.post("/api/v1/runs", json={"kind": "forecast"}, headers=AUTH)
    assert r.status_code == 422
    assert r.json() == {
        "detail": "body field 'kind': Input should be 'ingest' or 'retrain' (got 'forecast')"
    }
    r = client.get("/api/v1/runs/999")
    assert r.status_code == 404
    assert r.json() == {"detail": "unknown run id 999; GET /api/v1/runs lists recent runs"}
    r = client.get("/api/v1/runs/abc")
    assert r.status_code == 422
    assert r.json() == {
        "detail": "path parameter 'run_id': Input should be a valid integer, unable to parse "
        "string as an integer (got 'abc')"
    }
    r = client.get("/api/v1/runs", params={"status": "done"})
    assert r.status_code == 422


MUTATING = [
    ("/api/v1/series", {"key": "x", "source": "yahoo", "ticker": "X"}),
    ("/api/v1/runs", {"kind": "ingest", "series": []}),
    ("/api/v1/models/1/promote", None),
]


@pytest.mark.parametrize(("path", "body"), MUTATING)
def test_mutating_routes_need_the_api_key(
    client: TestClient, path: str, body: dict[str, Any] | None
) -> None:
    r = client.post(path, json=body)
    assert r.status_code == 401
    assert r.json() == {"detail": "missing API key: send it in the X-API-Key header"}
    r = client.post(path, json=body, headers={"X-API-Key": "guess"})
    assert r.status_code == 403
    assert r.json() == {"detail": "wrong API key in the X-API-Key header"}
    assert client.get("/api/v1/series").json()["count"] == 0
    assert client.get("/api/v1/runs").json()["count"] == 0


@pytest.mark.parametrize(("path", "body"), MUTATING)
def test_without_a_configured_key_mutating_routes_are_503(
    database_url: str, path: str, body: dict[str, Any] | None
) -> None:
    with TestClient(create_app(Settings(database_url=database_url, api_key=None))) as client:
        r = client.post(path, json=body, headers=AUTH)
        assert r.status_code == 503
        assert r.json() == {
            "detail": "mutating routes are disabled: no API key is configured on the server; "
            "set FORECASTER_API_KEY and restart it"
        }
        assert client.get("/api/v1/series").status_code == 200  # reads stay open


def test_runs_left_running_by_a_dead_api_process_are_failed_at_start(
    settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        dead = runs_db.create_run(
            session=session,
            kind="retrain",
            parameters={
                "series": [],
                "executor": {"mode": "thread", "host": _host(), "pid": 2**22 + 1},
            },
        ).id
        runs_db.start_run(session=session, run_id=dead)
        cli = runs_db.create_run(session=session, kind="retrain", parameters={"series": []}).id
    with TestClient(create_app(settings)) as client:
        failed = client.get(f"/api/v1/runs/{dead}").json()
        assert failed["status"] == "failed"
        assert failed["error"] == (
            f"the process that ran it (pid {2**22 + 1} on this host) is gone: it was killed or "
            "crashed before the run finished"
        )
        # a run with no process on this host recorded (a worker elsewhere) is left to its lease
        assert client.get(f"/api/v1/runs/{cli}").json()["status"] == "pending"


def _host() -> str:
    import socket

    return socket.gethostname()


def _flow_run_and_deployment(flow_run_id: str) -> tuple[Any, str | None]:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(flow_run_id)
        if flow_run.deployment_id is None:
            return flow_run, None
        deployment = client.read_deployment(flow_run.deployment_id)
        flow = client.read_flow(deployment.flow_id)
    return flow_run, f"{flow.name}/{deployment.name}"


def _delete_deployment(name: str) -> None:
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.delete_deployment(client.read_deployment_by_name(name).id)
        except ObjectNotFound:
            pass


@pytest.mark.usefixtures("prefect_harness")
def test_with_a_prefect_server_runs_go_to_its_deployment(
    settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    from prefect.settings import PREFECT_API_URL

    from flows.deploy import deployments

    store_sample(session_factory, rows=10)
    api_url = PREFECT_API_URL.value()
    dispatcher = Dispatcher(
        factory=session_factory, database_url=settings.database_url, prefect_api_url=api_url
    )
    # no such deployment on the server: the request fails at once (503), the run ended, saying why
    _delete_deployment("ingest/ingest")
    with pytest.raises(Unavailable, match="could not start: the Prefect server did not accept"):
        dispatcher.submit(kind="ingest", series=["seattle-weather"])
    with session_factory.begin() as session:
        (run,) = runs_db.list_runs(session=session)
        assert run.status == "failed"
        assert run.error is not None and run.error.startswith(
            "could not start Prefect deployment 'ingest/ingest': "
        )
        assert api_url not in run.error  # no internal URL on an open read
        assert run.parameters["executor"] == {"mode": "deployment"}

    # the deployment registered, no worker serving it: the flow run waits, Scheduled, for a
    # worker, and the row says pending (the reaper ends it after FORECASTER_RUN_PENDING_S)
    (ingest,) = [d for d in deployments() if d.flow_name == "ingest"]
    ingest.apply()
    run_id = dispatcher.submit(kind="ingest", series=["seattle-weather"])
    with session_factory.begin() as session:
        run = runs_db.get_run(session=session, run_id=run_id)
        assert run.status == "pending" and run.flow_run_id
        flow_run_id = run.flow_run_id
    flow_run, deployment = _flow_run_and_deployment(flow_run_id)
    assert deployment == "ingest/ingest" and flow_run.state.is_scheduled()
    assert flow_run.parameters == {"series": ["seattle-weather"], "run_id": run_id}
    _delete_deployment("ingest/ingest")  # its schedule must not outlive the test
