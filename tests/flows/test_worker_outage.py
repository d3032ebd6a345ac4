"""The schedule worker (`python -m flows.deploy`) outlives a Prefect server that is killed and
started again on the same port and database: it keeps running, serves the deployments again,
and cancelling a flow run through Prefect works afterwards, without restarting the worker."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from uuid import UUID

import pytest

from forecaster.db.session import Database, upgrade
from tests.api.conftest import store_sample
from tests.flows.procs import (
    REPO,
    api_url,
    clean_env,
    deploy_check,
    start_prefect_server,
    stop,
    wait_for,
)
from tests.pg import free_port


def _state(url: str, flow_run_id: UUID) -> str:
    """The flow run's state type, read over a fresh client (the server may have restarted)."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: url}), get_client(sync_client=True) as client:
        state = client.read_flow_run(flow_run_id).state
    return state.type.value if state is not None else "NONE"


def _start_retrain(url: str) -> UUID:
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: url}), get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name("retrain/retrain")
        flow_run = client.create_flow_run_from_deployment(
            deployment.id, parameters={"series": ["seattle-weather"], "quick": True}
        )
    return flow_run.id


def _cancel(url: str, flow_run_id: UUID) -> None:
    """What `prefect flow-run cancel` does: the run goes Cancelling and its runner must act."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings
    from prefect.states import Cancelling

    with temporary_settings({PREFECT_API_URL: url}), get_client(sync_client=True) as client:
        client.set_flow_run_state(flow_run_id, Cancelling(message="cancelled by the test"))


@pytest.mark.parametrize(
    "client_retries",
    [
        # Prefect's default client retries: the runner rides out the outage; its cancellation
        # observer (dead after its event stream and three polls failed) is renewed
        "5",
        # no retries: Prefect's poll loop fails three times in a row (which used to stop the
        # runner and kill its flow runs); the polls failing while the server is away are
        # skipped, so the runner keeps serving (flows.deploy._Runner._poll_through_outages)
        "0",
    ],
)
def test_the_worker_outlives_a_prefect_server_restart_and_cancels_again(
    tmp_path: Path, client_retries: str
) -> None:
    database_url = f"sqlite:///{tmp_path / 'f.db'}"
    upgrade(database_url)
    with Database(database_url) as db:
        store_sample(db.sessions, "seattle-weather", rows=400)
    home, port = tmp_path / "prefect-home", free_port()
    url = api_url(port)
    server_log, worker_log = tmp_path / "server.log", tmp_path / "worker.log"
    server = start_prefect_server(home, port, server_log)
    env = clean_env(
        PREFECT_API_URL=url,
        PREFECT_HOME=str(tmp_path / "worker-home"),
        PREFECT_CLIENT_MAX_RETRIES=client_retries,
        FORECASTER_DATABASE_URL=database_url,
        FORECASTER_TORCH_THREADS="1",
    )
    with worker_log.open("wb") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "flows.deploy"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    log = worker_log.read_text
    try:
        wait_for(lambda: deploy_check(url, env).returncode == 0, 120, log, worker)

        server.kill()  # kill -9: no goodbye to its clients
        server.wait(timeout=10)
        # the case to survive: Prefect's runner has given up (0), or its observer has (5)
        gave_up = "Failed the last 3 attempts" if client_retries == "0" else "polling task failed"
        wait_for(lambda: gave_up in log(), 120, log, worker)
        server = start_prefect_server(home, port, server_log)  # same port, same database
        wait_for(lambda: deploy_check(url, env).returncode == 0, 60, log, worker)
        assert worker.poll() is None, log()

        # the worker picks up a new flow run, and cancelling it through Prefect stops it
        flow_run_id = _start_retrain(url)
        wait_for(lambda: _state(url, flow_run_id) == "RUNNING", 120, log, worker)
        time.sleep(2)  # past start-up: the run's process is the one to stop
        _cancel(url, flow_run_id)
        wait_for(lambda: _state(url, flow_run_id) == "CANCELLED", 60, log, worker)
        assert worker.poll() is None, log()
        text = log()
        # one line per outage, not per retry (a server still booting can answer 503 once more)
        assert 1 <= text.count("unavailable") <= 2, text
        assert "Prefect server back after " in text
    finally:
        stop(worker)
        server.kill()
        server.wait(timeout=10)
